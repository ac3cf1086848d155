"""What Meta's platforms (WhatsApp, Messenger) share, both being products on Graph.

Inbound: the ``hub.*`` verification handshake (spec/whatsapp.md §1.1, spec/messenger.md
§1.1) and the webhook body's decoding. Outbound: a Graph request's body and headers, the
decoding of a Graph answer, and the core of mapping Graph's error envelope ``{"error":
{message, type, code, error_subcode?, fbtrace_id}}`` into the omnimsg error tree. What each
product reads differently (its codes, its ``Retry-After`` reading, its extra fields) stays in
its own ``errors.py``/``flows.py``.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable, Sequence
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

import orjson

from .._core.calls import call
from .._core.effects import Flow, Request, Response, new_request
from .._core.retry import RetryPolicy
from .._inbound import Headers, WebhookConfig, WebhookOutcome, header, url_text
from .._types import JSON
from ..exceptions import (
    AuthenticationError,
    ConfigurationError,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    PlatformError,
    PolicyRejected,
    RateLimited,
    ServerError,
    SignatureError,
    WebhookParseError,
)
from ..signing import HubSignatureVerifier

__all__ = [
    "MAX_DEPTH",
    "HubChannel",
    "HubWebhooks",
    "class_for_status",
    "decode_object",
    "error_fields",
    "graph_call",
    "graph_request",
    "hub_handshake",
    "parse_webhook",
    "stored_time",
    "text_field",
    "typed_error",
]

MAX_DEPTH = 254
"""The deepest nesting a webhook body may have: what orjson re-encodes (its own limit)."""

_JSON_HEADERS = (("content-type", "application/json"),)
_SIGNATURE = "x-hub-signature-256"
_SIGNATURE_CANONICAL = "X-Hub-Signature-256"


def hub_handshake(tokens: Sequence[bytes], method: str, url: str) -> WebhookOutcome | None:
    """The answer to Meta's GET handshake, or ``None`` for any other method.

    200 with ``hub.challenge`` as the plain-text body when ``hub.mode`` is ``subscribe`` and
    ``hub.verify_token`` is one of ``tokens`` (compared in constant time); otherwise 403.
    """
    if method != "GET":
        return None
    query = parse_qs(urlsplit(url_text(url)).query)
    mode = (query.get("hub.mode") or [""])[0]
    token = (query.get("hub.verify_token") or [""])[0].encode()
    challenge = (query.get("hub.challenge") or [""])[0]
    if not tokens:
        error = ConfigurationError("set verify_token= on the channel to answer the handshake")
        return WebhookOutcome(status=403, body=b"Forbidden", error=error)
    matched = False
    for t in tokens:  # every token compared: no early exit that times which one matched
        matched |= hmac.compare_digest(t, token)
    if mode != "subscribe" or not matched:
        return WebhookOutcome(
            status=403,
            body=b"Forbidden",
            error=SignatureError("webhook verify_token does not match"),
        )
    return WebhookOutcome(status=200, body=challenge.encode())


class HubChannel(Protocol):
    """What the webhook side reads of a Meta channel: its app secret and verify token."""

    @property
    def app_secret(self) -> str | None:
        """The Meta app secret that signs the channel's webhooks."""
        ...

    @property
    def verify_token(self) -> str | None:
        """The token of the GET handshake."""
        ...


class HubWebhooks:
    """The webhook side every Meta product has: the ``hub.*`` handshake, the body size limit,
    and ``X-Hub-Signature-256`` (HMAC-SHA256 hex over the raw bytes) by any of the channels'
    app secrets. A product's reader adds its parsing and state on top."""

    def __init__(self, channels: Sequence[HubChannel], config: WebhookConfig) -> None:
        self.config = config
        # Keyed once: verifying is on the hot path of every webhook (DESIGN §5).
        secrets = dict.fromkeys(c.app_secret for c in channels if c.app_secret)
        self._verifiers = tuple(HubSignatureVerifier(secret) for secret in secrets)
        self._tokens = tuple(c.verify_token.encode() for c in channels if c.verify_token)

    def handshake(self, method: str, url: str) -> WebhookOutcome | None:
        """Meta's GET verification handshake (spec/whatsapp.md §1.1, spec/messenger.md §1.1);
        403 on a wrong token, ``None`` for a POST (not a handshake)."""
        return hub_handshake(self._tokens, method, url)

    def signature(self, headers: Headers) -> str | None:
        """The ``X-Hub-Signature-256`` value of any header shape."""
        if type(headers) is dict:  # the hot path: a plain dict spelling it canonically
            found = headers.get(_SIGNATURE_CANONICAL)
            if type(found) is str:
                return found
        return header(headers, _SIGNATURE, _SIGNATURE_CANONICAL)

    def signature_missing(self, url: str, headers: Headers) -> bool:
        """pywa's convention (spec/whatsapp.md §1.2), Messenger's too: a missing signature is
        401, a wrong one 403."""
        return self.signature(headers) is None

    def check_size(self, body: bytes) -> None:
        """Refuse a body over the configured size limit (before anything reads it)."""
        if len(body) > self.config.max_body_bytes:
            raise WebhookParseError(
                f"webhook body is larger than {self.config.max_body_bytes} bytes"
            )

    def verify_signature(self, signature: str | None, body: bytes) -> None:
        """Raise :class:`SignatureError` unless one channel's app secret signed ``body``.

        The signature covers the bytes as Meta sent them (non-ASCII escaped, ``é`` as ``\\u00e9``):
        re-serialised JSON would not match, so nothing is decoded before this.
        """
        if not self._verifiers:
            raise ConfigurationError("set app_secret= on the channel to verify webhooks")
        # Several Meta apps may feed one endpoint: any of their secrets may have signed it.
        for verifier in self._verifiers:
            if verifier.matches(body, signature):
                return
        self._verifiers[0].verify(body, signature)  # raises, saying what is wrong


