"""WeChat wire format, inbound: the fields of one XML push to typed events (spec/wechat.md
§3.1-§3.4).

Parsing never raises: a push omnimsg does not model, or one with a malformed field,
becomes :class:`~omnimsg.Unknown` with the fields kept in ``raw`` (and updates no state).

What each push becomes (``account`` is ``ToUserName``, the ``gh_...`` id; ``user`` is
``FromUserName``, the customer's OpenID; ``timestamp`` is ``CreateTime``, Unix seconds from
:data:`MIN_TIMESTAMP` to :data:`MAX_TIMESTAMP`; ``raw`` is every field as parsed):

=============================  =============================================================
``MsgType`` / ``Event``         event
=============================  =============================================================
text                            :class:`MessageReceived` with :class:`Text`
text with ``bizmsgmenuid``      :class:`Postback`, ``source="button"``: a tap on a msgmenu
                                item (how omnimsg sends ``Buttons``); ``payload`` is the
                                item's id, ``title`` its text
image                           ``MessageReceived`` with :class:`Image` by ``MediaId``
                                (``PicUrl`` in ``raw``; as ``url`` only without a MediaId)
voice                           ``Audio(voice=True)``; the speech recognition, when on, is
                                ``raw["Recognition"]``
video, shortvideo               :class:`Video` (``raw["MsgType"]`` tells them apart;
                                ``ThumbMediaId`` in ``raw``)
location                        :class:`Location` (``Location_X``/``Location_Y``; ``Label``
                                as ``address``; ``Scale`` in ``raw``)
link, miniprogrampage           :class:`UnsupportedContent` (``kind="link"``...): an article
                                or card shared into the chat, ``Title``/``Description``/
                                ``Url`` in ``raw``; it is not text the customer wrote
subscribe                       :class:`FollowChanged` (``following=True``); through a QR
                                code (``EventKey=qrscene_<scene>``) it is followed by a
                                :class:`QrScanned` with ``new_follower=True``
unsubscribe                     ``FollowChanged(following=False)``
SCAN                            ``QrScanned(new_follower=False)`` (a follower scanned)
CLICK, scancode_*, pic_*,       :class:`Postback`, ``source="menu"``, ``payload`` the menu
location_select                 item's key (scan results, pictures and places in ``raw``)
VIEW                            :class:`MenuLinkOpened`
LOCATION                        :class:`LocationReported`
TEMPLATESENDJOBFINISH           :class:`StatusUpdate` of the template message ``MsgID``:
                                ``delivered`` for ``success``, else ``failed`` with the
                                ``Status`` as the error's code
anything else                   :class:`Unknown`, ``raw`` kept (``kf_*`` session events...)
=============================  =============================================================

``MsgId`` is a 64-bit integer: it is kept as a string (``message_id``).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from typing import Any, Literal

from ..._fast import fast_constructor
from ...models.content import Audio, Image, Location, Text, Video
from ...models.events import (
    DeliveryError,
    Event,
    FollowChanged,
    LocationReported,
    MenuLinkOpened,
    MessageReceived,
    Postback,
    QrScanned,
    StatusUpdate,
    Unknown,
    UnsupportedContent,
)

__all__ = [
    "MAX_TIMESTAMP",
    "MIN_TIMESTAMP",
    "dedup_key",
    "interaction",
    "parse_events",
    "parse_message",
]

MIN_TIMESTAMP = 1_000_000_000.0
"""2001-09-09T01:46:40Z in Unix seconds: an earlier ``CreateTime`` is refused."""

MAX_TIMESTAMP = 32_503_680_000.0
"""3000-01-01T00:00:00Z in Unix seconds: a ``CreateTime`` at or after it is refused."""

_QR_PREFIX = "qrscene_"
_WHITE = " \t\r\n"
_DIGITS = re.compile(r"[0-9]{1,20}")
_DECIMAL = re.compile(r"[-+]?[0-9]{1,6}(?:\.[0-9]{1,20})?")
_SAFE = re.compile(r"[A-Za-z0-9_\-]{1,64}")
_FORMATS = {"amr": "audio/amr", "speex": "audio/speex", "mp3": "audio/mpeg"}
# Menu events that open the short customer-service window (spec §5.1: "only click,
# scancode_push, scancode_waitmsg"); the other menu events do not.
_WINDOW_MENU = frozenset({"click", "scancode_push", "scancode_waitmsg"})
_MENU = frozenset(
    {*_WINDOW_MENU, "pic_sysphoto", "pic_photo_or_album", "pic_weixin", "location_select"}
)


# Hot-path constructors (same frozen instances, built about twice as fast; omnimsg/_fast.py).
_new_message = fast_constructor(MessageReceived)
_new_text = fast_constructor(Text)


class _Malformed(Exception):
    """A field of a known push is missing or malformed: the push becomes ``Unknown``."""


# --- small readers ------------------------------------------------------------------------------


def _shown(value: Any) -> str:
    """``value`` for an ``Unknown`` reason: a short repr (hostile input can be huge)."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _text(fields: dict[str, Any], key: str) -> str | None:
    value = fields.get(key)
    return value if type(value) is str and value else None


