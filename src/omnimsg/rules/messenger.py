"""Messenger Platform rules, pure: given content, state and ``now``, return violations.

Shared by the SDK's pre-flight (raise before any I/O) and the simulator (answer the native
error). Facts: ``spec/messenger.md`` (sections cited as §N) and the research notes on the
2026 changes (cited as "research §N"). Every number is a field of :class:`MessengerPolicy`;
the UNVERIFIED ones say so, so that a profile can change them with :func:`attrs.evolve`.

The rules see content *after* the adapter's declared fallbacks (``ListMenu`` has become
``QuickReplies`` or ``Cards``, ``Location`` a ``Text``...), so a converted message is held
to the limits of what it became.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Literal

import attrs

from ..clock import to_datetime
from ..exceptions import ConfigurationError
from ..models.content import (
    Audio,
    Button,
    Buttons,
    Cards,
    Content,
    Document,
    Image,
    LinkButton,
    QuickReplies,
    Raw,
    Sticker,
    Text,
    UrlButton,
    Video,
)
from ._core import PolicyProfile, Violation

__all__ = [
    "ACCOUNT_UPDATE",
    "CONFIRMED_EVENT_UPDATE",
    "CUSTOMER_FEEDBACK",
    "HUMAN_AGENT",
    "LEGACY_TAGS",
    "POST_PURCHASE_UPDATE",
    "PROFILES",
    "BadgeReport",
    "Exchange",
    "MessengerPolicy",
    "RateBucket",
    "SendState",
    "allowed_when_closed",
    "badge",
    "check_profile",
    "check_send",
    "consume",
    "is_feedback_template",
    "latest",
    "not_thread_owner",
    "profile",
    "rate_kind",
    "starts_conversation",
    "tag_window_seconds",
    "window_closes_at",
    "window_open",
]

_DAY = 86_400.0
# Unix times near 1.8e9 carry about 0.2 us of float error: a bucket refilled "exactly" one
# call's worth may come out a hair short (1 - 1e-9 tokens), which must still allow the call.
_EPSILON = 1e-6

HUMAN_AGENT = "HUMAN_AGENT"
"""A person answers, up to 7 days after the customer's last message (§4)."""
CUSTOMER_FEEDBACK = "CUSTOMER_FEEDBACK"
"""The customer feedback template only, within 7 days (§4; research §1.1)."""
CONFIRMED_EVENT_UPDATE = "CONFIRMED_EVENT_UPDATE"
"""Retired on 2026-04-27 (research §1.1)."""
POST_PURCHASE_UPDATE = "POST_PURCHASE_UPDATE"
"""Retired on 2026-04-27 (research §1.1)."""
ACCOUNT_UPDATE = "ACCOUNT_UPDATE"
"""Retired on 2026-04-27 (research §1.1)."""

LEGACY_TAGS: frozenset[str] = frozenset(
    {
        "APPLICATION_UPDATE",
        "APPOINTMENT_UPDATE",
        "CONFIRMED_EVENT_REMINDER",
        "ISSUE_RESOLUTION",
        "PAYMENT_UPDATE",
        "PERSONAL_FINANCE_UPDATE",
        "RESERVATION_UPDATE",
        "SHIPPING_UPDATE",
        "TICKET_UPDATE",
        "TRANSPORTATION_UPDATE",
        "COMMUNITY_ALERT",
        "PAIRING_UPDATE",
        "GAME_EVENT",
        "FEATURE_FUNCTIONALITY_UPDATE",
    }
)
"""The tags rejected since 2020-03-04 (§4, "Legacy tags")."""

_WINDOW_MESSAGE = (
    "(#10) This message is sent outside of allowed window. Learn more about the new policy "
    "here: https://developers.facebook.com/docs/messenger-platform/policy-overview"
)


