"""LINE: the SDK's pre-flight and the simulator allow and refuse the same sends, for the
same native reason.

The oracle of ``tests/test_contract.py``, for a LINE Official Account. Every scenario runs
twice, each on a fresh simulator:

* A: the SDK with pre-flight on (``client.check`` first, then ``send``). A refusal the SDK
  can know about must be a :class:`~omnimsg.PolicyViolation` raised before any request.
* B: pre-flight off: every refusal is LINE's own answer (a :class:`~omnimsg.PlatformError`).

Both must agree on every step: sent (as a reply or as a push), accepted and dropped (a user
who blocked the account: LINE answers 200 and drops it, spec §8; omnimsg refuses it before,
``line.follow.blocked``, and says why), or refused with the same HTTP status, LINE message and
``details`` properties (spec §6: LINE has no codes, clients match the message).

Some refusals only LINE can make (:data:`PLATFORM_ONLY`): a user id the provider never issued
(400 ``Failed to send messages``, §8), a group the bot is not in, a group push whose member
count goes over the month (the SDK does not know a group's size, §4). Run A accepts those as
the platform's error there and nowhere else.

The scenarios: message counts 0-6 per request, texts around 5000 UTF-16 units (surrogate
pairs and ``\\r\\n``), quick replies 13/14, action labels at 20/21, templates at their limits,
multicast 500/501, recipients (a friend, a user who blocked, an unknown id, a group, a bad
id), the month's quota near the limit on a free and on a paid plan, reply tokens fresh,
expired and used.

Found by this oracle, and fixed: :data:`DISAGREEMENTS`, each with the scenario that shows it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from omnimsg import (
    Address,
    Button,
    Buttons,
    Client,
    Content,
    Image,
    Location,
    PlatformError,
    PolicyViolation,
    QuickReplies,
    Raw,
    RetryPolicy,
    Text,
)
from omnimsg.testing import line_channel, line_sim_config
from omnimsg_sim import InProcessSimulator

BOT = "U5f3b0c4e2a1d9f8e7c6b5a4d3e2f1a0b"
ADA = "U1a2b3c4d5e6f708192a3b4c5d6e7f809"
ALAN = "U2b3c4d5e6f708192a3b4c5d6e7f8091a"
GRACE = "U3c4d5e6f708192a3b4c5d6e7f8091a2b"  # blocked the account before the test began
UNKNOWN = "U" + "9" * 32  # never issued by this provider
GROUP = "C" + "4" * 32
NO_GROUP = "C" + "5" * 32  # the bot was never invited
FRIENDS = [f"U{i:032x}" for i in range(1, 211)]  # enough to use a month up with multicasts
CUSTOMERS = [
    {"user_id": ADA, "display_name": "Ada"},
    {"user_id": ALAN, "display_name": "Alan"},
    {"user_id": GRACE, "display_name": "Grace", "friend": False},
    *({"user_id": u, "display_name": f"Friend {i}"} for i, u in enumerate(FRIENDS)),
]
PLANS: dict[str, dict[str, Any]] = {
    "free": {"plan": "jp-communication"},  # 200 a month, cannot go over
    "tw-free": {"plan": "tw-light"},  # Taiwan's 200
    "capped": {"plan": "tw-high", "extra_limit": 3},  # 6,000 + 3 additional
    "paid": {"plan": "jp-standard"},  # 30,000, additional messages uncapped
}
EXAMPLES = int(os.environ.get("OMNIMSG_CONTRACT_EXAMPLES", "150" if os.environ.get("CI") else "40"))

# The disagreements this oracle found, the side that was wrong (the spec decides), and the
# scenario that shows each fixed.
DISAGREEMENTS = {
    "paid plans": "SDK (testing.line_channel ignored plan and extra_limit: a paid plan was "
    "refused at 200, §4) -- test_quota_near_the_limit[capped], [paid]",
    "buttons text with a title": "simulator (160 instead of 60, §3) -- 'buttons titled 61'",
    "carousel text with a title": "simulator (120 instead of 60, §3) -- 'carousel titled 61'",
    "uneven carousel": "simulator (columns with different action counts, research §2) -- "
    "'carousel uneven'",
    "flex altText": "simulator (400, the legacy figure; 1500 in the current docs, §3) -- "
    "'flex alt 1500'",
    "confirm text": "SDK (no 240 limit, §3) -- 'confirm 241'",
    "http media": "SDK (let http:// through; §3 media URLs are HTTPS) -- 'image http'",
    "altText and location units": "SDK (counted characters; §3 counts UTF-16 units) -- "
    "'alt 200 emoji + 1', 'location 50 emoji + 1'",
    "label units": "simulator (counted UTF-16 units; labels count graphemes, research §2) -- "
    "'label 20 emoji'",
    "bad 'to'": "SDK (no LINE message for the 400, §6) -- test_recipients[not-an-id]",
    "multicast to a group": "SDK (a details error instead of LINE's 'to' 400, §3, §6) -- "
    "test_multicast_takes_users_only",
    "refused reply": "SDK (without pre-flight a reply LINE refused for its content spent the "
    "stored token, so the next send pushed and counted; LINE keeps it, §3) -- "
    "test_every_content_is_judged_alike_as_a_reply",
    "Taiwan's month": "SDK (UTC+8; the API's calendar is UTC+9, §3, as the simulator's) -- "
    "test_the_month_rolls_over_in_japan_time[tw-free]",
}

Outcome = tuple[Any, ...]
PLATFORM_ONLY = {(400, "Failed to send messages")}
MONTHLY = ("refused", 429, "You have reached your monthly limit.", frozenset())


# --- the two worlds -------------------------------------------------------------------------


class Counting(httpx.BaseTransport):
    """The simulator's transport, counting the requests the SDK makes."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.requests = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        return self.inner.handle_request(request)


