"""WeChat's most used Python SDK (``wechatpy[cryptography]==1.8.18``, from PyPI) against
omnimsg-sim.

How wechatpy is pointed at the simulator (research/wechat.md §1.2). ``API_BASE_URL`` is a
class attribute read per request, so it is set on the instance, trailing ``/cgi-bin/`` kept.
That alone is not enough: ``WeChatClient.fetch_access_token`` hard-codes
``https://api.weixin.qq.com/cgi-bin/token``, so changing "only the base URL" (issue 9) would
still fetch tokens from Tencent. The smallest honest change is the three-line override in
:class:`SimClient`: the same ``_fetch_access_token`` call with the same parameters, on the
simulator's base URL. Nothing else is patched: wechatpy builds its own bodies (JSON with no
Content-Type, raw UTF-8), reads the keys its result processors need (a missing one is a
``KeyError`` in the client), raises ``WeChatClientException`` for an errcode, and refetches
the token itself on 40001/42001 (once per answer, without a bound: the simulator must never
answer 40001 to a freshly issued token, research §1.5).

The bots are written with wechatpy's server tools (research §2): ``check_signature`` on
every request (the GET echostr handshake too), ``WeChatCrypto.decrypt_message`` with
``msg_signature`` in compatible and safe mode, ``parse_message`` (whose class for every kind
is checked: an unknown kind would be ``UnknownMessage``), and passive replies from
``create_reply(...).render()``, encrypted with ``encrypt_message`` in safe mode, that the
simulator decodes into its outbox. They listen on a small HTTP server (127.0.0.1, port 0).
"""

from __future__ import annotations

import base64
import io
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from wechatpy import WeChatClient, create_reply, parse_message
from wechatpy.crypto import PrpCrypto, WeChatCrypto
from wechatpy.events import (
    ClickEvent,
    LocationEvent,
    ScanCodePushEvent,
    ScanCodeWaitMsgEvent,
    ScanEvent,
    SubscribeEvent,
    SubscribeScanEvent,
    TemplateSendJobFinishEvent,
    UnsubscribeEvent,
    ViewEvent,
)
from wechatpy.exceptions import (
    InvalidAppIdException,
    InvalidSignatureException,
    WeChatClientException,
)
from wechatpy.messages import (
    BaseMessage,
    ImageMessage,
    LinkMessage,
    LocationMessage,
    ShortVideoMessage,
    TextMessage,
    UnknownMessage,
    VideoMessage,
    VoiceMessage,
)
from wechatpy.replies import (
    ArticlesReply,
    ImageReply,
    MusicReply,
    TextReply,
    TransferCustomerServiceReply,
    VideoReply,
    VoiceReply,
)
from wechatpy.utils import check_signature

from omnimsg.platforms.wechat import crypto
from omnimsg.testing import DEFAULT_WECHAT, ServerThread, wechat_sim_config
from remote import Receiver, Remote

pytestmark = pytest.mark.slow

ACCOUNT = DEFAULT_WECHAT["account_id"]
APP_ID = DEFAULT_WECHAT["app_id"]
SECRET = DEFAULT_WECHAT["app_secret"]
TOKEN = DEFAULT_WECHAT["token"]
KEY = DEFAULT_WECHAT["encoding_aes_key"]
ADA = DEFAULT_WECHAT["customers"][0]["openid"]
ALAN = DEFAULT_WECHAT["customers"][1]["openid"]
GRACE = DEFAULT_WECHAT["customers"][2]["openid"]  # unfollowed
TEMPLATE = DEFAULT_WECHAT["templates"][0]
NEWCOMER = "oNewcomer00000000000000000005"


# --- the simulator and its control plane ------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with ServerThread(wechat_sim_config(webhook_url="/_sim/sink")) as url:
        yield url


REMOTE = Remote("wechat", ADA, delivered=True)  # the bot's check_signature would answer 403
control, target, customer, advance = REMOTE.control, REMOTE.target, REMOTE.customer, REMOTE.advance


@pytest.fixture
def sim(server: str) -> str:
    return REMOTE.reset(server)


def state(url: str) -> dict[str, Any]:
    answer: dict[str, Any] = control(url, "/_sim/state")["wechat"][ACCOUNT]
    return answer


def outbox(url: str) -> list[dict[str, Any]]:
    return list(control(url, "/_sim/outbox?platform=wechat")["messages"])


def fetches(url: str) -> int:
    return int(state(url)["tokens"]["classic"]["fetches"])


class SimClient(WeChatClient):
    """wechatpy's ``WeChatClient`` on the simulator: its base URL, and the token fetch
    (hard-coded to api.weixin.qq.com in wechatpy, research §1.2) on that base URL."""

    def __init__(self, base: str, **kwargs: Any) -> None:
        super().__init__(APP_ID, SECRET, **kwargs)
        self.API_BASE_URL = f"{base}/cgi-bin/"

    def fetch_access_token(self) -> dict[str, Any]:
        params = {"grant_type": "client_credential", "appid": self.appid, "secret": self.secret}
        result: dict[str, Any] = self._fetch_access_token(self.API_BASE_URL + "token", params)
        return result