@attrs.frozen(kw_only=True, slots=True)
class MessengerPolicy(PolicyProfile):
    """The Messenger numbers omnimsg enforces. UNVERIFIED facts are fields, so they can change.

    Attributes mirror ``spec/messenger.md``: the standard window and the message tags (§4),
    private replies (§3.4), content limits (§3.1, §3.2), the Send API rates (§6), the
    Messenger Profile limits (research §5.1), the "Very responsive" badge (§7), and the native
    codes each produces (§5).
    """

    platform: Literal["messenger"] = "messenger"
    # §4: 24 h after the customer's last message or other eligible action.
    window_seconds: float = _DAY
    # §4; research §1.1: the tags this profile accepts, and those it refuses as retired.
    tags: frozenset[str] = frozenset({HUMAN_AGENT, CUSTOMER_FEEDBACK})
    retired_tags: frozenset[str] = frozenset(
        {CONFIRMED_EVENT_UPDATE, POST_PURCHASE_UPDATE, ACCOUNT_UPDATE}
    )
    human_agent_seconds: float = 7 * _DAY  # §4: HUMAN_AGENT, 7 days, human-written only
    customer_feedback_seconds: float = 7 * _DAY  # §4: CUSTOMER_FEEDBACK, 7 days
    # research §1.2: a retired tag is code 100 (Meta); subcode 1893061 seen in the field only
    # (UNVERIFIED), message "Invalid parameter" (UNVERIFIED whether "(#100) " prefixes it).
    retired_tag_code: int = 100
    retired_tag_subcode: int | None = 1893061
    retired_tag_message: str = "Invalid parameter"
    # research §1.2: a tag outside the enum, "(#100) Invalid tag." (a 2017 capture).
    invalid_tag_code: int = 100
    # research §1.2: "Use in any other form is prohibited and will fail"; code UNVERIFIED.
    feedback_content_code: int = 100
    # §5: outside the window, 10 / 2018278 (subcode in Meta's table UNVERIFIED).
    window_code: int = 10
    window_subcode: int | None = 2018278
    # §3.4: one private reply per comment, within 7 days of its creation. The codes are
    # UNVERIFIED (third-party code: 10900 "Activity already replied to", 10903 "This user
    # can't reply to this activity").
    private_reply_seconds: float = 7 * _DAY
    private_reply_used_code: int = 10900
    private_reply_expired_code: int = 10903
    # §8.1: sending into a thread another app owns is refused; code UNVERIFIED (10 / 2018300,
    # "The action is invalid since it's not the thread owner.", as integrators report it).
    thread_owner_code: int = 10
    thread_owner_subcode: int | None = 2018300
    # §3.2 content limits.
    text_max: int = 2000
    quick_replies_max: int = 13
    quick_reply_title_max: int = 20  # UNVERIFIED on the Messenger page (Instagram's figure)
    quick_reply_payload_max: int = 1000  # UNVERIFIED on Meta's site
    button_text_max: int = 640
    buttons_max: int = 3
    button_title_max: int = 20  # UNVERIFIED on Meta's site
    postback_payload_max: int = 1000  # UNVERIFIED (taken as the quick reply payload's)
    generic_elements_max: int = 10
    generic_title_max: int = 80
    generic_subtitle_max: int = 80
    generic_buttons_max: int = 3
    metadata_max: int = 999  # §3.1: metadata "must be <1000 characters"
    # §5 codes of malformed messages (Messageflow/send-as tests, fchat FAQ: secondary).
    limit_error_code: int = 100
    empty_subcode: int = 2018034  # "message cannot be empty"
    incomplete_element_subcode: int = 2018035  # a generic element needs title + one more
    too_many_code: int = 105  # "param ... has too many elements"
    too_few_code: int = 194  # "param ... has too few elements"
    # §6: Send API calls per second per Page: text, links, reactions, stickers (and, not
    # stated, images and files); audio and video have their own, smaller budget.
    send_rate_per_second: float = 300.0
    media_rate_per_second: float = 10.0
    rate_error_code: int = 613  # §6: the code of the per-second cap is UNVERIFIED
    rate_http_status: int = 400  # UNVERIFIED (Graph throttles answer 400 with code 4/32/613)
    # research §5.1: the Messenger Profile API.
    greeting_max: int = 160
    persistent_menu_max: int = 20
    persistent_menu_title_max: int = 30  # UNVERIFIED (fbmessenger's builder)
    ice_breakers_max: int = 4
    # §7: "Very responsive to messages": over the last 7 days, a 90 % response rate and a
    # 15-minute response time. The formula is UNVERIFIED, hence the knobs below.
    badge_window_seconds: float = 7 * _DAY
    badge_rate_min: float = 0.9
    badge_time_max_seconds: float = 900.0
    # "median" (some copies of the help text), "mean", or "mean_fastest_90" (an older help
    # text: the average of the fastest 90 % of response times).
    badge_time_statistic: Literal["median", "mean", "mean_fastest_90"] = "median"
    # A reply later than this does not count as a response; an unanswered conversation
    # younger than this is not judged yet (UNVERIFIED).
    badge_answer_within_seconds: float = _DAY
    # "Only the first reply in a new conversation counts": a customer message starts a new
    # conversation when nothing awaits a reply and the previous one began at least this long
    # ago (UNVERIFIED; 0 counts every customer message after a reply).
    badge_conversation_gap_seconds: float = _DAY


