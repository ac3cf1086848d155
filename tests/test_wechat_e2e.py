"""The SDK against the in-process simulator: WeChat through the public interface, sync and
async, on the simulator's virtual clock.

A ``Client`` (or ``AsyncClient``) with ``wechat_channel(...)`` talks to the simulator over its
transport; the simulator's signed (and, in safe and compatible mode, encrypted) webhooks reach
the app through ``client.webhooks.handle("wechat", ...)``, whose answer (``success``, or a
passive reply from ``client.wechat.passive_reply``) goes back to the simulator. Customers act
through the control plane (``/_sim/inbound`` with ``"platform": "wechat"``). Every refusal is
checked on both sides: the SDK's pre-flight refuses before any I/O with WeChat's own code,
and a client without pre-flight (``preflight=False``) gets the simulator's answer for the same
send as a typed error with the same code. What the simulator counted (token fetches, windows,
passive replies) is read from its own ``GET /_sim/state`` and outbox, never from the SDK.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import attrs
import httpx
import pytest

from omnimsg import (
    Address,
    AsyncClient,
    Button,
    Client,
    Content,
    FollowChanged,
    Image,
    LinkButton,
    MemoryStore,
    MenuLinkOpened,
    MessageReceived,
    NotFound,
    PlatformError,
    PolicyRejected,
    PolicyViolation,
    Postback,
    QrScanned,
    RetryPolicy,
    StatusUpdate,
    Text,
    WeChat,
)
from omnimsg.models.events import Event
from omnimsg.testing import DEFAULT_WECHAT, wechat_channel, wechat_sim_config
from omnimsg_sim import InProcessSimulator

ACCOUNT = DEFAULT_WECHAT["account_id"]
APP_ID = DEFAULT_WECHAT["app_id"]
SECRET = DEFAULT_WECHAT["app_secret"]
ADA = DEFAULT_WECHAT["customers"][0]["openid"]
ALAN = DEFAULT_WECHAT["customers"][1]["openid"]
GRACE = DEFAULT_WECHAT["customers"][2]["openid"]  # does not follow the account
KATHERINE = DEFAULT_WECHAT["customers"][3]["openid"]  # blocks template messages
TEMPLATE = DEFAULT_WECHAT["templates"][0]
HOUR = 3600.0
MODES = ["safe", "compatible", "plaintext"]
TOKEN_REFUSALS = {40001, 40014, 42001}


class Wire(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """The simulator's transport (sync or async), recording each request's path and the
    errcode of its answer."""

    def __init__(self, sync: httpx.BaseTransport | None, aio: httpx.AsyncBaseTransport | None):
        self.sync, self.aio = sync, aio
        self.calls: list[tuple[str, int]] = []

    def _note(self, request: httpx.Request, response: httpx.Response) -> None:
        try:
            code = int(json.loads(response.content).get("errcode", 0))
        except (ValueError, AttributeError):
            code = 0
        self.calls.append((request.url.path, code))

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert self.sync is not None
        response = self.sync.handle_request(request)
        response.read()
        self._note(request, response)
        return response

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert self.aio is not None
        response = await self.aio.handle_async_request(request)
        await response.aread()
        self._note(request, response)
        return response

    def paths(self) -> list[str]:
        return [p for p, _ in self.calls]

    def token_refusals(self) -> list[tuple[str, int]]:
        return [c for c in self.calls if c[1] in TOKEN_REFUSALS]


class _Common:
    sim: InProcessSimulator
    config: Any
    wire: Wire

    def _setup(self, mode: str, overrides: dict[str, Any]) -> None:
        self.config = wechat_sim_config(mode=mode, **overrides)
        self.events: list[Event] = []
        self.outcomes: list[Any] = []
        # The passive reply the app answers a webhook's last event with (None: "success").
        self.reply: Callable[[Event], Content | None] | None = None
        # Virtual seconds the app takes to answer the next webhooks (one per answer).
        self.slow: list[float] = []

    def channel(self, **changes: Any) -> WeChat:
        channel = wechat_channel(self.config, self.sim.base_url)
        assert isinstance(channel, WeChat)
        return attrs.evolve(channel, **changes) if changes else channel

    def state(self) -> dict[str, Any]:
        return dict(self.sim.control("GET", "/_sim/state")["wechat"][ACCOUNT])

    def tokens(self, space: str = "stable") -> int:
        """The simulator's own count of token fetches (``calls`` of the stable endpoint)."""
        counts = self.state()["tokens"][space]
        return int(counts["calls"] if space == "stable" else counts["fetches"])

    def outbox(self, user: str = ADA) -> list[dict[str, Any]]:
        return list(
            self.sim.control("GET", f"/_sim/outbox?platform=wechat&user={user}")["messages"]
        )

    def deliveries(self) -> list[dict[str, Any]]:
        return list(self.sim.control("GET", "/_sim/webhooks")["deliveries"])

    def raw_api(self, method: str, path: str, **kw: Any) -> Any:
        """A call as another client of the same account would make it (no omnimsg)."""
        with httpx.Client(transport=self.sim.transport(), base_url=self.sim.base_url) as http:
            return http.request(method, path, **kw).json()

    def _answer(self, outcome: Any) -> httpx.Response:
        self.outcomes.append(outcome)
        self.events.extend(outcome.events)
        if self.slow:
            self.sim.clock.advance(self.slow.pop(0))  # the handler took that long
        headers = {"content-type": outcome.content_type}
        return httpx.Response(outcome.status, content=outcome.body, headers=headers)


