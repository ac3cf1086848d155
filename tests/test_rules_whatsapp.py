"""WhatsApp rules, pure and table-driven, with explicit `now` (spec/whatsapp.md §4.2, §5, §6, §7)."""

from __future__ import annotations

from datetime import date

import attrs
import pytest

from omnimsg import (
    Button,
    Buttons,
    ConfigurationError,
    Contacts,
    Image,
    ListMenu,
    ListRow,
    ListSection,
    Raw,
    Reaction,
    Template,
    TemplateHeader,
    Text,
    UrlButton,
)
from omnimsg.rules import whatsapp as wa

P = wa.latest()
NOW = 1_772_442_000.0
HOUR = 3600.0
APPROVED = wa.template_spec(
    name="order_update",
    language="en_US",
    status="APPROVED",
    category="UTILITY",
    components=[{"type": "BODY", "text": "Hi {{1}}, order {{2}} is {{3}}."}],
)


def codes(content: object, **state: object) -> list[object]:
    s = wa.SendState(now=NOW, **state)  # type: ignore[arg-type]
    return [v.native_code for v in wa.check_send(content, s, P)]  # type: ignore[arg-type]


def test_window_open_for_24_hours_after_the_customer_wrote() -> None:
    assert codes(Text("hi"), last_inbound_at=NOW - 23.99 * HOUR) == []
    assert codes(Text("hi"), last_inbound_at=NOW - 24 * HOUR) == [131047]
    assert codes(Text("hi")) == [131047]  # never wrote


def test_window_violation_says_when_it_closed() -> None:
    (v,) = wa.check_send(Text("hi"), wa.SendState(now=NOW, last_inbound_at=NOW - 30 * HOUR), P)
    assert v.rule_id == "whatsapp.window.customer_service"
    assert v.closed_at is not None and v.closed_at.timestamp() == NOW - 6 * HOUR
    assert "closed at" in v.message


def test_templates_are_allowed_outside_the_window_only_when_approved() -> None:
    t = Template("order_update", params=["Ada", "A1", "shipped"])
    assert codes(t, template=APPROVED, templates_known=True) == []
    for status, code in [
        ("PAUSED", 132015),
        ("DISABLED", 132016),
        ("PENDING", 132001),
        ("REJECTED", 132001),
    ]:
        assert codes(t, template=attrs.evolve(APPROVED, status=status), templates_known=True) == [
            code
        ]


def test_unknown_template_passes_unless_the_list_is_known() -> None:
    t = Template("nope", params=[])
    assert codes(t) == []
    assert codes(t, templates_known=True) == [132001]


def test_template_parameter_count_and_format() -> None:
    assert codes(Template("order_update", params=["Ada"]), template=APPROVED) == [132000]
    assert codes(
        Template("order_update", params=["Ada", "A1", "two\nlines"]), template=APPROVED
    ) == [132008]
    assert codes(Template("order_update", params=["Ada", "", "x"]), template=APPROVED) == [132008]
    assert codes(
        Template("order_update", params={"a": "1", "b": "2", "c": "3"}), template=APPROVED
    ) == [132000]


def test_named_templates_need_parameter_names() -> None:
    named = wa.template_spec(
        name="follow_up",
        language="en_US",
        status="APPROVED",
        category="UTILITY",
        components=[{"type": "BODY", "text": "Hello {{customer}}"}],
        parameter_format="NAMED",
    )
    assert named.body_params == ("customer",)
    assert codes(Template("follow_up", params={"customer": "Ada"}), template=named) == []
    assert codes(Template("follow_up", params=["Ada"]), template=named) == [100]
    assert codes(Template("follow_up", params={"client": "Ada"}), template=named) == [132000]