PROFILES: tuple[MessengerPolicy, ...] = (
    # §4: the "24 + 1" rule and 14 legacy tags ended on 2020-03-04; four tags remained, and
    # CUSTOMER_FEEDBACK (research §1.1).
    MessengerPolicy(
        name="messenger-2020-03-04",
        effective=date(2020, 3, 4),
        tags=frozenset(
            {
                CONFIRMED_EVENT_UPDATE,
                POST_PURCHASE_UPDATE,
                ACCOUNT_UPDATE,
                HUMAN_AGENT,
                CUSTOMER_FEEDBACK,
            }
        ),
        retired_tags=LEGACY_TAGS,
        retired_tag_subcode=None,  # the legacy tags' answer is UNVERIFIED
    ),
    # research §1.1: Meta's changelog of 2026-03-27, "Effective April 27, 2026 all API
    # requests containing the deprecated Message Tags CONFIRMED_EVENT_UPDATE, ACCOUNT_UPDATE,
    # and POST_PURCHASE_UPDATE will receive error code 100".
    MessengerPolicy(
        name="messenger-2026-04-27",
        effective=date(2026, 4, 27),
        retired_tags=frozenset({CONFIRMED_EVENT_UPDATE, POST_PURCHASE_UPDATE, ACCOUNT_UPDATE})
        | LEGACY_TAGS,
    ),
)


def latest() -> MessengerPolicy:
    """The newest Messenger profile."""
    return max(PROFILES, key=lambda p: p.effective)


def profile(name_or_date: str | date) -> MessengerPolicy:
    """The profile with that name, or the one in force on that date.

    ``profile("messenger-2020-03-04")`` or ``profile(date(2026, 1, 1))`` keeps the three tags
    Meta retired on 2026-04-27.
    """
    if isinstance(name_or_date, str):
        for p in PROFILES:
            if p.name == name_or_date:
                return p
        raise ConfigurationError(
            f"unknown Messenger policy profile {name_or_date!r}; "
            f"known: {[p.name for p in PROFILES]}"
        )
    in_force = [p for p in PROFILES if p.effective <= name_or_date]
    if not in_force:
        raise ConfigurationError(f"no Messenger policy profile was in force on {name_or_date}")
    return max(in_force, key=lambda p: p.effective)


# --- the window (§4) ------------------------------------------------------------------------


def window_closes_at(last_inbound_at: float | None, policy: MessengerPolicy) -> float | None:
    """When the standard window closes (``None`` if the customer never wrote)."""
    return None if last_inbound_at is None else last_inbound_at + policy.window_seconds


def window_open(last_inbound_at: float | None, now: float, policy: MessengerPolicy) -> bool:
    """Is a message without a tag allowed now (§4)?"""
    closes = window_closes_at(last_inbound_at, policy)
    return closes is not None and now < closes


