"""Framework-agnostic webhook handling: handshake, signature, parsing, de-duplication, state.

Give it what your web framework received (method, URL, headers, raw body bytes) and answer
with what it returns::

    result = client.webhooks.handle("whatsapp", request.method, str(request.url),
                                    request.headers, await request.body())
    for event in result.events:
        ...
    return Response(result.body, status=result.status, media_type=result.content_type)

Bad input never raises here: a bad signature, an oversized, malformed or too deeply nested
body all come back as a :class:`~omnimsg.WebhookOutcome` with the right status and ``error``
set to the typed exception, and a refused body changes no state (no event of it is marked
seen, no window moves). Use :meth:`Webhooks.parse` when you want exceptions instead.

``headers`` may be any of what frameworks hand over: a ``dict``, a case-insensitive map
(``httpx.Headers``, Starlette's ``request.headers``, aiohttp's ``CIMultiDictProxy``, werkzeug's
``EnvironHeaders``, Django's ``request.headers``), or a sequence of ``(name, value)`` pairs of
``str`` or of ``bytes`` (ASGI's ``request.scope["headers"]``). ``body`` is the raw body bytes
(``bytes``, ``bytearray`` or ``memoryview``).

Arguments of the wrong *type* are the caller's mistake, not bad input from the network: they
raise :class:`~omnimsg.ConfigurationError` saying what to pass (e.g. a ``str`` body, which
can no longer be checked against the signature over the raw bytes).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeAlias
from urllib.parse import parse_qs, urlsplit

import attrs

from ._core.effects import NOW, Flow, StoreBatch
from ._types import Platform
from .claims import DONE, Claim, claim_ops, read_claims, settle_ops
from .exceptions import ConfigurationError, OmniMsgError, SignatureError, WebhookParseError
from .models.events import Event
from .platforms.whatsapp import WhatsApp
from .platforms.whatsapp import flows as wa
from .signing import HubSignatureVerifier
from .stores.ops import Add, Op

__all__ = ["WebhookConfig", "WebhookOutcome"]

_SIGNATURE = "x-hub-signature-256"
_SIGNATURE_BYTES = b"x-hub-signature-256"
_SIGNATURE_CANONICAL = "X-Hub-Signature-256"

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


def _scan(pairs: Iterable[Any]) -> str | None:
    """The signature header's value from ``(name, value)`` pairs, any case, str or bytes."""
    for pair in pairs:
        if (type(pair) is not tuple and type(pair) is not list) or len(pair) != 2:
            raise ConfigurationError(f"{_HEADERS_HELP}; got an item {type(pair).__name__}")
        key, value = pair
        if isinstance(key, str):
            if key.lower() == _SIGNATURE:
                return _header_text(value)
        elif isinstance(key, bytes | bytearray):
            if key.lower() == _SIGNATURE_BYTES:
                return _header_text(value)
        else:
            raise ConfigurationError(
                f"{_HEADERS_HELP}; got a header name of type {type(key).__name__}"
            )
    return None


def _signature_header(headers: object) -> str | None:
    """The ``X-Hub-Signature-256`` value of any header shape (``None`` when absent).

    Raises:
        ConfigurationError: ``headers`` is not a header map or a sequence of pairs.
    """
    if type(headers) is dict:
        # The hot path: a plain dict, usually spelled canonically or in lower case.
        value = headers.get(_SIGNATURE_CANONICAL)
        if value is None:
            value = headers.get(_SIGNATURE)
        if type(value) is str:
            return value
        if value is not None:
            return _header_text(value)
        return _scan(headers.items())  # any other spelling, or bytes keys
    if type(headers) is list or type(headers) is tuple:
        return _scan(headers)
    if headers is None or isinstance(headers, str | bytes | bytearray | memoryview):
        raise ConfigurationError(f"{_HEADERS_HELP}, not {type(headers).__name__}")
    get = getattr(headers, "get", None)
    items = getattr(headers, "items", None)
    if callable(get) and callable(items):
        # Case-insensitive framework maps (httpx, Starlette, aiohttp, werkzeug, Django)
        # answer any spelling; a case-sensitive Mapping falls through to the scan.
        found = get(_SIGNATURE)
        if found is not None:
            return _header_text(found)
        return _scan(items())
    if isinstance(headers, Sequence):
        return _scan(headers)
    raise ConfigurationError(f"{_HEADERS_HELP}, not {type(headers).__name__}")


def _raw_body(body: object) -> bytes:
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