class App(_Common):
    """The app under test: a sync ``Client`` with pre-flight (``client``) and one without
    (``raw``), sharing one Store; webhooks go to ``client.webhooks.handle``."""

    def __init__(self, *, mode: str = "safe", **overrides: Any) -> None:
        self._setup(mode, overrides)
        self.sim = InProcessSimulator(
            self.config, webhook_transport=httpx.MockTransport(self._webhook)
        )
        self.wire = Wire(self.sim.transport(), None)
        self.store = MemoryStore(clock=self.sim.clock)
        self.client = self.make()
        self.raw = self.make(preflight=False)

    def make(self, channel: WeChat | None = None, *, preflight: bool = True) -> Client:
        return Client(
            [channel or self.channel()],
            transport=self.wire,
            clock=self.sim.clock,
            store=self.store,
            preflight=preflight,
            retry=RetryPolicy(max_attempts=1),
        )

    def _webhook(self, request: httpx.Request) -> httpx.Response:
        outcome = self.client.webhooks.handle(
            "wechat", request.method, str(request.url), request.headers, request.read()
        )
        if self.reply is not None and outcome.events:
            content = self.reply(outcome.events[-1])
            if content is not None:
                outcome = attrs.evolve(
                    self.client.wechat.passive_reply(outcome.events[-1], content),
                    events=outcome.events,
                    duplicates=outcome.duplicates,
                )
        return self._answer(outcome)

    def does(self, user: str = ADA, **action: Any) -> list[Event]:
        """A customer acts (``text="hi"`` by default); the new events the app received."""
        before = len(self.events)
        spec = {"platform": "wechat", "user": user, **(action or {"text": "hi"})}
        answer = self.sim.control("POST", "/_sim/inbound", spec)
        assert "error" not in answer, answer
        assert len(self.events) > before, answer
        return self.events[before:]

    def advance(self, seconds: float) -> None:
        self.sim.control("POST", "/_sim/clock/advance", {"seconds": seconds})

    def refused_on_both_sides(self, user: str, content: Content, code: int) -> None:
        """The SDK refuses before any I/O with ``code``; the simulator answers ``code`` too."""
        before = len(self.wire.calls)
        assert [v.native_code for v in self.client.check(Address("wechat", user), content)] == [
            code
        ]
        with pytest.raises(PolicyViolation) as preflight:
            self.client.send(Address("wechat", user), content)
        assert preflight.value.violation.native_code == code
        assert len(self.wire.calls) == before, "the pre-flight made a request"
        with pytest.raises(PlatformError) as platform:
            self.raw.send(Address("wechat", user), content)
        assert platform.value.code == code, platform.value
        assert self.wire.calls[-1] == ("/cgi-bin/message/custom/send", code)

    def close(self) -> None:
        self.client.close()
        self.raw.close()
        self.sim.close()

    def __enter__(self) -> App:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def to(user: str = ADA) -> Address:
    return Address("wechat", user)


