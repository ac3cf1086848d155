"""WeChat sends through the public interface, against a scripted fake of api.weixin.qq.com.

Sync and async, on the virtual clock: the customer-service window (48 h / 5 messages after a
message, 1 min / 3 messages after an event, 43004 after an unfollow), refused before I/O
with WeChat's own codes; counts given back when WeChat did not act; the capability
fallbacks on the wire; every ``client.wechat`` extra's exact request (research §1.4) and
its limits before I/O; the errcode table.

The window state is what the webhook reader writes (``state.py``): the tests write it the
same way, through the store.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import attrs
import httpx
import pytest

from omnimsg import (
    Address,
    AsyncClient,
    Audio,
    Button,
    Buttons,
    Card,
    Cards,
    Client,
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
    NotFound,
    PermissionDenied,
    PlatformError,
    PolicyRejected,
    PolicyViolation,
    QuickReplies,
    RateLimited,
    Raw,
    Reaction,
    RetryPolicy,
    ServerError,
    Sticker,
    Template,
    Text,
    UrlButton,
    Video,
    WeChat,
)
from omnimsg.clock import FakeClock
from omnimsg.platforms.wechat import messages as wm
from omnimsg.platforms.wechat.state import follow_key, interaction_key, sent_key, unfollow_key

ACCOUNT = "gh_10f6c3c3ac5a"
APP_ID = "wx2c2769f8efd9abc2"
SECRET = "wechat-app-secret-0123456789abcdef"
OPENID = "oyORnuP8q7ou2gfYjqLzSIWZf0rs"
NOW = 1_780_000_000.0
ADA = Address("wechat", OPENID)
HOUR = 3600.0


@attrs.define
class Call:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    raw: bytes


@attrs.define
class FakeWeChat:
    """Records every request. Token endpoints issue TOK1, TOK2...; a call with a token that
    is not valid is answered 40001. Scripted answers (for API calls, not token fetches)
    come first, then WeChat's usual successes."""

    calls: list[Call] = attrs.field(factory=list)
    script: list[tuple[int, Any]] = attrs.field(factory=list)
    token_script: list[tuple[int, Any]] = attrs.field(factory=list)
    valid: set[str] = attrs.field(factory=set)
    issued: int = 0
    expires_in: int = 7200
    n: int = 0

    def then(self, body: Any, status: int = 200) -> None:
        self.script.append((status, body))

    def handle(self, request: httpx.Request) -> httpx.Response:
        url = urlsplit(str(request.url))
        raw = request.content
        body: Any = raw
        if raw and not request.headers.get("content-type", "").startswith("multipart/"):
            body = json.loads(raw)  # parsed whatever the Content-Type, as WeChat does
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.calls.append(Call(request.method, url.path, query, dict(request.headers), body, raw))
        if url.path in ("/cgi-bin/stable_token", "/cgi-bin/token"):
            if self.token_script:
                status, answer = self.token_script.pop(0)
                return httpx.Response(status, json=answer)
            self.issued += 1
            token = f"TOK{self.issued}-" + "x" * 20
            self.valid.add(token)
            return httpx.Response(200, json={"access_token": token, "expires_in": self.expires_in})
        if self.script:
            status, answer = self.script.pop(0)
            content = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
            return httpx.Response(status, content=content)
        if query.get("access_token") not in self.valid:
            return httpx.Response(
                200,
                json={
                    "errcode": 40001,
                    "errmsg": "invalid credential, access_token is invalid or not latest rid: "
                    "68aeab01-21ea7902-3a442403",
                },
            )
        self.n += 1
        return httpx.Response(200, json=self._success(url.path, body))

    def _success(self, path: str, body: Any) -> Any:
        ok = {"errcode": 0, "errmsg": "ok"}
        if path == "/cgi-bin/message/template/send":
            return {**ok, "msgid": 200228332 + self.n}
        if path == "/cgi-bin/tags/create":
            return {"tag": {"id": 134, "name": body["tag"]["name"]}}
        if path == "/cgi-bin/tags/get":
            return {
                "tags": [
                    {"id": 2, "name": "星标组", "count": 0},
                    {"id": 134, "name": "vip", "count": 3},
                ]
            }
        if path == "/cgi-bin/tags/getidlist":
            return {"tagid_list": [134, 2]}
        if path == "/cgi-bin/user/info":
            return {
                "subscribe": 1,
                "openid": OPENID,
                "subscribe_time": 1_700_000_000,
                "remark": "",
                "tagid_list": [134],
                "subscribe_scene": "ADD_SCENE_QR_CODE",
                "qr_scene": 98765,
                "qr_scene_str": "",
            }
        if path == "/cgi-bin/user/info/batchget":
            return {
                "user_info_list": [
                    {"subscribe": 1, "openid": u["openid"]} for u in body["user_list"]
                ]
            }
        if path == "/cgi-bin/qrcode/create":
            out = {
                "ticket": "gQH47joAAAAAAAAAASxodHRwOi8vd2VpeGluLnFxLmNvbS9xL2taZ2Z3TVRtNzJXV1Brb3ZhYmJJAAIEZ23sUwMEmm3sUw==",
                "url": "http://weixin.qq.com/q/kZgfwMTm72WWPkovabbI",
            }
            if "expire_seconds" in body:
                out["expire_seconds"] = body["expire_seconds"]
            return out
        if path == "/cgi-bin/menu/get":
            return {"menu": {"button": [{"type": "click", "name": "FAQ", "key": "faq"}]}}
        if path == "/cgi-bin/media/upload":
            return {"type": "image", "media_id": "MEDIA-1", "created_at": 1_780_000_000}
        return ok

    def api(self) -> list[Call]:
        return [c for c in self.calls if c.path not in ("/cgi-bin/stable_token", "/cgi-bin/token")]

    def fetches(self) -> list[Call]:
        return [c for c in self.calls if c.path in ("/cgi-bin/stable_token", "/cgi-bin/token")]


