"""The simulated WeChat parametric QR codes and custom menu (spec/wechat.md §10.1, §10.3, §9;
research §1.4, §5), with hand-built ``SimRequest``s as wechatpy sends them (JSON without a
Content-Type; GET for menu/get and menu/delete), on the virtual clock: temporary codes expire,
permanent ones do not; the menu's limits and errcodes, 46003 without a menu (wechatpy's
``menu.get()`` returns ``None`` on it). A hypothesis fuzz spoils valid bodies: every refusal
is HTTP 200 with an errcode and changes nothing.
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hostile import hostile_json, spoiled
from omnimsg.testing import DEFAULT_WECHAT, wechat_sim_config
from omnimsg_sim import InProcessSimulator
from omnimsg_sim.config import WeChatAccount
from omnimsg_sim.effects import SimRequest, SimResponse
from omnimsg_sim.platforms.wechat import menu as menu_module
from omnimsg_sim.platforms.wechat.menu import Menu
from omnimsg_sim.platforms.wechat.qrcode import QrCodes
from simctl import run

ACCOUNT = WeChatAccount(
    account_id="gh_aaaaaaaaaaaa", app_id="wxaaaaaaaaaaaaaaaa", app_secret="s", token="t"
)
OTHER = WeChatAccount(
    account_id="gh_bbbbbbbbbbbb", app_id="wxbbbbbbbbbbbbbbbb", app_secret="s", token="t"
)
START = 1_772_442_000.0


def decode(r: SimResponse) -> dict[str, Any]:
    assert r.status == 200
    out: dict[str, Any] = json.loads(r.body)
    if out.get("errcode"):
        assert " rid: " in out["errmsg"]
    return out


def errcode(answer: dict[str, Any]) -> int:
    code: int = answer.get("errcode", 0)
    return code


class Codes:
    def __init__(self, **options: Any) -> None:
        self.qr = QrCodes(**options)
        self.now = START

    def raw(
        self, body: bytes, method: str = "POST", account: WeChatAccount = ACCOUNT
    ) -> dict[str, Any]:
        req = SimRequest(method=method, path="/cgi-bin/qrcode/create", body=body)
        return decode(run(self.qr.route(req, account, self.now)))

    def create(self, body: Any, account: WeChatAccount = ACCOUNT) -> dict[str, Any]:
        return self.raw(json.dumps(body, ensure_ascii=False).encode(), account=account)

    def snapshot(self) -> str:
        return json.dumps(self.qr.state(), sort_keys=True)


def temp(scene_id: Any = 123, expire: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "action_name": "QR_SCENE",
        "action_info": {"scene": {"scene_id": scene_id}},
    }
    if expire is not None:
        body["expire_seconds"] = expire
    return body


def temp_str(scene: Any = "shop-1", expire: Any = 600) -> dict[str, Any]:
    return {
        "expire_seconds": expire,
        "action_name": "QR_STR_SCENE",
        "action_info": {"scene": {"scene_str": scene}},
    }


def permanent(scene_id: Any = 1) -> dict[str, Any]:
    return {"action_name": "QR_LIMIT_SCENE", "action_info": {"scene": {"scene_id": scene_id}}}


def permanent_str(scene: Any = "store-7") -> dict[str, Any]:
    return {"action_name": "QR_LIMIT_STR_SCENE", "action_info": {"scene": {"scene_str": scene}}}


# --- QR codes ----------------------------------------------------------------------------------


def test_temporary_code_with_the_default_60_seconds() -> None:
    c = Codes()
    made = c.create(temp(123))
    assert set(made) == {"ticket", "expire_seconds", "url"}
    assert made["expire_seconds"] == 60
    assert made["url"].startswith("http://weixin.qq.com/q/") and len(made["url"]) == 23 + 22
    ticket = made["ticket"]
    raw = base64.b64decode(ticket, validate=True)
    assert made["url"].encode() in raw  # the shape of a real ticket
    assert quote(ticket) != ticket or "=" not in ticket  # clients URL-encode it
    assert c.qr.scene_of(ticket, c.now) == "123"
    assert c.qr.is_permanent(ticket) is False
    c.now += 59
    assert c.qr.scene_of(ticket, c.now) == "123"
    c.now += 1
    assert c.qr.scene_of(ticket, c.now) is None


def test_temporary_string_scene_and_the_30_day_cap() -> None:
    c = Codes()
    made = c.create(temp_str("shop-1", 604_800))
    assert made["expire_seconds"] == 604_800
    assert c.qr.scene_of(made["ticket"], c.now + 604_799) == "shop-1"
    assert c.qr.scene_of(made["ticket"], c.now + 604_800) is None
    capped = c.create(temp(5, 10**12))
    assert capped["expire_seconds"] == 2_592_000
    assert c.create(temp(2**32 - 1))["expire_seconds"] == 60
    # a new ticket each time for a temporary code
    assert c.create(temp(5))["ticket"] != c.create(temp(5))["ticket"]


def test_permanent_codes_never_expire_and_repeat_their_ticket() -> None:
    c = Codes()
    made = c.create(permanent(100_000))
    assert set(made) == {"ticket", "url"}
    assert c.qr.scene_of(made["ticket"], c.now + 10**9) == "100000"
    assert c.qr.is_permanent(made["ticket"]) is True
    assert c.create(permanent(100_000)) == made
    by_str = c.create(permanent_str("store-7"))
    assert c.qr.scene_of(by_str["ticket"], c.now) == "store-7"
    assert c.create(permanent_str("1")) != c.create(permanent(1))  # int and str scenes differ
    assert c.qr.state()["permanent"] == 4


def test_permanent_cap() -> None:
    c = Codes(permanent_max=2)
    c.create(permanent(1))
    c.create(permanent_str("a"))
    before = c.snapshot()
    full = c.create(permanent(2))
    assert full["errcode"] == 45029
    assert c.snapshot() == before
    assert errcode(c.create(permanent(1))) == 0  # one it has: answered again
    assert errcode(c.create(temp(2))) == 0  # temporary ones are not capped


def test_daily_limit() -> None:
    c = Codes(daily_limit=2)
    c.create(temp())
    c.create(permanent())
    assert c.create(temp())["errcode"] == 45009
    c.now += 86_400
    assert errcode(c.create(temp())) == 0


def test_scene_rules() -> None:
    c = Codes()
    cases: list[tuple[Any, int]] = [
        (temp(0), 40053),
        (temp(-5), 40053),
        (temp(2**32), 40053),
        (temp("123"), 40053),
        (temp(1.5), 40053),
        (temp(True), 40053),
        (temp(None), 40053),
        (permanent(0), 40053),
        (permanent(100_001), 40053),
        (temp_str(""), 40053),
        (temp_str("x" * 65), 40053),
        (temp_str(5), 40053),
        (temp_str("a\nb"), 40053),
        (permanent_str(None), 40053),
        ({"action_name": "QR_SCENE", "action_info": {"scene": {"scene_str": "x"}}}, 40053),
        ({"action_name": "QR_SCENE", "action_info": {}}, 40053),
        ({"action_name": "QR_SCENE", "action_info": []}, 40053),
        ({"action_name": "QR_SCENE"}, 40053),
        ({"action_name": "QR_FOREVER", "action_info": {"scene": {"scene_id": 1}}}, 40052),
        ({"action_info": {"scene": {"scene_id": 1}}}, 40052),
        (temp(1, 0), 47001),
        (temp(1, -60), 47001),
        (temp(1, "60"), 47001),
        (temp(1, 60.5), 47001),
    ]
    before = c.snapshot()
    for body, code in cases:
        got = c.create(body)
        assert errcode(got) == code, (body, got)
    assert c.snapshot() == before
    assert errcode(c.create(temp_str("x" * 64))) == 0
    assert errcode(c.create(temp_str("场景" * 32))) == 0


def test_qr_methods_bodies_and_paths() -> None:
    c = Codes()
    assert errcode(c.raw(b"", method="GET")) == 43002
    assert errcode(c.raw(b"")) == 44002
    assert errcode(c.raw(b"{")) == 47001
    assert errcode(c.raw(b"[1]")) == 47001
    assert errcode(c.raw(b'{"expire_seconds": 1e400}')) == 47001
    req = SimRequest(method="POST", path="/cgi-bin/qrcode/show")
    assert c.qr.route(req, ACCOUNT, c.now) is None
    req = SimRequest(method="DELETE", path="/cgi-bin/qrcode/create")
    assert c.qr.route(req, ACCOUNT, c.now) is None
    assert c.qr.scene_of("nope", c.now) is None and c.qr.is_permanent("nope") is None


def test_tickets_are_deterministic_and_per_account() -> None:
    one, two = Codes(), Codes()
    assert one.create(temp())["ticket"] == two.create(temp())["ticket"]
    assert one.create(temp())["ticket"] != two.create(temp(), account=OTHER)["ticket"]


def test_expired_temporary_codes_are_forgotten() -> None:
    c = Codes()
    for _ in range(600):
        c.create(temp())
        c.now += 3600
    assert c.qr.state()["temporary"] < 600


# --- the menu ----------------------------------------------------------------------------

MENU: dict[str, Any] = {
    "button": [
        {"type": "click", "name": "今日歌曲", "key": "V1001_TODAY_MUSIC"},
        {
            "name": "菜单",
            "sub_button": [
                {"type": "view", "name": "搜索", "url": "http://www.soso.com/"},
                {"type": "scancode_push", "name": "扫码", "key": "rselfmenu_0_1"},
                {"type": "pic_weixin", "name": "相册", "key": "rselfmenu_1_2"},
                {"type": "location_select", "name": "位置", "key": "rselfmenu_2_0"},
                {
                    "type": "miniprogram",
                    "name": "小程序",
                    "url": "http://mp.weixin.qq.com",
                    "appid": "wx286b93c14bbf93aa",
                    "pagepath": "pages/lunar/index",
                },
            ],
        },
        {"type": "media_id", "name": "图片", "media_id": "MEDIA_ID1"},
    ]
}


class Menus:
    def __init__(self, **options: Any) -> None:
        self.menu = Menu(**options)
        self.now = START

    def raw(self, method: str, path: str, body: bytes = b"") -> dict[str, Any]:
        req = SimRequest(method=method, path=path, body=body)
        return decode(run(self.menu.route(req, ACCOUNT, self.now)))

    def create(self, body: Any) -> dict[str, Any]:
        return self.raw(
            "POST", "/cgi-bin/menu/create", json.dumps(body, ensure_ascii=False).encode()
        )

    def get(self) -> dict[str, Any]:
        return self.raw("GET", "/cgi-bin/menu/get")

    def snapshot(self) -> str:
        return json.dumps(self.menu.state(), sort_keys=True)


def test_no_menu_is_46003() -> None:
    m = Menus()
    got = m.get()
    assert got["errcode"] == 46003 and got["errmsg"].startswith("menu no exist rid: ")
    assert m.menu.state() == {"menu": None}
    assert m.menu.button("V1001_TODAY_MUSIC") is None


def test_create_get_delete() -> None:
    m = Menus()
    assert m.create(MENU) == {"errcode": 0, "errmsg": "ok"}
    got = m.get()
    buttons = got["menu"]["button"]
    assert buttons[0] == {
        "type": "click",
        "name": "今日歌曲",
        "key": "V1001_TODAY_MUSIC",
        "sub_button": [],
    }
    assert buttons[1]["name"] == "菜单" and "type" not in buttons[1]
    assert [s["type"] for s in buttons[1]["sub_button"]] == [
        "view",
        "scancode_push",
        "pic_weixin",
        "location_select",
        "miniprogram",
    ]
    assert all(s["sub_button"] == [] for s in buttons[1]["sub_button"])
    assert buttons[1]["sub_button"][4]["pagepath"] == "pages/lunar/index"
    assert buttons[2] == {
        "type": "media_id",
        "name": "图片",
        "media_id": "MEDIA_ID1",
        "sub_button": [],
    }
    assert m.raw("POST", "/cgi-bin/menu/get") == got
    assert m.raw("GET", "/cgi-bin/menu/delete") == {"errcode": 0, "errmsg": "ok"}
    assert m.get()["errcode"] == 46003
    assert m.raw("GET", "/cgi-bin/menu/delete") == {"errcode": 0, "errmsg": "ok"}


def test_buttons_by_key_and_url() -> None:
    m = Menus()
    m.create(MENU)
    assert m.menu.button("V1001_TODAY_MUSIC") == {
        "type": "click",
        "name": "今日歌曲",
        "key": "V1001_TODAY_MUSIC",
        "sub_button": [],
    }
    assert m.menu.button("rselfmenu_2_0")["type"] == "location_select"  # type: ignore[index]
    assert m.menu.button("nope") is None
    assert m.menu.url_button("http://www.soso.com/")["name"] == "搜索"  # type: ignore[index]
    assert m.menu.url_button("http://mp.weixin.qq.com") is None  # a miniprogram, not a view
    copy = m.menu.button("V1001_TODAY_MUSIC")
    assert copy is not None
    copy["key"] = "changed"
    assert m.menu.button("V1001_TODAY_MUSIC") is not None  # a copy
    # a new menu replaces the old one whole
    m.create({"button": [{"type": "click", "name": "新", "key": "NEW"}]})
    assert m.menu.button("V1001_TODAY_MUSIC") is None and m.menu.button("NEW") is not None


def _with(top: int | None = None, sub: int | None = None, **fields: Any) -> dict[str, Any]:
    """MENU with one button's fields replaced (``None`` values removed)."""
    body: dict[str, Any] = json.loads(json.dumps(MENU))
    button = body["button"][top] if sub is None else body["button"][1]["sub_button"][sub]
    for key, value in fields.items():
        if value is None:
            button.pop(key, None)
        else:
            button[key] = value
    return body


