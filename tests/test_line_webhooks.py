"""LINE webhooks through the public interface (spec/line.md §1, §2; research/line.md §1.4,
§3, §5): the published signature vectors, every event type in 1:1 chats, groups and rooms,
standby, the reachability check, redelivery, and the state the events leave in the store
(a chat's reply token, a user's friendship) for the send flows.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import orjson
import pytest

from omnimsg import (
    AccountLinked,
    AsyncClient,
    Audio,
    BeaconDetected,
    Client,
    ConfigurationError,
    Document,
    FollowChanged,
    Image,
    Line,
    Location,
    MembershipChanged,
    MemoryStore,
    MessageReceived,
    MessageUnsent,
    Postback,
    SignatureError,
    Sticker,
    Text,
    Unknown,
    UnsupportedContent,
    Video,
    VideoWatched,
    WebhookConfig,
    WebhookParseError,
)
from omnimsg.clock import FakeClock
from omnimsg.platforms.line import wire
from omnimsg.platforms.line.state import (
    FOLLOW_TTL,
    follow_key,
    friendship,
    reply_token_key,
    unfollow_key,
)
from omnimsg.signing import LineSignatureVerifier, sign_line, verify_line

BOT = "U" + "0123456789abcdef" * 2
OTHER_BOT = "U" + "fedcba9876543210" * 2
SECRET = "line-test-channel-secret"
USER = "U206d25c2ea6bd87c17655609a1c37cb8"
GROUP = "Ca56f94637cc4347f90a25382909b24b9"
ROOM = "Ra8dbf4673c4c812cd491258042226c99"
NOW = 1_780_000_000.0
MS = int(NOW * 1000)
URL = "https://bot.example/webhooks/line"
TOKEN = "nHuyWiB7yP5Zw52FIkcQobQuGDXCTA"

SOURCES: dict[str, dict[str, str]] = {
    "user": {"type": "user", "userId": USER},
    "group": {"type": "group", "groupId": GROUP, "userId": USER},
    "room": {"type": "room", "roomId": ROOM, "userId": USER},
}
CHATS = {"user": USER, "group": GROUP, "room": ROOM}


def channel(
    secret: str | None = SECRET, bot: str = BOT, lifetime: float = 60.0, **more: Any
) -> Line:
    return Line(
        bot_user_id=bot,
        channel_access_token="line-access-token",
        channel_secret=secret,
        reply_token_lifetime=lifetime,
        **more,
    )


def make_client(*channels: Line, clock: FakeClock | None = None) -> Client:
    clock = clock or FakeClock(NOW)
    return Client(
        list(channels) or [channel()],
        clock=clock,
        store=MemoryStore(clock=clock),
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def client(clock: FakeClock) -> Client:
    return make_client(channel(), clock=clock)


_ids = iter(range(10**9))


def event(kind: str, source: str | dict[str, Any] | None = "user", **fields: Any) -> dict[str, Any]:
    """One webhook event with the common fields LINE always sends (research §1.4)."""
    e: dict[str, Any] = {
        "type": kind,
        "mode": "active",
        "timestamp": MS,
        "webhookEventId": f"01J{next(_ids):023d}",
        "deliveryContext": {"isRedelivery": False},
    }
    if source is not None:
        e["source"] = SOURCES[source] if isinstance(source, str) else source
    e.update(fields)
    return e


def message(content: dict[str, Any], source: str = "user", **fields: Any) -> dict[str, Any]:
    fields.setdefault("replyToken", TOKEN)
    return event("message", source, message={"id": "325708", **content}, **fields)


def body_of(*events: dict[str, Any], destination: Any = BOT) -> bytes:
    return json.dumps({"destination": destination, "events": list(events)}).encode()


def signed(body: bytes, secret: str = SECRET) -> tuple[dict[str, str], bytes]:
    return {"x-line-signature": sign_line(secret, body)}, body


def deliver(client: Client, *events: dict[str, Any], destination: Any = BOT) -> Any:
    headers, body = signed(body_of(*events, destination=destination))
    outcome = client.webhooks.handle("line", "POST", URL, headers, body)
    assert outcome.status == 200, outcome
    return outcome


def one(client: Client, e: dict[str, Any]) -> Any:
    (parsed,) = client.webhooks.parse("line", *signed(body_of(e)))
    assert parsed.platform == "line"
    return parsed


# --- signatures (research §5) ----------------------------------------------------------------

TV3_RAW = (
    '{"events":[{"message":{"id":"test_event_message_id","text":"this is test message.'
    '😄😅😢😞😄😅😢😞","quoteToken":"test_quote_token","type":"text"},"replyToken":'
    '"test_reply_token","source":{"groupId":"test_group_id","type":"group"},"webhookEventId":'
    '"test_webhook_event_id","deliveryContext":{"isRedelivery":false},"timestamp":0,"mode":'
    '"active","type":"message"}],"destination":"Uaaaabbbbccccddddeeeeffff"}'
).encode()
TV3_ESCAPED = json.dumps(json.loads(TV3_RAW), separators=(",", ":")).encode()  # \uXXXX emoji

VECTORS = [
    ("channel_secret", b"bodybodybodybody", "/gg9a+LvFevTH1sd7XCQycD7tsWclCsInj7MhBHxN7k="),
    ("test_secret", b'{"hello":"world"}', "t7Hn4ZDHqs6e+wdvI5TyQIvzie0DmMUmuXEBqyyE/tM="),
    ("test_channel_secret", TV3_RAW, "eRdWYcVCzZV3MVZ3M9/rHJCl/a3oSbsRb04cLovpVwM="),
    ("test_channel_secret", TV3_ESCAPED, "OgmPTpRbH/YN+TikEezgT16sc8rzu08WyZFRYOe4yJI="),
    ("test_channel_secret", b"i am not jason", "Z8YlPpm0lQOqPipiCHVbiuwIDIzRzD7w5hvHgmwEuEs="),
    ("SECRET", b"{}", "3q8QXTAGaey18yL8FWTqdVlbMr6hcuNvM4tefa0o9nA="),
]
NEGATIVES = [
    ("channel_secret", b"bodybodybodybody", "invalid_signature"),
    ("test_secret", b'{"hello":"world"}', "t7Hn4ZDHqs6e+wdvi5TyQivzie0DmMUmuXEBqyyE/tM="),
    ("test_channel_secret", TV3_RAW, "WqJD7WAIZhWcXThMCf8jZnwG3Hmn7EF36plkQGkj48w="),
    ("test_channel_secret", TV3_RAW, "WqJD7WAIZ6plkQGkj48w="),
    ("test_channel_secret", TV3_RAW, "OgmPTpRbH/YN+TikEezgT16sc8rzu08WyZFRYOe4yJI="),
    ("SECRET", b"{}", "596359635963"),
    ("SECRET", b"{}", "3q8QXTAGaey18yL8FWTqdVlbMr6hcuNvM4tefa0o9nA=\n"),  # exact, as LINE's SDK
    ("SECRET", b"{}", "3Q8QXTAGaey18yL8FWTqdVlbMr6hcuNvM4tefa0o9nA="),  # Base64 is case-sensitive
    ("SECRET", b"{}", ""),
    ("SECRET", b"{}", "3q8QXTAGaey18yL8FWTqdVlbMr6hcuNvM4tefa0o9nA\u00e9"),
]


@pytest.mark.parametrize(("secret", "body", "signature"), VECTORS)
def test_published_signature_vectors(secret: str, body: bytes, signature: str) -> None:
    assert sign_line(secret, body) == signature
    assert sign_line(secret.encode(), body) == signature
    verify_line(secret, body, signature)
    assert LineSignatureVerifier(secret).matches(body, signature)


@pytest.mark.parametrize(("secret", "body", "signature"), NEGATIVES)
def test_published_negative_vectors(secret: str, body: bytes, signature: str) -> None:
    assert not LineSignatureVerifier(secret).matches(body, signature)
    with pytest.raises(SignatureError):
        verify_line(secret, body, signature)


def test_re_encoding_the_body_breaks_the_signature() -> None:
    """TV3: the same JSON with escaped emoji is other bytes, so another signature (Pitfalls 1)."""
    assert json.loads(TV3_RAW) == json.loads(TV3_ESCAPED)
    assert TV3_RAW != TV3_ESCAPED
    assert sign_line("test_channel_secret", TV3_RAW) != sign_line(
        "test_channel_secret", TV3_ESCAPED
    )


def test_the_verifier_hides_the_secret() -> None:
    assert "test_secret" not in repr(LineSignatureVerifier("test_secret"))


def test_the_reader_verifies_the_raw_bytes_of_tv3() -> None:
    """The raw-emoji body is taken with its own signature, refused with the escaped one's."""
    c = make_client(channel(secret="test_channel_secret"))
    good = {"x-line-signature": "eRdWYcVCzZV3MVZ3M9/rHJCl/a3oSbsRb04cLovpVwM="}
    (parsed,) = c.webhooks.parse("line", good, TV3_RAW)
    assert parsed.account == "Uaaaabbbbccccddddeeeeffff"
    # The vector's timestamp is 0 (January 1970): not a webhook time, so kept raw.
    assert isinstance(parsed, Unknown) and "timestamp" in parsed.reason
    assert parsed.raw["replyToken"] == "test_reply_token"
    escaped = {"x-line-signature": "OgmPTpRbH/YN+TikEezgT16sc8rzu08WyZFRYOe4yJI="}
    with pytest.raises(SignatureError):
        c.webhooks.parse("line", escaped, TV3_RAW)
    outcome = c.webhooks.handle("line", "POST", URL, escaped, TV3_RAW)
    assert outcome.status == 403 and isinstance(outcome.error, SignatureError)
    assert c.webhooks.parse("line", escaped, TV3_ESCAPED)  # its own bytes, its own signature


