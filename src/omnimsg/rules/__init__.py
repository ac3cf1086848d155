"""Platform rules as pure functions: windows, templates, limits, rates and tiers.

Nothing here does I/O or reads the clock: every function takes ``now`` and the known state
and returns :class:`Violation` values. The SDK raises them as
:class:`~omnimsg.PolicyViolation` before sending; the simulator answers them with the
platform's native error. One code path, so both refuse exactly the same requests.
"""

from . import line, messenger, wechat, whatsapp
from ._core import PolicyProfile, Violation

__all__ = ["PolicyProfile", "Violation", "line", "messenger", "wechat", "whatsapp"]
