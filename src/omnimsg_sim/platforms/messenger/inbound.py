"""What a Messenger customer may do through ``POST /_sim/inbound``, checked before anything.

The body names the platform, the Page (``account``, optional with one Page), the customer
(``user``: a PSID, digits) and exactly one action, each a shorthand of a webhook event of
spec/messenger.md §2.2 (research §4 has the JSON of each):

* ``"text": "hi"`` — a message (``"quick_reply": {"payload"}`` and ``"reply_to": {"mid"}``
  may go with it); ``"quick_reply": {"payload", "title"?}`` alone is a tapped quick reply
  (its title is the text);
* ``"image"`` / ``"video"`` / ``"audio"`` / ``"file"``: ``{"url"}`` or ``{"data_base64",
  "mime_type"?}`` (stored, and served at the URL the webhook gives); ``"attachment": {"type",
  ...}`` the same with the type inside; ``"sticker": {"sticker_id"}``;
* ``"message": {...}`` — a whole Messenger message object (``mid`` is made up when absent);
* ``"postback": {"title", "payload", "referral"?}`` — a tapped button;
* ``"reaction": {"mid", "reaction"?, "emoji"?, "action"?}`` — react or unreact;
* ``"read": true`` or ``{"watermark": ms}`` — the customer read the Page's messages;
* ``"comment": {"message", "post_id"?, "comment_id"?, "parent_id"?, "verb"?, "item"?}`` — a
  comment on the Page's post (a ``feed`` change);
* ``"referral": {"ref", "source"?, "type"?, "ad_id"?}`` — the customer opened the thread from
  an ``m.me`` link (on a new thread, inside the Get Started postback, §2.2).

A shorthand in the wrong shape is refused with the field's path (``postback.payload:
missing``), nothing changed: a webhook real clients cannot parse is never sent (DESIGN §4).
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

import attrs

from .._spec import Refused, http_url, one_action
from .._spec import as_object as _obj
from .._spec import known as _known
from ..whatsapp.inbound import MIME_TYPE

__all__ = ["ACTIONS", "Action", "Refused", "parse"]

ACTIONS = (
    "text",
    "quick_reply",
    "image",
    "video",
    "audio",
    "file",
    "attachment",
    "sticker",
    "message",
    "postback",
    "reaction",
    "read",
    "comment",
    "referral",
)
"""The action keys of an inbound body: exactly one is given (``quick_reply`` may go with
``text``)."""

_COMMON = ("platform", "account", "user", "name", "first_name", "last_name", "user_id")
_WITH_TEXT = ("quick_reply", "reply_to")
_MEDIA = ("image", "video", "audio", "file")
_REACTIONS = ("smile", "angry", "sad", "wow", "love", "like", "dislike", "other")  # §2.2
_REACTION_EMOJI = {
    "smile": "\U0001f606",
    "angry": "\U0001f620",
    "sad": "\U0001f622",
    "wow": "\U0001f62e",
    "love": "\u2764\ufe0f",
    "like": "\U0001f44d",
    "dislike": "\U0001f44e",
}
_SOURCES = ("SHORTLINK", "ADS", "MESSENGER_CODE", "DISCOVER_TAB", "CUSTOMER_CHAT_PLUGIN")
_VERBS = ("add", "edited", "remove", "hide")
_ID = re.compile(r"[0-9]{1,32}")
_OBJECT_ID = re.compile(r"[0-9]{1,32}(_[0-9]{1,32})?")
_MAX_MS = 10**13  # a millisecond timestamp before the year 2286


@attrs.frozen(kw_only=True)
class Action:
    """A checked customer action: its kind, its event part, and media to store first.

    ``kind`` is ``message``, ``postback``, ``reaction``, ``read``, ``comment`` or
    ``referral``; ``part`` is the event's object as the webhook carries it (the message
    without its ``mid``, the postback, the reaction...) or the comment's fields; ``upload``
    is ``(type, bytes, mime type)`` of an attachment given as ``data_base64``.
    """

    kind: str
    part: dict[str, Any]
    upload: tuple[str, bytes, str] | None = None


# --- field helpers -------------------------------------------------------------------------


def _text(
    parent: dict[str, Any], key: str, where: str, *, required: bool = True, empty: bool = False
) -> str | None:
    value = parent.get(key)
    if value is None:
        if required:
            raise Refused(f"{where}.{key}: missing")
        return None
    if not isinstance(value, str):
        raise Refused(f"{where}.{key}: expected a string")
    if not value and not empty:
        raise Refused(f"{where}.{key}: must not be empty")
    return value


def _id(value: Any, where: str, pattern: re.Pattern[str] = _ID) -> str:
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not pattern.fullmatch(text):
        raise Refused(f"{where}: expected an id (digits)")
    return text


def _choice(parent: dict[str, Any], key: str, where: str, options: tuple[str, ...]) -> str | None:
    value = _text(parent, key, where, required=False)
    if value is not None and value not in options:
        raise Refused(f"{where}.{key}: must be one of {', '.join(options)}")
    return value


def _url(parent: dict[str, Any], key: str, where: str) -> str:
    url = _text(parent, key, where)
    assert url is not None
    return http_url(url, f"{where}.{key}")


# --- the actions -----------------------------------------------------------------------------


def _quick_reply(value: Any, where: str) -> dict[str, Any]:
    qr = _obj(value, where)
    _known(qr, where, ("payload", "title"))
    payload = _text(qr, "payload", where)
    return {"payload": payload}


def _reply_to(value: Any, where: str) -> dict[str, Any]:
    reply = _obj(value, where)
    _known(reply, where, ("mid", "is_self_reply"))
    out: dict[str, Any] = {"mid": _text(reply, "mid", where)}
    flag = reply.get("is_self_reply", False)
    if not isinstance(flag, bool):
        raise Refused(f"{where}.is_self_reply: expected true or false")
    out["is_self_reply"] = flag  # research §4: carried since 2025-12-19
    return out


def _media(
    kind: str, value: Any, where: str
) -> tuple[dict[str, Any], tuple[str, bytes, str] | None]:
    """An attachment: its webhook object and, for ``data_base64``, what to store."""
    obj = _obj(value, where)
    _known(obj, where, ("type", "url", "data_base64", "mime_type"))
    if ("url" in obj) == ("data_base64" in obj):
        raise Refused(f"{where}: give url or data_base64")
    if "url" in obj:
        return {"type": kind, "payload": {"url": _url(obj, "url", where)}}, None
    encoded = _text(obj, "data_base64", where)
    assert encoded is not None
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise Refused(f"{where}.data_base64: not valid base64") from None
    mime = _text(obj, "mime_type", where, required=False) or _DEFAULT_MIME[kind]
    if not MIME_TYPE.fullmatch(mime):
        raise Refused(f"{where}.mime_type: not a MIME type")
    return {"type": kind, "payload": {}}, (kind, data, mime)


_DEFAULT_MIME = {
    "image": "image/jpeg",
    "video": "video/mp4",
    "audio": "audio/mpeg",
    "file": "application/pdf",
}


def _sticker(value: Any, where: str) -> dict[str, Any]:
    obj = _obj(value, where)
    _known(obj, where, ("sticker_id", "url"))
    sticker_id = int(_id(obj.get("sticker_id"), f"{where}.sticker_id"))
    url = (
        _url(obj, "url", where)
        if "url" in obj
        else f"https://scontent.xx.fbcdn.net/v/t39.1997-6/{sticker_id}.png"
    )
    # §2.2 and research §4: sticker_id is a number in the webhook.
    return {"type": "sticker", "payload": {"url": url, "sticker_id": sticker_id}}


def _attachments(value: Any, where: str) -> list[dict[str, Any]]:
    """``message.attachments`` given whole: each ``{type, payload}`` (payload an object)."""
    if not isinstance(value, list) or not value:
        raise Refused(f"{where}: expected a non-empty list")
    for i, item in enumerate(value):
        at = f"{where}[{i}]"
        att = _obj(item, at)
        _text(att, "type", at)
        if "payload" in att and att["payload"] is not None:
            payload = _obj(att["payload"], f"{at}.payload")
            if "url" in payload:
                _url(payload, "url", f"{at}.payload")
    return list(value)


def _message(value: Any, where: str) -> dict[str, Any]:
    """A whole message object; known fields in their shape, unknown ones passed through."""
    msg = dict(_obj(value, where))
    _text(msg, "mid", where, required=False)
    _text(msg, "text", where, required=False, empty=True)
    if "quick_reply" in msg:
        msg["quick_reply"] = _quick_reply(msg["quick_reply"], f"{where}.quick_reply")
    if "reply_to" in msg:
        msg["reply_to"] = _reply_to(msg["reply_to"], f"{where}.reply_to")
    if "attachments" in msg:
        _attachments(msg["attachments"], f"{where}.attachments")
    if "is_echo" in msg:
        raise Refused(f"{where}.is_echo: a customer's message is not an echo")
    return msg


def _referral(value: Any, where: str) -> dict[str, Any]:
    obj = _obj(value, where)
    _known(obj, where, ("ref", "source", "type", "ad_id", "ads_context_data"))
    out: dict[str, Any] = {}
    ref = _text(obj, "ref", where, required=False, empty=True)
    if ref is not None:
        out["ref"] = ref
    out["source"] = _choice(obj, "source", where, _SOURCES) or "SHORTLINK"
    out["type"] = _choice(obj, "type", where, ("OPEN_THREAD",)) or "OPEN_THREAD"
    if obj.get("ad_id") is not None:
        out["ad_id"] = _id(obj["ad_id"], f"{where}.ad_id")
    if obj.get("ads_context_data") is not None:
        out["ads_context_data"] = _obj(obj["ads_context_data"], f"{where}.ads_context_data")
    return out


def _postback(value: Any, where: str) -> dict[str, Any]:
    obj = _obj(value, where)
    _known(obj, where, ("title", "payload", "referral"))
    out: dict[str, Any] = {
        "title": _text(obj, "title", where),
        "payload": _text(obj, "payload", where),
    }
    if obj.get("referral") is not None:
        out["referral"] = _referral(obj["referral"], f"{where}.referral")
    return out


def _reaction(value: Any, where: str) -> dict[str, Any]:
    obj = _obj(value, where)
    _known(obj, where, ("mid", "reaction", "emoji", "action"))
    mid = _text(obj, "mid", where)
    action = _choice(obj, "action", where, ("react", "unreact")) or "react"
    reaction = _choice(obj, "reaction", where, _REACTIONS)
    emoji = _text(obj, "emoji", where, required=False)
    if reaction is None:
        reaction = "other" if emoji else "like"
    out: dict[str, Any] = {"reaction": reaction}
    out["emoji"] = emoji or _REACTION_EMOJI.get(reaction, "\U0001f44d")
    out["action"] = action
    out["mid"] = mid
    return out


def _read(value: Any, where: str) -> dict[str, Any]:
    if value is True:
        return {}
    obj = _obj(value, where)
    _known(obj, where, ("watermark",))
    watermark = obj.get("watermark")
    if isinstance(watermark, bool) or not isinstance(watermark, int):
        raise Refused(f"{where}.watermark: expected an integer (milliseconds)")
    if not 0 <= watermark < _MAX_MS:
        raise Refused(f"{where}.watermark: must be a time in milliseconds")
    return {"watermark": watermark}


def _comment(value: Any, where: str) -> dict[str, Any]:
    obj = _obj(value, where)
    _known(obj, where, ("message", "post_id", "comment_id", "parent_id", "verb", "item"))
    out: dict[str, Any] = {"message": _text(obj, "message", where, empty=True)}
    for key in ("post_id", "comment_id", "parent_id"):
        if obj.get(key) is not None:
            out[key] = _id(obj[key], f"{where}.{key}", _OBJECT_ID)
    out["verb"] = _choice(obj, "verb", where, _VERBS) or "add"
    out["item"] = _choice(obj, "item", where, ("comment", "post")) or "comment"
    if out["verb"] != "add" and "comment_id" not in out and out["item"] == "comment":
        raise Refused(f"{where}.comment_id: missing (a comment {out['verb']} names its comment)")
    return out


def parse(spec: dict[str, Any]) -> Action:
    """Check an inbound body and return its action.

    Raises:
        Refused: naming the first wrong field.
    """
    allowed = (*_COMMON, *ACTIONS, *_WITH_TEXT)
    unknown = sorted(set(spec) - set(allowed))
    if unknown:
        raise Refused(f"unknown field(s) for messenger: {', '.join(unknown)}")
    given = [k for k in ACTIONS if spec.get(k) is not None]
    if "text" in given and "quick_reply" in given:
        given.remove("quick_reply")  # a quick reply tapped, with the text it shows
    kind = one_action(spec, ACTIONS, given)
    value = spec[kind]
    if spec.get("reply_to") is not None and kind != "text":
        raise Refused("reply_to: goes with 'text' only (a 'message' carries its own)")
    if kind == "text":
        if not isinstance(value, str):
            raise Refused("text: expected a string")
        part: dict[str, Any] = {"text": value}
        if spec.get("quick_reply") is not None:
            part["quick_reply"] = _quick_reply(spec["quick_reply"], "quick_reply")
        if spec.get("reply_to") is not None:
            part["reply_to"] = _reply_to(spec["reply_to"], "reply_to")
        return Action(kind="message", part=part)
    if kind == "quick_reply":
        qr = _obj(value, "quick_reply")
        payload = _quick_reply(qr, "quick_reply")
        title = _text(qr, "title", "quick_reply", required=False) or payload["payload"]
        return Action(kind="message", part={"text": title, "quick_reply": payload})
    if kind in (*_MEDIA, "attachment"):
        where = kind
        if kind == "attachment":
            media_kind = _choice(_obj(value, kind), "type", kind, _MEDIA)
            if media_kind is None:
                raise Refused("attachment.type: missing")
        else:
            media_kind = kind
        attachment, upload = _media(media_kind, value, where)
        return Action(kind="message", part={"attachments": [attachment]}, upload=upload)
    if kind == "sticker":
        return Action(kind="message", part={"attachments": [_sticker(value, kind)]})
    if kind == "message":
        return Action(kind="message", part=_message(value, "message"))
    checkers = {
        "postback": _postback,
        "reaction": _reaction,
        "read": _read,
        "comment": _comment,
        "referral": _referral,
    }
    return Action(kind=kind, part=checkers[kind](value, kind))
