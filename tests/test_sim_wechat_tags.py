"""The simulated WeChat user tags and user info (spec/wechat.md §7, §10.2; research §1.4, §5),
route by route, with hand-built ``SimRequest``s as wechatpy sends them (JSON without a
Content-Type, raw UTF-8; GET for tags/get and user/info) and the response keys wechatpy's
result processors require (``tag``, ``tags``, ``tagid_list``, ``user_info_list``). A hypothesis
fuzz spoils valid bodies: every refusal is HTTP 200 with an errcode and changes nothing.
"""

from __future__ import annotations

import json
from typing import Any

import attrs
import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hostile import hostile_json, spoiled
from omnimsg.testing import DEFAULT_WECHAT, wechat_sim_config
from omnimsg_sim import InProcessSimulator
from omnimsg_sim.config import WeChatAccount, WeChatCustomer
from omnimsg_sim.effects import SimRequest
from omnimsg_sim.platforms.wechat import tags as tags_module
from omnimsg_sim.platforms.wechat import users
from omnimsg_sim.platforms.wechat.tags import Tags
from simctl import run

ACCOUNT = WeChatAccount(
    account_id="gh_aaaaaaaaaaaa", app_id="wxaaaaaaaaaaaaaaaa", app_secret="s", token="t"
)
ADA, ALAN, GRACE, GONE, STRANGER = "oAda", "oAlan", "oGrace", "oGone", "oStranger"


@attrs.define
class Record:
    """A user record as the sim keeps one (state.Follower's attributes)."""

    openid: str
    following: bool = True
    subscribe_time: int = 1_700_000_000
    unionid: str | None = None
    remark: str = ""
    language: str = "zh_CN"
    subscribe_scene: str = "ADD_SCENE_QR_CODE"
    qr_scene: int = 0
    qr_scene_str: str = ""


class Account:
    """One account's tags and users, called as sim.py calls them."""

    def __init__(self) -> None:
        self.tags = Tags()
        self.users: dict[str, Any] = {
            ADA: Record(ADA, unionid="uAda", remark="VIP", qr_scene_str="shop-1"),
            ALAN: Record(ALAN, language="en", qr_scene=7),
            GRACE: Record(GRACE),
            GONE: Record(GONE, following=False),
        }

    def raw(
        self, method: str, path: str, body: bytes = b"", query: dict[str, str] | None = None
    ) -> dict[str, Any]:
        req = SimRequest(
            method=method,
            path=path,
            body=body,
            query={k: [v] for k, v in (query or {}).items()},
        )
        flow = self.tags.route(req, ACCOUNT, self.users, 0.0)
        if flow is None:
            flow = users.route(req, ACCOUNT, self.users, self.tags, 0.0)
        r = run(flow)
        assert r.status == 200
        out: dict[str, Any] = json.loads(r.body)
        if "errcode" in out:
            assert isinstance(out["errcode"], int)
            assert out["errcode"] == 0 or " rid: " in out["errmsg"]
        return out

    def post(self, path: str, body: Any) -> dict[str, Any]:
        return self.raw("POST", path, json.dumps(body, ensure_ascii=False).encode())

    def create(self, name: str) -> dict[str, Any]:
        return self.post("/cgi-bin/tags/create", {"tag": {"name": name}})

    def listed(self) -> list[dict[str, Any]]:
        tags: list[dict[str, Any]] = self.raw("GET", "/cgi-bin/tags/get")["tags"]
        return tags

    def tag(self, tag_id: Any, *openids: Any) -> dict[str, Any]:
        body = {"tagid": tag_id, "openid_list": list(openids)}
        return self.post("/cgi-bin/tags/members/batchtagging", body)

    def untag(self, tag_id: Any, *openids: Any) -> dict[str, Any]:
        body = {"tagid": tag_id, "openid_list": list(openids)}
        return self.post("/cgi-bin/tags/members/batchuntagging", body)

    def idlist(self, openid: Any) -> dict[str, Any]:
        return self.post("/cgi-bin/tags/getidlist", {"openid": openid})

    def snapshot(self) -> str:
        return json.dumps(self.tags.state(), sort_keys=True)


