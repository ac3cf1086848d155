"""The simulated LINE rich menus (spec/line.md §7; research §1.2, §2), route by route.

Requests are built by hand (``SimRequest``) and answered by :class:`RichMenus` directly, the
way the LINE simulator's dispatcher calls it; answers are checked against the official
``line-bot-sdk`` v3 models where the SDK parses them. A hypothesis fuzz spoils valid bodies
with hostile JSON: every refusal is a 4xx in LINE's ``{message}`` shape and changes nothing.
"""

from __future__ import annotations

import asyncio
import json
import struct
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hostile import hostile_json, spoiled
from omnimsg.testing import DEFAULT_LINE, line_sim_config
from omnimsg_sim import InProcessSimulator
from omnimsg_sim.app import Simulator
from omnimsg_sim.effects import SimRequest, SimResponse
from omnimsg_sim.platforms.line import richmenu
from omnimsg_sim.platforms.line.richmenu import RichMenus, graphemes, image_size, sample_png
from simctl import run

BOT = "U" + "b" * 32
ADA = "U" + "a" * 32
ALAN = "U" + "c" * 32
STRANGER = "U" + "d" * 32  # well-formed, not a friend
PNG = sample_png()


class Menus:
    """One account's rich menus and its friends, called as the simulator calls them."""

    def __init__(self, **options: Any) -> None:
        self.rm = RichMenus(**options)
        self.friends = {ADA, ALAN}

    def raw(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> SimResponse:
        req = SimRequest(method=method, path=path, body=body, headers=headers or {})
        return run(self.rm.route(req, BOT, self.friends.__contains__, 0.0))

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = b"" if body is None else json.dumps(body).encode()
        headers = {} if body is None else {"content-type": "application/json"}
        r = self.raw(method, path, data, headers)
        assert r.content_type == "application/json", r
        return r.status, json.loads(r.body)

    def create(self, menu: dict[str, Any] | None = None) -> str:
        status, body = self.call("POST", "/v2/bot/richmenu", menu or MENU)
        assert status == 200, body
        menu_id: str = body["richMenuId"]
        return menu_id

    def upload(self, menu_id: str, data: bytes = PNG, kind: str = "image/png") -> SimResponse:
        return self.raw("POST", f"/v2/bot/richmenu/{menu_id}/content", data, {"content-type": kind})

    def ready(self) -> str:
        """A menu with its image."""
        menu_id = self.create()
        assert self.upload(menu_id).status == 200
        return menu_id


def area(action: dict[str, Any], x: int = 0, width: int = 1250) -> dict[str, Any]:
    return {"bounds": {"x": x, "y": 0, "width": width, "height": 1686}, "action": action}


MENU: dict[str, Any] = {
    "size": {"width": 2500, "height": 1686},
    "selected": False,
    "name": "FAQ",
    "chatBarText": "Tap to open",
    "areas": [
        area({"type": "postback", "data": "faq=hours", "label": "Hours"}),
        area({"type": "uri", "uri": "https://example.com/help"}, x=1250),
    ],
}


def menu_with(**changes: Any) -> dict[str, Any]:
    out = json.loads(json.dumps(MENU))
    out.update(changes)
    return out


def details(body: dict[str, Any]) -> list[tuple[str, str]]:
    """The ``(property, message)`` of a validation 400, checked for LINE's shape."""
    found = [(d["property"], d["message"]) for d in body["details"]]
    assert body["message"] == f"The request body has {len(found)} error(s)"
    return found


# --- the whole way: create, image, default, link, the tap ------------------------------------


def test_create_upload_default_link_and_the_tapped_action() -> None:
    from linebot.v3.messaging.models import (
        RichMenuIdResponse,
        RichMenuListResponse,
        RichMenuResponse,
    )

    m = Menus()
    status, created = m.call("POST", "/v2/bot/richmenu", MENU)
    assert status == 200
    menu_id = RichMenuIdResponse.from_dict(created).rich_menu_id
    assert richmenu.RICH_MENU_ID.fullmatch(menu_id)
    assert m.rm.menu_of(ADA) is None

    # no image yet: neither the default nor a link takes it
    status, body = m.call("POST", f"/v2/bot/user/all/richmenu/{menu_id}")
    assert (status, body) == (400, {"message": richmenu.NO_IMAGE})
    status, body = m.call("POST", f"/v2/bot/user/{ADA}/richmenu/{menu_id}")
    assert (status, body["message"]) == (
        400,
        "must upload richmenu image before applying it to user",
    )
    assert m.rm.state()["default"] is None and m.rm.state()["links"] == {}

    r = m.upload(menu_id)
    assert (r.status, json.loads(r.body)) == (200, {})
    image = m.raw("GET", f"/v2/bot/richmenu/{menu_id}/content")
    assert (image.status, image.body, image.content_type) == (200, PNG, "image/png")

    assert m.call("POST", f"/v2/bot/user/all/richmenu/{menu_id}") == (200, {})
    assert m.call("GET", "/v2/bot/user/all/richmenu") == (200, {"richMenuId": menu_id})
    assert m.rm.menu_of(ADA) == menu_id  # the default, for everyone

    other = m.ready()
    assert m.call("POST", f"/v2/bot/user/{ADA}/richmenu/{other}") == (200, {})
    assert m.call("GET", f"/v2/bot/user/{ADA}/richmenu") == (200, {"richMenuId": other})
    assert m.rm.menu_of(ADA) == other  # the user's link wins over the default
    assert m.rm.menu_of(ALAN) == menu_id

    assert m.rm.action_at(menu_id, 0) == {"type": "postback", "label": "Hours", "data": "faq=hours"}
    assert m.rm.action_at(menu_id, 1) == {"type": "uri", "uri": "https://example.com/help"}
    assert m.rm.action_at(menu_id, 2) is None
    assert m.rm.action_at(menu_id, -1) is None
    assert m.rm.action_at("richmenu-" + "0" * 32, 0) is None
    m.rm.action_at(menu_id, 0)["data"] = "changed"  # type: ignore[index]
    assert m.rm.action_at(menu_id, 0)["data"] == "faq=hours"  # type: ignore[index]

    status, one = m.call("GET", f"/v2/bot/richmenu/{menu_id}")
    parsed = RichMenuResponse.from_dict(one)
    assert parsed.chat_bar_text == "Tap to open" and len(parsed.areas) == 2
    status, listed = m.call("GET", "/v2/bot/richmenu/list")
    assert [r.rich_menu_id for r in RichMenuListResponse.from_dict(listed).richmenus] == [
        menu_id,
        other,
    ]

    assert m.call("DELETE", f"/v2/bot/user/{ADA}/richmenu") == (200, {})
    assert m.rm.menu_of(ADA) == menu_id
    assert m.call("GET", f"/v2/bot/user/{ADA}/richmenu") == (
        404,
        {"message": "the user has no richmenu"},
    )
    assert m.call("DELETE", "/v2/bot/user/all/richmenu") == (200, {})
    assert m.call("GET", "/v2/bot/user/all/richmenu") == (404, {"message": "no default richmenu"})
    assert m.rm.menu_of(ADA) is None


def test_every_action_type_is_kept_and_sdk_parses_it() -> None:
    from linebot.v3.messaging.models import RichMenuResponse

    actions = [
        {"type": "postback", "data": "d", "displayText": "shown", "inputOption": "openKeyboard"},
        {"type": "message", "text": "hello", "label": "Say"},
        {"type": "uri", "uri": "tel:+81300000000", "altUri": {"desktop": "https://x.test/"}},
        {"type": "datetimepicker", "data": "d", "mode": "date", "initial": "2026-01-01"},
        {"type": "richmenuswitch", "data": "to=b", "richMenuAliasId": "menu-b"},
        {"type": "clipboard", "clipboardText": "COUPON"},
        {"type": "camera", "label": "Camera"},
    ]
    width = 2500 // len(actions)
    menu = menu_with(areas=[area(a, x=i * width, width=width) for i, a in enumerate(actions)])
    m = Menus()
    menu_id = m.create(menu)
    for i, action in enumerate(actions):
        assert m.rm.action_at(menu_id, i) == action
    _, body = m.call("GET", f"/v2/bot/richmenu/{menu_id}")
    parsed = RichMenuResponse.from_dict(body)
    assert [a.action.type for a in parsed.areas] == [a["type"] for a in actions]


def test_unknown_fields_are_dropped_and_the_menu_kept_as_line_returns_it() -> None:
    m = Menus()
    menu = menu_with(extra=1)
    menu["areas"][0]["action"]["unknown"] = "x"
    menu_id = m.create(menu)
    _, body = m.call("GET", f"/v2/bot/richmenu/{menu_id}")
    assert "extra" not in body and "unknown" not in body["areas"][0]["action"]
    assert body == {"richMenuId": menu_id, **MENU}


def test_ids_are_deterministic_and_differ_per_bot() -> None:
    a, b = Menus(), Menus()
    ids = [a.create() for _ in range(3)]
    assert ids == [b.create() for _ in range(3)]
    assert len(set(ids)) == 3
    req = SimRequest(method="POST", path="/v2/bot/richmenu", body=json.dumps(MENU).encode())
    other = json.loads(run(RichMenus().route(req, ALAN, lambda u: True, 0.0)).body)
    assert other["richMenuId"] not in ids


def test_other_paths_are_not_rich_menu_paths() -> None:
    rm = RichMenus()
    for method, path in [
        ("POST", "/v2/bot/message/push"),
        ("GET", "/v2/bot/profile/" + ADA),
        ("POST", "/v2/bot/richmenu/batch"),
        ("GET", "/v2/bot/richmenu/progress/batch"),
        ("PUT", "/v2/bot/richmenu"),
        ("GET", "/v2/bot/richmenu/validate"),
        ("POST", "/v2/bot/richmenu/list"),
        ("GET", "/v2/bot/user//richmenu"),
        ("GET", "/v3/bot/richmenu/list"),
        ("GET", "richmenu"),
        ("GET", "/"),
    ]:
        assert rm.route(SimRequest(method=method, path=path), BOT, lambda u: True, 0.0) is None


# --- validation: LINE's details ----------------------------------------------------------------


def test_missing_fields_are_each_a_detail() -> None:
    m = Menus()
    status, body = m.call("POST", "/v2/bot/richmenu", {})
    assert status == 400
    assert details(body) == [
        ("size", "must be specified"),
        ("selected", "must be specified"),
        ("name", "must be specified"),
        ("chatBarText", "must be specified"),
        ("areas", "must be specified"),
    ]
    status, body = m.call(
        "POST", "/v2/bot/richmenu", menu_with(areas=[{"bounds": {}, "action": {}}])
    )
    assert [p for p, _ in details(body)] == [
        "areas[0].bounds.x",
        "areas[0].bounds.y",
        "areas[0].bounds.width",
        "areas[0].bounds.height",
        "areas[0].action.type",
    ]
    assert m.rm.state()["richmenus"] == []


def test_the_documented_invalid_uri_detail() -> None:
    m = Menus()
    for uri in ["ftp://example.com", "javascript:alert(1)", "https://a b", "https://x/\r\n"]:
        menu = menu_with(areas=[area({"type": "uri", "uri": uri})])
        status, body = m.call("POST", "/v2/bot/richmenu", menu)
        assert status == 400
        assert details(body) == [("areas[0].action.uri", "invalid uri")]
    for uri in ["https://example.com", "http://x", "line://ti/p/@x", "tel:09012345678"]:
        m.create(menu_with(areas=[area({"type": "uri", "uri": uri})]))


@pytest.mark.parametrize(
    ("change", "prop"),
    [
        ({"name": "n" * 301}, "name"),
        ({"chatBarText": "x" * 15}, "chatBarText"),
        ({"chatBarText": 14}, "chatBarText"),
        ({"selected": "false"}, "selected"),
        ({"size": {"width": 799, "height": 250}}, "size.width"),
        ({"size": {"width": 2501, "height": 1686}}, "size.width"),
        ({"size": {"width": 2500, "height": 249}}, "size.height"),
        ({"size": {"width": 2500, "height": 1725}}, "size"),  # aspect ratio under 1.45
        ({"size": {"width": True, "height": 1686}}, "size.width"),
        ({"size": {"width": 10**30, "height": 1686}}, "size.width"),
        ({"size": {"width": 2500.5, "height": 1686}}, "size.width"),
        ({"size": [2500, 1686]}, "size"),
        ({"areas": "none"}, "areas"),
        ({"areas": [area({"type": "postback", "data": "d"})] * 21}, "areas"),
        ({"areas": [5]}, "areas[0]"),
        ({"areas": [area({"type": "postback"})]}, "areas[0].action.data"),
        ({"areas": [area({"type": "postback", "data": "d" * 301})]}, "areas[0].action.data"),
        (
            {"areas": [area({"type": "postback", "data": "d", "label": "l" * 21})]},
            "areas[0].action.label",
        ),
        ({"areas": [area({"type": "message", "text": ""})]}, "areas[0].action.text"),
        (
            {"areas": [area({"type": "datetimepicker", "data": "d", "mode": "week"})]},
            "areas[0].action.mode",
        ),
        (
            {"areas": [area({"type": "richmenuswitch", "data": "d", "richMenuAliasId": "A"})]},
            "areas[0].action.richMenuAliasId",
        ),
        (
            {"areas": [area({"type": "clipboard", "clipboardText": ""})]},
            "areas[0].action.clipboardText",
        ),
        ({"areas": [area({"type": "sticker"})]}, "areas[0].action.type"),
        ({"areas": [area({"type": "postback", "data": "d"}, x=1251)]}, "areas[0].bounds"),
        (
            {
                "areas": [
                    {
                        "bounds": {"x": -1, "y": 0, "width": 1, "height": 1},
                        "action": {"type": "camera"},
                    }
                ]
            },
            "areas[0].bounds.x",
        ),
        (
            {
                "areas": [
                    {
                        "bounds": {"x": 0, "y": 0, "width": 0, "height": 1},
                        "action": {"type": "camera"},
                    }
                ]
            },
            "areas[0].bounds.width",
        ),
    ],
)
def test_each_limit_and_type_is_one_detail(change: dict[str, Any], prop: str) -> None:
    m = Menus()
    status, body = m.call("POST", "/v2/bot/richmenu", menu_with(**change))
    assert status == 400, body
    assert [p for p, _ in details(body)] == [prop]
    # the validate endpoint answers the same, and neither keeps anything
    assert m.call("POST", "/v2/bot/richmenu/validate", menu_with(**change)) == (status, body)
    assert m.rm.state()["richmenus"] == []


def test_the_limits_themselves_are_accepted() -> None:
    m = Menus()
    width = 2500 // 20
    areas = [
        area({"type": "postback", "data": "d" * 300}, x=i * width, width=width) for i in range(20)
    ]
    m.create(menu_with(name="n" * 300, chatBarText="x" * 14, areas=areas))
    m.create(menu_with(areas=[]))
    m.create(menu_with(size={"width": 800, "height": 250}, areas=[]))
    m.create(menu_with(size={"width": 2500.0, "height": 1686}))  # a whole float is a number
    # chatBarText counts grapheme clusters (research §2): 14 family emoji fit
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    m.create(menu_with(chatBarText=family * 14))
    assert m.call("POST", "/v2/bot/richmenu/validate", MENU) == (200, {})
    assert len(m.rm.state()["richmenus"]) == 5


def test_grapheme_counting() -> None:
    assert graphemes("") == 0
    assert graphemes("abc") == 3
    assert graphemes("e\u0301") == 1  # e + combining acute
    assert graphemes("\U0001f1ef\U0001f1f5\U0001f1f9\U0001f1fc") == 2  # two flags
    assert graphemes("\U0001f44d\U0001f3fd") == 1  # skin tone modifier
    assert graphemes("\u2764\ufe0f") == 1  # variation selector
    assert graphemes("\U0001f468\u200d\U0001f469\u200d\U0001f467") == 1
    assert graphemes("\u0301") == 1  # a lone mark is one cluster


def test_bad_json_is_lines_parse_error() -> None:
    m = Menus()
    for body in [
        b"",
        b"{",
        b'{"a":',
        b"[]",
        b"null",
        b'"x"',
        b"NaN",
        b"\xff\xfe",
        b'{"a":"\\ud800"}',
    ]:
        r = m.raw("POST", "/v2/bot/richmenu", body, {"content-type": "application/json"})
        assert r.status == 400, body
        assert json.loads(r.body)["message"].startswith(
            "The request body could not be parsed as JSON (line: "
        )
    r = m.raw("POST", "/v2/bot/richmenu", b'{\n  "a": ,}')
    assert json.loads(r.body) == {
        "message": "The request body could not be parsed as JSON (line: 2, column: 8)"
    }


def test_too_many_menus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(richmenu, "MAX_MENUS", 2)
    m = Menus()
    m.create()
    m.create()
    status, body = m.call("POST", "/v2/bot/richmenu", MENU)
    assert status == 400 and "maximum" in body["message"]
    assert len(m.rm.state()["richmenus"]) == 2


# --- the image ---------------------------------------------------------------------------------


def jpeg(width: int, height: int) -> bytes:
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + sof + b"\xff\xd9"


def test_image_rules() -> None:
    m = Menus()
    menu_id = m.create()
    assert image_size(PNG) == (2500, 1686)
    assert image_size(jpeg(1200, 405)) == (1200, 405)
    assert image_size(b"GIF89a") is None

    def refused(data: bytes, kind: str, status: int, message: str | None = None) -> None:
        r = m.upload(menu_id, data, kind)
        assert r.status == status, (kind, r.body)
        if message is not None:
            assert json.loads(r.body) == {"message": message}
        assert m.rm.state()["richmenus"][0]["image"] is None

    refused(PNG, "image/gif", 415)
    refused(PNG, "", 415)
    refused(b"", "image/png", 400, "The image size is not allowed for richmenu")
    refused(b"not an image", "image/png", 400, "The image size is not allowed for richmenu")
    refused(sample_png(2600, 1686), "image/png", 400, "The image size is not allowed for richmenu")
    refused(sample_png(799, 250), "image/png", 400)
    refused(sample_png(1000, 700), "image/png", 400)  # aspect 1.43
    refused(PNG + b"\x00" * richmenu.IMAGE_MAX_BYTES, "image/png", 400)
    assert m.raw("GET", f"/v2/bot/richmenu/{menu_id}/content").status == 404

    assert m.upload(menu_id, jpeg(2500, 843), "image/jpeg; charset=binary").status == 200
    got = m.raw("GET", f"/v2/bot/richmenu/{menu_id}/content")
    assert (got.body, got.content_type) == (jpeg(2500, 843), "image/jpeg")
    r = m.upload(menu_id, PNG)
    assert (r.status, json.loads(r.body)) == (
        400,
        {"message": "An image has already been uploaded to the richmenu"},
    )
    assert m.raw("GET", f"/v2/bot/richmenu/{menu_id}/content").body == jpeg(2500, 843)

    unknown = "richmenu-" + "0" * 32
    assert m.upload(unknown).status == 404
    assert m.raw("GET", f"/v2/bot/richmenu/{unknown}/content").status == 404


def test_lenient_images_take_any_bytes() -> None:
    m = Menus(strict_images=False, image_max_bytes=10)
    menu_id = m.create()
    assert m.upload(menu_id, b"x" * 11).status == 400
    assert m.upload(menu_id, b"fake").status == 200


# --- per user, in bulk ---------------------------------------------------------------------------


def test_links_go_only_to_friends_and_bad_ids_are_refused() -> None:
    m = Menus()
    menu_id = m.ready()
    # a well-formed id of someone who is no friend: 200, nothing linked [doc]
    assert m.call("POST", f"/v2/bot/user/{STRANGER}/richmenu/{menu_id}") == (200, {})
    assert m.rm.state()["links"] == {}
    assert m.call("GET", f"/v2/bot/user/{STRANGER}/richmenu")[0] == 404
    bad = {"message": "The value for the 'userId' parameter is invalid"}
    for user in ["ada", "u" + "a" * 32, "U" + "A" * 32, "U" + "a" * 31]:
        assert m.call("POST", f"/v2/bot/user/{user}/richmenu/{menu_id}") == (400, bad)
        assert m.call("GET", f"/v2/bot/user/{user}/richmenu") == (400, bad)
        assert m.call("DELETE", f"/v2/bot/user/{user}/richmenu") == (400, bad)
    # an id the simulator knows is fine whatever its form
    m.friends.add("Ualice")
    assert m.call("POST", f"/v2/bot/user/Ualice/richmenu/{menu_id}") == (200, {})
    assert m.rm.menu_of("Ualice") == menu_id
    assert m.call("POST", f"/v2/bot/user/{ADA}/richmenu/richmenu-{'0' * 32}") == (
        404,
        {"message": "Not found"},
    )
    # a friend who blocks the account keeps no menu visible through GET
    m.call("POST", f"/v2/bot/user/{ADA}/richmenu/{menu_id}")
    m.friends.discard(ADA)
    assert m.call("GET", f"/v2/bot/user/{ADA}/richmenu")[0] == 404


def test_bulk_link_and_unlink() -> None:
    m = Menus()
    menu_id = m.ready()
    bulk = {"richMenuId": menu_id, "userIds": [ADA, ALAN, STRANGER, ADA]}
    assert m.call("POST", "/v2/bot/richmenu/bulk/link", bulk) == (202, {})
    assert m.rm.state()["links"] == {ADA: menu_id, ALAN: menu_id}
    assert m.call("POST", "/v2/bot/richmenu/bulk/unlink", {"userIds": [ADA, STRANGER]}) == (202, {})
    assert m.rm.state()["links"] == {ALAN: menu_id}

    many = ["U" + f"{i:032x}" for i in range(500)]
    assert (
        m.call("POST", "/v2/bot/richmenu/bulk/link", {"richMenuId": menu_id, "userIds": many})[0]
        == 202
    )
    assert m.call("POST", "/v2/bot/richmenu/bulk/unlink", {"userIds": many})[0] == 202


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"userIds": [ADA]}, 400, "The request body has 1 error(s)"),
        ({"richMenuId": "rm1", "userIds": [ADA]}, 400, "The request body has 1 error(s)"),
        ({"richMenuId": "richmenu-" + "0" * 32, "userIds": [ADA]}, 404, "richmenu not found"),
        ({"richMenuId": "@MENU@"}, 400, "The request body has 1 error(s)"),
        ({"richMenuId": "@MENU@", "userIds": []}, 400, "The request body has 1 error(s)"),
        ({"richMenuId": "@MENU@", "userIds": [ADA] * 501}, 400, "The request body has 1 error(s)"),
        (
            {"richMenuId": "@MENU@", "userIds": [ADA, 5]},
            400,
            "The property, 'userIds[1]', in the request body is invalid (line: -, column: -)",
        ),
        (
            {"richMenuId": "@MENU@", "userIds": ["bob"]},
            400,
            "The property, 'userIds[0]', in the request body is invalid (line: -, column: -)",
        ),
        (
            {"richMenuId": "@MENU@", "userIds": "bob"},
            400,
            "The property, 'userIds', in the request body is invalid (line: -, column: -)",
        ),
        ({"richMenuId": "@BARE@", "userIds": [ADA]}, 400, richmenu.NO_IMAGE),
    ],
)
def test_bulk_link_refusals(body: dict[str, Any], status: int, message: str) -> None:
    m = Menus()
    ready, bare = m.ready(), m.create()
    text = json.dumps(body).replace("@MENU@", ready).replace("@BARE@", bare)
    r = m.raw("POST", "/v2/bot/richmenu/bulk/link", text.encode())
    assert (r.status, json.loads(r.body)["message"]) == (status, message)
    assert m.rm.state()["links"] == {}
    if "userIds" in body and body["userIds"] == []:
        r = m.raw("POST", "/v2/bot/richmenu/bulk/unlink", b'{"userIds": []}')
        assert r.status == 400