class World:
    """One simulator and one app (pre-flight on or off); webhooks reach ``handle``."""

    def __init__(self, *, preflight: bool, plan: str = "free", **overrides: Any) -> None:
        self.preflight = preflight
        self.config = line_sim_config(
            customers=CUSTOMERS, **{**PLANS[plan], **overrides}, sim={"outbox_limit": 0}
        )
        self.sim = InProcessSimulator(
            self.config, webhook_transport=httpx.MockTransport(self._webhook)
        )
        self.http = Counting(self.sim.transport())
        self.client = Client(
            [line_channel(self.config, self.sim.base_url)],
            transport=self.http,
            clock=self.sim.clock,
            preflight=preflight,
            retry=RetryPolicy(max_attempts=1),
        )

    def _webhook(self, request: httpx.Request) -> httpx.Response:
        outcome = self.client.webhooks.handle(
            "line", request.method, str(request.url), request.headers, request.read()
        )
        return httpx.Response(outcome.status, content=outcome.body)

    def act(self, user: str, **action: Any) -> None:
        answer = self.sim.control(
            "POST", "/_sim/inbound", {"platform": "line", "user": user, **action}
        )
        assert "error" not in answer, answer

    def advance(self, seconds: float) -> None:
        self.sim.control("POST", "/_sim/clock/advance", {"seconds": seconds})

    def state(self) -> dict[str, Any]:
        return dict(self.sim.control("GET", "/_sim/state")["line"][BOT])

    def close(self) -> None:
        self.client.close()
        self.sim.close()


def _reason(status: int, message: str, props: set[str]) -> Outcome:
    if message.startswith("The request body has "):  # one Violation per detail in the SDK
        return ("refused", status, "The request body has N error(s)", frozenset(props))
    return ("refused", status, message, frozenset())


def _violation_outcome(exc: PolicyViolation) -> Outcome:
    # LINE checks the body first, then the recipient, then the month (the simulator's
    # order, and the pre-flight's): the first violation's status is LINE's answer.
    first = exc.violations[0]
    if first.rule_id == "line.follow.blocked":
        return ("dropped",)  # LINE would answer 200 and drop it (spec §8)
    vs = [v for v in exc.violations if v.http_status == first.http_status]
    props = {(v.details or "").partition(": ")[0] for v in vs}
    return _reason(first.http_status, first.title or "", props)


def _platform_outcome(exc: PlatformError) -> Outcome:
    body = json.loads(exc.raw) if exc.raw else {}
    props = {d.get("property", "") for d in body.get("details") or []}
    return _reason(exc.http_status or 0, str(body.get("message", "")), props)


