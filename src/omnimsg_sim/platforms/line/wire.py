"""Message objects and send bodies, checked as LINE checks them (spec/line.md §3; research §2).

The official client checks only the counts (messages 1-5, quick-reply items ≤13, multicast
``to`` ≤500) before sending; everything else is LINE's to refuse, with ``The request body has
N error(s)`` and one ``details`` entry per problem, at its property path (``messages[0].text``).
Every problem of a body is reported, as LINE does, not just the first.
"""

from __future__ import annotations

import re
from typing import Any

from .errors import Detail

__all__ = [
    "CHAT_ID",
    "MAX_MESSAGES",
    "MAX_QUICK_REPLIES",
    "MESSAGE_TYPES",
    "USER_ID",
    "check_messages",
    "utf16_len",
]

MESSAGE_TYPES = (
    "text",
    "textV2",
    "sticker",
    "image",
    "video",
    "audio",
    "location",
    "imagemap",
    "template",
    "flex",
    "coupon",
)
"""The ``Message`` discriminator's values (spec §3)."""
MAX_MESSAGES = 5
MAX_QUICK_REPLIES = 13
MAX_TEXT = 5000  # UTF-16 code units (spec §3)
MAX_URL = 2000
MAX_ALT_TEXT = 400  # templates (legacy + 2nd, spec §3)
MAX_FLEX_ALT_TEXT = 1500  # flex: 400 in legacy sources, 1500 in the current docs (spec §3,
# UNVERIFIED): the newer figure, as the SDK's pre-flight (``LinePolicy.flex_alt_text_max``)
MAX_TEXT_WITH_TITLE = 60  # buttons and carousel text with an image or a title (spec §3)
USER_ID = re.compile(r"U[0-9a-f]{32}")
CHAT_ID = re.compile(r"[UCR][0-9a-f]{32}")
ACTION_TYPES = (
    "postback",
    "message",
    "uri",
    "datetimepicker",
    "camera",
    "cameraRoll",
    "location",
    "richmenuswitch",
    "clipboard",
)
_TEMPLATES = ("buttons", "confirm", "carousel", "image_carousel")
_EMPTY = "May not be empty"
_REQUIRED = "must be specified"  # UNVERIFIED wording