def errcode(raised: pytest.ExceptionInfo[WeChatClientException]) -> int:
    """The errcode wechatpy raised, the answer HTTP 200 as WeChat's are."""
    e = raised.value
    assert e.response is not None and e.response.status_code == 200
    return int(e.errcode)


# --- the client -------------------------------------------------------------------------------


def test_customer_service_messages_through_wechatpy(sim: str) -> None:
    customer(sim, text="where is my order?")  # opens Ada's 48 h window: 5 sends
    client = SimClient(sim)
    assert client.message.send_text(ADA, "你好, Ada") == {"errcode": 0, "errmsg": "ok"}
    client.message.send_text(ADA, "from an agent", account="kf1@test")
    uploaded = client.media.upload("image", io.BytesIO(b"\x89PNG\r\n\x1a\n a picture"))
    assert uploaded["type"] == "image" and uploaded["media_id"]
    client.message.send_image(ADA, uploaded["media_id"])
    article = {
        "title": "Your order",
        "description": "Shipped today",
        "url": "https://example.com/42",
        "image": "https://example.com/42.jpg",
    }
    client.message.send_articles(ADA, [article])
    with pytest.raises(WeChatClientException) as two:  # wechatpy does not check (§1.4)
        client.message.send_articles(ADA, [article, article])
    assert errcode(two) == 45008
    menu = {
        "head_content": "Was this helpful?",
        "list": [{"id": "101", "content": "Yes"}, {"id": "102", "content": "No"}],
        "tail_content": "Thanks",
    }
    client.message.send_msg_menu(ADA, menu)
    sent = outbox(sim)
    assert [m["type"] for m in sent] == ["text", "text", "image", "news", "msgmenu"]
    assert sent[0]["text"] == "你好, Ada"  # raw UTF-8 with no Content-Type, read as JSON
    assert sent[1]["raw"]["customservice"] == {"kf_account": "kf1@test"}
    assert sent[3]["raw"]["news"]["articles"][0]["picurl"] == "https://example.com/42.jpg"
    assert sent[4]["raw"]["msgmenu"] == menu
    assert fetches(sim) == 1  # one token, cached by wechatpy's session


def test_the_other_kinds_wechatpy_sends(sim: str) -> None:
    """Shapes wechatpy sends its own way (research §1.4): a video without
    ``thumb_media_id``, music, ``send_articles`` with a media id (mpnews), a mini program page
    without ``appid``; a thumb upload answers ``thumb_media_id``, WeChat's quirk."""
    customer(sim, text="hi")
    client = SimClient(sim)
    voice = client.media.upload("voice", io.BytesIO(b"#!AMR\n"))
    video = client.media.upload("video", io.BytesIO(b"\x00\x00\x00\x18ftypmp42"))
    thumb = client.media.upload("thumb", io.BytesIO(b"\xff\xd8"))
    assert (thumb["type"], "media_id" in thumb) == ("thumb", False)
    client.message.send_voice(ADA, voice["media_id"])
    client.message.send_video(ADA, video["media_id"])
    client.message.send_music(
        ADA, "https://e.test/m.mp3", "https://e.test/hq.mp3", thumb["thumb_media_id"], "Song"
    )
    client.message.send_articles(ADA, "MPNEWS_MEDIA_ID")
    with pytest.raises(WeChatClientException) as unknown:
        client.message.send_image(ADA, "NOT_A_MEDIA_ID")
    assert errcode(unknown) == 40007
    page = {
        "title": "Order",
        "pagepath": "pages/order?id=42",
        "thumb_media_id": thumb["thumb_media_id"],
    }
    client.message.send_mini_program_page(ADA, page)
    sent = outbox(sim)
    assert [m["type"] for m in sent] == ["voice", "video", "music", "mpnews", "miniprogrampage"]
    assert sent[1]["raw"]["video"] == {"media_id": video["media_id"]}
    assert client.media.download(voice["media_id"]).content == b"#!AMR\n"


def test_the_window_its_count_and_an_unfollowed_user(sim: str) -> None:
    client = SimClient(sim)
    with pytest.raises(WeChatClientException) as closed:
        client.message.send_text(ADA, "nobody asked")
    assert errcode(closed) == 45015
    customer(sim, text="hi")
    for i in range(5):
        client.message.send_text(ADA, f"answer {i}")
    with pytest.raises(WeChatClientException) as sixth:
        client.message.send_text(ADA, "one too many")
    assert errcode(sixth) == 45047
    advance(sim, 48 * 3600 + 1)
    customer(sim, ALAN, text="hello")  # an open window elsewhere does not help Ada
    with pytest.raises(WeChatClientException) as expired:
        client.message.send_text(ADA, "two days later")
    assert errcode(expired) == 45015
    with pytest.raises(WeChatClientException) as gone:
        client.message.send_text(GRACE, "come back")
    assert errcode(gone) == 43004
    assert len(outbox(sim)) == 5


