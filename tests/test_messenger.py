"""Messenger through the public interface, against a fake of Graph (tests/messenger_graph.py).

Sync and async, on the virtual clock: webhooks in (signature, handshake, every event kind,
de-duplication, the window they open), sends out (each content type's wire form and
fallback, messaging types, tags, the rules before any request), private replies (exactly
one), the extras (sender actions, profiles, attachments, hand-over) and the badge.
"""

from __future__ import annotations

import json
from typing import Any

import attrs
import httpx
import pytest

from messenger_graph import PAGE, PSID, SECRET, TOKEN, VERIFY, FakeGraph, envelope, message, signed
from omnimsg import (
    Address,
    AsyncClient,
    AuthenticationError,
    Button,
    Buttons,
    Card,
    Cards,
    Client,
    CommentReceived,
    ConfigurationError,
    Contact,
    ContactName,
    ContactPhone,
    Contacts,
    Document,
    Image,
    InvalidRequest,
    LinkButton,
    ListMenu,
    ListRow,
    ListSection,
    Location,
    MemoryStore,
    MessageEcho,
    MessageReceived,
    Messenger,
    NotFound,
    OptIn,
    PermissionDenied,
    PolicyRejected,
    PolicyViolation,
    Postback,
    QuickReplies,
    RateLimited,
    Raw,
    Reaction,
    ReactionChanged,
    RecipientUnavailable,
    ReferralReceived,
    RetryPolicy,
    ServerError,
    SQLiteStore,
    Sticker,
    Template,
    Text,
    ThreadControlChanged,
    Unknown,
    UnsupportedContent,
    UrlButton,
    Video,
)
from omnimsg.clock import FakeClock
from omnimsg.platforms.messenger import PAGE_INBOX_APP_ID
from omnimsg.rules import messenger as rules

NOW = 1_780_000_000.0  # 2026-05-28 (after the tag retirement), = message()'s default time
URL = "https://bot.example/webhooks/messenger"
ADA = Address("messenger", PSID)
DAY = 86_400.0


def channel(**kw: Any) -> Messenger:
    return Messenger(
        page_id=PAGE,
        page_access_token=TOKEN,
        app_secret=SECRET,
        verify_token=VERIFY,
        **kw,
    )


@pytest.fixture
def graph() -> FakeGraph:
    return FakeGraph()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def client(graph: FakeGraph, clock: FakeClock) -> Client:
    return Client(
        [channel()], clock=clock, transport=graph.transport(), retry=RetryPolicy(base_delay=0)
    )


def deliver(client: Client, payload: dict[str, Any] | bytes) -> Any:
    headers, body = signed(payload)
    outcome = client.webhooks.handle("messenger", "POST", URL, headers, body)
    assert outcome.status == 200, outcome
    return outcome


def customer_says(
    client: Client, mid: str = "m_in1", text: str = "hi", **kw: Any
) -> MessageReceived:
    (event,) = deliver(client, envelope(message(mid, text, **kw))).events
    assert isinstance(event, MessageReceived)
    return event


# --- signatures and the handshake (§1) -----------------------------------------------------

M4J_SECRET = "60efff025951cddde78c8d03de52cc90"
M4J_BODY = (
    b'{"object":"page","entry":[{"id":"1717527131834678","time":1475942721780,"messaging":'
    b'[{"sender":{"id":"1256217357730577"},"recipient":{"id":"1717527131834678"},'
    b'"timestamp":1475942721741,"message":{"mid":"mid.1475942721728:3b9e3646712f9bed52",'
    b'"seq":123,"text":"34wrr3wr"}}]}]}'
)
HELLO_BODY = (
    b'{"object":"page","entry":[{"id":"1234567890","time":1458692752478,"messaging":[{"sender":'
    b'{"id":"9876543210"},"recipient":{"id":"1234567890"},"timestamp":1458692752478,"message":'
    b'{"mid":"m_test_1","text":"hello, world!"}}]}]}'
)
ESCAPED_BODY = b'{"object":"page","entry":[{"id":"1","time":1,"messaging":[{"message":{"text":"caf\\u00e9"}}]}]}'
LITERAL_BODY = '{"object":"page","entry":[{"id":"1","time":1,"messaging":[{"message":{"text":"café"}}]}]}'.encode()


@pytest.mark.parametrize(
    ("secret", "body", "signature"),
    [
        # §1.3: the messenger4j vector (274 bytes), its SHA-256 computed by the spec's author.
        (M4J_SECRET, M4J_BODY, "2c28be6e4b8c62b732b3487f445dbec6624868db6844b347567ebc86d7da3ad4"),
        (SECRET, HELLO_BODY, "bafc1d8b397d9e1a5ec2da55a9f3406ce46305124feb93e6ef28629408e38a75"),
        # §1.2-1.3: Meta signs the escaped form: "\u00e9" as six ASCII bytes...
        (SECRET, ESCAPED_BODY, "8ea324510b660d6ef554d5d308904512e821a98a87728998ab5ac6ea92a37966"),
        # ...which is not the signature of the same JSON with a literal UTF-8 é.
        (SECRET, LITERAL_BODY, "189687ad90303a55216e76f4770894b9831d8592d37211f88bd8551f6abe5f48"),
    ],
    ids=["messenger4j", "hello", "escaped-unicode", "literal-utf8"],
)
def test_published_signature_vectors(secret: str, body: bytes, signature: str) -> None:
    assert len(M4J_BODY) == 274 and len(HELLO_BODY) == 223
    page = "1717527131834678" if body is M4J_BODY else ("1234567890" if body is HELLO_BODY else "1")
    c = Client([Messenger(page_id=page, page_access_token="t", app_secret=secret)])
    events = c.webhooks.parse("messenger", {"X-Hub-Signature-256": f"sha256={signature}"}, body)
    assert events
    with pytest.raises(Exception, match="does not match"):
        c.webhooks.parse("messenger", {"X-Hub-Signature-256": "sha256=" + "0" * 64}, body)


