"""The SDK against the in-process simulator: Messenger through the public interface.

A ``Client`` (or ``AsyncClient``) with ``messenger_channel(...)`` talks to the simulator over
its transport, on the simulator's virtual clock; the simulator's signed webhooks reach the app
through ``client.webhooks.receive`` (sync, exactly once) or ``client.webhooks.handle``
(async). Customers act through the control plane (``/_sim/inbound``,
``/_sim/messenger/handover``), as a test of any app would make them act.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from omnimsg import (
    Address,
    AsyncClient,
    Button,
    Buttons,
    Card,
    Cards,
    Client,
    CommentReceived,
    Image,
    InvalidRequest,
    LinkButton,
    MessageEcho,
    MessageReceived,
    NotFound,
    PolicyRejected,
    PolicyViolation,
    Postback,
    QuickReplies,
    ReactionChanged,
    StatusUpdate,
    Text,
    ThreadControlChanged,
)
from omnimsg.models.events import Event
from omnimsg.platforms.messenger import PAGE_INBOX_APP_ID
from omnimsg.testing import DEFAULT_MESSENGER, messenger_channel, messenger_sim_config
from omnimsg_sim import InProcessSimulator

APP = DEFAULT_MESSENGER["app_id"]
ADA = DEFAULT_MESSENGER["customers"][0]["psid"]
ALAN = DEFAULT_MESSENGER["customers"][1]["psid"]
HOUR, DAY = 3600, 86_400
WINDOW = (10, 2018278)  # outside the allowed window (spec §5)


class Counting(httpx.BaseTransport):
    """The simulator's transport, counting the requests the SDK makes."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.requests = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        return self.inner.handle_request(request)


