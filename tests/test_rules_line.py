"""LINE's rules as pure functions: dated plan profiles, quotas, limits (omnimsg.rules.line)."""

from __future__ import annotations

from datetime import date

import attrs
import pytest

from omnimsg import ConfigurationError
from omnimsg.rules import line as rules

NOW = 1_780_000_000.0


def test_profiles_are_dated_per_country() -> None:
    jp = rules.profile("line-jp-2023-06-01")
    assert jp.effective == date(2023, 6, 1) and jp.country == "JP"
    assert [(p.name, p.free_messages, p.extra_allowed) for p in jp.plans] == [
        ("communication", 200, False),
        ("light", 5_000, False),
        ("standard", 30_000, True),
    ]
    tw = rules.profile("line-tw-2023-09-01")
    assert [(p.name, p.free_messages, p.extra_allowed) for p in tw.plans] == [
        ("light", 200, False),
        ("medium", 3_000, False),
        ("high", 6_000, True),
    ]
    th = rules.latest("TH")
    assert [p.free_messages for p in th.plans] == [300, 15_000, 35_000]
    assert rules.latest() == jp and jp.plan.name == "communication"
    with pytest.raises(ConfigurationError):
        rules.profile("line-xx")
    with pytest.raises(ConfigurationError):
        jp.with_plan("gold")


def test_quota_free_plans_cannot_go_over_paid_plans_count_extras() -> None:
    free = rules.latest()
    assert rules.check_quota(199, 1, free) is None
    v = rules.check_quota(200, 1, free)
    assert v is not None and v.rule_id == "line.quota.monthly" and v.http_status == 429
    assert rules.check_quota(150, 51, free) is not None  # counted per recipient
    light = free.with_plan("light")
    assert rules.check_quota(4_999, 1, light) is None and rules.check_quota(5_000, 1, light)
    standard = free.with_plan("standard")
    assert rules.check_quota(1_000_000, 500, standard) is None
    assert rules.extra_messages(29_990, 20, standard) == 10
    capped = attrs.evolve(standard, plan=attrs.evolve(standard.plan, extra_limit=100))
    assert rules.quota_limit(capped) == 30_100
    assert rules.check_quota(30_100, 1, capped) is not None
    # Unknown reach (group push, broadcast): refused only once the month is used up.
    assert rules.check_quota(199, 0, free, unknown_reach=True) is None
    assert rules.check_quota(200, 0, free, unknown_reach=True) is not None


def test_quota_month_is_in_utc_plus_9_for_every_country() -> None:
    # 2026-05-31 15:30 UTC is 2026-06-01 00:30 in Japan (23:30 in Taiwan): the API's
    # calendar is UTC+9 (spec §3), as the simulator's; the offset stays a policy field.
    t = 1_780_241_400.0
    assert rules.quota_month(t - 3600, rules.latest("JP")) == "2026-05"
    assert rules.quota_month(t, rules.latest("JP")) == "2026-06"
    assert rules.quota_month(t, rules.latest("TW")) == "2026-06"
    assert rules.quota_month(t, rules.latest("TH")) == "2026-06"
    local = attrs.evolve(rules.latest("TW"), utc_offset_hours=8.0)
    assert rules.quota_month(t, local) == "2026-05"


def test_utf16_length() -> None:
    assert rules.utf16_length("abc") == 3
    assert rules.utf16_length("😀") == 2
    assert rules.utf16_length("\r\n") == 2
    assert rules.utf16_length("é") == 1


def test_message_limits() -> None:
    p = rules.latest()
    text = {"type": "text", "text": "hi"}
    assert rules.check_messages([text] * 5, p) == []
    (v,) = rules.check_messages([text] * 6, p)
    assert v.rule_id == "line.limits.messages" and "messages" in (v.details or "")
    assert rules.check_messages([], p)[0].rule_id == "line.limits.messages"
    long = {"type": "text", "text": "😀" * 2501}
    assert [v.rule_id for v in rules.check_messages([long], p)] == ["line.limits.text"]
    items = [{"type": "action", "action": {"type": "message", "label": "x", "text": "x"}}] * 14
    qr = {"type": "text", "text": "q", "quickReply": {"items": items}}
    assert [v.rule_id for v in rules.check_messages([qr], p)] == ["line.limits.quick_reply"]
    template = {
        "type": "template",
        "altText": "a" * 401,
        "template": {
            "type": "buttons",
            "text": "t",
            "actions": [{"type": "postback", "label": "l", "data": "d" * 301}],
        },
    }
    found = [v.rule_id for v in rules.check_messages([template], p)]
    assert found == ["line.limits.alt_text", "line.limits.postback_data"]
    carousel = {
        "type": "template",
        "altText": "c",
        "template": {
            "type": "carousel",
            "columns": [
                {"text": "a", "actions": [{"type": "uri", "label": "u", "uri": "https://e.x"}]},
                {"text": "b", "actions": []},
            ],
        },
    }
    assert "line.limits.carousel" in [v.rule_id for v in rules.check_messages([carousel], p)]
    assert rules.check_messages([{"type": "flex", "altText": "f", "contents": {}}], p)


def test_multicast_follow_and_loading() -> None:
    p = rules.latest()
    users = ["U" + f"{i:032x}" for i in range(500)]
    assert rules.check_multicast(users, p) == []
    assert [v.rule_id for v in rules.check_multicast([*users, users[0]], p)] == [
        "line.limits.multicast"
    ]
    assert rules.check_multicast(["C" + "0" * 32], p)[0].rule_id == "line.limits.multicast_users"
    assert rules.check_follow(b"friend") is None and rules.check_follow(None) is None
    blocked = rules.check_follow(b"blocked")
    assert blocked is not None and blocked.http_status == 200
    user = "U" + "0" * 32
    assert rules.check_loading_seconds(user, 60, p) == []
    assert [v.rule_id for v in rules.check_loading_seconds(user, 12, p)] == ["line.loading.seconds"]
    assert rules.check_loading_seconds("C" + "0" * 32, 5, p)[0].rule_id == "line.loading.chat"


def test_rate_limits_are_data() -> None:
    p = rules.latest()
    assert p.rate_limit("push").requests == 2000
    assert p.rate_limit("broadcast").per_seconds == 3600.0
    assert p.rate_limit("multicast").requests == 200
    assert p.rate_limit("loading").requests == 100
    assert p.rate_limit("nothing-known") == p.rate_limit("other")