def test_escaped_and_literal_bodies_are_different_bytes() -> None:
    """Re-serialising parsed JSON changes the bytes, and so the signature (Pitfalls 1)."""
    assert json.loads(ESCAPED_BODY) == json.loads(LITERAL_BODY)
    c = Client([Messenger(page_id="1", page_access_token="t", app_secret=SECRET)])
    escaped_sig = "sha256=8ea324510b660d6ef554d5d308904512e821a98a87728998ab5ac6ea92a37966"
    outcome = c.webhooks.handle(
        "messenger", "POST", URL, {"X-Hub-Signature-256": escaped_sig}, LITERAL_BODY
    )
    assert outcome.status == 403


def test_handshake(client: Client) -> None:
    ok = client.webhooks.handle(
        "messenger",
        "GET",
        f"{URL}?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token={VERIFY}",
        {},
        b"",
    )
    assert (ok.status, ok.body) == (200, b"1158201444")
    for query in (
        "hub.mode=subscribe&hub.challenge=1&hub.verify_token=wrong",
        f"hub.mode=unsubscribe&hub.challenge=1&hub.verify_token={VERIFY}",
        "hub.challenge=1",
    ):
        assert client.webhooks.handle("messenger", "GET", f"{URL}?{query}", {}, b"").status == 403


def test_missing_and_wrong_signatures(client: Client) -> None:
    body = json.dumps(envelope(message("m1"))).encode()
    assert client.webhooks.handle("messenger", "POST", URL, {}, body).status == 401
    bad = {"X-Hub-Signature-256": "sha256=" + "0" * 64}
    assert client.webhooks.handle("messenger", "POST", URL, bad, body).status == 403
    assert not client.window(ADA).open  # nothing was applied


# --- every event kind (§2.2; research §4) --------------------------------------------------


def _event(**fields: Any) -> dict[str, Any]:
    return {
        "sender": {"id": PSID},
        "recipient": {"id": PAGE},
        "timestamp": 1_780_000_000_000,
        **fields,
    }


def test_every_messaging_event_kind(client: Client) -> None:
    events = [
        message("m_1", "hello, world!", reply_to={"mid": "m_0", "is_self_reply": False}),
        message("m_2", "Red", quick_reply={"payload": "COLOR_RED"}),
        _event(message={"mid": "m_3", "attachments": [{"type": "image", "payload": {"url": "https://cdn.x/i.jpg"}}]}),
        _event(message={"mid": "m_4", "attachments": [
            {"type": "sticker", "payload": {"url": "https://cdn.x/s.png", "sticker_id": 369239263222822}},
            {"type": "image", "payload": {"url": "https://cdn.x/s.png", "sticker_id": 369239263222822}},
        ]}),
        _event(message={"mid": "m_5", "text": "look https://e.x", "attachments": [
            {"type": "fallback", "payload": {"url": "https://e.x", "title": "E"}}]}),
        _event(message={"mid": "m_6", "attachments": [{"type": "ig_reel", "payload": {"url": "https://r", "reel_video_id": 1}}]}),
        {"sender": {"id": PAGE}, "recipient": {"id": PSID}, "timestamp": 1_780_000_000_001,
         "message": {"is_echo": True, "app_id": 1517776481860111, "metadata": "ticket-7", "mid": "m_e1", "text": "We're on it"}},
        _event(postback={"mid": "m_p1", "title": "Get Started", "payload": "GET_STARTED",
                         "referral": {"ref": "spring", "source": "SHORTLINK", "type": "OPEN_THREAD"}}),
        {"sender": {"id": PSID}, "recipient": {"id": PAGE},
         "delivery": {"mids": ["m_out1", "m_out2"], "watermark": 1_780_000_000_500}},
        _event(read={"watermark": 1_780_000_000_600}),
        _event(reaction={"reaction": "love", "emoji": "\u2764\ufe0f", "action": "react", "mid": "m_out1"}),
        _event(referral={"ref": "promo", "source": "ADS", "type": "OPEN_THREAD", "ad_id": "6045246247433",
                         "ads_context_data": {"ad_title": "Spring sale", "photo_url": "https://e.x/p.jpg"}}),
        _event(optin={"type": "notification_messages", "payload": "DEALS", "title": "Deals",
                      "notification_messages_token": "tok-1", "notification_messages_frequency": "WEEKLY",
                      "token_expiry_timestamp": 1_800_000_000_000, "user_token_status": "NOT_REFRESHED"}),
        {"recipient": {"id": PAGE}, "timestamp": 1_780_000_000_000, "optin": {"ref": "plugin", "user_ref": "ur-1"}},
        _event(pass_thread_control={"previous_owner_app_id": None, "new_owner_app_id": "263902037430900", "metadata": "to a human"}),
        _event(take_thread_control={"previous_owner_app_id": "263902037430900", "new_owner_app_id": 123456789}),
        _event(request_thread_control={"requested_owner_app_id": 123456789, "metadata": "please"}),
        {"recipient": {"id": PAGE}, "timestamp": 1_780_000_000_000, "app_roles": {"123456789": ["primary_receiver"]}},
        _event(account_linking={"status": "linked"}),
        _event(hologram={"x": 1}),
    ]  # fmt: skip
    out = deliver(client, envelope(*events))
    kinds = [type(e).__name__ for e in out.events]
    assert kinds == [
        "MessageReceived", "Postback", "MessageReceived", "MessageReceived", "MessageReceived",
        "MessageReceived", "MessageEcho", "Postback", "StatusUpdate", "StatusUpdate",
        "StatusUpdate", "ReactionChanged", "ReferralReceived", "OptIn", "OptIn",
        "ThreadControlChanged", "ThreadControlChanged", "ThreadControlChanged",
        "ThreadControlChanged", "Unknown", "Unknown",
    ]  # fmt: skip
    e = out.events
    assert e[0].context.message_id == "m_0" and e[0].content == Text("hello, world!")
    assert (e[1].payload, e[1].title, e[1].source) == ("COLOR_RED", "Red", "quick_reply")
    assert e[2].content == Image(url="https://cdn.x/i.jpg")
    assert e[3].content == Sticker(media_id="369239263222822")  # one sticker, not two
    assert e[4].content == Text("look https://e.x")  # the fallback repeats the text
    assert e[5].content == UnsupportedContent(kind="ig_reel", raw={})
    assert e[5].content.raw == {"url": "https://r", "reel_video_id": 1}
    echo = e[6]
    assert isinstance(echo, MessageEcho)
    assert (echo.user, echo.app_id, echo.metadata) == (PSID, "1517776481860111", "ticket-7")
    get_started = e[7]
    assert isinstance(get_started, Postback) and get_started.source == "postback"
    assert get_started.referral is not None and get_started.referral.ref == "spring"
    assert [(s.status, s.message_id, s.watermark) for s in e[8:11]] == [
        ("delivered", "m_out1", 1_780_000_000.5),
        ("delivered", "m_out2", 1_780_000_000.5),
        ("read", "", 1_780_000_000.6),
    ]
    assert e[8].timestamp == 1_780_000_000.5  # a delivery has no timestamp: its watermark
    reaction = e[11]
    assert isinstance(reaction, ReactionChanged)
    assert (reaction.emoji, reaction.reaction, reaction.removed) == ("❤️", "love", False)
    referral = e[12]
    assert isinstance(referral, ReferralReceived)
    assert (referral.referral.source_type, referral.referral.source_id) == ("ADS", "6045246247433")
    assert referral.referral.headline == "Spring sale"
    optin, plugin = e[13], e[14]
    assert isinstance(optin, OptIn) and optin.token == "tok-1" and "tok-1" not in repr(optin)
    assert optin.token_expires_at == 1_800_000_000.0
    assert isinstance(plugin, OptIn) and (plugin.user, plugin.user_ref) == ("ur-1", "ur-1")
    passed, taken, asked, roles = e[15:19]
    assert isinstance(passed, ThreadControlChanged)
    assert (passed.action, passed.previous_owner, passed.new_owner) == (
        "pass",
        None,
        PAGE_INBOX_APP_ID,
    )
    assert (taken.action, taken.new_owner) == ("take", "123456789")  # a number, as a string
    assert (asked.action, asked.requested_owner, asked.metadata) == (
        "request",
        "123456789",
        "please",
    )
    assert (roles.action, roles.user, roles.roles) == (
        "roles",
        None,
        (("123456789", ("primary_receiver",)),),
    )
    assert e[19].reason == "account_linking"


