"""Messenger wire format: content to Send API bodies, webhook JSON to typed events.

Facts: spec/messenger.md §2 (webhooks), §3 (Send API) and the research notes' samples
(research §4). Parsing never raises for an item it does not understand: it yields
:class:`~omnimsg.Unknown` with the raw item instead.

Numbers are checked at this boundary, as on WhatsApp (``omnimsg.platforms.whatsapp.wire``):

* A messaging event's ``timestamp`` (and a receipt's ``watermark``) is Unix **milliseconds**
  (§2.1), as a number or a numeric string; it must come to Unix seconds from
  :data:`MIN_TIMESTAMP` (2001-09-09, before Facebook) to :data:`MAX_TIMESTAMP` (3000-01-01).
  ``NaN``, ``Infinity``, ``1e20``, and seconds where milliseconds belong (which would read as
  January 1970) are not clamped: the item becomes ``Unknown`` and updates no state. The one
  exception is the wrapped ``{"field", "value"}`` form of Meta's postback sample, whose
  properties are strings of Unix **seconds** (research §4).
* Feed changes (comments) carry ``created_time`` in Unix seconds (research §4).
* App ids and sticker ids arrive as numbers or strings (research §4): both are accepted and
  kept as strings.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, Literal

from ..._fast import fast_constructor
from ..._types import JSON, JSONObject
from ...exceptions import ConfigurationError
from ...models.content import (
    Audio,
    Button,
    Buttons,
    Cards,
    Content,
    Document,
    Image,
    LinkButton,
    Location,
    Media,
    QuickReplies,
    Raw,
    Sticker,
    Text,
    UrlButton,
    Video,
)
from ...models.events import (
    CommentReceived,
    Event,
    MessageContext,
    MessageEcho,
    MessageReceived,
    OptIn,
    Postback,
    ReactionChanged,
    Referral,
    ReferralReceived,
    StatusUpdate,
    ThreadControlChanged,
    Unknown,
    UnsupportedContent,
)

__all__ = [
    "MAX_TIMESTAMP",
    "MIN_TIMESTAMP",
    "MessagingType",
    "dedup_key",
    "encode_message",
    "encode_send",
    "parse_events",
    "timestamp_in_range",
]

MessagingType = Literal["RESPONSE", "UPDATE", "MESSAGE_TAG"]
"""The Send API's ``messaging_type`` (§3.1)."""

MAX_TIMESTAMP = 32_503_680_000.0
"""3000-01-01T00:00:00Z in Unix seconds: webhook times at or after it are refused."""

# Hot-path constructors (same frozen instances, built about twice as fast; omnimsg/_fast.py).
_new_message = fast_constructor(MessageReceived)
_new_text = fast_constructor(Text)
_new_postback = fast_constructor(Postback)
_new_status = fast_constructor(StatusUpdate)
_new_context = fast_constructor(MessageContext)
_new_echo = fast_constructor(MessageEcho)


# --- outbound -------------------------------------------------------------------------------


def _button(b: Button | LinkButton) -> JSONObject:
    if isinstance(b, LinkButton):
        return {"type": "web_url", "title": b.title, "url": b.url}
    return {"type": "postback", "title": b.title, "payload": b.id}


def _template(payload: JSONObject) -> JSONObject:
    return {"attachment": {"type": "template", "payload": payload}}


def _attachment(kind: str, m: Media) -> JSONObject:
    payload: JSONObject = (
        {"attachment_id": m.media_id} if m.media_id is not None else {"url": m.url}
    )
    return {"attachment": {"type": kind, "payload": payload}}


