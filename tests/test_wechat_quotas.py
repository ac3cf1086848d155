"""WeChat's daily send quotas on both sides (spec/wechat.md §6.1, §9), through the public
interface, sync and async, on the simulator's virtual clock.

Template messages (``template_daily_limit``) and customer-service messages
(``custom_send_daily_limit``) are counted per successful send and per day in Beijing time
(UTC+8; the reset at Beijing midnight is UNVERIFIED): the SDK with pre-flight refuses the
send past the limit before any request (``wechat.quota.template`` / ``.custom_send``, 45009),
and a client without pre-flight gets the simulator's own 45009 for the same send. The next
Beijing day allows again; ``clear_quota`` resets both sides (10 a month, then 48006); a
repeated ``client_msg_id`` sends nothing and counts nothing. Small limits are configured so
the limit is reached in a few calls.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import attrs
import httpx
import pytest

from omnimsg import (
    Address,
    AsyncClient,
    Client,
    InvalidRequest,
    MemoryStore,
    NotFound,
    PolicyViolation,
    RateLimited,
    RetryPolicy,
    Text,
    WeChat,
)
from omnimsg.rules import wechat as rules
from omnimsg.testing import DEFAULT_WECHAT, wechat_channel, wechat_sim_config
from omnimsg_sim import InProcessSimulator

ADA = DEFAULT_WECHAT["customers"][0]["openid"]
ALAN = DEFAULT_WECHAT["customers"][1]["openid"]
TEMPLATE = DEFAULT_WECHAT["templates"][0]
DATA = {"keyword1": "A-1001", "keyword2": "shipped"}
# The simulator starts at 2026-03-02T09:00:00Z, 17:00 in Beijing: its day ends in 7 hours.
TO_BEIJING_MIDNIGHT = 7 * 3600.0


class Wire(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """The simulator's transport, recording the path and errcode of every request."""

    def __init__(self, sync: Any = None, aio: Any = None) -> None:
        self.sync, self.aio = sync, aio
        self.calls: list[tuple[str, int]] = []

    def _note(self, request: httpx.Request, response: httpx.Response) -> None:
        try:
            code = int(json.loads(response.content).get("errcode", 0))
        except (ValueError, AttributeError):
            code = 0
        self.calls.append((request.url.path, code))

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.sync.handle_request(request)
        response.read()
        self._note(request, response)
        return response

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.aio.handle_async_request(request)
        await response.aread()
        self._note(request, response)
        return response

    def sends(self) -> int:
        return sum(1 for p, _ in self.calls if p.startswith("/cgi-bin/message/"))


class App:
    """The app (pre-flight on) and a raw client (pre-flight off) on one simulator."""

    def __init__(self, **overrides: Any) -> None:
        self.config = wechat_sim_config(mode="plaintext", **overrides)
        self.sim = InProcessSimulator(
            self.config, webhook_transport=httpx.MockTransport(self._webhook)
        )
        self.wire = Wire(self.sim.transport())
        self.store = MemoryStore(clock=self.sim.clock)
        self.client = self.make()
        self.raw = self.make(preflight=False)

    def channel(self, **changes: Any) -> WeChat:
        channel = wechat_channel(self.config, self.sim.base_url)
        assert isinstance(channel, WeChat)
        return attrs.evolve(channel, **changes) if changes else channel

    def make(
        self, *, preflight: bool = True, store: Any = None, channel: WeChat | None = None
    ) -> Client:
        return Client(
            [channel or self.channel()],
            transport=self.wire,
            clock=self.sim.clock,
            store=self.store if store is None else store,
            preflight=preflight,
            retry=RetryPolicy(max_attempts=1),
        )

    def _webhook(self, request: httpx.Request) -> httpx.Response:
        outcome = self.client.webhooks.handle(
            "wechat", request.method, str(request.url), request.headers, request.read()
        )
        return httpx.Response(outcome.status, content=outcome.body)

    def says(self, user: str = ADA) -> None:
        answer = self.sim.control(
            "POST", "/_sim/inbound", {"platform": "wechat", "user": user, "text": "hi"}
        )
        assert "error" not in answer, answer

    def advance(self, seconds: float) -> None:
        self.sim.control("POST", "/_sim/clock/advance", {"seconds": seconds})

    def quotas(self) -> dict[str, Any]:
        state = self.sim.control("GET", "/_sim/state")
        acct: dict[str, Any] = state["wechat"][DEFAULT_WECHAT["account_id"]]
        return acct["quotas"]

    def template(self, client: Client | None = None, **kw: Any) -> int | None:
        return (client or self.client).wechat.send_template(ADA, TEMPLATE, DATA, **kw)

    def refused_on_both_sides(self, send: Any, rule: str) -> PolicyViolation:
        """``send(client)`` is refused by the SDK before any I/O, and by the simulator."""
        before = len(self.wire.calls)
        with pytest.raises(PolicyViolation) as preflight:
            send(self.client)
        assert len(self.wire.calls) == before, "refused after I/O"
        v = preflight.value.violation
        assert (v.rule_id, v.native_code, v.http_status) == (rule, 45009, 200)
        with pytest.raises(RateLimited) as platform:
            send(self.raw)
        assert platform.value.code == 45009
        assert "reach max api daily quota limit" in str(platform.value)
        return preflight.value

    def close(self) -> None:
        self.client.close()
        self.raw.close()
        self.sim.close()