def test_several_attachments_are_several_events_and_deduplicate_each(client: Client) -> None:
    photos = _event(message={"mid": "m_album", "attachments": [
        {"type": "image", "payload": {"url": "https://cdn.x/1.jpg"}},
        {"type": "image", "payload": {"url": "https://cdn.x/2.jpg"}},
        {"type": "file", "payload": {"url": "https://cdn.x/invoice.pdf"}},
    ]})  # fmt: skip
    first = deliver(client, envelope(photos))
    assert [e.content for e in first.events] == [
        Image(url="https://cdn.x/1.jpg"),
        Image(url="https://cdn.x/2.jpg"),
        Document(url="https://cdn.x/invoice.pdf"),
    ]
    assert {e.message_id for e in first.events} == {"m_album"}
    again = deliver(client, envelope(photos))
    assert again.events == () and again.duplicates == 3


def test_standby_events_are_marked_and_still_move_the_window(client: Client) -> None:
    standby = envelope(
        message("m_sb", "is anyone there?"),
        _event(postback={"title": "Menu"}),  # payload stripped in standby (§2.2)
        key="standby",
    )
    first, tap = deliver(client, standby).events
    assert isinstance(first, MessageReceived) and first.standby
    assert isinstance(tap, Postback) and tap.standby and tap.payload == ""
    assert client.window(ADA).open  # the window is the Page's, whoever answers


def test_feed_comments(client: Client) -> None:
    capture = {"object": "page", "entry": [{"id": PAGE, "time": 1742667607, "changes": [{"field": "feed", "value": {
        "from": {"id": "5555", "name": "SuperTester"}, "message": "meow 2",
        "post_id": f"{PAGE}_122131676912594941", "comment_id": "122131676912594941_1213590066982748",
        "created_time": 1779999000, "item": "comment", "parent_id": f"{PAGE}_122131676912594941", "verb": "add",
    }}, {"field": "feed", "value": {"item": "post", "verb": "add", "post_id": "p1"}}]}]}  # fmt: skip
    comment, post = deliver(client, capture).events
    assert isinstance(comment, CommentReceived)
    assert (comment.user, comment.user_name, comment.text) == ("5555", "SuperTester", "meow 2")
    assert comment.timestamp == 1779999000.0 and not comment.is_reply  # seconds (research §4)
    assert isinstance(post, Unknown)
    assert not client.window(Address("messenger", "5555")).open  # a comment opens no window


def test_the_documented_field_value_postback_is_tolerated(client: Client) -> None:
    """Meta's postback sample: ``{"field", "value"}``, strings of Unix seconds (research §4)."""
    wrapped = {"field": "messaging_postbacks", "value": {
        "sender": {"id": PSID}, "recipient": {"id": PAGE}, "timestamp": "1779999990",
        "postback": {"mid": "m_doc", "title": "T", "payload": "P"}}}  # fmt: skip
    (tap,) = deliver(client, envelope(wrapped)).events
    assert isinstance(tap, Postback) and tap.timestamp == 1779999990.0


