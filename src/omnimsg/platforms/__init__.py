"""One adapter per platform, registered here: wire mapping out and in, rules, capabilities.

:data:`BUILTIN` is the registry the clients start from; ``Client(..., adapters=[...])`` adds
or replaces platforms without touching it (see ``adapter.py`` for what an adapter provides).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from .adapter import Adapter, Capability, Channel, WebhookReader
from .whatsapp import WhatsApp
from .whatsapp.adapter import ADAPTER as _WHATSAPP

__all__ = ["BUILTIN", "Adapter", "Capability", "Channel", "WebhookReader", "WhatsApp"]

BUILTIN: Mapping[str, Adapter] = MappingProxyType({_WHATSAPP.platform: _WHATSAPP})
"""The platforms omnimsg ships, by name (read-only)."""