def channel(**kw: Any) -> WeChat:
    defaults: dict[str, Any] = {
        "account_id": ACCOUNT,
        "app_id": APP_ID,
        "app_secret": SECRET,
        "token": "spamtest",
    }
    return WeChat(**{**defaults, **kw})


def make(fake: FakeWeChat, clock: FakeClock, *, store: Any = None, **kw: Any) -> Client:
    retry = kw.pop("retry", RetryPolicy(max_attempts=3, base_delay=0.0))
    preflight = kw.pop("preflight", True)
    return Client(
        [channel(**kw)],
        clock=clock,
        store=store if store is not None else MemoryStore(clock=clock),
        transport=httpx.MockTransport(fake.handle),
        retry=retry,
        preflight=preflight,
    )


def amake(fake: FakeWeChat, clock: FakeClock, **kw: Any) -> AsyncClient:
    retry = kw.pop("retry", RetryPolicy(max_attempts=3, base_delay=0.0))
    return AsyncClient(
        [channel(**kw)],
        clock=clock,
        store=MemoryStore(clock=clock),
        transport=httpx.MockTransport(fake.handle),
        retry=retry,
    )


@pytest.fixture
def fake() -> FakeWeChat:
    return FakeWeChat()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def client(fake: FakeWeChat, clock: FakeClock) -> Client:
    return make(fake, clock)


def _set(c: Client | AsyncClient, key: str, at: float) -> None:
    c.store.set(key, repr(float(at)).encode(), 400 * 86_400.0)


def customer_writes(c: Client | AsyncClient, at: float, openid: str = OPENID) -> None:
    """What the webhook reader stores for a customer's message (a SetMax of its time)."""
    _set(c, interaction_key(ACCOUNT, openid, "message"), at)


def customer_event(c: Client | AsyncClient, at: float, openid: str = OPENID) -> None:
    """A follow, QR scan or menu click: the 1-minute window."""
    _set(c, interaction_key(ACCOUNT, openid, "event"), at)


def sent(c: Client, kind: str, at: float) -> int:
    raw = c.store.get(sent_key(ACCOUNT, OPENID, kind, float(at)))
    return int(raw) if raw else 0


def sends(fake: FakeWeChat) -> list[Call]:
    return [c for c in fake.api() if c.path == "/cgi-bin/message/custom/send"]


# --- the customer-service window ----------------------------------------------------------------


def test_a_text_goes_with_the_exact_body_and_the_token(
    client: Client, fake: FakeWeChat, clock: FakeClock
) -> None:
    customer_writes(client, NOW - 10)
    result = client.send(ADA, Text("你好"))
    assert result.platform == "wechat" and result.to == Address("wechat", OPENID, ACCOUNT)
    fetch, call = fake.calls
    assert (fetch.method, fetch.path) == ("POST", "/cgi-bin/stable_token")
    assert fetch.body == {
        "grant_type": "client_credential",
        "appid": APP_ID,
        "secret": SECRET,
        "force_refresh": False,
    }
    assert (call.method, call.path) == ("POST", "/cgi-bin/message/custom/send")
    assert call.query == {"access_token": "TOK1-" + "x" * 20}
    assert call.raw.decode() == (
        '{"touser":"oyORnuP8q7ou2gfYjqLzSIWZf0rs","msgtype":"text","text":{"content":"你好"}}'
    )
    assert sent(client, "message", NOW - 10) == 1


def test_the_48_hour_window_opens_at_47_hours_and_is_closed_at_49(
    client: Client, fake: FakeWeChat, clock: FakeClock
) -> None:
    customer_writes(client, NOW)
    clock.advance(47 * HOUR)
    client.send(ADA, Text("still open"))
    assert len(sends(fake)) == 1
    clock.advance(2 * HOUR)
    with pytest.raises(PolicyViolation) as refused:
        client.send(ADA, Text("too late"))
    v = refused.value.violation
    assert (v.rule_id, v.native_code) == ("wechat.window.closed", 45015)
    assert v.closed_at is not None and v.closed_at.timestamp() == NOW + 48 * HOUR
    assert "send_template" in v.message
    assert len(sends(fake)) == 1  # refused before any I/O
    assert [x.native_code for x in client.check(ADA, Text("x"))] == [45015]