@pytest.mark.parametrize(
    ("secret", "body", "signature"),
    [VECTORS[0], VECTORS[1], VECTORS[4], VECTORS[5]],
    ids=["TV1", "TV2", "TV4", "TV5"],
)
def test_a_validly_signed_body_that_is_not_line_s_is_400(
    secret: str, body: bytes, signature: str
) -> None:
    """research §5: a good signature on a bad body is 400, never 401/403."""
    c = make_client(channel(secret=secret))
    outcome = c.webhooks.handle("line", "POST", URL, {"X-Line-Signature": signature}, body)
    assert outcome.status == 400 and isinstance(outcome.error, WebhookParseError)
    with pytest.raises(WebhookParseError):
        c.webhooks.parse("line", {"x-line-signature": signature}, body)


@pytest.mark.parametrize(("secret", "body", "signature"), NEGATIVES[:6])
def test_wrong_signatures_are_403(secret: str, body: bytes, signature: str) -> None:
    c = make_client(channel(secret=secret))
    outcome = c.webhooks.handle("line", "POST", URL, {"x-line-signature": signature}, body)
    assert outcome.status == 403 and isinstance(outcome.error, SignatureError)
    assert outcome.events == ()


def test_a_missing_signature_is_401(client: Client) -> None:
    body = body_of(message({"type": "text", "text": "hi", "quoteToken": "q"}))
    outcome = client.webhooks.handle("line", "POST", URL, {}, body)
    assert outcome.status == 401 and isinstance(outcome.error, SignatureError)
    assert "missing" in str(outcome.error)
    # Meta's header is not LINE's.
    outcome = client.webhooks.handle("line", "POST", URL, {"X-Hub-Signature-256": "sha256=0"}, body)
    assert outcome.status == 401


