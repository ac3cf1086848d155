"""LINE rich menus (spec/line.md §7; research §1.2, §2): how a LINE account offers its FAQ menu.

One :class:`RichMenus` per account (the bot whose id ``route`` is given) answers every rich
menu path of ``api.line.me`` and ``api-data.line.me``:

* the menus: create, validate, list, get, delete; the image (``…/content``), uploaded once;
* the default menu (``/v2/bot/user/all/richmenu``) and per-user links, one at a time and in
  bulk (``/v2/bot/richmenu/bulk/link``, ``…/unlink``, both 202);
* aliases (``/v2/bot/richmenu/alias…``), which ``richmenuswitch`` actions name.

Answers are the shapes the official ``line-bot-sdk`` v3 models require (``richMenuId``;
``RichMenuResponse``'s six fields; ``{"richmenus"}``, ``{"aliases"}``); successful empty
answers are ``{}``. Errors are LINE's ``{"message", "details"?}`` with the strings of the
developers.line.biz reference, quoted where it has them ("Not found", "richmenu not found",
"must upload richmenu image before applying it to user", "An image has already been uploaded
to the richmenu", "The image size is not allowed for richmenu", "no default richmenu", "the
user has no richmenu", "richmenu alias not found", "conflict richmenu alias id", "invalid
richMenuId", "must be specified", "invalid uri", "The value for the 'userId' parameter is
invalid", "The property, 'userIds[0]', in the request body is invalid (line: -, column: -)").
Wording the reference does not give is marked UNVERIFIED below.

A refusal changes nothing: every request is checked whole before any state moves. Ids are
deterministic given the order of calls (a counter, hashed with the bot id).
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
import unicodedata
import zlib
from collections.abc import Callable
from typing import Any

import attrs

from ... import safejson
from ...answers import json_response
from ...effects import SimFlow, SimRequest, SimResponse
from .errors import line_error

__all__ = [
    "ACTION_TYPES",
    "ALIAS_ID",
    "IMAGE_MAX_BYTES",
    "MAX_ALIASES",
    "MAX_MENUS",
    "RICH_MENU_ID",
    "USER_ID",
    "RichMenus",
    "graphemes",
    "image_size",
    "sample_png",
    "validate_menu",
]

# --- limits (openapi `messaging-api.yml` unless said otherwise) --------------------------------

NAME_MAX = 300
CHAT_BAR_MAX = 14
AREAS_MAX = 20  # RichMenuResponse.areas maxItems
BULK_MAX = 500  # RichMenuBulkLinkRequest.userIds 1..500
INT_MAX = 2147483647  # size and bounds maximum
WIDTH_MIN, WIDTH_MAX, HEIGHT_MIN, ASPECT_MIN = 800, 2500, 250, 1.45  # rich menu object [doc]
DATA_MAX = 300  # postback / datetimepicker / richmenuswitch data
TEXT_MAX = 300  # message action text, postback displayText [doc]
LABEL_MAX = 20  # UNVERIFIED for rich menus (the action object's label limit)
URI_MAX = 1000  # [doc] URI action uri
CLIPBOARD_MAX = 1000
ALT_URI_MAX = 1000
MAX_MENUS = 1000  # [doc] "up to 1000 rich menus for one LINE Official Account"
MAX_ALIASES = 1000  # [doc] "up to 1000 rich menu aliases per one LINE Official Account"
IMAGE_MAX_BYTES = 1024 * 1024
"""[doc] "Max file size: 1 MB" (whether LINE means 10^6 or 2^20 bytes: UNVERIFIED)."""

RICH_MENU_ID = re.compile(r"richmenu-[0-9a-f]{32}")
ALIAS_ID = re.compile(r"[a-z0-9_-]{1,32}")
USER_ID = re.compile(r"U[0-9a-f]{32}")
"""A well-formed user id (spec §2: ``^U[0-9a-f]{32}$``)."""

ACTION_TYPES = (
    "postback",
    "message",
    "uri",
    "datetimepicker",
    "richmenuswitch",
    "camera",
    "cameraRoll",
    "location",
    "clipboard",
)
"""The ``Action`` discriminator's types. LINE accepts camera, cameraRoll and location in a
rich menu at create time (line/line-bot-mcp-server#121 got a ``richMenuId`` for one), though
the LINE app only handles them in quick replies."""

_URI_SCHEMES = ("http://", "https://", "line://", "tel:")  # [doc] URI action: available schemes
_IMAGE_TYPES = ("image/jpeg", "image/png")
_PICKER_MODES = ("date", "time", "datetime")
_INPUT_OPTIONS = ("closeRichMenu", "openRichMenu", "openKeyboard", "openVoice")

# --- LINE's strings ---------------------------------------------------------------------------

NOT_FOUND = "Not found"  # [doc] get/delete/default/link/download, an unknown menu
MENU_NOT_FOUND = "richmenu not found"  # [doc] alias create/update, bulk link
NO_IMAGE = "must upload richmenu image before applying it to user"  # [doc] set default
IMAGE_EXISTS = "An image has already been uploaded to the richmenu"  # [doc] upload
IMAGE_SIZE = "The image size is not allowed for richmenu"  # [doc] upload
NO_DEFAULT = "no default richmenu"  # [doc]
NO_USER_MENU = "the user has no richmenu"  # [doc]
ALIAS_NOT_FOUND = "richmenu alias not found"  # [doc]
ALIAS_CONFLICT = "conflict richmenu alias id"  # [doc]
BAD_USER = "The value for the 'userId' parameter is invalid"  # [doc]
BAD_MENU_ID = "invalid richMenuId"  # [doc] a detail, property richMenuId
BAD_ALIAS_ID = "invalid richMenuAliasId"  # UNVERIFIED: modelled on "invalid richMenuId"
REQUIRED = "must be specified"  # [doc] create rich menu, a missing key
BAD_URI = "invalid uri"  # [doc] create rich menu
TOO_MANY_MENUS = "The maximum number of richmenus has been reached"  # UNVERIFIED wording
TOO_MANY_ALIASES = "The maximum number of richmenu aliases has been reached"  # UNVERIFIED
UNSUPPORTED_MEDIA = "Unsupported Media Type"  # UNVERIFIED wording of the documented 415


def _property_invalid(prop: str) -> str:
    """[doc] bulk link/unlink: a user id that is not one."""
    return f"The property, '{prop}', in the request body is invalid (line: -, column: -)"


# --- the image -------------------------------------------------------------------------------


def image_size(data: bytes) -> tuple[int, int] | None:
    """The ``(width, height)`` a PNG or JPEG header declares, or ``None`` (not one)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24 and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if not data.startswith(b"\xff\xd8"):
        return None
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # no length
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        if length < 2:
            return None
        # SOF0..SOF15 but DHT (C4), JPG (C8), DAC (CC): precision, height, width
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if i + 9 > len(data):
                return None
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return int(width), int(height)
        i += 2 + length
    return None


def sample_png(width: int = 2500, height: int = 1686) -> bytes:
    """A valid (white, 1-bit) PNG of that size: a rich menu image for tests and examples."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    row = b"\x00" + b"\xff" * ((width + 7) // 8)
    pixels = zlib.compress(row * height, 9)
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def _image_fits(size: tuple[int, int] | None) -> bool:
    """[doc] the image requirements: width 800..2500, height >= 250, width/height >= 1.45."""
    if size is None:
        return False
    width, height = size
    return WIDTH_MIN <= width <= WIDTH_MAX and height >= HEIGHT_MIN and width >= ASPECT_MIN * height


# --- text length -----------------------------------------------------------------------------


def graphemes(text: str) -> int:
    """How many characters LINE counts in rich-menu text (research §2: grapheme clusters).

    An approximation of UAX #29 without tables: combining marks, variation selectors, emoji
    modifiers and tags extend the character before them, a ZWJ joins two, and regional
    indicators pair up into one flag.
    """
    count = 0
    joined = False
    flags = 0
    for ch in text:
        code = ord(ch)
        if ch == "\u200d":
            joined = count > 0
            continue
        extend = (
            unicodedata.category(ch) in ("Mn", "Me", "Mc")
            or 0xFE00 <= code <= 0xFE0F
            or 0x1F3FB <= code <= 0x1F3FF
            or 0xE0020 <= code <= 0xE007F
        )
        if extend and count > 0:
            continue
        if joined:
            joined = False
            continue
        if 0x1F1E6 <= code <= 0x1F1FF:
            flags += 1
            if flags % 2 == 0:
                continue
        else:
            flags = 0
        count += 1
    return count


# --- checking a rich menu object -------------------------------------------------------------


class _Refused(Exception):
    """A request about to be refused with ``answer`` (raised before any state changes)."""

    def __init__(self, answer: SimResponse) -> None:
        super().__init__(answer.status)
        self.answer = answer


def _details(found: list[dict[str, str]]) -> _Refused:
    """LINE's validation error: ``The request body has N error(s)`` with ``details``."""
    return _Refused(line_error(400, f"The request body has {len(found)} error(s)", found))


def _position(body: bytes) -> tuple[str, str]:
    """Where :func:`json.loads` stopped reading a bad body (``-`` when it did not say)."""
    try:
        json.loads(body)
    except json.JSONDecodeError as exc:
        return str(exc.lineno), str(exc.colno)
    except (ValueError, RecursionError):
        pass
    return "-", "-"


def _json_object(body: bytes) -> dict[str, Any]:
    """The request body, a JSON object, or the refusal LINE gives a body it cannot parse."""
    try:
        value = safejson.loads(body)
    except safejson.BadJSON:
        value = None
        line, column = _position(body)
    else:
        line, column = "1", "1"
    if not isinstance(value, dict):
        # [2nd] spec §6; a body that is JSON but not an object: UNVERIFIED (Jackson says so too)
        message = f"The request body could not be parsed as JSON (line: {line}, column: {column})"
        raise _Refused(line_error(400, message))
    return value


@attrs.define
class _Check:
    """The details found so far while checking one body."""

    found: list[dict[str, str]] = attrs.field(factory=list)

    def add(self, prop: str, message: str) -> None:
        self.found.append({"message": message, "property": prop})

    def obj(self, parent: dict[str, Any], key: str, prop: str) -> dict[str, Any] | None:
        value = parent.get(key)
        if value is None:
            self.add(prop, REQUIRED)
            return None
        if not isinstance(value, dict):
            self.add(prop, "Must be an object")  # UNVERIFIED wording
            return None
        return value

    def text(
        self,
        parent: dict[str, Any],
        key: str,
        prop: str,
        *,
        most: int | None = None,
        least: int = 0,
        required: bool = True,
        count: Callable[[str], int] = len,
    ) -> str | None:
        value = parent.get(key)
        if value is None:
            if required:
                self.add(prop, REQUIRED)
            return None
        if not isinstance(value, str):
            self.add(prop, "Must be a string")  # UNVERIFIED wording
            return None
        if (most is not None and count(value) > most) or count(value) < least:
            # UNVERIFIED wording (bean-validation style, as in research §2's live details)
            self.add(prop, f"Size must be between {least} and {most if most is not None else ''}")
            return None
        return value

    def integer(self, parent: dict[str, Any], key: str, prop: str, least: int) -> int | None:
        value = parent.get(key)
        if value is None:
            self.add(prop, REQUIRED)
            return None
        if isinstance(value, float) and value.is_integer() and abs(value) <= INT_MAX:
            value = int(value)  # Jackson reads 2500.0 as a long
        if isinstance(value, bool) or not isinstance(value, int):
            self.add(prop, "Must be an integer")  # UNVERIFIED wording
            return None
        if value < least:
            self.add(prop, f"Must be greater than or equal to {least}")  # UNVERIFIED wording
            return None
        if value > INT_MAX:
            self.add(prop, f"Must be less than or equal to {INT_MAX}")  # UNVERIFIED wording
            return None
        return value

    def choice(
        self, parent: dict[str, Any], key: str, prop: str, values: tuple[str, ...], required: bool
    ) -> str | None:
        value = parent.get(key)
        if value is None:
            if required:
                self.add(prop, REQUIRED)
            return None
        if not isinstance(value, str) or value not in values:
            # the wording of spec §6's message-type detail
            self.add(prop, f"Must be one of the following values: [{', '.join(values)}]")
            return None
        return value


_ACTION_FIELDS: dict[str, tuple[str, ...]] = {
    "postback": ("data", "displayText", "text", "inputOption", "fillInText"),
    "message": ("text",),
    "uri": ("uri", "altUri"),
    "datetimepicker": ("data", "mode", "initial", "max", "min"),
    "richmenuswitch": ("data", "richMenuAliasId"),
    "camera": (),
    "cameraRoll": (),
    "location": (),
    "clipboard": ("clipboardText",),
}


def _uri(check: _Check, value: str | None, prop: str) -> None:
    if value is None:
        return
    if (
        not value.lower().startswith(_URI_SCHEMES)
        or len(value) > URI_MAX
        or any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value)
    ):
        check.add(prop, BAD_URI)


