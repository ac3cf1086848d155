"""LINE's per-endpoint rate limits before any I/O (issue 8; spec/line.md §4), sync and async.

Each call takes one unit of its endpoint's bucket in the Store (a counter per fixed window on
the injected clock); over the limit it is refused with ``line.rate.<endpoint>``, LINE's 429
and ``retry_after`` (the seconds until the window frees), and its unit is given back. The
limits are the channel policy's ``rate_limits``; the simulator counts the same windows.
"""

from __future__ import annotations

import inspect
import json
from typing import Any

import httpx
import pytest

from omnimsg import (
    Address,
    AsyncClient,
    Client,
    Line,
    MemoryStore,
    PolicyViolation,
    RateLimited,
    RetryPolicy,
    Text,
)
from omnimsg.clock import FakeClock
from omnimsg.platforms.line.flows import rate_key
from omnimsg.platforms.line.state import reply_token_key
from omnimsg.rules import line as rules
from omnimsg.testing import DEFAULT_LINE, line_channel, line_policy, line_sim_config
from omnimsg_sim import InProcessSimulator

BOT = "U" + "b" * 32
USER = "U" + "1" * 32
TOKEN = "line-channel-token-0123456789"
NOW = 1_780_000_000.0  # 1600 s into a clock hour, a whole second
ADA = Address("line", USER)
RATE = "The API rate limit has been exceeded. Try again later."

pytestmark = pytest.mark.anyio