def test_a_customer_who_never_wrote_is_refused_45015(client: Client, fake: FakeWeChat) -> None:
    with pytest.raises(PolicyViolation) as refused:
        client.send(ADA, Text("hello?"))
    assert refused.value.violation.native_code == 45015
    assert fake.calls == []


def test_five_messages_then_45047_and_a_new_message_opens_a_new_window(
    client: Client, fake: FakeWeChat, clock: FakeClock
) -> None:
    customer_writes(client, NOW)
    for i in range(5):
        client.send(ADA, Text(f"m{i}"))
    with pytest.raises(PolicyViolation) as refused:
        client.send(ADA, Text("sixth"))
    v = refused.value.violation
    assert (v.rule_id, v.native_code) == ("wechat.window.count", 45047)
    assert len(sends(fake)) == 5
    clock.advance(HOUR)
    customer_writes(client, clock.time())
    client.send(ADA, Text("after the customer wrote again"))
    assert len(sends(fake)) == 6


def test_an_event_window_is_3_messages_for_one_minute(
    client: Client, fake: FakeWeChat, clock: FakeClock
) -> None:
    customer_event(client, NOW)  # a follow, a QR scan, a menu click
    for _ in range(3):
        client.send(ADA, Text("welcome"))
    with pytest.raises(PolicyViolation) as refused:
        client.send(ADA, Text("fourth"))
    assert refused.value.violation.native_code == 45047
    customer_event(client, NOW + 30)  # another click: a new window of 3
    clock.advance(30)
    client.send(ADA, Text("ok"))
    clock.advance(61)
    with pytest.raises(PolicyViolation) as closed:
        client.send(ADA, Text("a minute later"))
    assert closed.value.violation.native_code == 45015
    assert len(sends(fake)) == 4


def test_a_send_spends_the_short_event_window_before_the_48_hour_one(
    client: Client, clock: FakeClock
) -> None:
    customer_writes(client, NOW - HOUR)
    customer_event(client, NOW)
    for _ in range(8):  # 3 in the minute, then 5 in the 48 hours
        client.send(ADA, Text("x"))
    assert (sent(client, "event", NOW), sent(client, "message", NOW - HOUR)) == (3, 5)
    with pytest.raises(PolicyViolation):
        client.send(ADA, Text("ninth"))


def test_an_unfollowed_customer_is_refused_43004_and_a_follow_again_reopens(
    client: Client, fake: FakeWeChat, clock: FakeClock
) -> None:
    _set(client, follow_key(ACCOUNT, OPENID), NOW - 100)
    customer_writes(client, NOW - 50)
    _set(client, unfollow_key(ACCOUNT, OPENID), NOW - 10)
    with pytest.raises(PolicyViolation) as refused:
        client.send(ADA, Text("come back"))
    v = refused.value.violation
    assert (v.rule_id, v.native_code) == ("wechat.follow.unsubscribed", 43004)
    assert not client.window(ADA).open
    _set(client, follow_key(ACCOUNT, OPENID), NOW)
    customer_event(client, NOW)
    client.send(ADA, Text("welcome back"))
    assert len(sends(fake)) == 1


def test_the_window_says_when_it_closes_and_what_goes_after(
    client: Client, clock: FakeClock
) -> None:
    w = client.window(ADA)
    assert (w.open, w.last_inbound_at, w.closes_at) == (False, None, None)
    assert w.allowed_when_closed == ("template", "subscribe")
    customer_writes(client, NOW)
    w = client.window(ADA)
    assert w.open and w.platform == "wechat"
    assert w.last_inbound_at is not None and w.last_inbound_at.timestamp() == NOW
    assert w.closes_at is not None and w.closes_at.timestamp() == NOW + 48 * HOUR
    clock.advance(48 * HOUR)
    assert not client.window(ADA).open


def test_a_count_is_given_back_when_wechat_refused_and_kept_when_it_may_have_sent(
    client: Client, fake: FakeWeChat
) -> None:
    customer_writes(client, NOW)
    fake.then({"errcode": 45047, "errmsg": "out of response count limit hint: [3okk_04054105]"})
    with pytest.raises(PolicyRejected) as rejected:
        client.send(ADA, Text("x"))
    e = rejected.value
    assert (e.code, e.rule_id, e.http_status) == (45047, "wechat.window.count", 200)
    assert e.request_id == "3okk_04054105"
    assert "out of response count limit hint: [3okk_04054105]" in str(e)
    assert sent(client, "message", NOW) == 0
    # -1: WeChat may have sent it; not retried (a send is not idempotent), kept counted.
    fake.then({"errcode": -1, "errmsg": "system error rid: 1-2-3"})
    with pytest.raises(ServerError) as failed:
        client.send(ADA, Text("y"))
    assert failed.value.code == -1 and not failed.value.retryable
    assert failed.value.request_id == "1-2-3"
    assert len(sends(fake)) == 2 and sent(client, "message", NOW) == 1
    # A 5xx likewise.
    fake.then({"oops": True}, status=502)
    with pytest.raises(ServerError):
        client.send(ADA, Text("z"))
    assert len(sends(fake)) == 3 and sent(client, "message", NOW) == 2


