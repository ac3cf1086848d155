"""LINE wire format, inbound: a decoded webhook body to typed events (spec/line.md §2).

Parsing never raises for an event it does not understand: it yields
:class:`~omnimsg.Unknown` with the raw event instead (LINE adds event types, and the
development guidelines say not to parse strictly; spec Pitfalls 8). Only a body that is not
LINE's envelope at all (no ``events`` list) is refused, with ``ValueError``.

What each event becomes:

* ``event.account`` is the body's ``destination`` (the bot's user id), whichever it is: the
  console's "Verify" sends ``"xxxxxxxxxx"`` (research §1.4).
* ``event.user`` is the **chat** a reply or a push goes to: ``source.userId`` in a 1:1 chat,
  ``source.groupId`` or ``source.roomId`` in a group or a room. The member who spoke in a
  group stays in ``raw["source"]["userId"]`` (only on message events, only for LINE on a
  phone). An event with no chat at all (no ``source``, or a user who has not consented to
  share the profile; spec §2) cannot be answered by address: it becomes ``Unknown``.
* ``timestamp`` is Unix milliseconds (an integer), read as Unix seconds from
  :data:`MIN_TIMESTAMP` (2001) to :data:`MAX_TIMESTAMP` (3000): ``NaN``, ``1e20``, strings,
  seconds where milliseconds belong make the event ``Unknown`` (which updates no state).
* ``mode == "standby"`` (another channel holds the chat; research §3) is ``standby=True``
  where the class has it.
* ``raw`` is the whole event object: ``raw["replyToken"]``, ``raw["webhookEventId"]`` and
  ``raw["deliveryContext"]`` stay readable (:func:`reply_token`, :func:`dedup_key`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from ..._fast import fast_constructor
from ...exceptions import ConfigurationError
from ...models.content import Audio, Content, Document, Image, Location, Sticker, Text, Video
from ...models.events import (
    AccountLinked,
    BeaconDetected,
    Event,
    FollowChanged,
    MembershipChanged,
    MessageContext,
    MessageReceived,
    MessageUnsent,
    Postback,
    Unknown,
    UnsupportedContent,
    VideoWatched,
)

__all__ = [
    "MAX_TIMESTAMP",
    "MIN_TIMESTAMP",
    "chat_of",
    "dedup_key",
    "is_redelivery",
    "parse_events",
    "reply_token",
]

MIN_TIMESTAMP = 1_000_000_000.0
"""2001-09-09T01:46:40Z in Unix seconds: earlier webhook times are refused (a time in seconds
sent where milliseconds belong reads as January 1970)."""

MAX_TIMESTAMP = 32_503_680_000.0
"""3000-01-01T00:00:00Z in Unix seconds: webhook times at or after it are refused."""

_MIN_MS = 1_000_000_000_000  # MIN_TIMESTAMP in milliseconds
_MAX_MS = 32_503_680_000_000  # MAX_TIMESTAMP in milliseconds

# Hot-path constructors (same frozen instances, built about twice as fast; omnimsg/_fast.py).
_new_message = fast_constructor(MessageReceived)
_new_text = fast_constructor(Text)
_new_postback = fast_constructor(Postback)
_new_context = fast_constructor(MessageContext)
_new_follow = fast_constructor(FollowChanged)

# Event types LINE documents that omnimsg keeps raw (spec §2 "also in spec"; research §1.4:
# messageEdited, 2026-07-07; things was removed in 2025 and stays unknown).
_KEPT_RAW = frozenset(
    {
        "membership",
        "module",
        "activated",
        "deactivated",
        "botSuspended",
        "botResumed",
        "delivery",
        "messageEdited",
        "things",
    }
)


# --- small readers ----------------------------------------------------------------------------


def _shown(value: Any) -> str:
    """``value`` for an ``Unknown`` reason: a short repr (hostile input can be huge)."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _unknown(account: str | None, reason: str, raw: Any) -> Unknown:
    return Unknown(platform="line", account=account, reason=reason, raw=raw)