@pytest.mark.parametrize(
    "ts",
    ["nan", "Infinity", 1e20, 1e300, -5, 0, True, None, "1780000000000x", 32_503_680_000_000, [1]],
)
def test_bad_timestamps_become_unknown_and_change_nothing(client: Client, ts: Any) -> None:
    out = deliver(client, envelope(message("m_bad", ts=ts)))
    (event,) = out.events
    assert isinstance(event, Unknown) and "timestamp" in event.reason
    assert client.window(ADA).last_inbound_at is None


def test_seconds_where_milliseconds_belong_are_refused(client: Client) -> None:
    """A messaging timestamp in seconds (1.78e9 ms is 1970-01-21) is a mistake, not a time."""
    (event,) = deliver(client, envelope(message("m_s", ts=1_780_000_000))).events
    assert isinstance(event, Unknown) and "between 2001 and 3000" in event.reason
    assert client.window(ADA).last_inbound_at is None


def test_not_a_page_webhook_is_400(client: Client) -> None:
    for payload in ({"object": "whatsapp_business_account", "entry": []}, {"object": "page"}, [1]):
        headers, body = signed(json.dumps(payload).encode())
        assert client.webhooks.handle("messenger", "POST", URL, headers, body).status == 400


def test_redelivery_is_a_duplicate_and_receipts_dedupe_by_watermark(client: Client) -> None:
    body = envelope(message("m_1"), _event(read={"watermark": 1_780_000_000_600}))
    assert len(deliver(client, body).events) == 2
    again = deliver(client, body)
    assert again.events == () and again.duplicates == 2
    later_read = deliver(client, envelope(_event(read={"watermark": 1_780_000_000_900})))
    assert len(later_read.events) == 1


def test_receive_claims_exactly_once(client: Client) -> None:
    headers, body = signed(envelope(message("m_once")))
    with (
        pytest.raises(RuntimeError),
        client.webhooks.receive("messenger", "POST", URL, headers, body),
    ):
        raise RuntimeError("the app failed")
    with client.webhooks.receive("messenger", "POST", URL, headers, body) as receipt:
        assert [e.message_id for e in receipt.events] == ["m_once"]  # type: ignore[union-attr]
    with client.webhooks.receive("messenger", "POST", URL, headers, body) as receipt:
        assert receipt.events == () and receipt.outcome.duplicates == 1


# --- sending (§3) ------------------------------------------------------------------------------


def test_a_reply_at_23_hours_and_one_at_25(
    client: Client, graph: FakeGraph, clock: FakeClock
) -> None:
    customer_says(client)
    clock.advance(23 * 3600)
    result = client.send(ADA, Text("Sorry for the wait"))
    assert (result.message_id, result.user_id) == ("m_out1", PSID)
    assert graph.sends()[-1] == {
        "recipient": {"id": PSID},
        "messaging_type": "RESPONSE",
        "message": {"text": "Sorry for the wait"},
    }
    clock.advance(2 * 3600)
    with pytest.raises(PolicyViolation) as refused:
        client.send(ADA, Text("free-form at 25 h"))
    v = refused.value.violation
    assert (v.rule_id, v.native_code, v.native_subcode) == (
        "messenger.window.standard",
        10,
        2018278,
    )
    assert len(graph.sends()) == 1  # refused before any request


def test_human_agent_at_day_6_and_day_8(client: Client, graph: FakeGraph, clock: FakeClock) -> None:
    customer_says(client)
    clock.advance(6 * DAY)
    client.send(ADA, Text("Hi, Sam from support here"), tag="HUMAN_AGENT", human=True)
    assert graph.sends()[-1]["messaging_type"] == "MESSAGE_TAG"
    assert graph.sends()[-1]["tag"] == "HUMAN_AGENT"
    with pytest.raises(PolicyViolation) as automated:
        client.send(ADA, Text("Automated follow-up"), tag="HUMAN_AGENT")
    assert automated.value.violation.rule_id == "messenger.tag.human_agent"
    clock.advance(2 * DAY)
    with pytest.raises(PolicyViolation) as late:
        client.send(ADA, Text("day 8"), tag="HUMAN_AGENT", human=True)
    assert late.value.violation.rule_id == "messenger.window.tag"
    assert len(graph.sends()) == 1
    window = client.window(ADA)
    assert not window.open and window.allowed_when_closed == ()


def test_retired_tags_depend_on_the_profile(graph: FakeGraph, clock: FakeClock) -> None:
    new = Client([channel()], clock=clock, transport=graph.transport())
    old = Client(
        [channel(policy=rules.profile("messenger-2020-03-04"))],
        clock=clock,
        transport=graph.transport(),
    )
    with pytest.raises(PolicyViolation) as retired:
        new.send(ADA, Text("Your order shipped"), tag="POST_PURCHASE_UPDATE")
    v = retired.value.violation
    assert (v.native_code, v.native_subcode) == (100, 1893061)
    old.send(ADA, Text("Your order shipped"), tag="POST_PURCHASE_UPDATE")
    assert graph.sends()[-1]["tag"] == "POST_PURCHASE_UPDATE"
    with pytest.raises(ConfigurationError):
        Messenger(page_id=PAGE, page_access_token=TOKEN, policy="messenger-2020-03-04")  # type: ignore[arg-type]