def encode_message(content: Content) -> JSONObject:
    """The Send API ``message`` object for one (already converted) content (§3.1-3.3).

    Raises:
        ConfigurationError: a type Messenger has no form for reached the wire (the capability
            table and the fallbacks keep every other type away from here).
    """
    if isinstance(content, Text):
        return {"text": content.body}
    if isinstance(content, Sticker):
        if content.media_id is not None:
            # research §2 (2026-06-01): {"message": {"sticker_id": 767226160478561}}.
            return {"sticker_id": int(content.media_id)}
        return _attachment("image", content)  # a sticker by URL is its picture
    if isinstance(content, Image):
        return _attachment("image", content)
    if isinstance(content, Video):
        return _attachment("video", content)
    if isinstance(content, Audio):
        return _attachment("audio", content)
    if isinstance(content, Document):
        return _attachment("file", content)
    if isinstance(content, QuickReplies):
        return {
            "text": content.body,
            "quick_replies": [
                {"content_type": "text", "title": r.title, "payload": r.id} for r in content.replies
            ],
        }
    if isinstance(content, Buttons):
        return _template(
            {
                "template_type": "button",
                "text": content.body,
                "buttons": [_button(b) for b in content.buttons],
            }
        )
    if isinstance(content, UrlButton):
        return _template(
            {
                "template_type": "button",
                "text": content.body,
                "buttons": [{"type": "web_url", "title": content.text, "url": content.url}],
            }
        )
    if isinstance(content, Cards):
        elements: list[JSON] = []
        for card in content.cards:
            element: JSONObject = {"title": card.title}
            if card.subtitle:
                element["subtitle"] = card.subtitle
            if card.image_url:
                element["image_url"] = card.image_url
            if card.url:
                element["default_action"] = {"type": "web_url", "url": card.url}
            if card.buttons:
                element["buttons"] = [_button(b) for b in card.buttons]
            elements.append(element)
        return _template({"template_type": "generic", "elements": elements})
    if isinstance(content, Raw):
        return dict(content.payload)
    raise ConfigurationError(f"Messenger cannot send {type(content).__name__}")


def encode_send(
    recipient: JSONObject,
    content: Content,
    *,
    messaging_type: MessagingType,
    tag: str | None = None,
    metadata: str | None = None,
    reply_to: str | None = None,
) -> JSONObject:
    """The full ``POST /{page-id}/messages`` body (§3.1).

    ``recipient`` is ``{"id": PSID}`` or, for a private reply, ``{"comment_id": ...}``.
    ``messaging_type`` is ``MESSAGE_TAG`` exactly when a tag is given (the Send API answers
    "(#100) Messaging type should be MESSAGE_TAG for tagged messages" otherwise; research
    §1.2).
    """
    body: JSONObject = {"recipient": recipient, "messaging_type": messaging_type}
    if tag is not None:
        body["tag"] = tag
    message = encode_message(content)
    if metadata is not None:
        message["metadata"] = metadata
    body["message"] = message
    if reply_to:
        # Quoting a message (2025 changelog, research §2): UNVERIFIED for Messenger sends;
        # the shape is Instagram's, ``reply_to: {"mid": ...}`` beside ``message``.
        body["reply_to"] = {"mid": reply_to}
    return body


# --- inbound: numbers and ids ---------------------------------------------------------------


MIN_TIMESTAMP = 1_000_000_000.0
"""2001-09-09T01:46:40Z in Unix seconds: earlier webhook times are refused (a time in seconds
sent where milliseconds belong reads as January 1970)."""


def timestamp_in_range(t: float) -> bool:
    """True for Unix seconds omnimsg accepts: finite, from 2001, before year 3000."""
    return MIN_TIMESTAMP <= t < MAX_TIMESTAMP  # False for NaN too


def _bad_time(value: Any, unit: str) -> ValueError:
    shown = repr(value)
    if len(shown) > 40:
        shown = shown[:37] + "..."
    return ValueError(f"timestamp {shown} is not Unix {unit} between 2001 and 3000")


def _seconds(value: Any, scale: float, unit: str) -> float:
    """Unix seconds from a webhook time given in ``unit`` (``scale`` of them per second)."""
    kind = type(value)
    if kind is not int and kind is not str and kind is not float:  # bool, None, list...
        raise _bad_time(value, unit)
    try:
        t = float(value) / scale
    except (ValueError, OverflowError):  # "abc"; an int too large for a float
        raise _bad_time(value, unit) from None
    if not MIN_TIMESTAMP <= t < MAX_TIMESTAMP:  # NaN compares False
        raise _bad_time(value, unit)
    return t


_MIN_MS = 1_000_000_000_000  # MIN_TIMESTAMP in milliseconds
_MAX_MS = 32_503_680_000_000  # MAX_TIMESTAMP in milliseconds


