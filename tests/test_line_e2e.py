"""The SDK against the in-process simulator: LINE through the public interface, sync and async.

A ``Client`` (or ``AsyncClient``) with ``line_channel(...)`` talks to the simulator over its
transport, on the simulator's virtual clock; the simulator's signed webhooks reach the app
through ``client.webhooks.handle("line", ...)``. Customers act through the control plane
(``/_sim/inbound`` with ``"platform": "line"``). What the simulator counted is read from its
own ``GET /v2/bot/message/quota/consumption`` and its outbox, never from the SDK.
"""

from __future__ import annotations

import base64
from typing import Any

import attrs
import httpx
import pytest

from omnimsg import (
    Address,
    AsyncClient,
    AuthenticationError,
    Client,
    FollowChanged,
    Image,
    MessageReceived,
    PolicyRejected,
    PolicyViolation,
    Postback,
    Text,
)
from omnimsg.models.events import Event
from omnimsg.platforms.line.channel import Line
from omnimsg.testing import DEFAULT_LINE, line_channel, line_sim_config
from omnimsg_sim import InProcessSimulator
from omnimsg_sim.platforms.line.richmenu import sample_png

BOT = DEFAULT_LINE["bot_user_id"]
TOKEN = DEFAULT_LINE["channel_access_token"]
ADA = DEFAULT_LINE["customers"][0]["user_id"]
ALAN = DEFAULT_LINE["customers"][1]["user_id"]
GROUP = "C" + "7" * 32
FRIENDS = [f"U{i:032x}" for i in range(1, 201)]
MONTHLY = "You have reached your monthly limit."
# The simulator starts at 2026-03-02T09:00:00Z; April starts at 2026-03-31T15:00:00Z in JST.
TO_APRIL_JST = (29 * 24 + 6) * 3600


def many(n: int = len(FRIENDS)) -> list[dict[str, Any]]:
    """The default customers and ``n`` more friends (to use a month up with multicasts)."""
    extra = [{"user_id": u, "display_name": f"Friend {i}"} for i, u in enumerate(FRIENDS[:n])]
    return [*DEFAULT_LINE["customers"], *extra]