def _action(check: _Check, action: dict[str, Any], prop: str) -> dict[str, Any] | None:
    kind = check.choice(action, "type", f"{prop}.type", ACTION_TYPES, required=True)
    if kind is None:
        return None
    before = len(check.found)
    check.text(action, "label", f"{prop}.label", most=LABEL_MAX, required=False, count=graphemes)
    if kind == "postback":
        check.text(action, "data", f"{prop}.data", most=DATA_MAX)
        for key in ("displayText", "text", "fillInText"):
            check.text(action, key, f"{prop}.{key}", most=TEXT_MAX, required=False)
        check.choice(action, "inputOption", f"{prop}.inputOption", _INPUT_OPTIONS, False)
    elif kind == "message":
        check.text(action, "text", f"{prop}.text", most=TEXT_MAX, least=1)
    elif kind == "uri":
        _uri(check, check.text(action, "uri", f"{prop}.uri"), f"{prop}.uri")
        if action.get("altUri") is not None:
            alt = check.obj(action, "altUri", f"{prop}.altUri")
            if alt is not None:
                desktop = check.text(alt, "desktop", f"{prop}.altUri.desktop", most=ALT_URI_MAX)
                _uri(check, desktop, f"{prop}.altUri.desktop")
    elif kind == "datetimepicker":
        check.text(action, "data", f"{prop}.data", most=DATA_MAX)
        check.choice(action, "mode", f"{prop}.mode", _PICKER_MODES, required=True)
        for key in ("initial", "max", "min"):  # their formats per mode: not checked
            check.text(action, key, f"{prop}.{key}", most=100, required=False)
    elif kind == "richmenuswitch":
        check.text(action, "data", f"{prop}.data", most=DATA_MAX)
        alias = check.text(action, "richMenuAliasId", f"{prop}.richMenuAliasId", most=32)
        if alias is not None and not ALIAS_ID.fullmatch(alias):
            check.add(f"{prop}.richMenuAliasId", BAD_ALIAS_ID)
    elif kind == "clipboard":
        check.text(action, "clipboardText", f"{prop}.clipboardText", most=CLIPBOARD_MAX, least=1)
    if len(check.found) > before:
        return None
    kept = ("type", "label", *_ACTION_FIELDS[kind])
    return {key: action[key] for key in kept if action.get(key) is not None}