def test_messaging_type_update_and_without_preflight(graph: FakeGraph, clock: FakeClock) -> None:
    loose = Client([channel()], clock=clock, transport=graph.transport(), preflight=False)
    loose.send(ADA, Text("no state read"))
    assert graph.sends()[-1]["messaging_type"] == "RESPONSE"
    old = Client(
        [channel(policy=rules.profile("messenger-2020-03-04"))],
        clock=clock,
        transport=graph.transport(),
    )
    old.send(ADA, Text("event moved"), tag="CONFIRMED_EVENT_UPDATE")
    assert graph.sends()[-1]["messaging_type"] == "MESSAGE_TAG"


def test_every_content_type_on_the_wire(client: Client, graph: FakeGraph) -> None:
    customer_says(client)
    rows = [ListRow(id=f"r{i}", title=f"Row {i}") for i in range(3)]
    cases: list[tuple[Any, dict[str, Any]]] = [
        (Text("hi"), {"text": "hi"}),
        (Image(url="https://e.x/a.jpg"), {"attachment": {"type": "image", "payload": {"url": "https://e.x/a.jpg"}}}),
        (Image(media_id="1854626884821032"), {"attachment": {"type": "image", "payload": {"attachment_id": "1854626884821032"}}}),
        (Video(url="https://e.x/a.mp4"), {"attachment": {"type": "video", "payload": {"url": "https://e.x/a.mp4"}}}),
        (Document(url="https://e.x/a.pdf", filename="a.pdf"), {"attachment": {"type": "file", "payload": {"url": "https://e.x/a.pdf"}}}),
        (Sticker(media_id="767226160478561"), {"sticker_id": 767226160478561}),
        (QuickReplies("Size?", ["S", Button("m", "M")]), {"text": "Size?", "quick_replies": [
            {"content_type": "text", "title": "S", "payload": "S"},
            {"content_type": "text", "title": "M", "payload": "m"}]}),
        (Buttons("Pick", ["A", "B"], header="Hello", footer="Shop"), {"attachment": {"type": "template", "payload": {
            "template_type": "button", "text": "Hello\n\nPick\n\nShop", "buttons": [
                {"type": "postback", "title": "A", "payload": "A"},
                {"type": "postback", "title": "B", "payload": "B"}]}}}),
        (Buttons("Pick", ["1", "2", "3", "4"]), {"text": "Pick", "quick_replies": [
            {"content_type": "text", "title": t, "payload": t} for t in "1234"]}),
        (UrlButton(body="Track it", text="Open", url="https://e.x/t"), {"attachment": {"type": "template", "payload": {
            "template_type": "button", "text": "Track it", "buttons": [{"type": "web_url", "title": "Open", "url": "https://e.x/t"}]}}}),
        (Cards([Card(title="Red shoes", subtitle="$50", image_url="https://e.x/r.jpg", url="https://e.x/r",
                     buttons=[Button("buy", "Buy"), LinkButton("More", "https://e.x/m")])]),
         {"attachment": {"type": "template", "payload": {"template_type": "generic", "elements": [{
             "title": "Red shoes", "subtitle": "$50", "image_url": "https://e.x/r.jpg",
             "default_action": {"type": "web_url", "url": "https://e.x/r"},
             "buttons": [{"type": "postback", "title": "Buy", "payload": "buy"},
                         {"type": "web_url", "title": "More", "url": "https://e.x/m"}]}]}}}),
        (ListMenu(body="What?", button="Choose", sections=[ListSection(rows=rows)]), {"text": "What?", "quick_replies": [
            {"content_type": "text", "title": f"Row {i}", "payload": f"r{i}"} for i in range(3)]}),
        (ListMenu(body="What?", button="Choose", sections=[ListSection(rows=[ListRow(id="t", title="Track", description="Where is it?")])]),
         {"attachment": {"type": "template", "payload": {"template_type": "generic", "elements": [{
             "title": "Track", "subtitle": "Where is it?", "buttons": [{"type": "postback", "title": "Choose", "payload": "t"}]}]}}}),
        (Location(latitude=52.52, longitude=13.405, name="Pick-up point"),
         {"text": "Pick-up point\nhttps://www.google.com/maps/search/?api=1&query=52.52,13.405"}),
        (Contacts([Contact(name=ContactName(formatted_name="Support"), phones=[ContactPhone(phone="+15550100")])]),
         {"text": "Support\nPhone: +15550100"}),
        (Raw({"attachment": {"type": "template", "payload": {"template_type": "media", "elements": []}}}),
         {"attachment": {"type": "template", "payload": {"template_type": "media", "elements": []}}}),
    ]  # fmt: skip
    for content, wire in cases:
        client.send(ADA, content)
        assert graph.sends()[-1]["message"] == wire, type(content).__name__


@pytest.mark.parametrize(
    "content", [Reaction(message_id="m_1", emoji="👍"), Template("order_update")]
)
def test_refused_types_are_refused_before_any_request(
    client: Client, graph: FakeGraph, content: Any
) -> None:
    customer_says(client)
    (v,) = client.check(ADA, content)
    assert v.rule_id == "messenger.capability"
    with pytest.raises(PolicyViolation):
        client.send(ADA, content)
    assert graph.sends() == []


def test_fallback_limits_apply_to_what_the_content_became(client: Client) -> None:
    customer_says(client)
    fourteen = Buttons("Pick", [str(i) for i in range(14)])
    assert [v.rule_id for v in client.check(ADA, fourteen)] == ["messenger.limits.quick_replies"]
    eleven = ListMenu(body="b", button="Go", sections=[ListSection(rows=[
        ListRow(id=str(i), title="t", description="d") for i in range(11)])])  # fmt: skip
    assert [v.rule_id for v in client.check(ADA, eleven)] == ["messenger.limits.cards"]