def tag_window_seconds(tag: str, policy: MessengerPolicy) -> float | None:
    """How long after the customer's last message ``tag`` may be used (``None``: no limit)."""
    if tag == HUMAN_AGENT:
        return policy.human_agent_seconds
    if tag == CUSTOMER_FEEDBACK:
        return policy.customer_feedback_seconds
    return None


def allowed_when_closed(
    last_inbound_at: float | None, now: float, policy: MessengerPolicy
) -> tuple[str, ...]:
    """The tags that still allow a message now, sorted (``window().allowed_when_closed``)."""
    out = []
    for tag in sorted(policy.tags):
        limit = tag_window_seconds(tag, policy)
        if limit is None or (last_inbound_at is not None and now < last_inbound_at + limit):
            out.append(tag)
    return tuple(out)


def is_feedback_template(content: Content) -> bool:
    """True for ``Raw`` of a customer feedback template, the only use of CUSTOMER_FEEDBACK."""
    if not isinstance(content, Raw):
        return False
    attachment = content.payload.get("attachment")
    payload = attachment.get("payload") if isinstance(attachment, dict) else None
    return (
        isinstance(attachment, dict)
        and attachment.get("type") == "template"
        and isinstance(payload, dict)
        and payload.get("template_type") == "customer_feedback"
    )


# --- rates (§6) -----------------------------------------------------------------------------


@attrs.frozen(slots=True)
class RateBucket:
    """A Page's token bucket for one Send API budget (``tokens`` left at ``updated``)."""

    tokens: float
    updated: float


def rate_kind(content: Content) -> Literal["text", "media"]:
    """Which budget a send spends (§6): audio and video have their own, the rest share one."""
    return "media" if isinstance(content, Audio | Video) else "text"


def _rate(kind: str, policy: MessengerPolicy) -> float:
    return policy.media_rate_per_second if kind == "media" else policy.send_rate_per_second


def _refill(bucket: RateBucket | None, now: float, rate: float) -> float:
    # A second's worth of calls may go at once; the bucket refills at ``rate`` per second.
    if bucket is None:
        return rate
    return min(rate, bucket.tokens + max(0.0, now - bucket.updated) * rate)


def consume(
    bucket: RateBucket | None, now: float, kind: Literal["text", "media"], policy: MessengerPolicy
) -> RateBucket:
    """The bucket after one more call at ``now`` (call only for an accepted send)."""
    return RateBucket(tokens=_refill(bucket, now, _rate(kind, policy)) - 1.0, updated=now)


# --- the state and the check ----------------------------------------------------------------


@attrs.frozen(kw_only=True, slots=True)
class SendState:
    """What is known about the conversation when a message is about to be sent.

    Attributes:
        now: the current Unix time (from the injected clock).
        last_inbound_at: when the customer last wrote (or tapped), or ``None``.
        tag: the message tag the send carries, or ``None``.
        human: a person wrote the message; ``None`` when unknown (the simulator cannot see
            it on the wire, so it does not judge the HUMAN_AGENT rule).
        comment_id: set for a private reply to this comment (§3.4): the comment's rules
            apply instead of the window's.
        comment_created_at: when that comment was made, when known (from feed webhooks).
        comment_replied: the comment already has its one private reply.
        metadata: the developer string sent with the message (``message.metadata``).
        text_bucket: the Page's bucket for text, links and stickers, or ``None`` (full).
        media_bucket: the Page's bucket for audio and video, or ``None`` (full).
    """

    now: float
    last_inbound_at: float | None = None
    tag: str | None = None
    human: bool | None = None
    comment_id: str | None = None
    comment_created_at: float | None = None
    comment_replied: bool = False
    metadata: str | None = None
    text_bucket: RateBucket | None = None
    media_bucket: RateBucket | None = None


def _violation(
    rule_id: str,
    message: str,
    code: int | None,
    subcode: int | None = None,
    *,
    title: str | None = None,
    closed_at: float | None = None,
    status: int = 400,
    retry_after: float | None = None,
) -> Violation:
    return Violation(
        rule_id=rule_id,
        platform="messenger",
        message=message,
        native_code=code,
        native_subcode=subcode,
        http_status=status,
        title=title,
        details=message,
        closed_at=None if closed_at is None else to_datetime(closed_at),
        retry_after=retry_after,
    )