def test_menu_limits_and_errcodes() -> None:
    m = Menus()
    m.create({"button": [{"type": "click", "name": "old", "key": "OLD"}]})
    before = m.snapshot()
    five = [{"type": "click", "name": f"s{i}", "key": f"k{i}"} for i in range(5)]
    cases: list[tuple[Any, int]] = [
        ({"button": []}, 40016),
        ({"button": [{"type": "click", "name": "a", "key": "a"}] * 4}, 40016),
        ({"button": [{"name": "m", "sub_button": [*five, five[0]]}]}, 40023),
        (_with(0, type="tap"), 40017),
        (_with(0, type=None), 40017),
        (_with(sub=0, type="tap"), 40024),
        (_with(0, name="x" * 17), 40018),
        (_with(0, name="一二三四五六"), 40018),  # 18 bytes
        (_with(0, name=""), 40018),
        (_with(0, name=None), 40018),
        (_with(0, name=5), 40018),
        (_with(1, name="x" * 17), 40018),  # a parent's name is a top name
        (_with(sub=1, name="x" * 61), 40025),
        (_with(0, key="k" * 129), 40019),
        (_with(0, key=""), 40019),
        (_with(0, key=None), 40019),
        (_with(sub=1, key="k" * 129), 40026),
        (_with(sub=0, url="http://x/" + "a" * 1020), 40027),
        (_with(sub=0, url=None), 40027),
        (_with(sub=0, url="javascript:alert(1)"), 40054),
        (_with(sub=0, url="http://a b"), 40054),
        (_with(sub=4, appid=None), 40013),
        (_with(sub=4, pagepath=""), 47001),
        (_with(2, media_id=None), 40007),
        (_with(0, sub_button="x"), 47001),
        (_with(sub=0, sub_button=[{"type": "click", "name": "deep", "key": "d"}]), 40022),
        ({"button": ["x"]}, 47001),
        ({"button": [{"name": "m", "sub_button": ["x"]}]}, 47001),
        ({"button": {"type": "click"}}, 47001),
        ({}, 44002),
    ]
    for body, code in cases:
        got = m.create(body)
        assert errcode(got) == code, (body, got)
        assert m.snapshot() == before
    top_url = {"button": [{"type": "view", "name": "v", "url": "ftp://x"}]}
    assert errcode(m.create(top_url)) == 40055
    long_top = {"button": [{"type": "view", "name": "v", "url": "https://x/" + "a" * 1100}]}
    assert errcode(m.create(long_top)) == 40020
    assert errcode(m.create(_with(0, name="一二三四五"))) == 0  # 15 bytes
    assert errcode(m.create(_with(sub=1, name="x" * 60))) == 0
    assert errcode(m.create(_with(0, key="k" * 128))) == 0
    assert errcode(m.create(_with(0, sub_button=[]))) == 0  # an empty sub_button: a leaf


