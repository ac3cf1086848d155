"""LINE error answers mapped into the omnimsg error tree (spec/line.md §6; research §1.3, §2).

The Messaging API's body is ``{"message", "details": [{"message", "property"}],
"sentMessages"}``; LINE has no numeric codes, so the ``message`` string decides, then the
HTTP status. ``PlatformError.code`` is a stable short name (:data:`CODES`), ``details`` the
``property: message`` pairs, ``request_id`` the ``x-line-request-id`` header.

* 400 ``Invalid reply token``: :class:`InvalidRequest`, code ``"invalid_reply_token"`` (the
  send flow then pushes instead).
* 400 otherwise: :class:`InvalidRequest`, code ``"invalid_request"`` with the details.
* 401 :class:`AuthenticationError`; 403 :class:`PermissionDenied`; 404 :class:`NotFound`.
* 409 with ``x-line-accepted-request-id``: code ``"retry_key_accepted"`` (the request with
  this retry key was accepted before: the flows turn it into a success, never a resend).
* 429 ``You have reached your monthly limit.``: :class:`PolicyRejected`, rule
  ``line.quota.monthly``, not retryable (waiting does not refill a month).
* 429 otherwise: :class:`RateLimited`, retried after ``Retry-After`` when given.
* 5xx: :class:`ServerError` (a push is retried with the same retry key).

The token endpoints answer OAuth's ``{"error", "error_description"}`` instead
(:func:`map_oauth_error`). The channel's secrets never appear in a message: the flows scrub
them (:func:`scrub`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..._core.effects import Response
from ...exceptions import (
    AuthenticationError,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    PlatformError,
    PolicyRejected,
    RateLimited,
    ServerError,
)
from ...rules.line import MONTHLY_LIMIT_MESSAGE

__all__ = [
    "ACCEPTED_HEADER",
    "CODES",
    "INVALID_REPLY_TOKEN",
    "error_body",
    "map_error",
    "map_oauth_error",
    "scrub",
    "sent_message_ids",
]

INVALID_REPLY_TOKEN = "Invalid reply token"
"""The 400 ``message`` of an expired, used or dummy reply token (research §2)."""
ACCEPTED_HEADER = "x-line-accepted-request-id"
"""The header of a 409: the request id of the call that was accepted with this retry key."""

CODES = (
    "invalid_reply_token",
    "invalid_request",
    "unauthorized",
    "forbidden",
    "not_found",
    "retry_key_accepted",
    "conflict",
    "monthly_limit",
    "rate_limited",
    "server_error",
)
"""The values of ``PlatformError.code`` for LINE's Messaging API errors."""


def error_body(body: bytes) -> dict[str, Any]:
    """The decoded error object (``{}`` for a body that is not a JSON object)."""
    try:
        decoded = json.loads(body) if body else None
    except ValueError:
        return {}
    return decoded if isinstance(decoded, dict) else {}


def sent_message_ids(data: dict[str, Any]) -> list[str]:
    """The ids of ``sentMessages`` (a 200, or a 409 that carries them, §3)."""
    sent = data.get("sentMessages")
    if not isinstance(sent, list):
        return []
    return [m["id"] for m in sent if isinstance(m, dict) and isinstance(m.get("id"), str)]


def _details(body: dict[str, Any]) -> str | None:
    found = body.get("details")
    if not isinstance(found, list):
        return None
    parts = []
    for d in found:
        if not isinstance(d, dict):
            continue
        prop, msg = d.get("property"), d.get("message")
        text = msg if isinstance(msg, str) else ""
        parts.append(f"{prop}: {text}" if isinstance(prop, str) else text)
    return "; ".join(p for p in parts if p) or None


def _retry_after(response: Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        seconds = None if value is None else float(value)
    except ValueError:
        return None
    return seconds if seconds is not None and 0.0 <= seconds < 1e9 else None


def scrub(text: str, secrets: Sequence[str]) -> str:
    """``text`` with every secret (8 characters or more) replaced by ``<redacted>``."""
    for s in secrets:
        if s and len(s) >= 8:
            text = text.replace(s, "<redacted>")
    return text


def map_error(response: Response, secrets: Sequence[str] = ()) -> PlatformError:
    """The typed error for a LINE Messaging API error answer (any body, even not JSON)."""
    body = error_body(response.body)
    raw_message = body.get("message")
    message = raw_message if isinstance(raw_message, str) else ""
    status = response.status
    details = _details(body)
    text = scrub(message or f"LINE answered HTTP {status}", secrets)
    if details:
        text = f"{text} ({scrub(details, secrets)})"
    common: dict[str, Any] = {
        "platform": "line",
        "http_status": status,
        "request_id": response.headers.get("x-line-request-id"),
        "details": None if details is None else scrub(details, secrets),
        "raw": response.body,
    }
    if status == 400:
        code = "invalid_reply_token" if message == INVALID_REPLY_TOKEN else "invalid_request"
        return InvalidRequest(text, code=code, **common)
    if status == 401:
        return AuthenticationError(text, code="unauthorized", **common)
    if status == 403:
        return PermissionDenied(text, code="forbidden", **common)
    if status == 404:
        return NotFound(text, code="not_found", **common)
    if status == 409:
        accepted = response.headers.get(ACCEPTED_HEADER)
        if accepted:
            common["request_id"] = accepted
            return InvalidRequest(text, code="retry_key_accepted", **common)
        return InvalidRequest(text, code="conflict", **common)
    if status == 429:
        if message == MONTHLY_LIMIT_MESSAGE:
            return PolicyRejected(
                text, rule_id="line.quota.monthly", code="monthly_limit", **common
            )
        return RateLimited(text, retry_after=_retry_after(response), code="rate_limited", **common)
    if status >= 500:
        return ServerError(text, code="server_error", **common)
    return InvalidRequest(text, code="invalid_request", **common)


def map_oauth_error(response: Response, secrets: Sequence[str] = ()) -> PlatformError:
    """The typed error for a channel-access-token endpoint's OAuth error (§5)."""
    body = error_body(response.body)
    error = body.get("error") if isinstance(body.get("error"), str) else None
    described = body.get("error_description")
    description = described if isinstance(described, str) else None
    text = scrub(
        ": ".join(p for p in (error, description) if p) or f"LINE answered HTTP {response.status}",
        secrets,
    )
    common: dict[str, Any] = {
        "platform": "line",
        "code": error,
        "http_status": response.status,
        "request_id": response.headers.get("x-line-request-id"),
        "details": None if description is None else scrub(description, secrets),
        "raw": response.body,
    }
    if (
        error in ("invalid_client", "invalid_grant", "unauthorized_client")
        or response.status == 401
    ):
        return AuthenticationError(text, **common)
    if response.status == 429:
        return RateLimited(text, retry_after=_retry_after(response), **common)
    if response.status >= 500:
        return ServerError(text, **common)
    if response.status == 404:
        return NotFound(text, **common)
    return InvalidRequest(text, **common)