def texts(app: _Common, user: str = ADA) -> list[str]:
    return [m["text"] for m in app.outbox(user)]


# --- the 48-hour window, its count, the event windows, unfollows ---------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_customer_writes_and_the_48_hour_window_closes_on_both_sides(mode: str) -> None:
    with App(mode=mode) as app:
        [event] = app.does(text="Where is my order?")
        assert isinstance(event, MessageReceived) and event.user == ADA
        assert event.content == Text("Where is my order?") and event.account == ACCOUNT
        assert app.outcomes[-1].body == b"success"  # handled, no passive reply (§3.4)
        app.advance(47 * HOUR)
        assert app.client.window(to()).open
        assert app.client.send(to(), Text("It ships today.")).status == "sent"
        app.advance(2 * HOUR)  # 49 h after the message
        window = app.client.window(to())
        assert not window.open and window.allowed_when_closed == ("template", "subscribe")
        app.refused_on_both_sides(ADA, Text("Still there?"), 45015)
        assert texts(app) == ["It ships today."]
        with pytest.raises(PolicyRejected) as late:  # the typed error of the simulator's 45015
            app.raw.send(to(), Text("late"))
        assert late.value.rule_id == "wechat.window.closed"


def test_five_sends_then_45047_on_both_sides_and_a_new_message_opens_a_new_window() -> None:
    with App() as app:
        app.does(text="hello")
        for i in range(5):
            app.client.send(to(), Text(f"answer {i}"))
        assert app.state()["windows"][ADA][0]["remaining"] == 0
        app.refused_on_both_sides(ADA, Text("a sixth"), 45047)
        app.does(text="one more question")  # the count starts again (research §5)
        assert app.client.send(to(), Text("sure")).status == "sent"
        assert len(app.outbox()) == 6


def _opens_event_window(app: App, how: str) -> str:
    """A follow, a QR scan or a menu click; the customer it came from."""
    if how == "follow":
        [event] = app.does(GRACE, follow=True)
        assert isinstance(event, FollowChanged) and event.following
        return GRACE
    if how == "scan":
        qr = app.client.wechat.create_qr(7, expire_seconds=600)
        follow, scan = app.does(GRACE, scan=qr.ticket)
        assert isinstance(follow, FollowChanged) and isinstance(scan, QrScanned)
        return GRACE
    app.client.wechat.create_menu([Button("faq", "FAQ")])
    [click] = app.does(ADA, click="faq")
    assert isinstance(click, Postback) and click.source == "menu"
    return ADA


@pytest.mark.parametrize("how", ["follow", "scan", "click"])
def test_an_event_opens_3_messages_for_one_minute_on_both_sides(how: str) -> None:
    with App() as app:
        user = _opens_event_window(app, how)
        [window] = app.state()["windows"][user]
        assert (window["kind"], window["remaining"]) == ("event", 3)
        for i in range(3):
            app.client.send(to(user), Text(f"welcome {i}"))
        app.refused_on_both_sides(user, Text("a fourth"), 45047)
        app.advance(60)  # the minute is over
        app.refused_on_both_sides(user, Text("late"), 45015)
        assert len(app.outbox(user)) == 3


def test_an_unfollow_is_43004_on_both_sides_and_a_follow_reopens_only_the_short_window() -> None:
    with App() as app:
        app.does(text="hi")
        [bye] = app.does(unfollow=True)
        assert isinstance(bye, FollowChanged) and not bye.following
        assert not app.client.window(to()).open
        app.refused_on_both_sides(ADA, Text("come back"), 43004)
        app.does(follow=True)
        app.client.send(to(), Text("welcome back"))
        app.advance(61)  # the unfollow ended the 48-hour window: only the follow's minute
        app.refused_on_both_sides(ADA, Text("and the old window?"), 45015)