def _required(fields: dict[str, Any], key: str) -> str:
    value = fields.get(key)
    if type(value) is not str or not value:
        raise _Malformed(f"no {key}")
    return value


def _seconds(value: Any) -> float | None:
    """``CreateTime`` (decimal digits, Unix seconds) as a float, or ``None``."""
    if type(value) is not str:
        return None
    digits = value.strip(_WHITE)
    if not _DIGITS.fullmatch(digits):  # no sign, no "nan", no exponent, at most 20 digits
        return None
    seconds = float(int(digits))
    return seconds if MIN_TIMESTAMP <= seconds < MAX_TIMESTAMP else None


def msg_id(value: Any) -> str | None:
    """A ``MsgId``/``MsgID`` (an unsigned 64-bit integer) as its canonical string."""
    if type(value) is not str:
        return None
    digits = value.strip(_WHITE)
    if not _DIGITS.fullmatch(digits):
        return None
    number = int(digits)
    return str(number) if 0 < number < 1 << 64 else None


def _coordinate(fields: dict[str, Any], key: str, limit: float) -> float:
    value = fields.get(key)
    text = value.strip(_WHITE) if type(value) is str else ""
    if not _DECIMAL.fullmatch(text):  # no "nan", "inf", "1e400", "0x1p3"
        raise _Malformed(f"{key} is not a decimal number")
    number = float(text)
    if not -limit <= number <= limit:
        raise _Malformed(f"{key} is out of range")
    return number


def _unknown(account: str | None, reason: str, raw: Any) -> Unknown:
    return Unknown(platform="wechat", account=account, reason=reason, raw=raw)


# --- user messages (spec §3.2) ------------------------------------------------------------------


def _message(
    fields: dict[str, Any], kind: str, account: str, user: str, ts: float
) -> MessageReceived | Postback:
    mid = msg_id(fields.get("MsgId"))
    if mid is None:
        raise _Malformed(f"MsgId {_shown(fields.get('MsgId'))} is not a 64-bit id")
    content: Any
    if kind == "text":  # the commonest push: built fast (webhook ingest is a hot path)
        body = fields.get("Content")
        if type(body) is not str:
            raise _Malformed("no Content")
        menu_item = _text(fields, "bizmsgmenuid")
        if menu_item is not None:  # a tap on a msgmenu item (spec §3.2)
            return Postback(
                platform="wechat",
                account=account,
                user=user,
                message_id=mid,
                timestamp=ts,
                payload=menu_item,
                title=body,
                source="button",
                raw=fields,
            )
        return _new_message(
            platform="wechat",
            account=account,
            user=user,
            message_id=mid,
            timestamp=ts,
            content=_new_text(body=body, preview_url=False),
            user_name=None,
            phone=None,
            context=None,
            referral=None,
            standby=False,
            raw=fields,
        )
    if kind == "image":
        # Media is one of media_id or url: the MediaId (fetched like every other medium),
        # PicUrl when there is none (it stays in raw either way).
        media = _text(fields, "MediaId")
        url = None if media is not None else _required(fields, "PicUrl")
        content = Image(media_id=media, url=url)
    elif kind == "voice":
        fmt = _text(fields, "Format")
        content = Audio(
            media_id=_required(fields, "MediaId"),
            mime_type=_FORMATS.get(fmt.lower()) if fmt is not None else None,
            voice=True,
        )
    elif kind == "video" or kind == "shortvideo":
        content = Video(media_id=_required(fields, "MediaId"))
    elif kind == "location":
        content = Location(
            latitude=_coordinate(fields, "Location_X", 90.0),
            longitude=_coordinate(fields, "Location_Y", 180.0),
            address=_text(fields, "Label"),
        )
    else:  # link, miniprogrampage
        content = UnsupportedContent(kind=kind, raw=fields)
    return MessageReceived(
        platform="wechat",
        account=account,
        user=user,
        message_id=mid,
        timestamp=ts,
        content=content,
        raw=fields,
    )


_MESSAGES = frozenset(
    {"text", "image", "voice", "video", "shortvideo", "location", "link", "miniprogrampage"}
)


