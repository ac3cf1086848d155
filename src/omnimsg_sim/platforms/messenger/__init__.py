"""The simulated Facebook Messenger Platform (spec/messenger.md), split as moto splits a service.

* :mod:`.state`: Pages, their customers and threads, comments, attachments (plain data);
* :mod:`.sim`: the routes at the real Graph paths, the webhooks;
* :mod:`.wire`: Send API bodies, decoded into omnimsg's content values and checked;
* :mod:`.policy`: the window, the dated message-tag profiles, private replies;
* :mod:`.errors`: Messenger's native errors, as data;
* :mod:`.inbound`: what a customer may do through ``/_sim/inbound``, checked;
* :mod:`.profile`, :mod:`.handover`: the Messenger Profile API and the handover protocol.
"""

from __future__ import annotations

from ..adapter import SimAdapter
from .sim import MessengerSim
from .state import PAGE_INBOX

__all__ = ["ADAPTER", "PAGE_INBOX", "MessengerSim"]

ADAPTER = SimAdapter(
    "messenger",
    lambda config, world, faults: MessengerSim(config.messenger, world, faults),
    serves=lambda config: bool(config.messenger),
)
"""Messenger's entry in :data:`omnimsg_sim.platforms.BUILTIN`."""