def _ms(value: Any) -> float:
    """Unix seconds from a messaging event's Unix milliseconds (§2.1)."""
    if type(value) is int and _MIN_MS <= value < _MAX_MS:  # the hot path
        return value / 1000.0
    return _seconds(value, 1000.0, "milliseconds")


def _id(value: Any) -> str | None:
    """An id as a string: ``"123"`` or ``123`` (app ids, sticker ids, page ids; research §4)."""
    kind = type(value)
    if kind is str:
        return value if value else None
    if kind is int:
        return str(value)
    return None


def _str(d: Mapping[str, Any], key: str) -> str | None:
    v = d.get(key)
    return v if isinstance(v, str) else None


def _obj(d: Mapping[str, Any], key: str) -> dict[str, Any]:
    v = d.get(key)
    return v if isinstance(v, dict) else {}


def _unknown(account: str | None, reason: str, raw: Any) -> Unknown:
    return Unknown(platform="messenger", account=account, reason=reason, raw=raw)


def _coordinate(value: Any, limit: float, what: str) -> float:
    if type(value) is not int and type(value) is not float:
        raise ValueError(f"{what} must be a number")
    v = float(value)
    if not -limit <= v <= limit:  # NaN compares False
        raise ValueError(f"{what} is out of range")
    return v


# --- inbound: message content ---------------------------------------------------------------

_MEDIA: dict[str, type[Image | Video | Audio | Document]] = {
    "image": Image,
    "video": Video,
    "audio": Audio,
    "file": Document,
}


def _sticker_id(payload: Mapping[str, Any]) -> str | None:
    sid = payload.get("sticker_id")
    if type(sid) is int and sid > 0:
        return str(sid)
    if type(sid) is str and sid.isdigit():
        return sid
    return None


def _attachment_content(a: Any) -> Content | UnsupportedContent:
    """One attachment of a message or echo (§2.2; research §2 and §4)."""
    if not isinstance(a, dict):
        return UnsupportedContent(kind="unknown", raw={})
    kind = a.get("type")
    payload = a.get("payload")
    p: dict[str, Any] = payload if isinstance(payload, dict) else {}
    sid = _sticker_id(p)
    if sid is not None:  # a sticker, as "sticker" or (before 2026-06-01) as "image"
        return Sticker(media_id=sid)
    url = p.get("url")
    cls = _MEDIA.get(kind) if isinstance(kind, str) else None
    if cls is not None and isinstance(url, str) and url:
        return cls(url=url)
    if kind == "location":  # legacy (§2.2): payload.coordinates {lat, long}
        c = _obj(p, "coordinates")
        return Location(
            latitude=_coordinate(c.get("lat"), 90.0, "latitude"),
            longitude=_coordinate(c.get("long"), 180.0, "longitude"),
            name=_str(a, "title"),
        )
    # fallback, post, ig_post, reel, ig_reel, appointment_booking, template (echoes), ...
    return UnsupportedContent(kind=kind if isinstance(kind, str) and kind else "unknown", raw=p)


def _contents(msg: dict[str, Any]) -> list[Content | UnsupportedContent]:
    """Each part of a message: its text, then each attachment (§2.2).

    Until 2026-08-30 a sticker arrives as a ``sticker`` attachment *and* an ``image`` with the
    same ``sticker_id`` (research §2): one sticker. A ``fallback`` (a shared link) repeats
    what the text already says, so it adds nothing beside a text.
    """
    parts: list[Content | UnsupportedContent] = []
    text = msg.get("text")
    if isinstance(text, str) and text:
        parts.append(_new_text(body=text, preview_url=False))
    attachments = msg.get("attachments")
    if type(attachments) is list:
        stickers: set[str] = set()
        for a in attachments:
            content = _attachment_content(a)
            if isinstance(content, Sticker):
                sid = content.media_id or ""
                if sid in stickers:
                    continue  # the sticker's companion image (or a repeat)
                stickers.add(sid)
            elif (
                isinstance(content, UnsupportedContent)
                and content.kind == "fallback"
                and parts
                and isinstance(parts[0], Text)
            ):
                continue
            parts.append(content)
    return parts


def _context(msg: dict[str, Any]) -> MessageContext | None:
    r = msg.get("reply_to")
    if not isinstance(r, dict):
        return None
    mid = r.get("mid")
    return _new_context(
        message_id=mid if isinstance(mid, str) else None,
        from_user=None,
        forwarded=False,
        frequently_forwarded=False,
        product_id=None,
        catalog_id=None,
    )


