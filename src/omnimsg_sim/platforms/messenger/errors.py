"""The Messenger Platform's native errors, as data (spec/messenger.md §5).

Every error is a Graph envelope, ``{"error": {message, type, code, error_subcode?,
fbtrace_id}}``, HTTP 400 unless said otherwise (§5: "The HTTP status seen for these is 400").
Unlike WhatsApp's, Messenger's errors carry no ``error_data``: the sentence is the message.
Messages whose exact wording is not documented are marked UNVERIFIED; what clients branch on
is the code and the subcode.
"""

from __future__ import annotations

import attrs

from omnimsg.rules import Violation

from ...effects import SimResponse
from ..graph import GraphError, graph_error

__all__ = [
    "ACTIVITY_REPLIED",
    "ACTIVITY_TOO_OLD",
    "APPSECRET_PROOF",
    "BAD_ATTACHMENT",
    "BUTTON_TITLE",
    "BUTTON_URL",
    "EMPTY_MESSAGE",
    "INCOMPLETE_ELEMENT",
    "INVALID_PARAMETER",
    "MESSAGE_OR_STATE",
    "NOT_THREAD_OWNER",
    "NO_PERMISSION",
    "NO_SUCH_USER",
    "OUTSIDE_WINDOW",
    "POSTBACK_PAYLOAD",
    "QUICK_REPLY_PAYLOAD",
    "QUICK_REPLY_TITLE",
    "RATE_LIMITED",
    "RETIRED_TAG",
    "UNKNOWN_ERROR",
    "Refusal",
    "from_violation",
    "invalid",
    "too_few",
    "too_long",
    "too_many",
]


@attrs.frozen
class Refusal(Exception):
    """A Messenger error about to be answered: the error and, when it has one, its sentence.

    Raised while a request is decoded (before anything changes) and rendered once, by the
    route, with a fresh ``fbtrace_id``.
    """

    error: GraphError
    message: str | None = None

    def response(self, trace: str) -> SimResponse:
        """The Graph envelope of this refusal."""
        e = self.error
        return graph_error(
            e.code,
            self.message or e.title,
            status=e.status,
            subcode=e.subcode,
            trace=trace,
            error_type=e.type,
        )


# --- §5's table -------------------------------------------------------------------------------

INVALID_PARAMETER = GraphError(100, "Invalid parameter")
# A PSID the Page does not know, another Page's PSID, or a PSID with the wrong Page token.
NO_SUCH_USER = GraphError(100, "No matching user found", subcode=2018001)
EMPTY_MESSAGE = GraphError(
    100, "Message cannot be empty, must provide valid attachment or text", subcode=2018034
)
MESSAGE_OR_STATE = GraphError(100, "Must send either message or state", subcode=2018015)
BAD_ATTACHMENT = GraphError(100, "Invalid attachment", subcode=2018047)  # UNVERIFIED subcode
# The content subcodes of §5 (Messageflow/send-as's expected answers); the sentences UNVERIFIED.
QUICK_REPLY_TITLE = GraphError(100, "Quick reply title is required", subcode=2018098)
QUICK_REPLY_PAYLOAD = GraphError(100, "Quick reply payload is required", subcode=2018099)
POSTBACK_PAYLOAD = GraphError(100, "Postback payload cannot be empty", subcode=2018040)
BUTTON_URL = GraphError(100, "URL button url cannot be empty", subcode=2018041)
BUTTON_TITLE = GraphError(100, "Button title cannot be empty", subcode=2018053)
INCOMPLETE_ELEMENT = GraphError(
    100,
    "Incomplete element data: title and at least one other field (image url, subtitle or "
    "buttons) is required with non-empty value",
    subcode=2018035,
)
# Outside the 24 h window without an allowed tag (§5: the current wording; subcode 2018278).
OUTSIDE_WINDOW = GraphError(
    10,
    "This message is sent outside of allowed window. Learn more about the new policy here: "
    "https://developers.facebook.com/docs/messenger-platform/policy-overview",
    subcode=2018278,
)
# A tag Meta retired (research §1.2: code 100 documented; subcode 1893061 seen in the field).
RETIRED_TAG = GraphError(100, "Invalid parameter", subcode=1893061)
# HUMAN_AGENT without the Human Agent permission: UNVERIFIED, "probably a code-10 permission
# error" (spec §5); Graph's own code-10 sentence.
NO_PERMISSION = GraphError(10, "Application does not have permission for this action")
# Sending into a thread another app owns (spec §8.1: code UNVERIFIED; the wording and 2018300
# are what integrators report).
NOT_THREAD_OWNER = GraphError(
    10, "The action is invalid since it's not the thread owner.", subcode=2018300
)
# Private replies (spec §3.4): one per comment, within 7 days. Codes as integrators report them
# for the Send API's comment_id recipient (UNVERIFIED on Meta's site).
ACTIVITY_REPLIED = GraphError(10900, "Activity already replied to")
ACTIVITY_TOO_OLD = GraphError(10903, "This user can't reply to this activity")
RATE_LIMITED = GraphError(613, "Calls to this API have exceeded the rate limit.")
APPSECRET_PROOF = GraphError(
    100, "Invalid appsecret_proof provided in the API argument", type="GraphMethodException"
)
# A ``/_sim/faults`` rule with a bare HTTP status and no code is answered as this (code 2,
# Graph's "unexpected/temporary" error, §5).
UNKNOWN_ERROR = GraphError(2, "An unexpected error has occurred.")


def invalid(message: str) -> Refusal:
    """Code 100 with its own sentence (``(#100) The parameter recipient is required``)."""
    return Refusal(INVALID_PARAMETER, message)


def too_long(param: str, limit: int) -> Refusal:
    """Graph's length error: ``(#100) Length of param message[text] must be less than or
    equal to 2000``."""
    return invalid(f"Length of param {param} must be less than or equal to {limit}")


def too_few(param: str) -> Refusal:
    """Code 194: an empty list where one element at least is needed (§5)."""
    return Refusal(GraphError(194, "Invalid parameter"), f"param {param} has too few elements")


def too_many(param: str, limit: int) -> Refusal:
    """Code 105: a list longer than allowed (§5)."""
    return Refusal(
        GraphError(105, "Invalid parameter"),
        f"param {param} has too many elements. Max allowed: {limit}",
    )


def from_violation(v: Violation) -> Refusal:
    """A rule violation as Messenger answers it (its native code and subcode)."""
    code = v.native_code if isinstance(v.native_code, int) else 100
    subcode = getattr(v, "native_subcode", None)
    return Refusal(
        GraphError(code, v.title or v.message, status=v.http_status, subcode=subcode),
        v.title or v.message,
    )
