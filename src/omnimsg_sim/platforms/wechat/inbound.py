"""What a WeChat user may do through ``POST /_sim/inbound``, checked before anything changes.

The body names ``"platform": "wechat"``, the account (``account``: its original id
``gh_...``, optional with one account), the user (``user``: their OpenID) and exactly one
action, each the shorthand of a webhook of spec/wechat.md §3.2-§3.3:

* ``"text": "hi"`` — a text message; with ``"bizmsgmenuid": "101"`` it is the tap on a
  msgmenu item (the item's content as the text);
* ``"image"``, ``"voice"``, ``"video"``, ``"shortvideo"``: ``{}`` or
  ``{"data_base64", "mime_type"?}`` (kept as media, served by ``/cgi-bin/media/get``);
  ``"voice"`` takes ``"format"`` (``amr``) and ``"recognition"`` (speech to text);
* ``"location": {"latitude", "longitude", "scale"?, "label"?}``;
* ``"link": {"title", "description", "url"}``;
* ``"follow": true`` (a plain follow), ``"unfollow": true``;
* ``"scan": "<ticket>"`` — the user scans a parametric QR code: ``subscribe`` with
  ``EventKey=qrscene_<scene>`` when not following, ``SCAN`` with ``EventKey=<scene>`` when
  following (an unknown or expired ticket is refused);
* ``"click": "<key>"`` — taps a click / scancode_push / scancode_waitmsg button of the
  current menu (``"scan_result"`` for the scancode ones); ``"view": "<url>"`` a view button;
* ``"report_location": {"latitude", "longitude", "precision"?}`` — the LOCATION event;
* ``"consent": "<template id>"`` — accepts one subscribe notification of that template
  (``subscribe_msg_popup_event``): one ``/cgi-bin/message/subscribe/bizsend`` each.

A refused body answers 400 and changes nothing.
"""

from __future__ import annotations

import base64
import binascii
import math
from typing import Any

import attrs

from .._spec import Refused, one_action
from .._spec import as_object as _obj
from .._spec import known as _known

__all__ = ["ACTIONS", "MESSAGES", "Action", "Refused", "parse"]

MESSAGES = ("text", "image", "voice", "video", "shortvideo", "location", "link")
"""The actions that are user messages (they carry a MsgId and open the 48 h window)."""
ACTIONS = (*MESSAGES, "follow", "unfollow", "scan", "click", "view", "report_location", "consent")
"""The action keys of an inbound body: exactly one is given."""

_COMMON = ("platform", "account", "user", "name", "user_id")
_EXTRA = ("bizmsgmenuid", "scan_result")
_MEDIA = ("image", "voice", "video", "shortvideo")
_MIME = {
    "image": "image/jpeg",
    "voice": "audio/amr",
    "video": "video/mp4",
    "shortvideo": "video/mp4",
}
_MAX_TEXT = 2048  # what a user can type is longer; a bound keeps webhooks small


@attrs.frozen(kw_only=True)
class Action:
    """A checked user action: ``kind`` is the action key, ``part`` its checked fields,
    ``upload`` ``(bytes, mime type)`` of media given as ``data_base64``."""

    kind: str
    part: dict[str, Any]
    upload: tuple[bytes, str] | None = None