# --- passive replies --------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_passive_reply_is_recorded_and_takes_nothing_of_the_window(mode: str) -> None:
    with App(mode=mode) as app:
        app.reply = lambda e: Text(f"You said: {e.content.body}")  # type: ignore[attr-defined]
        app.does(text="ping")
        body = app.outcomes[-1].body
        assert (b"<Encrypt>" in body) == (mode != "plaintext")
        [reply] = app.outbox()
        assert (reply["type"], reply["text"], reply["message_id"]) == (
            "text",
            "You said: ping",
            reply["message_id"],
        )
        state = app.state()
        assert state["passive_replies"]["recorded"] == 1 and not state["passive_replies"]["refused"]
        assert state["windows"][ADA][0]["remaining"] == 5  # a reply is no CS message
        assert app.client.send(to(), Text("and a CS message")).status == "sent"


@pytest.mark.parametrize("mode", ["safe", "plaintext"])
def test_a_reply_after_5_seconds_is_refused_and_the_retry_is_a_duplicate(mode: str) -> None:
    with App(mode=mode) as app:
        app.reply = lambda e: Text("too late")
        app.slow = [6.0]  # the first answer comes 6 s (virtual) after the push
        [event] = app.does(text="are you there?")
        first, again = app.outcomes
        assert first.events == (event,) and first.duplicates == 0
        assert again.events == () and again.duplicates == 1  # the same MsgId: handled once
        assert again.body == b"success"
        pushes = [d for d in app.deliveries() if d["kind"] == "text"]
        assert len(pushes) == 2
        replies = app.state()["passive_replies"]
        assert (replies["late"], replies["recorded"], replies["no_reply"]) == (1, 0, 1)
        assert app.outbox() == []  # the late reply never reached the customer
        assert [e for e in app.events if isinstance(e, MessageReceived)] == [event]
        app.client.send(event.sender, Text("Sorry for the wait"))  # the CS API instead
        assert texts(app) == ["Sorry for the wait"]


def test_a_passive_reply_answers_a_follow_and_a_click() -> None:
    with App() as app:
        app.client.wechat.create_menu([Button("hours", "Hours")])
        app.reply = lambda e: Text("Welcome!" if isinstance(e, FollowChanged) else "9 to 5")
        app.does(GRACE, follow=True)
        app.does(ADA, click="hours")
        assert texts(app, GRACE) == ["Welcome!"] and texts(app, ADA) == ["9 to 5"]


# --- access tokens ------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ["stable", "classic"])
def test_one_token_fetch_per_lifetime_and_no_refusal(endpoint: str) -> None:
    with App() as app:
        app.client.close()
        app.raw.close()
        app.client = app.make(app.channel(token_endpoint=endpoint))
        app.raw = app.make(app.channel(token_endpoint=endpoint), preflight=False)
        lifetimes = 5
        for _ in range(lifetimes):
            app.does(text="hi")
            for i in range(3):
                app.client.send(to(), Text(f"answer {i}"))
                app.raw.wechat.user_info(ALAN)
            app.advance(2 * HOUR)  # the token's 7,200 s
        assert app.tokens(endpoint) == lifetimes
        assert app.wire.token_refusals() == []
        assert len(app.outbox()) == 3 * lifetimes


def test_a_classic_token_superseded_by_another_client_is_refetched_once() -> None:
    with App() as app:
        app.client = app.make(app.channel(token_endpoint="classic"))
        assert app.client.wechat.user_info(ADA).subscribed
        # Another service fetches a classic token: ours keeps working for the 5-minute grace.
        other = app.raw_api(
            "GET",
            "/cgi-bin/token",
            params={"grant_type": "client_credential", "appid": APP_ID, "secret": SECRET},
        )
        assert other["access_token"]
        app.advance(299)
        assert app.client.wechat.user_info(ADA).subscribed
        app.advance(2)  # the grace is over: ours is 40001 now
        info = app.client.wechat.user_info(ADA)
        assert info.subscribed and info.remark == "Ada Lovelace"
        assert app.wire.paths()[-3:] == [
            "/cgi-bin/user/info",
            "/cgi-bin/token",
            "/cgi-bin/user/info",
        ]
        assert app.wire.token_refusals() == [("/cgi-bin/user/info", 40001)]  # once
        assert app.tokens("classic") == 3  # ours, the other's, ours again