def test_a_stale_token_is_refetched_once_and_the_call_retried(sim: str) -> None:
    """wechatpy refreshes on its own wall clock, which does not see the virtual one: after
    the token's life (and the 5-minute grace) it sends the old token, gets 42001, fetches
    once and retries. A token replaced by another process's fetch is 40001 after the grace:
    the same one refetch. A fresh token is never refused (wechatpy would loop, §1.5)."""
    customer(sim, text="hi")
    client = SimClient(sim)
    client.message.send_text(ADA, "1")
    assert fetches(sim) == 1
    advance(sim, 7200 + 300 + 1)
    customer(sim, text="still there?")
    client.message.send_text(ADA, "2")  # 42001 -> fetch -> retried
    assert fetches(sim) == 2
    other = SimClient(sim)  # another process fetches: Ada's client's token is replaced
    other.message.send_text(ADA, "3")
    assert fetches(sim) == 3
    client.message.send_text(ADA, "4")  # within the grace: still valid
    assert fetches(sim) == 3
    advance(sim, 301)
    client.message.send_text(ADA, "5")  # 40001 -> fetch -> retried
    assert fetches(sim) == 4
    assert [m["text"] for m in outbox(sim)] == ["1", "2", "3", "4", "5"]


def test_token_fetch_refusals_as_wechatpy_raises_them() -> None:
    """The fetch's own errcodes: wechatpy's ``_fetch_access_token`` raises a plain
    ``WeChatClientException`` for them (45009 is ``APILimitedException`` only from an API
    call), so the call never starts."""
    with ServerThread(wechat_sim_config(webhook_url="/_sim/sink", token_daily_limit=1)) as url:
        SimClient(url).user.get(ADA)
        with pytest.raises(WeChatClientException) as quota:
            SimClient(url).user.get(ADA)  # a second process fetches: the day's one is used
        assert errcode(quota) == 45009
        assert "daily quota" in quota.value.errmsg
    with ServerThread(
        wechat_sim_config(webhook_url="/_sim/sink", ip_whitelist=["10.0.0.1"])
    ) as url:
        with pytest.raises(WeChatClientException) as ip:
            SimClient(url).user.get(ADA)
        assert errcode(ip) == 40164
        assert "invalid ip 127.0.0.1" in ip.value.errmsg and "not in whitelist" in ip.value.errmsg


def test_template_and_subscribe_messages(sim: str, bot: Bot) -> None:
    client = SimClient(sim)
    data = {"keyword1": {"value": "Order 42"}, "keyword2": {"value": "已发货"}}
    sent = client.message.send_template(ADA, TEMPLATE, data, url="https://example.com/42")
    msgid = sent["msgid"]
    assert isinstance(msgid, int)
    with pytest.raises(WeChatClientException) as unknown:
        client.message.send_template(ADA, "no-such-template", data)
    assert errcode(unknown) == 40037
    advance(sim, 60)  # the job-finished event comes after delivery
    [finished] = bot.messages
    assert isinstance(finished, TemplateSendJobFinishEvent)
    assert (finished.id, finished.status, finished.source) == (msgid, "success", ADA)
    notice = {"thing1": {"value": "Ready"}}
    with pytest.raises(WeChatClientException) as no_consent:
        client.message.send_subscribe_message(ADA, "sub-tpl", notice)
    assert errcode(no_consent) == 43101
    customer(sim, consent="sub-tpl")
    popup = bot.messages[-1]  # wechatpy 1.8.18 has no class for it: kept raw
    assert isinstance(popup, UnknownMessage)
    assert popup._data["Event"] == "subscribe_msg_popup_event"
    assert popup._data["SubscribeMsgPopupEvent"]["List"]["TemplateId"] == "sub-tpl"
    assert (
        client.message.send_subscribe_message(ADA, "sub-tpl", notice, page="pages/a")["errcode"]
        == 0
    )
    with pytest.raises(WeChatClientException) as used:  # one consent, one send
        client.message.send_subscribe_message(ADA, "sub-tpl", notice)
    assert errcode(used) == 43101
    assert [m["type"] for m in outbox(sim)] == ["template", "subscribe"]


def test_tags_and_users(sim: str) -> None:
    client = SimClient(sim)
    tag = client.tag.create("VIP 客户")
    assert tag["name"] == "VIP 客户" and isinstance(tag["id"], int)
    assert {"id": tag["id"], "name": "VIP 客户", "count": 0} in client.tag.get()
    client.tag.update(tag["id"], "Gold")
    client.tag.tag_user(tag["id"], [ADA, ALAN])
    assert client.tag.get_user_tag(ADA) == [tag["id"]]
    assert list(client.tag.iter_tag_users(tag["id"])) == [ADA, ALAN]  # ends on no "data"
    [gold] = [t for t in client.tag.get() if t["id"] == tag["id"]]
    assert (gold["name"], gold["count"]) == ("Gold", 2)
    client.tag.untag_user(tag["id"], ADA)
    assert client.tag.get_user_tag(ADA) == []
    assert client.tag.get_user_tag(ALAN) == [tag["id"]]
    client.tag.delete(tag["id"])
    assert all(t["id"] != tag["id"] for t in client.tag.get())
    with pytest.raises(WeChatClientException) as reserved:
        client.tag.update(2, "mine")
    assert errcode(reserved) == 45058

    ada = client.user.get(ADA)
    assert (ada["subscribe"], ada["openid"], ada["remark"]) == (1, ADA, "Ada Lovelace")
    batch = client.user.get_batch([ADA, ALAN, GRACE])
    assert [u["openid"] for u in batch] == [ADA, ALAN, GRACE]
    assert [u["subscribe"] for u in batch] == [1, 1, 0]
    assert (
        ALAN in list(client.user.iter_followers())
        and GRACE not in client.user.get_followers()["data"]["openid"]
    )
    assert client.user.get(ALAN, lang="en")["language"] == "en"


