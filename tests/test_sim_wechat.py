"""The simulated WeChat Official Account API over raw HTTP (spec/wechat.md).

Requests are written by hand, as wechatpy writes them (research §1.4: JSON with no
Content-Type, raw UTF-8), through the in-process simulator on the virtual clock. Webhooks go
to the built-in sink or to a mock app; their signatures are recomputed here with plain
``hashlib`` (no SDK), and safe-mode bodies opened with the SDK's crypto functions.
"""

from __future__ import annotations

import hashlib
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from omnimsg import ConfigurationError
from omnimsg.platforms.wechat import crypto
from omnimsg.testing import DEFAULT_WECHAT, wechat_channel, wechat_sim_config
from omnimsg_sim import InProcessSimulator, parse_config
from omnimsg_sim.platforms.wechat.errors import ERRMSG, wechat_error

ACCOUNT = DEFAULT_WECHAT["account_id"]
APP_ID = DEFAULT_WECHAT["app_id"]
SECRET = DEFAULT_WECHAT["app_secret"]
TOKEN = DEFAULT_WECHAT["token"]
KEY = DEFAULT_WECHAT["encoding_aes_key"]
ADA = DEFAULT_WECHAT["customers"][0]["openid"]
ALAN = DEFAULT_WECHAT["customers"][1]["openid"]
GRACE = DEFAULT_WECHAT["customers"][2]["openid"]  # unfollowed
KATHERINE = DEFAULT_WECHAT["customers"][3]["openid"]  # blocks template messages
STRANGER = "oStranger000000000000000000009"
TEMPLATE = DEFAULT_WECHAT["templates"][0]


def sha1_sorted(*parts: str) -> str:
    """WeChat's signature, recomputed independently: SHA-1 of the strings sorted, joined."""
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def xml_fields(body: bytes) -> dict[str, Any]:
    root = ET.fromstring(body)
    assert root.tag == "xml"
    return {child.tag: (child.text if not len(child) else child) for child in root}


class Sim:
    """An in-process simulator of one WeChat account; webhooks to the sink (or ``app``)."""

    def __init__(
        self, app: Callable[[httpx.Request], httpx.Response] | None = None, **overrides: Any
    ) -> None:
        overrides.setdefault("webhook_url", "/_sim/sink")
        self.config = wechat_sim_config(**overrides)
        transport = httpx.MockTransport(app) if app is not None else None
        self.sim = InProcessSimulator(self.config, webhook_transport=transport)
        self.http = httpx.Client(transport=self.sim.transport(), base_url=self.sim.base_url)
        self._token: str | None = None

    # --- control plane ---

    def control(self, method: str, path: str, body: Any = None) -> Any:
        return self.sim.control(method, path, body)

    def does(self, user: str = ADA, **action: Any) -> Any:
        spec = {"platform": "wechat", "user": user, **(action or {"text": "hi"})}
        answer = self.control("POST", "/_sim/inbound", spec)
        assert "error" not in answer, answer
        return answer

    def refused(self, user: str = ADA, **action: Any) -> str:
        spec = {"platform": "wechat", "user": user, **action}
        before = self.control("GET", "/_sim/state")
        answer = self.control("POST", "/_sim/inbound", spec)
        assert "error" in answer, answer
        assert self.control("GET", "/_sim/state") == before
        return str(answer["error"]["message"])

    def advance(self, seconds: float) -> list[dict[str, Any]]:
        return list(self.control("POST", "/_sim/clock/advance", {"seconds": seconds})["delivered"])

    def state(self) -> dict[str, Any]:
        return dict(self.control("GET", "/_sim/state")["wechat"][ACCOUNT])

    def outbox(self) -> list[dict[str, Any]]:
        return list(self.control("GET", "/_sim/outbox?platform=wechat")["messages"])

    def sink(self) -> list[dict[str, Any]]:
        return list(self.control("GET", "/_sim/sink")["requests"])

    # --- the API, as wechatpy calls it ---

    def token(self) -> str:
        if self._token is None:
            r = self.http.get(
                "/cgi-bin/token",
                params={"grant_type": "client_credential", "appid": APP_ID, "secret": SECRET},
            )
            self._token = str(r.json()["access_token"])
        return self._token

    def call(self, path: str, body: Any = None, *, method: str = "POST", **params: str) -> Any:
        params.setdefault("access_token", self.token())
        content = None if body is None else json.dumps(body, ensure_ascii=False).encode()
        r = self.http.request(method, path, params=params, content=content)  # no Content-Type
        assert r.status_code == 200, r.text
        return r.json()

    def send_text(self, to: str = ADA, text: str = "hello") -> Any:
        body = {"touser": to, "msgtype": "text", "text": {"content": text}}
        return self.call("/cgi-bin/message/custom/send", body)

    def upload(self, kind: str = "image", data: bytes = b"\x89PNG...") -> str:
        r = self.http.post(
            "/cgi-bin/media/upload",
            params={"access_token": self.token(), "type": kind},
            files={"media": ("pic.png", data)},
        )
        answer = r.json()
        assert answer["type"] == kind, answer
        return str(answer["thumb_media_id" if kind == "thumb" else "media_id"])

    def close(self) -> None:
        self.http.close()
        self.sim.close()