def errcode(answer: dict[str, Any]) -> int:
    code: int = answer.get("errcode", 0)
    return code


# --- tags --------------------------------------------------------------------------------------


def test_create_list_rename_delete() -> None:
    a = Account()
    assert a.listed() == [{"id": 2, "name": "星标组", "count": 0}]
    made = a.create("广东")
    assert made == {"tag": {"id": 100, "name": "广东"}}
    assert a.create("VIP")["tag"]["id"] == 101
    assert a.listed()[1:] == [
        {"id": 100, "name": "广东", "count": 0},
        {"id": 101, "name": "VIP", "count": 0},
    ]
    assert a.post("/cgi-bin/tags/update", {"tag": {"id": 100, "name": "广州"}}) == {
        "errcode": 0,
        "errmsg": "ok",
    }
    assert a.listed()[1]["name"] == "广州"
    assert errcode(a.post("/cgi-bin/tags/update", {"tag": {"id": 100, "name": "广州"}})) == 0
    assert errcode(a.post("/cgi-bin/tags/delete", {"tag": {"id": 100}})) == 0
    assert [t["id"] for t in a.listed()] == [2, 101]
    assert a.create("again")["tag"]["id"] == 102  # ids are not reused


def test_tag_name_rules() -> None:
    a = Account()
    a.create("taken")
    assert errcode(a.create("x" * 30)) == 0
    assert errcode(a.create("y" * 31)) == 45158
    assert errcode(a.create("汉" * 10)) == 0  # 30 bytes
    assert errcode(a.create("字" * 11)) == 45158  # 33 bytes
    for bad in ("", "taken", "星标组", "   ", "a\nb"):
        assert errcode(a.create(bad)) == 45157, bad
    assert errcode(a.post("/cgi-bin/tags/create", {"tag": {"name": 5}})) == 47001
    assert errcode(a.post("/cgi-bin/tags/create", {"tag": {}})) == 45157
    assert errcode(a.post("/cgi-bin/tags/create", {"tag": "x"})) == 47001
    assert errcode(a.post("/cgi-bin/tags/create", {})) == 44002
    # renaming to another tag's name
    other = a.create("other")["tag"]["id"]
    body = {"tag": {"id": other, "name": "taken"}}
    assert errcode(a.post("/cgi-bin/tags/update", body)) == 45157


def test_at_most_100_tags() -> None:
    a = Account()
    for i in range(100):
        assert errcode(a.create(f"t{i}")) == 0
    full = a.create("one more")
    assert full["errcode"] == 45056
    assert full["errmsg"].startswith("too many tag now, no need to add new rid: ")
    a.post("/cgi-bin/tags/delete", {"tag": {"id": 100}})
    assert errcode(a.create("one more")) == 0


def test_system_tags_cannot_be_changed() -> None:
    a = Account()
    for tag_id in (0, 1, 2):
        update = a.post("/cgi-bin/tags/update", {"tag": {"id": tag_id, "name": "mine"}})
        assert update["errcode"] == 45058 and update["errmsg"].startswith("can't modify sys tag")
        assert errcode(a.post("/cgi-bin/tags/delete", {"tag": {"id": tag_id}})) == 45058
    for bad in (99, 100, -1, 10**30):
        assert errcode(a.post("/cgi-bin/tags/delete", {"tag": {"id": bad}})) == 45159
    assert errcode(a.post("/cgi-bin/tags/delete", {"tag": {"id": "100"}})) == 47001
    assert errcode(a.post("/cgi-bin/tags/delete", {"tag": {"id": True}})) == 47001
    assert errcode(a.post("/cgi-bin/tags/delete", {"tag": {}})) == 44002