def validate_menu(body: dict[str, Any]) -> dict[str, Any]:
    """The rich menu object a create or validate request holds, as LINE keeps it.

    Raises:
        _Refused: ``The request body has N error(s)`` with one detail per wrong property.
    """
    check = _Check()
    width = height = None
    size = check.obj(body, "size", "size")
    if size is not None:
        width = check.integer(size, "width", "size.width", 1)
        height = check.integer(size, "height", "size.height", 1)
        if width is not None and not WIDTH_MIN <= width <= WIDTH_MAX:
            check.add("size.width", f"Must be between {WIDTH_MIN} and {WIDTH_MAX}")  # UNVERIFIED
            width = None
        if height is not None and height < HEIGHT_MIN:
            check.add("size.height", f"Must be greater than or equal to {HEIGHT_MIN}")  # UNVERIFIED
            height = None
        if width is not None and height is not None and width < ASPECT_MIN * height:
            # [doc] the aspect-ratio rule; its wording: UNVERIFIED
            check.add("size", f"The aspect ratio (width / height) must be at least {ASPECT_MIN}")
            width = height = None
    selected = body.get("selected")
    if selected is None:
        check.add("selected", REQUIRED)
    elif not isinstance(selected, bool):
        check.add("selected", "Must be a boolean")  # UNVERIFIED wording
    name = check.text(body, "name", "name", most=NAME_MAX, count=graphemes)
    bar = check.text(body, "chatBarText", "chatBarText", most=CHAT_BAR_MAX, count=graphemes)
    kept_areas: list[dict[str, Any]] = []
    areas = body.get("areas")
    if areas is None:
        check.add("areas", REQUIRED)
    elif not isinstance(areas, list):
        check.add("areas", "Must be an array")  # UNVERIFIED wording
    elif len(areas) > AREAS_MAX:
        check.add("areas", f"Size must be between 0 and {AREAS_MAX}")  # UNVERIFIED wording
    else:
        for i, area in enumerate(areas):
            prop = f"areas[{i}]"
            if not isinstance(area, dict):
                check.add(prop, "Must be an object")  # UNVERIFIED wording
                continue
            kept = _area(check, area, prop, width, height)
            if kept is not None:
                kept_areas.append(kept)
    if check.found:
        raise _details(check.found)
    if width is None or height is None or name is None or bar is None:  # pragma: no cover
        raise _details([{"message": REQUIRED, "property": "size"}])
    return {
        "size": {"width": width, "height": height},
        "selected": selected,
        "name": name,
        "chatBarText": bar,
        "areas": kept_areas,
    }