class _Limits:
    """Collects the content-limit violations of one message (§3.2)."""

    def __init__(self, policy: MessengerPolicy) -> None:
        self.p = policy
        self.found: list[Violation] = []

    def length(self, rule: str, what: str, value: str | None, limit: int) -> None:
        if value is not None and len(value) > limit:
            self.found.append(
                _violation(
                    rule,
                    f"(#100) {what} is {len(value)} characters; Messenger allows {limit}",
                    self.p.limit_error_code,
                    title="Invalid parameter",
                )
            )

    def required(self, rule: str, what: str, value: str | None, subcode: int | None) -> None:
        if not value:
            self.found.append(
                _violation(
                    rule,
                    f"(#100) {what} is required",
                    self.p.limit_error_code,
                    subcode,
                    title="Invalid parameter",
                )
            )

    def count(self, rule: str, what: str, n: int, low: int, high: int) -> None:
        if n < low:
            self.found.append(
                _violation(
                    rule,
                    f"(#{self.p.too_few_code}) param {what} has too few elements "
                    f"({n}; Messenger needs {low} to {high})",
                    self.p.too_few_code,
                )
            )
        elif n > high:
            self.found.append(
                _violation(
                    rule,
                    f"(#{self.p.too_many_code}) param {what} has too many elements "
                    f"({n}; Messenger allows {low} to {high})",
                    self.p.too_many_code,
                )
            )

    def button(self, rule: str, b: Button | LinkButton) -> None:
        p = self.p
        self.required(rule, "button title", b.title, 2018053)
        self.length(rule, "button title", b.title, p.button_title_max)
        if isinstance(b, Button):
            self.required(rule, "postback payload", b.id, 2018040)
            self.length(rule, "postback payload", b.id, p.postback_payload_max)
        else:
            self.required(rule, "url button url", b.url, 2018041)


def _content_limits(content: Content, p: MessengerPolicy) -> list[Violation]:
    check = _Limits(p)
    if isinstance(content, Text):
        check.required("messenger.limits.empty", "message text", content.body, p.empty_subcode)
        check.length("messenger.limits.length", "message text", content.body, p.text_max)
    elif isinstance(content, QuickReplies):
        check.required("messenger.limits.empty", "message text", content.body, p.empty_subcode)
        check.length("messenger.limits.length", "message text", content.body, p.text_max)
        rule = "messenger.limits.quick_replies"
        check.count(rule, "message[quick_replies]", len(content.replies), 1, p.quick_replies_max)
        for r in content.replies:
            check.required(rule, "quick reply title", r.title, 2018098)
            check.length(rule, "quick reply title", r.title, p.quick_reply_title_max)
            check.required(rule, "quick reply payload", r.id, 2018099)
            check.length(rule, "quick reply payload", r.id, p.quick_reply_payload_max)
    elif isinstance(content, Buttons | UrlButton):
        rule = "messenger.limits.buttons"
        text = content.body
        check.required("messenger.limits.empty", "button template text", text, p.empty_subcode)
        check.length("messenger.limits.length", "button template text", text, p.button_text_max)
        buttons: Sequence[Button | LinkButton] = (
            content.buttons
            if isinstance(content, Buttons)
            else (LinkButton(content.text, content.url),)
        )
        check.count(rule, "message[attachment][payload][buttons]", len(buttons), 1, p.buttons_max)
        for b in buttons:
            check.button(rule, b)
    elif isinstance(content, Cards):
        rule = "messenger.limits.cards"
        n = len(content.cards)
        check.count(rule, "message[attachment][payload][elements]", n, 1, p.generic_elements_max)
        for card in content.cards:
            check.required(rule, "element title", card.title, None)
            check.length(rule, "element title", card.title, p.generic_title_max)
            check.length(rule, "element subtitle", card.subtitle, p.generic_subtitle_max)
            if len(card.buttons) > p.generic_buttons_max:
                check.count(rule, "element[buttons]", len(card.buttons), 0, p.generic_buttons_max)
            if card.title and not (card.subtitle or card.image_url or card.url or card.buttons):
                check.found.append(
                    _violation(
                        rule,
                        "(#100) Incomplete element data: title and at least one other field "
                        "(image url, subtitle or buttons) is required with non-empty value",
                        p.limit_error_code,
                        p.incomplete_element_subcode,
                        title="Invalid parameter",
                    )
                )
            for b in card.buttons:
                check.button(rule, b)
    elif (
        isinstance(content, Sticker)
        and content.media_id is not None
        and not content.media_id.isdigit()
    ):
        check.found.append(
            _violation(
                "messenger.limits.sticker",
                f"(#100) sticker_id must be a number, got {content.media_id!r}",
                p.limit_error_code,
                title="Invalid parameter",
            )
        )
    if isinstance(content, Image | Video | Document) and content.caption:
        # Messenger attachments have no caption (§3.3); dropping it would lose what was
        # written, so it is refused (an omnimsg rule: the platform never sees a caption).
        check.found.append(
            _violation(
                "messenger.media.caption",
                "Messenger attachments carry no caption: send the text as its own message, "
                "or a Cards card (image_url, title, subtitle) for a picture with words",
                None,
            )
        )
    return check.found