def test_qr_codes_bring_followers_with_their_scene(sim: str, bot: Bot) -> None:
    client = SimClient(sim)
    temporary = client.qrcode.create(
        {
            "expire_seconds": 600,
            "action_name": "QR_SCENE",
            "action_info": {"scene": {"scene_id": 123}},
        }
    )
    assert temporary["expire_seconds"] == 600 and temporary["url"].startswith("http")
    shop = client.qrcode.create(
        {"action_name": "QR_LIMIT_STR_SCENE", "action_info": {"scene": {"scene_str": "shop-42"}}}
    )
    assert "expire_seconds" not in shop
    default = client.qrcode.create(
        {"action_name": "QR_STR_SCENE", "action_info": {"scene": {"scene_str": "promo"}}}
    )
    assert default["expire_seconds"] == 60  # omitted: 60 s (spec §10.1)
    assert client.qrcode.get_url(shop).startswith("https://mp.weixin.qq.com/cgi-bin/showqrcode")
    customer(sim, NEWCOMER, scan=temporary["ticket"])
    customer(sim, ADA, scan=shop["ticket"])
    new, known = bot.messages
    assert isinstance(new, SubscribeScanEvent) and new.source == NEWCOMER
    assert (new.scene_id, new.ticket) == ("123", temporary["ticket"])
    assert isinstance(known, ScanEvent) and known.source == ADA
    assert (known.scene_id, known.ticket) == ("shop-42", shop["ticket"])
    assert client.user.get(NEWCOMER)["subscribe_scene"] == "ADD_SCENE_QR_CODE"
    assert client.user.get(NEWCOMER)["qr_scene"] == 123
    # A scan opens the short window: 3 sends in a minute (spec §5.1).
    for i in range(3):
        client.message.send_text(NEWCOMER, f"welcome {i}")
    with pytest.raises(WeChatClientException) as fourth:
        client.message.send_text(NEWCOMER, "more")
    assert errcode(fourth) == 45047
    advance(sim, 601)
    answer = control(
        sim, "/_sim/inbound", {"platform": "wechat", "user": ALAN, "scan": temporary["ticket"]}
    )
    assert "expired" in answer["error"]["message"]


def test_the_menu_and_its_click_and_view_events(sim: str, bot: Bot) -> None:
    client = SimClient(sim)
    assert client.menu.get() is None  # 46003 "menu no exist", which wechatpy turns into None
    buttons = {
        "button": [
            {"type": "click", "name": "FAQ", "key": "faq"},
            {
                "name": "More",
                "sub_button": [{"type": "view", "name": "Site", "url": "https://example.com/"}],
            },
        ]
    }
    assert client.menu.create(buttons)["errcode"] == 0
    menu = client.menu.get()
    assert menu["menu"]["button"][0] == {
        "type": "click",
        "name": "FAQ",
        "key": "faq",
        "sub_button": [],
    }
    customer(sim, click="faq")
    customer(sim, view="https://example.com/")
    click, view = bot.messages
    assert isinstance(click, ClickEvent) and click.key == "faq"
    assert isinstance(view, ViewEvent) and view.url == "https://example.com/"
    client.message.send_text(ADA, "the FAQ is ...")  # a click opens the short window
    client.menu.delete()
    assert client.menu.get() is None


# --- bots written with wechatpy ---------------------------------------------------------------


Answer = Callable[[BaseMessage], Any]


