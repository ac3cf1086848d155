"""WhatsApp's native errors, as data (spec/whatsapp.md §5.2).

Synchronous errors are Graph envelopes (:class:`~omnimsg_sim.platforms.graph.GraphError`);
the asynchronous ones arrive later, inside a ``failed`` status webhook, as error objects.
Rule violations carry their own code from :mod:`omnimsg.rules.whatsapp` and are rendered by
:func:`~omnimsg_sim.platforms.graph.violation_response`.
"""

from __future__ import annotations

from typing import Any

from ..graph import GraphError

__all__ = [
    "DUPLICATE_TEMPLATE",
    "ERROR_CODES_URL",
    "INVALID_PARAMETER",
    "MEDIA_UPLOAD",
    "MISSING_PARAMETER",
    "NOT_FOUND",
    "UNDELIVERABLE",
    "UNKNOWN_ERROR",
    "window_closed",
]

ERROR_CODES_URL = "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"

INVALID_PARAMETER = GraphError(100, "Invalid parameter")
MISSING_PARAMETER = GraphError(131008, "Required parameter is missing")
MEDIA_UPLOAD = GraphError(131053, "Media upload error")
# A media download whose object or URL is not (or no longer) there: Graph answers 404.
NOT_FOUND = GraphError(100, "Invalid parameter", status=404)
# UNVERIFIED subcode; Meta refuses a second template with the same name and language.
DUPLICATE_TEMPLATE = GraphError(100, "Invalid parameter", subcode=2388024)
# A ``/_sim/faults`` rule with a bare HTTP status and no code is answered as this.
UNKNOWN_ERROR = GraphError(1, "An unknown error occurred")

UNDELIVERABLE: dict[str, Any] = {
    "code": 131026,
    "title": "Message undeliverable",
    "message": "Message undeliverable",
    "error_data": {"details": "Message Undeliverable."},
}
"""§5.1: a send to a number that is not on WhatsApp fails asynchronously, in its status."""


def window_closed(title: str, details: str | None) -> dict[str, Any]:
    """§5.1: in production, 131047 arrives as a ``failed`` status after a 200."""
    return {
        "code": 131047,
        "title": title,
        "message": title,
        "error_data": {"details": details},
        "href": ERROR_CODES_URL,
    }