class Fake:
    """Records every request path; answers 200 (``sentMessages`` for push and reply)."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self.script: list[tuple[int, dict[str, Any]]] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        if self.script:
            status, body = self.script.pop(0)
            return httpx.Response(status, json=body)
        if request.url.path.endswith(("/push", "/reply")):
            return httpx.Response(200, json={"sentMessages": [{"id": "m", "quoteToken": "q"}]})
        if request.url.path.startswith("/v2/bot/profile/"):
            return httpx.Response(200, json={"userId": USER, "displayName": "Ada"})
        return httpx.Response(200, json={})


async def run(value: Any) -> Any:
    """The value of a sync call, or of an awaited async one."""
    return (await value) if inspect.isawaitable(value) else value


async def close(c: Client | AsyncClient) -> None:
    if isinstance(c, AsyncClient):
        await c.aclose()
    else:
        c.close()


@pytest.fixture(params=["sync", "async"])
def face(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def make(
    face: str,
    fake: Fake,
    clock: FakeClock,
    *,
    limits: dict[str, tuple[int, float]] | None = None,
    store: MemoryStore | None = None,
    preflight: bool = True,
) -> Client | AsyncClient:
    policy = rules.latest()
    if limits:
        policy = policy.with_rate_limits(limits)
    ch = Line(bot_user_id=BOT, channel_access_token=TOKEN, channel_id="1234567890",
              channel_secret="line-channel-secret-abcdef", policy=policy)  # fmt: skip
    kind = Client if face == "sync" else AsyncClient
    return kind(
        [ch],
        clock=clock,
        store=store if store is not None else MemoryStore(clock=clock),
        transport=httpx.MockTransport(fake.handle),
        retry=RetryPolicy(max_attempts=1),
        preflight=preflight,
    )


def calls(c: Client | AsyncClient, endpoint: str, now: float) -> int:
    window, _ = rules.rate_window(rules.latest().rate_limit(endpoint), now)
    raw = c.store.get(rate_key(BOT, endpoint, window))  # type: ignore[union-attr]
    return int(raw) if raw is not None else 0


async def test_the_61st_broadcast_in_an_hour_is_refused_before_io_and_the_hour_frees_it(
    face: str,
) -> None:
    fake, clock = Fake(), FakeClock(NOW)
    c = make(face, fake, clock)
    assert rules.latest().rate_limit("broadcast").requests == 60  # §4: 60 an hour
    for _ in range(60):
        await run(c.line.broadcast(Text("sale")))
        clock.advance(10.0)  # spread over the hour: a fixed window, not a burst
    assert len(fake.paths) == 60 and clock.time() == NOW + 600
    with pytest.raises(PolicyViolation) as refused:
        await run(c.line.broadcast(Text("one too many")))
    v = refused.value.violation
    assert v.rule_id == "line.rate.broadcast" and v.http_status == 429 and v.title == RATE
    assert v.retry_after == pytest.approx(3600 - 1600 - 600)  # until the clock hour ends
    assert len(fake.paths) == 60  # no I/O
    assert calls(c, "broadcast", clock.time()) == 60  # the refused call gave its unit back
    clock.advance(v.retry_after - 1.0)
    with pytest.raises(PolicyViolation):
        await run(c.line.broadcast(Text("still this hour")))
    clock.advance(1.0)
    await run(c.line.broadcast(Text("a new hour")))
    assert len(fake.paths) == 61
    await close(c)


async def test_pushes_at_a_smaller_limit_per_second_and_check_reports_without_taking(
    face: str,
) -> None:
    fake, clock = Fake(), FakeClock(NOW)
    c = make(face, fake, clock, limits={"push": (3, 1.0)})
    assert rules.latest().rate_limit("push").requests == 2000  # §4: the default
    for _ in range(3):
        assert (await run(c.send(ADA, Text("hi")))).status == "push"
    assert await run(c.check(ADA, Text("hi"))) == await run(c.check(ADA, Text("hi")))
    (reported,) = await run(c.check(ADA, Text("hi")))
    assert reported.rule_id == "line.rate.push" and reported.retry_after == pytest.approx(1.0)
    assert calls(c, "push", NOW) == 3  # check took nothing
    with pytest.raises(PolicyViolation) as refused:
        await run(c.send(ADA, Text("fourth")))
    assert refused.value.violation.rule_id == "line.rate.push"
    assert len(fake.paths) == 3 and calls(c, "push", NOW) == 3
    clock.advance(0.5)
    with pytest.raises(PolicyViolation) as again:
        await run(c.send(ADA, Text("half a second later")))
    assert again.value.violation.retry_after == pytest.approx(0.5)
    # A reply is another endpoint with a bucket of its own.
    token = json.dumps({"token": "rt-1", "at": clock.time()}).encode()
    c.store.set(reply_token_key(BOT, USER), token, 60.0)  # type: ignore[union-attr]
    assert await run(c.check(ADA, Text("hi"))) == ()
    assert (await run(c.send(ADA, Text("a free reply")))).status == "reply"
    clock.advance(0.5)  # the next second: a new window
    assert (await run(c.send(ADA, Text("next second")))).status == "push"
    # A call LINE refused (a 4xx) gives its unit back; the simulator does not count it either.
    fake.script.append((400, {"message": "The request body has 1 error(s)"}))
    with pytest.raises(Exception, match="error"):
        await run(c.send(ADA, Text("refused by LINE")))
    assert calls(c, "push", clock.time()) == 1
    await close(c)


async def test_two_clients_on_one_store_share_the_bucket(face: str) -> None:
    fake, clock = Fake(), FakeClock(NOW)
    store = MemoryStore(clock=clock)
    first = make(face, fake, clock, limits={"push": (2, 1.0)}, store=store)
    second = make(face, fake, clock, limits={"push": (2, 1.0)}, store=store)
    await run(first.send(ADA, Text("1")))
    await run(second.send(ADA, Text("2")))
    with pytest.raises(PolicyViolation):
        await run(first.send(ADA, Text("3")))
    with pytest.raises(PolicyViolation):
        await run(second.send(ADA, Text("3")))
    assert len(fake.paths) == 2
    await close(first)
    await close(second)


async def test_every_endpoint_has_a_bucket_and_preflight_off_counts_nothing(face: str) -> None:
    fake, clock = Fake(), FakeClock(NOW)
    c = make(face, fake, clock, limits={"profile": (1, 1.0), "other": (1, 1.0)})
    await run(c.line.profile(ADA))
    with pytest.raises(PolicyViolation) as refused:
        await run(c.line.profile(ADA))
    assert refused.value.violation.rule_id == "line.rate.profile"
    # Endpoints without a row of their own have their own bucket at the "other" limit.
    await run(c.line.quota())
    await run(c.line.consumption())
    with pytest.raises(PolicyViolation) as other:
        await run(c.line.quota())
    assert other.value.violation.rule_id == "line.rate.quota"
    assert len(fake.paths) == 3
    off = make(face, fake, clock, limits={"push": (1, 1.0)}, preflight=False)
    for _ in range(3):
        await run(off.send(ADA, Text("no pre-flight")))
    assert len(fake.paths) == 6 and calls(off, "push", NOW) == 0
    await close(c)
    await close(off)


def test_a_limit_of_zero_is_no_limit_and_the_rule_is_pure() -> None:
    policy = rules.latest().with_rate_limits({"push": (0, 1.0)})
    assert rules.check_rate("push", 10**6, NOW, policy) is None
    refused = rules.check_rate("broadcast", 61, NOW + 0.25, rules.latest())
    assert refused is not None and refused.retry_after == pytest.approx(3600 - 1600.25)
    assert rules.check_rate("broadcast", 60, NOW, rules.latest()) is None
    assert rules.latest().rate_limit("no_such_endpoint").requests == 2000  # "other"


# --- the simulator agrees ---------------------------------------------------------------------


async def test_the_simulator_refuses_the_same_broadcast(face: str) -> None:
    config = line_sim_config(rate_limits={"broadcast": 2})
    assert line_policy(config).rate_limit("broadcast").requests == 2
    assert line_policy(config).rate_limit("broadcast").per_seconds == 3600.0
    sim = InProcessSimulator(config)
    paths: list[str] = []

    def note(request: httpx.Request) -> None:
        paths.append(request.url.path)

    kind = Client if face == "sync" else AsyncClient
    transport = sim.transport() if face == "sync" else sim.async_transport()
    hooks = {"request": [note] if face == "sync" else [_anote(note)]}
    http_kind = httpx.Client if face == "sync" else httpx.AsyncClient
    channel = line_channel(config, sim.base_url)
    make_client = lambda preflight: kind(  # noqa: E731
        [channel],
        clock=sim.clock,
        http_client=http_kind(transport=transport, event_hooks=hooks),  # type: ignore[arg-type]
        retry=RetryPolicy(max_attempts=1),
        preflight=preflight,
    )
    c, raw = make_client(True), make_client(False)
    for _ in range(2):
        await run(c.line.broadcast(Text("sale")))
    with pytest.raises(PolicyViolation) as refused:
        await run(c.line.broadcast(Text("third")))
    assert refused.value.violation.rule_id == "line.rate.broadcast"
    assert paths.count("/v2/bot/message/broadcast") == 2  # refused before any I/O
    with pytest.raises(RateLimited) as answered:  # the simulator's own 429, same call
        await run(raw.line.broadcast(Text("third, without pre-flight")))
    assert answered.value.http_status == 429 and RATE in str(answered.value)
    sim.control("POST", "/_sim/clock/advance", {"seconds": refused.value.violation.retry_after})
    await run(c.line.broadcast(Text("the next hour")))  # both sides: a new window
    assert paths.count("/v2/bot/message/broadcast") == 4
    assert DEFAULT_LINE["bot_user_id"] == channel.account  # type: ignore[attr-defined]
    await close(c)
    await close(raw)
    sim.close()


def _anote(note: Any) -> Any:
    async def hook(request: httpx.Request) -> None:
        note(request)

    return hook