def run(
    world: World,
    op: Callable[[], Any],
    *,
    check: Callable[[], Any] | None = None,
    platform_only: tuple[tuple[int, str], ...] = (),
) -> Outcome:
    """One send: its outcome, with run A's own checks (pre-flight before any I/O; LINE
    refuses only what no pre-flight can know, :data:`PLATFORM_ONLY` and ``platform_only``)."""
    before_requests = world.http.requests
    before = world.state()
    found: tuple[Any, ...] = ()
    if world.preflight and check is not None:
        found = tuple(check())
        assert not found or world.http.requests == before_requests, "check() made a request"
    result: Any = None
    error: Exception | None = None
    try:
        result = op()
    except (PolicyViolation, PlatformError) as exc:
        error = exc
    checked = world.preflight and check is not None
    if isinstance(error, PolicyViolation):
        assert world.preflight, "a PolicyViolation without pre-flight"
        # Before any I/O, but for a reply LINE refused whose push the month cannot take.
        first = error.violations[0]
        assert world.http.requests == before_requests or first.http_status == 429, (
            "a pre-flight refusal after I/O"
        )
        assert found or not checked, f"check() allowed what send() refused: {error}"
        return _violation_outcome(error)
    if isinstance(error, PlatformError):
        outcome = _platform_outcome(error)
        assert not found, f"check() refused {found} but send() reached LINE: {error}"
        assert not world.preflight or outcome[1:3] in PLATFORM_ONLY | set(platform_only), (
            f"the pre-flight let through what LINE refused: {error}"
        )
        return outcome
    assert not found, f"check() refused what send() sent: {found}"
    after = world.state()
    if after["dropped"] > before["dropped"]:
        return ("dropped",)
    route = getattr(result, "status", "sent")
    used = after["quota"]["used"] - before["quota"]["used"]
    if route == "reply":
        assert used == 0, "a reply was counted"
    return ("sent", route)


# --- contents -------------------------------------------------------------------------------

E = "\U0001f600"  # 😀: outside the BMP, 2 UTF-16 units


def texts(n: int) -> Raw:
    return Raw({"messages": [{"type": "text", "text": f"part {i}"} for i in range(n)]})


def quick(n: int, label: str = "Yes") -> QuickReplies:
    return QuickReplies("Pick one", [Button(f"q{i}", label) for i in range(n)])


def template(t: dict[str, Any], alt: str = "Pick") -> Raw:
    return Raw({"type": "template", "altText": alt, "template": t})


def postback(label: str = "Yes", data: str = "yes") -> dict[str, Any]:
    return {"type": "postback", "label": label, "data": data}


def buttons_template(text: str, *, title: str | None = None, n: int = 2) -> Raw:
    t: dict[str, Any] = {"type": "buttons", "text": text, "actions": [postback()] * n}
    if title is not None:
        t["title"] = title
    return template(t)


def carousel(texts_: list[str], widths: list[int], *, title: str | None = None) -> Raw:
    columns = []
    for text, n in zip(texts_, widths, strict=True):
        col: dict[str, Any] = {"text": text, "actions": [postback()] * n}
        if title is not None:
            col["title"] = title
        columns.append(col)
    return template({"type": "carousel", "columns": columns})


def confirm(text: str) -> Raw:
    return template({"type": "confirm", "text": text, "actions": [postback("Yes"), postback("No")]})


def flex(alt: str) -> Raw:
    bubble = {"type": "bubble", "body": {"type": "box", "layout": "vertical", "contents": []}}
    return Raw({"type": "flex", "altText": alt, "contents": bubble})