@pytest.mark.parametrize(
    "shape",
    [
        lambda sig: {"x-line-signature": sig},
        lambda sig: {"X-Line-Signature": sig},
        lambda sig: {"X-LINE-SIGNATURE": sig},
        lambda sig: [("X-Line-Signature", sig)],
        lambda sig: [(b"host", b"app"), (b"x-line-signature", sig.encode())],
        lambda sig: {b"x-line-signature": sig.encode()},
        lambda sig: httpx.Headers({"X-Line-Signature": sig}),
    ],
    ids=["lower", "canonical", "upper", "pairs", "asgi", "bytes-dict", "httpx"],
)
def test_every_header_shape(client: Client, shape: Any) -> None:
    body = body_of(message({"type": "text", "text": "hi", "quoteToken": "q"}))
    outcome = client.webhooks.handle("line", "POST", URL, shape(sign_line(SECRET, body)), body)
    assert outcome.status == 200 and len(outcome.events) == 1


def test_any_configured_channel_secret_verifies(clock: FakeClock) -> None:
    c = make_client(channel(), channel(secret="second-secret", bot=OTHER_BOT), clock=clock)
    e = message({"type": "text", "text": "hi", "quoteToken": "q"})
    for secret, bot in ((SECRET, BOT), ("second-secret", OTHER_BOT)):
        headers, body = signed(body_of(e, destination=bot), secret)
        (parsed,) = c.webhooks.parse("line", headers, body)
        assert parsed.account == bot
    headers, body = signed(body_of(e), "nobody's secret")
    assert c.webhooks.handle("line", "POST", URL, headers, body).status == 403


def test_without_a_channel_secret_nothing_is_verified() -> None:
    c = make_client(channel(secret=None))
    headers, body = signed(body_of())
    outcome = c.webhooks.handle("line", "POST", URL, headers, body)
    assert outcome.status == 500 and isinstance(outcome.error, ConfigurationError)
    assert "channel_secret" in str(outcome.error)
    with pytest.raises(ConfigurationError):
        c.webhooks.parse("line", headers, body)
    assert c.webhooks.handle("line", "POST", URL, {}, body).status == 500  # before any header


def test_the_size_limit_comes_before_the_signature(clock: FakeClock) -> None:
    c = Client(
        [channel()],
        clock=clock,
        webhooks=WebhookConfig(max_body_bytes=100),
    )
    big = body_of(message({"type": "text", "text": "x" * 200, "quoteToken": "q"}))
    assert c.webhooks.handle("line", "POST", URL, {}, big).status == 413
    assert c.webhooks.handle("line", "POST", URL, *signed(big)).status == 413


def test_there_is_no_handshake(client: Client) -> None:
    outcome = client.webhooks.handle("line", "GET", URL + "?hub.mode=subscribe", {}, b"")
    assert outcome.status == 405


def test_the_reachability_check_is_200_without_events(client: Client) -> None:
    """The console's "Verify": a signed POST with no events (research §3)."""
    outcome = deliver(client, destination="xxxxxxxxxx")
    assert (outcome.status, outcome.body, outcome.events, outcome.duplicates) == (200, b"OK", (), 0)
    assert client.webhooks.parse("line", *signed(body_of())) == []