def test_without_preflight_nothing_is_checked_or_counted(
    fake: FakeWeChat, clock: FakeClock
) -> None:
    c = make(fake, clock, preflight=False)
    fake.then(
        {"errcode": 45015, "errmsg": "response out of time limit or subscription is canceled"}
    )
    with pytest.raises(PolicyRejected) as rejected:
        c.send(ADA, Text("x"))
    assert rejected.value.code == 45015 and rejected.value.rule_id == "wechat.window.closed"
    assert len(sends(fake)) == 1


def test_options_wechat_does_not_have(client: Client) -> None:
    customer_writes(client, NOW)
    with pytest.raises(ConfigurationError, match="no message tags"):
        client.send(ADA, Text("x"), tag="HUMAN_AGENT")
    with pytest.raises(ConfigurationError, match="cannot quote"):
        client.send(ADA, Text("x"), reply_to="123")
    with pytest.raises(ConfigurationError, match="callback data"):
        client.send(ADA, Text("x"), callback_data="c")


def test_async_face_sends_and_refuses_alike(fake: FakeWeChat, clock: FakeClock) -> None:
    async def main() -> None:
        async with amake(fake, clock) as c:
            customer_writes(c, NOW)
            await c.send(ADA, Text("hi"))
            assert (await c.window(ADA)).open
            clock.advance(49 * HOUR)
            with pytest.raises(PolicyViolation) as refused:
                await c.send(ADA, Text("late"))
            assert refused.value.violation.native_code == 45015

    asyncio.run(main())
    assert len(sends(fake)) == 1 and len(fake.fetches()) == 1


# --- capabilities and fallbacks on the wire -----------------------------------------------------


def _sent_body(client: Client, fake: FakeWeChat, content: Any) -> Any:
    customer_writes(client, client.clock.time())
    client.send(ADA, content)
    body = sends(fake)[-1].body
    assert body["touser"] == OPENID
    return {k: v for k, v in body.items() if k != "touser"}


def test_native_media_go_by_media_id(client: Client, fake: FakeWeChat) -> None:
    assert _sent_body(client, fake, Image(media_id="M1")) == {
        "msgtype": "image",
        "image": {"media_id": "M1"},
    }
    assert _sent_body(client, fake, Audio(media_id="V1")) == {
        "msgtype": "voice",
        "voice": {"media_id": "V1"},
    }
    assert _sent_body(client, fake, Video(media_id="VID", caption="Demo")) == {
        "msgtype": "video",
        "video": {"media_id": "VID", "title": "Demo"},
    }


def test_media_by_url_is_refused_with_the_upload_hint(client: Client, fake: FakeWeChat) -> None:
    customer_writes(client, NOW)
    for content, rule in (
        (Image(url="https://e.x/a.png"), "wechat.image.url"),
        (Audio(url="https://e.x/a.amr"), "wechat.voice.url"),
        (Video(url="https://e.x/a.mp4"), "wechat.video.url"),
        (Image(media_id="M", caption="hi"), "wechat.image.caption"),
        (Document(media_id="D"), "wechat.document.media_id"),
    ):
        with pytest.raises(PolicyViolation) as refused:
            client.send(ADA, content)
        assert refused.value.violation.rule_id == rule
    assert "upload_media" in client.check(ADA, Image(url="https://e.x/a.png"))[0].message
    assert fake.calls == []


def test_buttons_and_quick_replies_become_a_msgmenu(client: Client, fake: FakeWeChat) -> None:
    b = Buttons(
        "Satisfied?", [Button("101", "Yes"), Button("102", "No")], header="Survey", footer="Thanks"
    )
    assert _sent_body(client, fake, b) == {
        "msgtype": "msgmenu",
        "msgmenu": {
            "head_content": "Survey\nSatisfied?",
            "list": [{"id": "101", "content": "Yes"}, {"id": "102", "content": "No"}],
            "tail_content": "Thanks",
        },
    }
    assert _sent_body(client, fake, QuickReplies("How was it?", ["Great", "Bad"])) == {
        "msgtype": "msgmenu",
        "msgmenu": {
            "head_content": "How was it?",
            "list": [{"id": "Great", "content": "Great"}, {"id": "Bad", "content": "Bad"}],
            "tail_content": "",
        },
    }


def test_a_list_menu_becomes_numbered_text(client: Client, fake: FakeWeChat) -> None:
    menu = ListMenu(
        body="Pick a size",
        button="Sizes",
        header="Shoes",
        footer="Reply with the number",
        sections=[
            ListSection(title="Small", rows=[ListRow(id="s", title="S", description="36-38")]),
            ListSection(rows=[ListRow(id="m", title="M"), ListRow(id="l", title="L")]),
        ],
    )
    assert _sent_body(client, fake, menu) == {
        "msgtype": "text",
        "text": {
            "content": "Shoes\n\nPick a size\n\nSmall\n1. S - 36-38\n\n2. M\n3. L\n\n"
            "Reply with the number"
        },
    }