def _referral(r: Any) -> Referral | None:
    """A ``referral`` object (§2.2 messaging_referrals; postback and message referrals)."""
    if not isinstance(r, dict):
        return None
    ads = _obj(r, "ads_context_data")
    return Referral(
        source_url=_str(ads, "photo_url") or _str(ads, "video_url"),
        source_id=_id(r.get("ad_id")),
        source_type=_str(r, "source"),
        headline=_str(ads, "ad_title"),
        body=None,
        click_id=None,
        ref=_str(r, "ref"),
    )


# --- inbound: events ------------------------------------------------------------------------


def _message(
    item: dict[str, Any], msg: dict[str, Any], page: str, user: str, ts: float, standby: bool
) -> list[Event]:
    mid = msg.get("mid")
    if not isinstance(mid, str) or not mid:
        raise ValueError("message without mid")
    qr = msg.get("quick_reply")
    context = _context(msg) if "reply_to" in msg else None
    if isinstance(qr, dict):  # a quick reply tap: its payload, and its title as the text
        payload = qr.get("payload")
        return [
            _new_postback(
                platform="messenger",
                account=page,
                user=user,
                message_id=mid,
                timestamp=ts,
                payload=payload if isinstance(payload, str) else "",
                title=_str(msg, "text"),
                source="quick_reply",
                description=None,
                user_name=None,
                context=context,
                referral=None,
                standby=standby,
                raw=item,
            )
        ]
    text = msg.get("text")
    if type(text) is str and text and "attachments" not in msg:
        parts: list[Content | UnsupportedContent] = [_new_text(body=text, preview_url=False)]
    else:
        parts = _contents(msg)
    if not parts:
        return [_unknown(page, "message without text or attachments", item)]
    referral = _referral(msg.get("referral")) if "referral" in msg else None
    return [
        _new_message(
            platform="messenger",
            account=page,
            user=user,
            message_id=mid,
            timestamp=ts,
            content=content,
            user_name=None,
            phone=None,
            context=context,
            referral=referral,
            standby=standby,
            raw=item,
        )
        for content in parts
    ]


def _echo(
    item: dict[str, Any], msg: dict[str, Any], page: str, user: str, ts: float, standby: bool
) -> MessageEcho:
    mid = msg.get("mid")
    if not isinstance(mid, str) or not mid:
        raise ValueError("echo without mid")
    parts = _contents(msg)
    return _new_echo(
        platform="messenger",
        account=page,
        user=user,
        message_id=mid,
        timestamp=ts,
        content=parts[0] if parts else None,
        app_id=_id(msg.get("app_id")),
        metadata=_str(msg, "metadata"),
        standby=standby,
        raw=item,
    )


def _postback(item: dict[str, Any], page: str, user: str, ts: float, standby: bool) -> Postback:
    pb = item["postback"]
    if not isinstance(pb, dict):
        raise ValueError("postback is not an object")
    payload = pb.get("payload")  # absent in standby (§2.2)
    mid = pb.get("mid")
    return _new_postback(
        platform="messenger",
        account=page,
        user=user,
        message_id=mid if isinstance(mid, str) else "",
        timestamp=ts,
        payload=payload if isinstance(payload, str) else "",
        title=_str(pb, "title"),
        source="postback",
        description=None,
        user_name=None,
        context=None,
        referral=_referral(pb.get("referral")) if "referral" in pb else None,
        standby=standby,
        raw=item,
    )


def _receipts(
    item: dict[str, Any], kind: str, page: str, user: str, ts: float | None, standby: bool
) -> list[Event]:
    """``delivery`` (one event per mid; none named: one without) and ``read`` (§2.2)."""
    r = item[kind]
    if not isinstance(r, dict):
        raise ValueError(f"{kind} is not an object")
    watermark = _ms(r.get("watermark"))  # always present (research §4)
    timestamp = ts if ts is not None else watermark  # a delivery has no timestamp
    status = "delivered" if kind == "delivery" else "read"
    mids = r.get("mids")
    named = [m for m in mids if isinstance(m, str) and m] if type(mids) is list else []
    return [
        _new_status(
            platform="messenger",
            account=page,
            user=user,
            message_id=mid,
            timestamp=timestamp,
            status=status,
            errors=(),
            pricing=None,
            conversation_id=None,
            callback_data=None,
            watermark=watermark,
            standby=standby,
            raw=item,
        )
        for mid in (named or [""])
    ]