@pytest.mark.parametrize(
    "payload",
    [b"[]", b'"events"', b"{}", b'{"destination":"U1"}', b'{"events":{}}', b'{"events":"x"}'],
)
def test_not_a_line_body_is_400(client: Client, payload: bytes) -> None:
    outcome = client.webhooks.handle("line", "POST", URL, *signed(payload))
    assert outcome.status == 400 and isinstance(outcome.error, WebhookParseError)


# --- every event type (spec §2) --------------------------------------------------------------


@pytest.mark.parametrize("source", ["user", "group", "room"])
def test_a_text_message_in_every_kind_of_chat(client: Client, source: str) -> None:
    e = message(
        {
            "type": "text",
            "text": "Hello (emoji) @Ada",
            "quoteToken": "q1",
            "emojis": [{"index": 6, "length": 7, "productId": "p", "emojiId": "001"}],
            "mention": {"mentionees": [{"index": 14, "length": 4, "type": "user", "userId": "U1"}]},
        },
        source,
    )
    parsed = one(client, e)
    assert isinstance(parsed, MessageReceived)
    assert parsed.account == BOT
    assert parsed.user == CHATS[source]  # where a reply or a push goes
    assert parsed.message_id == "325708"
    assert parsed.timestamp == NOW
    assert parsed.content == Text("Hello (emoji) @Ada")
    assert parsed.standby is False and parsed.context is None
    assert parsed.raw == e  # the event, whole: the emojis, the mention, the speaker
    assert parsed.raw["source"]["userId"] == USER
    assert parsed.raw["replyToken"] == TOKEN
    assert parsed.sender.user == CHATS[source] and parsed.sender.account == BOT


def test_a_quoted_message_and_standby(client: Client) -> None:
    e = message(
        {"type": "text", "text": "this one", "quoteToken": "q2", "quotedMessageId": "4242"},
        mode="standby",
    )
    del e["replyToken"]  # a standby message may have none (research §3)
    parsed = one(client, e)
    assert isinstance(parsed, MessageReceived)
    assert parsed.standby is True
    assert parsed.context is not None and parsed.context.message_id == "4242"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            {"type": "image", "contentProvider": {"type": "line"}, "quoteToken": "q"},
            Image(media_id="325708"),
        ),
        (
            {
                "type": "image",
                "contentProvider": {
                    "type": "external",
                    "originalContentUrl": "https://example.com/a.jpg",
                    "previewImageUrl": "https://example.com/p.jpg",
                },
                "imageSet": {"id": "E005", "index": 2, "total": 2},
                "quoteToken": "q",
            },
            Image(url="https://example.com/a.jpg"),
        ),
        (
            {
                "type": "video",
                "duration": 60000,
                "contentProvider": {"type": "line"},
                "quoteToken": "q",
            },
            Video(media_id="325708", duration_ms=60000),
        ),
        (
            {
                "type": "video",
                "duration": 60000,
                "contentProvider": {"type": "external", "originalContentUrl": "https://e.x/v.mp4"},
                "quoteToken": "q",
            },
            Video(url="https://e.x/v.mp4", duration_ms=60000),
        ),
        (
            {"type": "audio", "duration": 1000, "contentProvider": {"type": "line"}},
            Audio(media_id="325708", duration_ms=1000),
        ),
        (
            {"type": "file", "fileName": "file.txt", "fileSize": 2138},
            Document(media_id="325708", filename="file.txt"),
        ),
        (
            {
                "type": "location",
                "title": "my location",
                "address": "Tokyo",
                "latitude": 35.65910807942215,
                "longitude": 139.70372892916203,
            },
            Location(
                latitude=35.65910807942215,
                longitude=139.70372892916203,
                name="my location",
                address="Tokyo",
            ),
        ),
        (
            {
                "type": "sticker",
                "packageId": "446",
                "stickerId": "1988",
                "stickerResourceType": "STATIC",
                "keywords": ["Love"],
                "quoteToken": "q",
            },
            Sticker(media_id="446:1988"),
        ),
        (
            {
                "type": "sticker",
                "packageId": "11537",
                "stickerId": "52002734",
                "stickerResourceType": "ANIMATION",
                "quoteToken": "q",
            },
            Sticker(media_id="11537:52002734", animated=True),
        ),
    ],
    ids=[
        "image",
        "image-external",
        "video",
        "video-external",
        "audio",
        "file",
        "location",
        "sticker",
        "sticker-animated",
    ],
)
def test_every_message_type(client: Client, content: dict[str, Any], expected: Any) -> None:
    parsed = one(client, message(content))
    assert isinstance(parsed, MessageReceived)
    assert parsed.content == expected
    assert parsed.user == USER


def test_an_unknown_message_type_is_unsupported_content(client: Client) -> None:
    parsed = one(client, message({"type": "hologram", "depth": 3}))
    assert isinstance(parsed, MessageReceived)
    assert isinstance(parsed.content, UnsupportedContent)
    assert parsed.content.kind == "hologram" and parsed.content.raw["depth"] == 3


