"""Framework-agnostic webhook handling: handshake, signature, parsing, de-duplication, state.

Give it what your web framework received (method, URL, headers, raw body bytes) and answer
with what it returns::

    result = client.webhooks.handle("whatsapp", request.method, str(request.url),
                                    request.headers, await request.body())
    for event in result.events:
        ...
    return Response(result.body, status=result.status, media_type=result.content_type)

Bad input never raises here: a bad signature, an oversized or malformed body all come back as
a :class:`~omnimsg.WebhookOutcome` with the right status and ``error`` set to the typed
exception. Use :meth:`Webhooks.parse` when you want exceptions instead.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping, Sequence
from typing import cast
from urllib.parse import parse_qs, urlsplit

import attrs

from ._core.effects import NOW, Flow, StoreAdd
from ._types import Platform
from .exceptions import ConfigurationError, OmniMsgError, SignatureError, WebhookParseError
from .models.events import Event
from .platforms.whatsapp import WhatsApp
from .platforms.whatsapp import flows as wa
from .signing import HubSignatureVerifier

__all__ = ["WebhookConfig", "WebhookOutcome"]

_SEEN = b"1"
_CANONICAL = {"x-hub-signature-256": "X-Hub-Signature-256"}


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
    """Header ``name`` (lower-case) from a header map or a list of pairs."""
    if isinstance(headers, dict | list | tuple):
        # A plain dict usually spells it canonically; framework maps (httpx, aiohttp,
        # starlette) are case-insensitive and answer below.
        if type(headers) is dict:
            value: str | None = headers.get(_CANONICAL.get(name, name)) or headers.get(name)
            if value is not None:
                return value
        pairs: Iterable[tuple[str, str]] = headers.items() if isinstance(headers, dict) else headers
    else:
        mapping = cast("Mapping[str, str]", headers)
        found = mapping.get(name)
        if found is not None:
            return found
        pairs = mapping.items()
    for key, value in pairs:
        if key.lower() == name:
            return value
    return None


class Receiver:
    """Webhook handling for a fixed set of channels; secrets and tokens are prepared once."""

    def __init__(self, channels: Sequence[object], config: WebhookConfig) -> None:
        self.config = config
        self._whatsapp = tuple(c for c in channels if isinstance(c, WhatsApp))
        # Keyed once: verifying is on the hot path of every webhook (DESIGN §5).
        secrets = dict.fromkeys(c.app_secret for c in self._whatsapp if c.app_secret)
        self._verifiers = tuple(HubSignatureVerifier(secret) for secret in secrets)
        self._tokens = tuple(c.verify_token.encode() for c in self._whatsapp if c.verify_token)

    def _check_platform(self, platform: Platform) -> None:
        if platform != "whatsapp":
            raise ConfigurationError(f"webhooks for {platform} are not supported yet")
        if not self._whatsapp:
            raise ConfigurationError(f"no {platform} channel is configured")

    def handshake(self, url: str) -> WebhookOutcome:
        """The Meta GET verification handshake (spec/whatsapp.md §1.1)."""
        query = parse_qs(urlsplit(url).query)
        mode = (query.get("hub.mode") or [""])[0]
        token = (query.get("hub.verify_token") or [""])[0].encode()
        challenge = (query.get("hub.challenge") or [""])[0]
        if not self._tokens:
            error = ConfigurationError("set verify_token= on the channel to answer the handshake")
            return WebhookOutcome(status=403, body=b"Forbidden", error=error)
        matched = any(hmac.compare_digest(t, token) for t in self._tokens)
        if mode != "subscribe" or not matched:
            return WebhookOutcome(
                status=403,
                body=b"Forbidden",
                error=SignatureError("webhook verify_token does not match"),
            )
        return WebhookOutcome(status=200, body=challenge.encode())

    def verify(self, headers: Mapping[str, str] | Sequence[tuple[str, str]], body: bytes) -> None:
        """Raise :class:`SignatureError` unless one channel's app secret signed ``body``."""
        if not self._verifiers:
            raise ConfigurationError("set app_secret= on the channel to verify webhooks")
        header = _header(headers, "x-hub-signature-256")
        # Several Meta apps may feed one endpoint: any of their secrets may have signed it.
        for verifier in self._verifiers:
            if verifier.matches(body, header):
                return
        self._verifiers[0].verify(body, header)  # raises, saying what is wrong

    def parse(
        self,
        platform: Platform,
        headers: Mapping[str, str] | Sequence[tuple[str, str]],
        body: bytes,
    ) -> list[Event]:
        """Verify and parse a POST body; raises typed errors (no state, no de-duplication)."""
        self._check_platform(platform)
        if len(body) > self.config.max_body_bytes:
            raise WebhookParseError(
                f"webhook body is larger than {self.config.max_body_bytes} bytes"
            )
        self.verify(headers, body)
        return wa.parse_body(body)

    def handle(
        self,
        platform: Platform,
        method: str,
        url: str,
        headers: Mapping[str, str] | Sequence[tuple[str, str]],
        body: bytes,
    ) -> Flow[WebhookOutcome]:
        """The whole webhook exchange as a flow (the store does de-duplication and state)."""
        try:
            self._check_platform(platform)
        except ConfigurationError as exc:
            return WebhookOutcome(status=404, body=b"Not Found", error=exc)
        verb = method.upper()
        if verb == "GET":
            return self.handshake(url)
        if verb != "POST":
            error = WebhookParseError(f"method {method} is not used for webhooks")
            return WebhookOutcome(status=405, body=b"Method Not Allowed", error=error)
        try:
            events = self.parse(platform, headers, body)
        except SignatureError as exc:
            # pywa's convention (spec §1.2): a missing signature is 401, a wrong one 403.
            missing = _header(headers, "x-hub-signature-256") is None
            return WebhookOutcome(status=401 if missing else 403, body=b"Forbidden", error=exc)
        except WebhookParseError as exc:
            too_big = len(body) > self.config.max_body_bytes
            return WebhookOutcome(status=413 if too_big else 400, body=b"Bad Request", error=exc)
        except ConfigurationError as exc:
            return WebhookOutcome(status=500, body=b"Server Error", error=exc)
        fresh: list[Event] = []
        duplicates = 0
        ttl = self.config.dedup_ttl
        yield NOW  # a following clock syncs before the store measures TTLs on it
        for event in events:
            first = yield StoreAdd(wa.dedup_key(event), _SEEN, ttl)
            if not first:
                duplicates += 1
                continue
            yield from wa.apply(event)
            fresh.append(event)
        return WebhookOutcome(status=200, body=b"OK", events=tuple(fresh), duplicates=duplicates)