def test_a_stable_token_forced_out_by_another_client_is_refetched_once() -> None:
    with App() as app:
        app.client.wechat.user_info(ADA)
        forced = app.raw_api(
            "POST",
            "/cgi-bin/stable_token",
            json={
                "grant_type": "client_credential",
                "appid": APP_ID,
                "secret": SECRET,
                "force_refresh": True,
            },
        )
        assert forced["access_token"]
        app.advance(301)  # the forced-out token's grace is over
        assert app.client.wechat.user_info(ADA).subscribed
        assert app.wire.token_refusals() == [("/cgi-bin/user/info", 40001)]
        assert app.wire.paths()[-2:] == ["/cgi-bin/stable_token", "/cgi-bin/user/info"]


# --- QR codes, the menu, tags and users ------------------------------------------------------------


def test_a_qr_code_brings_a_follower_with_its_scene_and_a_follower_scans_it() -> None:
    with App() as app:
        qr = app.client.wechat.create_qr("shop-42", expire_seconds=3600)
        assert qr.expire_seconds == 3600 and qr.image_url.endswith(
            qr.ticket.replace("+", "%2B").replace("/", "/").replace("=", "%3D")
        )
        follow, scan = app.does(GRACE, scan=qr.ticket)
        assert isinstance(follow, FollowChanged) and follow.following and follow.user == GRACE
        assert isinstance(scan, QrScanned)
        assert (scan.new_follower, scan.scene, scan.ticket) == (True, "shop-42", qr.ticket)
        info = app.client.wechat.user_info(GRACE)
        assert info.subscribed and info.subscribe_scene == "ADD_SCENE_QR_CODE"
        assert info.qr_scene_str == "shop-42"
        [again] = app.does(ADA, scan=qr.ticket)  # already a follower: SCAN
        assert isinstance(again, QrScanned) and not again.new_follower and again.scene == "shop-42"
        permanent = app.client.wechat.create_qr(100_000)
        assert permanent.expire_seconds is None
        [scan2] = app.does(ALAN, scan=permanent.ticket)
        assert isinstance(scan2, QrScanned) and scan2.scene == "100000"
        app.advance(3601)  # the temporary code expired: the simulator refuses the scan
        answer = app.sim.control(
            "POST", "/_sim/inbound", {"platform": "wechat", "user": ALAN, "scan": qr.ticket}
        )
        assert "error" in answer


def test_the_menu_round_trip_and_its_events() -> None:
    with App() as app:
        assert app.client.wechat.menu() is None  # 46003: no menu yet
        app.client.wechat.create_menu(
            [
                Button("faq", "FAQ"),
                {"name": "Shop", "sub_button": [LinkButton("Store", "https://shop.example")]},
            ]
        )
        menu = app.client.wechat.menu()
        assert menu is not None and menu.buttons[0]["key"] == "faq"
        [click] = app.does(click="faq")
        assert isinstance(click, Postback)
        assert (click.source, click.payload, click.user) == ("menu", "faq", ADA)
        [view] = app.does(view="https://shop.example")
        assert isinstance(view, MenuLinkOpened) and view.url == "https://shop.example"
        app.client.wechat.delete_menu()
        assert app.client.wechat.menu() is None


def test_tags_and_user_info_round_trip() -> None:
    with App() as app:
        vip = app.client.wechat.create_tag("VIP 客户")
        app.client.wechat.tag_users(vip.id, [ADA, ALAN])
        assert {t.name: t.count for t in app.client.wechat.tags()}["VIP 客户"] == 2
        assert app.client.wechat.user_tags(ADA) == [vip.id]
        info = app.client.wechat.user_info(ADA)
        assert info.tag_ids == (vip.id,) and info.remark == "Ada Lovelace"
        [alan] = app.client.wechat.users_info([ALAN], lang="en")
        assert alan.openid == ALAN and alan.language == "en"
        app.client.wechat.rename_tag(vip.id, "VIP")
        app.client.wechat.untag_users(vip.id, [ALAN])
        assert {t.name: t.count for t in app.client.wechat.tags()}["VIP"] == 1
        app.client.wechat.delete_tag(vip.id)
        assert "VIP" not in {t.name for t in app.client.wechat.tags()}
        assert app.client.wechat.user_tags(ADA) == []
        for name, code in (("x" * 31, 45158), ("", 45157)):
            with pytest.raises(PolicyViolation) as refused:
                app.client.wechat.create_tag(name)
            assert refused.value.violation.native_code == code
            with pytest.raises(PlatformError) as platform:
                app.raw.wechat.create_tag(name)
            assert platform.value.code == code