def _text(value: Any, where: str, limit: int = _MAX_TEXT, *, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value:
        raise Refused(f"{where}: expected a non-empty string")
    if len(value.encode("utf-8", "surrogatepass")) > limit:
        raise Refused(f"{where}: longer than {limit} bytes")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise Refused(f"{where}: not valid Unicode") from None
    return value


def _number(obj: dict[str, Any], key: str, where: str, low: float, high: float) -> float:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Refused(f"{where}.{key}: expected a number")
    if not (math.isfinite(value) and low <= value <= high):
        raise Refused(f"{where}.{key}: must be between {low:g} and {high:g}")
    return float(value)


def _media(kind: str, value: Any) -> tuple[dict[str, Any], tuple[bytes, str] | None]:
    spec = _obj(value, kind)
    keys = ("data_base64", "mime_type", *(("format", "recognition") if kind == "voice" else ()))
    _known(spec, kind, keys)
    part: dict[str, Any] = {}
    upload = None
    if spec.get("data_base64") is not None:
        encoded = _text(spec["data_base64"], f"{kind}.data_base64", 10 << 20)
        try:
            data = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise Refused(f"{kind}.data_base64: not valid base64") from None
        mime = spec.get("mime_type", _MIME[kind])
        upload = (data, _text(mime, f"{kind}.mime_type", 100))
    if kind == "voice":
        part["format"] = _text(spec.get("format", "amr"), "voice.format", 16)
        if spec.get("recognition") is not None:
            part["recognition"] = _text(spec["recognition"], "voice.recognition")
    return part, upload


def parse(spec: dict[str, Any]) -> Action:
    """Check an inbound body and return its action.

    Raises:
        Refused: naming the first wrong field.
    """
    unknown = sorted(set(spec) - {*_COMMON, *ACTIONS, *_EXTRA})
    if unknown:
        raise Refused(f"unknown field(s) for wechat: {', '.join(unknown)}")
    given = [k for k in ACTIONS if spec.get(k) is not None]
    kind = one_action(spec, ACTIONS, given)
    value = spec[kind]
    if spec.get("bizmsgmenuid") is not None and kind != "text":
        raise Refused("bizmsgmenuid: goes with 'text' only (the tapped item's content)")
    if spec.get("scan_result") is not None and kind != "click":
        raise Refused("scan_result: goes with 'click' only (a scancode button)")
    if kind == "text":
        part: dict[str, Any] = {"content": _text(value, "text")}
        if spec.get("bizmsgmenuid") is not None:
            part["bizmsgmenuid"] = _text(spec["bizmsgmenuid"], "bizmsgmenuid", 64)
        return Action(kind=kind, part=part)
    if kind in _MEDIA:
        part, upload = _media(kind, value)
        return Action(kind=kind, part=part, upload=upload)
    if kind == "location":
        loc = _obj(value, kind)
        _known(loc, kind, ("latitude", "longitude", "scale", "label"))
        part = {
            "latitude": _number(loc, "latitude", kind, -90, 90),
            "longitude": _number(loc, "longitude", kind, -180, 180),
            "scale": int(_number(loc, "scale", kind, 0, 30)) if "scale" in loc else 15,
            "label": _text(loc.get("label"), "location.label", 256, required=False),
        }
        return Action(kind=kind, part=part)
    if kind == "link":
        link = _obj(value, kind)
        _known(link, kind, ("title", "description", "url"))
        url = _text(link.get("url"), "link.url", 2048)
        if not url.startswith(("http://", "https://")) or any(
            ch.isspace() or ord(ch) < 0x20 for ch in url
        ):
            raise Refused("link.url: expected an http(s) URL")
        part = {
            "title": _text(link.get("title"), "link.title", 256),
            "description": _text(link.get("description"), "link.description", 1024, required=False),
            "url": url,
        }
        return Action(kind=kind, part=part)
    if kind in ("follow", "unfollow"):
        if value is not True:
            raise Refused(f"{kind}: expected true")
        return Action(kind=kind, part={})
    if kind == "report_location":
        loc = _obj(value, kind)
        _known(loc, kind, ("latitude", "longitude", "precision"))
        part = {
            "latitude": _number(loc, "latitude", kind, -90, 90),
            "longitude": _number(loc, "longitude", kind, -180, 180),
            "precision": _number(loc, "precision", kind, 0, 1e6) if "precision" in loc else 30.0,
        }
        return Action(kind=kind, part=part)
    if kind == "click":
        part = {"key": _text(value, "click", 128)}
        if spec.get("scan_result") is not None:
            part["scan_result"] = _text(spec["scan_result"], "scan_result", 1024)
        return Action(kind=kind, part=part)
    if kind == "view":
        return Action(kind=kind, part={"url": _text(value, "view", 1024)})
    if kind == "scan":
        return Action(kind=kind, part={"ticket": _text(value, "scan", 1024)})
    return Action(kind=kind, part={"template_id": _text(value, "consent", 128)})