def _seconds(value: Any) -> float | None:
    """Unix seconds from an event's Unix milliseconds, or ``None`` when it is not one."""
    kind = type(value)
    if kind is int:  # checked before float(): an int may be too large for a float
        return float(value) / 1000.0 if _MIN_MS <= value < _MAX_MS else None
    if kind is not float:  # bool, str, None, a list...
        return None
    ms = float(value)
    if not (_MIN_MS <= ms < _MAX_MS and ms.is_integer()):  # NaN compares False
        return None
    return ms / 1000.0


def _text(d: dict[str, Any], key: str) -> str | None:
    v = d.get(key)
    return v if type(v) is str and v else None


def _required(d: dict[str, Any], key: str, what: str) -> str:
    v = d.get(key)
    if type(v) is not str or not v:
        raise ValueError(f"{what} without {key}")
    return v


def _object(e: dict[str, Any], key: str) -> dict[str, Any]:
    v = e.get(key)
    if type(v) is not dict:
        raise ValueError(f"{key} is not an object")
    return v


def _id(value: Any) -> str | None:
    """An id as a string: sticker and package ids are strings, tolerated as integers."""
    kind = type(value)
    if kind is str:
        return value if value else None
    if kind is int:
        return str(value)
    return None


def _chat(source: Any) -> str | None:
    """The chat of an event's ``source``: the user, the group or the room (spec §2)."""
    if type(source) is not dict:
        return None
    kind = source.get("type")
    if kind == "user":
        chat = source.get("userId")
    elif kind == "group":
        chat = source.get("groupId")
    elif kind == "room":
        chat = source.get("roomId")
    else:
        return None
    return chat if type(chat) is str and chat else None


def _coordinate(value: Any, limit: float, what: str) -> float:
    if type(value) is not int and type(value) is not float:
        raise ValueError(f"{what} must be a number")
    v = float(value)
    if not -limit <= v <= limit:  # NaN compares False
        raise ValueError(f"{what} is out of range")
    return v


# --- message content (spec §2 "Message content") ------------------------------------------------

_MEDIA: dict[str, type[Image | Video | Audio]] = {"image": Image, "video": Video, "audio": Audio}
_ANIMATED = frozenset({"ANIMATION", "ANIMATION_SOUND", "POPUP", "POPUP_SOUND"})


def _content(msg: dict[str, Any], mid: str, kind: Any) -> Content | UnsupportedContent:
    """One message's content. Media is fetched by the message id from api-data (spec §7),
    unless its ``contentProvider`` is ``external``: then it is at ``originalContentUrl``."""
    cls = _MEDIA.get(kind) if type(kind) is str else None
    if cls is not None:
        provider = msg.get("contentProvider")
        media_id: str | None = mid
        url: str | None = None
        if type(provider) is dict and provider.get("type") == "external":
            link = provider.get("originalContentUrl")
            if type(link) is str and link:
                media_id, url = None, link
        if cls is Image:
            return Image(media_id=media_id, url=url)
        # Videos and audio carry their length in ms (§2 message content table).
        duration = msg.get("duration")
        ms = duration if type(duration) is int and 0 <= duration < 1 << 53 else None
        if cls is Video:
            preview = provider.get("previewImageUrl") if type(provider) is dict else None
            return Video(
                media_id=media_id,
                url=url,
                duration_ms=ms,
                preview_url=preview if type(preview) is str else None,
            )
        return Audio(media_id=media_id, url=url, duration_ms=ms)
    if kind == "file":
        return Document(media_id=mid, filename=_text(msg, "fileName"))
    if kind == "location":
        return Location(
            latitude=_coordinate(msg.get("latitude"), 90.0, "latitude"),
            longitude=_coordinate(msg.get("longitude"), 180.0, "longitude"),
            name=_text(msg, "title"),
            address=_text(msg, "address"),
        )
    if kind == "sticker":
        package, sticker = _id(msg.get("packageId")), _id(msg.get("stickerId"))
        if package is None or sticker is None:
            raise ValueError("sticker without packageId or stickerId")
        return Sticker(
            media_id=f"{package}:{sticker}", animated=msg.get("stickerResourceType") in _ANIMATED
        )
    return UnsupportedContent(kind=kind if type(kind) is str and kind else "unknown", raw=msg)