def _window_violation(
    rule_id: str, last: float | None, limit: float, what: str, p: MessengerPolicy
) -> Violation:
    closes = None if last is None else last + limit
    when = (
        "the customer has never written"
        if closes is None
        else f"it closed at {to_datetime(closes).isoformat()}"
    )
    return _violation(
        rule_id,
        f"{_WINDOW_MESSAGE} ({what}: {when})",
        p.window_code,
        p.window_subcode,
        title="Outside of allowed window",
        closed_at=closes,
    )


def _tag_violations(content: Content, state: SendState, p: MessengerPolicy) -> list[Violation]:
    tag = state.tag
    assert tag is not None
    if tag in p.retired_tags:
        return [
            _violation(
                "messenger.tag.retired",
                f"{p.retired_tag_message}: the message tag {tag} is retired in {p.name} "
                "(use HUMAN_AGENT for a person's reply within 7 days)",
                p.retired_tag_code,
                p.retired_tag_subcode,
                title=p.retired_tag_message,
            )
        ]
    if tag not in p.tags:
        return [
            _violation(
                "messenger.tag.unknown",
                f"(#100) Invalid tag. {tag!r} is not one of {sorted(p.tags)} ({p.name})",
                p.invalid_tag_code,
                title="Invalid tag",
            )
        ]
    out: list[Violation] = []
    if tag == HUMAN_AGENT and state.human is False:
        # §4: "automated messages are not allowed" with HUMAN_AGENT. Meta cannot see who
        # wrote a message, so this is omnimsg's rule (no native code): misuse costs the
        # Human Agent permission.
        out.append(
            _violation(
                "messenger.tag.human_agent",
                "HUMAN_AGENT is for messages a person wrote: pass human=True when an agent "
                "wrote this one (automated messages may not use the tag)",
                None,
            )
        )
    if tag == CUSTOMER_FEEDBACK and not is_feedback_template(content):
        out.append(
            _violation(
                "messenger.tag.customer_feedback",
                "CUSTOMER_FEEDBACK can only be used with the customer feedback template "
                '(Raw({"attachment": {"type": "template", "payload": {"template_type": '
                '"customer_feedback", ...}}}))',
                p.feedback_content_code,
                title="Invalid parameter",
            )
        )
    limit = tag_window_seconds(tag, p)
    last = state.last_inbound_at
    if limit is not None and (last is None or state.now >= last + limit):
        days = limit / _DAY
        out.append(
            _window_violation(
                "messenger.window.tag",
                last,
                limit,
                f"{tag} allows {days:g} days after the customer's last message",
                p,
            )
        )
    return out


