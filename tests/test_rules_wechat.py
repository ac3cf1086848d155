"""WeChat rules as pure functions (spec/wechat.md §5.1, §5.2, §7, §9, §10; research §5):
the windows' boundaries and counts, the window a send counts in, unfollows, news, tags,
batches, QR scenes, the menu, daily quotas, dated profiles."""

from __future__ import annotations

from datetime import date

import attrs
import pytest

from omnimsg.rules import wechat as rules

P = rules.latest()
T = 1_780_000_000.0
H = 3600.0


def state(now: float, **kw: object) -> rules.WindowState:
    kw.setdefault("message_at", None)
    kw.setdefault("event_at", None)
    return rules.window_state(P, now, **kw)  # type: ignore[arg-type]


def test_the_profile_is_dated_and_its_numbers_are_fields() -> None:
    assert P.platform == "wechat" and P.effective == date(2023, 6, 12)
    assert rules.profile("2023-06") is P
    assert (P.message_window.messages, P.message_window.seconds) == (5, 48 * H)
    assert (P.event_window.messages, P.event_window.seconds) == (3, 60.0)
    with pytest.raises(KeyError, match="known"):
        rules.profile("2021-06")
    old = attrs.evolve(
        P, message_window=rules.WindowRule(kind="message", messages=20, seconds=48 * H)
    )
    assert state(T, message_at=T, message_sent=4).open
    assert not state(T, message_at=T, message_sent=5).open  # the old 20 / 48 h is not used
    assert rules.window_state(old, T, message_at=T, event_at=None, message_sent=19).open


def test_the_48_hour_boundary() -> None:
    assert state(T + 48 * H - 1, message_at=T).open
    closed = state(T + 48 * H, message_at=T)
    assert closed.refusal is not None and closed.refusal.native_code == 45015
    assert closed.closes_at == T + 48 * H and closed.refusal.http_status == 200
    assert closed.refusal.title == "response out of time limit or subscription is canceled"


def test_the_count_boundary_and_the_closing_time() -> None:
    s = state(T + 10, message_at=T, message_sent=4)
    assert s.open and s.kind == "message" and s.opened == T and s.closes_at == T + 48 * H
    used = state(T + 10, message_at=T, message_sent=5)
    assert used.refusal is not None and used.refusal.native_code == 45047
    assert used.refusal.rule_id == "wechat.window.count"


def test_the_event_window() -> None:
    assert state(T + 59, event_at=T, event_sent=2).kind == "event"
    assert state(T + 59, event_at=T, event_sent=3).refusal.native_code == 45047  # type: ignore[union-attr]
    assert state(T + 60, event_at=T).refusal.native_code == 45015  # type: ignore[union-attr]


def test_a_send_counts_in_the_window_that_closes_first() -> None:
    both = state(T + 10, message_at=T - H, event_at=T)
    assert (both.kind, both.opened) == ("event", T)
    assert both.closes_at == T - H + 48 * H  # sending ends with the longer window
    spent = state(T + 10, message_at=T - H, event_at=T, event_sent=3)
    assert (spent.kind, spent.opened) == ("message", T - H)
    expired = state(T + 120, message_at=T - H, event_at=T)
    assert expired.kind == "message"
    assert state(T + 10, message_at=T - H, event_at=T).last_interaction == T


def test_a_customer_who_never_wrote() -> None:
    s = state(T)
    assert s.refusal is not None and s.refusal.native_code == 45015
    assert s.closes_at is None and "never wrote" in s.refusal.message


@pytest.mark.parametrize(
    ("follow", "unfollow", "refused"),
    [
        (None, None, False),
        (T - 100, None, False),
        (T - 100, T - 10, True),  # unfollowed after the follow
        (T - 10, T - 100, False),  # followed again
        (None, T - 10, True),
    ],
)
def test_unfollowed_is_43004(follow: float | None, unfollow: float | None, refused: bool) -> None:
    s = state(T, message_at=T - 50, follow_at=follow, unfollow_at=unfollow)
    assert (s.refusal is not None and s.refusal.native_code == 43004) == refused