def test_menu_limits_are_configurable() -> None:
    m = Menus(sub_name_max=40, url_max=256)
    assert errcode(m.create(_with(sub=1, name="x" * 41))) == 40025
    assert errcode(m.create(_with(sub=0, url="http://x/" + "a" * 250))) == 40027
    assert errcode(m.create(_with(sub=1, name="x" * 40))) == 0


def test_menu_methods_and_bodies() -> None:
    m = Menus()
    assert errcode(m.raw("GET", "/cgi-bin/menu/create")) == 43002
    assert errcode(m.raw("POST", "/cgi-bin/menu/create")) == 44002
    assert errcode(m.raw("POST", "/cgi-bin/menu/create", b"{bad")) == 47001
    assert errcode(m.raw("POST", "/cgi-bin/menu/create", b'{"button": [NaN]}')) == 47001
    bad_text = b'{"button":[{"type":"click","name":"\\ud800","key":"k"}]}'
    assert errcode(m.raw("POST", "/cgi-bin/menu/create", bad_text)) == 47001
    assert m.menu.route(SimRequest(method="PUT", path="/cgi-bin/menu/get"), ACCOUNT, 0) is None
    assert m.menu.route(SimRequest(method="GET", path="/cgi-bin/menu/x"), ACCOUNT, 0) is None