def test_callback_data_is_metadata_and_reply_to(client: Client, graph: FakeGraph) -> None:
    event = customer_says(client)
    client.send(ADA, Text("Quoted"), reply_to=event.message_id, callback_data="ticket-42")
    sent = graph.sends()[-1]
    assert sent["message"]["metadata"] == "ticket-42"
    assert sent["reply_to"] == {"mid": "m_in1"}


def test_send_api_rate_limit_is_checked_before_sending(graph: FakeGraph, clock: FakeClock) -> None:
    slow = attrs.evolve(rules.latest(), send_rate_per_second=3.0)
    c = Client([channel(policy=slow)], clock=clock, transport=graph.transport())
    customer_says(c)
    for _ in range(3):
        c.send(ADA, Text("x"))
    with pytest.raises(PolicyViolation) as throttled:
        c.send(ADA, Text("x"))
    assert throttled.value.violation.rule_id == "messenger.rate.text"
    assert throttled.value.violation.retry_after == pytest.approx(1 / 3)
    clock.advance(1 / 3 + 0.001)
    c.send(ADA, Text("x"))


# --- errors (§5) -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "subcode", "cls", "rule"),
    [
        (10, 2018278, PolicyRejected, "messenger.window.standard"),
        (10, 2018065, PolicyRejected, "messenger.window.standard"),
        (10, 1893063, PolicyRejected, None),
        (100, 1893061, PolicyRejected, "messenger.tag.retired"),
        (551, 1545041, RecipientUnavailable, None),
        (200, None, RecipientUnavailable, None),
        (200, 2018028, PermissionDenied, None),
        (100, 2018001, NotFound, None),
        (100, None, InvalidRequest, None),
        (105, None, InvalidRequest, None),
        (190, None, AuthenticationError, None),
        (4, None, RateLimited, None),
        (17, None, RateLimited, None),
        (32, None, RateLimited, None),
        (613, None, RateLimited, None),
        (1200, None, ServerError, None),
        (10900, None, PolicyRejected, "messenger.private_reply.used"),
    ],
)
def test_error_table(
    graph: FakeGraph, clock: FakeClock, code: int, subcode: int | None, cls: type, rule: str | None
) -> None:
    c = Client([channel()], clock=clock, transport=graph.transport(), retry=RetryPolicy.never())
    customer_says(c)
    graph.fail_next(code, subcode, message=f"(#{code}) boom")
    with pytest.raises(cls) as caught:
        c.send(ADA, Text("hi"))
    error = caught.value
    assert (error.platform, error.code, error.subcode, error.http_status) == (
        "messenger",
        code,
        subcode,
        400,
    )
    assert error.request_id == "Atrace123"
    assert getattr(error, "rule_id", None) == rule
    assert isinstance(error, RecipientUnavailable) == (cls is RecipientUnavailable)


def test_a_temporary_send_failure_is_retried(graph: FakeGraph, clock: FakeClock) -> None:
    c = Client(
        [channel()], clock=clock, transport=graph.transport(), retry=RetryPolicy(base_delay=0)
    )
    customer_says(c)
    graph.fail_next(1200, message="Temporary send message failure. Please try again later.")
    assert c.send(ADA, Text("hi")).message_id
    assert len(graph.sends()) == 2
    graph.fail_next(2, transient=True)
    assert c.send(ADA, Text("hi")).message_id
    graph.fail_next(551, 1545041)  # permanent for now (Pitfalls 6): not retried
    with pytest.raises(RecipientUnavailable):
        c.send(ADA, Text("hi"))
    assert len(graph.sends()) == 5


def test_the_token_never_shows(graph: FakeGraph) -> None:
    ch = channel()
    assert TOKEN not in repr(ch) and SECRET not in repr(ch) and VERIFY not in repr(ch)
    c = Client([ch], transport=graph.transport(), preflight=False)
    c.send(ADA, Text("hi"))
    assert graph.calls[-1].query["appsecret_proof"]
    assert TOKEN not in str(graph.calls[-1].query)  # the token goes in the header


# --- private replies (§3.4) ------------------------------------------------------------------

COMMENT = "122131676912594941_1213590066982748"


def _comment(created: float) -> dict[str, Any]:
    return {"object": "page", "entry": [{"id": PAGE, "time": int(created), "changes": [{"field": "feed", "value": {
        "from": {"id": "5555", "name": "Bo"}, "message": "Do you ship to Norway?", "post_id": f"{PAGE}_1",
        "comment_id": COMMENT, "created_time": int(created), "item": "comment", "parent_id": f"{PAGE}_1", "verb": "add"}}]}]}  # fmt: skip


def test_a_comment_gets_exactly_one_private_reply(client: Client, graph: FakeGraph) -> None:
    (comment,) = deliver(client, _comment(NOW - 3600)).events
    assert isinstance(comment, CommentReceived)
    result = client.messenger.reply_to_comment(comment.comment_id, Text("Yes! Details here."))
    assert result.user_id == "commenter-psid"
    assert graph.sends()[-1] == {
        "recipient": {"comment_id": COMMENT},
        "messaging_type": "RESPONSE",
        "message": {"text": "Yes! Details here."},
    }
    with pytest.raises(PolicyViolation) as second:
        client.messenger.reply_to_comment(COMMENT, Text("And another thing"))
    assert second.value.violation.rule_id == "messenger.private_reply.used"
    assert second.value.violation.native_code == 10900
    assert len(graph.sends()) == 1
    # The window opens only once the person answers.
    assert not client.window(Address("messenger", "commenter-psid")).open


def test_a_private_reply_after_7_days_is_refused(client: Client, graph: FakeGraph) -> None:
    deliver(client, _comment(NOW - 7 * DAY))
    with pytest.raises(PolicyViolation) as late:
        client.messenger.reply_to_comment(COMMENT, Text("Sorry we missed this"))
    assert late.value.violation.rule_id == "messenger.private_reply.expired"
    assert graph.sends() == []


