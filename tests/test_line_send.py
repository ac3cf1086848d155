"""LINE sends through the public interface, against a scripted fake of api.line.me.

Sync and async, on the virtual clock: reply while the token is valid (free), push after
(counted), single use, the reply-to-push fallback, 409 "already sent", retries with the same
retry key, quotas by plan, limits before I/O, capability fallbacks on the wire, and every
``client.line`` extra's exact request (research §1.2).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import attrs
import httpx
import pytest

import omnimsg
from omnimsg import (
    Address,
    AsyncClient,
    AuthenticationError,
    Button,
    Buttons,
    Card,
    Cards,
    Client,
    Document,
    Image,
    InvalidRequest,
    Line,
    LinkButton,
    ListMenu,
    ListRow,
    ListSection,
    Location,
    MemoryStore,
    NotFound,
    PolicyRejected,
    PolicyViolation,
    QuickReplies,
    RateLimited,
    Reaction,
    RetryPolicy,
    ServerError,
    Sticker,
    Template,
    Text,
    Video,
)
from omnimsg.clock import FakeClock
from omnimsg.platforms.line import messages as lm
from omnimsg.platforms.line.state import pushed_key, reply_token_key, unfollow_key
from omnimsg.rules import line as rules

BOT = "U" + "b" * 32
USER = "U" + "1" * 32
OTHER = "U" + "2" * 32
GROUP = "C" + "3" * 32
TOKEN = "line-channel-token-0123456789"
SECRET = "line-channel-secret-abcdef"
NOW = 1_780_000_000.0  # 2026-05-28
ADA = Address("line", USER)


@attrs.define
class Call:
    method: str
    host: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    raw: bytes


@attrs.define
class FakeLine:
    """Records every request; answers the scripted responses first, then 200s."""

    calls: list[Call] = attrs.field(factory=list)
    script: list[tuple[int, Any, dict[str, str]]] = attrs.field(factory=list)
    n: int = 0

    def then(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        self.script.append((status, body, headers or {}))

    def handle(self, request: httpx.Request) -> httpx.Response:
        url = urlsplit(str(request.url))
        ctype = request.headers.get("content-type", "")
        raw = request.content
        body: Any = raw
        if raw and ctype.startswith("application/json"):
            body = json.loads(raw)
        elif raw and ctype.startswith("application/x-www-form-urlencoded"):
            body = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        self.calls.append(
            Call(
                request.method,
                url.netloc,
                url.path,
                {k: v[0] for k, v in parse_qs(url.query).items()},
                dict(request.headers),
                body,
                raw,
            )
        )
        assert request.headers.get("authorization", f"Bearer {TOKEN}") == f"Bearer {TOKEN}"
        self.n += 1
        headers = {"x-line-request-id": f"req-{self.n}"}
        if self.script:
            status, answer, extra = self.script.pop(0)
            headers.update(extra)
            content = answer if isinstance(answer, bytes) else json.dumps(answer or {}).encode()
            return httpx.Response(status, content=content, headers=headers)
        if url.path.endswith(("/message/push", "/message/reply")):
            return httpx.Response(
                200,
                json={"sentMessages": [{"id": f"m{self.n}", "quoteToken": "q"}]},
                headers=headers,
            )
        return httpx.Response(200, json={}, headers=headers)

    def sends(self) -> list[Call]:
        return [c for c in self.calls if c.path.startswith("/v2/bot/message/")]


def channel(**kw: Any) -> Line:
    defaults: dict[str, Any] = {
        "bot_user_id": BOT,
        "channel_access_token": TOKEN,
        "channel_secret": SECRET,
        "channel_id": "1234567890",
    }
    return Line(**{**defaults, **kw})


@pytest.fixture
def fake() -> FakeLine:
    return FakeLine()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


def make(fake: FakeLine, clock: FakeClock, **kw: Any) -> Client:
    retry = kw.pop("retry", RetryPolicy(max_attempts=3, base_delay=0.0))
    preflight = kw.pop("preflight", True)
    return Client(
        [channel(**kw)],
        clock=clock,
        store=MemoryStore(clock=clock),
        transport=httpx.MockTransport(fake.handle),
        retry=retry,
        preflight=preflight,
    )


@pytest.fixture
def client(fake: FakeLine, clock: FakeClock) -> Client:
    return make(fake, clock)


def give_token(
    c: Client | AsyncClient, token: str = "rt-1", at: float = NOW, chat: str = USER
) -> None:
    value = json.dumps({"token": token, "at": at}).encode()
    c.store.set(reply_token_key(BOT, chat), value, 60.0)  # type: ignore[union-attr]


def pushed(c: Client | AsyncClient, clock: FakeClock) -> int:
    month = rules.quota_month(clock.time(), rules.latest())
    raw = c.store.get(pushed_key(BOT, month))  # type: ignore[union-attr]
    return int(raw) if raw else 0


# --- reply and push -------------------------------------------------------------------------


def test_a_valid_reply_token_replies_for_free(
    client: Client, fake: FakeLine, clock: FakeClock
) -> None:
    give_token(client)
    result = client.send(ADA, Text("hi"))
    assert result.status == "reply" and result.message_id == "m1"
    (call,) = fake.calls
    assert (call.method, call.path) == ("POST", "/v2/bot/message/reply")
    assert call.body == {
        "replyToken": "rt-1",
        "messages": [{"type": "text", "text": "hi"}],
        "notificationDisabled": False,
    }
    assert "x-line-retry-key" not in call.headers  # reply refuses the header (400, §3)
    assert pushed(client, clock) == 0
    # Single use: the second send pushes, and is counted.
    second = client.send(ADA, Text("again"))
    assert second.status == "push" and fake.calls[1].path == "/v2/bot/message/push"
    assert pushed(client, clock) == 1


def test_an_expired_token_pushes_and_counts(
    client: Client, fake: FakeLine, clock: FakeClock
) -> None:
    give_token(client)
    clock.advance(61.0)
    result = client.send(ADA, Text("late"))
    assert result.status == "push" and result.message_id == "m1"
    (call,) = fake.calls
    assert call.path == "/v2/bot/message/push"
    assert call.body == {
        "to": USER,
        "messages": [{"type": "text", "text": "late"}],
        "notificationDisabled": False,
    }
    assert len(call.headers["x-line-retry-key"]) == 36
    assert pushed(client, clock) == 1


def test_a_shorter_lifetime_is_honoured(fake: FakeLine, clock: FakeClock) -> None:
    c = make(fake, clock, reply_token_lifetime=10.0)
    give_token(c)
    clock.advance(11.0)
    assert c.send(ADA, Text("x")).status == "push"


def test_invalid_reply_token_falls_back_to_push(
    client: Client, fake: FakeLine, clock: FakeClock
) -> None:
    give_token(client)
    fake.then(400, {"message": "Invalid reply token"})
    result = client.send(ADA, Text("hi"))
    assert result.status == "push"
    assert [c.path for c in fake.calls] == ["/v2/bot/message/reply", "/v2/bot/message/push"]
    assert pushed(client, clock) == 1


def test_409_with_accepted_request_id_is_already_sent(
    client: Client, fake: FakeLine, clock: FakeClock
) -> None:
    fake.then(500, {"message": "Internal error"})
    fake.then(
        409,
        {"message": "The retry key is already accepted", "sentMessages": [{"id": "orig-1"}]},
        {"x-line-accepted-request-id": "req-accepted"},
    )
    result = client.send(ADA, Text("hi"))
    assert result.status == "push" and result.message_id == "orig-1"
    assert len(fake.calls) == 2  # not resent after the 409
    keys = {c.headers["x-line-retry-key"] for c in fake.calls}
    assert len(keys) == 1  # the retry reused the key
    assert pushed(client, clock) == 1


def test_5xx_then_success_reuses_the_retry_key(client: Client, fake: FakeLine) -> None:
    fake.then(503, {"message": "Service unavailable"})
    fake.then(502, b"<html>bad gateway</html>")
    result = client.send(ADA, Text("hi"))
    assert result.status == "push" and result.message_id == "m3"
    assert len({c.headers["x-line-retry-key"] for c in fake.calls}) == 1
    assert len(fake.calls) == 3


def test_a_failed_reply_is_not_retried_nor_pushed(client: Client, fake: FakeLine) -> None:
    give_token(client)
    fake.then(500, {"message": "Internal error"})
    with pytest.raises(ServerError):
        client.send(ADA, Text("hi"))
    assert len(fake.calls) == 1  # a reply may have gone: no second attempt, no push


# --- quotas ---------------------------------------------------------------------------------


def test_the_free_plan_is_refused_before_io_when_used_up(
    client: Client, fake: FakeLine, clock: FakeClock
) -> None:
    month = rules.quota_month(clock.time(), rules.latest())
    client.store.set(pushed_key(BOT, month), b"200")
    with pytest.raises(PolicyViolation) as refused:
        client.send(ADA, Text("hi"))
    v = refused.value.violation
    assert v.rule_id == "line.quota.monthly" and v.http_status == 429
    assert v.title == "You have reached your monthly limit."
    assert fake.calls == []
    assert [v.rule_id for v in client.check(ADA, Text("hi"))] == ["line.quota.monthly"]
    # A reply is free: it still goes.
    give_token(client)
    assert client.send(ADA, Text("hi")).status == "reply"
    # A new month (JST) starts from zero.
    clock.advance(40 * 86_400)
    assert client.send(ADA, Text("hi")).status == "push"


def test_a_paid_plan_goes_over_and_counts(fake: FakeLine, clock: FakeClock) -> None:
    policy = rules.profile("line-jp-2023-06-01", plan="standard")
    c = make(fake, clock, policy=policy)
    month = rules.quota_month(clock.time(), policy)
    c.store.set(pushed_key(BOT, month), b"30000")
    assert c.send(ADA, Text("hi")).status == "push"
    assert int(c.store.get(pushed_key(BOT, month)) or 0) == 30001
    assert rules.extra_messages(30000, 1, policy) == 1


def test_the_monthly_limit_answer_is_a_quota_error_not_retried(
    client: Client, fake: FakeLine, clock: FakeClock
) -> None:
    fake.then(429, {"message": "You have reached your monthly limit."})
    with pytest.raises(PolicyRejected) as refused:
        client.send(ADA, Text("hi"))
    assert refused.value.rule_id == "line.quota.monthly"
    assert len(fake.calls) == 1
    assert pushed(client, clock) == 0  # LINE did not act: the reservation is given back


def test_a_rate_limit_is_retried(client: Client, fake: FakeLine) -> None:
    fake.then(429, {"message": "The API rate limit has been exceeded. Try again later."})
    assert client.send(ADA, Text("hi")).status == "push"
    assert len(fake.calls) == 2


def test_blocked_users_are_refused_before_io(client: Client, fake: FakeLine) -> None:
    client.store.set(unfollow_key(BOT, USER), str(NOW).encode())  # an unfollow, never refollowed
    (v,) = client.check(ADA, Text("hi"))
    assert v.rule_id == "line.follow.blocked"
    with pytest.raises(PolicyViolation):
        client.send(ADA, Text("hi"))
    assert fake.calls == []
    assert client.window(ADA).open is False
    assert client.window(Address("line", OTHER)).open is True


def test_group_pushes_are_not_counted(client: Client, fake: FakeLine, clock: FakeClock) -> None:
    assert client.send(Address("line", GROUP), Text("hi")).status == "push"
    assert pushed(client, clock) == 0


def test_without_preflight_nothing_is_counted_but_tokens_still_reply(
    fake: FakeLine, clock: FakeClock
) -> None:
    c = make(fake, clock, preflight=False)
    give_token(c)
    assert c.send(ADA, Text("a")).status == "reply"
    assert c.send(ADA, Text("b")).status == "push"
    assert pushed(c, clock) == 0


# --- limits -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "rule"),
    [
        (lm.many(*[Text(str(i)) for i in range(6)]), "line.limits.messages"),
        (Text("a" * 5001), "line.limits.text"),
        (Text("😀" * 2501), "line.limits.text"),  # 5002 UTF-16 units
        (QuickReplies("pick", [str(i) for i in range(14)]), "line.limits.quick_reply"),
        (Buttons("pick", [str(i) for i in range(14)]), "line.limits.quick_reply"),
        (Video(url="https://e.x/v.mp4"), "line.video.preview"),
        (Image(media_id="123"), "line.image.url"),
        (Document(media_id="123"), "line.document.url"),
        (Sticker(url="https://e.x/s.webp"), "line.sticker.id"),
        (Text(""), "line.limits.empty"),
    ],
)
def test_limits_are_refused_before_io(
    client: Client, fake: FakeLine, content: Any, rule: str
) -> None:
    assert rule in [v.rule_id for v in client.check(ADA, content)]
    with pytest.raises(PolicyViolation) as refused:
        client.send(ADA, content)
    assert rule in [v.rule_id for v in refused.value.violations]
    assert fake.calls == []


def test_5000_units_pass(client: Client) -> None:
    assert client.check(ADA, Text("a" * 5000)) == ()
    assert client.check(ADA, Text("😀" * 2500)) == ()
    assert client.check(ADA, lm.many(*[Text(str(i)) for i in range(5)])) == ()


def test_multicast_over_500_is_refused_before_io(client: Client, fake: FakeLine) -> None:
    users = ["U" + f"{i:032x}" for i in range(501)]
    with pytest.raises(PolicyViolation) as refused:
        client.line.multicast(users, Text("hi"))
    assert refused.value.violation.rule_id == "line.limits.multicast"
    assert fake.calls == []


@pytest.mark.parametrize("content", [Reaction(message_id="m", emoji="x"), Template("hello")])
def test_refused_types(client: Client, fake: FakeLine, content: Any) -> None:
    (v,) = client.check(ADA, content)
    assert v.rule_id == "line.capability"
    with pytest.raises(PolicyViolation):
        client.send(ADA, content)
    assert fake.calls == []


def test_tags_are_a_configuration_error(client: Client) -> None:
    with pytest.raises(omnimsg.ConfigurationError, match="no message tags"):
        client.send(ADA, Text("hi"), tag="HUMAN_AGENT")


# --- capability fallbacks on the wire -----------------------------------------------------------


def _sent(client: Client, fake: FakeLine, content: Any) -> list[Any]:
    client.send(ADA, content)
    return list(fake.calls[-1].body["messages"])


def test_fallbacks_on_the_wire(client: Client, fake: FakeLine) -> None:
    (m,) = _sent(client, fake, Buttons("Pick", ["A", "B"], header="Menu"))
    assert m["type"] == "template" and m["altText"] == "Pick"
    assert m["template"] == {
        "type": "buttons",
        "text": "Pick",
        "title": "Menu",
        "actions": [
            {"type": "postback", "label": "A", "data": "A", "displayText": "A"},
            {"type": "postback", "label": "B", "data": "B", "displayText": "B"},
        ],
    }
    (m,) = _sent(client, fake, Buttons("Pick", ["1", "2", "3", "4", "5"]))
    assert m["type"] == "text" and len(m["quickReply"]["items"]) == 5
    assert m["quickReply"]["items"][0] == {
        "type": "action",
        "action": {"type": "postback", "label": "1", "data": "1", "displayText": "1"},
    }
    menu = ListMenu(
        body="Choose",
        button="Open",
        sections=[
            ListSection(rows=[ListRow(id="a", title="Alpha"), ListRow(id="b", title="Beta")])
        ],
    )
    (m,) = _sent(client, fake, menu)
    assert m["text"] == "Choose" and [i["action"]["data"] for i in m["quickReply"]["items"]] == [
        "a",
        "b",
    ]
    described = ListMenu(
        body="Choose",
        button="Open",
        sections=[
            ListSection(title="S", rows=[ListRow(id="a", title="Alpha", description="first")])
        ],
    )
    (m,) = _sent(client, fake, described)
    assert m["type"] == "flex" and m["contents"]["type"] == "bubble"
    cards = Cards(
        [
            Card(
                title="Red",
                subtitle="shoes",
                image_url="https://e.x/r.jpg",
                buttons=[Button("buy-r", "Buy")],
            ),
            Card(title="Blue", buttons=[LinkButton("More", "https://e.x/b")]),
        ]
    )
    (m,) = _sent(client, fake, cards)
    assert m["template"]["type"] == "carousel"
    assert m["template"]["columns"][0] == {
        "text": "shoes",
        "title": "Red",
        "thumbnailImageUrl": "https://e.x/r.jpg",
        "actions": [{"type": "postback", "label": "Buy", "data": "buy-r", "displayText": "Buy"}],
    }
    (m,) = _sent(client, fake, Cards([Card(title="No buttons")]))
    assert m["type"] == "flex" and m["contents"]["type"] == "carousel"
    (m,) = _sent(client, fake, Location(latitude=35.0, longitude=139.0, name="Shop"))
    assert m == {
        "type": "location",
        "title": "Shop",
        "address": "35.0,139.0",
        "latitude": 35.0,
        "longitude": 139.0,
    }
    msgs = _sent(client, fake, Image(url="https://e.x/i.jpg", caption="look"))
    assert msgs == [
        {
            "type": "image",
            "originalContentUrl": "https://e.x/i.jpg",
            "previewImageUrl": "https://e.x/i.jpg",
        },
        {"type": "text", "text": "look"},
    ]
    (m,) = _sent(client, fake, Document(url="https://e.x/f.pdf", filename="f.pdf"))
    assert m == {"type": "text", "text": "f.pdf\nhttps://e.x/f.pdf"}
    (m,) = _sent(client, fake, Sticker(media_id="446:1988"))
    assert m == {"type": "sticker", "packageId": "446", "stickerId": "1988"}
    (m,) = _sent(client, fake, lm.video("https://e.x/v.mp4", "https://e.x/p.jpg"))
    assert m["previewImageUrl"] == "https://e.x/p.jpg"
    (m,) = _sent(client, fake, lm.audio("https://e.x/a.m4a", 3000))
    assert m["duration"] == 3000
    (m,) = _sent(client, fake, QuickReplies("Rate", ["Good"]))
    assert m["quickReply"]["items"][0]["action"]["data"] == "Good"
    client.send(ADA, Text("quoted"), reply_to="quote-token-1")
    assert fake.calls[-1].body["messages"][0]["quoteToken"] == "quote-token-1"


# --- errors ---------------------------------------------------------------------------------


def test_error_mapping_keeps_details_and_never_the_token(client: Client, fake: FakeLine) -> None:
    fake.then(
        400,
        {
            "message": "The request body has 1 error(s)",
            "details": [{"message": "May not be empty", "property": "messages[0].text"}],
        },
    )
    with pytest.raises(InvalidRequest) as bad:
        client.send(ADA, Text("x"))
    assert bad.value.details == "messages[0].text: May not be empty"
    assert bad.value.code == "invalid_request" and bad.value.request_id == "req-1"
    fake.then(401, {"message": f"Authentication failed due to the following reason: {TOKEN}"})
    with pytest.raises(AuthenticationError) as auth:
        client.send(ADA, Text("x"))
    assert TOKEN not in str(auth.value) and TOKEN not in repr(auth.value)
    fake.then(404, {"message": "Not found"})
    with pytest.raises(NotFound):
        client.line.profile(ADA)


# --- extras: the exact requests of research §1.2 ------------------------------------------------


def test_every_extra_sends_the_documented_request(
    client: Client, fake: FakeLine, clock: FakeClock
) -> None:
    line = client.line
    fake.then(200, {}, {"x-line-request-id": "mc-1"})
    assert line.multicast([USER, OTHER], Text("hi")) == "mc-1"
    c = fake.calls[-1]
    assert (c.method, c.path) == ("POST", "/v2/bot/message/multicast")
    assert c.body == {
        "to": [USER, OTHER],
        "messages": [{"type": "text", "text": "hi"}],
        "notificationDisabled": False,
    }
    assert "x-line-retry-key" in c.headers
    assert pushed(client, clock) == 2  # per recipient
    assert line.broadcast([Text("a"), Text("b")], notification_disabled=True) == "req-2"
    c = fake.calls[-1]
    assert c.path == "/v2/bot/message/broadcast" and "x-line-retry-key" in c.headers
    assert c.body == {
        "messages": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
        "notificationDisabled": True,
    }
    assert pushed(client, clock) == 2  # broadcasts are not pre-counted
    fake.then(202, {}, {"x-line-request-id": "nc-1"})
    request_id = line.narrowcast(Text("n"), recipient={"type": "audience", "audienceGroupId": 1})
    assert request_id == "nc-1"
    c = fake.calls[-1]
    assert c.path == "/v2/bot/message/narrowcast"
    assert c.body["recipient"] == {"type": "audience", "audienceGroupId": 1}
    fake.then(200, {"phase": "succeeded", "successCount": 3, "failureCount": 0, "targetCount": 3,
                    "acceptedTime": "2020-12-03T10:15:30.121Z"})  # fmt: skip
    progress = line.narrowcast_progress("nc-1")
    assert progress.phase == "succeeded" and progress.success_count == 3
    c = fake.calls[-1]
    assert (c.method, c.path, c.query) == (
        "GET",
        "/v2/bot/message/progress/narrowcast",
        {"requestId": "nc-1"},
    )
    assert line.validate("push", Text("v")).valid
    c = fake.calls[-1]
    assert (c.path, c.body) == (
        "/v2/bot/message/validate/push",
        {"messages": [{"type": "text", "text": "v"}]},
    )
    fake.then(400, {"message": "The request body has 1 error(s)",
                    "details": [{"message": "May not be empty", "property": "messages[0].text"}]})  # fmt: skip
    verdict = line.validate("reply", Text("v"))
    assert not verdict.valid and verdict.details == (("messages[0].text", "May not be empty"),)
    fake.then(200, {"type": "limited", "value": 1000})
    assert line.quota() == omnimsg.client.LineQuota(limited=True, value=1000)
    assert fake.calls[-1].path == "/v2/bot/message/quota"
    fake.then(200, {"totalUsage": 500})
    assert line.consumption() == 500
    assert fake.calls[-1].path == "/v2/bot/message/quota/consumption"
    fake.then(200, {"displayName": "Ada", "userId": USER, "language": "ja"})
    prof = line.profile(ADA)
    assert (prof.display_name, prof.language) == ("Ada", "ja")
    assert fake.calls[-1].path == f"/v2/bot/profile/{USER}"
    line.show_loading(ADA, 10)
    c = fake.calls[-1]
    assert (c.path, c.body) == (
        "/v2/bot/chat/loading/start",
        {"chatId": USER, "loadingSeconds": 10},
    )
    for bad in (3, 7, 65):
        with pytest.raises(PolicyViolation):
            line.show_loading(ADA, bad)
    line.mark_as_read("mar-1")
    c = fake.calls[-1]
    assert (c.path, c.body) == ("/v2/bot/chat/markAsRead", {"markAsReadToken": "mar-1"})
    fake.then(200, b"\x89PNG")
    assert line.content("m-9") == b"\x89PNG"
    c = fake.calls[-1]
    assert (c.method, c.path) == ("GET", "/v2/bot/message/m-9/content")
    fake.then(200, {"status": "processing"})
    assert line.content_status("m-9") == "processing"
    assert fake.calls[-1].path == "/v2/bot/message/m-9/content/transcoding"
    menu = {"size": {"width": 2500, "height": 843}, "selected": False, "name": "FAQ",
            "chatBarText": "Menu", "areas": []}  # fmt: skip
    fake.then(200, {"richMenuId": "rm-1"})
    assert line.create_rich_menu(menu) == "rm-1"
    c = fake.calls[-1]
    assert (c.method, c.path, c.body) == ("POST", "/v2/bot/richmenu", menu)
    line.upload_rich_menu_image("rm-1", b"\x89PNGdata")
    c = fake.calls[-1]
    assert (c.method, c.path, c.raw) == ("POST", "/v2/bot/richmenu/rm-1/content", b"\x89PNGdata")
    assert c.headers["content-type"] == "image/png"
    line.set_default_rich_menu("rm-1")
    c = fake.calls[-1]
    assert (c.method, c.path, c.raw) == ("POST", "/v2/bot/user/all/richmenu/rm-1", b"")
    line.link_rich_menu(ADA, "rm-1")
    assert (fake.calls[-1].method, fake.calls[-1].path) == (
        "POST",
        f"/v2/bot/user/{USER}/richmenu/rm-1",
    )
    line.unlink_rich_menu(ADA)
    assert (fake.calls[-1].method, fake.calls[-1].path) == (
        "DELETE",
        f"/v2/bot/user/{USER}/richmenu",
    )
    line.create_rich_menu_alias("alias-a", "rm-1")
    c = fake.calls[-1]
    assert (c.path, c.body) == (
        "/v2/bot/richmenu/alias",
        {"richMenuAliasId": "alias-a", "richMenuId": "rm-1"},
    )
    fake.then(200, {"richmenus": [{"richMenuId": "rm-1", "name": "FAQ", "chatBarText": "Menu",
                                   "selected": False, "size": {"width": 2500, "height": 843}, "areas": []}]})  # fmt: skip
    (rm,) = line.rich_menus()
    assert (rm.id, rm.name, rm.width) == ("rm-1", "FAQ", 2500)
    assert fake.calls[-1].path == "/v2/bot/richmenu/list"
    line.delete_rich_menu("rm-1")
    assert (fake.calls[-1].method, fake.calls[-1].path) == ("DELETE", "/v2/bot/richmenu/rm-1")


def test_channel_access_tokens(client: Client, fake: FakeLine) -> None:
    line = client.line
    fake.then(200, {"access_token": "stateless-abc", "expires_in": 899, "token_type": "Bearer"})
    token = line.issue_token("stateless")
    assert token.expires_in == 899 and "stateless-abc" not in repr(token)
    c = fake.calls[-1]
    assert c.path == "/oauth2/v3/token" and "authorization" not in c.headers
    assert c.headers["content-type"] == "application/x-www-form-urlencoded"
    assert c.body == {
        "grant_type": "client_credentials",
        "client_id": "1234567890",
        "client_secret": SECRET,
    }
    fake.then(200, {"access_token": "short-abc", "expires_in": 2592000, "token_type": "Bearer"})
    assert line.issue_token("short_lived").expires_in == 2592000
    assert fake.calls[-1].path == "/v2/oauth/accessToken"
    fake.then(200, {"client_id": "1234567890", "expires_in": 100, "scope": "P"})
    info = line.verify_token("short-abc")
    assert (info.client_id, info.expires_in) == ("1234567890", 100)
    c = fake.calls[-1]
    assert (c.method, c.path, c.body) == ("POST", "/v2/oauth/verify", {"access_token": "short-abc"})
    line.revoke_token("short-abc")
    assert (fake.calls[-1].path, fake.calls[-1].body) == (
        "/v2/oauth/revoke",
        {"access_token": "short-abc"},
    )
    fake.then(400, {"error": "invalid_client", "error_description": "bad secret"})
    with pytest.raises(AuthenticationError) as bad:
        line.issue_token()
    assert bad.value.code == "invalid_client" and SECRET not in str(bad.value)


def test_multicast_409_is_already_sent(client: Client, fake: FakeLine) -> None:
    fake.then(500, {"message": "Internal error"})
    fake.then(
        409,
        {"message": "The retry key is already accepted"},
        {"x-line-accepted-request-id": "acc-1"},
    )
    assert client.line.multicast([USER], Text("hi")) == "acc-1"
    assert len({c.headers["x-line-retry-key"] for c in fake.calls}) == 1


def test_free_plan_broadcast_refused_once_used_up(
    client: Client, fake: FakeLine, clock: FakeClock
) -> None:
    month = rules.quota_month(clock.time(), rules.latest())
    client.store.set(pushed_key(BOT, month), b"200")
    with pytest.raises(PolicyViolation):
        client.line.broadcast(Text("hi"))
    with pytest.raises(PolicyViolation):
        client.line.multicast([USER], Text("hi"))
    assert fake.calls == []


def test_rate_limited_extra(client: Client, fake: FakeLine) -> None:
    fake.then(429, {"message": "Too Many Requests"}, {"retry-after": "0"})
    fake.then(429, {"message": "Too Many Requests"})
    fake.then(429, {"message": "Too Many Requests"})
    with pytest.raises(RateLimited):
        client.line.quota()


# --- the async face -------------------------------------------------------------------------


@pytest.mark.anyio
async def test_async_face(fake: FakeLine, clock: FakeClock) -> None:
    async with AsyncClient(
        [channel()],
        clock=clock,
        store=MemoryStore(clock=clock),
        transport=httpx.MockTransport(fake.handle),
        retry=RetryPolicy(max_attempts=3, base_delay=0.0),
    ) as c:
        give_token(c)
        assert (await c.send(ADA, Text("hi"))).status == "reply"
        clock.advance(5.0)
        fake.then(503, {"message": "Service unavailable"})
        assert (await c.send(ADA, Text("hi"))).status == "push"
        assert len({x.headers["x-line-retry-key"] for x in fake.calls[1:]}) == 1
        give_token(c, "rt-2", at=clock.time())
        fake.then(400, {"message": "Invalid reply token"})
        assert (await c.send(ADA, Text("x"))).status == "push"
        window = await c.window(ADA)
        assert window.open and window.allowed_when_closed == ()
        fake.then(200, {"type": "none"})
        assert (await c.line.quota()).limited is False
        users = ["U" + f"{i:032x}" for i in range(501)]
        with pytest.raises(PolicyViolation):
            await c.line.multicast(users, Text("hi"))
        assert pushed(c, clock) == 2