@pytest.fixture
def s() -> Iterator[Sim]:
    sim = Sim()
    yield sim
    sim.close()


def code(answer: Any) -> int:
    """The errcode of an answer, its errmsg checked for the rid suffix."""
    errcode = int(answer.get("errcode", 0))
    if errcode:
        assert " rid: " in answer["errmsg"], answer
        assert answer["errmsg"].startswith(ERRMSG.get(errcode, "").split("{")[0][:10]), answer
    return errcode


# --- config ------------------------------------------------------------------------------


def test_config_defaults_and_field_paths() -> None:
    config = wechat_sim_config()
    a = config.wechat[0]
    assert (a.cs_message_window, a.cs_message_count, a.cs_event_window, a.cs_event_count) == (
        172_800.0,
        5,
        60.0,
        3,
    )
    assert (a.reply_timeout, a.deliveries, a.token_ttl, a.token_grace) == (5.0, 3, 7200, 300)
    assert "sim-wechat" not in repr(a)  # secrets hidden
    assert config.describe() == "1 WeChat account(s)"
    bad: list[tuple[dict[str, Any], str]] = [
        ({"account_id": "wx123"}, "wechat[0].account_id"),
        ({"app_id": "gh_1"}, "wechat[0].app_id"),
        ({"encoding_aes_key": "short"}, "wechat[0].encoding_aes_key"),
        ({"mode": "safe", "encoding_aes_key": None}, "wechat[0].encoding_aes_key"),
        ({"mode": "loud"}, "wechat[0].mode"),
        ({"deliveries": 0}, "wechat[0].deliveries"),
        ({"customers": [{"openid": "bad id!"}]}, "wechat[0].customers[0].openid"),
        ({"customers": [{"openid": "o1"}, {"openid": "o1"}]}, "share an openid"),
        ({"ip_whitelist": [1]}, "wechat[0].ip_whitelist[0]"),
        ({"bogus": 1}, "unknown field(s) bogus"),
    ]
    for override, where in bad:
        raw = {**DEFAULT_WECHAT, **override}
        raw = {k: v for k, v in raw.items() if v is not None}
        with pytest.raises(ConfigurationError) as caught:
            parse_config({"wechat": [raw]})
        assert where in str(caught.value), (where, str(caught.value))


def test_wechat_error_is_http_200_with_a_rid() -> None:
    r = wechat_error(45015)
    assert r.status == 200
    body = json.loads(r.body)
    assert body["errcode"] == 45015
    assert body["errmsg"].startswith("response out of time limit or subscription is canceled rid: ")
    assert json.loads(wechat_error(40001, rid="abc").body)["errmsg"].endswith(" rid: abc")


def test_the_channel_helper_matches_the_account() -> None:
    config = wechat_sim_config()
    channel = wechat_channel(config, "http://sim.test")
    assert channel.account == ACCOUNT
    assert channel.platform == "wechat"


# --- access tokens and auth --------------------------------------------------------------