class Bot:
    """A bot written with wechatpy's server tools (research §2.3, wechatpy's
    ``examples/echo-encrypted``): ``check_signature`` on every request, the echostr back on
    GET, ``decrypt_message`` when ``encrypt_type=aes``, ``parse_message``, then ``answer``'s
    reply rendered (and encrypted when the push was) or ``success``."""

    def __init__(self, sim_url: str, *, token: str = TOKEN) -> None:
        self.sim_url = sim_url
        self.token = token
        self.crypto = WeChatCrypto(token, KEY, APP_ID)
        self.queries: list[dict[str, str]] = []
        self.bodies: list[bytes] = []
        self.plain: list[str] = []
        self.messages: list[BaseMessage] = []
        self.answer: Answer = lambda message: None
        self.slow: list[float] = []  # virtual seconds each next answer takes
        self.encrypt = True  # encrypt the reply when the push was encrypted
        self.lock = threading.Lock()

    def serve(self, request: BaseHTTPRequestHandler, body: bytes) -> tuple[int, bytes]:
        """The webhook endpoint's answer, to the echostr GET and to every push."""
        return self.receive(request.command, urlsplit(request.path).query, body)

    def receive(self, method: str, query: str, body: bytes) -> tuple[int, bytes]:
        q = {k: v[0] for k, v in parse_qs(query).items()}
        with self.lock:
            self.queries.append(q)
            self.bodies.append(body)
        try:
            check_signature(self.token, q["signature"], q["timestamp"], q["nonce"])
        except (InvalidSignatureException, KeyError):
            return 403, b"bad signature"
        if method == "GET":
            return 200, q["echostr"].encode()
        encrypted = q.get("encrypt_type") == "aes"
        if encrypted:
            xml = self.crypto.decrypt_message(body, q["msg_signature"], q["timestamp"], q["nonce"])
        else:
            xml = body.decode("utf-8")
        message = parse_message(xml)
        with self.lock:
            self.plain.append(xml)
            self.messages.append(message)
            slow = self.slow.pop(0) if self.slow else 0.0
        if slow:
            advance(self.sim_url, slow)  # a slow handler, on the virtual clock
        reply = self.answer(message)
        if reply is None:
            return 200, b"success"
        rendered = reply.render()
        if encrypted and self.encrypt:
            rendered = self.crypto.encrypt_message(rendered, q["nonce"], q["timestamp"])
        return 200, rendered.encode("utf-8")


ENDPOINT: dict[str, Any] = {"content_type": "text/xml; charset=utf-8", "methods": ("GET", "POST")}
"""The bot's webhook endpoint: the echostr handshake is a GET, every push a POST."""


@pytest.fixture
def bot(sim: str) -> Iterator[Bot]:
    wechat = Bot(sim)
    with Receiver(wechat.serve, "/wechat", **ENDPOINT) as receiver:
        target(sim, receiver.url)
        yield wechat


EVERY_KIND: list[tuple[str, dict[str, Any], type[BaseMessage]]] = [
    (ADA, {"text": "Où est ma commande ? 你好"}, TextMessage),
    (ADA, {"image": {"data_base64": base64.b64encode(b"\xff\xd8jpeg").decode()}}, ImageMessage),
    (ADA, {"voice": {"format": "amr", "recognition": "你好"}}, VoiceMessage),
    (ADA, {"video": {}}, VideoMessage),
    (ADA, {"shortvideo": {}}, ShortVideoMessage),
    (
        ADA,
        {"location": {"latitude": 23.13, "longitude": 113.26, "label": "Guangzhou"}},
        LocationMessage,
    ),
    (
        ADA,
        {"link": {"title": "Order", "description": "see", "url": "https://example.com/o"}},
        LinkMessage,
    ),
    (NEWCOMER, {"follow": True}, SubscribeEvent),
    (ALAN, {"unfollow": True}, UnsubscribeEvent),
    (ADA, {"report_location": {"latitude": 23.13, "longitude": 113.26}}, LocationEvent),
]


def every_kind(sim: str, bot: Bot) -> None:
    """Every message and event kind reaches ``bot`` with its wechatpy class and fields."""
    for user, action, _ in EVERY_KIND:
        customer(sim, user, **action)
    client = SimClient(sim)
    client.menu.create(
        {
            "button": [
                {"type": "click", "name": "FAQ", "key": "faq"},
                {"type": "view", "name": "Site", "url": "https://example.com/"},
            ]
        }
    )
    customer(sim, click="faq")
    customer(sim, view="https://example.com/")
    ticket = client.qrcode.create(
        {"action_name": "QR_LIMIT_SCENE", "action_info": {"scene": {"scene_id": 7}}}
    )["ticket"]
    customer(sim, ADA, scan=ticket)
    customer(sim, GRACE, scan=ticket)
    client.message.send_template(ADA, TEMPLATE, {"keyword1": {"value": "x"}})
    advance(sim, 60)

    kinds = [type(m) for m in bot.messages]
    assert UnknownMessage not in kinds
    assert kinds == [
        *(cls for _, _, cls in EVERY_KIND),
        ClickEvent,
        ViewEvent,
        ScanEvent,
        SubscribeScanEvent,
        TemplateSendJobFinishEvent,
    ]
    text, image, voice, video, short, location, link = bot.messages[:7]
    assert isinstance(text, TextMessage) and text.content == "Où est ma commande ? 你好"
    assert text.source == ADA and text.target == ACCOUNT and text.id > 0
    assert isinstance(image, ImageMessage) and image.media_id and image.image.startswith("http")
    assert isinstance(voice, VoiceMessage)
    assert (voice.format, voice.recognition) == ("amr", "你好")
    assert isinstance(video, VideoMessage) and video.media_id and video.thumb_media_id
    assert isinstance(short, ShortVideoMessage) and short.media_id
    assert isinstance(location, LocationMessage)
    assert (location.location_x, location.location_y, location.label) == (
        "23.130000",
        "113.260000",
        "Guangzhou",
    )
    assert isinstance(link, LinkMessage) and link.url == "https://example.com/o"
    follow, unfollow, where = bot.messages[7:10]
    assert isinstance(follow, SubscribeEvent) and follow.source == NEWCOMER
    assert isinstance(unfollow, UnsubscribeEvent) and unfollow.source == ALAN
    assert isinstance(where, LocationEvent) and where.latitude == pytest.approx(23.13)
    scan, rejoin = bot.messages[12:14]
    assert isinstance(scan, ScanEvent) and scan.scene_id == "7"
    assert isinstance(rejoin, SubscribeScanEvent) and rejoin.scene_id == "7"
    log = control(sim, "/_sim/webhooks")["deliveries"]
    assert [d["status"] for d in log] == [200] * len(log)  # every check_signature passed
    assert len(bot.queries) == len(bot.messages) == len(log) - 1  # and the handshake