def test_a_postback_with_datetime_picker_params(client: Client) -> None:
    e = event(
        "postback",
        replyToken=TOKEN,
        postback={"data": "action=buy&itemId=123", "params": {"datetime": "2017-12-25T01:00"}},
    )
    parsed = one(client, e)
    assert isinstance(parsed, Postback)
    assert (parsed.payload, parsed.source, parsed.user, parsed.timestamp) == (
        "action=buy&itemId=123",
        "postback",
        USER,
        NOW,
    )
    assert parsed.raw["postback"]["params"] == {"datetime": "2017-12-25T01:00"}


def test_follow_and_unfollow(client: Client) -> None:
    follow = one(client, event("follow", replyToken=TOKEN, follow={"isUnblocked": True}))
    assert isinstance(follow, FollowChanged) and follow.following is True
    assert (follow.user, follow.account, follow.timestamp) == (USER, BOT, NOW)
    assert follow.raw["follow"]["isUnblocked"] is True
    unfollow = one(client, event("unfollow"))
    assert isinstance(unfollow, FollowChanged) and unfollow.following is False


@pytest.mark.parametrize("source", ["user", "group", "room"])
def test_unsend(client: Client, source: str) -> None:
    parsed = one(client, event("unsend", source, unsend={"messageId": "325708"}))
    assert isinstance(parsed, MessageUnsent)
    assert (parsed.message_id, parsed.user, parsed.standby) == ("325708", CHATS[source], False)


@pytest.mark.parametrize("source", ["group", "room"])
def test_the_bot_and_members_join_and_leave(client: Client, source: str) -> None:
    where = {"type": source, f"{source}Id": CHATS[source]}
    members = {"members": [{"type": "user", "userId": "U1"}, {"type": "user", "userId": "U2"}]}
    cases = [
        (event("join", where, replyToken=TOKEN), "join", ()),
        (event("leave", where), "leave", ()),
        (
            event("memberJoined", where, replyToken=TOKEN, joined=members),
            "member_joined",
            ("U1", "U2"),
        ),
        (event("memberLeft", where, left=members), "member_left", ("U1", "U2")),
    ]
    for e, action, ids in cases:
        parsed = one(client, e)
        assert isinstance(parsed, MembershipChanged), parsed
        assert (parsed.action, parsed.members, parsed.user) == (action, ids, CHATS[source])
        assert parsed.sender.user == CHATS[source]


def test_video_beacon_and_account_link(client: Client) -> None:
    video = one(
        client,
        event("videoPlayComplete", replyToken=TOKEN, videoPlayComplete={"trackingId": "track_id"}),
    )
    assert isinstance(video, VideoWatched) and video.tracking_id == "track_id"
    beacon = one(
        client,
        event(
            "beacon",
            replyToken=TOKEN,
            beacon={"hwid": "d41d8cd98f", "type": "enter", "dm": "1234567890abcdef"},
        ),
    )
    assert isinstance(beacon, BeaconDetected)
    assert (beacon.hwid, beacon.type, beacon.dm, beacon.user) == (
        "d41d8cd98f",
        "enter",
        "1234567890abcdef",
        USER,
    )
    bare = one(
        client, event("beacon", replyToken=TOKEN, beacon={"hwid": "d41d8cd98f", "type": "stay"})
    )
    assert isinstance(bare, BeaconDetected) and bare.dm is None
    linked = one(
        client, event("accountLink", replyToken=TOKEN, link={"result": "ok", "nonce": "Vb771w"})
    )
    assert isinstance(linked, AccountLinked) and linked.ok and linked.nonce == "Vb771w"
    failed = one(client, event("accountLink", link={"result": "failed", "nonce": "Vb771w"}))
    assert isinstance(failed, AccountLinked) and not failed.ok and failed.result == "failed"
    assert "replyToken" not in failed.raw  # absent when linking failed (spec §2)
    standby = one(
        client, event("videoPlayComplete", mode="standby", videoPlayComplete={"trackingId": "t"})
    )
    assert isinstance(standby, VideoWatched) and standby.standby


@pytest.mark.parametrize(
    "kind",
    [
        "membership",
        "module",
        "activated",
        "deactivated",
        "botSuspended",
        "botResumed",
        "delivery",
        "messageEdited",
        "things",
        "undefined",
    ],
)
def test_other_event_types_are_kept_raw(client: Client, kind: str) -> None:
    e = event(kind, replyToken=TOKEN, undefinedField={"1": 1})
    outcome = deliver(client, e)
    (parsed,) = outcome.events
    assert isinstance(parsed, Unknown)
    assert (parsed.platform, parsed.account, parsed.raw) == ("line", BOT, e)
    assert kind in parsed.reason
    assert client.store.get(reply_token_key(BOT, USER)) is None  # Unknown implies no state
    assert deliver(client, e).duplicates == 1  # de-duplicated by webhookEventId all the same


