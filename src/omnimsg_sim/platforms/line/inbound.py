"""What a LINE user may do through ``POST /_sim/inbound``, checked before anything changes.

The body names ``"platform": "line"``, the bot (``account``: its bot user id, optional with
one account), the user (``user``: ``U`` and 32 hex digits) and exactly one action, each the
shorthand of a webhook event of spec/line.md §2:

* ``"text": "hi"`` — a text message (``"emojis"``, ``"mention"``, ``"quotedMessageId"`` may
  go with it);
* ``"image"`` / ``"video"`` / ``"audio"`` / ``"file"``: ``{"data_base64", "mime_type"?}``
  (kept, served at ``/v2/bot/message/{id}/content``; ``"duration"`` in ms for video and
  audio, ``"fileName"`` for a file) or, for image, video and audio, ``{"url"}`` (an external
  content provider);
* ``"location": {"latitude", "longitude", "title"?, "address"?}``;
* ``"sticker": {"packageId", "stickerId", "stickerResourceType"?}``;
* ``"postback": {"data", "params"?}`` — a tapped postback action;
* ``"follow": true`` (a new friend, or ``isUnblocked`` after a block), ``"unfollow": true``
  (the user blocks the account);
* ``"join": {"group"}`` — the user invites the bot to a group (``C…``) or room (``R…``);
  ``"leave": {"group"}`` — the bot is removed; ``"member_joined": {"group"}`` /
  ``"member_left": {"group"}`` — the user joins or leaves a group the bot is in;
* ``"richmenu": {"area": N}`` — the user taps area N of their rich menu: its postback or
  message action becomes that event;
* ``"unsend": {"messageId"}``;
* ``"event": {"type", ...}`` — any other event, as LINE would send it (its common fields are
  filled in): beacon, accountLink, videoPlayComplete, or a type LINE has not invented yet.

``"group": "C…"`` with a message or a postback puts it in that group. ``"mode": "standby"``
sends the event in standby (no reply token). A shorthand in the wrong shape is refused with the
field's path, nothing changed.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from typing import Any

import attrs

from .._spec import Refused, http_url, one_action
from .._spec import as_object as _obj
from .._spec import known as _known
from ..whatsapp.inbound import MIME_TYPE
from .wire import USER_ID, utf16_len

__all__ = ["ACTIONS", "Action", "Refused", "parse"]

ACTIONS = (
    "text",
    "image",
    "video",
    "audio",
    "file",
    "location",
    "sticker",
    "postback",
    "follow",
    "unfollow",
    "join",
    "leave",
    "member_joined",
    "member_left",
    "richmenu",
    "unsend",
    "event",
)
"""The action keys of an inbound body: exactly one is given."""

_COMMON = ("platform", "account", "user", "name", "user_id", "group", "mode")
_WITH_TEXT = ("emojis", "mention", "quotedMessageId")
_GROUP = re.compile(r"[CR][0-9a-f]{32}")
_MEDIA = ("image", "video", "audio", "file")
_STICKER_TYPES = (
    "STATIC",
    "ANIMATION",
    "SOUND",
    "ANIMATION_SOUND",
    "POPUP",
    "POPUP_SOUND",
    "CUSTOM",
    "MESSAGE",
    "NAME_TEXT",
    "PER_STICKER_TEXT",
)
_DEFAULT_MIME = {
    "image": "image/jpeg",
    "video": "video/mp4",
    "audio": "audio/m4a",
    "file": "application/octet-stream",
}
_MAX_TEXT = 5000
_MAX_DURATION = 10**9  # ms: about eleven days


@attrs.frozen(kw_only=True)
class Action:
    """A checked user action.

    ``kind`` is the webhook event type (``message``, ``postback``, ``follow``...), ``part`` the
    event's own object (the message without its id, the postback...), ``group`` the group or
    room it happens in, ``upload`` ``(bytes, mime type)`` of media given as ``data_base64``;
    ``area`` the rich-menu area tapped (``kind == "richmenu"``).
    """

    kind: str
    part: dict[str, Any]
    group: str | None = None
    upload: tuple[bytes, str] | None = None
    standby: bool = False
    area: int | None = None


def _text(
    parent: dict[str, Any], key: str, where: str, *, required: bool = True, limit: int = 5000
) -> str | None:
    value = parent.get(key)
    if value is None:
        if required:
            raise Refused(f"{where}.{key}: missing")
        return None
    if not isinstance(value, str):
        raise Refused(f"{where}.{key}: expected a string")
    if not value:
        raise Refused(f"{where}.{key}: must not be empty")
    if utf16_len(value) > limit:
        raise Refused(f"{where}.{key}: longer than {limit} characters")
    return value


def _number(parent: dict[str, Any], key: str, where: str, low: float, high: float) -> float:
    value = parent.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Refused(f"{where}.{key}: expected a number")
    if not (math.isfinite(value) and low <= value <= high):
        raise Refused(f"{where}.{key}: must be between {low:g} and {high:g}")
    return float(value)


def _integer(parent: dict[str, Any], key: str, where: str, default: int, high: int) -> int:
    value = parent.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
        raise Refused(f"{where}.{key}: expected an integer from 0 to {high}")
    return value


def _url(parent: dict[str, Any], key: str, where: str) -> str:
    url = _text(parent, key, where, limit=2000)
    assert url is not None
    return http_url(url, f"{where}.{key}")


def _flag(value: Any, where: str) -> None:
    if value is not True:
        raise Refused(f"{where}: expected true")


def _chat(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _GROUP.fullmatch(value):
        raise Refused(f"{where}: expected a group id ('C' and 32 hex) or a room id ('R' ...)")
    return value


def _media(kind: str, value: Any) -> tuple[dict[str, Any], tuple[bytes, str] | None]:
    spec = _obj(value, kind)
    _known(spec, kind, ("url", "data_base64", "mime_type", "duration", "fileName", "preview_url"))
    part: dict[str, Any] = {}
    upload: tuple[bytes, str] | None = None
    if spec.get("url") is not None:
        if kind == "file":
            raise Refused("file.url: a file is always LINE's content (give data_base64)")
        if spec.get("data_base64") is not None:
            raise Refused(f"{kind}: give url or data_base64, not both")
        provider: dict[str, Any] = {
            "type": "external",
            "originalContentUrl": _url(spec, "url", kind),
        }
        if spec.get("preview_url") is not None:
            provider["previewImageUrl"] = _url(spec, "preview_url", kind)
        part["contentProvider"] = provider
    else:
        encoded = _text(spec, "data_base64", kind, limit=10**9)
        assert encoded is not None
        try:
            data = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise Refused(f"{kind}.data_base64: not valid base64") from None
        mime = spec.get("mime_type", _DEFAULT_MIME[kind])
        if not isinstance(mime, str) or not MIME_TYPE.fullmatch(mime):
            raise Refused(f"{kind}.mime_type: expected a MIME type such as image/jpeg")
        upload = (data, mime)
        if kind != "file":
            part["contentProvider"] = {"type": "line"}
        else:
            part["fileName"] = (
                _text(spec, "fileName", kind, required=False, limit=255) or "file.bin"
            )
            part["fileSize"] = len(data)
    if kind in ("video", "audio"):
        part["duration"] = _integer(spec, "duration", kind, 1000, _MAX_DURATION)
    elif spec.get("duration") is not None:
        raise Refused(f"{kind}.duration: only video and audio have a duration")
    if kind != "file" and spec.get("fileName") is not None:
        raise Refused(f"{kind}.fileName: only a file has a name")
    return part, upload


def _text_part(spec: dict[str, Any], value: Any) -> dict[str, Any]:
    if not isinstance(value, str):
        raise Refused("text: expected a string")
    if not value:
        raise Refused("text: must not be empty")
    if utf16_len(value) > _MAX_TEXT:
        raise Refused(f"text: longer than {_MAX_TEXT} characters")
    part: dict[str, Any] = {"text": value}
    emojis = spec.get("emojis")
    if emojis is not None:
        if not isinstance(emojis, list) or len(emojis) > 20:
            raise Refused("emojis: expected a list of at most 20 emoji objects")
        for i, emoji in enumerate(emojis):
            e = _obj(emoji, f"emojis[{i}]")
            _known(e, f"emojis[{i}]", ("index", "length", "productId", "emojiId"))
            _integer(e, "index", f"emojis[{i}]", -1, _MAX_TEXT)
            _integer(e, "length", f"emojis[{i}]", -1, _MAX_TEXT)
            _text(e, "productId", f"emojis[{i}]", limit=100)
            _text(e, "emojiId", f"emojis[{i}]", limit=100)
        part["emojis"] = emojis
    mention = spec.get("mention")
    if mention is not None:
        m = _obj(mention, "mention")
        _known(m, "mention", ("mentionees",))
        mentionees = m.get("mentionees")
        if not isinstance(mentionees, list) or not 1 <= len(mentionees) <= 20:
            raise Refused("mention.mentionees: expected a list of 1 to 20 mentionees")
        for i, who in enumerate(mentionees):
            at = f"mention.mentionees[{i}]"
            w = _obj(who, at)
            _known(w, at, ("type", "index", "length", "userId", "isSelf"))
            if w.get("type") not in ("user", "all"):
                raise Refused(f"{at}.type: must be user or all")
            _integer(w, "index", at, -1, _MAX_TEXT)
            _integer(w, "length", at, -1, _MAX_TEXT)
            if w.get("userId") is not None and not (
                isinstance(w["userId"], str) and USER_ID.fullmatch(w["userId"])
            ):
                raise Refused(f"{at}.userId: expected a user id")
            if w.get("isSelf") is not None and not isinstance(w["isSelf"], bool):
                raise Refused(f"{at}.isSelf: expected true or false")
        part["mention"] = m
    quoted = spec.get("quotedMessageId")
    if quoted is not None:
        if not isinstance(quoted, str) or not quoted.isascii() or not quoted.isdigit():
            raise Refused("quotedMessageId: expected a message id (digits)")
        part["quotedMessageId"] = quoted
    return part


def _event(value: Any) -> dict[str, Any]:
    event = _obj(value, "event")
    kind = event.get("type")
    if not isinstance(kind, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9]{0,63}", kind):
        raise Refused("event.type: expected an event type such as beacon")
    for key in ("timestamp", "webhookEventId", "deliveryContext", "mode", "source"):
        if key in event:
            raise Refused(f"event.{key}: filled in by the simulator")
    return dict(event)


def parse(spec: dict[str, Any]) -> Action:
    """Check an inbound body and return its action.

    Raises:
        Refused: naming the first wrong field.
    """
    allowed = (*_COMMON, *ACTIONS, *_WITH_TEXT)
    unknown = sorted(set(spec) - set(allowed))
    if unknown:
        raise Refused(f"unknown field(s) for line: {', '.join(unknown)}")
    given = [k for k in ACTIONS if spec.get(k) is not None]
    kind = one_action(spec, ACTIONS, given)
    value = spec[kind]
    mode = spec.get("mode", "active")
    if mode not in ("active", "standby"):
        raise Refused("mode: must be active or standby")
    standby = mode == "standby"
    if kind != "text":
        extra = [k for k in _WITH_TEXT if spec.get(k) is not None]
        if extra:
            raise Refused(f"{extra[0]}: goes with 'text' only")
    group = None if spec.get("group") is None else _chat(spec["group"], "group")
    in_chat = ("text", *_MEDIA, "location", "sticker", "postback", "richmenu", "unsend", "event")
    if group is not None and kind not in in_chat:
        raise Refused(f"group: goes with a message, a postback or an event, not {kind!r}")
    if kind == "text":
        return Action(
            kind="message",
            part={"type": "text", **_text_part(spec, value)},
            group=group,
            standby=standby,
        )
    if kind in _MEDIA:
        part, upload = _media(kind, value)
        return Action(
            kind="message", part={"type": kind, **part}, group=group, upload=upload, standby=standby
        )
    if kind == "location":
        loc = _obj(value, kind)
        _known(loc, kind, ("latitude", "longitude", "title", "address"))
        part = {
            "type": "location",
            "latitude": _number(loc, "latitude", kind, -90, 90),
            "longitude": _number(loc, "longitude", kind, -180, 180),
        }
        for key in ("title", "address"):
            text = _text(loc, key, kind, required=False, limit=100)
            if text is not None:
                part[key] = text
        return Action(kind="message", part=part, group=group, standby=standby)
    if kind == "sticker":
        st = _obj(value, kind)
        _known(st, kind, ("packageId", "stickerId", "stickerResourceType", "keywords", "text"))
        part = {
            "type": "sticker",
            "packageId": _text(st, "packageId", kind, limit=100),
            "stickerId": _text(st, "stickerId", kind, limit=100),
            "stickerResourceType": st.get("stickerResourceType", "STATIC"),
        }
        if part["stickerResourceType"] not in _STICKER_TYPES:
            raise Refused(
                f"sticker.stickerResourceType: must be one of {', '.join(_STICKER_TYPES)}"
            )
        keywords = st.get("keywords")
        if keywords is not None:
            if (
                not isinstance(keywords, list)
                or len(keywords) > 15
                or not all(isinstance(k, str) and 0 < len(k) <= 100 for k in keywords)
            ):
                raise Refused("sticker.keywords: expected at most 15 short strings")
            part["keywords"] = keywords
        text = _text(st, "text", kind, required=False, limit=100)
        if text is not None:
            part["text"] = text
        return Action(kind="message", part=part, group=group, standby=standby)
    if kind == "postback":
        pb = _obj(value, kind)
        _known(pb, kind, ("data", "params"))
        data = pb.get("data")
        if not isinstance(data, str) or utf16_len(data) > 300:
            raise Refused("postback.data: expected a string of at most 300 characters")
        part = {"data": data}
        params = pb.get("params")
        if params is not None:
            p = _obj(params, "postback.params")
            if not all(isinstance(k, str) and isinstance(v, str) for k, v in p.items()):
                raise Refused(
                    'postback.params: expected strings only (e.g. {"date": "2026-03-02"})'
                )
            part["params"] = dict(p)
        return Action(kind="postback", part=part, group=group, standby=standby)
    if kind in ("follow", "unfollow"):
        _flag(value, kind)
        return Action(kind=kind, part={}, standby=standby)
    if kind in ("join", "leave", "member_joined", "member_left"):
        g = _obj(value, kind)
        _known(g, kind, ("group",))
        chat = _chat(g.get("group"), f"{kind}.group")
        event = {"member_joined": "memberJoined", "member_left": "memberLeft"}.get(kind, kind)
        return Action(kind=event, part={}, group=chat, standby=standby)
    if kind == "richmenu":
        rm = _obj(value, kind)
        _known(rm, kind, ("area",))
        area = rm.get("area")
        if isinstance(area, bool) or not isinstance(area, int) or not 0 <= area < 20:
            raise Refused("richmenu.area: expected the area's index, 0 to 19")
        return Action(kind="richmenu", part={}, group=group, standby=standby, area=area)
    if kind == "unsend":
        un = _obj(value, kind)
        _known(un, kind, ("messageId",))
        mid = un.get("messageId")
        if not isinstance(mid, str) or not mid.isascii() or not mid.isdigit() or len(mid) > 32:
            raise Refused("unsend.messageId: expected a message id (digits)")
        return Action(kind="unsend", part={"messageId": mid}, group=group, standby=standby)
    return Action(kind="event", part=_event(value), group=group, standby=standby)