@pytest.mark.parametrize("mode", ["plaintext", "compatible", "safe"])
def test_a_wechatpy_bot_gets_every_kind_in_every_mode(mode: str) -> None:
    with ServerThread(wechat_sim_config(mode=mode, webhook_url="/_sim/sink")) as url:
        wechat = Bot(url)
        with Receiver(wechat.serve, "/wechat", **ENDPOINT) as receiver:
            target(url, receiver.url)
            verified = control(url, "/_sim/webhooks/verify", {"platform": "wechat"})
            assert verified["verified"] is True, verified
            assert verified["delivery"]["body"] == verified["challenge"]
            handshake = wechat.queries.pop(0)
            assert wechat.bodies.pop(0) == b""
            # echostr is plaintext and signed with ``signature`` in every mode (spec §1.2)
            assert handshake["echostr"] == verified["challenge"]
            assert "encrypt_type" not in handshake and "msg_signature" not in handshake
            every_kind(url, wechat)
        queries = wechat.queries
        if mode == "plaintext":
            assert all("encrypt_type" not in q for q in queries)
            assert all(b"<Encrypt>" not in b for b in wechat.bodies)
        else:
            assert all(q["encrypt_type"] == "aes" and q["msg_signature"] for q in queries)
            # compatible mode: the plaintext fields too; safe mode: only ToUserName + Encrypt
            assert all((b"<MsgType>" in b) == (mode == "compatible") for b in wechat.bodies)


def test_a_forged_signature_is_what_check_signature_refuses(sim: str, bot: Bot) -> None:
    customer(sim, text="hi")
    [q] = bot.queries
    check_signature(TOKEN, q["signature"], q["timestamp"], q["nonce"])
    with pytest.raises(InvalidSignatureException):
        check_signature("another-token", q["signature"], q["timestamp"], q["nonce"])
    with pytest.raises(InvalidSignatureException):  # the plain signature is not msg_signature
        bot.crypto.decrypt_message(bot.bodies[0], q["signature"], q["timestamp"], q["nonce"])
    with pytest.raises(InvalidAppIdException):
        WeChatCrypto(TOKEN, KEY, "wx0000000000000000").decrypt_message(
            bot.bodies[0], q["msg_signature"], q["timestamp"], q["nonce"]
        )


def test_passive_replies_land_in_the_outbox(sim: str, bot: Bot) -> None:
    client = SimClient(sim)
    picture = client.media.upload("image", io.BytesIO(b"\x89PNG a reply"))["media_id"]

    def answer(message: BaseMessage) -> Any:
        if isinstance(message, TextMessage):
            if message.content == "picture":
                return ImageReply(message=message, media_id=picture)
            if message.content == "news":
                articles = [
                    {"title": "One", "description": "1", "url": "https://e.test/1", "image": ""},
                    {"title": "Two", "description": "2", "url": "https://e.test/2", "image": ""},
                ]
                return ArticlesReply(message=message, articles=articles)
            return create_reply(f"You said: {message.content}", message)
        if isinstance(message, SubscribeEvent):
            return TextReply(message=message, content="欢迎!")
        return None

    bot.answer = answer
    customer(sim, text="hello")
    customer(sim, text="picture")
    customer(sim, text="news")  # 2 articles answering a user message: refused (spec §3.5)
    customer(sim, NEWCOMER, follow=True)
    customer(sim, text="again")
    sent = outbox(sim)
    assert [(m["type"], m["user"]) for m in sent] == [
        ("text", ADA),
        ("image", ADA),
        ("text", NEWCOMER),
        ("text", ADA),
    ]
    assert [sent[0]["text"], sent[2]["text"], sent[3]["text"]] == [
        "You said: hello",
        "欢迎!",
        "You said: again",
    ]
    assert sent[1]["raw"]["image"] == {"media_id": picture}
    replies = state(sim)["passive_replies"]
    assert replies["recorded"] == 4
    [refused] = replies["refused"]
    assert refused["openid"] == ADA and "2 articles" in refused["reason"]
    assert state(sim)["sent"]["custom"] == 0  # a passive reply is no customer-service send