def test_tokens_expire_and_a_replaced_one_has_its_grace(s: Sim) -> None:
    first = s.token()
    assert code(s.send_text(STRANGER)) == 40003  # authenticated: the openid is what is wrong
    assert code(s.call("/cgi-bin/message/custom/send", {}, access_token="")) == 41001
    assert code(s.call("/cgi-bin/message/custom/send", {}, access_token="x!")) == 40014
    assert code(s.call("/cgi-bin/message/custom/send", {}, access_token="A" * 40)) == 40001
    s._token = None
    second = s.token()
    assert second != first
    body = {"touser": STRANGER, "msgtype": "text", "text": {"content": "x"}}
    assert code(s.call("/cgi-bin/message/custom/send", body, access_token=first)) == 40003
    s.advance(301)
    assert code(s.call("/cgi-bin/message/custom/send", body, access_token=first)) == 40001
    assert code(s.call("/cgi-bin/message/custom/send", body, access_token=second)) == 40003
    s.advance(7200)
    assert code(s.call("/cgi-bin/message/custom/send", body, access_token=second)) == 42001
    tokens = s.state()["tokens"]
    assert first not in json.dumps(tokens) and second not in json.dumps(tokens)


def test_the_ip_whitelist(s: Sim) -> None:
    s.close()
    sim = Sim(ip_whitelist=["10.0.0.1"])
    r = sim.http.get(
        "/cgi-bin/token",
        params={"grant_type": "client_credential", "appid": APP_ID, "secret": SECRET},
        headers={"x-forwarded-for": "10.0.0.1"},
    )
    token = r.json()["access_token"]
    r = sim.http.post(
        "/cgi-bin/message/custom/send",
        params={"access_token": token},
        content=b"{}",
        headers={"x-forwarded-for": "10.9.9.9"},
    )
    assert r.status_code == 200
    assert r.json()["errcode"] == 40164
    assert "invalid ip 10.9.9.9" in r.json()["errmsg"]
    sim.close()


def test_bodies_are_json_whatever_the_content_type(s: Sim) -> None:
    s.does(text="hi")
    r = s.http.post(
        "/cgi-bin/message/custom/send",
        params={"access_token": s.token()},
        content=json.dumps(
            {"touser": ADA, "msgtype": "text", "text": {"content": "你好"}}, ensure_ascii=False
        ).encode(),
        headers={"content-type": "text/plain"},
    )
    assert r.json() == {"errcode": 0, "errmsg": "ok"}
    assert s.outbox()[-1]["text"] == "你好"
    assert code(s.call("/cgi-bin/message/custom/send", None)) == 44002
    r = s.http.post(
        "/cgi-bin/message/custom/send", params={"access_token": s.token()}, content=b"{"
    )
    assert code(r.json()) == 47001


# --- the customer-service window -----------------------------------------------------------


def test_a_message_opens_five_sends_for_48_hours(s: Sim) -> None:
    assert code(s.send_text()) == 45015  # no interaction yet
    s.does(text="where is my order?")
    for i in range(5):
        assert code(s.send_text(text=f"reply {i}")) == 0
    assert code(s.send_text()) == 45047
    window = s.state()["windows"][ADA][0]
    assert (window["kind"], window["remaining"]) == ("message", 0)
    s.does(text="again")  # a new message renews the window
    assert code(s.send_text()) == 0
    s.advance(48 * 3600 + 1)
    s._token = None  # the old one expired long ago (42001)
    assert code(s.send_text()) == 45015
    assert [m["text"] for m in s.outbox()][:2] == ["reply 0", "reply 1"]


def test_events_open_three_sends_for_one_minute(s: Sim) -> None:
    s.does(user=GRACE, follow=True)
    for _ in range(3):
        assert code(s.send_text(GRACE)) == 0
    assert code(s.send_text(GRACE)) == 45047
    s.does(user=ALAN, report_location={"latitude": 1, "longitude": 2})  # opens nothing
    assert code(s.send_text(ALAN)) == 45015
    s.advance(61)
    s.does(user=GRACE, unfollow=True)
    assert code(s.send_text(GRACE)) == 43004
    assert code(s.send_text(STRANGER)) == 40003