def test_menu_daily_quotas(monkeypatch: Any) -> None:
    monkeypatch.setattr(menu_module, "CREATE_PER_DAY", 2)
    monkeypatch.setattr(menu_module, "GET_PER_DAY", 1)
    m = Menus()
    m.create(MENU)
    m.create(MENU)
    assert m.create(MENU)["errcode"] == 45009
    assert "menu" in m.get()
    assert m.get()["errcode"] == 45009
    m.now += 86_400
    assert errcode(m.create(MENU)) == 0 and "menu" in m.get()


# --- hostile input -----------------------------------------------------------------------


QR_BODIES = [temp(5, 300), temp_str(), permanent(9), permanent_str()]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), which=st.integers(0, len(QR_BODIES) - 1), hostile=hostile_json())
def test_fuzz_qr_bodies(data: st.DataObject, which: int, hostile: str) -> None:
    c = Codes()
    c.create(permanent(1))
    before = c.snapshot()
    got = c.raw(spoiled(data, QR_BODIES[which], hostile))
    if errcode(got) != 0:
        assert c.snapshot() == before
    else:
        assert c.qr.scene_of(got["ticket"], c.now) is not None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), hostile=hostile_json())
def test_fuzz_menu_body(data: st.DataObject, hostile: str) -> None:
    m = Menus()
    m.create({"button": [{"type": "click", "name": "old", "key": "OLD"}]})
    before = m.snapshot()
    got = m.raw("POST", "/cgi-bin/menu/create", spoiled(data, MENU, hostile))
    if errcode(got) != 0:
        assert m.snapshot() == before
    else:
        json.dumps(m.get(), ensure_ascii=False).encode()  # what it keeps can go out again