# --- aliases -------------------------------------------------------------------------------------


def test_alias_crud() -> None:
    from linebot.v3.messaging.models import RichMenuAliasListResponse, RichMenuAliasResponse

    m = Menus()
    a, b, bare = m.ready(), m.ready(), m.create()
    assert m.call("GET", "/v2/bot/richmenu/alias/list") == (200, {"aliases": []})
    assert m.call(
        "POST", "/v2/bot/richmenu/alias", {"richMenuAliasId": "tab-a", "richMenuId": a}
    ) == (200, {})
    assert m.call(
        "POST", "/v2/bot/richmenu/alias", {"richMenuAliasId": "tab_b", "richMenuId": b}
    ) == (200, {})
    _, got = m.call("GET", "/v2/bot/richmenu/alias/tab-a")
    assert RichMenuAliasResponse.from_dict(got).rich_menu_id == a
    _, listed = m.call("GET", "/v2/bot/richmenu/alias/list")
    assert [x.rich_menu_alias_id for x in RichMenuAliasListResponse.from_dict(listed).aliases] == [
        "tab-a",
        "tab_b",
    ]
    # documented refusals
    assert m.call(
        "POST", "/v2/bot/richmenu/alias", {"richMenuAliasId": "tab-a", "richMenuId": b}
    ) == (
        400,
        {"message": "conflict richmenu alias id"},
    )
    assert m.call(
        "POST", "/v2/bot/richmenu/alias", {"richMenuAliasId": "c", "richMenuId": bare}
    ) == (
        400,
        {"message": "richmenu not found"},
    )
    status, body = m.call(
        "POST", "/v2/bot/richmenu/alias", {"richMenuAliasId": "c", "richMenuId": "x"}
    )
    assert details(body) == [("richMenuId", "invalid richMenuId")]
    for alias in ["", "A", "a" * 33, "a.b", "tab a", 5, None]:
        status, body = m.call(
            "POST", "/v2/bot/richmenu/alias", {"richMenuAliasId": alias, "richMenuId": a}
        )
        assert status == 400 and [p for p, _ in details(body)] == ["richMenuAliasId"], alias
    # update
    assert m.call("POST", "/v2/bot/richmenu/alias/tab-a", {"richMenuId": b}) == (200, {})
    assert m.call("GET", "/v2/bot/richmenu/alias/tab-a")[1]["richMenuId"] == b
    assert m.call("POST", "/v2/bot/richmenu/alias/nope", {"richMenuId": a}) == (
        404,
        {"message": "richmenu alias not found"},
    )
    assert m.call("POST", "/v2/bot/richmenu/alias/tab-a", {"richMenuId": bare})[0] == 400
    assert m.call("POST", "/v2/bot/richmenu/alias/tab-a", {})[0] == 400
    assert m.call("GET", "/v2/bot/richmenu/alias/tab-a")[1]["richMenuId"] == b
    assert m.call("GET", "/v2/bot/richmenu/alias/BAD")[0] == 400
    # delete
    assert m.call("DELETE", "/v2/bot/richmenu/alias/tab-a") == (200, {})
    assert m.call("GET", "/v2/bot/richmenu/alias/tab-a") == (
        404,
        {"message": "richmenu alias not found"},
    )
    assert m.call("DELETE", "/v2/bot/richmenu/alias/tab-a")[0] == 404
    assert m.rm.state()["aliases"] == {"tab_b": b}