def test_custom_send_validation(s: Sim) -> None:
    s.does(text="hi")

    def send(body: dict[str, Any]) -> int:
        return code(s.call("/cgi-bin/message/custom/send", {"touser": ADA, **body}))

    assert send({"msgtype": "text", "text": {"content": ""}}) == 44004
    assert send({"msgtype": "text", "text": {"content": "字" * 683}}) == 45002  # 2049 bytes
    assert send({"msgtype": "beep", "beep": {}}) == 40008
    assert send({"msgtype": "image", "image": {"media_id": "nope"}}) == 40007
    article = {"title": "t", "description": "d", "url": "https://x.test", "picurl": ""}
    assert send({"msgtype": "news", "news": {"articles": [article, article]}}) == 45008
    assert send({"msgtype": "msgmenu", "msgmenu": {"list": []}}) == 47001
    assert s.state()["windows"][ADA][0]["remaining"] == 5  # refusals spend nothing
    menu = {"head_content": "Rate us", "list": [{"id": "1", "content": "Good"}], "tail_content": ""}
    assert send({"msgtype": "msgmenu", "msgmenu": menu}) == 0
    assert send({"msgtype": "news", "news": {"articles": [article]}}) == 0
    media = s.upload("image")
    assert send({"msgtype": "image", "image": {"media_id": media}}) == 0
    assert [m["type"] for m in s.outbox()] == ["msgmenu", "news", "image"]
    assert s.outbox()[0]["text"] == "Rate us / Good"


def test_typing(s: Sim) -> None:

    def typing(command: str) -> int:
        return code(s.call("/cgi-bin/message/custom/typing", {"touser": ADA, "command": command}))

    assert typing("Typing") == 45080
    s.does(text="hi")
    assert typing("Dancing") == 45072
    assert typing("Typing") == 0
    assert typing("Typing") == 45081
    assert typing("CancelTyping") == 0
    assert typing("Typing") == 0
    s.advance(31)
    assert typing("Typing") == 45080


# --- media ---------------------------------------------------------------------------------


def test_media_upload_get_and_expiry(s: Sim) -> None:
    media = s.upload("image", b"picture-bytes")
    r = s.http.get("/cgi-bin/media/get", params={"access_token": s.token(), "media_id": media})
    assert r.content == b"picture-bytes"
    thumb = s.upload("thumb", b"t")
    assert thumb
    r = s.http.post(
        "/cgi-bin/media/upload",
        params={"access_token": s.token(), "type": "thumb"},
        files={"media": ("t.jpg", b"x" * (64 * 1024 + 1))},
    )
    assert code(r.json()) == 45001
    r = s.http.post(
        "/cgi-bin/media/upload",
        params={"access_token": s.token(), "type": "gif"},
        files={"media": ("t.gif", b"x")},
    )
    assert code(r.json()) == 40004
    s.does(text="hi")
    s.advance(3 * 86_400)
    s._token = None
    s.does(text="hi")
    body = {"touser": ADA, "msgtype": "image", "image": {"media_id": media}}
    assert code(s.call("/cgi-bin/message/custom/send", body)) == 40007
    r = s.http.get("/cgi-bin/media/get", params={"access_token": s.token(), "media_id": media})
    assert code(r.json()) == 40007


# --- template and subscribe messages ---------------------------------------------------------


def test_template_send_then_job_finished(s: Sim) -> None:
    data = {"keyword1": {"value": "A-100"}, "keyword2": {"value": "shipped"}}
    body = {"touser": ADA, "template_id": TEMPLATE, "data": data, "client_msg_id": "order-1"}
    first = s.call("/cgi-bin/message/template/send", body)
    assert code(first) == 0 and isinstance(first["msgid"], int)
    again = s.call("/cgi-bin/message/template/send", body)
    assert again["msgid"] == first["msgid"]
    assert len(s.outbox()) == 1 and s.outbox()[0]["text"] == "A-100 shipped"
    assert code(s.call("/cgi-bin/message/template/send", {**body, "template_id": "x"})) == 40037
    assert code(s.call("/cgi-bin/message/template/send", {**body, "touser": GRACE})) == 43004
    blocked = s.call(
        "/cgi-bin/message/template/send",
        {"touser": KATHERINE, "template_id": TEMPLATE, "data": data},
    )
    assert code(blocked) == 0
    assert s.sink() == []
    s.advance(1)
    finished = [xml_fields(r["body"].encode()) for r in s.sink()]
    # Safe mode: only ToUserName and Encrypt; open them with the SDK's crypto.
    events = [xml_fields(crypto.decrypt(KEY, APP_ID, str(f["Encrypt"]))) for f in finished]
    assert [(e["Event"], e["MsgID"], e["Status"]) for e in events] == [
        ("TEMPLATESENDJOBFINISH", str(first["msgid"]), "success"),
        ("TEMPLATESENDJOBFINISH", str(blocked["msgid"]), "failed:user block"),
    ]