CONTENTS: dict[str, Content] = {
    "hi": Text("hi"),
    "text 5000": Text("x" * 5000),
    "text 5001": Text("x" * 5001),
    "text 2500 emoji": Text(E * 2500),
    "text 2500 emoji + 1": Text(E * 2500 + "x"),
    "text 4999 + emoji": Text("x" * 4999 + E),
    "text 2500 crlf": Text("\r\n" * 2500),
    "text 2500 crlf + 1": Text("\r\n" * 2500 + "x"),
    "text empty": Text(""),
    "0 messages": texts(0),
    "1 message": texts(1),
    "5 messages": texts(5),
    "6 messages": texts(6),
    "quick 13": quick(13),
    "quick 14": quick(14),
    "label 20": quick(2, "x" * 20),
    "label 21": quick(2, "x" * 21),
    "label 20 emoji": quick(2, E * 20),  # 40 UTF-16 units, 20 graphemes (research §2)
    "label 21 emoji": quick(2, E * 21),
    "buttons 5": Buttons("Pick", [Button(f"b{i}", "Yes") for i in range(5)]),
    "buttons text 160": buttons_template("x" * 160),
    "buttons text 161": buttons_template("x" * 161),
    "buttons titled 60": buttons_template("x" * 60, title="Menu"),
    "buttons titled 61": buttons_template("x" * 61, title="Menu"),
    "buttons 4 actions": buttons_template("Pick", n=4),
    "buttons 5 actions": buttons_template("Pick", n=5),
    "carousel 120": carousel(["x" * 120], [1]),
    "carousel titled 61": carousel(["x" * 61], [1], title="Shoe"),
    "carousel uneven": carousel(["a", "b"], [1, 2]),
    "confirm 240": confirm("x" * 240),
    "confirm 241": confirm("x" * 241),
    "alt 400": template({"type": "buttons", "text": "Pick", "actions": [postback()]}, "x" * 400),
    "alt 200 emoji + 1": template(
        {"type": "buttons", "text": "Pick", "actions": [postback()]}, alt=E * 200 + "x"
    ),
    "flex alt 1500": flex("x" * 1500),
    "flex alt 1501": flex("x" * 1501),
    "image https": Image(url="https://shop.example/a.jpg"),
    "image http": Image(url="http://shop.example/a.jpg"),
    "location": Location(latitude=35.0, longitude=139.0, name="Shop", address="Tokyo"),
    "location 50 emoji + 1": Location(latitude=35.0, longitude=139.0, name=E * 50 + "x"),
}


# --- scenarios ----------------------------------------------------------------------------

Step = tuple[Any, ...]


def play(world: World, steps: list[Step]) -> list[Outcome]:
    """Run ``steps`` in ``world``; the outcome of each send (other steps: ``None``)."""
    out: list[Outcome] = []
    for step in steps:
        kind = step[0]
        if kind == "says":
            world.act(step[1], text="hello")
            out.append(("ok",))
        elif kind == "unfollow":
            world.act(step[1], unfollow=True)
            out.append(("ok",))
        elif kind == "follow":
            world.act(step[1], follow=True)
            out.append(("ok",))
        elif kind == "join":
            world.act(ADA, join={"group": GROUP})
            out.append(("ok",))
        elif kind == "group says":
            world.act(ADA, text="hello all", group=GROUP)
            out.append(("ok",))
        elif kind == "advance":
            world.advance(step[1])
            out.append(("ok",))
        elif kind == "send":
            to, name = step[1], step[2]
            address = Address("line", to)
            content = CONTENTS[name]
            # A group's member count is LINE's to know: its push may go over the month (§4).
            group_only = ((429, MONTHLY[2]),) if to.startswith("C") else ()
            out.append(
                run(
                    world,
                    lambda a=address, c=content: world.client.send(a, c),
                    check=lambda a=address, c=content: world.client.check(a, c),
                    platform_only=group_only,
                )
            )
        elif kind == "multicast":
            users, name = step[1], step[2]
            content = CONTENTS[name]
            out.append(run(world, lambda u=users, c=content: world.client.line.multicast(u, c)))
        elif kind == "fill":  # use the month up with multicasts to friends
            for start in range(0, step[1], 200):
                users = FRIENDS[: min(200, step[1] - start)]
                out.append(run(world, lambda u=users: world.client.line.multicast(u, Text("sale"))))
        else:  # pragma: no cover
            raise AssertionError(step)
    return out


def compare(steps: list[Step], plan: str = "free", **overrides: Any) -> list[Outcome]:
    """Both runs; they must agree step by step. The outcomes."""
    a = World(preflight=True, plan=plan, **overrides)
    b = World(preflight=False, plan=plan, **overrides)
    try:
        got_a = play(a, steps)
        got_b = play(b, steps)
    finally:
        a.close()
        b.close()
    seen: set[str] = set()  # users whose follow or unfollow the app received
    for step, x, y in zip(steps, got_a, got_b, strict=True):
        if step[0] in ("follow", "unfollow"):
            seen.add(step[1])
        unseen_block = step[1:2] == (GRACE,) and GRACE not in seen and y == ("dropped",)
        if step[0] == "send" and (unseen_block or y[1:3] in PLATFORM_ONLY):
            # What only LINE knows: Grace blocked the account before the app ran (LINE
            # drops the push, §8), an id the provider never issued (§8). The pre-flight,
            # not knowing, may still count the push against a used-up month: stricter than
            # LINE, never more lenient.
            assert x in (y, MONTHLY), f"{step}: pre-flight {x} but LINE {y}"
            continue
        assert x == y, f"{step}: pre-flight {x} but LINE {y}"
    return got_a