def test_media_upload_then_an_image_and_expired_media_is_40007() -> None:
    with App() as app:
        media_id = app.client.wechat.upload_media(
            "image", b"\x89PNG\r\n\x1a\n...", filename="a.png"
        )
        app.does(text="a photo please")
        app.client.send(to(), Image(media_id=media_id))
        [sent] = app.outbox()
        assert sent["type"] == "image" and sent["raw"]["image"]["media_id"] == media_id
        app.advance(3 * 24 * HOUR)  # temporary media lives 3 days
        app.does(text="again?")
        with pytest.raises(NotFound) as expired:  # what only WeChat knows
            app.client.send(to(), Image(media_id=media_id))
        assert expired.value.code == 40007
        assert app.client.send(to(), Text("re-uploading")).status == "sent"  # count given back


def test_a_template_with_client_msg_id_then_its_job_finished_status() -> None:
    with App() as app:
        data = {"keyword1": "Order 1042", "keyword2": "shipped"}
        msgid = app.client.wechat.send_template(ADA, TEMPLATE, data, client_msg_id="order-1042")
        assert msgid is not None
        again = app.client.wechat.send_template(ADA, TEMPLATE, data, client_msg_id="order-1042")
        assert again == msgid  # the idempotency key: sent once
        assert texts(app) == ["Order 1042 shipped"]
        app.advance(1)
        [status] = [e for e in app.events if isinstance(e, StatusUpdate)]
        assert (status.message_id, status.status, status.user) == (str(msgid), "delivered", ADA)
        app.client.wechat.send_template(KATHERINE, TEMPLATE, data)
        app.advance(1)
        failed = [e for e in app.events if isinstance(e, StatusUpdate)][-1]
        assert failed.status == "failed" and failed.errors[0].code == "failed:user block"
        assert not app.client.window(to()).open  # templates need no window, and open none


def test_a_subscribe_message_needs_a_consent_per_send() -> None:
    with App() as app:
        data = {"thing1": "Your table is ready"}
        with pytest.raises(PolicyRejected) as refused:
            app.client.wechat.send_subscribe(ADA, "table-ready", data)
        assert refused.value.code == 43101
        app.sim.control(
            "POST", "/_sim/inbound", {"platform": "wechat", "user": ADA, "consent": "table-ready"}
        )
        app.client.wechat.send_subscribe(ADA, "table-ready", data, page="pages/table")
        assert texts(app) == ["Your table is ready"]
        with pytest.raises(PolicyRejected):  # one consent, one send
            app.client.wechat.send_subscribe(ADA, "table-ready", data)


def test_the_handshake_and_a_forged_push() -> None:
    with App() as app:
        answer = app.sim.control("POST", "/_sim/webhooks/verify", {"platform": "wechat"})
        assert "error" not in answer, answer
        assert app.outcomes[-1].status == 200
        url = "http://app.test/webhooks/wechat?signature=0&timestamp=1&nonce=2"
        forged = app.client.webhooks.handle("wechat", "POST", url, {}, b"<xml></xml>")
        assert forged.status == 403 and forged.events == ()


# --- the async face -------------------------------------------------------------------------------