def test_subscribe_messages_need_a_consent_each(s: Sim) -> None:
    body = {"touser": ADA, "template_id": "sub-tpl", "data": {"thing1": {"value": "Ready"}}}
    assert code(s.call("/cgi-bin/message/subscribe/bizsend", body)) == 43101
    s.does(consent="sub-tpl")
    assert code(s.call("/cgi-bin/message/subscribe/bizsend", body)) == 0
    assert code(s.call("/cgi-bin/message/subscribe/bizsend", body)) == 43101
    event = xml_fields(
        crypto.decrypt(KEY, APP_ID, str(xml_fields(s.sink()[0]["body"].encode())["Encrypt"]))
    )
    assert event["Event"] == "subscribe_msg_popup_event"


# --- webhooks in the three modes -------------------------------------------------------------


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@pytest.mark.parametrize("mode", ["plaintext", "compatible", "safe"])
def test_webhooks_are_signed_and_encrypted_as_wechat_does(mode: str) -> None:
    sim = Sim(mode=mode)
    try:
        answer = sim.does(text="你好")
        request = sim.sink()[0]
        q = _query(request["url"])
        assert q["signature"] == sha1_sorted(TOKEN, q["timestamp"], q["nonce"])
        assert q["signature"] == crypto.signature(TOKEN, q["timestamp"], q["nonce"])
        assert q["openid"] == ADA
        fields = xml_fields(request["body"].encode())
        if mode == "plaintext":
            assert "encrypt_type" not in q and "Encrypt" not in fields
            inner = fields
        else:
            assert q["encrypt_type"] == "aes"
            encrypted = str(fields["Encrypt"])
            assert q["msg_signature"] == sha1_sorted(TOKEN, q["timestamp"], q["nonce"], encrypted)
            inner = xml_fields(crypto.decrypt(KEY, APP_ID, encrypted))
            if mode == "safe":
                assert set(fields) == {"ToUserName", "Encrypt"}
            else:
                assert fields["Content"] == "你好"  # the plaintext fields beside Encrypt
        assert inner["ToUserName"] == ACCOUNT and inner["FromUserName"] == ADA
        assert (inner["MsgType"], inner["Content"]) == ("text", "你好")
        assert inner["MsgId"] == answer["message_id"]
        assert request["headers"]["content-type"] == "text/xml"
    finally:
        sim.close()


def test_every_message_kind_has_its_fields() -> None:
    sim = Sim(mode="plaintext")
    try:
        sim.does(image={})
        sim.does(voice={"format": "amr", "recognition": "你好"})
        sim.does(video={})
        sim.does(shortvideo={})
        sim.does(location={"latitude": 23.1, "longitude": 113.3, "scale": 20, "label": "Canton"})
        sim.does(link={"title": "T", "description": "D", "url": "https://x.test"})
        sim.does(text="Good", bizmsgmenuid="101")
        sim.does(report_location={"latitude": 1, "longitude": 2, "precision": 65})
        got = [xml_fields(r["body"].encode()) for r in sim.sink()]
        assert {"PicUrl", "MediaId", "MsgId"} <= set(got[0])
        assert (got[1]["Format"], got[1]["Recognition"]) == ("amr", "你好")
        assert {"MediaId", "ThumbMediaId"} <= set(got[2]) and got[3]["MsgType"] == "shortvideo"
        assert (got[4]["Location_X"], got[4]["Scale"], got[4]["Label"]) == (
            "23.100000",
            "20",
            "Canton",
        )
        assert (got[5]["Title"], got[5]["Url"]) == ("T", "https://x.test")
        assert got[6]["bizmsgmenuid"] == "101"
        assert (got[7]["Event"], got[7]["Precision"]) == ("LOCATION", "65.000000")
        # A customer's media can be fetched.
        media = str(got[0]["MediaId"])
        r = sim.http.get(
            "/cgi-bin/media/get", params={"access_token": sim.token(), "media_id": media}
        )
        assert r.status_code == 200 and not r.headers["content-type"].startswith("application/json")
    finally:
        sim.close()


def test_the_echostr_handshake(s: Sim) -> None:
    answer = s.control(
        "POST", "/_sim/webhooks/verify", {"platform": "wechat", "challenge": "4375120948345356249"}
    )
    assert answer["verified"] is True
    q = _query(s.sink()[0]["url"])
    assert q["echostr"] == "4375120948345356249"
    assert q["signature"] == sha1_sorted(TOKEN, q["timestamp"], q["nonce"])
    assert s.sink()[0]["method"] == "GET"