def test_too_many_aliases(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(richmenu, "MAX_ALIASES", 1)
    m = Menus()
    menu_id = m.ready()
    assert (
        m.call("POST", "/v2/bot/richmenu/alias", {"richMenuAliasId": "a", "richMenuId": menu_id})[0]
        == 200
    )
    status, body = m.call(
        "POST", "/v2/bot/richmenu/alias", {"richMenuAliasId": "b", "richMenuId": menu_id}
    )
    assert status == 400 and "maximum" in body["message"]


def test_deleting_a_menu_unlinks_it_everywhere() -> None:
    m = Menus()
    gone, kept = m.ready(), m.ready()
    m.call("POST", f"/v2/bot/user/all/richmenu/{gone}")
    m.call("POST", f"/v2/bot/user/{ADA}/richmenu/{gone}")
    m.call("POST", f"/v2/bot/user/{ALAN}/richmenu/{kept}")
    m.call("POST", "/v2/bot/richmenu/alias", {"richMenuAliasId": "gone", "richMenuId": gone})
    m.call("POST", "/v2/bot/richmenu/alias", {"richMenuAliasId": "kept", "richMenuId": kept})
    assert m.call("DELETE", f"/v2/bot/richmenu/{gone}") == (200, {})
    state = m.rm.state()
    assert [x["richMenuId"] for x in state["richmenus"]] == [kept]
    assert state["default"] is None
    assert state["links"] == {ALAN: kept}
    assert state["aliases"] == {"kept": kept}
    assert m.rm.menu_of(ADA) is None
    for method in ("GET", "DELETE"):
        assert m.call(method, f"/v2/bot/richmenu/{gone}") == (404, {"message": "Not found"})
    assert m.call("POST", f"/v2/bot/user/all/richmenu/{gone}") == (404, {"message": "Not found"})


# --- hostile input -------------------------------------------------------------------------------

BODIES: list[tuple[str, str, Any]] = [
    ("POST", "/v2/bot/richmenu", MENU),
    ("POST", "/v2/bot/richmenu/validate", MENU),
    ("POST", "/v2/bot/richmenu/bulk/link", {"richMenuId": "@MENU@", "userIds": [ADA, ALAN]}),
    ("POST", "/v2/bot/richmenu/bulk/unlink", {"userIds": [ADA]}),
    ("POST", "/v2/bot/richmenu/alias", {"richMenuAliasId": "fuzz", "richMenuId": "@MENU@"}),
    ("POST", "/v2/bot/richmenu/alias/tab", {"richMenuId": "@MENU@"}),
]


def fresh() -> tuple[Menus, str]:
    m = Menus()
    menu_id = m.ready()
    m.call("POST", "/v2/bot/richmenu/alias", {"richMenuAliasId": "tab", "richMenuId": menu_id})
    return m, menu_id


def answered(r: SimResponse) -> Any:
    """Below 500, and a refusal in LINE's shape."""
    assert r.status < 500, r
    if r.status < 400:
        return None
    body = json.loads(r.body)
    assert isinstance(body["message"], str) and body["message"]
    assert set(body) <= {"message", "details"}
    for detail in body.get("details", []):
        assert isinstance(detail["message"], str) and isinstance(detail["property"], str)
    return body


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), which=st.integers(0, len(BODIES) - 1), hostile=hostile_json())
def test_fuzz_hostile_bodies_are_refused_without_change(
    data: st.DataObject, which: int, hostile: str
) -> None:
    m, menu_id = fresh()
    method, path, template = BODIES[which]
    template = json.loads(json.dumps(template).replace("@MENU@", menu_id))
    body = spoiled(data, template, hostile)
    before = m.rm.state()
    r = m.raw(method, path, body, {"content-type": "application/json"})
    answered(r)
    if r.status >= 400:
        assert m.rm.state() == before