class AsyncApp(_Common):
    """The app under test with an ``AsyncClient`` (and one without pre-flight, ``raw``)."""

    def __init__(self, *, mode: str = "safe", **overrides: Any) -> None:
        self._setup(mode, overrides)
        self.sim = InProcessSimulator(
            self.config, async_webhook_transport=httpx.MockTransport(self._webhook)
        )
        self.wire = Wire(None, self.sim.async_transport())
        self.store = MemoryStore(clock=self.sim.clock)
        self.client = self.make()
        self.raw = self.make(preflight=False)

    def make(self, channel: WeChat | None = None, *, preflight: bool = True) -> AsyncClient:
        return AsyncClient(
            [channel or self.channel()],
            transport=self.wire,
            clock=self.sim.clock,
            store=self.store,
            preflight=preflight,
            retry=RetryPolicy(max_attempts=1),
        )

    async def _webhook(self, request: httpx.Request) -> httpx.Response:
        outcome = await self.client.webhooks.handle(
            "wechat", request.method, str(request.url), request.headers, await request.aread()
        )
        if self.reply is not None and outcome.events:
            content = self.reply(outcome.events[-1])
            if content is not None:
                outcome = attrs.evolve(
                    await self.client.wechat.passive_reply(outcome.events[-1], content),
                    events=outcome.events,
                    duplicates=outcome.duplicates,
                )
        return self._answer(outcome)

    async def does(self, user: str = ADA, **action: Any) -> list[Event]:
        before = len(self.events)
        spec = {"platform": "wechat", "user": user, **(action or {"text": "hi"})}
        answer = await self.sim.acontrol("POST", "/_sim/inbound", spec)
        assert "error" not in answer and len(self.events) > before, answer
        return self.events[before:]

    async def advance(self, seconds: float) -> None:
        await self.sim.acontrol("POST", "/_sim/clock/advance", {"seconds": seconds})

    async def refused_on_both_sides(self, user: str, content: Content, code: int) -> None:
        before = len(self.wire.calls)
        with pytest.raises(PolicyViolation) as preflight:
            await self.client.send(Address("wechat", user), content)
        assert preflight.value.violation.native_code == code
        assert len(self.wire.calls) == before
        with pytest.raises(PlatformError) as platform:
            await self.raw.send(Address("wechat", user), content)
        assert platform.value.code == code

    async def aclose(self) -> None:
        await self.client.aclose()
        await self.raw.aclose()
        await self.sim.aclose()


@pytest.mark.anyio
async def test_async_windows_counts_unfollow_and_events() -> None:
    app = AsyncApp()
    try:
        c = app.client
        [event] = await app.does(text="hello")
        assert isinstance(event, MessageReceived)
        await app.advance(47 * HOUR)
        for i in range(5):
            await c.send(to(), Text(f"answer {i}"))
        await app.refused_on_both_sides(ADA, Text("a sixth"), 45047)
        await app.advance(2 * HOUR)
        await app.refused_on_both_sides(ADA, Text("49 h"), 45015)
        qr = await c.wechat.create_qr("desk-3", expire_seconds=300)
        follow, scan = await app.does(GRACE, scan=qr.ticket)
        assert isinstance(follow, FollowChanged) and follow.following
        assert isinstance(scan, QrScanned) and scan.new_follower and scan.scene == "desk-3"
        for i in range(3):
            await c.send(to(GRACE), Text(f"welcome {i}"))
        await app.refused_on_both_sides(GRACE, Text("a fourth"), 45047)
        # A second later: a follow and an unfollow within one second are ordered by arrival
        # at WeChat, and CreateTime has whole seconds (the SDK takes the follow then).
        await app.advance(1)
        await app.does(GRACE, unfollow=True)
        await app.refused_on_both_sides(GRACE, Text("bye?"), 43004)
        assert not (await c.window(to(GRACE))).open
    finally:
        await app.aclose()


@pytest.mark.anyio
async def test_async_late_passive_reply_and_token_lifetimes() -> None:
    app = AsyncApp(mode="safe")
    try:
        app.reply = lambda e: Text("late")
        app.slow = [6.0]
        [event] = await app.does(text="anyone?")
        assert [o.duplicates for o in app.outcomes] == [0, 1]
        assert app.outbox() == [] and app.state()["passive_replies"]["late"] == 1
        app.reply = lambda e: Text("in time")
        await app.does(text="hello again")
        assert texts(app) == ["in time"]
        for _ in range(4):
            await app.client.send(event.sender, Text("cs"))
            await app.raw.wechat.user_info(ALAN)
            await app.advance(2 * HOUR)
            await app.does(text="still here")
        assert app.tokens() == 4
        assert app.wire.token_refusals() == []
    finally:
        await app.aclose()


def test_urls_of_the_webhooks_carry_the_signature_and_the_openid() -> None:
    with App(mode="safe") as app:
        app.does(text="hi")
        [push] = [d for d in app.deliveries() if d["kind"] == "text"]
        query = urlsplit(push["url"]).query
        for name in ("signature=", "timestamp=", "nonce=", "openid=", "encrypt_type=aes"):
            assert name in query
