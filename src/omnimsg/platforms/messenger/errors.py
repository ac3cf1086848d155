"""Messenger (Graph) error answers mapped into the omnimsg error tree (spec/messenger.md §5).

Graph's envelope is ``{"error": {message, type, code, error_subcode?, is_transient?,
fbtrace_id}}``; the subcode is ``error_subcode`` (Pitfalls 8: a client that reads
``subcode`` never matches). A code/subcode pair is looked up first, then the code alone,
then the HTTP status.
"""

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
    RecipientUnavailable,
    ServerError,
)
from .._meta import class_for_status, error_fields, text_field, typed_error

__all__ = ["CODE_CLASSES", "RULE_FOR_CODE", "SUBCODE_CLASSES", "map_error"]

SUBCODE_CLASSES: dict[tuple[int, int], type[PlatformError]] = {
    (10, 2018278): PolicyRejected,  # outside the allowed window (§5, current)
    (10, 2018065): PolicyRejected,  # outside the window (2017 variant)
    (10, 2018108): PolicyRejected,  # outside the window, News Messaging (conflicting, §5)
    (10, 1893063): PolicyRejected,  # the Page is temporarily restricted (research §1.2)
    (10, 2018300): PermissionDenied,  # another app owns the thread (UNVERIFIED, §8.1)
    (551, 1545041): RecipientUnavailable,  # "This person isn't available right now"
    (100, 2018001): NotFound,  # "No matching user found" (Pitfalls 7)
    (100, 1893061): PolicyRejected,  # a retired message tag (research §1.2)
    (100, 2018109): InvalidRequest,  # attachment too large
    (4, 2018022): RateLimited,  # too many sends to phone numbers
    (4, 2018354): RateLimited,  # marketing messages faster than their frequency
    (9, 2018352): RateLimited,  # the person is doing too many actions
    (200, 2018028): PermissionDenied,  # not a role on the app before review (Pitfalls 7)
}
"""(code, subcode) -> error class, looked up before :data:`CODE_CLASSES`."""

CODE_CLASSES: dict[int, type[PlatformError]] = {
    0: AuthenticationError,
    102: AuthenticationError,
    190: AuthenticationError,  # invalid or expired token
    1: ServerError,
    2: ServerError,  # unexpected/temporary (is_transient)
    1200: ServerError,  # "Temporary send message failure. Please try again later."
    4: RateLimited,  # app-level throttling
    17: RateLimited,  # account-level
    32: RateLimited,  # Page-level
    613: RateLimited,  # custom-level, the Send API's "exceeded the rate limit"
    3: PermissionDenied,
    10: PermissionDenied,  # permissions (HUMAN_AGENT without approval: UNVERIFIED)
    551: RecipientUnavailable,
    100: InvalidRequest,
    105: InvalidRequest,  # too many elements
    194: InvalidRequest,  # too few elements
    10303: InvalidRequest,  # invalid account_linking_token
    368: PolicyRejected,  # blocked for a policy violation
    10900: PolicyRejected,  # a private reply was already sent to this comment
    10902: PolicyRejected,  # not a replyable activity
    10903: PolicyRejected,  # this activity can't be replied to
}
"""Native code -> error class. Codes 200-299 (API permissions) are :class:`PermissionDenied`,
except code 200 without a subcode: "This person isn't receiving messages from you right
now" (§5, the older form of 551)."""

RULE_FOR_CODE: dict[tuple[int, int | None], str] = {
    (10, 2018278): "messenger.window.standard",
    (10, 2018065): "messenger.window.standard",
    (10, 2018108): "messenger.window.standard",
    (100, 1893061): "messenger.tag.retired",
    (10900, None): "messenger.private_reply.used",
    (10903, None): "messenger.private_reply.expired",
}
"""(code, subcode) -> the omnimsg rule that pre-flight checks for it."""

_RETRYABLE = frozenset({1200})  # the platform says: not sent, try again later (§5)


def _retry_after(response: Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        seconds = None if value is None else float(value)
    except ValueError:
        return None
    if seconds is None or not 0.0 <= seconds < 1e9:  # NaN, inf, negative: no advice
        return None
    return seconds


def _int(value: Any) -> int | None:
    return value if type(value) is int else None


def map_error(response: Response) -> PlatformError:
    """The typed error for a Graph error answer (any body, even not JSON)."""
    error = error_fields(response.body)
    code = _int(error.get("code"))
    subcode = _int(error.get("error_subcode"))
    message = text_field(error, "message")
    cls: type[PlatformError]
    if code is not None and subcode is not None and (code, subcode) in SUBCODE_CLASSES:
        cls = SUBCODE_CLASSES[(code, subcode)]
    elif code == 200 and subcode is None:
        cls = RecipientUnavailable
    elif code is not None and code in CODE_CLASSES:
        cls = CODE_CLASSES[code]
    elif code is not None and 200 <= code <= 299:
        cls = PermissionDenied
    else:
        cls = class_for_status(response.status)
    text = message or f"Messenger answered HTTP {response.status}"
    transient = error.get("is_transient") is True
    return typed_error(
        cls,
        text,
        response,
        trace=text_field(error, "fbtrace_id"),
        retry_after=_retry_after(response),
        rule_id=RULE_FOR_CODE.get((code or 0, subcode)) or RULE_FOR_CODE.get((code or 0, None)),
        platform="messenger",
        code=code,
        subcode=subcode,
        retryable=code in _RETRYABLE or (code == 2 and transient),
    )