def utf16_len(text: str) -> int:
    """LINE's length: UTF-16 code units (an emoji outside the BMP counts 2)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _one_of(options: tuple[str, ...]) -> str:
    return f"Must be one of the following values: [{', '.join(options)}]"


def _size(low: int, high: int) -> str:
    return f"Size must be between {low} and {high}"


def _length(low: int, high: int) -> str:
    return f"Length must be between {low} and {high}"


class _Check:
    """Collects the details of one body."""

    def __init__(self) -> None:
        self.details: list[Detail] = []

    def add(self, message: str, prop: str) -> None:
        self.details.append(Detail(message, prop))

    def text(
        self,
        obj: dict[str, Any],
        key: str,
        where: str,
        *,
        limit: int | None = None,
        required: bool = True,
        units: bool = True,
    ) -> str | None:
        value = obj.get(key)
        prop = f"{where}.{key}"
        if value is None:
            if required:
                self.add(_EMPTY, prop)
            return None
        if not isinstance(value, str):
            self.add("Must be a string", prop)  # UNVERIFIED wording
            return None
        if required and not value:
            self.add(_EMPTY, prop)
        elif limit is not None and (utf16_len(value) if units else len(value)) > limit:
            self.add(_length(0, limit), prop)
        return value

    def url(self, obj: dict[str, Any], key: str, where: str, *, required: bool = True) -> None:
        value = self.text(obj, key, where, limit=MAX_URL, required=required)
        if value and not value.startswith("https://"):
            self.add("Must be a valid HTTPS URL", f"{where}.{key}")  # UNVERIFIED wording

    def number(self, obj: dict[str, Any], key: str, where: str, *, integer: bool = False) -> None:
        value = obj.get(key)
        kinds: tuple[type, ...] = (int,) if integer else (int, float)
        if value is None:
            self.add(_REQUIRED, f"{where}.{key}")
        elif isinstance(value, bool) or not isinstance(value, kinds):
            self.add("Must be a number", f"{where}.{key}")  # UNVERIFIED wording

    def obj(self, value: Any, where: str) -> dict[str, Any] | None:
        if value is None:
            self.add(_REQUIRED, where)
            return None
        if not isinstance(value, dict):
            self.add("Must be an object", where)  # UNVERIFIED wording
            return None
        return value

    def array(self, value: Any, where: str, low: int, high: int) -> list[Any] | None:
        if value is None:
            self.add(_REQUIRED, where)
            return None
        if not isinstance(value, list):
            self.add("Must be an array", where)  # UNVERIFIED wording
            return None
        if not low <= len(value) <= high:
            self.add(_size(low, high), where)
        return value

    def action(self, value: Any, where: str) -> None:
        action = self.obj(value, where)
        if action is None:
            return
        kind = action.get("type")
        if kind not in ACTION_TYPES:
            self.add(_one_of(ACTION_TYPES), f"{where}.type")
            return
        # Action labels count grapheme clusters, not UTF-16 units (research §2, LINE's
        # text-character-count page); code points here, as the SDK's pre-flight counts.
        self.text(action, "label", where, limit=20, required=False, units=False)
        if kind in ("postback", "datetimepicker", "richmenuswitch"):
            self.text(action, "data", where, limit=300)
        if kind == "message":
            self.text(action, "text", where, limit=300)
        if kind == "uri":
            self.text(action, "uri", where, limit=1000)
        if kind == "datetimepicker" and action.get("mode") not in ("date", "time", "datetime"):
            self.add(_one_of(("date", "time", "datetime")), f"{where}.mode")
        if kind == "richmenuswitch":
            self.text(action, "richMenuAliasId", where, limit=32)
        if kind == "clipboard":
            self.text(action, "clipboardText", where, limit=1000)

    def message(self, value: Any, where: str) -> None:
        msg = self.obj(value, where)
        if msg is None:
            return
        kind = msg.get("type")
        if kind not in MESSAGE_TYPES:
            self.add(_one_of(MESSAGE_TYPES), f"{where}.type")
            return
        if kind in ("text", "textV2"):
            self.text(msg, "text", where, limit=MAX_TEXT)
            if kind == "textV2" and msg.get("substitution") is not None:
                self.obj(msg["substitution"], f"{where}.substitution")
            emojis = msg.get("emojis")
            if emojis is not None:
                self.array(emojis, f"{where}.emojis", 0, 20)
        elif kind == "sticker":
            self.text(msg, "packageId", where)
            self.text(msg, "stickerId", where)
        elif kind in ("image", "video"):
            self.url(msg, "originalContentUrl", where)
            self.url(msg, "previewImageUrl", where)
            if kind == "video":
                self.text(msg, "trackingId", where, limit=100, required=False)
        elif kind == "audio":
            self.url(msg, "originalContentUrl", where)
            self.number(msg, "duration", where, integer=True)
        elif kind == "location":
            self.text(msg, "title", where, limit=100)
            self.text(msg, "address", where, limit=100)
            self.number(msg, "latitude", where)
            self.number(msg, "longitude", where)
        elif kind == "imagemap":
            self.url(msg, "baseUrl", where)
            self.text(msg, "altText", where, limit=MAX_ALT_TEXT)
            self.obj(msg.get("baseSize"), f"{where}.baseSize")
            self.array(msg.get("actions"), f"{where}.actions", 0, 50)
        elif kind == "template":
            self.text(msg, "altText", where, limit=MAX_ALT_TEXT)
            self._template(msg.get("template"), f"{where}.template")
        elif kind == "flex":
            self.text(msg, "altText", where, limit=MAX_FLEX_ALT_TEXT)
            contents = self.obj(msg.get("contents"), f"{where}.contents")
            if contents is not None and contents.get("type") not in ("bubble", "carousel"):
                self.add(_one_of(("bubble", "carousel")), f"{where}.contents.type")
            if contents is not None and contents.get("type") == "carousel":
                self.array(contents.get("contents"), f"{where}.contents.contents", 1, 12)
        elif kind == "coupon":
            self.text(msg, "couponId", where)
        quick = msg.get("quickReply")
        if quick is not None:
            qr = self.obj(quick, f"{where}.quickReply")
            items = (
                None
                if qr is None
                else self.array(qr.get("items"), f"{where}.quickReply.items", 1, MAX_QUICK_REPLIES)
            )
            for i, item in enumerate(items or ()):
                at = f"{where}.quickReply.items[{i}]"
                entry = self.obj(item, at)
                if entry is None:
                    continue
                if entry.get("type") != "action":
                    self.add(_one_of(("action",)), f"{at}.type")
                self.url(entry, "imageUrl", at, required=False)
                self.action(entry.get("action"), f"{at}.action")
        sender = msg.get("sender")
        if sender is not None:
            s = self.obj(sender, f"{where}.sender")
            if s is not None:
                self.text(s, "name", f"{where}.sender", limit=20, required=False)
                self.url(s, "iconUrl", f"{where}.sender", required=False)

    def _template(self, value: Any, where: str) -> None:
        template = self.obj(value, where)
        if template is None:
            return
        kind = template.get("type")
        if kind not in _TEMPLATES:
            self.add(_one_of(_TEMPLATES), f"{where}.type")
            return
        if kind == "buttons":
            self.text(template, "title", where, limit=40, required=False)
            # spec §3: text ≤160, ≤60 with an image or a title.
            self.text(template, "text", where, limit=_text_limit(template, 160))
            self._actions(template.get("actions"), f"{where}.actions", 1, 4)
        elif kind == "confirm":
            self.text(template, "text", where, limit=240)
            self._actions(template.get("actions"), f"{where}.actions", 2, 2)
        else:
            columns = self.array(template.get("columns"), f"{where}.columns", 1, 10)
            widths = set()
            for i, column in enumerate(columns or ()):
                at = f"{where}.columns[{i}]"
                col = self.obj(column, at)
                if col is None:
                    continue
                if kind == "carousel":
                    # spec §3: text ≤120, ≤60 with an image or a title.
                    self.text(col, "text", at, limit=_text_limit(col, 120))
                    actions = col.get("actions")
                    widths.add(len(actions) if isinstance(actions, list) else -1)
                    self._actions(actions, f"{at}.actions", 1, 3)
                else:
                    self.url(col, "imageUrl", at)
                    self.action(col.get("action"), f"{at}.action")
            if len(widths) > 1:
                # Every column has the same number of actions (research §2, python#38).
                self.add("All columns must have the same number of actions", f"{where}.columns")

    def _actions(self, value: Any, where: str, low: int, high: int) -> None:
        for i, action in enumerate(self.array(value, where, low, high) or ()):
            self.action(action, f"{where}[{i}]")


def _text_limit(obj: dict[str, Any], limit: int) -> int:
    """A buttons or carousel column's text limit: 60 with an image or a title (spec §3)."""
    if obj.get("title") or obj.get("thumbnailImageUrl"):
        return MAX_TEXT_WITH_TITLE
    return limit


def check_messages(body: dict[str, Any]) -> list[Detail]:
    """Every problem of ``body["messages"]`` (and ``notificationDisabled``), as details."""
    c = _Check()
    messages = c.array(body.get("messages"), "messages", 1, MAX_MESSAGES)
    for i, message in enumerate((messages or ())[: MAX_MESSAGES * 4]):
        c.message(message, f"messages[{i}]")
    flag = body.get("notificationDisabled")
    if flag is not None and not isinstance(flag, bool):
        c.add("Must be a boolean", "notificationDisabled")  # UNVERIFIED wording
    return c.details
