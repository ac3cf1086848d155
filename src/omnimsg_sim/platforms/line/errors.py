"""The LINE Messaging API's native errors, as data (spec/line.md §6; research §2).

Every error is ``{"message": ..., "details": [{"message", "property"}]}``, ``details``
omitted when empty; a 409 on a repeated retry key adds ``sentMessages``. LINE has no numeric
codes: clients match the ``message`` string, so the strings below are LINE's own where one is
known and marked UNVERIFIED where it is not.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import attrs

from ...effects import SimResponse

__all__ = [
    "AUTH_FAILED",
    "AUTH_REQUIRED",
    "BAD_JSON",
    "BAD_TO",
    "FAILED_TO_SEND",
    "FORBIDDEN",
    "INVALID_REPLY_TOKEN",
    "MONTHLY_LIMIT",
    "NOT_FOUND",
    "RETRY_KEY_ACCEPTED",
    "RETRY_KEY_INVALID",
    "RETRY_KEY_NOT_SUPPORTED",
    "TOO_LARGE",
    "Detail",
    "LineRefusal",
    "body_errors",
    "line_error",
]

AUTH_REQUIRED = (
    "Authorization header required. Must follow the scheme, 'Authorization: Bearer <ACCESS TOKEN>'"
)
"""401 without a Bearer header (research §2, live report)."""
AUTH_FAILED = (
    "Authentication failed due to the following reason: invalid token. "
    "Confirm that the access token in the authorization header is valid."
)
"""401 for a token LINE does not know (research §2)."""
INVALID_REPLY_TOKEN = "Invalid reply token"
"""400: a reply token used, expired or never issued (spec §3)."""
BAD_TO = "The property, 'to', in the request body is invalid (line: -, column: -)"
"""400: ``to`` is no user, group or room id (spec §6)."""
FAILED_TO_SEND = "Failed to send messages"
"""400: a user id the provider never issued (spec §6, §8)."""
MONTHLY_LIMIT = "You have reached your monthly limit."
"""429: the plan's messages for the month are spent (spec §4)."""
RETRY_KEY_ACCEPTED = "The retry key is already accepted"
"""409: the key was accepted before (an SDK fixture's wording: UNVERIFIED live)."""
RETRY_KEY_NOT_SUPPORTED = "X-Line-Retry-Key is not supported by this API"
"""400: the header on an endpoint that does not take it (the status is documented, the
wording UNVERIFIED)."""
RETRY_KEY_INVALID = "The value of X-Line-Retry-Key is invalid"
"""400: a key that is not a UUID (UNVERIFIED: the spec declares ``format: uuid``)."""
NOT_FOUND = "Not found"
"""404: a profile, content or progress LINE does not have for this bot (spec §6)."""
FORBIDDEN = "Access to this API is not available for your account"
"""403 (spec §6)."""
TOO_LARGE = "Request Entity Too Large"
"""413 over 2 MB (the status second-hand, the wording UNVERIFIED)."""
BAD_JSON = "The request body could not be parsed as JSON (line: {line}, column: {column})"
"""400 for a body that is not JSON (second-hand wording)."""


@attrs.frozen
class Detail:
    """One entry of ``details``: what is wrong and at which property (``messages[0].text``)."""

    message: str
    property: str

    def to_json(self) -> dict[str, str]:
        """The wire form."""
        return {"message": self.message, "property": self.property}


@attrs.frozen
class LineRefusal(Exception):
    """A LINE error about to be answered; raised while a request is checked (nothing has
    changed yet) and rendered once by the route."""

    status: int
    message: str
    details: tuple[Detail, ...] = ()

    def response(self, request_id: str) -> SimResponse:
        """The answer, with its ``x-line-request-id``."""
        return line_error(
            self.status,
            self.message,
            [d.to_json() for d in self.details],
            headers=(("x-line-request-id", request_id),),
        )


def body_errors(details: Sequence[Detail]) -> LineRefusal:
    """LINE's validation 400: ``The request body has N error(s)`` and the details."""
    return LineRefusal(400, f"The request body has {len(details)} error(s)", tuple(details))


def line_error(
    status: int,
    message: str,
    details: list[dict[str, str]] | None = None,
    *,
    headers: Sequence[tuple[str, str]] = (),
    extra: dict[str, Any] | None = None,
) -> SimResponse:
    """A LINE error answer: ``{"message", "details"?}`` (``details`` omitted when empty).

    ``extra`` adds top-level fields (``sentMessages`` on a 409).
    """
    body: dict[str, Any] = {"message": message}
    if details:
        body["details"] = details
    if extra:
        body.update(extra)
    return SimResponse(
        status=status,
        body=json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode(),
        headers=tuple(headers),
    )