@settings(max_examples=100, deadline=None)
@given(raw=st.binary(max_size=150))
def test_fuzz_raw_bytes(raw: bytes) -> None:
    c, m = Codes(), Menus()
    c.raw(raw)
    m.raw("POST", "/cgi-bin/menu/create", raw)


# --- through the simulator: raw HTTP, as wechatpy sends it -------------------------------------


def test_http_qr_codes_and_menu_through_the_simulator() -> None:
    running = InProcessSimulator(wechat_sim_config())
    http = httpx.Client(transport=running.transport(), base_url=running.base_url)
    try:
        query = {
            "grant_type": "client_credential",
            "appid": DEFAULT_WECHAT["app_id"],
            "secret": DEFAULT_WECHAT["app_secret"],
        }
        token = {"access_token": http.get("/cgi-bin/token", params=query).json()["access_token"]}

        def post(path: str, body: Any) -> dict[str, Any]:
            raw = json.dumps(body, ensure_ascii=False).encode()  # no Content-Type
            r = http.post(path, params=token, content=raw)
            assert r.status_code == 200
            out: dict[str, Any] = r.json()
            return out

        code = post("/cgi-bin/qrcode/create", temp(7, 600))
        assert code["expire_seconds"] == 600 and code["url"].startswith("http://weixin.qq.com/q/")
        assert post("/cgi-bin/qrcode/create", permanent(0))["errcode"] == 40053
        assert http.get("/cgi-bin/menu/get", params=token).json()["errcode"] == 46003
        assert post("/cgi-bin/menu/create", MENU) == {"errcode": 0, "errmsg": "ok"}
        got = http.get("/cgi-bin/menu/get", params=token).json()
        assert got["menu"]["button"][0]["key"] == "V1001_TODAY_MUSIC"
        too_long = {"button": [{"type": "click", "name": "x" * 17, "key": "k"}]}
        assert post("/cgi-bin/menu/create", too_long)["errcode"] == 40018
        assert http.get("/cgi-bin/menu/delete", params=token).json()["errcode"] == 0
        assert http.get("/cgi-bin/menu/get", params=token).json()["errcode"] == 46003
    finally:
        http.close()
        running.close()