def _private_reply_violations(state: SendState, p: MessengerPolicy) -> list[Violation]:
    if state.comment_replied:
        return [
            _violation(
                "messenger.private_reply.used",
                f"(#{p.private_reply_used_code}) Activity already replied to: comment "
                f"{state.comment_id} already has its one private reply",
                p.private_reply_used_code,
                title="Activity already replied to",
            )
        ]
    created = state.comment_created_at
    if created is not None and state.now >= created + p.private_reply_seconds:
        closed = created + p.private_reply_seconds
        return [
            _violation(
                "messenger.private_reply.expired",
                f"(#{p.private_reply_expired_code}) This activity can't be replied to: a "
                f"private reply must follow within {p.private_reply_seconds / _DAY:g} days of "
                f"the comment (until {to_datetime(closed).isoformat()})",
                p.private_reply_expired_code,
                title="This user can't reply to this activity",
                closed_at=closed,
            )
        ]
    return []


def not_thread_owner(policy: MessengerPolicy) -> Violation:
    """``messenger.thread.not_owner``: another app owns the thread (§8.1).

    Messenger refuses every send from an app that does not own the thread, sender actions
    included; the app takes it back with ``take_thread_control`` (it is the primary receiver)
    or asks for it with ``request_thread_control``.
    """
    code = policy.thread_owner_code
    return _violation(
        "messenger.thread.not_owner",
        f"(#{code}) The action is invalid since it's not the thread owner: another app (the "
        "Page Inbox, a secondary receiver) owns this conversation; take_thread_control to "
        "answer again",
        code,
        policy.thread_owner_subcode,
        title="Not the thread owner",
    )


def check_send(
    content: Content, state: SendState, policy: MessengerPolicy
) -> tuple[Violation, ...]:
    """Every rule a message breaks, most important first; an empty tuple means "send it"."""
    p = policy
    out = _content_limits(content, p)
    if state.metadata is not None and len(state.metadata) > p.metadata_max:
        out.append(
            _violation(
                "messenger.limits.metadata",
                f"(#100) metadata is {len(state.metadata)} characters; it must be under "
                f"{p.metadata_max + 1}",
                p.limit_error_code,
                title="Invalid parameter",
            )
        )
    if state.comment_id is not None:
        out.extend(_private_reply_violations(state, p))
    elif state.tag is not None:
        out.extend(_tag_violations(content, state, p))
    elif not window_open(state.last_inbound_at, state.now, p):
        out.append(
            _window_violation(
                "messenger.window.standard",
                state.last_inbound_at,
                p.window_seconds,
                "the standard window is 24 hours after the customer's last message",
                p,
            )
        )
    if out:
        return tuple(out)
    kind = rate_kind(content)
    rate = _rate(kind, p)
    bucket = state.media_bucket if kind == "media" else state.text_bucket
    tokens = _refill(bucket, state.now, rate)
    if tokens < 1.0 - _EPSILON:
        wait = (1.0 - tokens) / rate
        what = "audio and video" if kind == "media" else "messages"
        out.append(
            _violation(
                f"messenger.rate.{kind}",
                f"(#{p.rate_error_code}) Calls to this API have exceeded the rate limit: "
                f"{rate:g} {what} per second per Page; retry in {wait:.3f} s",
                p.rate_error_code,
                title="Calls to this API have exceeded the rate limit",
                status=p.rate_http_status,
                retry_after=wait,
            )
        )
    return tuple(out)


# --- the Messenger Profile API (research §5.1) --------------------------------------------