def _context(msg: dict[str, Any]) -> MessageContext | None:
    quoted = msg.get("quotedMessageId")
    if type(quoted) is not str or not quoted:
        return None
    return _new_context(
        message_id=quoted,
        from_user=None,
        forwarded=False,
        frequently_forwarded=False,
        product_id=None,
        catalog_id=None,
    )


# --- events -------------------------------------------------------------------------------------

_Handler = Callable[[dict[str, Any], str, str, float, bool], Event]


def _message(e: dict[str, Any], account: str, chat: str, ts: float, standby: bool) -> Event:
    msg = _object(e, "message")
    mid = _required(msg, "id", "message")
    kind = msg.get("type")
    text = msg.get("text")
    content: Content | UnsupportedContent
    if kind == "text":
        if type(text) is not str:
            raise ValueError("text message without text")
        content = _new_text(body=text, preview_url=False)
    else:
        content = _content(msg, mid, kind)
    return _new_message(
        platform="line",
        account=account,
        user=chat,
        message_id=mid,
        timestamp=ts,
        content=content,
        user_name=None,
        phone=None,
        context=_context(msg) if "quotedMessageId" in msg else None,
        referral=None,
        standby=standby,
        raw=e,
    )


def _postback(e: dict[str, Any], account: str, chat: str, ts: float, standby: bool) -> Event:
    pb = _object(e, "postback")
    data = pb.get("data")
    if type(data) is not str:
        raise ValueError("postback without data")
    return _new_postback(
        platform="line",
        account=account,
        user=chat,
        message_id="",  # LINE names no message; the event's id is raw["webhookEventId"]
        timestamp=ts,
        payload=data,
        title=None,
        source="postback",
        description=None,
        user_name=None,
        context=None,
        referral=None,
        standby=standby,
        raw=e,
    )


def _follow(e: dict[str, Any], account: str, chat: str, ts: float, standby: bool) -> Event:
    return _new_follow(
        platform="line", account=account, user=chat, timestamp=ts, following=True, raw=e
    )


def _unfollow(e: dict[str, Any], account: str, chat: str, ts: float, standby: bool) -> Event:
    return _new_follow(
        platform="line", account=account, user=chat, timestamp=ts, following=False, raw=e
    )


def _unsend(e: dict[str, Any], account: str, chat: str, ts: float, standby: bool) -> Event:
    mid = _required(_object(e, "unsend"), "messageId", "unsend")
    return MessageUnsent(
        platform="line",
        account=account,
        user=chat,
        message_id=mid,
        timestamp=ts,
        standby=standby,
        raw=e,
    )


def _members(e: dict[str, Any], key: str) -> tuple[str, ...]:
    members = _object(e, key).get("members")
    if type(members) is not list:
        raise ValueError(f"{key} without members")
    return tuple(
        m["userId"]
        for m in members
        if type(m) is dict and type(m.get("userId")) is str and m["userId"]
    )


def _join(e: dict[str, Any], account: str, chat: str, ts: float, standby: bool) -> Event:
    return MembershipChanged(
        platform="line",
        account=account,
        user=chat,
        timestamp=ts,
        action="join",
        standby=standby,
        raw=e,
    )


def _leave(e: dict[str, Any], account: str, chat: str, ts: float, standby: bool) -> Event:
    return MembershipChanged(
        platform="line",
        account=account,
        user=chat,
        timestamp=ts,
        action="leave",
        standby=standby,
        raw=e,
    )


