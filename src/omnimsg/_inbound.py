"""Inbound HTTP, the same for every platform: header shapes, raw bodies, the answer to give.

Every platform's webhook reader (``omnimsg.platforms.<name>``) and the receiver
(:mod:`omnimsg.webhooks`) use these, so that every framework's request objects are accepted
the same way on every platform.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeAlias

import attrs

from .exceptions import ConfigurationError, OmniMsgError
from .models.events import Event

__all__ = ["Headers", "WebhookConfig", "WebhookOutcome", "header", "raw_body", "url_text"]


Headers: TypeAlias = (
    Mapping[str, str]
    | Mapping[bytes, bytes]
    | Sequence[tuple[str, str]]
    | Sequence[tuple[bytes, bytes]]
)
"""What ``handle``/``parse`` accept as request headers (see the module docstring)."""


@attrs.frozen(kw_only=True)
class WebhookConfig:
    """Webhook handling settings.

    Attributes:
        dedup_ttl: how long an event id is remembered (platforms retry for up to 7 days).
        max_body_bytes: larger bodies are refused with 413 before anything else is done.
        lease: how long ``webhooks.receive`` holds a claimed event (seconds).
    """

    dedup_ttl: float = 7 * 86_400.0
    max_body_bytes: int = 1 << 20
    lease: float = 60.0
    """``webhooks.receive``: how long a claimed event stays this delivery's before a
    redelivery may take it over (when the app died without releasing it)."""


@attrs.frozen(kw_only=True)
class WebhookOutcome:
    """What a webhook request came to: the answer to give and the new events.

    Attributes:
        status: HTTP status to answer the platform with.
        body: the answer body (the challenge for a GET handshake).
        content_type: the answer's content type.
        events: new events, in the order they were sent.
        duplicates: how many re-delivered events were dropped.
        error: the typed error when the request was refused, else ``None``.
    """

    status: int
    body: bytes = b""
    content_type: str = "text/plain"
    events: tuple[Event, ...] = ()
    duplicates: int = 0
    error: OmniMsgError | None = attrs.field(default=None, eq=False)

    def raise_for_error(self) -> None:
        """Raise :attr:`error` if the request was refused."""
        if self.error is not None:
            raise self.error


_HEADERS_HELP = (
    "headers must be the request's headers: a mapping (dict, request.headers) or a sequence "
    "of (name, value) pairs of str or bytes (request.scope['headers'])"
)


def _header_text(value: object) -> str | None:
    """A header value as text: ``bytes`` as Latin-1, the HTTP/ASGI convention (never fails;
    a non-ASCII signature then simply does not match)."""
    if type(value) is str or value is None:
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("latin-1")
    raise ConfigurationError(
        f"header values must be str or bytes, not {type(value).__name__}: {_HEADERS_HELP}"
    )


def _scan(pairs: Iterable[Any], name: str, name_bytes: bytes) -> str | None:
    """Header ``name``'s value (lower case) from ``(name, value)`` pairs, any case, str or bytes."""
    for pair in pairs:
        if (type(pair) is not tuple and type(pair) is not list) or len(pair) != 2:
            raise ConfigurationError(f"{_HEADERS_HELP}; got an item {type(pair).__name__}")
        key, value = pair
        if isinstance(key, str):
            if key.lower() == name:
                return _header_text(value)
        elif isinstance(key, bytes | bytearray):
            if key.lower() == name_bytes:
                return _header_text(value)
        else:
            raise ConfigurationError(
                f"{_HEADERS_HELP}; got a header name of type {type(key).__name__}"
            )
    return None


def header(headers: object, name: str, canonical: str) -> str | None:
    """Header ``name`` (given in lower case, and as usually spelled) of any header shape.

    ``None`` when absent. Platforms' signature headers are read with this (DESIGN §6: the
    shapes every popular framework hands over).

    Raises:
        ConfigurationError: ``headers`` is not a header map or a sequence of pairs.
    """
    if type(headers) is dict:
        # The hot path: a plain dict, usually spelled canonically or in lower case.
        value = headers.get(canonical)
        if value is None:
            value = headers.get(name)
        if type(value) is str:
            return value
        if value is not None:
            return _header_text(value)
        return _scan(headers.items(), name, name.encode())  # another spelling, or bytes keys
    if type(headers) is list or type(headers) is tuple:
        return _scan(headers, name, name.encode())
    if headers is None or isinstance(headers, str | bytes | bytearray | memoryview):
        raise ConfigurationError(f"{_HEADERS_HELP}, not {type(headers).__name__}")
    get = getattr(headers, "get", None)
    items = getattr(headers, "items", None)
    if callable(get) and callable(items):
        # Case-insensitive framework maps (httpx, Starlette, aiohttp, werkzeug, Django)
        # answer any spelling; a case-sensitive Mapping falls through to the scan.
        found = get(name)
        if found is not None:
            return _header_text(found)
        return _scan(items(), name, name.encode())
    if isinstance(headers, Sequence):
        return _scan(headers, name, name.encode())
    raise ConfigurationError(f"{_HEADERS_HELP}, not {type(headers).__name__}")


def raw_body(body: object) -> bytes:
    """``body`` as ``bytes``; a ``str`` or anything else is the caller's mistake."""
    if type(body) is bytes:
        return body
    if isinstance(body, bytes | bytearray | memoryview):
        return bytes(body)
    if isinstance(body, str):
        raise ConfigurationError(
            "body must be the raw request bytes, not str (the signature covers the exact "
            "bytes): pass e.g. await request.body() (Starlette/FastAPI), request.get_data() "
            "(Flask), request.body (Django), await request.read() (aiohttp)"
        )
    raise ConfigurationError(
        f"body must be the raw request bytes, not {type(body).__name__}: pass e.g. "
        "await request.body()"
    )


def url_text(url: object) -> str:
    """The request URL as text; URL objects (Starlette, httpx, yarl) are accepted."""
    if type(url) is str:
        return url
    if isinstance(url, str):
        return str(url)
    if isinstance(url, bytes | bytearray):
        return bytes(url).decode("latin-1")
    if url is not None and hasattr(url, "query"):
        return str(url)
    raise ConfigurationError(
        f"url must be the request URL with its query string (str), not {type(url).__name__}: "
        "pass e.g. str(request.url)"
    )