def _reaction(item: dict[str, Any], page: str, user: str, ts: float, standby: bool) -> Event:
    r = item["reaction"]
    if not isinstance(r, dict):
        raise ValueError("reaction is not an object")
    mid = r.get("mid")
    if not isinstance(mid, str) or not mid:
        raise ValueError("reaction without mid")
    return ReactionChanged(
        platform="messenger",
        account=page,
        user=user,
        message_id=mid,
        timestamp=ts,
        emoji=_str(r, "emoji"),
        reaction=_str(r, "reaction"),
        removed=r.get("action") == "unreact",
        standby=standby,
        raw=item,
    )


def _optin(item: dict[str, Any], page: str, user: str | None, ts: float) -> OptIn:
    o = item["optin"]
    if not isinstance(o, dict):
        raise ValueError("optin is not an object")
    user_ref = _id(o.get("user_ref"))
    who = user or user_ref  # a checkbox plugin: no sender.id, only optin.user_ref (§2.2)
    if not who:
        raise ValueError("optin without sender or user_ref")
    expiry = o.get("token_expiry_timestamp")
    expires = None
    if expiry is not None:
        try:
            expires = _ms(expiry)
        except ValueError:
            expires = None  # the token's life is informative; the event stands
    return OptIn(
        platform="messenger",
        account=page,
        user=who,
        timestamp=ts,
        type=_str(o, "type"),
        ref=_str(o, "ref"),
        payload=_str(o, "payload"),
        user_ref=user_ref,
        title=_str(o, "title"),
        token=_str(o, "notification_messages_token") or _str(o, "one_time_notif_token"),
        frequency=_str(o, "notification_messages_frequency"),
        token_status=_str(o, "user_token_status") or _str(o, "notification_messages_status"),
        token_expires_at=expires,
        raw=item,
    )


_HANDOVER: dict[str, Literal["pass", "take", "request"]] = {
    "pass_thread_control": "pass",
    "take_thread_control": "take",
    "request_thread_control": "request",
}


def _handover(
    item: dict[str, Any], key: str, page: str, user: str | None, ts: float, standby: bool
) -> ThreadControlChanged:
    h = item[key]
    if not isinstance(h, dict):
        raise ValueError(f"{key} is not an object")
    return ThreadControlChanged(
        platform="messenger",
        account=page,
        user=user,
        timestamp=ts,
        action=_HANDOVER[key],
        previous_owner=_id(h.get("previous_owner_app_id")),
        new_owner=_id(h.get("new_owner_app_id")),
        requested_owner=_id(h.get("requested_owner_app_id")),
        metadata=_str(h, "metadata"),
        standby=standby,
        raw=item,
    )


def _app_roles(item: dict[str, Any], page: str, ts: float, standby: bool) -> ThreadControlChanged:
    roles = item["app_roles"]
    if not isinstance(roles, dict):
        raise ValueError("app_roles is not an object")
    pairs = tuple(
        sorted(
            (str(app), tuple(r for r in names if isinstance(r, str)))
            for app, names in roles.items()
            if isinstance(names, list)
        )
    )
    return ThreadControlChanged(
        platform="messenger",
        account=page,
        user=None,
        timestamp=ts,
        action="roles",
        roles=pairs,
        standby=standby,
        raw=item,
    )


# Kinds Meta lists that omnimsg keeps raw (§2.2 "Others"; message_edits' shape is UNVERIFIED).
_KEPT_RAW = (
    "message_edit",
    "account_linking",
    "game_play",
    "policy_enforcement",
    "messaging_feedback",
)