def _area(
    check: _Check, area: dict[str, Any], prop: str, width: int | None, height: int | None
) -> dict[str, Any] | None:
    before = len(check.found)
    bounds = check.obj(area, "bounds", f"{prop}.bounds")
    box: dict[str, int] = {}
    if bounds is not None:
        for key, least in (("x", 0), ("y", 0), ("width", 1), ("height", 1)):
            value = check.integer(bounds, key, f"{prop}.bounds.{key}", least)
            if value is not None:
                box[key] = value
        outside = (
            len(box) == 4
            and width is not None
            and height is not None
            and (box["x"] + box["width"] > width or box["y"] + box["height"] > height)
        )
        if outside:
            # UNVERIFIED: that LINE refuses an area outside the menu, and the wording
            check.add(f"{prop}.bounds", "The area must be within the rich menu size")
    action = check.obj(area, "action", f"{prop}.action")
    kept = _action(check, action, f"{prop}.action") if action is not None else None
    if len(check.found) > before or kept is None:
        return None
    return {"bounds": box, "action": kept}


# --- the state -------------------------------------------------------------------------------


@attrs.define
class _Menu:
    id: str
    menu: dict[str, Any]
    image: bytes | None = None
    image_type: str | None = None

    def answer(self) -> dict[str, Any]:
        """The ``RichMenuResponse`` (all six fields required by the SDK's model)."""
        return {"richMenuId": self.id, **json.loads(json.dumps(self.menu))}