class App:
    """The app under test: a sync ``Client`` on the simulator; webhooks come in through
    ``client.webhooks.receive`` and their events are kept in ``events``."""

    def __init__(self, *, preflight: bool = True, **overrides: Any) -> None:
        self.config = messenger_sim_config(**overrides)
        self.events: list[Event] = []
        self.sim = InProcessSimulator(
            self.config, webhook_transport=httpx.MockTransport(self._webhook)
        )
        self.http = Counting(self.sim.transport())
        self.client = Client(
            [messenger_channel(self.config, self.sim.base_url)],
            transport=self.http,
            clock=self.sim.clock,
            preflight=preflight,
        )

    def _webhook(self, request: httpx.Request) -> httpx.Response:
        with self.client.webhooks.receive(
            "messenger", request.method, str(request.url), request.headers, request.read()
        ) as receipt:
            self.events.extend(receipt.events)
        return httpx.Response(
            receipt.status, content=receipt.body, headers={"content-type": receipt.content_type}
        )

    def says(self, user: str = ADA, **action: Any) -> Any:
        """A customer acts (``text="hi"`` by default); the first new event the app received."""
        before = len(self.events)
        answer = self.sim.control(
            "POST",
            "/_sim/inbound",
            {"platform": "messenger", "user": user, **(action or {"text": "hi"})},
        )
        assert "error" not in answer, answer
        new = self.events[before:]
        assert len(new) >= 1, answer
        return new[0]

    def handover(self, action: str, user: str = ADA, **more: Any) -> Any:
        """Another app of the Page (the Page Inbox by default) acts on a thread."""
        body = {"platform": "messenger", "user": user, "action": action, **more}
        answer = self.sim.control("POST", "/_sim/messenger/handover", body)
        assert "error" not in answer, answer
        return answer

    def advance(self, seconds: float) -> None:
        self.sim.control("POST", "/_sim/clock/advance", {"seconds": seconds})

    def outbox(self, user: str = ADA) -> list[dict[str, Any]]:
        return list(self.sim.control("GET", f"/_sim/outbox?user={user}")["messages"])

    def of(self, kind: type[Event]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    def close(self) -> None:
        self.client.close()
        self.sim.close()

    def __enter__(self) -> App:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@pytest.fixture
def app() -> Any:
    with App() as a:
        yield a


def to(user: str = ADA) -> Address:
    return Address("messenger", user)


# --- the standard window (§4) -----------------------------------------------------------------


def test_a_reply_at_23_hours_is_accepted_and_free_form_at_25_hours_refused(app: App) -> None:
    event = app.says(text="Where is my order?")
    assert isinstance(event, MessageReceived) and event.content == Text("Where is my order?")
    assert event.sender == Address("messenger", ADA, DEFAULT_MESSENGER["page_id"])
    app.advance(23 * HOUR)
    sent = app.client.send(event.sender, Text("On its way!"), callback_data="ticket-7")
    assert sent.message_id and sent.message_id.startswith("m_") and sent.user_id == ADA
    (echo,) = [e for e in app.of(MessageEcho) if e.message_id == sent.message_id]
    assert (echo.user, echo.app_id, echo.metadata) == (ADA, APP, "ticket-7")
    assert echo.content == Text("On its way!")
    app.advance(2 * HOUR)
    window = app.client.window(event.sender)
    assert not window.open and window.closes_at is not None
    assert window.closes_at.timestamp() == event.timestamp + DAY
    assert window.allowed_when_closed == ("CUSTOMER_FEEDBACK", "HUMAN_AGENT")
    before = app.http.requests
    with pytest.raises(PolicyViolation) as refused:
        app.client.send(event.sender, Text("Following up"))
    v = refused.value.violation
    assert (v.rule_id, v.native_code, v.native_subcode) == ("messenger.window.standard", *WINDOW)
    assert v.closed_at is not None and v.closed_at.timestamp() == event.timestamp + DAY
    assert app.http.requests == before  # refused before any request
    assert [m["text"] for m in app.outbox()] == ["On its way!"]
    # A customer's message opens it again.
    app.says(text="Still waiting")
    assert app.client.send(event.sender, Text("Sorry! Tracking: A-1")).message_id


def test_without_preflight_the_platform_refuses_with_its_own_code() -> None:
    with App(preflight=False) as app:
        app.says()
        app.advance(25 * HOUR)
        with pytest.raises(PolicyRejected) as refused:
            app.client.send(to(), Text("Following up"))
        err = refused.value
        assert (err.code, err.subcode, err.http_status) == (*WINDOW, 400)
        assert (err.rule_id, err.platform) == ("messenger.window.standard", "messenger")
        assert err.request_id and b"outside of allowed window" in err.raw
        assert app.outbox() == []
        # A PSID the Page does not know (the pre-flight can only say "never wrote"): 2018001.
        with pytest.raises(NotFound) as unknown:
            app.client.send(to("1234567890123"), Text("hello"))
        assert (unknown.value.code, unknown.value.subcode) == (100, 2018001)


# --- message tags (§4; research §1) --------------------------------------------------------


def test_human_agent_by_a_person_at_day_6_and_refused_at_day_8(app: App) -> None:
    app.says(text="I need help with a refund")
    app.advance(6 * DAY)
    assert app.client.check(to(), Text("Hi, Sam here"), tag="HUMAN_AGENT", human=True) == ()
    sent = app.client.send(to(), Text("Hi, Sam from support here."), tag="HUMAN_AGENT", human=True)
    assert sent.message_id
    raw = app.outbox()[-1]["raw"]
    assert (raw["messaging_type"], raw["tag"]) == ("MESSAGE_TAG", "HUMAN_AGENT")
    before = app.http.requests
    with pytest.raises(PolicyViolation) as automated:
        app.client.send(to(), Text("Automatic follow-up"), tag="HUMAN_AGENT")
    assert automated.value.violation.rule_id == "messenger.tag.human_agent"
    with pytest.raises(PolicyViolation) as retired:
        app.client.send(to(), Text("Your parcel shipped"), tag="POST_PURCHASE_UPDATE")
    v = retired.value.violation
    assert (v.rule_id, v.native_code, v.native_subcode) == ("messenger.tag.retired", 100, 1893061)
    app.advance(2 * DAY)  # day 8
    with pytest.raises(PolicyViolation) as late:
        app.client.send(to(), Text("Still there?"), tag="HUMAN_AGENT", human=True)
    v = late.value.violation
    assert (v.rule_id, v.native_code, v.native_subcode) == ("messenger.window.tag", *WINDOW)
    assert app.http.requests == before
    assert app.client.window(to()).allowed_when_closed == ()


def test_tags_without_preflight_go_as_message_tag_and_the_platform_judges_them() -> None:
    with App(preflight=False) as app:
        app.says()
        app.advance(6 * DAY)
        app.client.send(to(), Text("Sam here"), tag="HUMAN_AGENT", human=True)
        assert app.outbox()[-1]["raw"]["messaging_type"] == "MESSAGE_TAG"
        with pytest.raises(PolicyRejected) as retired:
            app.client.send(to(), Text("Shipped"), tag="ACCOUNT_UPDATE")
        assert (retired.value.code, retired.value.subcode) == (100, 1893061)
        assert retired.value.rule_id == "messenger.tag.retired"
        app.advance(2 * DAY)
        with pytest.raises(PolicyRejected) as late:
            app.client.send(to(), Text("Day 8"), tag="HUMAN_AGENT", human=True)
        assert (late.value.code, late.value.subcode) == WINDOW


# --- private replies (§3.4) ---------------------------------------------------------------------


def test_a_comment_gets_exactly_one_private_reply(app: App) -> None:
    comment = app.says(ALAN, comment={"message": "Do you ship to Norway?"})
    assert isinstance(comment, CommentReceived)
    assert (comment.user, comment.text, comment.verb) == (ALAN, "Do you ship to Norway?", "add")
    assert not comment.is_reply and comment.post_id
    reply = app.client.messenger.reply_to_comment(comment.comment_id, Text("We do! Details here."))
    assert reply.user_id == ALAN and reply.message_id
    (sent,) = app.outbox(ALAN)
    assert sent["raw"]["recipient"] == {"comment_id": comment.comment_id}
    before = app.http.requests
    with pytest.raises(PolicyViolation) as second:
        app.client.messenger.reply_to_comment(comment.comment_id, Text("And one more thing"))
    assert second.value.violation.rule_id == "messenger.private_reply.used"
    assert second.value.violation.native_code == 10900
    assert app.http.requests == before  # refused before any request
    assert len(app.outbox(ALAN)) == 1
    # The window opens only when the person answers.
    assert not app.client.window(to(ALAN)).open
    app.says(ALAN, text="Great, thanks")
    assert app.client.send(to(ALAN), Text("You're welcome!")).message_id


def test_a_late_private_reply_and_a_second_one_without_preflight() -> None:
    with App(preflight=False) as app:
        first = app.says(comment={"message": "Price?"})
        late = app.says(ALAN, comment={"message": "Colours?"})
        assert isinstance(first, CommentReceived) and isinstance(late, CommentReceived)
        app.client.messenger.reply_to_comment(first.comment_id, Text("Ten euros."))
        with pytest.raises(PolicyRejected) as again:
            app.client.messenger.reply_to_comment(first.comment_id, Text("Or nine."))
        assert (again.value.code, again.value.rule_id) == (10900, "messenger.private_reply.used")
        app.advance(7 * DAY)
        with pytest.raises(PolicyRejected) as expired:
            app.client.messenger.reply_to_comment(late.comment_id, Text("Red and blue."))
        assert (expired.value.code, expired.value.rule_id) == (
            10903,
            "messenger.private_reply.expired",
        )


# --- taps, reactions, receipts, echoes (§2.2) ---------------------------------------------------


def test_a_quick_reply_tap_and_a_postback_button_are_postbacks(app: App) -> None:
    app.says()
    app.client.send(to(), QuickReplies("What do you need?", [Button("TRACK", "Track my order")]))
    raw = app.outbox()[-1]["raw"]["message"]["quick_replies"]
    assert raw == [{"content_type": "text", "title": "Track my order", "payload": "TRACK"}]
    tap = app.says(quick_reply={"payload": "TRACK", "title": "Track my order"})
    assert isinstance(tap, Postback)
    assert (tap.payload, tap.title, tap.source, tap.standby) == (
        "TRACK",
        "Track my order",
        "quick_reply",
        False,
    )
    app.client.send(to(), Buttons("Anything else?", [Button("AGENT", "Talk to a person")]))
    assert app.outbox()[-1]["raw"]["message"]["attachment"]["payload"]["template_type"] == "button"
    button = app.says(postback={"title": "Talk to a person", "payload": "AGENT"})
    assert isinstance(button, Postback)
    assert (button.payload, button.title, button.source) == (
        "AGENT",
        "Talk to a person",
        "postback",
    )
    window = app.client.window(to())
    assert window.last_inbound_at is not None
    assert window.last_inbound_at.timestamp() == button.timestamp  # a tap refreshes the window


def test_reactions_read_receipts_and_echoes(app: App) -> None:
    app.says()
    sent = app.client.send(to(), Cards([Card(title="Red shoes", subtitle="42", buttons=["Buy"])]))
    (echo,) = [e for e in app.of(MessageEcho) if e.message_id == sent.message_id]
    assert echo.app_id == APP and not echo.standby
    app.advance(5)  # delivered after 1 s, read after 2 s (the simulator's defaults)
    receipts = [(e.status, e.message_id) for e in app.of(StatusUpdate)]
    assert receipts == [("delivered", sent.message_id), ("read", "")]  # a read names no mid
    read = app.of(StatusUpdate)[-1]
    assert read.watermark is not None and read.watermark >= echo.timestamp
    love = app.says(reaction={"mid": sent.message_id, "reaction": "love"})
    assert isinstance(love, ReactionChanged)
    assert (love.message_id, love.reaction, love.emoji, love.removed) == (
        sent.message_id,
        "love",
        "\u2764\ufe0f",
        False,
    )
    gone = app.says(reaction={"mid": sent.message_id, "action": "unreact"})
    assert isinstance(gone, ReactionChanged) and gone.removed
    # Echoes, receipts and reactions open no window.
    app.advance(DAY)
    assert not app.client.window(to()).open
    app.sim.control("POST", "/_sim/inbound", {"platform": "messenger", "user": ADA, "read": True})
    assert not app.client.window(to()).open


# --- hand-over (§8.1) ----------------------------------------------------------------------------


def test_standby_while_the_page_inbox_owns_the_thread(app: App) -> None:
    app.says()
    assert app.client.messenger.thread_owner(to()) is None  # a new thread is idle
    assert [a.id for a in app.client.messenger.secondary_receivers()] == [PAGE_INBOX_APP_ID]
    # The bot hands the conversation to a person in the Page Inbox...
    assert app.client.messenger.pass_thread_control(to(), metadata="wants a person")
    assert app.client.messenger.thread_owner(to()) == PAGE_INBOX_APP_ID
    standby = app.says(text="Hello? Is a person there?")
    assert isinstance(standby, MessageReceived) and standby.standby
    assert app.client.window(to()).open  # the window is the Page's, whoever answers
    tap = app.says(postback={"title": "Menu", "payload": "MENU"})
    assert isinstance(tap, Postback) and tap.standby and tap.payload == ""  # no payload there
    # The pre-flight knows the Inbox owns the thread: refused before any I/O, with the code
    # Messenger answers (tests/test_messenger_thread_owner.py for the raw answer).
    with pytest.raises(PolicyViolation) as owned:
        app.client.send(to(), Text("The bot again"))
    v = owned.value.violation
    assert (v.rule_id, v.native_code, v.native_subcode) == (
        "messenger.thread.not_owner",
        10,
        2018300,
    )
    # ...the Inbox passes it back, and the bot hears of it.
    app.handover("pass")
    (passed,) = app.of(ThreadControlChanged)
    assert (passed.action, passed.previous_owner, passed.new_owner) == (
        "pass",
        PAGE_INBOX_APP_ID,
        APP,
    )
    assert app.client.send(to(), Text("Back with you")).message_id
    # The Inbox takes it (a person answers there); the bot takes it back.
    app.handover("take", metadata="agent Sam")
    taken = app.of(ThreadControlChanged)[-1]
    assert (taken.action, taken.previous_owner, taken.new_owner, taken.metadata) == (
        "take",
        APP,
        PAGE_INBOX_APP_ID,
        "agent Sam",
    )
    assert app.says(text="Thanks Sam").standby
    assert app.client.messenger.take_thread_control(to(), metadata="bot again")
    assert app.client.messenger.thread_owner(to()) == APP
    mine = app.says(text="And now?")
    assert isinstance(mine, MessageReceived) and not mine.standby
    assert app.client.send(to(), Text("The bot is back")).message_id


# --- profiles, the Messenger Profile, attachments ------------------------------------------------


def test_user_profile_for_a_personal_greeting(app: App) -> None:
    event = app.says()
    profile = app.client.messenger.user_profile(event.sender)
    assert (profile.id, profile.name, profile.first_name, profile.last_name) == (
        ADA,
        "Ada Lovelace",
        "Ada",
        "Lovelace",
    )
    assert profile.profile_pic and profile.profile_pic.startswith("https://")
    app.client.send(event.sender, Text(f"Hi {profile.first_name}!"))
    assert app.outbox()[-1]["text"] == "Hi Ada!"
    with pytest.raises(InvalidRequest) as stranger:  # Graph: no such object (100/33)
        app.client.messenger.user_profile(to("1234567890123"))
    assert (stranger.value.code, stranger.value.subcode) == (100, 33)


def test_messenger_profile_set_get_delete(app: App) -> None:
    profile = app.client.messenger.profile
    assert profile.set(
        greeting="Hi {{user_first_name}}! Ask us about orders and returns.",
        get_started="GET_STARTED",
        persistent_menu=[
            Button("TRACK", "Track my order"),
            LinkButton("Shop", "https://shop.example"),
        ],
        ice_breakers=[
            Button("SHIP", "When will my order ship?"),
            Button("RETURN", "How do I return?"),
        ],
    )
    got = profile.get()
    assert got.greeting == (
        ("default", "Hi {{user_first_name}}! Ask us about orders and returns."),
    )
    assert got.get_started == "GET_STARTED"
    assert got.persistent_menu == (
        Button("TRACK", "Track my order"),
        LinkButton("Shop", "https://shop.example"),
    )
    assert [b.title for b in got.ice_breakers] == ["When will my order ship?", "How do I return?"]
    assert profile.delete(["persistent_menu", "ice_breakers"])
    after = profile.get()
    assert (after.persistent_menu, after.ice_breakers, after.get_started) == ((), (), "GET_STARTED")
    before = app.http.requests
    with pytest.raises(PolicyViolation):
        profile.set(greeting="x" * 161)
    assert app.http.requests == before
    # A new thread opened from an m.me link starts with the Get Started postback.
    started = app.says("5500000000000001", referral={"ref": "spring-campaign"})
    assert isinstance(started, Postback) and started.payload == "GET_STARTED"
    assert started.referral is not None and started.referral.ref == "spring-campaign"


def test_attachment_upload_and_send_by_id(app: App) -> None:
    app.says()
    logo = app.client.messenger.upload_attachment("https://shop.example/logo.png")
    assert logo.isdigit()
    sent = app.client.send(to(), Image(media_id=logo))
    raw = app.outbox()[-1]["raw"]["message"]["attachment"]
    assert raw == {"type": "image", "payload": {"attachment_id": logo}}
    assert [e.app_id for e in app.of(MessageEcho) if e.message_id == sent.message_id] == [APP]
    # Reusable ids expire after 90 days (spec §3.3): the platform says so.
    app.advance(91 * DAY)
    app.says()
    with pytest.raises(InvalidRequest) as expired:
        app.client.send(to(), Image(media_id=logo))
    assert expired.value.code == 100


# --- the "Very responsive" badge (§7) ----------------------------------------------------------


def test_the_badge_after_a_few_conversations(app: App) -> None:
    customers = [f"55000000000001{i:02d}" for i in range(10)]
    for psid in customers[:9]:
        app.says(psid, text="Hello?")
        app.advance(120)
        app.client.send(to(psid), Text("Hi! How can we help?"))  # 2 minutes later
        app.client.send(to(psid), Text("The second reply does not count"))
    app.says(customers[9], text="Anyone?")  # never answered
    report = app.client.messenger.badge()
    assert (report.conversations, report.responded, report.pending) == (9, 9, 1)
    app.advance(2 * DAY)  # the unanswered one is judged after a day
    report = app.client.messenger.badge()
    assert (report.conversations, report.responded, report.pending) == (10, 9, 0)
    assert report.response_rate == pytest.approx(0.9)
    assert report.response_time == pytest.approx(120.0)
    assert report.very_responsive
    app.advance(8 * DAY)
    assert app.client.messenger.badge().conversations == 0  # older than 7 days


def test_the_webhook_handshake(app: App) -> None:
    answer = app.sim.control("POST", "/_sim/webhooks/verify", {"platform": "messenger"})
    assert answer["verified"] is True and answer["delivery"]["status"] == 200


# --- async: the same journey, awaited ---------------------------------------------------------


class AsyncApp:
    """The app under test with an ``AsyncClient``; webhooks through ``client.webhooks.handle``."""

    def __init__(self, *, preflight: bool = True) -> None:
        self.config = messenger_sim_config()
        self.events: list[Event] = []
        self.sim = InProcessSimulator(
            self.config, async_webhook_transport=httpx.MockTransport(self._webhook)
        )
        self.client = AsyncClient(
            [messenger_channel(self.config, self.sim.base_url)],
            transport=self.sim.async_transport(),
            clock=self.sim.clock,
            preflight=preflight,
        )

    async def _webhook(self, request: httpx.Request) -> httpx.Response:
        outcome = await self.client.webhooks.handle(
            "messenger", request.method, str(request.url), request.headers, await request.aread()
        )
        self.events.extend(outcome.events)
        return httpx.Response(outcome.status, content=outcome.body)

    async def says(self, user: str = ADA, **action: Any) -> Any:
        before = len(self.events)
        spec = {"platform": "messenger", "user": user, **(action or {"text": "hi"})}
        answer = await self.sim.acontrol("POST", "/_sim/inbound", spec)
        assert "error" not in answer and len(self.events) > before, answer
        return self.events[before]

    async def advance(self, seconds: float) -> None:
        await self.sim.acontrol("POST", "/_sim/clock/advance", {"seconds": seconds})

    async def aclose(self) -> None:
        await self.client.aclose()
        await self.sim.aclose()


@pytest.mark.anyio
async def test_async_window_tags_private_reply_handover_profile_and_badge() -> None:
    app = AsyncApp()
    try:
        c = app.client
        event = await app.says(text="Where is my order?")
        assert isinstance(event, MessageReceived)
        profile = await c.messenger.user_profile(event.sender)
        await app.advance(23 * HOUR)
        assert (await c.send(event.sender, Text(f"Hi {profile.first_name}!"))).message_id
        assert any(isinstance(e, MessageEcho) for e in app.events)
        await app.advance(2 * HOUR)
        with pytest.raises(PolicyViolation) as closed:
            await c.send(event.sender, Text("Following up"))
        assert closed.value.violation.rule_id == "messenger.window.standard"
        await app.advance(6 * DAY - 25 * HOUR)  # day 6 after the customer wrote
        agent = Text("Sam from support here.")
        assert (await c.send(event.sender, agent, tag="HUMAN_AGENT", human=True)).message_id
        await app.advance(2 * DAY)  # day 8
        with pytest.raises(PolicyViolation) as late:
            await c.send(event.sender, agent, tag="HUMAN_AGENT", human=True)
        assert late.value.violation.rule_id == "messenger.window.tag"

        comment = await app.says(ALAN, comment={"message": "Do you ship to Norway?"})
        assert isinstance(comment, CommentReceived)
        assert (
            await c.messenger.reply_to_comment(comment.comment_id, Text("We do!"))
        ).user_id == ALAN
        with pytest.raises(PolicyViolation) as twice:
            await c.messenger.reply_to_comment(comment.comment_id, Text("Again"))
        assert twice.value.violation.rule_id == "messenger.private_reply.used"

        tap = await app.says(quick_reply={"payload": "AGENT", "title": "Talk to a person"})
        assert isinstance(tap, Postback) and tap.source == "quick_reply"
        assert await c.messenger.pass_thread_control(event.sender, metadata="a person, please")
        assert (await app.says(text="Hello?")).standby
        assert await c.messenger.take_thread_control(event.sender)
        assert await c.messenger.thread_owner(event.sender) == APP
        assert not (await app.says(text="And now?")).standby
        await app.advance(5)
        assert {e.status for e in app.events if isinstance(e, StatusUpdate)} == {
            "delivered",
            "read",
        }

        await c.messenger.profile.set(get_started="GET_STARTED", greeting="Hello!")
        assert (await c.messenger.profile.get(["get_started"])).get_started == "GET_STARTED"
        assert await c.messenger.profile.delete(["greeting"])
        logo = await c.messenger.upload_attachment("https://shop.example/logo.png")
        assert (await c.send(event.sender, Image(media_id=logo))).message_id
        report = await c.messenger.badge()
        assert report.conversations + report.pending >= 1
    finally:
        await app.aclose()


@pytest.mark.anyio
async def test_async_without_preflight_the_platform_refuses() -> None:
    app = AsyncApp(preflight=False)
    try:
        await app.says()
        await app.advance(25 * HOUR)
        with pytest.raises(PolicyRejected) as refused:
            await app.client.send(Address("messenger", ADA), Text("late"))
        assert (refused.value.code, refused.value.subcode) == WINDOW
        await app.advance(DAY)
        with pytest.raises(InvalidRequest) as tagged:  # "(#100) Invalid tag."
            await app.client.send(Address("messenger", ADA), Text("x"), tag="NOT_A_TAG")
        assert (tagged.value.code, tagged.value.subcode) == (100, None)
    finally:
        await app.aclose()