def test_every_passive_reply_type_wechatpy_renders(sim: str, bot: Bot) -> None:
    """wechatpy's reply classes, each as it renders them (research §2.4: MusicReply puts
    ThumbMediaId first, VideoReply omits an unset Title), decoded by the simulator."""
    client = SimClient(sim)
    voice = client.media.upload("voice", io.BytesIO(b"#!AMR\n"))["media_id"]
    video = client.media.upload("video", io.BytesIO(b"\x00\x00\x00\x18ftypmp42"))["media_id"]
    thumb = client.media.upload("thumb", io.BytesIO(b"\xff\xd8"))["thumb_media_id"]
    client.menu.create(
        {
            "button": [
                {"type": "click", "name": "News", "key": "news"},
                {"type": "scancode_push", "name": "Scan", "key": "scan"},
                {"type": "scancode_waitmsg", "name": "Wait", "key": "wait"},
            ]
        }
    )
    articles = [
        {"title": f"T{i}", "description": "d", "url": f"https://e.test/{i}", "image": ""}
        for i in range(3)
    ]
    replies: dict[str, Any] = {
        "voice": lambda m: VoiceReply(message=m, media_id=voice),
        "video": lambda m: VideoReply(message=m, media_id=video, title="V", description="D"),
        "bare video": lambda m: VideoReply(message=m, media_id=video),
        "music": lambda m: MusicReply(
            message=m,
            thumb_media_id=thumb,
            title="M",
            music_url="https://e.test/m.mp3",
            hq_music_url="https://e.test/hq.mp3",
        ),
        "one article": lambda m: ArticlesReply(message=m, articles=articles[:1]),
        "transfer": lambda m: TransferCustomerServiceReply(message=m),
    }

    def answer(message: BaseMessage) -> Any:
        if isinstance(message, TextMessage):
            return replies[message.content](message)
        if isinstance(message, ClickEvent):  # not a user message: up to 8 articles (§3.5)
            return ArticlesReply(message=message, articles=articles)
        return None

    bot.answer = answer
    for word in replies:
        customer(sim, text=word)
    customer(sim, click="news")
    customer(sim, click="scan", scan_result="https://example.com/item/7")
    customer(sim, click="wait", scan_result="6901234567892")
    push, wait = bot.messages[-2:]
    assert isinstance(push, ScanCodePushEvent) and isinstance(wait, ScanCodeWaitMsgEvent)
    assert (push.key, push.scan_type, push.scan_result) == (
        "scan",
        "qrcode",
        "https://example.com/item/7",
    )
    assert wait.scan_result == "6901234567892"
    sent = outbox(sim)
    assert [m["type"] for m in sent] == ["voice", "video", "video", "music", "news", "news"]
    assert sent[0]["raw"]["voice"] == {"media_id": voice}
    assert sent[1]["raw"]["video"] == {"media_id": video, "title": "V", "description": "D"}
    assert sent[3]["raw"]["music"]["thumb_media_id"] == thumb
    assert sent[3]["raw"]["music"]["hqmusicurl"] == "https://e.test/hq.mp3"
    assert [len(m["raw"]["news"]["articles"]) for m in sent[4:]] == [1, 3]
    counted = state(sim)["passive_replies"]
    assert (counted["recorded"], counted["no_reply"], counted["refused"]) == (6, 3, [])


def test_cdata_ends_in_text_both_ways(sim: str, bot: Bot) -> None:
    """The simulator splits ``]]>`` across two CDATA sections in a push, and wechatpy's
    parser joins them back; wechatpy writes reply values into CDATA unescaped (research
    §2.4), so a reply holding ``]]>`` is broken XML, which the simulator refuses cleanly."""
    bot.answer = lambda m: create_reply(m.content, m) if isinstance(m, TextMessage) else None
    tricky = ["a]]>b", "<b>&amp; 'q' \"x\"", "line 1\nline 2"]
    for text in tricky:
        customer(sim, text=text)
    assert [m.content for m in bot.messages if isinstance(m, TextMessage)] == tricky
    assert [m["text"] for m in outbox(sim)] == tricky[1:]
    [refused] = state(sim)["passive_replies"]["refused"]
    assert "not well-formed" in refused["reason"]


@pytest.mark.parametrize(
    ("mode", "encrypt", "recorded"),
    [("compatible", False, True), ("compatible", True, True), ("safe", False, False)],
)
def test_compatible_mode_takes_either_reply_safe_mode_only_ciphertext(
    mode: str, encrypt: bool, recorded: bool
) -> None:
    with ServerThread(wechat_sim_config(mode=mode, webhook_url="/_sim/sink")) as url:
        wechat = Bot(url)
        wechat.encrypt = encrypt
        wechat.answer = lambda m: create_reply("ok", m)
        with Receiver(wechat.serve, "/wechat", **ENDPOINT) as receiver:
            target(url, receiver.url)
            customer(url, text="hi")
        replies = state(url)["passive_replies"]
        assert replies["recorded"] == int(recorded)
        if not recorded:
            assert "must be encrypted" in replies["refused"][0]["reason"]