def test_tag_and_untag_users() -> None:
    a = Account()
    vip = a.create("VIP")["tag"]["id"]
    assert a.tag(vip, ADA, ALAN, ADA) == {"errcode": 0, "errmsg": "ok"}
    assert a.tag(2, ADA) == {"errcode": 0, "errmsg": "ok"}  # the starred system tag
    assert a.idlist(ADA) == {"tagid_list": [2, vip]}
    assert a.idlist(GRACE) == {"tagid_list": []}
    assert a.tags.tags_of(ALAN) == [vip]
    assert {t["id"]: t["count"] for t in a.listed()} == {2: 1, vip: 2}
    assert errcode(a.tag(vip, ADA)) == 0  # again: no change
    assert {t["id"]: t["count"] for t in a.listed()}[vip] == 2
    assert errcode(a.untag(vip, ADA, GRACE)) == 0  # GRACE never had it: fine
    assert a.tags.tags_of(ADA) == [2]
    a.post("/cgi-bin/tags/delete", {"tag": {"id": vip}})
    assert a.tags.tags_of(ALAN) == []
    a.tags.forget(ADA)
    assert a.tags.tags_of(ADA) == []


def test_batch_refusals_change_nothing() -> None:
    a = Account()
    vip = a.create("VIP")["tag"]["id"]
    a.tag(vip, ADA)
    before = a.snapshot()
    cases: list[tuple[Any, int]] = [
        ({"tagid": vip, "openid_list": []}, 40032),
        ({"tagid": vip, "openid_list": [ADA] * 51}, 40032),
        ({"tagid": vip}, 40032),
        ({"tagid": vip, "openid_list": ADA}, 47001),
        ({"tagid": vip, "openid_list": [ALAN, STRANGER]}, 40003),
        ({"tagid": vip, "openid_list": [ALAN, 5]}, 40003),
        ({"tagid": vip, "openid_list": [ALAN, ""]}, 40003),
        ({"tagid": 555, "openid_list": [ALAN]}, 45159),
        ({"tagid": 0, "openid_list": [ALAN]}, 45159),
        ({"tagid": 1, "openid_list": [ALAN]}, 45159),
        ({"tagid": "100", "openid_list": [ALAN]}, 47001),
        ({"tagid": None, "openid_list": [ALAN]}, 44002),
    ]
    for path in ("batchtagging", "batchuntagging"):
        for body, code in cases:
            got = a.post(f"/cgi-bin/tags/members/{path}", body)
            assert errcode(got) == code, (path, body, got)
            assert a.snapshot() == before
    assert errcode(a.tag(vip, *[ADA] * 50)) == 0  # 50 is fine (one user, repeated)


def test_at_most_20_tags_per_user() -> None:
    a = Account()
    ids = [a.create(f"t{i}")["tag"]["id"] for i in range(21)]
    for tag_id in ids[:20]:
        assert errcode(a.tag(tag_id, ADA)) == 0
    before = a.snapshot()
    full = a.tag(ids[20], ALAN, ADA)
    assert full["errcode"] == 45059
    assert a.snapshot() == before  # ALAN not tagged either: all or nothing
    assert errcode(a.tag(ids[0], ADA)) == 0  # one it already has
    assert errcode(a.tag(ids[20], ALAN)) == 0


def test_getidlist_refusals() -> None:
    a = Account()
    assert errcode(a.idlist(STRANGER)) == 40003
    assert errcode(a.idlist(None)) == 40003
    assert errcode(a.idlist(["x"])) == 40003


def test_members_of_a_tag_in_pages(monkeypatch: Any) -> None:
    monkeypatch.setattr(tags_module, "PAGE", 2)
    a = Account()
    vip = a.create("VIP")["tag"]["id"]
    a.tag(vip, ADA, ALAN, GRACE)
    path = "/cgi-bin/user/tag/get"
    first = a.post(path, {"tagid": vip, "next_openid": ""})
    assert first == {"count": 2, "data": {"openid": [ADA, ALAN]}, "next_openid": ALAN}
    second = a.post(path, {"tagid": vip, "next_openid": ALAN})
    assert second == {"count": 1, "data": {"openid": [GRACE]}, "next_openid": GRACE}
    assert a.post(path, {"tagid": vip, "next_openid": GRACE}) == {"count": 0, "next_openid": ""}
    assert a.post(path, {"tagid": 2}) == {"count": 0, "next_openid": ""}
    assert errcode(a.post(path, {"tagid": vip, "next_openid": STRANGER})) == 40003
    assert errcode(a.post(path, {"tagid": vip, "next_openid": 5})) == 47001
    assert errcode(a.post(path, {"tagid": 999})) == 45159