# --- events (spec §3.3) -------------------------------------------------------------------------

_Handler = Callable[[dict[str, Any], str, str, float], Event]


def _subscribe(fields: dict[str, Any], account: str, user: str, ts: float) -> Event:
    key = fields.get("EventKey")
    if type(key) is str and key.startswith(_QR_PREFIX) and len(key) > len(_QR_PREFIX):
        return QrScanned(
            platform="wechat",
            account=account,
            user=user,
            timestamp=ts,
            scene=key[len(_QR_PREFIX) :],
            ticket=_text(fields, "Ticket"),
            new_follower=True,
            raw=fields,
        )
    return FollowChanged(
        platform="wechat", account=account, user=user, timestamp=ts, following=True, raw=fields
    )


def _unsubscribe(fields: dict[str, Any], account: str, user: str, ts: float) -> Event:
    return FollowChanged(
        platform="wechat", account=account, user=user, timestamp=ts, following=False, raw=fields
    )


def _scan(fields: dict[str, Any], account: str, user: str, ts: float) -> Event:
    return QrScanned(
        platform="wechat",
        account=account,
        user=user,
        timestamp=ts,
        scene=_required(fields, "EventKey"),
        ticket=_text(fields, "Ticket"),
        new_follower=False,
        raw=fields,
    )


def _menu(fields: dict[str, Any], account: str, user: str, ts: float) -> Event:
    return Postback(
        platform="wechat",
        account=account,
        user=user,
        message_id="",  # a click has no id; dedup_key uses FromUserName + CreateTime
        timestamp=ts,
        payload=_required(fields, "EventKey"),
        source="menu",
        raw=fields,
    )


def _view(fields: dict[str, Any], account: str, user: str, ts: float) -> Event:
    return MenuLinkOpened(
        platform="wechat",
        account=account,
        user=user,
        timestamp=ts,
        url=_required(fields, "EventKey"),
        menu_id=_text(fields, "MenuId"),
        raw=fields,
    )


def _location(fields: dict[str, Any], account: str, user: str, ts: float) -> Event:
    precision: float | None = None
    if _text(fields, "Precision") is not None:
        precision = _coordinate(fields, "Precision", 1e7)
        if precision < 0:
            raise _Malformed("Precision is negative")
    return LocationReported(
        platform="wechat",
        account=account,
        user=user,
        timestamp=ts,
        latitude=_coordinate(fields, "Latitude", 90.0),
        longitude=_coordinate(fields, "Longitude", 180.0),
        precision=precision,
        raw=fields,
    )


def _template_finished(fields: dict[str, Any], account: str, user: str, ts: float) -> Event:
    mid = msg_id(fields.get("MsgID"))
    if mid is None:
        raise _Malformed(f"MsgID {_shown(fields.get('MsgID'))} is not a 64-bit id")
    status = _required(fields, "Status")
    errors: tuple[DeliveryError, ...] = ()
    if status != "success":  # "failed:user block", "failed: system failed"...
        reason = status.partition(":")[2].strip() or None
        errors = (DeliveryError(code=status, title=reason),)
    return StatusUpdate(
        platform="wechat",
        account=account,
        user=user,
        message_id=mid,
        timestamp=ts,
        status="delivered" if status == "success" else "failed",
        errors=errors,
        raw=fields,
    )


_EVENTS: dict[str, _Handler] = {
    "subscribe": _subscribe,
    "unsubscribe": _unsubscribe,
    "scan": _scan,
    "view": _view,
    "location": _location,
    "templatesendjobfinish": _template_finished,
    **dict.fromkeys(_MENU, _menu),
}


# --- the push -----------------------------------------------------------------------------------


def parse_message(fields: dict[str, Any], account_hint: str | None) -> Event:
    """The event of one push's fields (see the module docstring); never raises.

    ``account_hint`` is the account when ``ToUserName`` is missing (the channel whose token
    verified the push). A follow through a QR code is its :class:`QrScanned`
    (``new_follower=True``); :func:`parse_events` gives the two events the reader emits.
    """
    to = fields.get("ToUserName")
    account = to if type(to) is str and to else account_hint
    if account is None:
        return _unknown(None, "push without ToUserName", fields)
    msg_type = fields.get("MsgType")
    if type(msg_type) is not str or not msg_type:
        return _unknown(account, f"push without MsgType ({_shown(msg_type)})", fields)
    kind = msg_type.lower()
    event_name: str | None = None
    handler: _Handler | None = None
    if kind == "event":
        name = fields.get("Event")
        if type(name) is not str or not name:
            return _unknown(account, f"event without Event ({_shown(name)})", fields)
        event_name = name.lower()
        handler = _EVENTS.get(event_name)
        if handler is None:
            return _unknown(account, f"{_shown(name)} event (kept raw)", fields)
    elif kind not in _MESSAGES:
        return _unknown(account, f"unknown MsgType {_shown(msg_type)} (kept raw)", fields)
    what = f"{event_name} event" if event_name is not None else f"{kind} message"
    user = _text(fields, "FromUserName")
    if user is None:
        return _unknown(account, f"malformed {what}: no FromUserName", fields)
    ts = _seconds(fields.get("CreateTime"))
    if ts is None:
        reason = f"CreateTime {_shown(fields.get('CreateTime'))} is not Unix seconds"
        return _unknown(account, f"malformed {what}: {reason} between 2001 and 3000", fields)
    try:
        if handler is not None:
            return handler(fields, account, user, ts)
        return _message(fields, kind, account, user, ts)
    except _Malformed as exc:
        return _unknown(account, f"malformed {what}: {exc}", fields)


