"""Framework-agnostic webhook handling: handshake, signature, parsing, de-duplication, state.

Give it what your web framework received (method, URL, headers, raw body bytes) and answer
with what it returns::

    result = client.webhooks.handle("whatsapp", request.method, str(request.url),
                                    request.headers, await request.body())
    for event in result.events:
        ...
    return Response(result.body, status=result.status, media_type=result.content_type)

Bad input never raises here: a bad signature, an oversized or malformed body all come back as
a :class:`~omnimsg.WebhookResult` with the right status and ``error`` set to the typed
exception. Use :meth:`Webhooks.parse` when you want exceptions instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from urllib.parse import parse_qs, urlsplit

import attrs

from ._core.effects import Flow, StoreAdd
from ._types import Platform
from .exceptions import ConfigurationError, OmniMsgError, SignatureError, WebhookParseError
from .models.events import Event
from .platforms.whatsapp import WhatsApp
from .platforms.whatsapp import flows as wa
from .signing import verify_hub_sha256

__all__ = ["WebhookConfig", "WebhookOutcome"]

_SEEN = b"1"


@attrs.frozen(kw_only=True)
class WebhookConfig:
    """Webhook handling settings.

    Attributes:
        dedup_ttl: how long an event id is remembered (platforms retry for up to 7 days).
        max_body_bytes: larger bodies are refused with 413 before anything else is done.
    """

    dedup_ttl: float = 7 * 86_400.0
    max_body_bytes: int = 1 << 20


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


def _header(headers: Mapping[str, str] | Sequence[tuple[str, str]], name: str) -> str | None:
    items = headers.items() if isinstance(headers, Mapping) else headers
    for key, value in items:
        if key.lower() == name:
            return value
    return None


def _channels(channels: Sequence[object], platform: Platform) -> list[WhatsApp]:
    found = [c for c in channels if getattr(c, "platform", None) == platform]
    if not found:
        raise ConfigurationError(f"no {platform} channel is configured")
    if platform != "whatsapp":
        raise ConfigurationError(f"webhooks for {platform} are not supported yet")
    return found  # type: ignore[return-value]


def handshake(channels: Sequence[WhatsApp], url: str) -> WebhookOutcome:
    """The Meta GET verification handshake (spec/whatsapp.md §1.1)."""
    query = parse_qs(urlsplit(url).query)
    mode = (query.get("hub.mode") or [""])[0]
    token = (query.get("hub.verify_token") or [""])[0]
    challenge = (query.get("hub.challenge") or [""])[0]
    import hmac

    tokens = [c.verify_token for c in channels if c.verify_token]
    if not tokens:
        error = ConfigurationError("set verify_token= on the channel to answer the handshake")
        return WebhookOutcome(status=403, body=b"Forbidden", error=error)
    matched = any(hmac.compare_digest(t.encode(), token.encode()) for t in tokens)
    if mode != "subscribe" or not matched:
        return WebhookOutcome(
            status=403,
            body=b"Forbidden",
            error=SignatureError("webhook verify_token does not match"),
        )
    return WebhookOutcome(status=200, body=challenge.encode())


def verify(
    channels: Sequence[WhatsApp],
    headers: Mapping[str, str] | Sequence[tuple[str, str]],
    body: bytes,
) -> None:
    """Raise :class:`SignatureError` unless one channel's app secret signed ``body``."""
    secrets = {c.app_secret for c in channels if c.app_secret}
    if not secrets:
        raise ConfigurationError("set app_secret= on the channel to verify webhooks")
    header = _header(headers, "x-hub-signature-256")
    last: SignatureError | None = None
    for secret in secrets:
        try:
            verify_hub_sha256(secret, body, header)
            return
        except SignatureError as exc:
            last = exc
    assert last is not None
    raise last


def parse(
    channels: Sequence[object],
    platform: Platform,
    headers: Mapping[str, str] | Sequence[tuple[str, str]],
    body: bytes,
    config: WebhookConfig,
) -> list[Event]:
    """Verify and parse a POST body; raises typed errors (no state, no de-duplication)."""
    chans = _channels(channels, platform)
    if len(body) > config.max_body_bytes:
        raise WebhookParseError(f"webhook body is larger than {config.max_body_bytes} bytes")
    verify(chans, headers, body)
    return wa.parse_body(body)


def handle(
    channels: Sequence[object],
    platform: Platform,
    method: str,
    url: str,
    headers: Mapping[str, str] | Sequence[tuple[str, str]],
    body: bytes,
    config: WebhookConfig,
) -> Flow[WebhookOutcome]:
    """The whole webhook exchange as a flow (the store does de-duplication and state)."""
    try:
        chans = _channels(channels, platform)
    except ConfigurationError as exc:
        return WebhookOutcome(status=404, body=b"Not Found", error=exc)
    if method.upper() == "GET":
        return handshake(chans, url)
    if method.upper() != "POST":
        return WebhookOutcome(
            status=405, body=b"Method Not Allowed", error=WebhookParseError(f"method {method}")
        )
    try:
        events = parse(channels, platform, headers, body, config)
    except SignatureError as exc:
        # pywa's convention (spec §1.2): a missing signature is 401, a wrong one 403.
        missing = _header(headers, "x-hub-signature-256") is None
        return WebhookOutcome(status=401 if missing else 403, body=b"Forbidden", error=exc)
    except WebhookParseError as exc:
        too_big = len(body) > config.max_body_bytes
        return WebhookOutcome(status=413 if too_big else 400, body=b"Bad Request", error=exc)
    except ConfigurationError as exc:
        return WebhookOutcome(status=500, body=b"Server Error", error=exc)
    fresh: list[Event] = []
    duplicates = 0
    for event in events:
        first = yield StoreAdd(wa.dedup_key(event), _SEEN, config.dedup_ttl)
        if not first:
            duplicates += 1
            continue
        yield from wa.apply(event)
        fresh.append(event)
    return WebhookOutcome(status=200, body=b"OK", events=tuple(fresh), duplicates=duplicates)