def test_methods_and_bodies() -> None:
    a = Account()
    assert errcode(a.raw("GET", "/cgi-bin/tags/create")) == 43002
    assert errcode(a.raw("POST", "/cgi-bin/tags/create")) == 44002
    assert errcode(a.raw("POST", "/cgi-bin/tags/create", b"{nope")) == 47001
    assert errcode(a.raw("POST", "/cgi-bin/tags/create", b'"tag"')) == 47001
    # raw UTF-8 and \u escapes alike, no Content-Type (as wechatpy sends)
    made = a.raw("POST", "/cgi-bin/tags/create", '{"tag":{"name":"上海"}}'.encode())
    assert made["tag"]["name"] == "上海"
    assert errcode(a.raw("POST", "/cgi-bin/tags/create", b'{"tag":{"name":"\\u4e0a\\u6d77"}}')) == (
        45157
    )
    assert "tags" in a.raw("POST", "/cgi-bin/tags/get")
    req = SimRequest(method="DELETE", path="/cgi-bin/tags/get")
    assert a.tags.route(req, ACCOUNT, a.users, 0.0) is None
    req = SimRequest(method="POST", path="/cgi-bin/tags/nope")
    assert a.tags.route(req, ACCOUNT, a.users, 0.0) is None


def test_answers_are_utf8_json() -> None:
    a = Account()
    req = SimRequest(
        method="POST", path="/cgi-bin/tags/create", body='{"tag":{"name":"北京"}}'.encode()
    )
    r = run(a.tags.route(req, ACCOUNT, a.users, 0.0))
    assert "北京".encode() in r.body
    assert r.content_type.startswith("application/json")


# --- user info ---------------------------------------------------------------------------


def test_user_info_of_a_follower() -> None:
    a = Account()
    vip = a.create("VIP")["tag"]["id"]
    a.tag(vip, ADA)
    info = a.raw("GET", "/cgi-bin/user/info", query={"openid": ADA, "lang": "zh_CN"})
    assert info == {
        "subscribe": 1,
        "openid": ADA,
        "language": "zh_CN",
        "subscribe_time": 1_700_000_000,
        "unionid": "uAda",
        "remark": "VIP",
        "groupid": 0,
        "tagid_list": [vip],
        "subscribe_scene": "ADD_SCENE_QR_CODE",
        "qr_scene": 0,
        "qr_scene_str": "shop-1",
    }
    alan = a.raw("GET", "/cgi-bin/user/info", query={"openid": ALAN})
    assert "unionid" not in alan and alan["language"] == "en" and alan["qr_scene"] == 7
    for gone in ("nickname", "headimgurl", "sex", "city"):
        assert gone not in info


def test_user_info_of_a_non_follower_and_refusals() -> None:
    a = Account()
    assert a.raw("GET", "/cgi-bin/user/info", query={"openid": GONE}) == {
        "subscribe": 0,
        "openid": GONE,
    }
    assert errcode(a.raw("GET", "/cgi-bin/user/info", query={"openid": STRANGER})) == 40003
    assert errcode(a.raw("GET", "/cgi-bin/user/info")) == 41009
    assert errcode(a.raw("GET", "/cgi-bin/user/info", query={"openid": ADA, "lang": "fr"})) == (
        40035
    )
    for lang in ("zh_TW", "en", ""):
        assert a.raw("GET", "/cgi-bin/user/info", query={"openid": ADA, "lang": lang})["subscribe"]