def test_cards_and_url_buttons_become_news_of_one_article(client: Client, fake: FakeWeChat) -> None:
    card = Card(
        title="Red shoes",
        subtitle="EUR 80",
        image_url="https://e.x/r.png",
        buttons=[LinkButton("Buy", "https://e.x/buy")],
    )
    assert _sent_body(client, fake, Cards([card])) == {
        "msgtype": "news",
        "news": {
            "articles": [
                {
                    "title": "Red shoes",
                    "description": "EUR 80",
                    "url": "https://e.x/buy",
                    "picurl": "https://e.x/r.png",
                }
            ]
        },
    }
    link = UrlButton(body="Your parcel is on its way", text="Track", url="https://e.x/t")
    assert _sent_body(client, fake, link) == {
        "msgtype": "news",
        "news": {
            "articles": [
                {
                    "title": "Track",
                    "description": "Your parcel is on its way",
                    "url": "https://e.x/t",
                }
            ]
        },
    }


def test_two_cards_or_reply_buttons_on_a_card_are_refused_before_io(
    client: Client, fake: FakeWeChat
) -> None:
    customer_writes(client, NOW)
    two = Cards([Card(title="A"), Card(title="B")])
    with pytest.raises(PolicyViolation) as refused:
        client.send(ADA, two)
    assert refused.value.violation.native_code == 45008
    with pytest.raises(PolicyViolation) as buttons:
        client.send(ADA, Cards([Card(title="A", buttons=["Buy"])]))
    assert buttons.value.violation.rule_id == "wechat.cards.buttons"
    many = Raw({"msgtype": "news", "news": {"articles": [{"title": "a"}, {"title": "b"}]}})
    assert [v.native_code for v in client.check(ADA, many)] == [45008]
    assert fake.calls == []


def test_location_contacts_and_a_document_link_become_text(
    client: Client, fake: FakeWeChat
) -> None:
    loc = Location(latitude=31.23, longitude=121.47, name="Shop", address="1 Nanjing Rd")
    assert _sent_body(client, fake, loc)["text"] == {"content": "Shop\n1 Nanjing Rd\n31.23,121.47"}
    card = Contact(name=ContactName(formatted_name="Ada"), phones=(ContactPhone(phone="+86 1"),))
    assert _sent_body(client, fake, Contacts([card]))["text"] == {"content": "Ada\nPhone: +86 1"}
    doc = Document(url="https://e.x/manual.pdf", filename="manual.pdf")
    assert _sent_body(client, fake, doc)["text"] == {
        "content": "manual.pdf\nhttps://e.x/manual.pdf"
    }


def test_raw_is_any_customer_service_body_and_the_builders(
    client: Client, fake: FakeWeChat
) -> None:
    music = wm.music("https://e.x/m.mp3", "https://e.x/hq.mp3", "THUMB", title="Song")
    assert _sent_body(client, fake, music) == {
        "msgtype": "music",
        "music": {
            "musicurl": "https://e.x/m.mp3",
            "hqmusicurl": "https://e.x/hq.mp3",
            "thumb_media_id": "THUMB",
            "title": "Song",
        },
    }
    agent = wm.as_agent(wm.mpnews("MPN"), "kf1@test")
    assert _sent_body(client, fake, agent) == {
        "msgtype": "mpnews",
        "mpnews": {"media_id": "MPN"},
        "customservice": {"kf_account": "kf1@test"},
    }
    bad = Raw({"msgtype": "sticker", "sticker": {}})
    assert [v.native_code for v in client.check(ADA, bad)] == [40008]


@pytest.mark.parametrize(
    "content",
    [Sticker(media_id="S"), Reaction(message_id="1", emoji="👍"), Template("order_update")],
)
def test_refused_types_are_refused_before_any_request(
    client: Client, fake: FakeWeChat, content: Any
) -> None:
    customer_writes(client, NOW)
    (v,) = client.check(ADA, content)
    assert v.rule_id == "wechat.capability"
    with pytest.raises(PolicyViolation):
        client.send(ADA, content)
    assert fake.calls == []


# --- client.wechat: exact requests ----------------------------------------------------------------


def test_typing_and_upload(client: Client, fake: FakeWeChat) -> None:
    client.wechat.typing(ADA)
    client.wechat.typing(OPENID, on=False)
    on, off = fake.api()
    assert (on.method, on.path, on.body) == (
        "POST",
        "/cgi-bin/message/custom/typing",
        {"touser": OPENID, "command": "Typing"},
    )
    assert off.body == {"touser": OPENID, "command": "CancelTyping"}
    media_id = client.wechat.upload_media("image", b"\x89PNG...", filename="a.png")
    assert media_id == "MEDIA-1"
    up = fake.api()[-1]
    assert (up.method, up.path, up.query["type"]) == ("POST", "/cgi-bin/media/upload", "image")
    assert up.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert b'name="media"; filename="a.png"' in up.raw and b"\x89PNG..." in up.raw
    assert b"Content-Type: image/png" in up.raw