@pytest.mark.parametrize(
    ("e", "why"),
    [
        (
            event("message", None, message={"id": "1", "type": "text", "text": "x"}),
            "without a user",
        ),
        (event("follow", {"type": "user"}, replyToken=TOKEN), "without a user"),
        (event("join", {"type": "group"}), "without a user"),
        (
            event("message", {"type": "planet", "planetId": "P"}, message={"id": "1"}),
            "without a user",
        ),
        (event("message", "user", message="text"), "malformed"),
        (event("message", "user", message={"type": "text", "text": "no id"}), "malformed"),
        (event("message", "user", message={"id": "1", "type": "text"}), "malformed"),
        (
            event(
                "message",
                "user",
                message={"id": "1", "type": "location", "latitude": 91, "longitude": 0},
            ),
            "malformed",
        ),
        (
            event("message", "user", message={"id": "1", "type": "sticker", "packageId": None}),
            "malformed",
        ),
        (event("postback", postback={"params": {}}), "malformed"),
        (event("unsend", unsend={}), "malformed"),
        (event("memberJoined", "group", joined={"members": "U1"}), "malformed"),
        (event("videoPlayComplete", videoPlayComplete={"trackingId": 7}), "malformed"),
        (event("beacon", beacon={"hwid": "d41d8cd98f"}), "malformed"),
        (event("accountLink", link=[]), "malformed"),
    ],
)
def test_malformed_events_become_unknown(client: Client, e: dict[str, Any], why: str) -> None:
    parsed = one(client, e)
    assert isinstance(parsed, Unknown) and why in parsed.reason, parsed
    assert parsed.raw == e


@pytest.mark.parametrize(
    "ts",
    [1e20, 10**30, -1, 0, 1_780_000_000, "1780000000000", None, True, 1.5e12 + 0.5, [MS], 1e300],
)
def test_bad_timestamps_become_unknown_and_change_nothing(client: Client, ts: Any) -> None:
    e = message({"type": "text", "text": "x", "quoteToken": "q"}, timestamp=ts)
    outcome = deliver(client, e)
    (parsed,) = outcome.events
    assert isinstance(parsed, Unknown) and "timestamp" in parsed.reason
    assert client.store.get(reply_token_key(BOT, USER)) is None


def test_a_float_timestamp_of_whole_milliseconds_is_taken(client: Client) -> None:
    parsed = one(
        client, message({"type": "text", "text": "x", "quoteToken": "q"}, timestamp=float(MS))
    )
    assert isinstance(parsed, MessageReceived) and parsed.timestamp == NOW


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity"])
def test_non_finite_numbers_are_not_json(client: Client, literal: bytes) -> None:
    body = body_of(message({"type": "text", "text": "x", "quoteToken": "q"}))
    body = body.replace(str(MS).encode(), literal)
    outcome = client.webhooks.handle("line", "POST", URL, *signed(body))
    assert outcome.status == 400


def test_any_destination_parses_and_a_missing_one_keeps_events_raw(client: Client) -> None:
    e = message({"type": "text", "text": "x", "quoteToken": "q"})
    (parsed,) = client.webhooks.parse("line", *signed(body_of(e, destination="xxxxxxxxxx")))
    assert isinstance(parsed, MessageReceived) and parsed.account == "xxxxxxxxxx"
    for destination in (None, 7, ""):
        (parsed,) = client.webhooks.parse("line", *signed(body_of(e, destination=destination)))
        assert isinstance(parsed, Unknown) and parsed.account is None and parsed.raw == e
    (parsed,) = client.webhooks.parse("line", *signed(json.dumps({"events": [e]}).encode()))
    assert isinstance(parsed, Unknown)


def test_a_batch_keeps_its_order_and_bad_items_do_not_spoil_it(client: Client) -> None:
    events = [
        message({"type": "text", "text": "one", "quoteToken": "q"}),
        "not an event",
        event("follow", replyToken=TOKEN),
        event("x-future"),
        message({"type": "image", "contentProvider": {"type": "line"}, "quoteToken": "q"}, "group"),
    ]
    outcome = deliver(client, *events)
    kinds = [type(e).__name__ for e in outcome.events]
    assert kinds == ["MessageReceived", "Unknown", "FollowChanged", "Unknown", "MessageReceived"]
    assert outcome.events[1].raw == "not an event"


# --- de-duplication and redelivery (spec §2) -------------------------------------------------


def test_a_redelivery_is_a_duplicate_and_its_token_is_not_kept(client: Client) -> None:
    first = message({"type": "text", "text": "hi", "quoteToken": "q"})
    again = {**first, "deliveryContext": {"isRedelivery": True}, "replyToken": "b" * 32}
    assert len(deliver(client, first).events) == 1
    outcome = deliver(client, again)
    assert (outcome.events, outcome.duplicates) == ((), 1)
    stored = orjson.loads(client.store.get(reply_token_key(BOT, USER)) or b"null")
    assert stored == {"token": TOKEN, "at": NOW}  # the first one's, not the redelivery's