def check_profile(
    *,
    greeting: Sequence[tuple[str, str]] | None = None,
    persistent_menu: Sequence[Button | LinkButton] | None = None,
    ice_breakers: Sequence[Button] | None = None,
    policy: MessengerPolicy,
) -> tuple[Violation, ...]:
    """Check what ``messenger.profile.set`` would write: greetings as ``(locale, text)``."""
    p = policy
    check = _Limits(p)
    rule = "messenger.profile"
    if greeting is not None:
        locales = [locale for locale, _ in greeting]
        if "default" not in locales:
            check.required(rule, "a greeting for the 'default' locale", None, None)
        for locale, text in greeting:
            check.required(rule, f"greeting text ({locale})", text, None)
            check.length(rule, f"greeting text ({locale})", text, p.greeting_max)
    if persistent_menu is not None:
        n = len(persistent_menu)
        check.count(rule, "persistent_menu[call_to_actions]", n, 1, p.persistent_menu_max)
        for item in persistent_menu:
            check.required(rule, "menu item title", item.title, None)
            check.length(rule, "menu item title", item.title, p.persistent_menu_title_max)
            if isinstance(item, Button):
                check.required(rule, "menu item payload", item.id, None)
                check.length(rule, "menu item payload", item.id, p.postback_payload_max)
    if ice_breakers is not None:
        check.count(rule, "ice_breakers", len(ice_breakers), 1, p.ice_breakers_max)
        for b in ice_breakers:
            check.required(rule, "ice breaker question", b.title, None)
            check.required(rule, "ice breaker payload", b.id, None)
    return tuple(check.found)


# --- the "Very responsive" badge (§7) -----------------------------------------------------


@attrs.frozen(kw_only=True, slots=True)
class Exchange:
    """One conversation, as the badge counts it: the customer's first message, the Page's
    first reply (``None`` while unanswered)."""

    user: str
    started_at: float
    replied_at: float | None = None


@attrs.frozen(kw_only=True, slots=True)
class BadgeReport:
    """A Page's responsiveness over the badge's window (§7).

    Attributes:
        since: the window's start; ``until``: its end (now).
        conversations: conversations judged (answered, or unanswered for too long).
        responded: of those, answered in time.
        pending: conversations still waiting for a reply, not judged yet.
        response_rate: ``responded / conversations`` (``None`` without conversations).
        response_time: seconds, by the policy's statistic (``None`` without replies).
        very_responsive: both meet the bar (90 % and under 15 minutes by default).
    """

    since: datetime
    until: datetime
    conversations: int
    responded: int
    pending: int
    response_rate: float | None
    response_time: float | None
    very_responsive: bool


def starts_conversation(
    awaiting_since: float | None, last_started_at: float | None, t: float, p: MessengerPolicy
) -> bool:
    """Does a customer message at ``t`` start a new conversation for the badge (§7)?

    Not while an earlier message still awaits the Page's reply (``awaiting_since``); and,
    because only the first reply of a new conversation counts, not within
    ``badge_conversation_gap_seconds`` of the previous conversation's start.
    """
    if awaiting_since is not None:
        return False
    return last_started_at is None or t - last_started_at >= p.badge_conversation_gap_seconds


def _statistic(times: list[float], how: str) -> float:
    if how == "mean":
        return statistics.fmean(times)
    if how == "mean_fastest_90":
        fastest = sorted(times)[: max(1, math.ceil(0.9 * len(times)))]
        return statistics.fmean(fastest)
    return float(statistics.median(times))


def badge(log: Iterable[Exchange], now: float, policy: MessengerPolicy) -> BadgeReport:
    """The badge's figures from a conversation log, at ``now`` (pure; §7)."""
    p = policy
    since = now - p.badge_window_seconds
    judged = responded = pending = 0
    times: list[float] = []
    for x in log:
        if not since < x.started_at <= now:
            continue
        reply = x.replied_at
        if (
            reply is not None
            and reply <= now
            and reply - x.started_at <= p.badge_answer_within_seconds
        ):
            judged += 1
            responded += 1
            times.append(max(0.0, reply - x.started_at))
        elif (reply is None or reply > now) and now - x.started_at < p.badge_answer_within_seconds:
            pending += 1
        else:
            judged += 1
    rate = responded / judged if judged else None
    time = _statistic(times, p.badge_time_statistic) if times else None
    return BadgeReport(
        since=to_datetime(since),
        until=to_datetime(now),
        conversations=judged,
        responded=responded,
        pending=pending,
        response_rate=rate,
        response_time=time,
        very_responsive=(
            rate is not None
            and time is not None
            and rate >= p.badge_rate_min
            and time < p.badge_time_max_seconds
        ),
    )