def test_template_and_subscribe_messages(client: Client, fake: FakeWeChat) -> None:
    msgid = client.wechat.send_template(
        ADA,
        "TPL-1",
        {"keyword1": "Order 42", "keyword2": {"value": "shipped", "color": "#173177"}},
        url="https://e.x/o/42",
        miniprogram={"appid": "wxmini", "pagepath": "index?o=42"},
        client_msg_id="MSG_000001",
    )
    assert msgid == 200228333
    call = fake.api()[-1]
    assert call.path == "/cgi-bin/message/template/send"
    assert list(call.body) == [
        "touser",
        "template_id",
        "url",
        "miniprogram",
        "client_msg_id",
        "data",
    ]
    assert call.body["data"] == {
        "keyword1": {"value": "Order 42"},
        "keyword2": {"value": "shipped", "color": "#173177"},
    }
    # Not bound to the window: the customer never wrote, it still goes.
    client.wechat.send_subscribe(ADA, "SUB-1", {"thing1": "Parcel"}, page="pages/o")
    sub = fake.api()[-1]
    assert (sub.path, sub.body) == (
        "/cgi-bin/message/subscribe/bizsend",
        {
            "touser": OPENID,
            "template_id": "SUB-1",
            "data": {"thing1": {"value": "Parcel"}},
            "page": "pages/o",
        },
    )
    fake.then({"errcode": 43101, "errmsg": "user refuse to accept the msg rid: a-b-c"})
    with pytest.raises(PolicyRejected) as refused:
        client.wechat.send_subscribe(ADA, "SUB-1", {"thing1": "x"})
    assert refused.value.code == 43101 and refused.value.rule_id == "wechat.subscribe.consent"


def test_a_template_with_client_msg_id_is_retried_with_the_same_id(
    client: Client, fake: FakeWeChat
) -> None:
    fake.then({"error": "bad gateway"}, status=502)
    fake.then({"errcode": -1, "errmsg": "system error"})
    assert client.wechat.send_template(ADA, "TPL", {"k": "v"}, client_msg_id="ID-7") is not None
    attempts = [c for c in fake.api() if c.path == "/cgi-bin/message/template/send"]
    assert len(attempts) == 3
    assert {c.raw for c in attempts} == {attempts[0].raw}
    assert all(c.body["client_msg_id"] == "ID-7" for c in attempts)
    # Without one, a 5xx is final: it may have been sent.
    fake.then({"error": "bad gateway"}, status=502)
    with pytest.raises(ServerError):
        client.wechat.send_template(ADA, "TPL", {"k": "v"})
    assert len([c for c in fake.api() if c.path == "/cgi-bin/message/template/send"]) == 4


def test_tags_requests(client: Client, fake: FakeWeChat) -> None:
    tag = client.wechat.create_tag("vip")
    assert (tag.id, tag.name) == (134, "vip")
    assert [(t.id, t.name, t.count) for t in client.wechat.tags()] == [
        (2, "星标组", 0),
        (134, "vip", 3),
    ]
    client.wechat.rename_tag(134, "gold")
    client.wechat.delete_tag(134)
    client.wechat.tag_users(134, [OPENID, "o2"])
    client.wechat.untag_users(134, [OPENID])
    assert client.wechat.user_tags(ADA) == [134, 2]
    got = [(c.method, c.path, c.body) for c in fake.api()]
    assert got == [
        ("POST", "/cgi-bin/tags/create", {"tag": {"name": "vip"}}),
        ("GET", "/cgi-bin/tags/get", b""),
        ("POST", "/cgi-bin/tags/update", {"tag": {"id": 134, "name": "gold"}}),
        ("POST", "/cgi-bin/tags/delete", {"tag": {"id": 134}}),
        (
            "POST",
            "/cgi-bin/tags/members/batchtagging",
            {"tagid": 134, "openid_list": [OPENID, "o2"]},
        ),
        ("POST", "/cgi-bin/tags/members/batchuntagging", {"tagid": 134, "openid_list": [OPENID]}),
        ("POST", "/cgi-bin/tags/getidlist", {"openid": OPENID}),
    ]
    assert list(fake.api()[4].body) == ["tagid", "openid_list"]


def test_tag_limits_are_refused_before_io(client: Client, fake: FakeWeChat) -> None:
    cases: list[tuple[Callable[[], object], int]] = [
        (lambda: client.wechat.create_tag("标" * 11), 45158),  # 33 bytes
        (lambda: client.wechat.create_tag(""), 45157),
        (lambda: client.wechat.rename_tag(2, "x"), 45058),
        (lambda: client.wechat.delete_tag(0), 45058),
        (lambda: client.wechat.tag_users(134, [f"o{i}" for i in range(51)]), 40032),
        (lambda: client.wechat.untag_users(134, []), 40032),
        (lambda: client.wechat.users_info([f"o{i}" for i in range(101)]), 40032),
    ]
    for call, code in cases:
        with pytest.raises(PolicyViolation) as refused:
            call()
        assert refused.value.violation.native_code == code
    assert client.wechat.create_tag("标" * 10).name == "标" * 10  # 30 bytes: fine
    assert len(fake.api()) == 1