def parse_events(fields: dict[str, Any], account_hint: str | None) -> list[Event]:
    """The events of one push: :func:`parse_message`'s, and for a follow through a QR code
    the :class:`FollowChanged` before its :class:`QrScanned` (so follower counts and scan
    counts each see it once, ``QrScanned``)."""
    event = parse_message(fields, account_hint)
    if type(event) is QrScanned and event.new_follower:
        follow = FollowChanged(
            platform="wechat",
            account=event.account,
            user=event.user,
            timestamp=event.timestamp,
            following=True,
            raw=event.raw,
        )
        return [follow, event]
    return [event]


# --- what the reader reads of an event ----------------------------------------------------------


def _event_name(raw: Any) -> str | None:
    if type(raw) is not dict:
        return None
    name = raw.get("Event")
    return name.lower() if type(name) is str else None


def interaction(event: Event) -> Literal["message", "event"] | None:
    """Which customer-service window ``event`` opens (spec §5.1): ``"message"`` for a
    customer's message (48 hours), ``"event"`` for a follow, a QR-code scan or a click on
    a ``click``/``scancode_push``/``scancode_waitmsg`` menu item (1 minute), else ``None``
    (VIEW, LOCATION, the other menu events, template results, unfollows, ``Unknown``)."""
    kind = type(event)
    if kind is MessageReceived:
        return "message"
    if kind is Postback:
        if event.source == "button":  # type: ignore[union-attr]  # a msgmenu tap: a message
            return "message"
        return "event" if _event_name(event.raw) in _WINDOW_MENU else None
    if kind is QrScanned:
        return "event"
    if kind is FollowChanged:
        return "event" if event.following else None  # type: ignore[union-attr]
    return None


def _part(value: Any) -> str:
    """One part of a dedup key: as it is when short and plain, else a digest."""
    if type(value) is str and _SAFE.fullmatch(value):
        return value
    text = json.dumps(value, sort_keys=True, default=str, ensure_ascii=True)
    return "h" + hashlib.sha256(text.encode()).hexdigest()[:32]


def dedup_key(event: Event) -> str:
    """The at-least-once de-duplication key of one event (spec §3.4; WeChat re-sends a push
    after 5 s without an answer, the very same fields).

    A message: the account and its ``MsgId``. An event: the account, ``FromUserName``,
    ``CreateTime`` and ``Event`` (as WeChat advises), plus ``EventKey`` and ``MsgID``
    (two clicks on two items in one second, two template results, stay two events; a
    redelivery has them the same); the :class:`QrScanned` of a follow through a QR code
    has a key of its own beside its :class:`FollowChanged`. Anything else: a digest of the
    fields.
    """
    raw = event.raw
    if type(raw) is not dict:
        return f"omnimsg:wechat:seen:u:{_part(raw)}"
    account = _part(raw.get("ToUserName") or event.account)
    name = _event_name(raw)
    if name is None:
        mid = msg_id(raw.get("MsgId"))
        if mid is not None:
            return f"omnimsg:wechat:seen:{account}:m:{mid}"
        return f"omnimsg:wechat:seen:{account}:u:{_part(raw)}"
    ts = _seconds(raw.get("CreateTime"))
    user = raw.get("FromUserName")
    if ts is None or type(user) is not str or type(event) is Unknown:
        return f"omnimsg:wechat:seen:{account}:u:{_part(raw)}"
    extra = _part([raw.get("EventKey"), raw.get("MsgID")])
    key = f"omnimsg:wechat:seen:{account}:e:{_part(user)}:{int(ts)}:{_part(name)}:{extra}"
    if type(event) is QrScanned and name == "subscribe":
        return key + ":qr"
    return key