# --- QR codes and menus ----------------------------------------------------------------------


def test_qr_scans_subscribe_new_followers_and_scan_for_followers(s: Sim) -> None:
    s.close()
    sim = Sim(mode="plaintext")
    try:
        made = sim.call(
            "/cgi-bin/qrcode/create",
            {
                "expire_seconds": 600,
                "action_name": "QR_STR_SCENE",
                "action_info": {"scene": {"scene_str": "shop-7"}},
            },
        )
        ticket = made["ticket"]
        sim.does(user=GRACE, scan=ticket)
        sim.does(user=ADA, scan=ticket)
        got = [xml_fields(r["body"].encode()) for r in sim.sink()]
        assert (got[0]["Event"], got[0]["EventKey"], got[0]["Ticket"]) == (
            "subscribe",
            "qrscene_shop-7",
            ticket,
        )
        assert (got[1]["Event"], got[1]["EventKey"]) == ("SCAN", "shop-7")
        assert GRACE in sim.state()["followers"]
        assert code(sim.send_text(GRACE)) == 0  # the scan opened a window
        assert "no such QR code" in sim.refused(user=ALAN, scan="nope")
        sim.advance(601)
        assert "no such QR code" in sim.refused(user=ALAN, scan=ticket)
    finally:
        sim.close()


def test_menu_clicks_and_views(s: Sim) -> None:
    s.close()
    sim = Sim(mode="plaintext")
    try:
        assert "no click" in sim.refused(click="faq")
        menu = {
            "button": [
                {"type": "click", "name": "FAQ", "key": "faq"},
                {"type": "view", "name": "Shop", "url": "https://shop.test/"},
                {"type": "scancode_push", "name": "Scan", "key": "scan"},
            ]
        }
        assert code(sim.call("/cgi-bin/menu/create", menu)) == 0
        sim.does(click="faq")
        sim.does(view="https://shop.test/")
        sim.does(click="scan", scan_result="hello")
        got = [xml_fields(r["body"].encode()) for r in sim.sink()]
        assert [(g["Event"], g["EventKey"]) for g in got] == [
            ("CLICK", "faq"),
            ("VIEW", "https://shop.test/"),
            ("scancode_push", "scan"),
        ]
        assert got[2]["ScanCodeInfo"].find("ScanResult").text == "hello"
        assert "no view button" in sim.refused(view="https://elsewhere.test/")
        assert code(sim.send_text(ALAN)) == 45015  # Alan clicked nothing
    finally:
        sim.close()


def test_inbound_refusals_change_nothing(s: Sim) -> None:
    assert "follow first" in s.refused(user=GRACE, text="hi")
    assert "already follows" in s.refused(follow=True)
    assert "does not follow" in s.refused(user=GRACE, unfollow=True)
    assert "exactly one" in s.refused()
    assert "one action" in s.refused(text="a", follow=True)
    assert "OpenID" in s.refused(user="bad id", text="hi")
    assert "bizmsgmenuid" in s.refused(follow=True, bizmsgmenuid="1")


# --- the answer: the 5 s timeout, passive replies --------------------------------------------


class App:
    """A mock app: answers each webhook with ``reply(request)``, optionally after moving
    the simulator's clock (a slow handler on the virtual clock)."""

    def __init__(self) -> None:
        self.sim: Sim | None = None
        self.requests: list[httpx.Request] = []
        self.slow: list[float] = []  # seconds each next answer takes
        self.reply: Callable[[httpx.Request], bytes] = lambda r: b"success"

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.slow:
            assert self.sim is not None
            self.sim.sim.core.world.clock.advance(self.slow.pop(0))
        return httpx.Response(200, content=self.reply(request))


def app_sim(**overrides: Any) -> tuple[Sim, App]:
    app = App()
    sim = Sim(app, webhook_url="http://app.test/wechat", **overrides)
    app.sim = sim
    return sim, app