def test_users(client: Client, fake: FakeWeChat) -> None:
    user = client.wechat.user_info(ADA)
    assert user.subscribed and user.openid == OPENID and user.tag_ids == (134,)
    assert user.subscribe_scene == "ADD_SCENE_QR_CODE" and user.qr_scene == 98765
    assert user.subscribed_at is not None and user.subscribed_at.timestamp() == 1_700_000_000
    call = fake.api()[-1]
    assert (call.method, call.path) == ("GET", "/cgi-bin/user/info")
    assert call.query == {
        "openid": OPENID,
        "lang": "zh_CN",
        "access_token": call.query["access_token"],
    }
    users = client.wechat.users_info([OPENID, "o2"])
    assert [u.openid for u in users] == [OPENID, "o2"]
    assert fake.api()[-1].body == {"user_list": [{"openid": OPENID}, {"openid": "o2"}]}
    with pytest.raises(ConfigurationError):
        client.wechat.user_info(ADA, lang="fr")


def test_qr_codes(client: Client, fake: FakeWeChat) -> None:
    temp = client.wechat.create_qr(123, expire_seconds=604_800)
    assert temp.expire_seconds == 604_800
    assert temp.image_url == (
        "https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket="
        "gQH47joAAAAAAAAAASxodHRwOi8vd2VpeGluLnFxLmNvbS9xL2taZ2Z3TVRtNzJXV1Brb3ZhYmJJAAIEZ23sUwMEmm3sUw%3D%3D"
    )
    assert temp.url == "http://weixin.qq.com/q/kZgfwMTm72WWPkovabbI"
    perm = client.wechat.create_qr("shop-42")
    assert perm.expire_seconds is None
    client.wechat.create_qr(7)
    client.wechat.create_qr("promo", expire_seconds=60)
    bodies = [c.body for c in fake.api()]
    assert bodies == [
        {
            "expire_seconds": 604_800,
            "action_name": "QR_SCENE",
            "action_info": {"scene": {"scene_id": 123}},
        },
        {"action_name": "QR_LIMIT_STR_SCENE", "action_info": {"scene": {"scene_str": "shop-42"}}},
        {"action_name": "QR_LIMIT_SCENE", "action_info": {"scene": {"scene_id": 7}}},
        {
            "expire_seconds": 60,
            "action_name": "QR_STR_SCENE",
            "action_info": {"scene": {"scene_str": "promo"}},
        },
    ]
    assert all(c.path == "/cgi-bin/qrcode/create" and c.method == "POST" for c in fake.api())


def test_qr_limits_are_refused_before_io(client: Client, fake: FakeWeChat) -> None:
    for scene, expire in (
        (0, None),
        (100_001, None),
        ("x" * 65, 60),
        ("", None),
        (5, 0),
    ):
        with pytest.raises(PolicyViolation):
            client.wechat.create_qr(scene, expire_seconds=expire)
    client.wechat.create_qr(100_000)
    client.wechat.create_qr(2**32 - 1, expire_seconds=2_592_000)
    assert len(fake.api()) == 2


def test_the_custom_menu(client: Client, fake: FakeWeChat) -> None:
    client.wechat.create_menu(
        [
            Button("faq", "FAQ"),
            {
                "name": "Shop",
                "sub_button": [LinkButton("Store", "https://e.x"), Button("agent", "Agent")],
            },
        ]
    )
    create = fake.api()[-1]
    assert (create.method, create.path) == ("POST", "/cgi-bin/menu/create")
    assert create.body == {
        "button": [
            {"type": "click", "name": "FAQ", "key": "faq"},
            {
                "name": "Shop",
                "sub_button": [
                    {"type": "view", "name": "Store", "url": "https://e.x"},
                    {"type": "click", "name": "Agent", "key": "agent"},
                ],
            },
        ]
    }
    menu = client.wechat.menu()
    assert menu is not None and menu.buttons == [{"type": "click", "name": "FAQ", "key": "faq"}]
    client.wechat.delete_menu()
    assert [(c.method, c.path) for c in fake.api()[-2:]] == [
        ("GET", "/cgi-bin/menu/get"),
        ("GET", "/cgi-bin/menu/delete"),
    ]
    fake.then({"errcode": 46003, "errmsg": "menu no exist rid: x-y-z"})
    assert client.wechat.menu() is None


def test_menu_limits_are_refused_before_io(client: Client, fake: FakeWeChat) -> None:
    four = [Button(str(i), "B") for i in range(4)]
    six = [{"name": "More", "sub_button": [Button(str(i), "S") for i in range(6)]}]
    long_name = [Button("k", "菜单名字很长")]  # 18 bytes > 16
    long_sub = [{"name": "M", "sub_button": [Button("k", "x" * 61)]}]
    for buttons, code in (
        (four, 40016),
        ([], 40016),
        (six, 40023),  # the sub-button codes of the global table, as the simulator's
        (long_name, 40018),
        (long_sub, 40025),
    ):
        with pytest.raises(PolicyViolation) as refused:
            client.wechat.create_menu(buttons)
        assert refused.value.violation.native_code == code
    assert fake.calls == []


def test_async_extras(fake: FakeWeChat, clock: FakeClock) -> None:
    async def main() -> None:
        async with amake(fake, clock) as c:
            assert (await c.wechat.create_qr(9, expire_seconds=60)).ticket
            assert (await c.wechat.create_tag("vip")).id == 134
            assert await c.wechat.send_template(ADA, "TPL", {"a": "b"}) is not None
            assert await c.wechat.user_tags(ADA) == [134, 2]
            with pytest.raises(PolicyViolation):
                await c.wechat.create_menu([])

    asyncio.run(main())
    assert [c.path for c in fake.api()] == [
        "/cgi-bin/qrcode/create",
        "/cgi-bin/tags/create",
        "/cgi-bin/message/template/send",
        "/cgi-bin/tags/getidlist",
    ]