@settings(max_examples=150, deadline=None)
@given(
    method=st.sampled_from(["GET", "POST", "DELETE"]),
    segments=st.lists(
        st.one_of(
            st.sampled_from(["richmenu", "alias", "list", "content", "bulk", "user", "all", ADA]),
            st.text(alphabet="\\$^.*+?()[]{}|\r\n\t\x00ab1é\ud800/%", max_size=8),
        ),
        max_size=4,
    ),
    body=st.binary(max_size=64),
    kind=st.sampled_from(["image/png", "image/jpeg", "application/json", "", "text/plain"]),
)
def test_fuzz_any_path_under_richmenu_answers_or_passes(
    method: str, segments: list[str], body: bytes, kind: str
) -> None:
    m, _ = fresh()
    for prefix in ("/v2/bot/richmenu", "/v2/bot/user"):
        path = "/".join([prefix, *segments])
        before = m.rm.state()
        req = SimRequest(method=method, path=path, body=body, headers={"content-type": kind})
        flow = m.rm.route(req, BOT, m.friends.__contains__, 0.0)
        if flow is None:
            continue
        r = run(flow)
        answered(r)
        if r.status >= 400:
            assert m.rm.state() == before


# --- through the simulator: raw HTTP, and the official line-bot-sdk ----------------------------