def reply_xml(to: str, content: str, *, kind: str = "text") -> bytes:
    """A text reply as wechatpy renders it (research §2.4: MsgType first, newlines)."""
    return (
        "<xml>\n"
        f"<MsgType><![CDATA[{kind}]]></MsgType>\n"
        f"<Content><![CDATA[{content}]]></Content>\n"
        f"<FromUserName><![CDATA[{ACCOUNT}]]></FromUserName>\n"
        f"<ToUserName><![CDATA[{to}]]></ToUserName>\n"
        "<CreateTime>1409735669</CreateTime>\n"
        "</xml>"
    ).encode()


def encrypted_reply(
    plain: bytes, *, nonce: str = "1320562132", timestamp: str = "1409735669", token: str = TOKEN
) -> bytes:
    """wechatpy's ``encrypt_message`` output, exactly (research §2.3)."""
    encrypted = crypto.encrypt(KEY, APP_ID, plain, b"0123456789abcdef")
    signature = crypto.msg_signature(token, timestamp, nonce, encrypted)
    return (
        "<xml>\n"
        f"<Encrypt><![CDATA[{encrypted}]]></Encrypt>\n"
        f"<MsgSignature><![CDATA[{signature}]]></MsgSignature>\n"
        f"<TimeStamp>{timestamp}</TimeStamp>\n"
        f"<Nonce><![CDATA[{nonce}]]></Nonce>\n"
        "</xml>"
    ).encode()


def test_a_late_answer_is_retried_with_the_same_msgid() -> None:
    sim, app = app_sim(mode="plaintext")
    try:
        app.slow = [6.0, 6.0]
        app.reply = lambda r: reply_xml(ADA, "too late")
        sim.does(text="hi")
        assert len(app.requests) == 3  # 1 + 2 retries, the last one in time
        bodies = [xml_fields(r.content) for r in app.requests]
        assert len({b["MsgId"] for b in bodies}) == 1
        assert len({b["CreateTime"] for b in bodies}) == 1
        replies = sim.state()["passive_replies"]
        assert (replies["late"], replies["recorded"]) == (2, 1)
        assert [m["text"] for m in sim.outbox()] == ["too late"]
        log = sim.control("GET", "/_sim/webhooks")["deliveries"]
        assert [d["attempt"] for d in log] == [1, 2, 3]
    finally:
        sim.close()


def test_always_late_is_service_unavailable_after_the_last_attempt() -> None:
    sim, app = app_sim(mode="plaintext", deliveries=2)
    try:
        app.slow = [6.0, 6.0]
        sim.does(text="hi")
        assert len(app.requests) == 2
        refused = sim.state()["passive_replies"]["refused"]
        assert [r["reason"] for r in refused] == ["no answer within 5 s"]
    finally:
        sim.close()


@pytest.mark.parametrize("answer", [b"success", b"", b"  "])
def test_success_or_empty_means_no_reply_and_no_retry(answer: bytes) -> None:
    sim, app = app_sim()
    try:
        app.reply = lambda r: answer
        sim.does(text="hi")
        sim.advance(60)
        assert len(app.requests) == 1
        assert sim.outbox() == []
        assert sim.state()["passive_replies"]["no_reply"] == 1
    finally:
        sim.close()


def test_a_plain_passive_reply_is_recorded_without_a_window() -> None:
    sim, app = app_sim(mode="plaintext")
    try:
        app.reply = lambda r: reply_xml(ALAN, "hello from the reply")
        sim.does(user=ALAN, text="hi")
        [entry] = sim.outbox()
        assert (entry["user"], entry["type"], entry["text"]) == (
            ALAN,
            "text",
            "hello from the reply",
        )
        assert entry["raw"]["text"]["content"] == "hello from the reply"
        assert sim.state()["windows"][ALAN][0]["remaining"] == 5  # no window spent
    finally:
        sim.close()


@pytest.mark.parametrize("mode", ["safe", "compatible"])
def test_an_encrypted_passive_reply_is_decrypted_and_recorded(mode: str) -> None:
    sim, app = app_sim(mode=mode)
    try:
        app.reply = lambda r: encrypted_reply(reply_xml(ADA, "加密回复"))
        sim.does(text="hi")
        assert [m["text"] for m in sim.outbox()] == ["加密回复"]
    finally:
        sim.close()