def test_news_has_one_article() -> None:
    assert rules.check_news(1, P) == []
    assert [v.native_code for v in rules.check_news(2, P)] == [45008]
    assert [v.native_code for v in rules.check_news(0, P)] == [44003]  # empty news data


def test_tags() -> None:
    assert rules.check_tag_name("x" * 30, P) == []
    assert [v.native_code for v in rules.check_tag_name("x" * 31, P)] == [45158]
    assert [v.native_code for v in rules.check_tag_name("标" * 11, P)] == [45158]
    assert [v.native_code for v in rules.check_tag_name(" ", P)] == [45157]
    assert [v.native_code for v in rules.check_tag_create("a", 100, P)] == [45056]
    assert rules.check_tag_create("a", 99, P) == []
    for reserved in (0, 1, 2):
        assert [v.native_code for v in rules.check_tag_id(reserved, P)] == [45058]
    assert rules.check_tag_id(100, P) == []
    assert [v.native_code for v in rules.check_tag_batch(100, ["o"] * 51, P)] == [40032]
    assert rules.check_tag_batch(100, ["o"] * 50, P) == []
    assert [v.native_code for v in rules.check_users_batch(["o"] * 101, P)] == [40032]
    assert rules.check_users_batch(["o"] * 100, P) == []


@pytest.mark.parametrize(
    ("scene", "expire", "ok"),
    [
        (1, None, True),
        (100_000, None, True),
        (100_001, None, False),
        (0, None, False),
        (0, 60, False),
        (2**32 - 1, 60, True),
        (2**32, 60, False),
        ("a" * 64, None, True),
        ("a" * 65, None, False),
        ("", 60, False),
        (5, 2_592_000, True),
        (5, 2_592_001, True),  # WeChat caps it at 30 days (§10.1, as the simulator)
        (5, 0, False),
        (True, None, False),
    ],
)
def test_qr_scenes(scene: int | str, expire: int | None, ok: bool) -> None:
    assert (rules.check_qr(scene, expire, P) == []) == ok


def test_the_menu() -> None:
    click = {"type": "click", "name": "FAQ", "key": "faq"}
    assert rules.check_menu([click], P) == []
    assert [v.native_code for v in rules.check_menu([click] * 4, P)] == [40016]
    subs = {"name": "More", "sub_button": [click] * 5}
    assert rules.check_menu([subs], P) == []
    assert [
        v.native_code for v in rules.check_menu([{"name": "M", "sub_button": [click] * 6}], P)
    ] == [40023]  # invalid sub button size (the global table, as the simulator)
    assert [v.native_code for v in rules.check_menu([{**click, "name": "x" * 17}], P)] == [40018]
    sub_ok = {"name": "M", "sub_button": [{**click, "name": "x" * 60}]}
    assert rules.check_menu([sub_ok], P) == []
    sub_long = {"name": "M", "sub_button": [{**click, "name": "x" * 61}]}
    assert [v.native_code for v in rules.check_menu([sub_long], P)] == [40025]
    assert [v.native_code for v in rules.check_menu([{**click, "key": "k" * 129}], P)] == [40019]
    assert [v.native_code for v in rules.check_menu([{"type": "view", "name": "W"}], P)] == [40020]
    assert [v.native_code for v in rules.check_menu([{"type": "nope", "name": "W"}], P)] == [40017]


def test_daily_quotas_are_data() -> None:
    assert P.daily_quotas["token"] == 2_000 and P.daily_quotas["custom_send"] == 500_000
    assert rules.check_daily_quota("token", 1_999, P) == []
    assert [v.native_code for v in rules.check_daily_quota("token", 2_000, P)] == [45009]
    assert rules.check_daily_quota("unknown", 10**9, P) == []