_OK: dict[str, Any] = {}


def _empty(status: int = 200) -> SimResponse:
    return json_response(_OK, status)


class RichMenus:
    """One account's rich menus, default menu, per-user links and aliases."""

    def __init__(self, *, strict_images: bool = True, image_max_bytes: int = IMAGE_MAX_BYTES):
        """``strict_images``: refuse an upload whose bytes are not a PNG or JPEG meeting the
        size requirements (off: any bytes of an accepted Content-Type will do)."""
        self.strict_images = strict_images
        self.image_max_bytes = image_max_bytes
        self._menus: dict[str, _Menu] = {}
        self._default: str | None = None
        self._links: dict[str, str] = {}
        self._aliases: dict[str, str] = {}
        self._made = 0

    # --- the contract's views --------------------------------------------------------------

    def menu_of(self, user_id: str) -> str | None:
        """The menu ``user_id`` sees: the one linked to them, else the default (or ``None``)."""
        linked = self._links.get(user_id)
        if linked is not None and linked in self._menus:
            return linked
        return self._default

    def action_at(self, menu_id: str, area_index: int) -> dict[str, Any] | None:
        """The action object of area ``area_index`` of menu ``menu_id`` (a copy), or ``None``."""
        menu = self._menus.get(menu_id)
        if menu is None or isinstance(area_index, bool) or not isinstance(area_index, int):
            return None
        areas = menu.menu["areas"]
        if not 0 <= area_index < len(areas):
            return None
        action: dict[str, Any] = json.loads(json.dumps(areas[area_index]["action"]))
        return action

    def state(self) -> dict[str, Any]:
        """A JSON snapshot: menus (with their image's type and size), default, links, aliases."""
        return {
            "richmenus": [
                {
                    **m.answer(),
                    "image": None
                    if m.image is None
                    else {"contentType": m.image_type, "bytes": len(m.image)},
                }
                for m in self._menus.values()
            ],
            "default": self._default,
            "links": dict(self._links),
            "aliases": dict(self._aliases),
        }

    # --- routing ---------------------------------------------------------------------------

    def route(
        self, req: SimRequest, bot: str, users: Callable[[str], bool], now: float
    ) -> SimFlow[SimResponse] | None:
        """The flow answering ``req`` if it is a rich menu path, else ``None``.

        ``users(user_id)``: is that user a friend of the account (LINE links a menu only to
        friends, and answers 200 or 202 without linking for anyone else).
        """
        handler = self._handler(req, bot, users)
        if handler is None:
            return None
        return self._flow(handler)

    def _flow(self, handler: Callable[[], SimResponse]) -> SimFlow[SimResponse]:
        yield from ()  # a flow that needs no effect
        try:
            return handler()
        except _Refused as refused:
            return refused.answer

    def _handler(
        self, req: SimRequest, bot: str, users: Callable[[str], bool]
    ) -> Callable[[], SimResponse] | None:
        method = req.method.upper()
        parts = req.path.split("/")
        if len(parts) < 4 or parts[0] != "" or parts[1:3] != ["v2", "bot"]:
            return None
        rest = parts[3:]
        if rest and rest[0] == "richmenu":
            return self._menu_paths(method, rest[1:], req, bot, users)
        if len(rest) >= 3 and rest[0] == "user" and rest[2] == "richmenu":
            return self._user_paths(method, rest[1], rest[3:], users)
        return None

    def _menu_paths(
        self,
        method: str,
        rest: list[str],
        req: SimRequest,
        bot: str,
        users: Callable[[str], bool],
    ) -> Callable[[], SimResponse] | None:
        table: dict[tuple[str, ...], dict[str, Callable[[], SimResponse]]] = {
            (): {"POST": lambda: self._create(req, bot)},
            ("validate",): {"POST": lambda: self._validate(req)},
            ("list",): {"GET": self._list},
            ("bulk", "link"): {"POST": lambda: self._bulk_link(req, users)},
            ("bulk", "unlink"): {"POST": lambda: self._bulk_unlink(req)},
            ("alias",): {"POST": lambda: self._alias_create(req)},
            ("alias", "list"): {"GET": self._alias_list},
        }
        key = tuple(rest)
        if key in table:
            return table[key].get(method)
        if len(rest) == 2 and rest[0] == "alias" and rest[1]:
            alias = rest[1]
            return {
                "GET": lambda: self._alias_get(alias),
                "POST": lambda: self._alias_update(alias, req),
                "DELETE": lambda: self._alias_delete(alias),
            }.get(method)
        if len(rest) == 1 and rest[0] and rest[0] not in ("bulk", "batch"):
            menu_id = rest[0]
            return {
                "GET": lambda: self._get(menu_id),
                "DELETE": lambda: self._delete(menu_id),
            }.get(method)
        if len(rest) == 2 and rest[0] and rest[1] == "content":
            menu_id = rest[0]
            return {
                "POST": lambda: self._upload(menu_id, req),
                "GET": lambda: self._download(menu_id),
            }.get(method)
        return None

    def _user_paths(
        self, method: str, user: str, rest: list[str], users: Callable[[str], bool]
    ) -> Callable[[], SimResponse] | None:
        if not user:
            return None
        if user == "all":
            if not rest:
                return {"GET": self._default_get, "DELETE": self._default_cancel}.get(method)
            if len(rest) == 1 and rest[0] and method == "POST":
                menu_id = rest[0]
                return lambda: self._default_set(menu_id)
            return None
        if not rest:
            return {
                "GET": lambda: self._user_get(user, users),
                "DELETE": lambda: self._user_unlink(user, users),
            }.get(method)
        if len(rest) == 1 and rest[0] and method == "POST":
            menu_id = rest[0]
            return lambda: self._user_link(user, menu_id, users)
        return None

    # --- helpers ---------------------------------------------------------------------------

    def _menu(self, menu_id: str) -> _Menu:
        menu = self._menus.get(menu_id)
        if menu is None:
            raise _Refused(line_error(404, NOT_FOUND))
        return menu

    @staticmethod
    def _user_ok(user: str, users: Callable[[str], bool]) -> bool:
        """A well-formed user id (or one the simulator knows, whatever its form)."""
        return bool(USER_ID.fullmatch(user)) or bool(users(user))

    def _new_id(self, bot: str) -> str:
        while True:
            self._made += 1
            seed = f"omnimsg-sim:{bot}:richmenu:{self._made}".encode()
            menu_id = "richmenu-" + hashlib.sha256(seed).hexdigest()[:32]
            if menu_id not in self._menus:
                return menu_id

    def _target(self, body: dict[str, Any], missing_is_404: bool) -> _Menu:
        """The menu a bulk-link or alias body names (``richMenuId``)."""
        menu_id = body.get("richMenuId")
        if menu_id is None:
            raise _details([{"message": REQUIRED, "property": "richMenuId"}])
        if not isinstance(menu_id, str) or not RICH_MENU_ID.fullmatch(menu_id):
            raise _details([{"message": BAD_MENU_ID, "property": "richMenuId"}])
        menu = self._menus.get(menu_id)
        if menu is None:
            raise _Refused(line_error(404 if missing_is_404 else 400, MENU_NOT_FOUND))
        return menu

    @staticmethod
    def _user_ids(body: dict[str, Any], users: Callable[[str], bool] | None) -> list[str]:
        ids = body.get("userIds")
        if ids is None:
            raise _details([{"message": REQUIRED, "property": "userIds"}])
        if not isinstance(ids, list):
            raise _Refused(line_error(400, _property_invalid("userIds")))
        if not 1 <= len(ids) <= BULK_MAX:
            # UNVERIFIED wording (openapi: 1..500 items)
            raise _details(
                [{"message": f"Size must be between 1 and {BULK_MAX}", "property": "userIds"}]
            )
        for i, user in enumerate(ids):
            ok = isinstance(user, str) and (
                bool(USER_ID.fullmatch(user)) or (users is not None and bool(users(user)))
            )
            if not ok:
                raise _Refused(line_error(400, _property_invalid(f"userIds[{i}]")))
        return list(dict.fromkeys(ids))

    # --- menus -----------------------------------------------------------------------------

    def _create(self, req: SimRequest, bot: str) -> SimResponse:
        menu = validate_menu(_json_object(req.body))
        if len(self._menus) >= MAX_MENUS:
            raise _Refused(line_error(400, TOO_MANY_MENUS))
        menu_id = self._new_id(bot)
        self._menus[menu_id] = _Menu(id=menu_id, menu=menu)
        return json_response({"richMenuId": menu_id})

    def _validate(self, req: SimRequest) -> SimResponse:
        validate_menu(_json_object(req.body))
        return _empty()

    def _list(self) -> SimResponse:
        return json_response({"richmenus": [m.answer() for m in self._menus.values()]})

    def _get(self, menu_id: str) -> SimResponse:
        return json_response(self._menu(menu_id).answer())

    def _delete(self, menu_id: str) -> SimResponse:
        self._menu(menu_id)
        del self._menus[menu_id]
        # UNVERIFIED: LINE unlinks a deleted menu from its users and as the default (the
        # reference only says it is deleted); aliases pointing at it go with it here too.
        if self._default == menu_id:
            self._default = None
        for user in [u for u, m in self._links.items() if m == menu_id]:
            del self._links[user]
        for alias in [a for a, m in self._aliases.items() if m == menu_id]:
            del self._aliases[alias]
        return _empty()

    def _upload(self, menu_id: str, req: SimRequest) -> SimResponse:
        menu = self._menu(menu_id)
        kind = req.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind not in _IMAGE_TYPES:
            raise _Refused(line_error(415, UNSUPPORTED_MEDIA))  # [doc] 415
        if menu.image is not None:
            # [doc] "You can't replace an image set to a rich menu" (400, checked before the
            # image itself: UNVERIFIED order)
            raise _Refused(line_error(400, IMAGE_EXISTS))
        data = req.body
        if not data or len(data) > self.image_max_bytes:
            raise _Refused(line_error(400, IMAGE_SIZE))  # UNVERIFIED: the 1 MB case's answer
        if self.strict_images and not _image_fits(image_size(data)):
            # [doc] the image requirements; whether the image must also match the menu's
            # size object, and what a body that is no image gets: UNVERIFIED (refused here)
            raise _Refused(line_error(400, IMAGE_SIZE))
        menu.image = bytes(data)
        menu.image_type = kind
        return _empty()

    def _download(self, menu_id: str) -> SimResponse:
        menu = self._menu(menu_id)
        if menu.image is None or menu.image_type is None:
            raise _Refused(line_error(404, NOT_FOUND))  # [doc] 404, no image set
        return SimResponse(status=200, body=menu.image, content_type=menu.image_type)

    # --- the default menu ------------------------------------------------------------------

    def _default_set(self, menu_id: str) -> SimResponse:
        menu = self._menu(menu_id)
        if menu.image is None:
            raise _Refused(line_error(400, NO_IMAGE))
        self._default = menu_id
        return _empty()

    def _default_get(self) -> SimResponse:
        if self._default is None:
            raise _Refused(line_error(404, NO_DEFAULT))
        return json_response({"richMenuId": self._default})

    def _default_cancel(self) -> SimResponse:
        self._default = None  # UNVERIFIED: 200 when no default is set, too
        return _empty()

    # --- per user --------------------------------------------------------------------------

    def _user_link(self, user: str, menu_id: str, users: Callable[[str], bool]) -> SimResponse:
        if not self._user_ok(user, users):
            raise _Refused(line_error(400, BAD_USER))
        menu = self._menu(menu_id)
        if menu.image is None:
            raise _Refused(line_error(400, NO_IMAGE))
        if users(user):
            self._links[user] = menu_id
        # [doc] a user who is not a friend (blocked, never added, another provider's id):
        # 200, and nothing is linked
        return _empty()

    def _user_get(self, user: str, users: Callable[[str], bool]) -> SimResponse:
        if not self._user_ok(user, users):
            raise _Refused(line_error(400, BAD_USER))
        linked = self._links.get(user)
        if linked is None or not users(user):
            # [doc] 404: not linked (the default does not count), unknown, or not a friend
            raise _Refused(line_error(404, NO_USER_MENU))
        return json_response({"richMenuId": linked})

    def _user_unlink(self, user: str, users: Callable[[str], bool]) -> SimResponse:
        if not self._user_ok(user, users):
            raise _Refused(line_error(400, BAD_USER))
        self._links.pop(user, None)
        return _empty()

    def _bulk_link(self, req: SimRequest, users: Callable[[str], bool]) -> SimResponse:
        body = _json_object(req.body)
        # [doc] an invalid user id, an invalid richMenuId, no image: 400; unknown menu: 404.
        # The order LINE checks them in: UNVERIFIED.
        ids = self._user_ids(body, users)
        menu = self._target(body, missing_is_404=True)
        if menu.image is None:
            raise _Refused(line_error(400, NO_IMAGE))  # UNVERIFIED wording for bulk link
        for user in ids:
            if users(user):  # [doc] 202, but only friends get the menu
                self._links[user] = menu.id
        return _empty(202)

    def _bulk_unlink(self, req: SimRequest) -> SimResponse:
        body = _json_object(req.body)
        for user in self._user_ids(body, None):
            self._links.pop(user, None)
        return _empty(202)

    # --- aliases ---------------------------------------------------------------------------

    @staticmethod
    def _alias_id(alias: Any, *, in_body: bool) -> str:
        if in_body and alias is None:
            raise _details([{"message": REQUIRED, "property": "richMenuAliasId"}])
        if not isinstance(alias, str) or not ALIAS_ID.fullmatch(alias):
            if in_body:
                raise _details([{"message": BAD_ALIAS_ID, "property": "richMenuAliasId"}])
            raise _Refused(line_error(400, BAD_ALIAS_ID))  # [doc] 400; wording UNVERIFIED
        return alias

    def _aliased(self, body: dict[str, Any]) -> _Menu:
        menu = self._target(body, missing_is_404=False)
        if menu.image is None:
            raise _Refused(line_error(400, MENU_NOT_FOUND))  # [doc] no image: "richmenu not found"
        return menu

    def _alias_create(self, req: SimRequest) -> SimResponse:
        body = _json_object(req.body)
        alias = self._alias_id(body.get("richMenuAliasId"), in_body=True)
        menu = self._aliased(body)
        if alias in self._aliases:
            raise _Refused(line_error(400, ALIAS_CONFLICT))
        if len(self._aliases) >= MAX_ALIASES:
            raise _Refused(line_error(400, TOO_MANY_ALIASES))
        self._aliases[alias] = menu.id
        return _empty()

    def _alias_update(self, alias: str, req: SimRequest) -> SimResponse:
        alias = self._alias_id(alias, in_body=False)
        body = _json_object(req.body)
        if alias not in self._aliases:
            raise _Refused(line_error(404, ALIAS_NOT_FOUND))
        menu = self._aliased(body)
        self._aliases[alias] = menu.id
        return _empty()

    def _alias_get(self, alias: str) -> SimResponse:
        alias = self._alias_id(alias, in_body=False)
        menu_id = self._aliases.get(alias)
        if menu_id is None:
            raise _Refused(line_error(404, ALIAS_NOT_FOUND))
        return json_response({"richMenuAliasId": alias, "richMenuId": menu_id})

    def _alias_list(self) -> SimResponse:
        aliases = [{"richMenuAliasId": a, "richMenuId": m} for a, m in self._aliases.items()]
        return json_response({"aliases": aliases})

    def _alias_delete(self, alias: str) -> SimResponse:
        alias = self._alias_id(alias, in_body=False)
        if alias not in self._aliases:
            raise _Refused(line_error(404, ALIAS_NOT_FOUND))
        del self._aliases[alias]
        return _empty()