# --- the errcode table ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("errcode", "errmsg", "kind"),
    [
        (45009, "reach max api daily quota limit rid: 1-2-3", RateLimited),
        (45011, "api minute-quota reach limit  mustslower  retry next minute", RateLimited),
        (40003, "invalid openid rid: 1-2-3", NotFound),
        (40007, "invalid media_id", NotFound),
        (48001, "api unauthorized rid: 1-2-3", PermissionDenied),
        (40200, "invalid account type", PermissionDenied),
        (45015, "response out of time limit or subscription is canceled", PolicyRejected),
        (43004, "require subscribe", PolicyRejected),
        (45008, "article size out of limit", PolicyRejected),
        (47001, "data format error", InvalidRequest),
        (45002, "content size out of limit", InvalidRequest),
    ],
)
def test_errcodes_map_into_the_error_tree(
    client: Client, fake: FakeWeChat, errcode: int, errmsg: str, kind: type[PlatformError]
) -> None:
    fake.then({"errcode": errcode, "errmsg": errmsg})
    with pytest.raises(kind) as raised:
        client.wechat.tags()
    e = raised.value
    assert (e.code, e.platform, e.http_status) == (errcode, "wechat", 200)
    assert errmsg in str(e)  # WeChat's errmsg, nothing stripped
    assert len(fake.api()) == 1  # neither quota is waited for
    if isinstance(e, RateLimited):
        assert e.retry_after == (60.0 if errcode == 45011 else None)


def test_a_read_is_retried_after_a_system_error(client: Client, fake: FakeWeChat) -> None:
    fake.then({"errcode": -1, "errmsg": "system error"})
    assert client.wechat.user_tags(ADA) == [134, 2]
    assert len(fake.api()) == 2


# --- with the webhook reader: the window comes from what customers send -----------------------


def _push(c: Client, xml: str, at: float) -> Any:
    from omnimsg.platforms.wechat.crypto import signature

    ts, nonce = str(int(at)), "1320562132"
    url = f"/wechat?signature={signature('spamtest', ts, nonce)}&timestamp={ts}&nonce={nonce}"
    outcome = c.webhooks.handle("wechat", "POST", url, {}, xml.encode())
    outcome.raise_for_error()
    return outcome


def _text_xml(at: float, msg_id: int = 6054768590064713728) -> str:
    return (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
        f"<FromUserName><![CDATA[{OPENID}]]></FromUserName><CreateTime>{int(at)}</CreateTime>"
        "<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[hi]]></Content>"
        f"<MsgId>{msg_id}</MsgId></xml>"
    )


def test_a_customer_message_through_the_webhook_opens_the_window(
    client: Client, fake: FakeWeChat, clock: FakeClock
) -> None:
    assert not client.window(ADA).open
    (event,) = _push(client, _text_xml(NOW), NOW).events
    assert client.window(event.sender).open
    for _ in range(5):
        client.send(event.sender, Text("x"))
    with pytest.raises(PolicyViolation) as refused:
        client.send(event.sender, Text("sixth"))
    assert refused.value.violation.native_code == 45047
    clock.advance(49 * HOUR)
    _push(client, _text_xml(clock.time(), 6054768590064713729), clock.time())
    client.send(event.sender, Text("a new window"))
    assert len(sends(fake)) == 6


def test_a_passive_reply_answers_inside_the_webhook_response(
    client: Client, fake: FakeWeChat
) -> None:
    (event,) = _push(client, _text_xml(NOW), NOW).events
    outcome = client.wechat.passive_reply(event, Text("hello"))
    assert outcome.status == 200 and b"<![CDATA[hello]]>" in outcome.body
    assert f"<ToUserName><![CDATA[{OPENID}]]></ToUserName>".encode() in outcome.body
    assert f"<CreateTime>{int(NOW)}</CreateTime>".encode() in outcome.body
    assert fake.calls == []  # no API call, no token


def test_a_safe_mode_passive_reply_is_encrypted_afresh(fake: FakeWeChat, clock: FakeClock) -> None:
    from omnimsg.platforms.wechat.crypto import decrypt

    key = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
    c = make(fake, clock, mode="safe", encoding_aes_key=key)
    _ = c  # the push below is plaintext (WeChat sends either form in compatible mode)
    plain = make(fake, clock)
    (event,) = _push(plain, _text_xml(NOW), NOW).events
    one = c.wechat.passive_reply(event, Text("secret hello"))
    two = c.wechat.passive_reply(event, Text("secret hello"))
    assert b"<Encrypt>" in one.body and one.body != two.body  # fresh nonce and prefix
    encrypted = one.body.split(b"<Encrypt><![CDATA[")[1].split(b"]]>")[0].decode()
    assert b"secret hello" in decrypt(key, APP_ID, encrypted)