def _member_joined(e: dict[str, Any], account: str, chat: str, ts: float, standby: bool) -> Event:
    return MembershipChanged(
        platform="line",
        account=account,
        user=chat,
        timestamp=ts,
        action="member_joined",
        members=_members(e, "joined"),
        standby=standby,
        raw=e,
    )


def _member_left(e: dict[str, Any], account: str, chat: str, ts: float, standby: bool) -> Event:
    return MembershipChanged(
        platform="line",
        account=account,
        user=chat,
        timestamp=ts,
        action="member_left",
        members=_members(e, "left"),
        standby=standby,
        raw=e,
    )


def _video(e: dict[str, Any], account: str, chat: str, ts: float, standby: bool) -> Event:
    tracking = _required(_object(e, "videoPlayComplete"), "trackingId", "videoPlayComplete")
    return VideoWatched(
        platform="line",
        account=account,
        user=chat,
        timestamp=ts,
        tracking_id=tracking,
        standby=standby,
        raw=e,
    )


def _beacon(e: dict[str, Any], account: str, chat: str, ts: float, standby: bool) -> Event:
    beacon = _object(e, "beacon")
    return BeaconDetected(
        platform="line",
        account=account,
        user=chat,
        timestamp=ts,
        hwid=_required(beacon, "hwid", "beacon"),
        type=_required(beacon, "type", "beacon"),
        dm=_text(beacon, "dm"),
        standby=standby,
        raw=e,
    )


def _account_link(e: dict[str, Any], account: str, chat: str, ts: float, standby: bool) -> Event:
    link = _object(e, "link")
    return AccountLinked(
        platform="line",
        account=account,
        user=chat,
        timestamp=ts,
        result=_required(link, "result", "link"),
        nonce=_text(link, "nonce"),
        standby=standby,
        raw=e,
    )


_HANDLERS: dict[str, _Handler] = {
    "message": _message,
    "postback": _postback,
    "follow": _follow,
    "unfollow": _unfollow,
    "unsend": _unsend,
    "join": _join,
    "leave": _leave,
    "memberJoined": _member_joined,
    "memberLeft": _member_left,
    "videoPlayComplete": _video,
    "beacon": _beacon,
    "accountLink": _account_link,
}


def _event(e: Any, account: str, out: list[Event]) -> None:
    """Append the event of one item of ``events``."""
    if type(e) is not dict:
        out.append(_unknown(account, "event is not an object", e))
        return
    kind = e.get("type")
    if kind == "message":
        # The commonest event, a plain text (no quote), kept short: webhook ingest is a hot
        # path (DESIGN §5). Anything else takes the general path below, which builds the
        # very same event for this case.
        msg, raw_ts, source = e.get("message"), e.get("timestamp"), e.get("source")
        if (
            type(msg) is dict
            and type(raw_ts) is int
            and _MIN_MS <= raw_ts < _MAX_MS
            and type(source) is dict
            and msg.get("type") == "text"
            and "quotedMessageId" not in msg
        ):
            mid, text, where = msg.get("id"), msg.get("text"), source.get("type")
            chat = (
                source.get("userId")
                if where == "user"
                else source.get("groupId")
                if where == "group"
                else source.get("roomId")
                if where == "room"
                else None
            )
            if type(mid) is str and mid and type(text) is str and type(chat) is str and chat:
                out.append(
                    _new_message(
                        platform="line",
                        account=account,
                        user=chat,
                        message_id=mid,
                        timestamp=raw_ts / 1000.0,
                        content=_new_text(body=text, preview_url=False),
                        user_name=None,
                        phone=None,
                        context=None,
                        referral=None,
                        standby=e.get("mode") == "standby",
                        raw=e,
                    )
                )
                return
    handler = _HANDLERS.get(kind) if type(kind) is str else None
    if handler is None:
        if type(kind) is str and kind in _KEPT_RAW:
            out.append(_unknown(account, f"{kind} event (kept raw)", e))
        else:
            out.append(_unknown(account, f"unknown event type {_shown(kind)}", e))
        return
    raw_ts = e.get("timestamp")
    if type(raw_ts) is int and _MIN_MS <= raw_ts < _MAX_MS:  # the hot path
        ts = raw_ts / 1000.0
    else:
        seconds = _seconds(raw_ts)
        if seconds is None:
            reason = f"timestamp {_shown(raw_ts)} is not Unix milliseconds between 2001 and 3000"
            out.append(_unknown(account, f"malformed {kind} event: {reason}", e))
            return
        ts = seconds
    chat = _chat(e.get("source"))
    if chat is None:
        out.append(_unknown(account, f"{kind} event without a user, group or room id", e))
        return
    try:
        out.append(handler(e, account, chat, ts, e.get("mode") == "standby"))
    except (ValueError, TypeError, KeyError, AttributeError, ConfigurationError) as exc:
        out.append(_unknown(account, f"malformed {kind} event: {exc}", e))


