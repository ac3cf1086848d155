"""WhatsApp/Graph error answers mapped into the omnimsg error tree (spec/whatsapp.md §5.2-5.3)."""

from __future__ import annotations

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
from .._meta import class_for_status, error_fields, text_field, typed_error

__all__ = ["CODE_CLASSES", "RULE_FOR_CODE", "map_error"]

CODE_CLASSES: dict[int, type[PlatformError]] = {
    0: AuthenticationError,
    190: AuthenticationError,
    3: PermissionDenied,
    10: PermissionDenied,
    131030: PermissionDenied,
    131031: PermissionDenied,
    4: RateLimited,
    80007: RateLimited,
    130429: RateLimited,
    131048: RateLimited,
    131056: RateLimited,
    133016: RateLimited,
    100: InvalidRequest,
    131008: InvalidRequest,
    131009: InvalidRequest,
    131051: InvalidRequest,
    131052: InvalidRequest,
    131053: InvalidRequest,
    132000: InvalidRequest,
    132005: InvalidRequest,
    132008: InvalidRequest,
    132012: InvalidRequest,
    132001: NotFound,
    131026: PolicyRejected,
    131042: PolicyRejected,
    131047: PolicyRejected,
    131049: PolicyRejected,
    131050: PolicyRejected,
    131062: PolicyRejected,
    131063: PolicyRejected,
    131064: PolicyRejected,
    132007: PolicyRejected,
    132015: PolicyRejected,
    132016: PolicyRejected,
    368: PolicyRejected,
    130472: PolicyRejected,
    130497: PolicyRejected,
    1: ServerError,
    2: ServerError,
    131000: ServerError,
    131016: ServerError,
    131057: ServerError,
}
"""Native code -> error class. Codes 200-299 (API permissions) are :class:`PermissionDenied`."""

RULE_FOR_CODE: dict[int, str] = {
    131047: "whatsapp.window.customer_service",
    131056: "whatsapp.rate.pair",
    131064: "whatsapp.tier.business_initiated",
    132015: "whatsapp.template.paused",
    132016: "whatsapp.template.disabled",
}
"""Native code -> the omnimsg rule that pre-flight checks for it."""


def _retry_after(response: Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return None if value is None else max(0.0, float(value))
    except ValueError:
        return None


def map_error(response: Response) -> PlatformError:
    """The typed error for a Graph error answer (any body, even not JSON)."""
    error = error_fields(response.body)
    code = error.get("code") if isinstance(error.get("code"), int) else None
    subcode = error.get("error_subcode") if isinstance(error.get("error_subcode"), int) else None
    data: dict[str, Any] = error["error_data"] if isinstance(error.get("error_data"), dict) else {}
    details = data.get("details") if isinstance(data.get("details"), str) else None
    message = text_field(error, "message")
    if code is not None and 200 <= code <= 299:
        cls: type[PlatformError] = PermissionDenied
    elif code is not None and code in CODE_CLASSES:
        cls = CODE_CLASSES[code]
    else:
        cls = class_for_status(response.status)
    text = message or f"WhatsApp answered HTTP {response.status}"
    if details:
        text = f"{text}: {details}"
    return typed_error(
        cls,
        text,
        response,
        trace=text_field(error, "fbtrace_id"),
        retry_after=_retry_after(response),
        rule_id=RULE_FOR_CODE.get(code or 0),
        platform="whatsapp",
        code=code,
        subcode=subcode,
        details=details,
    )