def test_a_failed_private_reply_can_be_tried_again(client: Client, graph: FakeGraph) -> None:
    deliver(client, _comment(NOW - 60))
    graph.fail_next(2)
    with pytest.raises(ServerError):
        client.messenger.reply_to_comment(COMMENT, Text("first try"))
    client.messenger.reply_to_comment(COMMENT, Text("second try"))
    with pytest.raises(PolicyViolation):
        client.messenger.reply_to_comment(COMMENT, Text("third"))


def test_two_clients_on_one_store_reply_once(
    graph: FakeGraph, clock: FakeClock, tmp_path: Any
) -> None:
    store = SQLiteStore(str(tmp_path / "state.db"))
    one = Client([channel()], clock=clock, store=store, transport=graph.transport())
    two = Client([channel()], clock=clock, store=store, transport=graph.transport())
    deliver(one, _comment(NOW - 60))
    one.messenger.reply_to_comment(COMMENT, Text("from worker one"))
    with pytest.raises(PolicyViolation):
        two.messenger.reply_to_comment(COMMENT, Text("from worker two"))
    assert len(graph.sends()) == 1


# --- the extras (client.messenger) -----------------------------------------------------------


def test_sender_actions_are_requests_of_their_own(client: Client, graph: FakeGraph) -> None:
    customer_says(client)
    client.messenger.mark_seen(ADA)
    client.messenger.typing_on(ADA)
    client.messenger.typing_off(ADA)
    assert [c.body for c in graph.calls[-3:]] == [
        {"recipient": {"id": PSID}, "sender_action": action}
        for action in ("mark_seen", "typing_on", "typing_off")
    ]
    with pytest.raises(ConfigurationError):
        client.messenger.typing_on(Address("whatsapp", "15551230001"))


def test_user_profile_and_attachment_upload(client: Client, graph: FakeGraph) -> None:
    profile = client.messenger.user_profile(ADA)
    assert (profile.first_name, profile.profile_pic) == ("Ada", "https://e.x/ada.png")
    assert graph.calls[-1].path == f"/v25.0/{PSID}"
    assert graph.calls[-1].query["fields"] == "name,first_name,last_name,profile_pic"
    attachment = client.messenger.upload_attachment("https://e.x/logo.png")
    assert attachment == "1854626884821032"
    assert graph.calls[-1].body == {
        "message": {
            "attachment": {
                "type": "image",
                "payload": {"url": "https://e.x/logo.png", "is_reusable": True},
            }
        }
    }


def test_messenger_profile_api(client: Client, graph: FakeGraph) -> None:
    assert client.messenger.profile.set(
        greeting="Hi {{user_first_name}}! How can we help?",
        get_started="GET_STARTED",
        persistent_menu=[
            Button("TRACK", "Track my order"),
            LinkButton("Shop", "https://shop.example"),
        ],
        ice_breakers=[Button("SHIP", "When will my order ship?")],
    )
    body = graph.calls[-1].body
    assert body["greeting"] == [
        {"locale": "default", "text": "Hi {{user_first_name}}! How can we help?"}
    ]
    assert body["ice_breakers"] == [{"locale": "default", "call_to_actions": [
        {"question": "When will my order ship?", "payload": "SHIP"}]}]  # fmt: skip
    got = client.messenger.profile.get()
    assert got.get_started == "GET_STARTED"
    assert got.persistent_menu == (
        Button("TRACK", "Track my order"),
        LinkButton("Shop", "https://shop.example"),
    )
    assert got.ice_breakers == (Button("SHIP", "When will my order ship?"),)
    assert got.greeting == (("default", "Hi {{user_first_name}}! How can we help?"),)
    assert client.messenger.profile.delete(["persistent_menu"])
    assert client.messenger.profile.get().persistent_menu == ()
    calls = len(graph.calls)
    with pytest.raises(PolicyViolation):
        client.messenger.profile.set(greeting="g" * 161)
    with pytest.raises(PolicyViolation):
        client.messenger.profile.set(ice_breakers=[Button(str(i), "q?") for i in range(5)])
    with pytest.raises(ConfigurationError):
        client.messenger.profile.delete(["home_url"])
    assert len(graph.calls) == calls


def test_hand_over(client: Client, graph: FakeGraph) -> None:
    assert client.messenger.pass_thread_control(ADA, metadata="needs a human")
    assert graph.calls[-1].path.endswith("/pass_thread_control")
    assert graph.calls[-1].body == {
        "recipient": {"id": PSID},
        "target_app_id": 263902037430900,
        "metadata": "needs a human",
    }
    assert client.messenger.thread_owner(ADA) == PAGE_INBOX_APP_ID
    assert client.messenger.take_thread_control(ADA)
    assert client.messenger.request_thread_control(ADA, metadata="may I?")
    graph.owner = None
    assert client.messenger.thread_owner(ADA) is None
    apps = client.messenger.secondary_receivers()
    assert [(a.id, a.name) for a in apps] == [
        ("12345678910", "David's Composer"),
        ("23456789101", "Messenger Rocks"),
    ]


def test_badge_from_the_conversation_log(client: Client, clock: FakeClock) -> None:
    fast = [Address("messenger", f"fast{i}") for i in range(9)]
    for i, who in enumerate(fast):
        customer_says(client, f"m_f{i}", "hello", user=who.user, ts=int(clock.time() * 1000))
        clock.advance(120)
        client.send(who, Text("Hi! How can we help?"))  # our own reply, 2 minutes later
        client.send(who, Text("A second reply does not count"))
    slow = Address("messenger", "slow")
    customer_says(client, "m_slow", "anyone?", user=slow.user, ts=int(clock.time() * 1000))
    clock.advance(2 * DAY)  # never answered: judged after a day
    report = client.messenger.badge()
    assert (report.conversations, report.responded, report.pending) == (10, 9, 0)
    assert report.response_rate == pytest.approx(0.9)
    assert report.response_time == pytest.approx(120.0)
    assert report.very_responsive
    clock.advance(8 * DAY)
    assert client.messenger.badge().conversations == 0  # older than 7 days