def parse_events(payload: Any) -> list[Event]:
    """Every event of a decoded webhook body ``{"destination", "events": [...]}``, in order.

    An empty ``events`` list is LINE's reachability check (the console's "Verify"; research
    §3): no events. A body whose ``destination`` is not a string keeps each event as
    ``Unknown`` (``account=None``), since no account can be named for it.

    Raises:
        ValueError: the body is not a LINE webhook at all (the caller maps it to
            :class:`~omnimsg.WebhookParseError`).
    """
    if type(payload) is not dict:
        raise ValueError("not a LINE webhook (the body is not a JSON object)")
    events = payload.get("events")
    if type(events) is not list:
        raise ValueError("not a LINE webhook ('events' must be a list)")
    out: list[Event] = []
    account = payload.get("destination")
    if type(account) is not str or not account:
        for e in events:
            out.append(_unknown(None, "body without a destination", e))
        return out
    for e in events:
        _event(e, account, out)
    return out


# --- what the reader and the send flows read of an event --------------------------------------


def reply_token(event: Event) -> str | None:
    """The event's ``replyToken`` (replyable events only, spec §2), or ``None``."""
    raw = event.raw
    if type(raw) is not dict:
        return None
    token = raw.get("replyToken")
    return token if type(token) is str and token else None


def is_redelivery(event: Event) -> bool:
    """True for an event LINE sends again (``deliveryContext.isRedelivery``; spec §2)."""
    raw = event.raw
    if type(raw) is not dict:
        return False
    context = raw.get("deliveryContext")
    return type(context) is dict and context.get("isRedelivery") is True


def chat_of(event: Event) -> str | None:
    """The chat a reply or a push for ``event`` goes to: the user, group or room id of its
    ``source`` (``event.user`` for a typed event; ``Unknown`` events are read too)."""
    raw = event.raw
    return _chat(raw.get("source")) if type(raw) is dict else None


# --- de-duplication (spec §2: webhookEventId, kept on redelivery) -----------------------------


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str, ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def dedup_key(event: Event) -> str:
    """The at-least-once de-duplication key of one event: its ``webhookEventId`` (a ULID,
    the same on a redelivery), or a digest of the raw event when it has none."""
    raw = event.raw
    if type(raw) is dict:
        eid = raw.get("webhookEventId")
        if type(eid) is str and eid:
            if len(eid) <= 64 and eid.isascii() and eid.isalnum():  # a ULID: the hot path
                return f"omnimsg:line:seen:{eid}"
            digest = hashlib.sha256(eid.encode("utf-8", "replace")).hexdigest()[:32]
            return f"omnimsg:line:seen:h:{digest}"
    return f"omnimsg:line:seen:u:{_digest(raw)}"