def test_media_header_must_match_the_template_header_format() -> None:
    spec = attrs.evolve(APPROVED, header_format="IMAGE")
    params = ["Ada", "A1", "x"]
    assert codes(Template("order_update", params=params), template=spec) == [132012]
    header = TemplateHeader(kind="image", media=Image(url="https://example.com/a.jpg"))
    assert codes(Template("order_update", params=params, header=header), template=spec) == []
    text = TemplateHeader(kind="text", text="hi")
    assert codes(Template("order_update", params=params, header=text), template=APPROVED) == [
        132012
    ]


@pytest.mark.parametrize(
    ("content", "ok"),
    [
        (Text("x" * 4096), True),
        (Text("x" * 4097), False),
        (Text(""), False),
        (Buttons("pick", ["a", "b", "c"]), True),
        (Buttons("pick", ["a", "b", "c", "d"]), False),
        (Buttons("pick", [Button("1", "x" * 21)]), False),
        (Buttons("pick", [Button("1", "a"), Button("1", "b")]), False),
        (Buttons("x" * 1025, ["a"]), False),
        (Buttons("pick", ["a"], header="h" * 61), False),
        (
            ListMenu(
                body="b",
                button="Menu",
                sections=[ListSection(rows=[ListRow(id=str(i), title="t") for i in range(10)])],
            ),
            True,
        ),
        (
            ListMenu(
                body="b",
                button="Menu",
                sections=[ListSection(rows=[ListRow(id=str(i), title="t") for i in range(11)])],
            ),
            False,
        ),
        (
            ListMenu(
                body="b",
                button="Menu",
                sections=[ListSection(rows=[ListRow(id="1", title="t" * 25)])],
            ),
            False,
        ),
        (
            ListMenu(
                body="b",
                button="Menu",
                sections=[ListSection(rows=[ListRow(id="1", title="t", description="d" * 73)])],
            ),
            False,
        ),
        (
            ListMenu(
                body="b",
                button="Menu",
                sections=[
                    ListSection(rows=[ListRow(id="1", title="t")]),
                    ListSection(rows=[ListRow(id="2", title="t")]),
                ],
            ),
            False,
        ),
        (UrlButton(body="b", text="x" * 21, url="https://e.com"), False),
        (Contacts([]), False),
        (Image(url="https://e.com/a.jpg", caption="c" * 1025), False),
    ],
)
def test_content_limits(content: object, ok: bool) -> None:
    found = codes(content, last_inbound_at=NOW)
    assert (found == []) is ok, found
    if not ok:
        assert set(found) == {P.limit_error_code}


def test_raw_template_passes_the_window_but_raw_text_does_not() -> None:
    assert codes(Raw({"type": "template", "template": {"name": "x"}})) == []
    assert codes(Raw({"type": "text", "text": {"body": "x"}})) == [131047]
    assert codes(Reaction(message_id="wamid.1", emoji="👍")) == [131047]


def test_pair_rate_limit_allows_a_burst_then_refills_one_per_six_seconds() -> None:
    bucket = None
    state = {"last_inbound_at": NOW}
    for _ in range(P.pair_burst):
        assert codes(Text("x"), pair=bucket, **state) == []
        bucket = wa.consume_pair(bucket, NOW, P)
    (v,) = wa.check_send(Text("x"), wa.SendState(now=NOW, pair=bucket, **state), P)  # type: ignore[arg-type]
    assert (v.native_code, v.http_status, v.rule_id) == (131056, 429, "whatsapp.rate.pair")
    assert v.retry_after == pytest.approx(6.0)
    later = wa.SendState(now=NOW + 6.0, pair=bucket, **state)  # type: ignore[arg-type]
    assert wa.check_send(Text("x"), later, P) == ()


def test_tier_limits_unique_business_initiated_customers() -> None:
    t = Template("order_update", params=["a", "b", "c"])
    base = {"template": APPROVED}
    assert codes(t, tier_used=249, **base) == []
    assert codes(t, tier_used=250, **base) == [P.tier_error_code]
    assert codes(t, tier_used=250, tier_counted=True, **base) == []  # already reached today
    assert (
        codes(t, tier_used=250, last_inbound_at=NOW, **base) == []
    )  # inside the window: not business-initiated
    unlimited = attrs.evolve(P, tier_limit=None)
    assert (
        wa.check_send(t, wa.SendState(now=NOW, tier_used=10**6, template=APPROVED), unlimited) == ()
    )


