"""Hostile input on every WeChat POST route: HTTP 200 with an errcode (or a 4xx), never a
500, and no state change.

The classes of DESIGN §6, as the other platforms' route fuzzes try them: JSON nested 1,000
deep, non-finite numbers, lone surrogates, junk in queries and multipart bodies, regex
metacharacters in user text; then a bounded hypothesis fuzz mixing them into valid bodies.
A WeChat route answers a refusal as HTTP 200 ``{"errcode", "errmsg"}`` (``/_sim`` in its
own 4xx ``{"error": {"message"}}``) and leaves the simulator as it was: the state of every
platform, the outbox, the webhook log and the sink.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hostile import (
    ALPHABET,
    DEEP,
    DEEP_IDS,
    LITERALS,
    LONE_SURROGATES,
    NON_FINITE,
    hostile_json,
    raw_json,
    spoiled,
    views,
)
from omnimsg.testing import DEFAULT_WECHAT
from omnimsg_sim import InProcessSimulator, SimConfig, SimCore, parse_config

ACCOUNT = DEFAULT_WECHAT["account_id"]
APP_ID = DEFAULT_WECHAT["app_id"]
SECRET = DEFAULT_WECHAT["app_secret"]
ADA = DEFAULT_WECHAT["customers"][0]["openid"]
TEMPLATE = DEFAULT_WECHAT["templates"][0]


class Sim:
    def __init__(self) -> None:
        self.sim = InProcessSimulator(config())
        self.http = httpx.Client(transport=self.sim.transport(), base_url=self.sim.base_url)
        r = self.http.get(
            "/cgi-bin/token",
            params={"grant_type": "client_credential", "appid": APP_ID, "secret": SECRET},
        )
        self.token = str(r.json()["access_token"])
        # Some state a wrong change would show: a window, a send, a menu, a QR code.
        self.sim.control("POST", "/_sim/inbound", {"platform": "wechat", "user": ADA, "text": "hi"})
        for path, body in (
            ("/cgi-bin/message/custom/send", TEXT),
            ("/cgi-bin/menu/create", MENU),
            ("/cgi-bin/qrcode/create", QR),
        ):
            assert self.post(path, json.dumps(body).encode()).json().get("errcode", 0) == 0

    def post(self, path: str, content: bytes, **headers: str) -> httpx.Response:
        params = {} if path.startswith("/_sim") else {"access_token": self.token}
        return self.http.post(path, params=params, content=content, headers=headers)

    def state(self) -> list[Any]:
        return views(self.http)

    def close(self) -> None:
        self.http.close()
        self.sim.close()


def config() -> SimConfig:
    return parse_config(
        {
            "sim": {"seed": 1, "start": "2026-03-02T09:00:00Z"},
            "wechat": [{**DEFAULT_WECHAT, "webhook_url": "/_sim/sink"}],
        }
    )


@pytest.fixture
def sim() -> Iterator[Sim]:
    made = Sim()
    yield made
    made.close()


def check(r: httpx.Response, path: str) -> bool:
    """Below 500; ``True`` if it was a refusal (a 4xx, or 200 with a non-zero errcode)."""
    assert r.status_code < 500, (path, r.status_code, r.text)
    if path.startswith("/_sim"):
        if r.status_code >= 400:
            assert isinstance(r.json()["error"]["message"], str)
            return True
        return False
    assert r.status_code == 200, (path, r.status_code, r.text)
    body = r.json()
    errcode = body.get("errcode", 0)
    if errcode:
        assert isinstance(errcode, int) and " rid: " in body["errmsg"], body
        return True
    return False


def refused(sim: Sim, path: str, content: bytes, **headers: str) -> httpx.Response:
    before = sim.state()
    r = sim.post(path, content, **headers)
    assert check(r, path), (path, r.text)
    assert sim.state() == before, (path, r.text)
    return r


def survives(sim: Sim, path: str, content: bytes, **headers: str) -> httpx.Response:
    before = sim.state()
    r = sim.post(path, content, **headers)
    if check(r, path):
        assert sim.state() == before, (path, r.text)
    return r


TEXT = {"touser": ADA, "msgtype": "text", "text": {"content": "hello"}}
MENU = {"button": [{"type": "click", "name": "FAQ", "key": "faq"}]}
QR = {"action_name": "QR_LIMIT_STR_SCENE", "action_info": {"scene": {"scene_str": "shop"}}}
WECHAT_ROUTES: list[tuple[str, dict[str, Any]]] = [
    ("/cgi-bin/message/custom/send", TEXT),
    (
        "/cgi-bin/message/custom/send",
        {"touser": ADA, "msgtype": "msgmenu", "msgmenu": {"list": [{"id": "1", "content": "y"}]}},
    ),
    ("/cgi-bin/message/custom/typing", {"touser": ADA, "command": "Typing"}),
    (
        "/cgi-bin/message/template/send",
        {
            "touser": ADA,
            "template_id": TEMPLATE,
            "data": {"k": {"value": "v"}},
            "client_msg_id": "c",
        },
    ),
    ("/cgi-bin/message/subscribe/bizsend", {"touser": ADA, "template_id": "t", "data": {}}),
    (
        "/cgi-bin/qrcode/create",
        {
            "expire_seconds": 60,
            "action_name": "QR_SCENE",
            "action_info": {"scene": {"scene_id": 1}},
        },
    ),
    ("/cgi-bin/menu/create", MENU),
    ("/cgi-bin/tags/create", {"tag": {"name": "vip"}}),
    ("/cgi-bin/tags/members/batchtagging", {"openid_list": [ADA], "tagid": 2}),
    ("/cgi-bin/user/info/batchget", {"user_list": [{"openid": ADA}]}),
    (
        "/cgi-bin/stable_token",
        {
            "grant_type": "client_credential",
            "appid": APP_ID,
            "secret": SECRET,
            "force_refresh": False,
        },
    ),
]
SIM_ROUTES: list[tuple[str, dict[str, Any]]] = [
    ("/_sim/inbound", {"platform": "wechat", "user": ADA, "text": "hi"}),
    ("/_sim/inbound", {"platform": "wechat", "user": ADA, "click": "faq"}),
    ("/_sim/webhooks/target", {"platform": "wechat", "url": "/_sim/sink"}),
    ("/_sim/webhooks/verify", {"platform": "wechat"}),
]
JSON_ROUTES = WECHAT_ROUTES + SIM_ROUTES
IDS = [f"{p}:{sorted(b)[0]}" for p, b in JSON_ROUTES]


def test_wechat_has_no_control_operations_of_its_own() -> None:
    wechat = SimCore(config()).platforms["wechat"]
    assert wechat.operations == ()  # customer actions are /_sim/inbound: fuzzed here


@pytest.mark.parametrize("deep", DEEP, ids=DEEP_IDS)
@pytest.mark.parametrize(("path", "body"), JSON_ROUTES, ids=IDS)
def test_deep_json_is_refused(sim: Sim, path: str, body: dict[str, Any], deep: str) -> None:
    refused(sim, path, deep.encode())
    refused(sim, path, raw_json({**body, "extra": "__HOSTILE__"}, deep))


@pytest.mark.parametrize("number", NON_FINITE)
@pytest.mark.parametrize(("path", "body"), JSON_ROUTES, ids=IDS)
def test_non_finite_numbers_are_refused(
    sim: Sim, path: str, body: dict[str, Any], number: str
) -> None:
    refused(sim, path, raw_json({**body, "extra": "__HOSTILE__"}, number))


@pytest.mark.parametrize("surrogate", LONE_SURROGATES)
@pytest.mark.parametrize(("path", "body"), JSON_ROUTES, ids=IDS)
def test_lone_surrogates_are_refused(
    sim: Sim, path: str, body: dict[str, Any], surrogate: str
) -> None:
    refused(sim, path, raw_json({**body, "extra": "__HOSTILE__"}, surrogate))
    refused(sim, path, raw_json({**body, "__HOSTILE__": 1}, surrogate))


@pytest.mark.parametrize(("path", "body"), WECHAT_ROUTES, ids=IDS[: len(WECHAT_ROUTES)])
@pytest.mark.parametrize("junk", [b"", b"   ", b"{", b"[1]", b'"text"', b"\xff\xfe", b"<xml/>"])
def test_empty_and_broken_bodies_are_errcodes(
    sim: Sim, path: str, body: dict[str, Any], junk: bytes
) -> None:
    r = refused(sim, path, junk)
    assert r.json()["errcode"] in (44002, 47001, 40002)


@pytest.mark.parametrize(
    "query",
    [
        {"access_token": "%ff%fe"},
        {"access_token": "\r\nX-Evil: 1"},
        {"access_token": "A" * 5000},
        {"type": "image\r\n", "access_token": "x"},
    ],
)
def test_junk_tokens_never_crash(sim: Sim, query: dict[str, str]) -> None:
    before = sim.state()
    for path in ("/cgi-bin/message/custom/send", "/cgi-bin/media/upload", "/cgi-bin/media/get"):
        r = sim.http.post(path, params=query, content=json.dumps(TEXT).encode())
        assert check(r, path)
    assert sim.state() == before


@pytest.mark.parametrize(
    ("ctype", "body"),
    [
        ("multipart/form-data", b"junk"),
        ("multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: form-data\r\n\r\n--x--"),
        (
            "multipart/form-data; boundary=x",
            b'--x\r\nContent-Disposition: form-data; name="other"\r\n\r\nv\r\n--x--',
        ),
        ("multipart/form-data; boundary=\\xff", b"\xff\xfe"),
        ("text/plain", b"{}"),
    ],
)
def test_broken_uploads_are_refused(sim: Sim, ctype: str, body: bytes) -> None:
    before = sim.state()
    r = sim.http.post(
        "/cgi-bin/media/upload",
        params={"access_token": sim.token, "type": "image"},
        content=body,
        headers=[(b"content-type", ctype.replace("\\xff", "\xff").encode("latin-1"))],
    )
    assert check(r, "/cgi-bin/media/upload")
    assert sim.state() == before


@pytest.mark.parametrize(
    "text", ["\\", "$1\\1(?P<x>", ".*" * 50, "]]>", "a\u2028b", "<xml>&amp;</xml>"]
)
def test_tricky_text_passes_through_intact(sim: Sim, text: str) -> None:
    r = survives(
        sim,
        "/cgi-bin/message/custom/send",
        json.dumps({**TEXT, "text": {"content": text}}).encode(),
    )
    assert r.json()["errcode"] == 0
    outbox = sim.sim.control("GET", "/_sim/outbox?platform=wechat")["messages"]
    assert outbox[-1]["text"] == text
    sim.sim.control("DELETE", "/_sim/sink")
    answer = sim.sim.control(
        "POST", "/_sim/inbound", {"platform": "wechat", "user": ADA, "text": text}
    )
    assert answer["message"]["fields"]["Content"] == text
    # The webhook's XML carries it intact too (]]> split across two CDATA sections).
    from omnimsg.platforms.wechat import crypto
    from omnimsg.platforms.wechat import xml as wechat_xml

    body = sim.sim.control("GET", "/_sim/sink")["requests"][-1]["body"].encode()
    encrypted = wechat_xml.parse(body, max_bytes=1 << 20)["Encrypt"]
    inner = crypto.decrypt(DEFAULT_WECHAT["encoding_aes_key"], APP_ID, encrypted)
    assert wechat_xml.parse(inner, max_bytes=1 << 20)["Content"] == text


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_fuzz_hostile_values_in_valid_bodies(data: st.DataObject) -> None:
    made = Sim()
    try:
        path, body = data.draw(st.sampled_from(JSON_ROUTES))
        hostile = data.draw(hostile_json(LITERALS))
        survives(made, path, spoiled(data, body, hostile))
    finally:
        made.close()


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=st.text(alphabet=ALPHABET, max_size=40))
def test_fuzz_text_in_inbound_actions(text: str) -> None:
    made = Sim()
    try:
        for action in (
            {"text": text},
            {"click": text},
            {"scan": text},
            {"view": text},
            {"consent": text},
            {"text": "x", "bizmsgmenuid": text},
            {"link": {"title": text, "url": "https://x.test"}},
        ):
            body = json.dumps({"platform": "wechat", "user": ADA, **action}).encode()
            survives(made, "/_sim/inbound", body)
    finally:
        made.close()
