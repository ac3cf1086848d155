"""One package per simulated platform, registered in one place.

:data:`BUILTIN` lists the platforms the simulator ships; ``SimCore(config, adapters=[...])``
adds more (or replaces one of the same name). The seam they plug into is
:mod:`omnimsg_sim.platforms.adapter`; platforms that share Graph resolve their ids through
:mod:`omnimsg_sim.platforms.graph`.
"""

from __future__ import annotations

from .adapter import Deliverer, GraphTenant, Inbound, MeTenant, SimAdapter, SimPlatform
from .line import ADAPTER as _LINE
from .messenger import ADAPTER as _MESSENGER
from .wechat import ADAPTER as _WECHAT
from .whatsapp import ADAPTER as _WHATSAPP

__all__ = [
    "BUILTIN",
    "Deliverer",
    "GraphTenant",
    "Inbound",
    "MeTenant",
    "SimAdapter",
    "SimPlatform",
]

BUILTIN: tuple[SimAdapter, ...] = (_WHATSAPP, _MESSENGER, _LINE, _WECHAT)
"""The shipped simulated platforms, in routing order."""