def parse_webhook(body: bytes, product: str) -> Any:
    """The decoded JSON of a (verified) webhook body of ``product`` ("WhatsApp", "Messenger").

    Raises :class:`WebhookParseError` for a body that is not JSON or is nested deeper than
    :data:`MAX_DEPTH`, before any event is made, so a refused body changes no state. Deeper
    values would break whatever walks them recursively later (the de-duplication key of an
    ``Unknown`` event, the app's own ``json.dumps(event.raw)``).
    """
    try:
        payload = orjson.loads(body)  # refuses more than 1024 levels itself
    except orjson.JSONDecodeError as exc:
        raise WebhookParseError(f"{product} webhook body is not JSON: {exc}") from None
    try:
        # An exact depth check at C speed (about 5 us on a 20-event body; walking the tree
        # in Python costs 25): orjson re-encodes whatever it decoded, refusing only nesting
        # deeper than its own limit, MAX_DEPTH (tests/test_webhooks.py pins the boundary).
        orjson.dumps(payload)
    except orjson.JSONEncodeError:
        raise WebhookParseError(
            f"{product} webhook body is nested deeper than {MAX_DEPTH} levels"
        ) from None
    return payload


def stored_time(raw: bytes | None, in_range: Callable[[float], bool]) -> float | None:
    """A time kept in the store, or ``None`` when absent or not a time ``in_range`` accepts.

    A value that is not an in-range time (unreadable, or ``nan``/``inf``/``1e20`` kept by an
    older omnimsg that stored any webhook time) counts as never: the window is closed rather
    than ``window()`` failing or staying open forever.
    """
    if raw is None:
        return None
    try:
        t = float(raw)
    except ValueError:
        return None
    return t if in_range(t) else None


# --- Graph requests and answers -----------------------------------------------------------------


def graph_request(
    method: str,
    url: str,
    headers: tuple[tuple[str, str], ...],
    body: JSON | bytes,
    *,
    operation: str,
    idempotent: bool,
    content_type: str | None = None,
) -> Request:
    """A Graph request: ``body`` as compact UTF-8 JSON (bytes as they are, of
    ``content_type``; ``None`` for no body), after the product's own ``headers``."""
    raw: bytes | None
    if isinstance(body, bytes):
        raw = body
        headers += (("content-type", content_type or "application/octet-stream"),)
    elif body is None:
        raw = None
    else:
        raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        headers += _JSON_HEADERS
    return new_request(
        method=method,
        url=url,
        headers=headers,
        body=raw,
        idempotent=idempotent,
        operation=operation,
    )


def decode_object(
    response: Response, map_error: Callable[[Response], PlatformError]
) -> dict[str, Any]:
    """A successful Graph answer's JSON object; any other body is the product's error for a
    bad gateway (502), since Graph said it succeeded but sent nothing readable."""
    try:
        data = json.loads(response.body)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise map_error(Response(502, response.headers, response.body)) from None
    return data


def graph_call(
    request: Request, retry: RetryPolicy, map_error: Callable[[Response], PlatformError]
) -> Flow[dict[str, Any]]:
    """Send ``request`` (retried as ``retry`` allows, errors typed by the product's
    ``map_error``) and decode the JSON object it answers (:func:`decode_object`)."""
    return decode_object((yield from call(request, retry, map_error)), map_error)


def error_fields(body: bytes) -> dict[str, Any]:
    """Graph's ``error`` object in an error answer's body; ``{}`` for a body that is not JSON
    or has none (a proxy's HTML page, an empty body)."""
    try:
        decoded = json.loads(body) if body else None
    except ValueError:
        decoded = None
    error: dict[str, Any] = {}
    if isinstance(decoded, dict) and isinstance(decoded.get("error"), dict):
        error = decoded["error"]
    return error


def text_field(error: dict[str, Any], key: str) -> str | None:
    """``error[key]`` when it is a string, else ``None``."""
    value = error.get(key)
    return value if isinstance(value, str) else None


def class_for_status(status: int) -> type[PlatformError]:
    """The error class an HTTP status stands for, when no native code says more."""
    if status == 401:
        return AuthenticationError
    if status == 403:
        return PermissionDenied
    if status == 404:
        return NotFound
    if status == 429:
        return RateLimited
    if status >= 500:
        return ServerError
    return InvalidRequest


def typed_error(
    cls: type[PlatformError],
    text: str,
    response: Response,
    *,
    trace: str | None,
    retry_after: float | None,
    rule_id: str | None,
    **fields: Any,
) -> PlatformError:
    """The ``cls`` error for a Graph answer: ``fields`` (platform, code, subcode...) with the
    HTTP status, the trace id (``fbtrace_id``, else the ``x-fb-trace-id`` header) and the raw
    body; ``retry_after`` for :class:`RateLimited`, ``rule_id`` for :class:`PolicyRejected`."""
    common: dict[str, Any] = {
        **fields,
        "http_status": response.status,
        "request_id": trace or response.headers.get("x-fb-trace-id"),
        "raw": response.body,
    }
    if cls is RateLimited:
        return RateLimited(text, retry_after=retry_after, **common)
    if cls is PolicyRejected:
        return PolicyRejected(text, rule_id=rule_id, **common)
    return cls(text, **common)