def test_passive_reply_media_and_news() -> None:
    sim, app = app_sim(mode="plaintext")
    try:
        media = sim.upload("image")
        app.reply = lambda r: (
            f"<xml><ToUserName><![CDATA[{ADA}]]></ToUserName><FromUserName><![CDATA[{ACCOUNT}]]></FromUserName>"
            "<CreateTime>1</CreateTime><MsgType><![CDATA[image]]></MsgType>"
            f"<Image>\n        <MediaId><![CDATA[{media}]]></MediaId>\n        </Image></xml>"
        ).encode()
        sim.does(text="hi")
        news = (
            f"<xml><ToUserName><![CDATA[{ADA}]]></ToUserName><FromUserName><![CDATA[{ACCOUNT}]]></FromUserName>"
            "<CreateTime>1</CreateTime><MsgType><![CDATA[news]]></MsgType><ArticleCount>1</ArticleCount>"
            "<Articles><item><Title><![CDATA[Guide]]></Title><Description><![CDATA[d]]></Description>"
            "<PicUrl><![CDATA[]]></PicUrl><Url><![CDATA[https://x.test]]></Url></item></Articles></xml>"
        )
        app.reply = lambda r: news.encode()
        sim.does(text="hi")
        assert [(m["type"], m["text"]) for m in sim.outbox()] == [
            ("image", "[image]"),
            ("news", "Guide"),
        ]
    finally:
        sim.close()


INVALID = [
    ("not xml", lambda: b'{"reply": "json"}'),
    ("empty text", lambda: reply_xml(ADA, "")),
    ("wrong user", lambda: reply_xml(ALAN, "hi")),
    ("bad type", lambda: reply_xml(ADA, "hi", kind="sticker")),
    ("entities", lambda: b'<!DOCTYPE x [<!ENTITY a "b">]><xml><Content>&a;</Content></xml>'),
    (
        "two articles",
        lambda: (
            f"<xml><ToUserName><![CDATA[{ADA}]]></ToUserName><FromUserName><![CDATA[{ACCOUNT}]]></FromUserName>"
            "<CreateTime>1</CreateTime><MsgType><![CDATA[news]]></MsgType><ArticleCount>2</ArticleCount>"
            "<Articles><item><Title>a</Title></item><item><Title>b</Title></item></Articles></xml>"
        ).encode(),
    ),
    (
        "unknown media",
        lambda: (
            f"<xml><ToUserName>{ADA}</ToUserName><FromUserName>{ACCOUNT}</FromUserName><CreateTime>1</CreateTime>"
            "<MsgType>voice</MsgType><Voice><MediaId>nope</MediaId></Voice></xml>"
        ).encode(),
    ),
]


@pytest.mark.parametrize(("why", "make"), INVALID, ids=[i for i, _ in INVALID])
def test_invalid_passive_replies_are_refused(why: str, make: Callable[[], bytes]) -> None:
    sim, app = app_sim(mode="plaintext")
    try:
        app.reply = lambda r: make()
        sim.does(text="hi")
        assert sim.outbox() == []
        [refusal] = sim.state()["passive_replies"]["refused"]
        assert refusal["openid"] == ADA and refusal["reason"]
        assert len(app.requests) == 1  # answered in time: not retried
    finally:
        sim.close()


def test_safe_mode_refuses_plain_and_wrongly_signed_replies() -> None:
    sim, app = app_sim(mode="safe")
    try:
        app.reply = lambda r: reply_xml(ADA, "plain")
        sim.does(text="hi")
        app.reply = lambda r: encrypted_reply(reply_xml(ADA, "forged"), token="wrong-token")
        sim.does(text="hi")
        reasons = [r["reason"] for r in sim.state()["passive_replies"]["refused"]]
        assert reasons == ["safe mode: the reply must be encrypted", "MsgSignature does not match"]
        assert sim.outbox() == []
    finally:
        sim.close()


def test_news_of_two_articles_may_answer_an_event() -> None:
    sim, app = app_sim(mode="plaintext")
    try:
        two = (
            f"<xml><ToUserName>{GRACE}</ToUserName><FromUserName>{ACCOUNT}</FromUserName><CreateTime>1</CreateTime>"
            "<MsgType>news</MsgType><ArticleCount>2</ArticleCount>"
            "<Articles><item><Title>a</Title></item><item><Title>b</Title></item></Articles></xml>"
        ).encode()
        app.reply = lambda r: two
        sim.does(user=GRACE, follow=True)
        assert [m["text"] for m in sim.outbox()] == ["a"]
    finally:
        sim.close()