def test_a_redelivery_seen_first_is_new_but_keeps_no_token(client: Client) -> None:
    e = message(
        {"type": "text", "text": "hi", "quoteToken": "q"},
        deliveryContext={"isRedelivery": True},
    )
    (parsed,) = deliver(client, e).events
    assert isinstance(parsed, MessageReceived)
    assert wire.is_redelivery(parsed)
    assert client.store.get(reply_token_key(BOT, USER)) is None
    assert deliver(client, e).duplicates == 1


def test_each_event_once_even_when_bodies_overlap(client: Client) -> None:
    a, b, c = (message({"type": "text", "text": t, "quoteToken": "q"}) for t in "abc")
    assert len(deliver(client, a, b).events) == 2
    outcome = deliver(client, b, c, a)
    assert [e.content.body for e in outcome.events] == ["c"]  # type: ignore[union-attr]
    assert outcome.duplicates == 2


def test_events_without_an_id_are_deduplicated_by_their_content(client: Client) -> None:
    e = message({"type": "text", "text": "x", "quoteToken": "q"})
    del e["webhookEventId"]
    assert len(deliver(client, e).events) == 1
    assert deliver(client, e).duplicates == 1
    odd = {**e, "webhookEventId": "ev/1\r\n" + "x" * 100}  # not a ULID: hashed into the key
    assert len(deliver(client, odd).events) == 1
    assert deliver(client, odd).duplicates == 1


@pytest.mark.anyio
async def test_the_async_face(clock: FakeClock) -> None:
    async with AsyncClient([channel()], clock=clock) as c:
        headers, body = signed(body_of(message({"type": "text", "text": "hi", "quoteToken": "q"})))
        outcome = await c.webhooks.handle("line", "POST", URL, headers, body)
        (parsed,) = outcome.events
        assert isinstance(parsed, MessageReceived) and parsed.user == USER
        again = await c.webhooks.handle("line", "POST", URL, headers, body)
        assert again.duplicates == 1


# --- the state events leave for the send flows (spec §3 reply token, §8 friendship) ----------


def _token(client: Client, chat: str, bot: str = BOT) -> Any:
    raw = client.store.get(reply_token_key(bot, chat))
    return None if raw is None else orjson.loads(raw)


@pytest.mark.parametrize("source", ["user", "group", "room"])
def test_a_reply_token_is_kept_for_its_chat_for_the_lifetime(source: str) -> None:
    clock = FakeClock(NOW)
    c = make_client(channel(lifetime=30.0), clock=clock)
    deliver(c, message({"type": "text", "text": "hi", "quoteToken": "q"}, source))
    assert _token(c, CHATS[source]) == {"token": TOKEN, "at": NOW}
    clock.advance(29)
    assert _token(c, CHATS[source]) is not None
    clock.advance(2)
    assert _token(c, CHATS[source]) is None


def test_the_newest_token_of_a_chat_wins(client: Client) -> None:
    deliver(
        client,
        message({"type": "text", "text": "1", "quoteToken": "q"}, replyToken="first"),
        event("postback", replyToken="second", postback={"data": "d"}),
    )
    assert _token(client, USER) == {"token": "second", "at": NOW}


@pytest.mark.parametrize(
    "e",
    [
        event("follow", replyToken=TOKEN),
        event("join", "group", replyToken=TOKEN),
        event("memberJoined", "group", replyToken=TOKEN, joined={"members": []}),
        event("videoPlayComplete", replyToken=TOKEN, videoPlayComplete={"trackingId": "t"}),
        event("beacon", replyToken=TOKEN, beacon={"hwid": "h", "type": "enter"}),
        event("accountLink", replyToken=TOKEN, link={"result": "ok", "nonce": "n"}),
    ],
    ids=["follow", "join", "memberJoined", "videoPlayComplete", "beacon", "accountLink"],
)
def test_every_replyable_event_keeps_its_token(client: Client, e: dict[str, Any]) -> None:
    deliver(client, e)
    assert _token(client, wire.chat_of(one(client, e)) or "") == {"token": TOKEN, "at": NOW}


@pytest.mark.parametrize(
    "token", ["00000000000000000000000000000000", "ffffffffffffffffffffffffffffffff"]
)
def test_the_console_s_dummy_tokens_are_never_kept(client: Client, token: str) -> None:
    """spec Pitfalls 3: the "Verify" button's events; replying to them fails."""
    deliver(client, message({"type": "text", "text": "x", "quoteToken": "q"}, replyToken=token))
    assert _token(client, USER) is None


def test_standby_and_foreign_destinations_keep_no_token(client: Client) -> None:
    deliver(client, message({"type": "text", "text": "x", "quoteToken": "q"}, mode="standby"))
    assert _token(client, USER) is None
    deliver(
        client, message({"type": "text", "text": "x", "quoteToken": "q"}), destination=OTHER_BOT
    )
    assert _token(client, USER) is None and _token(client, USER, OTHER_BOT) is None