def _event(item: Any, page: str, standby: bool, out: list[Event]) -> None:
    """Append the events of one ``messaging`` (or ``standby``) item."""
    if type(item) is not dict:
        out.append(_unknown(page, "item is not an object", item))
        return
    msg = item.get("message")
    if type(msg) is dict and len(msg) == 2:
        # The commonest event, a plain text ({"mid", "text"} and nothing else: no quick
        # reply, attachment, quote or echo), kept short: webhook ingest is a hot path.
        sender, raw_ts = item.get("sender"), item.get("timestamp")
        mid, text = msg.get("mid"), msg.get("text")
        if (
            type(raw_ts) is int
            and _MIN_MS <= raw_ts < _MAX_MS
            and type(sender) is dict
            and type(mid) is str
            and mid
            and type(text) is str
            and text
        ):
            user = sender.get("id")
            if type(user) is str and user:
                out.append(
                    _new_message(
                        platform="messenger",
                        account=page,
                        user=user,
                        message_id=mid,
                        timestamp=raw_ts / 1000.0,
                        content=_new_text(body=text, preview_url=False),
                        user_name=None,
                        phone=None,
                        context=None,
                        referral=None,
                        standby=standby,
                        raw=item,
                    )
                )
                return
    raw = item
    scale = 1000.0
    value = item.get("value")
    if "field" in item and type(value) is dict:
        # Meta's postback sample wraps the event as {"field", "value"}, all values strings of
        # Unix seconds (research §4): tolerated; the real form is the plain one.
        item = raw = value
        scale = 1.0
    sender, recipient = item.get("sender"), item.get("recipient")
    sender_id = _id(sender.get("id")) if type(sender) is dict else None
    recipient_id = _id(recipient.get("id")) if type(recipient) is dict else None
    raw_ts = item.get("timestamp")
    try:
        ts: float | None = None
        if raw_ts is not None:
            ts = _ms(raw_ts) if scale == 1000.0 else _seconds(raw_ts, scale, "seconds")
        msg = item.get("message")
        if type(msg) is dict:
            if ts is None:
                raise _bad_time(raw_ts, "milliseconds")
            if msg.get("is_echo") is True:  # sender = Page, recipient = the customer (§2.2)
                if not recipient_id:
                    raise ValueError("echo without recipient")
                out.append(_echo(raw, msg, page, recipient_id, ts, standby))
                return
            if not sender_id:
                raise ValueError("message without sender")
            out.extend(_message(raw, msg, page, sender_id, ts, standby))
            return
        if "delivery" in item or "read" in item:
            if not sender_id:
                raise ValueError("receipt without sender")
            kind = "delivery" if "delivery" in item else "read"
            out.extend(_receipts(raw, kind, page, sender_id, ts, standby))
            return
        if ts is None:
            raise _bad_time(raw_ts, "milliseconds")
        if "postback" in item:
            if not sender_id:
                raise ValueError("postback without sender")
            out.append(_postback(raw, page, sender_id, ts, standby))
        elif "reaction" in item:
            if not sender_id:
                raise ValueError("reaction without sender")
            out.append(_reaction(raw, page, sender_id, ts, standby))
        elif "referral" in item:
            referral = _referral(item["referral"])
            if not sender_id or referral is None:
                raise ValueError("referral without sender or referral object")
            out.append(
                ReferralReceived(
                    platform="messenger",
                    account=page,
                    user=sender_id,
                    timestamp=ts,
                    referral=referral,
                    standby=standby,
                    raw=raw,
                )
            )
        elif "optin" in item:
            out.append(_optin(raw, page, sender_id, ts))
        elif "app_roles" in item:
            out.append(_app_roles(raw, page, ts, standby))
        else:
            for key in _HANDOVER:
                if key in item:
                    out.append(_handover(raw, key, page, sender_id, ts, standby))
                    return
            kept = next((k for k in _KEPT_RAW if k in item), None)
            out.append(_unknown(page, kept or "unknown messaging event", raw))
    except (ValueError, TypeError, KeyError, AttributeError, ConfigurationError) as exc:
        out.append(_unknown(page, f"malformed item: {exc}", raw))


def _comment(value: dict[str, Any], page: str) -> CommentReceived:
    comment_id = _id(value.get("comment_id"))
    if not comment_id:
        raise ValueError("comment without comment_id")
    who = _obj(value, "from")
    created = _seconds(value.get("created_time"), 1.0, "seconds")
    verb = _str(value, "verb") or "add"
    return CommentReceived(
        platform="messenger",
        account=page,
        comment_id=comment_id,
        post_id=_id(value.get("post_id")),
        user=_id(who.get("id")),
        timestamp=created,
        verb=verb,
        text=_str(value, "message"),
        user_name=_str(who, "name"),
        parent_id=_id(value.get("parent_id")),
        raw=value,
    )