# --- the table --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CONTENTS))
def test_every_content_is_judged_alike_as_a_push(name: str) -> None:
    compare([("send", ADA, name)])


@pytest.mark.parametrize("name", sorted(CONTENTS))
def test_every_content_is_judged_alike_as_a_reply(name: str) -> None:
    outcome = compare([("says", ADA), ("send", ADA, name), ("send", ADA, "hi")])
    if outcome[1][0] == "sent":
        assert outcome[1] == ("sent", "reply") and outcome[2] == ("sent", "push")
    else:  # a refused reply keeps its token (the simulator's rule, §3: single use)
        assert outcome[2] == ("sent", "reply")


@pytest.mark.parametrize(
    ("to", "expected"),
    [
        (ADA, ("sent", "push")),
        (GRACE, ("dropped",)),  # blocked before: neither side knew, LINE drops it
        (UNKNOWN, ("refused", 400, "Failed to send messages", frozenset())),
        (NO_GROUP, ("refused", 400, "Failed to send messages", frozenset())),
        (
            "not-an-id",
            (
                "refused",
                400,
                "The property, 'to', in the request body is invalid (line: -, column: -)",
                frozenset(),
            ),
        ),
    ],
)
def test_recipients(to: str, expected: Outcome) -> None:
    assert compare([("send", to, "hi")]) == [expected]


def test_a_user_who_blocks_is_dropped_on_both_sides_and_not_counted() -> None:
    outcome = compare(
        [("unfollow", ADA), ("send", ADA, "hi"), ("follow", ADA), ("send", ADA, "hi")]
    )
    assert outcome[1] == ("dropped",) and outcome[3] == ("sent", "reply")  # the follow's token


def test_groups_reply_then_push() -> None:
    outcome = compare(
        [
            ("join",),
            ("send", GROUP, "hi"),
            ("send", GROUP, "hi"),
            ("group says",),
            ("send", GROUP, "hi"),
        ]
    )
    assert [o for o in outcome if o[0] != "ok"] == [
        ("sent", "reply"),
        ("sent", "push"),
        ("sent", "reply"),
    ]


@pytest.mark.parametrize(
    ("wait", "route"), [(0, "reply"), (59, "reply"), (60, "push"), (61, "push"), (3600, "push")]
)
def test_reply_token_fresh_and_expired(wait: int, route: str) -> None:
    outcome = compare([("says", ADA), ("advance", wait), ("send", ADA, "hi")])
    assert outcome[-1] == ("sent", route)


def test_a_used_reply_token_pushes() -> None:
    outcome = compare([("says", ADA), ("send", ADA, "hi"), ("send", ADA, "hi")])
    assert outcome[1:] == [("sent", "reply"), ("sent", "push")]


def test_the_simulator_expiring_a_token_early_falls_back_to_push() -> None:
    """The SDK's lifetime is longer than LINE's: LINE says ``Invalid reply token``."""
    a = World(preflight=True, reply_token_ttl=10.0)
    try:
        channel = line_channel(a.config, a.sim.base_url)
        object.__setattr__(channel, "reply_token_lifetime", 60.0)
        a.client.close()
        a.client = Client([channel], transport=a.http, clock=a.sim.clock)
        a.act(ADA, text="hello")
        a.advance(30)
        assert run(a, lambda: a.client.send(Address("line", ADA), Text("hi"))) == ("sent", "push")
    finally:
        a.close()


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (1, ("sent", "sent")),
        (500, ("sent", "sent")),
        (501, ("refused", 400, "The request body has N error(s)", frozenset({"to"}))),
        (0, ("refused", 400, "The request body has N error(s)", frozenset({"to"}))),
    ],
)
def test_multicast_sizes(n: int, expected: Outcome) -> None:
    users = (FRIENDS * 3)[:n]  # friends only; repeats count once on both sides
    assert compare([("multicast", users, "hi")], plan="paid") == [expected]