@pytest.fixture
def app() -> Any:
    made: list[App] = []

    def make(**overrides: Any) -> App:
        made.append(App(**overrides))
        return made[-1]

    yield make
    for a in made:
        a.close()


def test_the_rules_count_by_beijing_day() -> None:
    p = rules.latest()
    assert p.template_daily_limit == rules.DAILY_QUOTAS["template_send"] == 100_000
    assert p.custom_send_daily_limit == rules.DAILY_QUOTAS["custom_send"] == 500_000
    midnight = datetime(2026, 3, 2, 16, 0, tzinfo=UTC).timestamp()  # 00:00 in Beijing
    assert rules.quota_day(midnight - 1) + 1 == rules.quota_day(midnight)
    assert rules.quota_day_ends(midnight - 1) == midnight
    assert rules.check_send_quota("template", 99_999, p) == []
    [v] = rules.check_send_quota("template", 100_000, p, now=midnight - 10)
    assert (v.rule_id, v.native_code, v.retry_after) == ("wechat.quota.template", 45009, 10)
    [v] = rules.check_daily_quota("custom_send", 500_000, p)
    assert v.rule_id == "wechat.quota.custom_send"


def test_template_quota_is_reached_and_the_next_beijing_day_allows_again(app: Any) -> None:
    a = app(template_daily_limit=3)
    assert [type(a.template()) for _ in range(3)] == [int, int, int]
    assert a.quotas()["template"] == {"today": 3, "daily_limit": 3}
    refusal = a.refused_on_both_sides(lambda c: a.template(c), "wechat.quota.template")
    assert refusal.violation.retry_after == TO_BEIJING_MIDNIGHT
    assert a.quotas()["template"]["today"] == 3  # the refused ones counted nothing
    a.advance(TO_BEIJING_MIDNIGHT - 1)  # 23:59:59 in Beijing: still today
    a.refused_on_both_sides(lambda c: a.template(c), "wechat.quota.template")
    a.advance(1)  # midnight in Beijing
    assert isinstance(a.template(), int)
    assert isinstance(a.template(a.raw), int)
    assert a.quotas()["template"]["today"] == 2


def test_a_repeated_client_msg_id_is_not_counted(app: Any) -> None:
    a = app(template_daily_limit=2)
    first = a.template(client_msg_id="order-1")
    assert a.template(client_msg_id="order-1") == first  # a repeat: nothing sent
    assert a.quotas()["template"]["today"] == 1
    assert isinstance(a.template(client_msg_id="order-2"), int)
    a.refused_on_both_sides(
        lambda c: a.template(c, client_msg_id="order-3"), "wechat.quota.template"
    )
    # Even with the day used up a repeat goes: WeChat answers its msgid and sends nothing.
    assert a.template(client_msg_id="order-1") == first
    assert a.template(a.raw, client_msg_id="order-1") == first
    assert a.quotas()["template"]["today"] == 2


def test_a_send_wechat_refused_gives_its_unit_back(app: Any) -> None:
    a = app(template_daily_limit=1)
    with pytest.raises(NotFound):  # 40037: nothing was sent
        a.client.wechat.send_template(ADA, "no-such-template", DATA, client_msg_id="x-1")
    assert isinstance(a.template(client_msg_id="x-1"), int)  # the id may go again too
    a.refused_on_both_sides(lambda c: a.template(c), "wechat.quota.template")


def test_wechat_s_45009_marks_the_day_full(app: Any) -> None:
    # Another application of the account used the day's quota: WeChat's 45009 teaches the
    # Store, and the next send is refused before any request.
    a = app(template_daily_limit=1)
    assert isinstance(a.template(a.raw), int)
    generous = a.make(channel=a.channel(policy=attrs.evolve(rules.latest())))
    with pytest.raises(RateLimited):
        a.template(generous)
    before = len(a.wire.calls)
    with pytest.raises(PolicyViolation):
        a.template(generous)
    assert len(a.wire.calls) == before
    generous.close()


def test_workers_sharing_a_store_share_the_count(app: Any) -> None:
    a = app(template_daily_limit=2)
    other = a.make()  # another process, the same Store
    assert isinstance(a.template(), int) and isinstance(a.template(other), int)
    with pytest.raises(PolicyViolation):
        a.template(other)
    alone = a.make(store=MemoryStore(clock=a.sim.clock))  # a Store of its own: WeChat's 45009
    with pytest.raises(RateLimited):
        a.template(alone)
    other.close()
    alone.close()