def test_a_late_answer_gets_the_same_msgid_again(sim: str, bot: Bot) -> None:
    bot.slow = [6.0]  # the first answer takes 6 virtual seconds: too late (5 s, §3.4)
    bot.answer = lambda m: create_reply("sorry, slow", m) if isinstance(m, TextMessage) else None
    customer(sim, text="are you there?")
    first, again = bot.messages
    assert isinstance(first, TextMessage) and isinstance(again, TextMessage)
    assert (first.id, first.time) == (again.id, again.time)
    replies = state(sim)["passive_replies"]
    assert (replies["late"], replies["recorded"]) == (1, 1)
    assert [m["text"] for m in outbox(sim)] == ["sorry, slow"]  # once: the late one is dropped


def test_an_always_late_bot_gets_three_deliveries_then_service_unavailable(
    sim: str, bot: Bot
) -> None:
    bot.slow = [6.0, 6.0, 6.0]
    bot.answer = lambda m: create_reply("too late", m)
    customer(sim, text="hello?")
    assert len({m.id for m in bot.messages}) == 1 and len(bot.messages) == 3
    replies = state(sim)["passive_replies"]
    assert replies["late"] == 3
    assert [r["reason"] for r in replies["refused"]] == ["no answer within 5 s"]
    assert outbox(sim) == []


# --- the official vector (spec §2.4 A, research §3) --------------------------------------------

A_TOKEN = "spamtest"
A_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
A_APPID = "wx2c2769f8efd9abc2"
A_TIMESTAMP = "1409735669"
A_NONCE = "1320562132"
A_SIGNATURE = "5d197aaffba7e9b25a30732f161a50dee96bd5fa"
A_RANDOM = "89465c840c5f116f"
A_ENCRYPT = (
    "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PG"
    "HQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6"
    "tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp"
    "3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhv"
    "Ql+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE="
)
A_PLAIN = (
    "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>\n"
    "<FromUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></FromUserName>\n"
    "<CreateTime>1409735668</CreateTime>\n"
    "<MsgType><![CDATA[text]]></MsgType>\n"
    "<Content><![CDATA[abcdteT]]></Content>\n"
    "<MsgId>6054768590064713728</MsgId>\n"
    "</xml>"
)


def fixed_random(monkeypatch: pytest.MonkeyPatch, prefix: str) -> None:
    """wechatpy's random prefix made fixed (research §3: ``PrpCrypto.get_random_string``)."""
    monkeypatch.setattr(PrpCrypto, "get_random_string", lambda self: prefix)


def test_the_official_sample_vector_with_wechatpy(monkeypatch: pytest.MonkeyPatch) -> None:
    wx = WeChatCrypto(A_TOKEN, A_KEY, A_APPID)
    body = (
        "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>\n"
        f"<Encrypt><![CDATA[{A_ENCRYPT}]]></Encrypt>\n</xml>"
    )
    plain = wx.decrypt_message(body, A_SIGNATURE, A_TIMESTAMP, A_NONCE)
    assert plain == A_PLAIN
    message = parse_message(plain)
    assert isinstance(message, TextMessage)
    assert (message.id, message.content) == (6054768590064713728, "abcdteT")
    fixed_random(monkeypatch, A_RANDOM)
    encrypted = wx.encrypt_message(A_PLAIN, A_NONCE, A_TIMESTAMP)
    assert f"<Encrypt><![CDATA[{A_ENCRYPT}]]></Encrypt>" in encrypted
    assert f"<MsgSignature><![CDATA[{A_SIGNATURE}]]></MsgSignature>" in encrypted
    # The simulator's encryption (omnimsg's crypto, which it signs webhooks with) agrees.
    assert crypto.encrypt(A_KEY, A_APPID, A_PLAIN.encode(), A_RANDOM.encode()) == A_ENCRYPT
    assert crypto.msg_signature(A_TOKEN, A_TIMESTAMP, A_NONCE, A_ENCRYPT) == A_SIGNATURE


def test_a_simulator_webhook_is_what_wechatpy_would_encrypt(
    sim: str, bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The simulator's own safe-mode push, byte for byte: its random prefix read back with
    raw AES, then wechatpy encrypts the plaintext it decrypted with that prefix."""
    customer(sim, text="byte for byte")
    [q], [body], [plain] = bot.queries, bot.bodies, bot.plain
    encrypted = body.split(b"<Encrypt><![CDATA[")[1].split(b"]]>")[0].decode()
    key = base64.b64decode(KEY + "=")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    prefix = (decryptor.update(base64.b64decode(encrypted)) + decryptor.finalize())[:16]
    fixed_random(monkeypatch, prefix.decode("ascii"))
    again = bot.crypto.encrypt_message(plain, q["nonce"], q["timestamp"])
    assert f"<Encrypt><![CDATA[{encrypted}]]></Encrypt>" in again
    assert f"<MsgSignature><![CDATA[{q['msg_signature']}]]></MsgSignature>" in again
