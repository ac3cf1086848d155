"""Every WhatsApp rule at its edge, with the platform's numbers written out (spec/whatsapp.md).

The shared rule code cannot prove itself right: the contract test shows the SDK and the
simulator agree, not that they agree with WhatsApp. Here each limit is tried at the platform's
number (allowed) and one past it (refused), with the numbers taken from the spec's facts
rather than from the policy object, so that a wrong number in the policy fails.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from omnimsg import (
    Button,
    Buttons,
    Contact,
    ContactName,
    Contacts,
    Document,
    Image,
    ListMenu,
    ListRow,
    ListSection,
    Template,
    TemplateHeader,
    Text,
    UrlButton,
    Video,
)
from omnimsg.rules import whatsapp as wa

P = wa.latest()
NOW = 1_772_442_000.0
DAY = 86_400.0


def rules_broken(content: object, **state: object) -> list[str]:
    """The rule ids ``content`` breaks inside an open window (unless ``state`` says otherwise)."""
    s = wa.SendState(now=NOW, **{"last_inbound_at": NOW, **state})  # type: ignore[arg-type]
    return [v.rule_id for v in wa.check_send(content, s, P)]  # type: ignore[arg-type]


def _list(rows: int = 1, **kw: object) -> ListMenu:
    row = {"title": "t", **{k[4:]: v for k, v in kw.items() if k.startswith("row_")}}
    sections = kw.get("sections")
    if sections is None:
        sections = [ListSection(rows=[ListRow(id=f"r{i}", **row) for i in range(rows)])]  # type: ignore[arg-type]
    return ListMenu(body="b", button=str(kw.get("button", "Menu")), sections=sections)  # type: ignore[arg-type]


def _contacts(n: int) -> Contacts:
    return Contacts([Contact(name=ContactName(formatted_name=f"c{i}")) for i in range(n)])


# (what, spec fact, build(n) -> content, the limit n): n is allowed, n + 1 is refused.
LIMITS: list[tuple[str, Callable[[int], object], int]] = [
    ("text body, §4.2", lambda n: Text("x" * n), 4096),
    (
        "image caption, §4.2 (1024, as interactive bodies)",
        lambda n: Image(url="https://e.example/a.jpg", caption="c" * n),
        1024,
    ),
    ("video caption", lambda n: Video(url="https://e.example/a.mp4", caption="c" * n), 1024),
    ("document caption", lambda n: Document(url="https://e.example/a.pdf", caption="c" * n), 1024),
    ("buttons: count, §4.2", lambda n: Buttons("pick", [f"b{i}" for i in range(n)]), 3),
    ("buttons: title", lambda n: Buttons("pick", [Button("1", "t" * n)]), 20),
    ("buttons: id", lambda n: Buttons("pick", [Button("i" * n, "t")]), 256),
    ("buttons: body", lambda n: Buttons("b" * n, ["a"]), 1024),
    ("buttons: header", lambda n: Buttons("b", ["a"], header="h" * n), 60),
    ("buttons: footer", lambda n: Buttons("b", ["a"], footer="f" * n), 60),
    ("list: rows in total, §4.2", lambda n: _list(rows=n), 10),
    ("list: row title", lambda n: _list(row_title="t" * n), 24),
    ("list: row description", lambda n: _list(row_description="d" * n), 72),
    ("list: button label", lambda n: _list(button="m" * n), 20),
    (
        "list: sections (titled, one row each)",
        lambda n: _list(
            sections=[
                ListSection(title=f"s{i}", rows=[ListRow(id=f"r{i}", title="t")]) for i in range(n)
            ]
        ),
        10,
    ),
    (
        "list: section title",
        lambda n: _list(sections=[ListSection(title="s" * n, rows=[ListRow(id="r", title="t")])]),
        24,
    ),
    (
        "list: row id",
        lambda n: _list(sections=[ListSection(rows=[ListRow(id="i" * n, title="t")])]),
        200,
    ),
    (
        "cta url: button text, §4.2",
        lambda n: UrlButton(body="b", text="t" * n, url="https://e.example"),
        20,
    ),
    ("cta url: body", lambda n: UrlButton(body="b" * n, text="t", url="https://e.example"), 1024),
    ("contacts: cards, §4.2", _contacts, 257),
]


@pytest.mark.parametrize(("what", "build", "limit"), LIMITS, ids=[w for w, _, _ in LIMITS])
def test_limit_allows_the_platforms_number_and_refuses_one_more(
    what: str, build: Callable[[int], object], limit: int
) -> None:
    assert rules_broken(build(limit)) == [], f"{what}: {limit} must be allowed"
    refused = rules_broken(build(limit + 1))
    assert refused and all(r.startswith("whatsapp.limits.") for r in refused), what


@pytest.mark.parametrize(
    "content",
    [Text(""), Buttons("pick", []), _contacts(0), _list(rows=0)],
    ids=["empty text", "no buttons", "no contacts", "no rows"],
)
def test_nothing_is_refused(content: object) -> None:
    assert rules_broken(content)


# --- the window (§5.1): 24 h after the customer's last message, not a second more -------------


@pytest.mark.parametrize(
    ("age", "open_"),
    [(0.0, True), (DAY - 0.001, True), (DAY, False), (DAY + 1, False), (30 * DAY, False)],
)
def test_window_edge(age: float, open_: bool) -> None:
    assert wa.window_open(NOW - age, NOW, P) is open_
    broken = rules_broken(Text("hi"), last_inbound_at=NOW - age)
    assert broken == ([] if open_ else ["whatsapp.window.customer_service"])
    closes = wa.window_closes_at(NOW - age, P)
    assert closes == NOW - age + DAY


def test_window_refusal_is_131047() -> None:
    (v,) = wa.check_send(Text("hi"), wa.SendState(now=NOW, last_inbound_at=NOW - DAY), P)
    assert (v.native_code, v.title) == (131047, "Re-engagement message")


# --- templates (§6.4): parameter count exactly as defined, format, names -----------------------

THREE = wa.template_spec(
    name="order_update",
    language="en_US",
    status="APPROVED",
    category="UTILITY",
    components=[{"type": "BODY", "text": "Hi {{1}}, order {{2}} is {{3}}."}],
)
NAMED = wa.template_spec(
    name="follow_up",
    language="en_US",
    status="APPROVED",
    category="UTILITY",
    components=[{"type": "BODY", "text": "Hello {{customer}}, {{agent}} here."}],
    parameter_format="NAMED",
)


def template_codes(t: Template, spec: wa.TemplateSpec) -> list[object]:
    state = wa.SendState(now=NOW, template=spec, templates_known=True)
    return [v.native_code for v in wa.check_send(t, state, P)]


@pytest.mark.parametrize(("count", "codes"), [(2, [132000]), (3, []), (4, [132000]), (0, [132000])])
def test_positional_parameter_count_is_exact(count: int, codes: list[object]) -> None:
    assert template_codes(Template("order_update", params=["v"] * count), THREE) == codes


@pytest.mark.parametrize(
    ("params", "codes"),
    [
        ({"customer": "Ada", "agent": "Bo"}, []),
        ({"customer": "Ada"}, [132000]),
        ({"customer": "Ada", "agent": "Bo", "extra": "x"}, [132000]),
        ({"client": "Ada", "agent": "Bo"}, [132000]),
        (["Ada", "Bo"], [100]),  # positional values for a NAMED template
    ],
)
def test_named_parameters_match_by_name(params: object, codes: list[object]) -> None:
    assert template_codes(Template("follow_up", params=params), NAMED) == codes  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("Ada", True),
        ("a    b", True),  # four spaces
        ("a     b", False),  # five
        ("two\nlines", False),
        ("tab\there", False),
        ("", False),
        ("C:\\Users\\ada", True),
        ("(.*)+$ [x] {1}", True),
    ],
)
def test_parameter_format(value: str, ok: bool) -> None:
    codes = template_codes(Template("order_update", params=["Ada", "A-1", value]), THREE)
    assert codes == ([] if ok else [132008])


@pytest.mark.parametrize(
    ("status", "code"),
    [
        ("APPROVED", None),
        ("PENDING", 132001),
        ("REJECTED", 132001),
        ("PAUSED", 132015),
        ("DISABLED", 132016),
    ],
)
def test_only_approved_templates_are_sent(status: str, code: int | None) -> None:
    import attrs

    got = template_codes(
        Template("order_update", params=["a", "b", "c"]), attrs.evolve(THREE, status=status)
    )
    assert got == ([] if code is None else [code])


def test_header_format_must_match() -> None:
    import attrs

    image = attrs.evolve(THREE, header_format="IMAGE")
    params = ["a", "b", "c"]
    assert template_codes(Template("order_update", params=params), image) == [132012]
    media = TemplateHeader(kind="image", media=Image(url="https://e.example/a.jpg"))
    assert template_codes(Template("order_update", params=params, header=media), image) == []


# --- pair rate (§7.2): bursts of 45, then one per 6 s -------------------------------------------


def test_pair_rate_burst_is_45_and_refills_one_per_6_seconds() -> None:
    bucket = None
    for i in range(45):
        assert rules_broken(Text("x"), pair=bucket) == [], f"message {i + 1} of the burst"
        bucket = wa.consume_pair(bucket, NOW, P)
    assert rules_broken(Text("x"), pair=bucket) == ["whatsapp.rate.pair"]
    almost = wa.SendState(now=NOW + 5.999, last_inbound_at=NOW, pair=bucket)
    assert [v.native_code for v in wa.check_send(Text("x"), almost, P)] == [131056]
    refilled = wa.SendState(now=NOW + 6.0, last_inbound_at=NOW, pair=bucket)
    assert wa.check_send(Text("x"), refilled, P) == ()
    bucket = wa.consume_pair(bucket, NOW + 6.0, P)
    again = wa.SendState(now=NOW + 6.0, last_inbound_at=NOW, pair=bucket)
    assert [v.native_code for v in wa.check_send(Text("x"), again, P)] == [131056]


# --- the messaging tier (§7.1): 250 unique customers outside a window per moving 24 h ----------


def test_tier_is_250_unique_customers_and_moves_with_the_day() -> None:
    t = Template("order_update", params=["a", "b", "c"])

    def broken(used: int, **state: object) -> list[str]:
        s = wa.SendState(now=NOW, template=THREE, tier_used=used, **state)  # type: ignore[arg-type]
        return [v.rule_id for v in wa.check_send(t, s, P)]

    assert broken(249) == []
    assert broken(250) == ["whatsapp.tier.business_initiated"]
    assert broken(250, tier_counted=True) == []  # this customer was reached already today
    assert broken(250, last_inbound_at=NOW - 60) == []  # inside a window: not counted
    hours = wa.tier_hours(NOW, P)
    assert len(hours) in (24, 25)  # hour buckets covering the moving 24 h
    assert wa.tier_hour(NOW) in hours
    assert wa.tier_hour(NOW - DAY - 3600) not in hours
