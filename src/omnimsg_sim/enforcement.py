"""Rules run by the simulator, answered as the platform would: native error envelopes."""

from __future__ import annotations

import json
from typing import Any

from omnimsg.rules import Violation

from .effects import SimResponse

__all__ = ["graph_error", "json_response", "violation_response"]

# Graph prefixes "(#code) " only to the messages of product-specific codes (spec §5.2: WhatsApp's
# "(#131047) Re-engagement message", "(#100) Invalid parameter"); Graph's own errors come bare
# (spec §0): 190 "Invalid OAuth access token - Cannot parse access token", 2500 "An active
# access token must be used...", 100/33 "Unsupported get request. Object with ID ...".
_BARE_CODES = frozenset({190, 2500})
_BARE_SUBCODES = frozenset({33})


def json_response(data: Any, status: int = 200) -> SimResponse:
    """A JSON answer."""
    return SimResponse(status=status, body=json.dumps(data, separators=(",", ":")).encode())


def graph_error(
    code: int,
    title: str,
    *,
    details: str | None = None,
    status: int = 400,
    subcode: int | None = None,
    trace: str = "AsimTrace0000000000000",
    error_type: str = "OAuthException",
) -> SimResponse:
    """A Graph API error: ``{"error": {message, type, code, error_data, fbtrace_id}}``.

    Shape: spec/whatsapp.md §5.2 (real 132000 and 131056 payloads). ``title`` becomes the
    message, with the ``(#code)`` prefix unless the error is one of Graph's own.
    """
    bare = code in _BARE_CODES or subcode in _BARE_SUBCODES
    error: dict[str, Any] = {
        "message": title if bare else f"(#{code}) {title}",
        "type": error_type,
        "code": code,
    }
    if details is not None:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    if subcode is not None:
        error["error_subcode"] = subcode
    error["fbtrace_id"] = trace
    headers: tuple[tuple[str, str], ...] = (("x-fb-trace-id", trace),)
    return SimResponse(
        status=status,
        body=json.dumps({"error": error}, separators=(",", ":")).encode(),
        headers=headers,
    )


def violation_response(v: Violation, trace: str) -> SimResponse:
    """A rule violation rendered as WhatsApp's own error answer."""
    code = v.native_code if isinstance(v.native_code, int) else 100
    return graph_error(
        code,
        v.title or v.message,
        details=v.details or v.message,
        status=v.http_status,
        trace=trace,
    )