TOKEN = DEFAULT_LINE["channel_access_token"]
SIM_ADA = DEFAULT_LINE["customers"][0]["user_id"]
SIM_ALAN = DEFAULT_LINE["customers"][1]["user_id"]


@pytest.fixture
def http() -> Iterator[tuple[InProcessSimulator, httpx.Client]]:
    sim = InProcessSimulator(line_sim_config(webhook_url="/_sim/sink"))
    client = httpx.Client(
        transport=sim.transport(),
        base_url=sim.base_url,
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    yield sim, client
    client.close()
    sim.close()


def test_http_menu_default_link_and_a_tap_becomes_a_postback(
    http: tuple[InProcessSimulator, httpx.Client],
) -> None:
    sim, client = http
    menu_id = client.post("/v2/bot/richmenu", json=MENU).json()["richMenuId"]
    r = client.post(f"/v2/bot/user/all/richmenu/{menu_id}")
    assert (r.status_code, r.json()) == (400, {"message": richmenu.NO_IMAGE})
    assert r.headers["x-line-request-id"]
    r = client.post(
        f"/v2/bot/richmenu/{menu_id}/content", content=PNG, headers={"Content-Type": "image/png"}
    )
    assert (r.status_code, r.json()) == (200, {})
    r = client.get(f"/v2/bot/richmenu/{menu_id}/content")
    assert (r.content, r.headers["content-type"]) == (PNG, "image/png")
    assert client.post(f"/v2/bot/user/all/richmenu/{menu_id}").status_code == 200
    other = client.post(
        "/v2/bot/richmenu", json=menu_with(areas=[area({"type": "message", "text": "hours?"})])
    ).json()["richMenuId"]
    client.post(
        f"/v2/bot/richmenu/{other}/content", content=PNG, headers={"Content-Type": "image/png"}
    )
    assert client.post(f"/v2/bot/user/{SIM_ALAN}/richmenu/{other}").status_code == 200

    state = sim.control("GET", "/_sim/state")["line"][DEFAULT_LINE["bot_user_id"]]["rich_menus"]
    assert state["default"] == menu_id and state["links"] == {SIM_ALAN: other}

    # customers tap area 0 of the menu each sees: Ada the default, Alan his own
    for user in (SIM_ADA, SIM_ALAN):
        answer = sim.control(
            "POST", "/_sim/inbound", {"platform": "line", "user": user, "richmenu": {"area": 0}}
        )
        assert "error" not in answer, answer
    events = [
        event
        for request in sim.control("GET", "/_sim/sink")["requests"]
        for event in json.loads(request["body"])["events"]
    ]
    assert events[0]["type"] == "postback" and events[0]["postback"]["data"] == "faq=hours"
    assert events[0]["source"]["userId"] == SIM_ADA
    assert events[1]["type"] == "message" and events[1]["message"]["text"] == "hours?"


def test_http_validation_and_auth(http: tuple[InProcessSimulator, httpx.Client]) -> None:
    _, client = http
    r = client.post("/v2/bot/richmenu", json=menu_with(chatBarText="x" * 15, name=None))
    assert r.status_code == 400
    assert details(r.json()) == [
        ("name", "must be specified"),
        ("chatBarText", "Size must be between 0 and 14"),
    ]
    r = client.get("/v2/bot/richmenu/list", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401
    assert client.get("/v2/bot/richmenu/list").json() == {"richmenus": []}


class ServerThread:
    """The simulator server on a free port, its event loop in a thread (for blocking SDKs)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.server = Simulator(line_sim_config(webhook_url="/_sim/sink"))
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.url = asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(10)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def server() -> Iterator[ServerThread]:
    running = ServerThread()
    yield running
    running.close()


def test_line_bot_sdk_rich_menus_unchanged_but_for_its_host(server: ServerThread) -> None:
    from linebot.v3.messaging import (
        ApiClient,
        ApiException,
        Configuration,
        CreateRichMenuAliasRequest,
        MessagingApi,
        MessagingApiBlob,
        PostbackAction,
        RichMenuArea,
        RichMenuBounds,
        RichMenuBulkLinkRequest,
        RichMenuRequest,
        RichMenuSize,
        UpdateRichMenuAliasRequest,
    )

    config = Configuration(host=server.url, access_token=TOKEN)
    with ApiClient(config) as client:
        api, blob = MessagingApi(client), MessagingApiBlob(client)
        request = RichMenuRequest(
            size=RichMenuSize(width=2500, height=843),
            selected=True,
            name="FAQ",
            chatBarText="Menu",
            areas=[
                RichMenuArea(
                    bounds=RichMenuBounds(x=0, y=0, width=2500, height=843),
                    action=PostbackAction(data="faq=1", displayText="FAQ"),
                )
            ],
        )
        api.validate_rich_menu_object(request)
        menu_id = api.create_rich_menu(request).rich_menu_id
        with pytest.raises(ApiException) as refused:
            api.set_default_rich_menu(menu_id)
        assert refused.value.status == 400
        assert json.loads(refused.value.body)["message"] == richmenu.NO_IMAGE
        blob.set_rich_menu_image(
            menu_id, body=sample_png(2500, 843), _headers={"Content-Type": "image/png"}
        )
        assert bytes(blob.get_rich_menu_image(menu_id)) == sample_png(2500, 843)
        api.set_default_rich_menu(menu_id)
        assert api.get_default_rich_menu_id().rich_menu_id == menu_id
        api.link_rich_menu_id_to_user(SIM_ADA, menu_id)
        assert api.get_rich_menu_id_of_user(SIM_ADA).rich_menu_id == menu_id
        api.link_rich_menu_id_to_users(
            RichMenuBulkLinkRequest(richMenuId=menu_id, userIds=[SIM_ADA, SIM_ALAN])
        )
        api.unlink_rich_menu_id_from_user(SIM_ADA)
        listed = api.get_rich_menu_list().richmenus
        assert [m.rich_menu_id for m in listed] == [menu_id]
        assert api.get_rich_menu(menu_id).areas[0].action.data == "faq=1"

        api.create_rich_menu_alias(
            CreateRichMenuAliasRequest(richMenuAliasId="tab-a", richMenuId=menu_id)
        )
        api.update_rich_menu_alias("tab-a", UpdateRichMenuAliasRequest(richMenuId=menu_id))
        assert api.get_rich_menu_alias("tab-a").rich_menu_id == menu_id
        assert [a.rich_menu_alias_id for a in api.get_rich_menu_alias_list().aliases] == ["tab-a"]
        api.delete_rich_menu_alias("tab-a")
        api.cancel_default_rich_menu()
        api.delete_rich_menu(menu_id)
        with pytest.raises(ApiException) as gone:
            api.get_rich_menu(menu_id)
        assert gone.value.status == 404
        assert api.get_rich_menu_list().richmenus == []
