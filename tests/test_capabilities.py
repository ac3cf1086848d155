"""Capability tables: every unified content type is native, a declared fallback, or refused.

The engine refuses a type the table does not name ``native`` or ``fallback`` before anything
else (``send`` raises, ``check`` reports, no request is made); a fallback is converted by the
adapter and then checked and sent like what it became.
"""

from __future__ import annotations

import typing

import pytest

from omnimsg import (
    Address,
    Button,
    Buttons,
    Card,
    Cards,
    ConfigurationError,
    LinkButton,
    PolicyViolation,
    QuickReplies,
    Text,
)
from omnimsg.models.content import Content
from omnimsg.platforms import BUILTIN
from omnimsg.testing import SimHarness

ADA = "15551230001"
CONTENT_TYPES = sorted(t.__name__ for t in typing.get_args(Content))


@pytest.mark.parametrize("platform", sorted(BUILTIN))
def test_every_table_names_every_content_type(platform: str) -> None:
    table = BUILTIN[platform].capabilities
    assert sorted(table) == CONTENT_TYPES
    assert set(table.values()) <= {"native", "fallback", "refused"}


def test_quick_replies_become_reply_buttons_then_a_list_on_whatsapp(
    omnimsg_sim: SimHarness,
) -> None:
    h = omnimsg_sim
    event = h.customer_says(ADA, "hi")
    h.client.send(event.sender, QuickReplies("How was it?", ["Great", "Bad"]))
    five = QuickReplies("Which size?", ["XS", "S", "M", "L", "XL"])
    h.client.send(event.sender, five)
    buttons, listed = (entry["raw"]["interactive"] for entry in h.outbox(user=ADA))
    assert buttons["type"] == "button"
    assert [b["reply"]["title"] for b in buttons["action"]["buttons"]] == ["Great", "Bad"]
    assert listed["type"] == "list"
    rows = listed["action"]["sections"][0]["rows"]
    assert [r["id"] for r in rows] == ["XS", "S", "M", "L", "XL"]
    # Eleven replies become a list of eleven rows: the list's own limit (10) refuses it.
    eleven = QuickReplies("Pick a number", [str(i) for i in range(11)])
    rules = [v.rule_id for v in h.client.check(event.sender, eleven)]
    assert rules == ["whatsapp.limits.list"]


def test_a_refused_type_is_refused_before_any_request(omnimsg_sim: SimHarness) -> None:
    h = omnimsg_sim
    event = h.customer_says(ADA, "hi")
    cards = Cards(
        [Card(title="Red shoes", buttons=[Button("buy", "Buy"), LinkButton("More", "https://e.x")])]
    )
    (violation,) = h.client.check(event.sender, cards)
    assert violation.rule_id == "whatsapp.capability" and "Cards" in violation.message
    with pytest.raises(PolicyViolation) as refused:
        h.client.send(event.sender, cards)
    assert refused.value.violation.rule_id == "whatsapp.capability"
    assert h.outbox(user=ADA) == []


def test_whatsapp_has_no_message_tags(omnimsg_sim: SimHarness) -> None:
    to = Address("whatsapp", ADA)
    with pytest.raises(ConfigurationError, match="no message tags"):
        omnimsg_sim.client.send(to, Text("hi"), tag="HUMAN_AGENT")
    with pytest.raises(ConfigurationError, match="no message tags"):
        omnimsg_sim.client.check(to, Text("hi"), tag="HUMAN_AGENT")


@pytest.mark.parametrize("platform", ["messenger", "line", "wechat"])
def test_the_docs_show_the_capability_table_of_the_code(platform: str) -> None:
    """docs/platforms/<platform>.md's table names every content type with its capability."""
    import re
    from pathlib import Path

    page = Path(__file__).resolve().parents[1] / "docs" / "platforms" / f"{platform}.md"
    shown: dict[str, str] = {}
    for row in re.findall(
        r"^\| (`[A-Z].*?) \| (native|fallback|refused) \|", page.read_text(), re.M
    ):
        for name in re.findall(r"`(\w+)`", row[0]):
            shown[name] = row[1]
    assert shown == dict(BUILTIN[platform].capabilities)


@pytest.mark.parametrize(
    ("content", "where"),
    [
        (Text("a\ud800b"), "Text.body"),
        (QuickReplies("Which one?", ["ok", "x\udfff"]), "QuickReplies.replies[1].id"),
        (Buttons("Pick \ud83d one", ["ok"]), "Buttons.body"),
    ],
)
def test_a_lone_surrogate_is_refused_before_any_request(
    omnimsg_sim: SimHarness, content: Content, where: str
) -> None:
    """No UTF-8 or UTF-16 form exists for it: a typed refusal, not a UnicodeEncodeError from
    the JSON encoder (DESIGN §6), the same on every platform (the engine's first gate)."""
    h = omnimsg_sim
    event = h.customer_says(ADA, "hi")
    (violation,) = h.client.check(event.sender, content)
    assert violation.rule_id == "content.unicode" and where in violation.message
    with pytest.raises(PolicyViolation, match="lone surrogate"):
        h.client.send(event.sender, content)
    assert h.outbox(user=ADA) == []