def test_user_records_are_read_defensively() -> None:
    a = Account()

    class Odd:
        openid = "oOdd"
        following = "yes"  # not a bool: taken as following
        subscribe_time = float("inf")
        unionid = 5
        remark = None
        language = "\ud800"
        qr_scene = True

    a.users["oOdd"] = Odd()
    a.users["oBare"] = WeChatCustomer(openid="oBare")  # config's record: fewer attributes
    odd = a.raw("GET", "/cgi-bin/user/info", query={"openid": "oOdd"})
    assert odd["subscribe"] == 1 and odd["subscribe_time"] == 0 and "unionid" not in odd
    assert odd["remark"] == "" and odd["language"] == "zh_CN" and odd["qr_scene"] == 0
    bare = a.raw("GET", "/cgi-bin/user/info", query={"openid": "oBare"})
    assert bare["subscribe_scene"] == "ADD_SCENE_OTHERS" and bare["qr_scene_str"] == ""


def test_batchget() -> None:
    a = Account()
    body = {"user_list": [{"openid": ADA, "lang": "zh_CN"}, {"openid": GONE}, {"openid": ALAN}]}
    got = a.post("/cgi-bin/user/info/batchget", body)
    assert [u["openid"] for u in got["user_info_list"]] == [ADA, GONE, ALAN]
    assert got["user_info_list"][1] == {"subscribe": 0, "openid": GONE}
    cases: list[tuple[Any, int]] = [
        ({"user_list": []}, 40032),
        ({"user_list": [{"openid": ADA}] * 101}, 40032),
        ({}, 44002),
        ({"user_list": ADA}, 47001),
        ({"user_list": [ADA]}, 47001),
        ({"user_list": [{"openid": STRANGER}]}, 40003),
        ({"user_list": [{"openid": ADA, "lang": "de"}]}, 40035),
    ]
    for bad, code in cases:
        assert errcode(a.post("/cgi-bin/user/info/batchget", bad)) == code, bad
    assert (
        errcode(a.post("/cgi-bin/user/info/batchget", {"user_list": [{"openid": ADA}] * 100})) == 0
    )
    assert errcode(a.raw("GET", "/cgi-bin/user/info/batchget")) == 43002


def test_follower_list(monkeypatch: Any) -> None:
    monkeypatch.setattr(users, "PAGE", 2)
    a = Account()
    first = a.raw("GET", "/cgi-bin/user/get")
    assert first == {"total": 3, "count": 2, "data": {"openid": [ADA, ALAN]}, "next_openid": ALAN}
    second = a.raw("GET", "/cgi-bin/user/get", query={"next_openid": ALAN})
    assert second == {"total": 3, "count": 1, "data": {"openid": [GRACE]}, "next_openid": GRACE}
    last = a.raw("GET", "/cgi-bin/user/get", query={"next_openid": GRACE})
    assert last == {"total": 3, "count": 0, "next_openid": ""}
    assert errcode(a.raw("GET", "/cgi-bin/user/get", query={"next_openid": GONE})) == 40003
    assert (
        users.route(SimRequest(method="PUT", path="/cgi-bin/user/get"), ACCOUNT, {}, a.tags, 0)
        is None
    )
    assert (
        users.route(SimRequest(method="GET", path="/cgi-bin/user/x"), ACCOUNT, {}, a.tags, 0)
        is None
    )


# --- hostile input -----------------------------------------------------------------------

BODIES: list[tuple[str, Any]] = [
    ("/cgi-bin/tags/create", {"tag": {"name": "new"}}),
    ("/cgi-bin/tags/update", {"tag": {"id": 100, "name": "renamed"}}),
    ("/cgi-bin/tags/delete", {"tag": {"id": 100}}),
    ("/cgi-bin/tags/members/batchtagging", {"tagid": 100, "openid_list": [ADA, ALAN]}),
    ("/cgi-bin/tags/members/batchuntagging", {"tagid": 100, "openid_list": [ADA]}),
    ("/cgi-bin/tags/getidlist", {"openid": ADA}),
    ("/cgi-bin/user/tag/get", {"tagid": 100, "next_openid": ""}),
    ("/cgi-bin/user/info/batchget", {"user_list": [{"openid": ADA, "lang": "en"}]}),
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), which=st.integers(0, len(BODIES) - 1), hostile=hostile_json())
def test_fuzz_tag_and_user_bodies(data: st.DataObject, which: int, hostile: str) -> None:
    a = Account()
    a.create("VIP")
    a.tag(100, ADA)
    path, valid = BODIES[which]
    raw = spoiled(data, valid, hostile)
    before = a.snapshot()
    got = a.raw("POST", path, raw)
    if errcode(got) != 0:
        assert a.snapshot() == before, (path, raw, got)


