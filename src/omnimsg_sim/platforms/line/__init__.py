"""The simulated LINE Messaging API (spec/line.md), split as moto splits a service.

* :mod:`.state`: the accounts, their users, groups, tokens, quota and content (plain data);
* :mod:`.sim`: the routes at the real ``api.line.me`` / ``api-data.line.me`` paths, webhooks;
* :mod:`.wire`: message objects, checked as LINE checks them;
* :mod:`.errors`: LINE's native errors, as data;
* :mod:`.inbound`: what a user may do through ``/_sim/inbound``, checked;
* :mod:`.richmenu`, :mod:`.oauth`: rich menus and channel access tokens.
"""

from __future__ import annotations

from ..adapter import SimAdapter
from .sim import LineSim

__all__ = ["ADAPTER", "LineSim"]

ADAPTER = SimAdapter(
    "line",
    lambda config, world, faults: LineSim(config.line, world, faults),
    serves=lambda config: bool(config.line),
)
"""LINE's entry in :data:`omnimsg_sim.platforms.BUILTIN`."""
