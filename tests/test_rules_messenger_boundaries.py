"""Every Messenger rule at its edge, with the platform's numbers written out (spec/messenger.md).

As for WhatsApp (tests/test_rules_whatsapp_boundaries.py): each limit is tried at the
platform's number (allowed) and one past it (refused), the numbers taken from the spec's facts
rather than from the policy object, so that a wrong number in the policy fails here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import attrs
import pytest

from omnimsg import (
    Audio,
    Button,
    Buttons,
    Card,
    Cards,
    ConfigurationError,
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
from omnimsg.rules import messenger as fb

P = fb.latest()
OLD = fb.profile("messenger-2020-03-04")
NOW = 1_780_000_000.0  # 2026-05-28, after the tag retirement
DAY = 86_400.0
HOUR = 3_600.0
FEEDBACK = Raw(
    {
        "attachment": {
            "type": "template",
            "payload": {"template_type": "customer_feedback", "title": "Rate us"},
        }
    }
)


def broken(content: object, policy: fb.MessengerPolicy = P, **state: object) -> list[str]:
    """The rule ids ``content`` breaks inside an open window (unless ``state`` says otherwise)."""
    s = fb.SendState(now=NOW, **{"last_inbound_at": NOW, **state})  # type: ignore[arg-type]
    return [v.rule_id for v in fb.check_send(content, s, policy)]  # type: ignore[arg-type]


def codes(
    content: object, policy: fb.MessengerPolicy = P, **state: object
) -> list[tuple[object, object]]:
    s = fb.SendState(now=NOW, **{"last_inbound_at": NOW, **state})  # type: ignore[arg-type]
    return [(v.native_code, v.native_subcode) for v in fb.check_send(content, s, policy)]  # type: ignore[arg-type]


def _card(**kw: object) -> Card:
    return Card(**{"title": "t", "subtitle": "s", **kw})  # type: ignore[arg-type]


# (what, build(n) -> content, the limit n): n is allowed, n + 1 is refused (§3.1, §3.2).
LIMITS: list[tuple[str, Callable[[int], object], int]] = [
    ("text, §3.2 (2000 characters)", lambda n: Text("x" * n), 2000),
    ("quick replies: count, §3.2 (13, not the old 11)", lambda n: QuickReplies("q", [f"r{i}" for i in range(n)]), 13),
    ("quick replies: title, §3.2", lambda n: QuickReplies("q", [Button("p", "t" * n)]), 20),
    ("quick replies: payload, §3.2", lambda n: QuickReplies("q", [Button("p" * n, "t")]), 1000),
    ("quick replies: text", lambda n: QuickReplies("q" * n, ["a"]), 2000),
    ("button template: text, §3.2", lambda n: Buttons("b" * n, ["a"]), 640),
    ("button template: buttons, §3.2", lambda n: Buttons("pick", [f"b{i}" for i in range(n)]), 3),
    ("button template: button title", lambda n: Buttons("pick", [Button("p", "t" * n)]), 20),
    ("button template: postback payload", lambda n: Buttons("pick", [Button("p" * n, "t")]), 1000),
    ("url button: text", lambda n: UrlButton(body="b" * n, text="Go", url="https://e.x"), 640),
    ("url button: title", lambda n: UrlButton(body="b", text="t" * n, url="https://e.x"), 20),
    ("generic: elements, §3.2", lambda n: Cards([_card() for _ in range(n)]), 10),
    ("generic: title, §3.2", lambda n: Cards([_card(title="t" * n)]), 80),
    ("generic: subtitle, §3.2", lambda n: Cards([_card(subtitle="s" * n)]), 80),
    ("generic: buttons per element, §3.2", lambda n: Cards([_card(buttons=[f"b{i}" for i in range(n)])]), 3),
    ("generic: button title", lambda n: Cards([_card(buttons=[LinkButton("t" * n, "https://e.x")])]), 20),
]  # fmt: skip


@pytest.mark.parametrize(("what", "build", "limit"), LIMITS, ids=[w for w, _, _ in LIMITS])
def test_limit_allows_the_platforms_number_and_refuses_one_more(
    what: str, build: Callable[[int], object], limit: int
) -> None:
    assert broken(build(limit)) == [], f"{what}: {limit} must be allowed"
    refused = broken(build(limit + 1))
    assert refused and all(r.startswith("messenger.limits.") for r in refused), (what, refused)


def test_too_many_and_too_few_elements_have_graphs_codes() -> None:
    """§5: 105 "too many elements", 194 "too few", 100/2018034 an empty message."""
    assert codes(QuickReplies("q", [str(i) for i in range(14)])) == [(105, None)]
    assert codes(QuickReplies("q", [])) == [(194, None)]
    assert codes(Cards([])) == [(194, None)]
    assert codes(Text("")) == [(100, 2018034)]
    assert codes(Cards([Card(title="only a title")])) == [(100, 2018035)]


@pytest.mark.parametrize(
    ("metadata", "ok"), [("m" * 999, True), ("m" * 1000, False), (None, True), ("", True)]
)
def test_metadata_is_under_1000_characters(metadata: str | None, ok: bool) -> None:
    """§3.1: ``metadata`` "must be <1000 characters"."""
    assert broken(Text("hi"), metadata=metadata) == ([] if ok else ["messenger.limits.metadata"])


def test_captions_and_sticker_ids() -> None:
    assert broken(Image(url="https://e.x/a.jpg")) == []
    assert broken(Image(url="https://e.x/a.jpg", caption="c")) == ["messenger.media.caption"]
    assert broken(Video(url="https://e.x/a.mp4", caption="c")) == ["messenger.media.caption"]
    assert broken(Document(url="https://e.x/a.pdf", caption="c")) == ["messenger.media.caption"]
    assert broken(Sticker(media_id="369239263222822")) == []
    assert broken(Sticker(media_id="like")) == ["messenger.limits.sticker"]


# --- the standard window (§4): 24 h after the customer's last message, not a second more ------


@pytest.mark.parametrize(
    ("age", "open_"),
    [
        (0.0, True),
        (23 * HOUR + 59 * 60, True),  # 23 h 59: accepted
        (DAY - 0.001, True),
        (DAY, False),  # 24 h: refused
        (25 * HOUR, False),
        (30 * DAY, False),
    ],
)
def test_window_edge(age: float, open_: bool) -> None:
    assert fb.window_open(NOW - age, NOW, P) is open_
    assert broken(Text("hi"), last_inbound_at=NOW - age) == (
        [] if open_ else ["messenger.window.standard"]
    )
    assert fb.window_closes_at(NOW - age, P) == NOW - age + DAY


def test_outside_the_window_is_10_2018278() -> None:
    """§5: "(#10) This message is sent outside of allowed window", subcode 2018278."""
    (v,) = fb.check_send(Text("hi"), fb.SendState(now=NOW, last_inbound_at=NOW - DAY), P)
    assert (v.native_code, v.native_subcode, v.http_status) == (10, 2018278, 400)
    assert v.message.startswith("(#10) This message is sent outside of allowed window")
    assert v.closed_at is not None and v.closed_at.timestamp() == NOW
    (never,) = fb.check_send(Text("hi"), fb.SendState(now=NOW), P)
    assert never.rule_id == "messenger.window.standard" and never.closed_at is None


# --- HUMAN_AGENT (§4): 7 days after the customer's last message, human-written only ----------


@pytest.mark.parametrize(
    ("days", "ok"),
    [(1, True), (6, True), (7 - 1 / 86_400, True), (7, False), (8, False), (30, False)],
)
def test_human_agent_is_7_days(days: float, ok: bool) -> None:
    got = broken(
        Text("An agent here"), last_inbound_at=NOW - days * DAY, tag="HUMAN_AGENT", human=True
    )
    assert got == ([] if ok else ["messenger.window.tag"])
    if not ok:
        assert codes(
            Text("x"), last_inbound_at=NOW - days * DAY, tag="HUMAN_AGENT", human=True
        ) == [(10, 2018278)]


def test_human_agent_refuses_a_bot_written_message() -> None:
    assert broken(Text("auto"), last_inbound_at=NOW - 2 * DAY, tag="HUMAN_AGENT", human=False) == [
        "messenger.tag.human_agent"
    ]
    # The simulator cannot see who wrote it (None): it judges only what is on the wire.
    assert broken(Text("x"), last_inbound_at=NOW - 2 * DAY, tag="HUMAN_AGENT", human=None) == []
    # Bot-written and late: both rules say so.
    assert broken(Text("x"), last_inbound_at=NOW - 8 * DAY, tag="HUMAN_AGENT", human=False) == [
        "messenger.tag.human_agent",
        "messenger.window.tag",
    ]


def test_human_agent_needs_a_customer_who_wrote() -> None:
    assert broken(Text("x"), last_inbound_at=None, tag="HUMAN_AGENT", human=True) == [
        "messenger.window.tag"
    ]


# --- CUSTOMER_FEEDBACK (§4; research §1.1): the feedback template only, 7 days ----------------


def test_customer_feedback_only_with_its_template_within_7_days() -> None:
    six, eight = NOW - 6 * DAY, NOW - 8 * DAY
    assert broken(FEEDBACK, last_inbound_at=six, tag="CUSTOMER_FEEDBACK") == []
    assert broken(Text("rate us"), last_inbound_at=six, tag="CUSTOMER_FEEDBACK") == [
        "messenger.tag.customer_feedback"
    ]
    generic = Raw({"attachment": {"type": "template", "payload": {"template_type": "generic"}}})
    assert broken(generic, last_inbound_at=six, tag="CUSTOMER_FEEDBACK") == [
        "messenger.tag.customer_feedback"
    ]
    assert broken(FEEDBACK, last_inbound_at=eight, tag="CUSTOMER_FEEDBACK") == [
        "messenger.window.tag"
    ]


# --- dated profiles (research §1.1): three tags retired on 2026-04-27 ------------------------

RETIRED = ["CONFIRMED_EVENT_UPDATE", "POST_PURCHASE_UPDATE", "ACCOUNT_UPDATE"]


@pytest.mark.parametrize("tag", RETIRED)
def test_retired_tags_are_refused_now_and_allowed_in_the_old_profile(tag: str) -> None:
    late = NOW - 20 * DAY  # long after the window: only a tag allows it
    assert codes(Text("Your order shipped"), last_inbound_at=late, tag=tag) == [(100, 1893061)]
    assert broken(Text("Your order shipped"), last_inbound_at=late, tag=tag) == [
        "messenger.tag.retired"
    ]
    assert broken(Text("Your order shipped"), OLD, last_inbound_at=late, tag=tag) == []


def test_the_subcode_is_a_field() -> None:
    """research §1.2: subcode 1893061 is seen in the field only (UNVERIFIED)."""
    quiet = attrs.evolve(P, retired_tag_subcode=None)
    assert codes(Text("x"), quiet, tag="ACCOUNT_UPDATE") == [(100, None)]


@pytest.mark.parametrize("tag", ["SHIPPING_UPDATE", "ISSUE_RESOLUTION", "PAYMENT_UPDATE"])
def test_legacy_tags_of_2020_are_refused_in_every_profile(tag: str) -> None:
    assert broken(Text("x"), tag=tag) == ["messenger.tag.retired"]
    assert broken(Text("x"), OLD, tag=tag) == ["messenger.tag.retired"]


def test_a_tag_nobody_knows_is_an_invalid_tag() -> None:
    assert broken(Text("x"), tag="HUMAN_AGNET") == ["messenger.tag.unknown"]
    assert codes(Text("x"), tag="HUMAN_AGNET") == [(100, None)]


def test_profiles_by_name_and_by_date() -> None:
    assert fb.latest().name == "messenger-2026-04-27"
    assert fb.profile(date(2026, 4, 26)).name == "messenger-2020-03-04"
    assert fb.profile(date(2026, 4, 27)).name == "messenger-2026-04-27"
    assert fb.profile("messenger-2020-03-04") is OLD
    assert "ACCOUNT_UPDATE" in OLD.tags and "ACCOUNT_UPDATE" not in P.tags
    assert P.tags == {"HUMAN_AGENT", "CUSTOMER_FEEDBACK"}
    with pytest.raises(ConfigurationError):
        fb.profile("messenger-1999")
    with pytest.raises(ConfigurationError):
        fb.profile(date(2019, 1, 1))


def test_allowed_when_closed_names_the_tags_still_open() -> None:
    assert fb.allowed_when_closed(NOW - 2 * DAY, NOW, P) == ("CUSTOMER_FEEDBACK", "HUMAN_AGENT")
    assert fb.allowed_when_closed(NOW - 8 * DAY, NOW, P) == ()
    assert fb.allowed_when_closed(NOW - 8 * DAY, NOW, OLD) == tuple(sorted(RETIRED))


# --- private replies (§3.4): one per comment, within 7 days of it ----------------------------


@pytest.mark.parametrize(
    ("age_days", "replied", "rule"),
    [
        (0, False, None),
        (6.99, False, None),
        (7, False, "messenger.private_reply.expired"),
        (1, True, "messenger.private_reply.used"),
        (None, False, None),  # the comment's time is unknown: the platform decides
    ],
)
def test_private_reply(age_days: float | None, replied: bool, rule: str | None) -> None:
    created = None if age_days is None else NOW - age_days * DAY
    got = broken(
        Text("Thanks, we'll help you here"),
        last_inbound_at=None,  # a commenter has no window: none is needed
        comment_id="c1",
        comment_created_at=created,
        comment_replied=replied,
    )
    assert got == ([] if rule is None else [rule])


# --- rates (§6): 300 calls/s per Page, 10/s for audio and video ------------------------------


@pytest.mark.parametrize(
    ("content", "per_second"),
    [(Text("x"), 300), (Audio(url="https://e.x/a.mp3"), 10), (Video(url="https://e.x/a.mp4"), 10)],
)
def test_send_rates(content: object, per_second: int) -> None:
    kind = fb.rate_kind(content)  # type: ignore[arg-type]
    bucket = None
    field = "media_bucket" if kind == "media" else "text_bucket"
    for i in range(per_second):
        assert broken(content, **{field: bucket}) == [], f"call {i + 1} of a second"
        bucket = fb.consume(bucket, NOW, kind, P)
    (v,) = fb.check_send(content, fb.SendState(now=NOW, last_inbound_at=NOW, **{field: bucket}), P)  # type: ignore[arg-type]
    assert v.rule_id == f"messenger.rate.{kind}" and v.native_code == 613
    assert v.retry_after == pytest.approx(1 / per_second)
    later = fb.SendState(now=NOW + 1 / per_second, last_inbound_at=NOW, **{field: bucket})  # type: ignore[arg-type]
    assert fb.check_send(content, later, P) == ()  # type: ignore[arg-type]


def test_audio_does_not_spend_the_text_budget() -> None:
    bucket = None
    for _ in range(10):
        bucket = fb.consume(bucket, NOW, "media", P)
    assert broken(Text("x"), media_bucket=bucket) == []


# --- the Messenger Profile (research §5.1) ---------------------------------------------------


def test_profile_limits() -> None:
    def rules_of(**kw: object) -> list[str]:
        return [v.message for v in fb.check_profile(policy=P, **kw)]  # type: ignore[arg-type]

    assert rules_of(greeting=[("default", "g" * 160)]) == []
    assert rules_of(greeting=[("default", "g" * 161)])
    assert rules_of(greeting=[("en_US", "Hi")])  # a default locale is required
    assert rules_of(persistent_menu=[Button(str(i), "t") for i in range(20)]) == []
    assert rules_of(persistent_menu=[Button(str(i), "t") for i in range(21)])
    assert rules_of(ice_breakers=[Button(str(i), "q?") for i in range(4)]) == []
    assert rules_of(ice_breakers=[Button(str(i), "q?") for i in range(5)])


# --- the "Very responsive" badge (§7): 90 % and under 15 minutes, over 7 days ----------------


def _log(times: list[float | None], start: float = NOW - 2 * DAY) -> list[fb.Exchange]:
    """One conversation per entry, an hour apart: ``None`` unanswered, else the minutes."""
    return [
        fb.Exchange(
            user=f"u{i}",
            started_at=start + i * 60,
            replied_at=None if m is None else start + i * 60 + m * 60,
        )
        for i, m in enumerate(times)
    ]


@pytest.mark.parametrize(
    ("minutes", "rate", "meets"),
    [
        ([5.0] * 10, 1.0, True),
        ([5.0] * 9 + [None], 0.9, True),  # 90 %: enough
        ([5.0] * 8 + [None] * 2, 0.8, False),
        ([14.9] * 10, 1.0, True),
        ([15.0] * 10, 1.0, False),  # 15 minutes is not under 15 minutes
        ([1.0] * 6 + [60.0] * 4, 1.0, True),  # the median is 1 minute
        ([1.0] * 4 + [60.0] * 6, 1.0, False),
    ],
)
def test_badge_rule(minutes: list[float | None], rate: float, meets: bool) -> None:
    report = fb.badge(_log(minutes), NOW, P)
    assert report.response_rate == pytest.approx(rate)
    assert report.very_responsive is meets
    assert report.conversations == len(minutes)


def test_badge_counts_only_the_last_7_days_and_waits_for_fresh_conversations() -> None:
    old = _log([None] * 5, start=NOW - 8 * DAY)  # unanswered, but outside the 7 days
    fresh = [fb.Exchange(user="new", started_at=NOW - 60)]  # not judged yet
    report = fb.badge(old + _log([2.0] * 3) + fresh, NOW, P)
    assert (report.conversations, report.responded, report.pending) == (3, 3, 1)
    assert report.response_time == pytest.approx(120.0)
    assert report.very_responsive
    empty = fb.badge([], NOW, P)
    assert empty.response_rate is None and not empty.very_responsive


def test_badge_statistic_is_a_field() -> None:
    log = _log([1.0] * 6 + [60.0] * 4)
    assert fb.badge(log, NOW, attrs.evolve(P, badge_time_statistic="median")).very_responsive
    mean = fb.badge(log, NOW, attrs.evolve(P, badge_time_statistic="mean"))
    assert mean.response_time == pytest.approx((6 * 60 + 4 * 3600) / 10)
    assert not mean.very_responsive


def test_a_new_conversation_starts_only_after_the_gap() -> None:
    assert fb.starts_conversation(None, None, NOW, P)
    assert not fb.starts_conversation(NOW - 60, NOW - 60, NOW, P)  # awaiting a reply
    assert not fb.starts_conversation(None, NOW - HOUR, NOW, P)  # answered, same conversation
    assert fb.starts_conversation(None, NOW - DAY, NOW, P)