def test_echoes_answer_conversations_for_the_badge(client: Client, clock: FakeClock) -> None:
    customer_says(client, ts=int(NOW * 1000))
    echo = {"sender": {"id": PAGE}, "recipient": {"id": PSID}, "timestamp": int(NOW * 1000) + 600_000,
            "message": {"is_echo": True, "app_id": 263902037430900, "mid": "m_human", "text": "A person here"}}  # fmt: skip
    deliver(client, envelope(echo, key="standby"))  # a human answered in the Page Inbox
    clock.advance(2 * DAY)
    report = client.messenger.badge()
    assert (report.responded, report.response_time) == (1, 600.0)


# --- async: the same, awaited ----------------------------------------------------------------


@pytest.mark.anyio
async def test_async_face(graph: FakeGraph, clock: FakeClock) -> None:
    async with AsyncClient([channel()], clock=clock, transport=graph.async_transport()) as c:
        headers, body = signed(envelope(message("m_a1")))
        outcome = await c.webhooks.handle("messenger", "POST", URL, headers, body)
        (event,) = outcome.events
        assert isinstance(event, MessageReceived)
        assert (await c.window(event.sender)).open
        await c.messenger.typing_on(event.sender)
        result = await c.send(event.sender, QuickReplies("Size?", ["S", "M", "L"]))
        assert result.message_id == "m_out1"
        assert (await c.messenger.user_profile(event.sender)).name == "Ada Lovelace"
        assert await c.messenger.profile.set(get_started="GO")
        assert (await c.messenger.profile.get(["get_started"])).get_started == "GO"
        assert await c.messenger.pass_thread_control(event.sender)
        assert await c.messenger.thread_owner(event.sender) == PAGE_INBOX_APP_ID
        clock.advance(25 * 3600)
        with pytest.raises(PolicyViolation):
            await c.send(event.sender, Text("late"))
        await c.send(event.sender, Text("Sam here"), tag="HUMAN_AGENT", human=True)
        headers, body = signed(_comment(clock.time() - 60))
        await c.webhooks.handle("messenger", "POST", URL, headers, body)
        await c.messenger.reply_to_comment(COMMENT, Text("Hi!"))
        with pytest.raises(PolicyViolation):
            await c.messenger.reply_to_comment(COMMENT, Text("again"))
        report = await c.messenger.badge()
        assert report.responded == 1


def test_two_pages_one_client(graph: FakeGraph, clock: FakeClock) -> None:
    other = Messenger(page_id="2222", page_access_token=TOKEN, app_secret=SECRET)
    c = Client([channel(), other], clock=clock, transport=graph.transport())
    customer_says(c)
    c.send(Address("messenger", PSID, PAGE), Text("from page one"))
    with pytest.raises(ConfigurationError, match="several messenger channels"):
        c.send(ADA, Text("which page?"))
    with pytest.raises(PolicyViolation):  # the window is per Page
        c.send(Address("messenger", PSID, "2222"), Text("from page two"))


def test_httpx_errors_never_leak(graph: FakeGraph) -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, content=b"<html>oops</html>")

    c = Client(
        [channel()],
        transport=httpx.MockTransport(broken),
        retry=RetryPolicy.never(),
        preflight=False,
    )
    with pytest.raises(ServerError):
        c.send(ADA, Text("hi"))


def test_the_badge_log_is_the_same_per_body_and_per_event(
    graph: FakeGraph, clock: FakeClock
) -> None:
    """One body's new events are logged in a few round trips; the log is the same as when
    each arrives alone: a reply in the same body, one customer twice, an album."""
    t = int(NOW * 1000)
    album = _event(timestamp=t + 3000, message={"mid": "m_al", "attachments": [
        {"type": "image", "payload": {"url": "https://cdn.x/1.jpg"}},
        {"type": "image", "payload": {"url": "https://cdn.x/2.jpg"}}]})  # fmt: skip
    album["sender"] = {"id": "u3"}
    echo = {"sender": {"id": PAGE}, "recipient": {"id": "u1"}, "timestamp": t + 4000,
            "message": {"is_echo": True, "mid": "m_e", "text": "hi u1"}}  # fmt: skip
    events = [
        message("m_a", user="u1", ts=t),
        message("m_b", user="u2", ts=t + 1000),
        message("m_c", user="u1", ts=t + 2000),
        album,
        echo,
        message("m_d", user="u1", ts=t + 5000),  # after the reply: the same conversation
    ]
    together = Client([channel()], clock=clock, transport=graph.transport())
    apart = Client([channel()], clock=clock, transport=graph.transport())
    deliver(together, envelope(*events))
    for e in events:
        deliver(apart, envelope(e))
    clock.advance(2 * DAY)
    a, b = together.messenger.badge(), apart.messenger.badge()
    assert a == b
    assert (a.conversations, a.responded, a.response_time) == (3, 1, 4.0)


def test_without_the_badge_log(graph: FakeGraph, clock: FakeClock) -> None:
    store = MemoryStore(clock=clock)
    c = Client([channel(badge_log=False)], clock=clock, store=store, transport=graph.transport())
    customer_says(c)
    c.send(ADA, Text("hi"))
    with pytest.raises(ConfigurationError, match="badge_log"):
        c.messenger.badge()
    logging = Client([channel()], clock=clock, store=store, transport=graph.transport())
    clock.advance(2 * DAY)
    assert logging.messenger.badge().conversations == 0  # nothing was logged