def _change(change: Any, page: str, out: list[Event]) -> None:
    """Append the event of one ``changes`` item: feed comments (§2.1), the rest kept raw."""
    value = change.get("value") if type(change) is dict else None
    if type(value) is not dict:
        out.append(_unknown(page, "malformed change", change))
        return
    field, item = change.get("field"), value.get("item")
    if field != "feed" or item != "comment":
        out.append(_unknown(page, f"change {field!r} item {item!r}", change))
        return
    try:
        out.append(_comment(value, page))
    except (ValueError, TypeError, KeyError, AttributeError, ConfigurationError) as exc:
        out.append(_unknown(page, f"malformed comment: {exc}", change))


def parse_events(payload: Any) -> list[Event]:
    """Every event in a decoded webhook body, in order: all entries, and in each its
    ``messaging``, then ``standby``, then ``changes`` items (§2.1).

    Raises:
        ValueError: the body is not a Page webhook at all (the caller maps it to
            :class:`~omnimsg.WebhookParseError`).
    """
    if type(payload) is not dict or payload.get("object") != "page":
        raise ValueError("not a Messenger webhook (object != 'page')")
    entries = payload.get("entry")
    if type(entries) is not list:
        raise ValueError("'entry' must be a list")
    out: list[Event] = []
    for entry in entries:
        if type(entry) is not dict:
            out.append(_unknown(None, "malformed entry", entry))
            continue
        page = _id(entry.get("id"))
        messaging, standby, changes = (
            entry.get("messaging"),
            entry.get("standby"),
            entry.get("changes"),
        )
        if not page or not any(type(x) is list for x in (messaging, standby, changes)):
            out.append(_unknown(page, "malformed entry", entry))
            continue
        if type(messaging) is list:
            for item in messaging:
                _event(item, page, False, out)
        if type(standby) is list:
            for item in standby:
                _event(item, page, True, out)
        if type(changes) is list:
            for change in changes:
                _change(change, page, out)
    return out


# --- de-duplication (§2.3: at-least-once; de-duplicate on mid, watermark for receipts) -------


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str, ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _short(text: str) -> str:
    return text if len(text) <= 64 else hashlib.sha256(text.encode()).hexdigest()[:32]


def _part(content: Content | UnsupportedContent | None) -> str:
    """What tells the parts of one message apart (its text is one, each attachment one)."""
    if content is None or isinstance(content, Text):
        return ""
    if isinstance(content, Media):
        return ":" + _short(content.media_id or content.url or "")
    if isinstance(content, UnsupportedContent):
        return f":{content.kind}:{_digest(content.raw)}"
    return ":" + _digest(repr(content))


def dedup_key(event: Event) -> str:
    """The at-least-once de-duplication key of one event (§2.3, Pitfalls 3)."""
    if isinstance(event, MessageReceived):
        return f"omnimsg:fb:seen:m:{event.message_id}{_part(event.content)}"
    if isinstance(event, Postback):
        if event.message_id:
            return f"omnimsg:fb:seen:m:{event.message_id}"
        return f"omnimsg:fb:seen:p:{event.account}:{event.user}:{event.timestamp!r}:{_short(event.payload)}"
    if isinstance(event, StatusUpdate):
        return (
            f"omnimsg:fb:seen:s:{event.account}:{event.user}:{event.status}:"
            f"{event.watermark!r}:{event.message_id}"
        )
    if isinstance(event, MessageEcho):
        return f"omnimsg:fb:seen:e:{event.message_id}"
    if isinstance(event, ReactionChanged):
        action = "u" if event.removed else "r"
        return (
            f"omnimsg:fb:seen:x:{event.account}:{event.user}:{event.message_id}:{action}:"
            f"{event.timestamp!r}"
        )
    if isinstance(event, CommentReceived):
        return f"omnimsg:fb:seen:c:{event.comment_id}:{event.verb}:{event.timestamp!r}"
    return f"omnimsg:fb:seen:u:{_digest(event.raw)}"
