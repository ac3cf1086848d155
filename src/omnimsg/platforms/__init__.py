"""One adapter per platform, registered here: wire mapping out and in, rules, capabilities.

:data:`BUILTIN` is the registry the clients start from; ``Client(..., adapters=[...])`` adds
or replaces platforms without touching it (see ``adapter.py`` for what an adapter provides).

What an adapter of one's own needs is here too: the effects its flows yield (:class:`Request`,
and the store operations of :mod:`omnimsg.stores.ops`), the :class:`Response` they receive,
:func:`call` (the one request loop: errors mapped, retries through the clock) with its
:class:`RetryPolicy`, :func:`credential` and :func:`forget` (a token fetched once across every
worker sharing the store), and the ``JSON`` type of raw payloads.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from .._core.calls import call
from .._core.credentials import Refresh, credential, forget
from .._core.effects import Flow, Request, Response
from .._core.retry import RetryPolicy
from .._types import JSON
from .adapter import Adapter, AppliesBodies, Capability, Channel, WebhookReader
from .line import Line
from .line.adapter import ADAPTER as _LINE
from .messenger import Messenger
from .messenger.adapter import ADAPTER as _MESSENGER
from .wechat import WeChat
from .wechat.adapter import ADAPTER as _WECHAT
from .whatsapp import WhatsApp
from .whatsapp.adapter import ADAPTER as _WHATSAPP

__all__ = [
    "BUILTIN",
    "JSON",
    "Adapter",
    "AppliesBodies",
    "Capability",
    "Channel",
    "Flow",
    "Line",
    "Messenger",
    "Refresh",
    "Request",
    "Response",
    "RetryPolicy",
    "WeChat",
    "WebhookReader",
    "WhatsApp",
    "call",
    "credential",
    "forget",
]

BUILTIN: Mapping[str, Adapter] = MappingProxyType(
    {
        _LINE.platform: _LINE,
        _MESSENGER.platform: _MESSENGER,
        _WECHAT.platform: _WECHAT,
        _WHATSAPP.platform: _WHATSAPP,
    }
)
"""The platforms omnimsg ships, by name (read-only)."""