def _url_text(url: object) -> str:
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
        query = parse_qs(urlsplit(_url_text(url)).query)
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

    def verify(self, headers: Headers, body: bytes) -> None:
        """Raise :class:`SignatureError` unless one channel's app secret signed ``body``."""
        self._verify(_signature_header(headers), _raw_body(body))

    def _verify(self, header: str | None, body: bytes) -> None:
        if not self._verifiers:
            raise ConfigurationError("set app_secret= on the channel to verify webhooks")
        # Several Meta apps may feed one endpoint: any of their secrets may have signed it.
        for verifier in self._verifiers:
            if verifier.matches(body, header):
                return
        self._verifiers[0].verify(body, header)  # raises, saying what is wrong

    def parse(self, platform: Platform, headers: Headers, body: bytes) -> list[Event]:
        """Verify and parse a POST body; raises typed errors (no state, no de-duplication)."""
        self._check_platform(platform)
        header = headers.get(_SIGNATURE_CANONICAL) if type(headers) is dict else None
        if type(header) is not str:
            header = _signature_header(headers)
        return self._parse(header, body if type(body) is bytes else _raw_body(body))

    def _parse(self, header: str | None, body: bytes) -> list[Event]:
        if len(body) > self.config.max_body_bytes:
            raise WebhookParseError(
                f"webhook body is larger than {self.config.max_body_bytes} bytes"
            )
        self._verify(header, body)
        return wa.parse_body(body)

    def _verified(
        self,
        platform: Platform,
        method: str,
        url: str,
        headers: Headers,
        body: bytes,
    ) -> WebhookOutcome | list[Event]:
        """The events of a verified POST, or the outcome that answers anything else.

        Raises:
            ConfigurationError: an argument has the wrong type (a ``str`` body, ``None``
                headers...); everything the network can send gives an outcome instead.
        """
        try:
            self._check_platform(platform)
        except ConfigurationError as exc:
            return WebhookOutcome(status=404, body=b"Not Found", error=exc)
        if type(method) is not str:
            raise ConfigurationError(
                f"method must be the HTTP method (str), not {type(method).__name__}: "
                "pass e.g. request.method"
            )
        verb = method.upper()
        if verb == "GET":
            return self.handshake(url)
        if verb != "POST":
            error = WebhookParseError(f"method {method} is not used for webhooks")
            return WebhookOutcome(status=405, body=b"Method Not Allowed", error=error)
        # Argument types first, outside the try: a wrong type raises, it is no outcome.
        # The common case (a dict spelling the header canonically) is inlined: a hot path.
        header = headers.get(_SIGNATURE_CANONICAL) if type(headers) is dict else None
        if type(header) is not str:
            header = _signature_header(headers)
        if type(body) is not bytes:
            body = _raw_body(body)
        try:
            events = self._parse(header, body)
        except SignatureError as exc:
            # pywa's convention (spec §1.2): a missing signature is 401, a wrong one 403.
            status = 401 if header is None else 403
            return WebhookOutcome(status=status, body=b"Forbidden", error=exc)
        except WebhookParseError as exc:
            too_big = len(body) > self.config.max_body_bytes
            return WebhookOutcome(status=413 if too_big else 400, body=b"Bad Request", error=exc)
        except ConfigurationError as exc:
            return WebhookOutcome(status=500, body=b"Server Error", error=exc)
        return events

    def handle(
        self,
        platform: Platform,
        method: str,
        url: str,
        headers: Headers,
        body: bytes,
    ) -> Flow[WebhookOutcome]:
        """The whole webhook exchange, at most once: each new event is marked seen at once.

        One store round trip for the body: every dedup key and every state update together.
        """
        got = self._verified(platform, method, url, headers, body)
        if isinstance(got, WebhookOutcome):
            return got
        yield NOW  # a following clock syncs before the store measures TTLs on it
        ttl = self.config.dedup_ttl
        ops: list[Op] = [Add(wa.dedup_key(event), DONE, ttl) for event in got]
        for event in got:
            ops.extend(wa.state_ops(event))  # idempotent: applied to re-deliveries too
        results = yield StoreBatch(tuple(ops))
        fresh = [event for event, first in zip(got, results, strict=False) if first]
        for event in fresh:
            yield from wa.apply_rest(event)
        return WebhookOutcome(
            status=200, body=b"OK", events=tuple(fresh), duplicates=len(got) - len(fresh)
        )

    def claim(
        self,
        platform: Platform,
        method: str,
        url: str,
        headers: Headers,
        body: bytes,
        *,
        token: bytes,
        lease: float | None = None,
    ) -> Flow[tuple[WebhookOutcome, Claim]]:
        """Claim the new events of a delivery for ``lease`` seconds (``omnimsg.claims``).

        The outcome answers ``503`` while another delivery holds one of the events, so that
        the platform comes back when that one has finished or failed.
        """
        got = self._verified(platform, method, url, headers, body)
        if isinstance(got, WebhookOutcome):
            return got, Claim()
        yield NOW
        keys = [wa.dedup_key(event) for event in got]
        ops = claim_ops(keys, token, self.config.lease if lease is None else lease)
        for event in got:
            ops.extend(wa.state_ops(event))
        results = yield StoreBatch(tuple(ops))
        claim = read_claims(got, keys, token, results)
        for event in claim.events:
            yield from wa.apply_rest(event)
        busy = claim.busy > 0
        outcome = WebhookOutcome(
            status=503 if busy else 200,
            body=b"Busy: retry later" if busy else b"OK",
            events=claim.events,
            duplicates=claim.duplicates,
        )
        return outcome, claim

    def settle(self, claim: Claim, keys: Sequence[str], *, handled: bool) -> Flow[None]:
        """Mark claimed events done (``handled``) or give them back for a redelivery."""
        if keys:
            ops = settle_ops(keys, claim.token, handled=handled, ttl=self.config.dedup_ttl)
            yield StoreBatch(tuple(ops))