@settings(max_examples=150, deadline=None)
@given(
    openid=st.one_of(st.text(max_size=20), st.sampled_from(["\ud800", ADA, ADA + "\x00"])),
    lang=st.one_of(st.none(), st.text(max_size=8), st.just("\udfff")),
    after=st.one_of(st.none(), st.text(max_size=20)),
)
def test_fuzz_user_queries(openid: str, lang: str | None, after: str | None) -> None:
    a = Account()
    query = {"openid": openid} if lang is None else {"openid": openid, "lang": lang}
    info = a.raw("GET", "/cgi-bin/user/info", query=query)
    assert errcode(info) in (0, 40003, 41009, 40035)
    listed = a.raw(
        "GET", "/cgi-bin/user/get", query={} if after is None else {"next_openid": after}
    )
    assert errcode(listed) in (0, 40003)


@settings(max_examples=100, deadline=None)
@given(raw=st.binary(max_size=120), which=st.integers(0, len(BODIES) - 1))
def test_fuzz_raw_bytes(raw: bytes, which: int) -> None:
    a = Account()
    before = a.snapshot()
    got = a.raw("POST", BODIES[which][0], raw)
    if errcode(got) != 0:
        assert a.snapshot() == before


# --- through the simulator: raw HTTP, as wechatpy sends it -------------------------------------


def test_http_tags_and_user_info_through_the_simulator() -> None:
    running = InProcessSimulator(wechat_sim_config())
    http = httpx.Client(transport=running.transport(), base_url=running.base_url)
    try:
        query = {
            "grant_type": "client_credential",
            "appid": DEFAULT_WECHAT["app_id"],
            "secret": DEFAULT_WECHAT["app_secret"],
        }
        token = {"access_token": http.get("/cgi-bin/token", params=query).json()["access_token"]}
        ada = DEFAULT_WECHAT["customers"][0]["openid"]
        gone = DEFAULT_WECHAT["customers"][2]["openid"]

        def post(path: str, body: Any) -> dict[str, Any]:
            raw = json.dumps(body, ensure_ascii=False).encode()  # no Content-Type
            r = http.post(path, params=token, content=raw)
            assert r.status_code == 200
            out: dict[str, Any] = r.json()
            return out

        made = post("/cgi-bin/tags/create", {"tag": {"name": "广东"}})["tag"]
        assert made == {"id": 100, "name": "广东"}
        assert post("/cgi-bin/tags/members/batchtagging", {"tagid": 100, "openid_list": [ada]}) == {
            "errcode": 0,
            "errmsg": "ok",
        }
        assert post("/cgi-bin/tags/getidlist", {"openid": ada}) == {"tagid_list": [100]}
        listed = http.get("/cgi-bin/tags/get", params=token).json()["tags"]
        assert {"id": 100, "name": "广东", "count": 1} in listed
        info = http.get("/cgi-bin/user/info", params={**token, "openid": ada, "lang": "zh_CN"})
        assert info.json()["tagid_list"] == [100] and info.json()["subscribe"] == 1
        assert http.get("/cgi-bin/user/info", params={**token, "openid": gone}).json() == {
            "subscribe": 0,
            "openid": gone,
        }
        batch = post("/cgi-bin/user/info/batchget", {"user_list": [{"openid": ada}]})
        assert [u["openid"] for u in batch["user_info_list"]] == [ada]
        followers = http.get("/cgi-bin/user/get", params=token).json()
        assert ada in followers["data"]["openid"] and gone not in followers["data"]["openid"]
        stranger = post("/cgi-bin/tags/getidlist", {"openid": "oNobody"})
        assert stranger["errcode"] == 40003
        assert post("/cgi-bin/tags/delete", {"tag": {"id": 2}})["errcode"] == 45058
    finally:
        http.close()
        running.close()