class Wire(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """The simulator's transport (sync or async), recording each request's path and retry
    key; ``lose`` answers of pushes are lost *after* the simulator acted (a read timeout)."""

    def __init__(self, sync: httpx.BaseTransport | None, aio: httpx.AsyncBaseTransport | None):
        self.sync, self.aio = sync, aio
        self.requests: list[tuple[str, str | None]] = []
        self.lose = 0

    def _note(self, request: httpx.Request) -> bool:
        self.requests.append((request.url.path, request.headers.get("x-line-retry-key")))
        if self.lose and request.url.path == "/v2/bot/message/push":
            self.lose -= 1
            return True
        return False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert self.sync is not None
        lost = self._note(request)
        response = self.sync.handle_request(request)
        if lost:
            response.read()
            raise httpx.ReadTimeout("the answer was lost", request=request)
        return response

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert self.aio is not None
        lost = self._note(request)
        response = await self.aio.handle_async_request(request)
        if lost:
            await response.aread()
            raise httpx.ReadTimeout("the answer was lost", request=request)
        return response

    def paths(self) -> list[str]:
        return [p for p, _ in self.requests]


class _Common:
    sim: InProcessSimulator
    config: Any
    events: list[Event]
    fail_after: int
    fail_before: int

    def _setup(self, overrides: dict[str, Any]) -> None:
        overrides.setdefault("webhook_url", "https://app.test/webhooks/line")
        self.config = line_sim_config(**overrides)
        self.events = []
        self.outcomes: list[Any] = []
        self.fail_after = 0  # answer 500 after handling (the app crashed after its work)
        self.fail_before = 0  # answer 500 without handling (the app was down)

    def channel(self, **changes: Any) -> Line:
        channel = line_channel(self.config, self.sim.base_url)
        assert isinstance(channel, Line)
        return attrs.evolve(channel, **changes) if changes else channel

    def consumption(self) -> int:
        """The simulator's own count: ``GET /v2/bot/message/quota/consumption``."""
        with httpx.Client(transport=self.sim.transport(), base_url=self.sim.base_url) as http:
            r = http.get(
                "/v2/bot/message/quota/consumption", headers={"authorization": f"Bearer {TOKEN}"}
            )
        assert r.status_code == 200, r.text
        return int(r.json()["totalUsage"])

    def raw_push(self, to: str = ADA) -> httpx.Response:
        """A push as any LINE client would make it (no omnimsg)."""
        with httpx.Client(transport=self.sim.transport(), base_url=self.sim.base_url) as http:
            return http.post(
                "/v2/bot/message/push",
                json={"to": to, "messages": [{"type": "text", "text": "raw"}]},
                headers={"authorization": f"Bearer {TOKEN}"},
            )

    def outbox(self, user: str = ADA) -> list[dict[str, Any]]:
        return list(self.sim.control("GET", f"/_sim/outbox?platform=line&user={user}")["messages"])

    def state(self) -> dict[str, Any]:
        return dict(self.sim.control("GET", "/_sim/state")["line"][BOT])

    def deliveries(self) -> list[dict[str, Any]]:
        return list(self.sim.control("GET", "/_sim/webhooks")["deliveries"])


class App(_Common):
    """The app under test: a sync ``Client`` on the simulator; webhooks go to ``handle``."""

    def __init__(self, *, preflight: bool = True, **overrides: Any) -> None:
        self._setup(overrides)
        self.sim = InProcessSimulator(
            self.config, webhook_transport=httpx.MockTransport(self._webhook)
        )
        self.wire = Wire(self.sim.transport(), None)
        self.client = self.make(preflight=preflight)

    def make(self, channel: Line | None = None, *, preflight: bool = True) -> Client:
        return Client(
            [channel or self.channel()],
            transport=self.wire,
            clock=self.sim.clock,
            preflight=preflight,
        )

    def _webhook(self, request: httpx.Request) -> httpx.Response:
        if self.fail_before:
            self.fail_before -= 1
            return httpx.Response(500)
        outcome = self.client.webhooks.handle(
            "line", request.method, str(request.url), request.headers, request.read()
        )
        self.outcomes.append(outcome)
        self.events.extend(outcome.events)
        if self.fail_after:
            self.fail_after -= 1
            return httpx.Response(500)
        return httpx.Response(outcome.status, content=outcome.body)

    def does(self, user: str = ADA, **action: Any) -> Event:
        """A customer acts (``text="hi"`` by default); the first new event the app received."""
        before = len(self.events)
        spec = {"platform": "line", "user": user, **(action or {"text": "hi"})}
        answer = self.sim.control("POST", "/_sim/inbound", spec)
        assert "error" not in answer, answer
        assert len(self.events) > before, answer
        return self.events[before]

    def advance(self, seconds: float) -> None:
        self.sim.control("POST", "/_sim/clock/advance", {"seconds": seconds})

    def close(self) -> None:
        self.client.close()
        self.sim.close()

    def __enter__(self) -> App:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def to(user: str = ADA) -> Address:
    return Address("line", user)


def fill(app: App, used: int) -> None:
    """Use ``used`` messages of the month with multicasts to friends (both sides count)."""
    for start in range(0, used, len(FRIENDS)):
        app.client.line.multicast(FRIENDS[: min(len(FRIENDS), used - start)], Text("sale"))


# --- reply, push, expiry, the fallback ---------------------------------------------------------


def test_a_reply_is_free_the_next_send_pushes_and_an_old_token_pushes() -> None:
    with App() as app:
        event = app.does(text="Where is my order?")
        assert isinstance(event, MessageReceived) and event.user == ADA
        assert app.consumption() == 0
        first = app.client.send(event.sender, Text("It ships today."))
        assert first.status == "reply" and first.message_id
        assert app.consumption() == 0  # replies are free (spec §4)
        second = app.client.send(event.sender, Text("Tracking: 1Z999"))
        assert second.status == "push" and app.consumption() == 1  # the token is single use
        app.does(text="Thanks!")
        app.advance(61)  # past the reply token's minute (spec §3)
        late = app.client.send(to(), Text("You're welcome"))
        assert late.status == "push" and app.consumption() == 2
        assert [m["text"] for m in app.outbox()] == [
            "It ships today.",
            "Tracking: 1Z999",
            "You're welcome",
        ]
        assert app.wire.paths().count("/v2/bot/message/reply") == 1


def test_a_token_line_expired_early_falls_back_to_a_push_and_says_so() -> None:
    # The SDK keeps tokens 60 s, the simulator (like a busy LINE) only 10 s.
    with App(reply_token_ttl=10.0) as app:
        app.client.close()
        app.client = app.make(app.channel(reply_token_lifetime=60.0))
        app.does(text="hello?")
        app.advance(30)
        assert app.client.window(to()).last_inbound_at is not None  # the SDK thinks it's valid
        result = app.client.send(to(), Text("Sorry for the wait"))
        assert result.status == "push" and app.consumption() == 1
        assert app.wire.paths()[-2:] == ["/v2/bot/message/reply", "/v2/bot/message/push"]
        assert [m["text"] for m in app.outbox()] == ["Sorry for the wait"]


# --- quotas ---------------------------------------------------------------------------------------


def test_a_free_plan_is_refused_before_io_and_the_month_rolls_over_in_jst() -> None:
    with App(customers=many(), plan="jp-communication") as app:
        fill(app, 200)
        assert app.consumption() == 200
        before = len(app.wire.requests)
        with pytest.raises(PolicyViolation) as refused:
            app.client.send(to(), Text("one more"))
        v = refused.value.violation
        assert v.rule_id == "line.quota.monthly" and v.http_status == 429 and v.title == MONTHLY
        assert v.message.startswith(MONTHLY)
        assert len(app.wire.requests) == before  # no I/O
        r = app.raw_push()
        assert (r.status_code, r.json()["message"]) == (429, MONTHLY)  # LINE says the same
        app.advance(TO_APRIL_JST - 1)  # 23:59:59 on March 31 in Japan
        with pytest.raises(PolicyViolation):
            app.client.send(to(), Text("still March"))
        assert app.raw_push().status_code == 429
        app.advance(1)  # midnight in Japan: a new month on both sides
        assert app.client.send(to(), Text("April!")).status == "push"
        assert app.raw_push().status_code == 200
        assert app.consumption() == 2


@pytest.mark.parametrize(("extra_limit", "over"), [(None, 7), (3, 3)])
def test_a_paid_plan_counts_its_additional_messages(extra_limit: int | None, over: int) -> None:
    overrides: dict[str, Any] = {"customers": many(), "plan": "tw-high"}  # 6,000 free
    if extra_limit is not None:
        overrides["extra_limit"] = extra_limit
    with App(**overrides) as app:
        fill(app, 6_000)
        for _ in range(over):
            assert app.client.send(to(), Text("extra")).status == "push"
        assert app.consumption() == 6_000 + over  # counted beyond the free messages
        quota = app.client.line.quota()
        assert quota.limited == (extra_limit is not None)
        if extra_limit is not None:
            assert quota.value == 6_000 + extra_limit
            with pytest.raises(PolicyViolation) as capped:
                app.client.send(to(), Text("over the cap"))
            assert capped.value.violation.title == MONTHLY
            assert app.raw_push().status_code == 429


# --- the retry key --------------------------------------------------------------------------------


def test_a_lost_answer_is_retried_with_the_same_key_and_409_is_success() -> None:
    with App() as app:
        app.wire.lose = 1  # LINE delivered, the answer never came back
        result = app.client.send(to(), Text("Your code is 4242"))
        assert result.status == "push"
        pushes = [(p, k) for p, k in app.wire.requests if p == "/v2/bot/message/push"]
        assert len(pushes) == 2 and pushes[0][1] is not None and pushes[0][1] == pushes[1][1]
        assert result.message_id  # the 409 carried the accepted request's sentMessages
        assert [m["text"] for m in app.outbox()] == ["Your code is 4242"]  # once
        assert app.consumption() == 1
        assert app.state()["retry_keys"] == [pushes[0][1]]


def test_a_5xx_before_line_acted_is_retried_with_the_same_key() -> None:
    with App() as app:
        fault = {"platform": "line", "operation": "line.push", "status": 500, "times": 1}
        app.sim.control("POST", "/_sim/faults", fault)
        assert app.client.send(to(), Text("hello")).status == "push"
        keys = [k for p, k in app.wire.requests if p == "/v2/bot/message/push"]
        assert len(keys) == 2 and keys[0] == keys[1]
        assert [m["text"] for m in app.outbox()] == ["hello"] and app.consumption() == 1


# --- a user who blocks the account ---------------------------------------------------------------


def test_a_user_who_blocks_is_refused_before_io_or_dropped_by_line() -> None:
    with App() as app:
        app.does(text="hi")
        app.client.send(to(), Text("Hello!"))  # the reply
        unfollow = app.does(unfollow=True)
        assert isinstance(unfollow, FollowChanged) and not unfollow.following
        assert not app.client.window(to()).open
        before = len(app.wire.requests)
        with pytest.raises(PolicyViolation) as blocked:
            app.client.send(to(), Text("Come back!"))
        assert blocked.value.violation.rule_id == "line.follow.blocked"
        assert len(app.wire.requests) == before
        raw = app.make(preflight=False)
        try:
            assert raw.send(to(), Text("Come back!")).status == "push"  # LINE answers 200
        finally:
            raw.close()
        assert [m["text"] for m in app.outbox()] == ["Hello!"]  # dropped
        assert app.consumption() == 0 and app.state()["dropped"] == 1  # and not counted
        follow = app.does(follow=True)
        assert isinstance(follow, FollowChanged) and follow.following
        assert follow.raw["follow"] == {"isUnblocked": True}
        assert app.client.send(to(), Text("Welcome back")).status == "reply"  # follow's token


# --- the extras -----------------------------------------------------------------------------------


def test_multicast_broadcast_narrowcast_validate_and_quota() -> None:
    with App(plan="jp-light") as app:
        rid = app.client.line.multicast([ADA, ALAN], Text("Sale!"))
        assert rid and app.consumption() == 2
        assert app.client.line.broadcast([Text("News"), Text("More news")])
        assert app.consumption() == 4  # two friends, per recipient not per message
        request_id = app.client.line.narrowcast(Text("For some"), limit={"max": 1})
        assert request_id is not None
        assert app.client.line.narrowcast_progress(request_id).phase == "waiting"
        app.advance(1.5)
        assert app.client.line.narrowcast_progress(request_id).phase == "sending"
        app.advance(5)
        done = app.client.line.narrowcast_progress(request_id)
        assert (done.phase, done.success_count, done.target_count) == ("succeeded", 1, 1)
        assert app.consumption() == 5
        assert app.client.line.validate("push", Text("fine")).valid
        bad = app.client.line.validate("push", Text("x" * 5001))
        assert not bad.valid and bad.details == (
            ("messages[0].text", "Length must be between 0 and 5000"),
        )
        quota = app.client.line.quota()
        assert quota.limited and quota.value == 5_000
        assert app.client.line.consumption() == app.consumption() == 5
        texts = [m["text"] for m in app.outbox(ADA)]
        assert texts == ["Sale!", "News", "More news", "For some"]


def test_profile_loading_mark_as_read_and_content() -> None:
    with App(transcoding_time=5.0) as app:
        profile = app.client.line.profile(to())
        assert (profile.user_id, profile.display_name, profile.language) == (
            ADA,
            "Ada Lovelace",
            "en",
        )
        app.client.line.show_loading(to(), 10)
        assert ADA in app.state()["loading"]
        jpeg = b"\xff\xd8\xff\xe0 a photo"
        photo = app.does(image={"data_base64": base64.b64encode(jpeg).decode()})
        assert isinstance(photo, MessageReceived) and isinstance(photo.content, Image)
        token = photo.raw["message"]["markAsReadToken"]
        app.client.line.mark_as_read(token)
        assert app.client.line.content_status(photo.message_id) == "succeeded"
        assert app.client.line.content(photo.message_id) == jpeg
        mp4 = b"\x00\x00\x00\x18ftypmp42 a clip"
        clip = app.does(video={"data_base64": base64.b64encode(mp4).decode(), "duration": 3000})
        assert app.client.line.content_status(clip.message_id) == "processing"
        app.advance(5)
        assert app.client.line.content_status(clip.message_id) == "succeeded"
        assert app.client.line.content(clip.message_id) == mp4
        app.client.send(to(), Text("Got it"))  # a message from the OA ends the animation
        assert ADA not in app.state()["loading"]


MENU = {
    "size": {"width": 2500, "height": 1686},
    "selected": True,
    "name": "FAQ",
    "chatBarText": "Help",
    "areas": [
        {
            "bounds": {"x": 0, "y": 0, "width": 1250, "height": 1686},
            "action": {"type": "postback", "data": "faq=hours", "displayText": "Opening hours"},
        },
        {
            "bounds": {"x": 1250, "y": 0, "width": 1250, "height": 1686},
            "action": {"type": "message", "text": "Talk to a person"},
        },
    ],
}


def test_a_rich_menu_from_creation_to_a_customers_tap() -> None:
    with App() as app:
        line = app.client.line
        menu_id = line.create_rich_menu(MENU)
        line.upload_rich_menu_image(menu_id, sample_png(), content_type="image/png")
        line.set_default_rich_menu(menu_id)
        line.create_rich_menu_alias("faq", menu_id)
        assert [m.id for m in line.rich_menus()] == [menu_id]
        tap = app.does(richmenu={"area": 0})
        assert isinstance(tap, Postback) and tap.payload == "faq=hours"
        assert app.client.send(tap.sender, Text("We open at 9")).status == "reply"
        other = line.create_rich_menu({**MENU, "name": "VIP"})
        line.upload_rich_menu_image(other, sample_png(), content_type="image/png")
        line.link_rich_menu(to(ALAN), other)
        said = app.does(ALAN, richmenu={"area": 1})
        assert isinstance(said, MessageReceived) and said.content == Text("Talk to a person")
        line.unlink_rich_menu(to(ALAN))
        line.delete_rich_menu(other)
        assert [m.id for m in line.rich_menus()] == [menu_id]


def test_channel_tokens_issue_use_verify_revoke() -> None:
    with App() as app:
        issued = app.client.line.issue_token("short_lived")
        assert issued.expires_in == 30 * 86_400 and issued.token_type == "Bearer"
        info = app.client.line.verify_token(issued.access_token)
        assert info.client_id == DEFAULT_LINE["channel_id"] and info.expires_in > 0
        other = app.make(app.channel(channel_access_token=issued.access_token))
        try:
            assert other.send(to(), Text("sent with an issued token")).status == "push"
            app.client.line.revoke_token(issued.access_token)
            with pytest.raises(AuthenticationError) as refused:
                other.send(to(), Text("revoked"))
            assert refused.value.http_status == 401
        finally:
            other.close()
        stateless = app.client.line.issue_token("stateless")
        assert 0 < stateless.expires_in <= 900


# --- redelivery: exactly once -----------------------------------------------------------------


def test_a_redelivery_of_a_handled_event_is_a_duplicate() -> None:
    with App() as app:
        app.fail_after = 1  # handled, then the app's framework answered 500
        first = app.does(text="once")
        app.advance(10)  # the simulator's first retry delay
        assert [d["attempt"] for d in app.deliveries()] == [1, 2]
        assert len(app.outcomes) == 2
        again = app.outcomes[1]
        assert again.duplicates == 1 and again.events == () and again.status == 200
        assert [e for e in app.events if isinstance(e, MessageReceived)] == [first]


def test_a_redelivery_of_an_unhandled_event_is_handled_once() -> None:
    with App() as app:
        app.fail_before = 1  # the app was down: nothing handled
        answer = app.sim.control(
            "POST", "/_sim/inbound", {"platform": "line", "user": ADA, "text": "are you there?"}
        )
        assert answer["delivery"]["status"] == 500 and app.events == []
        app.advance(10)
        (event,) = app.events
        assert isinstance(event, MessageReceived) and event.content == Text("are you there?")
        assert event.raw["deliveryContext"] == {"isRedelivery": True}
        assert event.raw["webhookEventId"] == answer["message"]["event"]["webhookEventId"]
        # A redelivered token is most likely expired (research §3): the SDK pushes.
        assert app.client.send(to(), Text("Yes!")).status == "push"


# --- async: the same journeys, awaited --------------------------------------------------------


class AsyncApp(_Common):
    """The app under test with an ``AsyncClient``; webhooks through ``client.webhooks.handle``."""

    def __init__(self, *, preflight: bool = True, **overrides: Any) -> None:
        self._setup(overrides)
        self.sim = InProcessSimulator(
            self.config, async_webhook_transport=httpx.MockTransport(self._webhook)
        )
        self.wire = Wire(None, self.sim.async_transport())
        self.client = self.make(preflight=preflight)

    def make(self, channel: Line | None = None, *, preflight: bool = True) -> AsyncClient:
        return AsyncClient(
            [channel or self.channel()],
            transport=self.wire,
            clock=self.sim.clock,
            preflight=preflight,
        )

    async def _webhook(self, request: httpx.Request) -> httpx.Response:
        outcome = await self.client.webhooks.handle(
            "line", request.method, str(request.url), request.headers, await request.aread()
        )
        self.outcomes.append(outcome)
        self.events.extend(outcome.events)
        if self.fail_after:
            self.fail_after -= 1
            return httpx.Response(500)
        return httpx.Response(outcome.status, content=outcome.body)

    async def does(self, user: str = ADA, **action: Any) -> Event:
        before = len(self.events)
        spec = {"platform": "line", "user": user, **(action or {"text": "hi"})}
        answer = await self.sim.acontrol("POST", "/_sim/inbound", spec)
        assert "error" not in answer and len(self.events) > before, answer
        return self.events[before]

    async def advance(self, seconds: float) -> None:
        await self.sim.acontrol("POST", "/_sim/clock/advance", {"seconds": seconds})

    async def aclose(self) -> None:
        await self.client.aclose()
        await self.sim.aclose()


@pytest.mark.anyio
async def test_async_reply_push_expiry_fallback_and_blocked() -> None:
    app = AsyncApp(reply_token_ttl=10.0)
    try:
        c = app.client
        event = await app.does(text="Where is my order?")
        assert (await c.send(event.sender, Text("Today"))).status == "reply"
        assert app.consumption() == 0
        assert (await c.send(event.sender, Text("Tracking"))).status == "push"
        assert app.consumption() == 1
        await app.does(text="ok")
        await app.advance(30)  # the simulator's 10 s are over, the channel's 10 s too
        assert (await c.send(to(), Text("late"))).status == "push"
        await c.aclose()
        app.client = c = app.make(app.channel(reply_token_lifetime=60.0))
        await app.does(text="again")
        await app.advance(30)  # the SDK still holds the token; LINE says Invalid reply token
        assert (await c.send(to(), Text("fallback"))).status == "push"
        assert app.wire.paths()[-2:] == ["/v2/bot/message/reply", "/v2/bot/message/push"]
        assert app.consumption() == 3
        await app.does(unfollow=True)
        with pytest.raises(PolicyViolation) as blocked:
            await c.send(to(), Text("come back"))
        assert blocked.value.violation.rule_id == "line.follow.blocked"
        raw = app.make(preflight=False)
        try:
            assert (await raw.send(to(), Text("come back"))).status == "push"
        finally:
            await raw.aclose()
        assert app.consumption() == 3 and app.state()["dropped"] == 1
        assert [m["text"] for m in app.outbox()] == ["Today", "Tracking", "late", "fallback"]
    finally:
        await app.aclose()


@pytest.mark.anyio
async def test_async_quota_rollover_retry_key_and_extras() -> None:
    app = AsyncApp(customers=many())
    try:
        c = app.client
        app.wire.lose = 1
        assert (await c.send(to(), Text("once"))).status == "push"
        keys = [k for p, k in app.wire.requests if p == "/v2/bot/message/push"]
        assert len(keys) == 2 and keys[0] == keys[1]
        assert [m["text"] for m in app.outbox()] == ["once"]
        await c.line.multicast(FRIENDS[:199], Text("sale"))
        assert app.consumption() == 200
        with pytest.raises(PolicyViolation) as refused:
            await c.send(to(), Text("over"))
        assert refused.value.violation.title == MONTHLY
        raw = app.make(preflight=False)
        try:
            with pytest.raises(PolicyRejected) as native:  # LINE's own 429, not retried
                await raw.send(to(), Text("over"))
            assert native.value.http_status == 429 and str(native.value).startswith(MONTHLY)
        finally:
            await raw.aclose()
        await app.advance(TO_APRIL_JST)
        assert (await c.send(to(), Text("April"))).status == "push"
        assert (await c.line.profile(to())).display_name == "Ada Lovelace"
        assert await c.line.consumption() == 1
        menu_id = await c.line.create_rich_menu(MENU)
        await c.line.upload_rich_menu_image(menu_id, sample_png(), content_type="image/png")
        await c.line.set_default_rich_menu(menu_id)
        tap = await app.does(richmenu={"area": 0})
        assert isinstance(tap, Postback) and tap.payload == "faq=hours"
        app.fail_after = 1
        await app.does(text="handled then 500")
        await app.advance(10)
        assert app.outcomes[-1].duplicates == 1 and app.outcomes[-1].events == ()
    finally:
        await app.aclose()
