"""Messenger's send rules, as the simulator applies them: one function, :func:`check`.

The rules themselves are :mod:`omnimsg.rules.messenger`, the code the SDK runs before
sending (window and message tags, §4; private replies, §3.4; content limits, §3.2; the Send
API rates, §6), so the simulator and the SDK's pre-flight refuse exactly the same sends.
What only the platform can know is checked here first: who owns the thread (§8.1) and
whether the app holds the Human Agent permission. A violation is answered with Messenger's
own sentence for its code where Meta has one (the window's, a retired tag's...).
"""

from __future__ import annotations

import attrs

from omnimsg.rules import Violation
from omnimsg.rules import messenger as rules

from ...config import MessengerAccount
from ..graph import GraphError
from .errors import (
    ACTIVITY_REPLIED,
    ACTIVITY_TOO_OLD,
    NO_PERMISSION,
    NOT_THREAD_OWNER,
    OUTSIDE_WINDOW,
    RATE_LIMITED,
    RETIRED_TAG,
    Refusal,
)
from .wire import Send

__all__ = ["ConversationState", "check", "policy_for"]

# Meta's own sentences for the codes the rules produce (the rules' messages explain more).
_NATIVE: dict[str, GraphError] = {
    "messenger.window.standard": OUTSIDE_WINDOW,
    "messenger.window.tag": OUTSIDE_WINDOW,
    "messenger.private_reply.used": ACTIVITY_REPLIED,
    "messenger.private_reply.expired": ACTIVITY_TOO_OLD,
    "messenger.rate.text": RATE_LIMITED,
    "messenger.rate.media": RATE_LIMITED,
}


_UNLIMITED = 1e9  # calls per second: a limit turned off (0 in the config)


def policy_for(cfg: MessengerAccount) -> rules.MessengerPolicy:
    """The rules a simulated Page enforces: its tag profile and its Send API rates (the
    SDK's channel for that Page takes the same, ``omnimsg.testing.messenger_channel``)."""
    return attrs.evolve(
        rules.profile(cfg.tag_profile),
        send_rate_per_second=float(cfg.send_rate or _UNLIMITED),
        media_rate_per_second=float(cfg.media_send_rate or _UNLIMITED),
    )


@attrs.frozen(kw_only=True)
class ConversationState:
    """What the platform knows about one conversation at ``now``.

    ``owner_app`` is the thread's owner (``None``: idle) and ``app`` the sender's app;
    ``comment_at`` and ``comment_replied`` describe the comment of a private reply; the
    buckets are the Page's Send API budgets (``None``: full, or the limit off).
    """

    now: float
    last_inbound_at: float | None
    app: str
    owner_app: str | None = None
    human_agent: bool = True
    comment_id: str | None = None
    comment_at: float | None = None
    comment_replied: bool = False
    text_bucket: rules.RateBucket | None = None
    media_bucket: rules.RateBucket | None = None


def _refusal(v: Violation) -> Refusal:
    native = _NATIVE.get(v.rule_id)
    if v.rule_id == "messenger.tag.retired":
        native = attrs.evolve(RETIRED_TAG, subcode=v.native_subcode)
    if native is not None:
        return Refusal(native)
    code = v.native_code if isinstance(v.native_code, int) else 100
    message = v.message.removeprefix(f"(#{code}) ")
    return Refusal(
        GraphError(code, message, status=v.http_status, subcode=v.native_subcode), message
    )


def check(send: Send, state: ConversationState, policy: rules.MessengerPolicy) -> Refusal | None:
    """The first rule ``send`` breaks, as Messenger refuses it; ``None`` when it may go.

    Order: the thread's owner (§8.1), the Human Agent permission, then the shared rules
    (content limits, the private reply's or the tag's or the standard window, the rate).
    A sender action has no content and is held to neither the window nor the send rate:
    Meta documents neither for them (the 300/s figure is for messages: text, links,
    reactions, stickers; spec §6), and a simulator that invented a refusal would fail apps
    the platform serves. The SDK sends them unchecked too, so both sides agree.
    """
    if state.owner_app is not None and state.owner_app != state.app:
        return Refusal(NOT_THREAD_OWNER)
    if send.tag == rules.HUMAN_AGENT and send.tag in policy.tags and not state.human_agent:
        return Refusal(NO_PERMISSION)  # the Human Agent permission is an App Review feature
    if send.content is None:  # a sender action
        return None
    shared = rules.SendState(
        now=state.now,
        last_inbound_at=state.last_inbound_at,
        tag=send.tag,
        human=None,  # Meta cannot see who wrote a message: not judged here
        comment_id=state.comment_id,
        comment_created_at=state.comment_at,
        comment_replied=state.comment_replied,
        metadata=send.metadata,
        text_bucket=state.text_bucket,
        media_bucket=state.media_bucket,
    )
    for violation in rules.check_send(send.content, shared, policy):
        # omnimsg's own rules (no native code: a caption, an automated HUMAN_AGENT) are the
        # SDK's business; the platform never sees what they are about.
        if violation.native_code is not None:
            return _refusal(violation)
    return None
