"""The SDK's pre-flight and the simulator refuse exactly the same requests, with the same codes.

Hypothesis generates conversations: customers writing, the clock moving (often right at the
24 h edge), template states changing, and sends of every kind. The same scenario runs twice:

* A: the SDK with pre-flight on; a refusal is a ``PolicyViolation`` before any I/O;
* B: the SDK with pre-flight off against the simulator answering 131047 synchronously; a
  refusal is the platform's error answer.

Both must agree on every send: accepted, or refused with the same native code.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnimsg import (
    Address,
    Button,
    Buttons,
    ListMenu,
    ListRow,
    ListSection,
    PlatformError,
    PolicyViolation,
    Reaction,
    RetryPolicy,
    Template,
    Text,
)
from omnimsg.testing import SimHarness, whatsapp_sim_config

USERS = ["15551230001", "15551230002", "15559990001", "15559990002", "15559990003"]
TEMPLATE_NAMES = ["order_update", "follow_up", "spring_sale", "no_such_template"]

texts = st.one_of(
    st.sampled_from(["hi", "x" * 4096, "x" * 4097, ""]),
    st.text(alphabet="ab \n", min_size=1, max_size=8),
)
titles = st.sampled_from(["Yes", "No", "Maybe", "x" * 20, "x" * 21])
buttons = st.builds(
    lambda body, ts: Buttons(body, [Button(f"b{i}-{t[:3]}", t) for i, t in enumerate(ts)]),
    st.sampled_from(["Pick", "x" * 1025]),
    st.lists(titles, min_size=1, max_size=4),
)
lists = st.builds(
    lambda n, title: ListMenu(
        body="Menu",
        button="Open",
        sections=[ListSection(rows=[ListRow(id=f"r{i}", title=title) for i in range(n)])],
    ),
    st.integers(min_value=1, max_value=11),
    st.sampled_from(["Row", "x" * 25]),
)
param_values = st.sampled_from(["Ada", "A-1", "", "two\nlines", "a     b"])
templates = st.one_of(
    st.builds(
        lambda name, params: Template(name, params=params),
        st.sampled_from(TEMPLATE_NAMES),
        st.lists(param_values, max_size=4),
    ),
    st.builds(
        lambda name, value: Template(name, params={"customer": value}),
        st.sampled_from(["follow_up", "order_update"]),
        param_values,
    ),
)
contents = st.one_of(
    st.builds(Text, texts),
    buttons,
    lists,
    templates,
    st.just(Reaction(message_id="wamid.any", emoji="👍")),
)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("write"), st.sampled_from(USERS)),
        st.tuples(st.just("advance"), st.sampled_from([1, 5, 6, 3599, 3600, 86399, 86400, 90000])),
        st.tuples(
            st.just("status"),
            st.sampled_from(TEMPLATE_NAMES[:3]),
            st.sampled_from(["APPROVED", "PAUSED", "DISABLED", "REJECTED"]),
        ),
        st.tuples(st.just("send"), st.sampled_from(USERS), contents),
        st.tuples(
            st.just("burst"), st.sampled_from(USERS[:2]), st.integers(min_value=40, max_value=47)
        ),
    ),
    min_size=1,
    max_size=14,
)


def run(scenario: list[tuple[Any, ...]], *, preflight: bool) -> list[object]:
    config = whatsapp_sim_config(tier_limit=3, window_error="async" if preflight else "sync")
    outcomes: list[object] = []
    with SimHarness(config, preflight=preflight, retry=RetryPolicy.never()) as h:
        h.client.whatsapp.templates.list()

        def send(user: str, content: Any) -> object:
            try:
                h.client.send(Address("whatsapp", user), content)
            except PolicyViolation as refused:
                return refused.violation.native_code
            except PlatformError as refused:
                return refused.code
            return "accepted"

        for step in scenario:
            kind = step[0]
            if kind == "write":
                h.customer_says(step[1], "hello")
            elif kind == "advance":
                h.advance(seconds=step[1])
            elif kind == "status":
                h.control("POST", "/_sim/templates/status", {"name": step[1], "status": step[2]})
            elif kind == "send":
                outcomes.append(send(step[1], step[2]))
            else:
                results = [send(step[1], Text("burst")) for _ in range(step[2])]
                outcomes.append(sorted(set(map(str, results))))
    return outcomes


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_preflight_and_simulator_agree(scenario: list[tuple[Any, ...]]) -> None:
    assert run(scenario, preflight=True) == run(scenario, preflight=False)


def test_the_contract_can_tell_outcomes_apart() -> None:
    scenario: list[tuple[Any, ...]] = [
        ("send", USERS[0], Text("cold")),
        ("write", USERS[0]),
        ("send", USERS[0], Text("warm")),
        ("send", USERS[0], Text("x" * 4097)),
        ("send", USERS[0], Template("order_update", params=["1"])),
        ("burst", USERS[0], 46),
    ]
    expected = [131047, "accepted", 131009, 132000, ["131056", "accepted"]]
    assert run(scenario, preflight=True) == expected
    assert run(scenario, preflight=False) == expected