def test_custom_send_quota(app: Any) -> None:
    a = app(custom_send_daily_limit=2)
    a.says()
    ada = Address("wechat", ADA)
    a.client.send(ada, Text("one"))
    a.client.send(ada, Text("two"))
    [v] = a.client.check(ada, Text("three"))
    assert (v.rule_id, v.native_code) == ("wechat.quota.custom_send", 45009)
    a.refused_on_both_sides(lambda c: c.send(ada, Text("three")), "wechat.quota.custom_send")
    assert a.quotas()["custom_send"] == {"today": 2, "daily_limit": 2}
    # The window kept its count: the refused sends took none of its 5.
    a.advance(TO_BEIJING_MIDNIGHT)
    a.client.send(ada, Text("three"))
    a.client.send(ada, Text("four"))
    a.refused_on_both_sides(lambda c: c.send(ada, Text("five")), "wechat.quota.custom_send")


def test_a_window_refusal_gives_the_quota_nothing(app: Any) -> None:
    a = app(custom_send_daily_limit=1)
    with pytest.raises(PolicyViolation) as refused:
        a.client.send(Address("wechat", ALAN), Text("never wrote"))
    assert refused.value.violation.native_code == 45015
    a.says()
    a.client.send(Address("wechat", ADA), Text("within the window"))


def test_clear_quota_resets_both_sides_10_times_a_month(app: Any) -> None:
    a = app(template_daily_limit=1, custom_send_daily_limit=1, clear_quota_monthly_limit=2)
    a.says()
    a.template()
    a.client.send(Address("wechat", ADA), Text("hi"))
    a.refused_on_both_sides(lambda c: a.template(c), "wechat.quota.template")
    a.client.wechat.clear_quota()
    assert a.quotas()["template"]["today"] == 0
    assert ("/cgi-bin/clear_quota", 0) in a.wire.calls
    a.template()  # allowed again on both sides
    a.client.send(Address("wechat", ADA), Text("again"))
    a.raw.wechat.clear_quota()  # the second of the month (the Store is shared: reset too)
    a.template()
    with pytest.raises(InvalidRequest) as refused:
        a.client.wechat.clear_quota()
    assert refused.value.code == 48006
    a.refused_on_both_sides(lambda c: a.template(c), "wechat.quota.template")  # kept
    a.advance(30 * 86_400)  # April in Beijing: ten more
    a.client.wechat.clear_quota()


def test_clear_quota_takes_the_account_s_appid(app: Any) -> None:
    a = app()
    http = a.sim.transport()

    def post(path: str, body: Any, method: str = "POST") -> int:
        r = http.handle_request(httpx.Request(method, f"{a.sim.base_url}{path}", json=body))
        r.read()
        return int(json.loads(r.content).get("errcode", 0))

    fetch = {
        "grant_type": "client_credential",
        "appid": DEFAULT_WECHAT["app_id"],
        "secret": DEFAULT_WECHAT["app_secret"],
    }
    r = http.handle_request(
        httpx.Request("POST", f"{a.sim.base_url}/cgi-bin/stable_token", json=fetch)
    )
    r.read()
    path = "/cgi-bin/clear_quota?access_token=" + json.loads(r.content)["access_token"]
    assert post(path, {"appid": "wx0000000000000000"}) == 40013
    assert post(path, {}) == 41002
    assert post(path, None, method="GET") == 43002
    assert post(path, {"appid": DEFAULT_WECHAT["app_id"]}) == 0


# --- the async face -------------------------------------------------------------------------


@pytest.mark.anyio
async def test_async_template_quota_day_and_clear() -> None:
    config = wechat_sim_config(mode="plaintext", template_daily_limit=2)
    sim = InProcessSimulator(config)
    wire = Wire(aio=sim.async_transport())
    store = MemoryStore(clock=sim.clock)

    def make(preflight: bool) -> AsyncClient:
        return AsyncClient(
            [wechat_channel(config, sim.base_url)],
            transport=wire,
            clock=sim.clock,
            store=store,
            preflight=preflight,
            retry=RetryPolicy(max_attempts=1),
        )

    client, raw = make(True), make(False)
    try:
        first = await client.wechat.send_template(ADA, TEMPLATE, DATA, client_msg_id="a")
        assert await client.wechat.send_template(ADA, TEMPLATE, DATA, client_msg_id="a") == first
        await client.wechat.send_template(ADA, TEMPLATE, DATA)
        before = len(wire.calls)
        with pytest.raises(PolicyViolation) as refused:
            await client.wechat.send_template(ADA, TEMPLATE, DATA)
        assert refused.value.violation.rule_id == "wechat.quota.template"
        assert len(wire.calls) == before
        with pytest.raises(RateLimited):
            await raw.wechat.send_template(ADA, TEMPLATE, DATA)
        await sim.acontrol("POST", "/_sim/clock/advance", {"seconds": TO_BEIJING_MIDNIGHT})
        await client.wechat.send_template(ADA, TEMPLATE, DATA)
        await client.wechat.send_template(ADA, TEMPLATE, DATA)
        with pytest.raises(PolicyViolation):
            await client.wechat.send_template(ADA, TEMPLATE, DATA)
        await client.wechat.clear_quota()
        await client.wechat.send_template(ADA, TEMPLATE, DATA)
    finally:
        await client.aclose()
        await raw.aclose()
        await sim.aclose()