def test_template_definitions() -> None:
    good = [{"type": "BODY", "text": "Hi {{1}}", "example": {"body_text": [["Ada"]]}}]
    assert (
        wa.check_template_definition(
            name="ok_name", language="en_US", category="UTILITY", components=good, policy=P
        )
        == ()
    )
    bad = wa.check_template_definition(
        name="Bad Name", language="", category="SPAM", components=[], policy=P
    )
    assert len(bad) >= 4 and {v.native_code for v in bad} == {100}
    mixed = [
        {"type": "BODY", "text": "x"},
        {
            "type": "BUTTONS",
            "buttons": [{"type": "QUICK_REPLY"}, {"type": "URL"}, {"type": "QUICK_REPLY"}],
        },
    ]
    assert wa.check_template_definition(
        name="n", language="en", category="MARKETING", components=mixed, policy=P
    )


def test_profiles_are_dated_and_selectable() -> None:
    assert wa.profile("whatsapp-2025-10-07") is wa.latest()
    assert wa.profile(date(2026, 1, 1)).effective == date(2025, 10, 7)
    with pytest.raises(ConfigurationError):
        wa.profile(date(2020, 1, 1))
    with pytest.raises(ConfigurationError):
        wa.profile("nope")


@pytest.mark.parametrize(
    ("components", "parameter_format", "ok"),
    [
        ([{"type": "BODY", "text": "No parameters"}], None, True),
        ([{"type": "BODY", "text": "Hi {{1}}"}], None, False),
        (
            [{"type": "BODY", "text": "Hi {{1}} {{2}}", "example": {"body_text": [["Ada"]]}}],
            None,
            False,
        ),
        (
            [{"type": "BODY", "text": "Hi {{1}} {{2}}", "example": {"body_text": [["Ada", "x"]]}}],
            None,
            True,
        ),
        ([{"type": "BODY", "text": "Hi {{1}}", "example": {"body_text": ["Ada"]}}], None, False),
        (
            [
                {"type": "HEADER", "format": "TEXT", "text": "Order {{1}}"},
                {"type": "BODY", "text": "Hi", "example": {}},
            ],
            None,
            False,
        ),
        (
            [
                {
                    "type": "HEADER",
                    "format": "TEXT",
                    "text": "Order {{1}}",
                    "example": {"header_text": ["A-1"]},
                },
                {"type": "BODY", "text": "Hi"},
            ],
            None,
            True,
        ),
        ([{"type": "BODY", "text": "Hi {{customer}}"}], "NAMED", False),
        (
            [
                {
                    "type": "BODY",
                    "text": "Hi {{customer}}",
                    "example": {
                        "body_text_named_params": [{"param_name": "customer", "example": "Ada"}]
                    },
                }
            ],
            "NAMED",
            True,
        ),
        (
            [
                {
                    "type": "BODY",
                    "text": "Hi {{customer}} from {{agent}}",
                    "example": {
                        "body_text_named_params": [{"param_name": "customer", "example": "Ada"}]
                    },
                }
            ],
            "NAMED",
            False,
        ),
    ],
)
def test_parameters_need_example_values(
    components: list[dict[str, object]], parameter_format: str | None, ok: bool
) -> None:
    """Graph refuses a template whose parameters have no sample values (spec §6.3)."""
    found = wa.check_template_definition(
        name="t",
        language="en_US",
        category="UTILITY",
        components=components,
        parameter_format=parameter_format,
        policy=P,
    )
    assert (found == ()) is ok, found
    assert all(v.native_code == 100 for v in found)