def _friendship(c: Client) -> bytes | None:
    return friendship(c.store.get(follow_key(BOT, USER)), c.store.get(unfollow_key(BOT, USER)))


def test_follow_and_unfollow_set_friendship_and_messages_do_not() -> None:
    clock = FakeClock(NOW)
    c = make_client(channel(), clock=clock)
    deliver(c, message({"type": "text", "text": "hi", "quoteToken": "q"}))
    assert _friendship(c) is None  # chatting is not following
    deliver(c, event("follow", replyToken=TOKEN, follow={"isUnblocked": False}))
    assert _friendship(c) == b"friend"
    deliver(c, event("unfollow", timestamp=MS + 1000))
    assert _friendship(c) == b"blocked"
    deliver(c, event("follow", replyToken="t2", follow={"isUnblocked": True}, timestamp=MS + 2000))
    assert _friendship(c) == b"friend"
    clock.advance(FOLLOW_TTL - 1)
    assert _friendship(c) == b"friend"
    clock.advance(2)
    assert _friendship(c) is None


def test_a_late_follow_never_overwrites_a_newer_unfollow() -> None:
    """Follows and unfollows keep their newest times apart: order of arrival does not matter
    (a redelivered follow from before the block arrives after it, spec §2 "Redelivery")."""
    c = make_client(channel(), clock=FakeClock(NOW))
    old_follow = event("follow", replyToken=TOKEN, follow={"isUnblocked": False})
    deliver(c, event("unfollow", timestamp=MS + 5000))
    redelivered = {**old_follow, "deliveryContext": {"isRedelivery": True}}
    deliver(c, redelivered)
    assert _friendship(c) == b"blocked"
    deliver(c, event("follow", replyToken="t3", follow={"isUnblocked": True}, timestamp=MS + 9000))
    assert _friendship(c) == b"friend"


def test_a_refused_body_changes_no_state(client: Client) -> None:
    e = event("follow", replyToken=TOKEN)
    body = body_of(e)
    outcome = client.webhooks.handle("line", "POST", URL, {"x-line-signature": "bad"}, body)
    assert outcome.status == 403
    assert client.store.get(follow_key(BOT, USER)) is None and _token(client, USER) is None
    assert len(deliver(client, e).events) == 1  # its id was not marked seen


# --- the wire helpers the send flows read -----------------------------------------------------


def test_reply_token_and_chat_of(client: Client) -> None:
    parsed = one(client, message({"type": "text", "text": "x", "quoteToken": "q"}, "room"))
    assert wire.reply_token(parsed) == TOKEN and wire.chat_of(parsed) == ROOM
    kept = one(client, event("x-future", "group", replyToken="tok"))
    assert wire.reply_token(kept) == "tok" and wire.chat_of(kept) == GROUP
    bare = one(client, event("unfollow", None))
    assert wire.reply_token(bare) is None and wire.chat_of(bare) is None
    assert not wire.is_redelivery(bare)
    with pytest.raises(ValueError, match="events"):
        wire.parse_events({"destination": BOT})
    with pytest.raises(ValueError):
        wire.parse_events([])
    assert wire.parse_events({"destination": BOT, "events": []}) == []


def test_dedup_keys_name_the_webhook_event_id(client: Client) -> None:
    e = message({"type": "text", "text": "x", "quoteToken": "q"})
    e["webhookEventId"] = "01FZ74A0TDDPYRVKNK77XKC3ZR"
    key = wire.dedup_key(one(client, e))
    assert key == "omnimsg:line:seen:01FZ74A0TDDPYRVKNK77XKC3ZR"


def test_the_send_flow_replies_with_the_token_a_webhook_left() -> None:
    """The state's format is the send flow's: a reply, once, then a push (spec §3)."""
    calls: list[tuple[str, dict[str, Any]]] = []

    def line_api(request: httpx.Request) -> httpx.Response:
        calls.append((request.url.path, json.loads(request.content or b"{}")))
        return httpx.Response(200, json={"sentMessages": [{"id": "1", "quoteToken": "q"}]})

    clock = FakeClock(NOW)
    c = Client(
        [channel()],
        clock=clock,
        store=MemoryStore(clock=clock),
        transport=httpx.MockTransport(line_api),
    )
    deliver(c, event("follow", replyToken=TOKEN, follow={"isUnblocked": False}))
    (parsed,) = deliver(c, message({"type": "text", "text": "hi", "quoteToken": "q"})).events
    c.send(parsed.sender, Text("hello"))
    c.send(parsed.sender, Text("again"))
    paths = [path for path, _ in calls]
    assert paths == ["/v2/bot/message/reply", "/v2/bot/message/push"], calls
    assert calls[0][1]["replyToken"] == TOKEN
    assert calls[1][1]["to"] == USER