def test_multicast_takes_users_only() -> None:
    outcome = compare([("multicast", [ADA, GROUP], "hi")])
    assert outcome[0][:3] == (
        "refused",
        400,
        "The property, 'to', in the request body is invalid (line: -, column: -)",
    )


@pytest.mark.parametrize("name", ["quick 14", "6 messages", "text 5001", "hi"])
def test_multicast_contents(name: str) -> None:
    compare([("multicast", [ADA, ALAN], name)])


@pytest.mark.parametrize(
    ("plan", "fill", "then"),
    [
        ("free", 199, [("sent", "push"), MONTHLY]),
        ("free", 200, [MONTHLY, MONTHLY]),
        ("capped", 6_002, [("sent", "push"), MONTHLY]),
        ("paid", 400, [("sent", "push"), ("sent", "push")]),
    ],
)
def test_quota_near_the_limit(plan: str, fill: int, then: list[Outcome]) -> None:
    friends = FRIENDS if fill <= len(FRIENDS) else None
    steps: list[Step] = []
    if friends is None:  # more than the friends: several rounds of multicasts
        rounds, rest = divmod(fill, len(FRIENDS))
        steps += [("multicast", FRIENDS, "hi")] * rounds
        steps += [("multicast", FRIENDS[:rest], "hi")] if rest else []
    else:
        steps.append(("fill", fill))
    steps += [("send", ADA, "hi"), ("send", ALAN, "hi")]
    outcome = compare(steps, plan=plan)
    assert outcome[-2:] == then


def test_a_reply_is_free_when_the_month_is_used_up() -> None:
    outcome = compare([("fill", 200), ("says", ADA), ("send", ADA, "hi"), ("send", ADA, "hi")])
    assert outcome[-2:] == [("sent", "reply"), MONTHLY]


@pytest.mark.parametrize("plan", ["free", "tw-free"])
def test_the_month_rolls_over_in_japan_time(plan: str) -> None:
    # 2026-03-02T09:00Z; the next month starts 2026-03-31T15:00Z (midnight JST).
    to_rollover = (29 * 24 + 6) * 3600
    outcome = compare(
        [
            ("fill", 200),
            ("advance", to_rollover - 1),
            ("send", ADA, "hi"),
            ("advance", 1),
            ("send", ADA, "hi"),
        ],
        plan=plan,
    )
    assert outcome[-3] == MONTHLY and outcome[-1] == ("sent", "push")


# --- generated conversations -------------------------------------------------------------------

recipients = st.sampled_from([ADA, ADA, ALAN, GRACE, UNKNOWN, GROUP])
contents = st.sampled_from(sorted(CONTENTS))


@st.composite
def conversations(draw: st.DrawFn) -> list[Step]:
    steps: list[Step] = []
    blocked: set[str] = {GRACE}
    joined = False
    for _ in range(draw(st.integers(min_value=1, max_value=10))):
        kind = draw(
            st.sampled_from(
                ["says", "says", "send", "send", "send", "advance", "unfollow", "follow", "join"]
            )
        )
        if kind == "says":
            user = draw(st.sampled_from([ADA, ALAN]))
            if user in blocked:
                continue
            steps.append(("says", user))
        elif kind == "send":
            to = draw(recipients)
            if to == GROUP and not joined:
                to = NO_GROUP
            steps.append(("send", to, draw(contents)))
        elif kind == "advance":
            steps.append(("advance", draw(st.sampled_from([1, 30, 59, 60, 61, 3600]))))
        elif kind == "unfollow":
            user = draw(st.sampled_from([ADA, ALAN]))
            if user not in blocked:
                blocked.add(user)
                steps.append(("unfollow", user))
        elif kind == "follow":
            user = draw(st.sampled_from([ADA, ALAN, GRACE]))
            if user in blocked:
                blocked.discard(user)
                steps.append(("follow", user))
        elif not joined and ADA not in blocked:
            joined = True
            steps.append(("join",))
    return steps


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(conversations(), st.sampled_from(["free", "free", "paid"]), st.sampled_from([0, 195, 200]))
@example([("says", ADA), ("send", ADA, "quick 14"), ("send", ADA, "hi")], "free", 0)
def test_generated_conversations_are_judged_alike(steps: list[Step], plan: str, fill: int) -> None:
    compare(([("fill", fill)] if fill else []) + steps, plan=plan)
