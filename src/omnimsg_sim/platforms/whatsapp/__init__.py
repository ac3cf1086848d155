"""The simulated WhatsApp Cloud API (spec/whatsapp.md), split as moto splits a service.

* :mod:`.state`: business numbers, customers, templates, media (plain data);
* :mod:`.sim`: the routes at the real Graph paths, the rules, the webhooks;
* :mod:`.errors`: WhatsApp's native errors, as data;
* :mod:`.inbound`: what a customer may send through ``/_sim/inbound``, checked;
* :mod:`.templates`, :mod:`.media`: listing and paging templates; media limits and uploads.
"""

from __future__ import annotations

from ..adapter import SimAdapter
from .sim import WhatsAppSim
from .state import normalize_phone

__all__ = ["ADAPTER", "WhatsAppSim", "normalize_phone"]

ADAPTER = SimAdapter(
    "whatsapp",
    lambda config, world, faults: WhatsAppSim(config.whatsapp, world, faults),
    serves=lambda config: bool(config.whatsapp),
)
"""WhatsApp's entry in :data:`omnimsg_sim.platforms.BUILTIN`."""
