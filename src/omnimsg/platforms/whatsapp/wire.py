"""WhatsApp wire format: content to message objects, webhook JSON to typed events.

Facts: spec/whatsapp.md §1.4 (envelope), §2 (inbound), §3 (statuses), §4 (sending), §6.4-6.5
(templates). Parsing never raises for an item it does not understand: it yields
:class:`~omnimsg.Unknown` with the raw item instead.

Numbers are checked at this boundary, because everything downstream does arithmetic and
date conversion on them:

* A message or status ``timestamp`` (and a template update's ``entry.time``) must be Unix
  seconds as a finite number strictly between 0 and :data:`MAX_TIMESTAMP` (3000-01-01 UTC).
  There is no clock at parse time, so the bounds are absolute; year 3000 leaves room for
  window arithmetic (``last + 24 h``, 7-day tags) far below ``datetime``'s year 9999. ``"nan"``,
  ``"inf"``, ``1e20``, milliseconds by mistake, zero and negative values are not clamped (a
  clamped time would open or hold a window the customer never opened): the item becomes
  :class:`~omnimsg.Unknown` with a reason naming the timestamp, and updates no state.
* An inbound location must have a finite latitude in [-90, 90] and longitude in [-180, 180],
  or the message becomes :class:`~omnimsg.Unknown` likewise.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

from ..._fast import fast_constructor
from ..._types import JSON, JSONObject
from ...exceptions import ConfigurationError
from ...models.content import (
    Audio,
    Button,
    Buttons,
    Contact,
    ContactAddress,
    ContactEmail,
    ContactName,
    ContactPhone,
    Contacts,
    Content,
    Document,
    Image,
    ListMenu,
    ListRow,
    ListSection,
    Location,
    Media,
    Raw,
    Reaction,
    Sticker,
    Template,
    TemplateButtonParam,
    TemplateHeader,
    Text,
    UrlButton,
    Video,
)
from ...models.events import (
    DeliveryError,
    Event,
    MessageContext,
    MessageReceived,
    Postback,
    Pricing,
    Referral,
    StatusUpdate,
    SystemNotice,
    TemplateStatusChanged,
    Unknown,
    UnsupportedContent,
)

__all__ = ["MAX_TIMESTAMP", "encode_message", "is_bsuid", "parse_events", "timestamp_in_range"]

# §8: business-scoped user ids look like "US.13491208655302741918" or "US.ENT.…".
_M = TypeVar("_M", bound=Media)
# Hot-path constructors (same frozen instances, built about twice as fast; see omnimsg/_fast.py).
_new_message = fast_constructor(MessageReceived)
_new_text = fast_constructor(Text)
_new_postback = fast_constructor(Postback)
_new_status = fast_constructor(StatusUpdate)
_new_pricing = fast_constructor(Pricing)
_new_error = fast_constructor(DeliveryError)
_new_context = fast_constructor(MessageContext)
_new_referral = fast_constructor(Referral)
_new_location = fast_constructor(Location)
_new_reaction = fast_constructor(Reaction)
# Inbound media always carry an id and never a link, which is all Media's own check asks.
_new_image = fast_constructor(Image, skip_post_init=True)
_new_video = fast_constructor(Video, skip_post_init=True)
_new_audio = fast_constructor(Audio, skip_post_init=True)
_new_document = fast_constructor(Document, skip_post_init=True)
_new_sticker = fast_constructor(Sticker, skip_post_init=True)
_BSUID = re.compile(r"^[A-Z]{2}\.[A-Za-z0-9.]+$")


def is_bsuid(user: str) -> bool:
    """True for a business-scoped user id (sent in ``recipient``, not ``to``; §4.1)."""
    return bool(_BSUID.match(user))


# --- outbound -------------------------------------------------------------------------------


def _media(m: Media) -> JSONObject:
    out: JSONObject = {"id": m.media_id} if m.media_id is not None else {"link": m.url}
    if isinstance(m, Image | Video | Document) and m.caption:
        out["caption"] = m.caption
    if isinstance(m, Document) and m.filename:
        out["filename"] = m.filename
    return out


def _header(text: str | None) -> JSONObject:
    return {"header": {"type": "text", "text": text}} if text else {}


def _footer(text: str | None) -> JSONObject:
    return {"footer": {"text": text}} if text else {}


def _contact(c: Contact) -> JSONObject:
    name: JSONObject = {"formatted_name": c.name.formatted_name}
    if c.name.first_name:
        name["first_name"] = c.name.first_name
    if c.name.last_name:
        name["last_name"] = c.name.last_name
    out: JSONObject = {"name": name}
    if c.phones:
        out["phones"] = [
            _drop_none({"phone": p.phone, "type": p.type, "wa_id": p.wa_id}) for p in c.phones
        ]
    if c.emails:
        out["emails"] = [_drop_none({"email": e.email, "type": e.type}) for e in c.emails]
    if c.addresses:
        out["addresses"] = [
            _drop_none(
                {
                    "street": a.street,
                    "city": a.city,
                    "zip": a.zip,
                    "country": a.country,
                    "country_code": a.country_code,
                    "type": a.type,
                }
            )
            for a in c.addresses
        ]
    if c.organization:
        out["org"] = {"company": c.organization}
    if c.urls:
        out["urls"] = [{"url": u} for u in c.urls]
    if c.birthday:
        out["birthday"] = c.birthday
    return out


def _drop_none(d: dict[str, Any]) -> JSONObject:
    return {k: v for k, v in d.items() if v is not None}


def _template(t: Template) -> JSONObject:
    components: list[JSON] = []
    h = t.header
    if h is not None:
        if h.kind == "text":
            param: JSONObject = {"type": "text", "text": h.text}
        elif h.kind == "location" and h.location is not None:
            param = {"type": "location", "location": _location(h.location)}
        elif h.media is not None:
            param = {"type": h.kind, h.kind: _media(h.media)}
        else:
            raise ConfigurationError(f"template header of kind {h.kind!r} needs its value")
        components.append({"type": "header", "parameters": [param]})
    if isinstance(t.params, Mapping):
        params: list[JSON] = [
            {"type": "text", "parameter_name": k, "text": v} for k, v in t.params.items()
        ]
    else:
        params = [{"type": "text", "text": v} for v in t.params]
    if params:
        components.append({"type": "body", "parameters": params})
    for b in t.buttons:
        kind = {
            "quick_reply": "payload",
            "url": "text",
            "copy_code": "coupon_code",
            "flow": "action",
        }[b.sub_type]
        value: JSON = {"flow_token": b.value} if kind == "action" else b.value
        components.append(
            {
                "type": "button",
                "sub_type": b.sub_type,
                "index": str(b.index),
                "parameters": [{"type": kind, kind: value}],
            }
        )
    out: JSONObject = {"name": t.name, "language": {"code": t.language}}
    if components:
        out["components"] = components
    return out


def _location(loc: Location) -> JSONObject:
    return _drop_none(
        {
            "latitude": loc.latitude,
            "longitude": loc.longitude,
            "name": loc.name,
            "address": loc.address,
        }
    )


def _body(content: Content) -> JSONObject:
    """The ``type`` and type object for one content (§4.2)."""
    if isinstance(content, Text):
        text: JSONObject = {"body": content.body}
        if content.preview_url:
            text["preview_url"] = True
        return {"type": "text", "text": text}
    if isinstance(content, Media):
        kind = "sticker" if isinstance(content, Sticker) else type(content).__name__.lower()
        return {"type": kind, kind: _media(content)}
    if isinstance(content, Location):
        return {"type": "location", "location": _location(content)}
    if isinstance(content, Contacts):
        return {"type": "contacts", "contacts": [_contact(c) for c in content.contacts]}
    if isinstance(content, Reaction):
        return {
            "type": "reaction",
            "reaction": {"message_id": content.message_id, "emoji": content.emoji},
        }
    if isinstance(content, Buttons):
        interactive: JSONObject = {
            "type": "button",
            **_header(content.header),
            "body": {"text": content.body},
            **_footer(content.footer),
            "action": {
                "buttons": [
                    {"type": "reply", "reply": {"id": b.id, "title": b.title}}
                    for b in content.buttons
                ]
            },
        }
        return {"type": "interactive", "interactive": interactive}
    if isinstance(content, ListMenu):
        sections: list[JSON] = []
        for s in content.sections:
            section: JSONObject = {
                "rows": [
                    _drop_none({"id": r.id, "title": r.title, "description": r.description})
                    for r in s.rows
                ]
            }
            if s.title:
                section["title"] = s.title
            sections.append(section)
        interactive = {
            "type": "list",
            **_header(content.header),
            "body": {"text": content.body},
            **_footer(content.footer),
            "action": {"button": content.button, "sections": sections},
        }
        return {"type": "interactive", "interactive": interactive}
    if isinstance(content, UrlButton):
        interactive = {
            "type": "cta_url",
            **_header(content.header),
            "body": {"text": content.body},
            **_footer(content.footer),
            "action": {
                "name": "cta_url",
                "parameters": {"display_text": content.text, "url": content.url},
            },
        }
        return {"type": "interactive", "interactive": interactive}
    if isinstance(content, Template):
        return {"type": "template", "template": _template(content)}
    if isinstance(content, Raw):
        return dict(content.payload)
    raise ConfigurationError(f"WhatsApp cannot send {type(content).__name__}")


def encode_message(
    user: str,
    content: Content,
    *,
    reply_to: str | None = None,
    callback_data: str | None = None,
) -> JSONObject:
    """The full ``POST /{phone-number-id}/messages`` body for one message (§4.1)."""
    out: JSONObject = {"messaging_product": "whatsapp", "recipient_type": "individual"}
    if is_bsuid(user):
        out["recipient"] = user
    else:
        out["to"] = user
    out.update(_body(content))
    if reply_to:
        out["context"] = {"message_id": reply_to}
    if callback_data:
        out["biz_opaque_callback_data"] = callback_data
    return out


# --- inbound ------------------------------------------------------------------------------


def _str(d: Mapping[str, Any], key: str) -> str | None:
    v = d.get(key)
    return v if isinstance(v, str) else None


MAX_TIMESTAMP = 32_503_680_000.0
"""3000-01-01T00:00:00Z: webhook times at or after it are refused (see the module docstring)."""


def timestamp_in_range(t: float) -> bool:
    """True for Unix seconds omnimsg accepts: finite, after 1970, before year 3000."""
    return 0.0 < t < MAX_TIMESTAMP  # False for NaN too


def _bad_ts(value: Any) -> ValueError:
    shown = repr(value)
    if len(shown) > 40:
        shown = shown[:37] + "..."
    return ValueError(f"timestamp {shown} is not Unix seconds between 1970 and 3000")


def _ts(value: Any) -> float:
    """Unix seconds from a webhook time (§2: a string of Unix seconds; numbers accepted too).

    Raises ``ValueError`` (the item becomes ``Unknown``) unless it is in range.
    """
    kind = type(value)
    if kind is not str and kind is not int and kind is not float:  # bool, None, list...
        raise _bad_ts(value)
    try:
        t = float(value)
    except (ValueError, OverflowError):  # "abc"; an int too large for a float
        raise _bad_ts(value) from None
    if not 0.0 < t < MAX_TIMESTAMP:  # NaN compares False
        raise _bad_ts(value)
    return t


def _coordinate(value: Any, limit: float, what: str) -> float:
    kind = type(value)
    if kind is not str and kind is not int and kind is not float:
        raise ValueError(f"{what} must be a number")
    try:
        v = float(value)
    except OverflowError:
        raise ValueError(f"{what} is out of range") from None
    if not -limit <= v <= limit:  # NaN compares False
        raise ValueError(f"{what} is out of range")
    return v


def _obj(d: Mapping[str, Any], key: str) -> dict[str, Any]:
    v = d.get(key)
    if not isinstance(v, dict):
        raise ValueError(f"missing object {key!r}")
    return v


def _media_parts(
    msg: dict[str, Any], kind: str
) -> tuple[dict[str, Any], str, str | None, str | None]:
    """``(object, media_id, mime_type, sha256)`` of an inbound media message (hot path)."""
    o = msg.get(kind)
    if not isinstance(o, dict):
        raise ValueError(f"missing object {kind!r}")
    get = o.get
    media_id, mime_type, sha256 = get("id"), get("mime_type"), get("sha256")
    if not isinstance(media_id, str) or not media_id:
        raise ValueError("inbound media without an id")
    return (
        o,
        media_id,
        mime_type if isinstance(mime_type, str) else None,
        sha256 if isinstance(sha256, str) else None,
    )


_MediaIn = Callable[
    [dict[str, Any], str, str | None, str | None], Image | Video | Audio | Document | Sticker
]
# Media: one constructor each, without **kwargs (webhook ingest is a hot path); each gets
# (object, media_id, mime_type, sha256) from _media_parts.
_MEDIA_IN: dict[str, _MediaIn] = {
    "image": lambda o, i, m, h: _new_image(
        media_id=i, url=None, mime_type=m, sha256=h, caption=_str(o, "caption")
    ),
    "video": lambda o, i, m, h: _new_video(
        media_id=i,
        url=None,
        mime_type=m,
        sha256=h,
        caption=_str(o, "caption"),
        preview_url=None,
        duration_ms=None,
    ),
    "audio": lambda o, i, m, h: _new_audio(
        media_id=i,
        url=None,
        mime_type=m,
        sha256=h,
        voice=bool(o.get("voice", False)),
        duration_ms=None,
    ),
    "document": lambda o, i, m, h: _new_document(
        media_id=i,
        url=None,
        mime_type=m,
        sha256=h,
        caption=_str(o, "caption"),
        filename=_str(o, "filename"),
    ),
    "sticker": lambda o, i, m, h: _new_sticker(
        media_id=i, url=None, mime_type=m, sha256=h, animated=bool(o.get("animated", False))
    ),
}


def _contacts_in(items: list[Any]) -> Contacts:
    cards: list[Contact] = []
    for c in items:
        name = c.get("name") or {}
        cards.append(
            Contact(
                name=ContactName(
                    formatted_name=_str(name, "formatted_name") or "",
                    first_name=_str(name, "first_name"),
                    last_name=_str(name, "last_name"),
                ),
                phones=tuple(
                    ContactPhone(
                        phone=_str(p, "phone") or "", type=_str(p, "type"), wa_id=_str(p, "wa_id")
                    )
                    for p in c.get("phones") or ()
                ),
                emails=tuple(
                    ContactEmail(email=_str(e, "email") or "", type=_str(e, "type"))
                    for e in c.get("emails") or ()
                ),
                addresses=tuple(
                    ContactAddress(
                        street=_str(a, "street"),
                        city=_str(a, "city"),
                        zip=_str(a, "zip"),
                        country=_str(a, "country"),
                        country_code=_str(a, "country_code"),
                        type=_str(a, "type"),
                    )
                    for a in c.get("addresses") or ()
                ),
                organization=_str(c.get("org") or {}, "company"),
                urls=tuple(_str(u, "url") or "" for u in c.get("urls") or ()),
                birthday=_str(c, "birthday"),
            )
        )
    return Contacts(tuple(cards))


_KNOWN_UNMODELLED = frozenset({"order", "unsupported", "edit", "revoke", "request_welcome"})


def _content(msg: dict[str, Any]) -> Content | UnsupportedContent | None:
    """Decode a message body; ``None`` for a type WhatsApp documents none of."""
    kind = msg.get("type")
    if kind == "text":
        return Text(str(_obj(msg, "text").get("body", "")))
    if isinstance(kind, str):
        make_media = _MEDIA_IN.get(kind)
        if make_media is not None:
            return make_media(*_media_parts(msg, kind))
    if kind == "location":
        o = _obj(msg, "location")
        return _new_location(
            latitude=_coordinate(o["latitude"], 90.0, "latitude"),
            longitude=_coordinate(o["longitude"], 180.0, "longitude"),
            name=_str(o, "name"),
            address=_str(o, "address"),
        )
    if kind == "contacts":
        items = msg.get("contacts")
        if not isinstance(items, list):
            raise ValueError("contacts must be a list")
        return _contacts_in(items)
    if kind == "reaction":
        o = _obj(msg, "reaction")
        return _new_reaction(message_id=_str(o, "message_id") or "", emoji=_str(o, "emoji") or "")
    if isinstance(kind, str) and kind in _KNOWN_UNMODELLED:
        body = msg.get(kind)
        return UnsupportedContent(kind=kind, raw=body if isinstance(body, dict) else {})
    return None


def _context(msg: dict[str, Any]) -> MessageContext | None:
    c = msg.get("context")
    if not isinstance(c, dict):
        return None
    # _str() inlined: most replies carry a context and webhook ingest is a hot path.
    get = c.get
    message_id, from_user, product = get("id"), get("from"), get("referred_product")
    product_id = catalog_id = None
    if isinstance(product, dict):
        product_id, catalog_id = _str(product, "product_retailer_id"), _str(product, "catalog_id")
    return _new_context(
        message_id=message_id if isinstance(message_id, str) else None,
        from_user=from_user if isinstance(from_user, str) else None,
        forwarded=bool(get("forwarded", False)),
        frequently_forwarded=bool(get("frequently_forwarded", False)),
        product_id=product_id,
        catalog_id=catalog_id,
    )


def _referral(msg: dict[str, Any]) -> Referral | None:
    r = msg.get("referral")
    if not isinstance(r, dict):
        return None
    return _new_referral(
        source_url=_str(r, "source_url"),
        source_id=_str(r, "source_id"),
        source_type=_str(r, "source_type"),
        headline=_str(r, "headline"),
        body=_str(r, "body"),
        click_id=_str(r, "ctwa_clid"),
        ref=None,
    )


_PostbackParts = tuple[str, str | None, str, str | None]


def _postback_parts(msg: dict[str, Any], kind: Any) -> _PostbackParts | None:
    """``(payload, title, source, description)`` of a tap, or ``None`` if it is no tap."""
    if kind == "button":  # a template quick-reply tap (§2)
        o = _obj(msg, "button")
        return _str(o, "payload") or "", _str(o, "text"), "template_button", None
    o = _obj(msg, "interactive")
    itype = o.get("type")
    if itype == "button_reply":
        r = _obj(o, "button_reply")
        return _str(r, "id") or "", _str(r, "title"), "button", None
    if itype == "list_reply":
        r = _obj(o, "list_reply")
        return _str(r, "id") or "", _str(r, "title"), "list", _str(r, "description")
    if itype == "nfm_reply":
        r = _obj(o, "nfm_reply")
        return _str(r, "response_json") or "", _str(r, "name"), "flow", None
    return None


def _message(msg: dict[str, Any], account: str, names: dict[str, str]) -> Event:
    phone = msg.get("from")
    if not isinstance(phone, str):
        phone = None
    user = phone or _str(msg, "from_user_id")
    message_id = msg.get("id")
    if not user or not isinstance(message_id, str) or not message_id:
        raise ValueError("message without sender or id")
    raw_ts = msg.get("timestamp")
    # _ts() inlined for the common case (a string): webhook ingest is a hot path.
    if type(raw_ts) is str:
        try:
            timestamp = float(raw_ts)
        except ValueError:
            raise _bad_ts(raw_ts) from None
        if not 0.0 < timestamp < MAX_TIMESTAMP:  # NaN compares False
            raise _bad_ts(raw_ts)
    else:
        timestamp = _ts(raw_ts)
    kind = msg.get("type")
    # Sub-objects are parsed only when present: most messages carry neither.
    context = _context(msg) if "context" in msg else None
    content: Content | UnsupportedContent | None = None
    if kind == "text":
        # The commonest message, kept short: webhook ingest is a hot path (DESIGN §5).
        text = msg.get("text")
        body = text.get("body") if type(text) is dict else None
        if isinstance(body, str):
            content = _new_text(body=body, preview_url=False)
    elif kind == "system":
        s = _obj(msg, "system")
        return SystemNotice(
            platform="whatsapp",
            account=account,
            user=user,
            message_id=message_id,
            timestamp=timestamp,
            notice=_str(s, "type") or "system",
            body=_str(s, "body"),
            new_user=_str(s, "wa_id"),
            raw=msg,
        )
    elif kind == "interactive" or kind == "button":
        parts = _postback_parts(msg, kind)
        if parts is not None:
            payload, title, source, description = parts
            return _new_postback(
                platform="whatsapp",
                account=account,
                user=user,
                message_id=message_id,
                timestamp=timestamp,
                payload=payload,
                title=title,
                source=source,
                description=description,
                user_name=names.get(user),
                context=context,
                referral=None,
                standby=False,
                raw=msg,
            )
    if content is None:
        content = _content(msg)
        if content is None:
            return _unknown(account, f"message type {kind!r}", msg)
    return _new_message(
        platform="whatsapp",
        account=account,
        user=user,
        message_id=message_id,
        timestamp=timestamp,
        content=content,
        user_name=names.get(user),
        phone=phone,
        context=context,
        referral=_referral(msg) if "referral" in msg else None,
        standby=False,
        raw=msg,
    )


def _status(st: dict[str, Any], account: str) -> StatusUpdate:
    errors: tuple[DeliveryError, ...] = ()
    if "errors" in st:
        errors = tuple(
            _new_error(
                code=e["code"] if isinstance(e.get("code"), int | str) else "unknown",
                title=_str(e, "title"),
                message=_str(e, "message"),
                details=_str(e.get("error_data") or {}, "details"),
            )
            for e in st["errors"] or ()
            if isinstance(e, dict)
        )
    p = st.get("pricing")
    pricing = None
    if type(p) is dict:
        # _str() inlined here and below: most statuses carry pricing (a hot path).
        billable, model = p.get("billable"), p.get("pricing_model")
        category, ptype = p.get("category"), p.get("type")
        pricing = _new_pricing(
            billable=billable if isinstance(billable, bool) else None,
            model=model if isinstance(model, str) else None,
            category=category if isinstance(category, str) else None,
            type=ptype if isinstance(ptype, str) else None,
        )
    get = st.get
    conv = get("conversation")
    conversation_id = conv.get("id") if isinstance(conv, dict) else None
    callback_data = get("biz_opaque_callback_data")
    user, message_id, status = get("recipient_id"), get("id"), get("status")
    if not isinstance(user, str) or not user:
        user = _str(st, "recipient_user_id")
    if not (user and isinstance(message_id, str) and message_id and isinstance(status, str)):
        raise ValueError("status without recipient, id or status")
    if not status:
        raise ValueError("status without recipient, id or status")
    raw_ts = get("timestamp")
    if type(raw_ts) is str:  # _ts() inlined, as in _message
        try:
            timestamp = float(raw_ts)
        except ValueError:
            raise _bad_ts(raw_ts) from None
        if not 0.0 < timestamp < MAX_TIMESTAMP:
            raise _bad_ts(raw_ts)
    else:
        timestamp = _ts(raw_ts)
    return _new_status(
        platform="whatsapp",
        account=account,
        user=user,
        message_id=message_id,
        timestamp=timestamp,
        status=status,
        errors=errors,
        pricing=pricing,
        conversation_id=conversation_id if isinstance(conversation_id, str) else None,
        callback_data=callback_data if isinstance(callback_data, str) else None,
        watermark=None,
        standby=False,
        raw=st,
    )


def _template_status(value: dict[str, Any], waba: str, time: Any) -> TemplateStatusChanged:
    template_id = value.get("message_template_id")
    name, language = _str(value, "message_template_name"), _str(value, "message_template_language")
    event = _str(value, "event")
    if template_id is None or not name or not language or not event:
        raise ValueError("template status without id, name, language or event")
    return TemplateStatusChanged(
        platform="whatsapp",
        account=waba,
        template_id=str(template_id),
        name=name,
        language=language,
        status=event,
        reason=_str(value, "reason"),
        timestamp=_ts(time) if time is not None else None,
        raw=value,
    )


def _safe(make: Any, item: Any, account: str | None, *args: Any) -> Event:
    """Parse one item; anything malformed becomes :class:`Unknown`, never an exception."""
    if not isinstance(item, dict):
        return Unknown(
            platform="whatsapp", account=account, reason="item is not an object", raw=item
        )
    try:
        return make(item, *args)  # type: ignore[no-any-return]
    except (ValueError, TypeError, KeyError, AttributeError, ConfigurationError) as exc:
        return Unknown(
            platform="whatsapp", account=account, reason=f"malformed item: {exc}", raw=item
        )


def _names(contacts: Any) -> dict[str, str]:
    """Customer id -> profile name, from ``value.contacts`` (lean contacts have no profile)."""
    names: dict[str, str] = {}
    if type(contacts) is not list:
        return names
    for c in contacts:
        profile = c.get("profile") if type(c) is dict else None
        name = profile.get("name") if type(profile) is dict else None
        if type(name) is str:
            wa_id, user_id = c.get("wa_id"), c.get("user_id")
            if type(wa_id) is str:
                names[wa_id] = name
            if type(user_id) is str:
                names[user_id] = name
    return names


def _unknown(account: str | None, reason: str, raw: Any) -> Unknown:
    return Unknown(platform="whatsapp", account=account, reason=reason, raw=raw)


def _items(value: dict[str, Any], key: str) -> list[Any]:
    items = value.get(key)
    return items if isinstance(items, list) else []


def _change_events(value: dict[str, Any], waba: str, out: list[Event]) -> None:
    """Append the events of one ``field: messages`` change."""
    metadata = value.get("metadata")
    account = metadata.get("phone_number_id") if isinstance(metadata, dict) else None
    if not isinstance(account, str) or not account:
        out.append(_unknown(waba, "no phone_number_id", value))
        return
    names = _names(value.get("contacts"))
    messages = value.get("messages")
    for msg in messages if type(messages) is list else ():
        # Inlined rather than _safe(): this loop is the hot path of webhook ingest.
        if type(msg) is dict:
            try:
                out.append(_message(msg, account, names))
                continue
            except (ValueError, TypeError, KeyError, AttributeError, ConfigurationError) as exc:
                out.append(_unknown(account, f"malformed item: {exc}", msg))
                continue
        out.append(_unknown(account, "item is not an object", msg))
    statuses = value.get("statuses")
    for st in statuses if type(statuses) is list else ():
        if type(st) is dict:
            try:
                out.append(_status(st, account))
                continue
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                out.append(_unknown(account, f"malformed item: {exc}", st))
                continue
        out.append(_unknown(account, "item is not an object", st))
    if "errors" in value:
        for err in _items(value, "errors"):
            out.append(_unknown(account, "errors", err))


def parse_events(payload: Any) -> list[Event]:
    """Every event in a decoded webhook body, in order (all entries, changes and items).

    Raises:
        ValueError: the body is not a WhatsApp envelope at all (the caller maps it to
            :class:`~omnimsg.WebhookParseError`).
    """
    if not isinstance(payload, dict) or payload.get("object") != "whatsapp_business_account":
        raise ValueError("not a WhatsApp webhook (object != 'whatsapp_business_account')")
    entries = payload.get("entry")
    if not isinstance(entries, list):
        raise ValueError("'entry' must be a list")
    out: list[Event] = []
    for entry in entries:
        changes = entry.get("changes") if isinstance(entry, dict) else None
        if not isinstance(changes, list):
            out.append(_unknown(None, "malformed entry", entry))
            continue
        waba = str(entry.get("id", ""))
        for change in changes:
            value = change.get("value") if isinstance(change, dict) else None
            if not isinstance(value, dict):
                out.append(_unknown(waba, "malformed change", change))
                continue
            field = change.get("field")
            if field == "messages":
                _change_events(value, waba, out)
            elif field == "message_template_status_update":
                out.append(_safe(_template_status, value, waba, waba, entry.get("time")))
            else:
                out.append(_unknown(waba, f"field {field!r}", change))
    return out


# --- outbound, decoded (the simulator's view of a send request) --------------------------------


class OutboundError(Exception):
    """A send body that is not a valid message; ``code`` is the native error code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def _req(d: Any, key: str, where: str) -> Any:
    if not isinstance(d, dict) or key not in d:
        raise OutboundError(131008, f"The parameter {where}{key} is required.")
    return d[key]


def _media_out(cls: type[_M], o: Any, where: str, **extra: Any) -> _M:
    if not isinstance(o, dict) or ("id" in o) == ("link" in o):
        raise OutboundError(131008, f"{where} needs exactly one of 'id' or 'link'")
    return cls(media_id=_str(o, "id"), url=_str(o, "link"), **extra)


def decode_outbound(body: Any) -> tuple[str, Content, str | None]:
    """``(recipient, content, reply_to)`` of a ``/messages`` send body (inverse of
    :func:`encode_message`). Interactive kinds omnimsg does not model come back as
    :class:`~omnimsg.Raw`.

    Raises:
        OutboundError: with the native code WhatsApp answers for that mistake.
    """
    if not isinstance(body, dict):
        raise OutboundError(100, "Invalid parameter: the body must be a JSON object")
    if body.get("messaging_product") != "whatsapp":
        raise OutboundError(100, "Invalid parameter: messaging_product must be 'whatsapp'")
    to = body.get("to") or body.get("recipient")
    if not isinstance(to, str) or not to:
        raise OutboundError(131008, "The parameter to is required.")
    kind = body.get("type", "text")
    ctx = body.get("context")
    reply_to = _str(ctx, "message_id") if isinstance(ctx, dict) else None
    content: Content
    try:
        if kind == "text":
            t = _req(body, "text", "")
            text_body = _req(t, "body", "text.")
            if not isinstance(text_body, str):
                raise OutboundError(100, "Invalid parameter: text.body must be a string")
            content = Text(text_body, preview_url=bool(t.get("preview_url", False)))
        elif kind in ("image", "video", "audio", "document", "sticker"):
            o = _req(body, kind, "")
            cls: type[Media] = {
                "image": Image,
                "video": Video,
                "audio": Audio,
                "document": Document,
                "sticker": Sticker,
            }[kind]
            extra: dict[str, Any] = {}
            if kind in ("image", "video", "document"):
                extra["caption"] = _str(o, "caption")
            if kind == "document":
                extra["filename"] = _str(o, "filename")
            content = cast("Content", _media_out(cls, o, kind, **extra))
        elif kind == "location":
            o = _req(body, "location", "")
            content = Location(
                latitude=float(_req(o, "latitude", "location.")),
                longitude=float(_req(o, "longitude", "location.")),
                name=_str(o, "name"),
                address=_str(o, "address"),
            )
        elif kind == "contacts":
            items = _req(body, "contacts", "")
            if not isinstance(items, list):
                raise OutboundError(100, "Invalid parameter: contacts must be a list")
            content = _contacts_in(items)
        elif kind == "reaction":
            o = _req(body, "reaction", "")
            content = Reaction(
                message_id=str(_req(o, "message_id", "reaction.")), emoji=str(o.get("emoji", ""))
            )
        elif kind == "interactive":
            content = _interactive_out(_req(body, "interactive", ""), body)
        elif kind == "template":
            content = _template_out(_req(body, "template", ""))
        else:
            raise OutboundError(100, f"Invalid parameter: unknown message type {kind!r}")
    except OutboundError:
        raise
    except (TypeError, ValueError, KeyError, AttributeError, ConfigurationError) as exc:
        raise OutboundError(100, f"Invalid parameter: {exc}") from None
    return to, content, reply_to


def _text_of(o: Any, key: str) -> str | None:
    part = o.get(key) if isinstance(o, dict) else None
    return _str(part, "text") if isinstance(part, dict) else None


def _interactive_out(i: Any, body: dict[str, Any]) -> Content:
    itype = _req(i, "type", "interactive.")
    action = i.get("action") if isinstance(i.get("action"), dict) else {}
    body_text = _text_of(i, "body")
    if itype == "button":
        buttons = tuple(
            Button(
                id=str(_req(b["reply"], "id", "reply.")),
                title=str(_req(b["reply"], "title", "reply.")),
            )
            for b in _req(action, "buttons", "action.")
        )
        return Buttons(
            body_text or "", buttons, header=_text_of(i, "header"), footer=_text_of(i, "footer")
        )
    if itype == "list":
        sections = tuple(
            ListSection(
                title=_str(s, "title"),
                rows=tuple(
                    ListRow(
                        id=str(r["id"]), title=str(r["title"]), description=_str(r, "description")
                    )
                    for r in s.get("rows") or ()
                ),
            )
            for s in _req(action, "sections", "action.")
        )
        return ListMenu(
            body=body_text or "",
            button=str(_req(action, "button", "action.")),
            sections=sections,
            header=_text_of(i, "header"),
            footer=_text_of(i, "footer"),
        )
    if itype == "cta_url":
        params = _req(action, "parameters", "action.")
        return UrlButton(
            body=body_text or "",
            text=str(_req(params, "display_text", "parameters.")),
            url=str(_req(params, "url", "parameters.")),
            header=_text_of(i, "header"),
            footer=_text_of(i, "footer"),
        )
    return Raw({k: v for k, v in body.items() if k in ("type", "interactive")})


def _template_out(t: Any) -> Template:
    name = _req(t, "name", "template.")
    language = _req(_req(t, "language", "template."), "code", "template.language.")
    params: tuple[str, ...] | dict[str, str] = ()
    header: TemplateHeader | None = None
    buttons: list[TemplateButtonParam] = []
    for comp in t.get("components") or ():
        ctype = str(comp.get("type", "")).lower()
        parameters = comp.get("parameters") or []
        if ctype == "body":
            if any(isinstance(p, dict) and "parameter_name" in p for p in parameters):
                params = {
                    str(p.get("parameter_name", "")): str(p.get("text", "")) for p in parameters
                }
            else:
                params = tuple(str(p.get("text", "")) for p in parameters)
        elif ctype == "header" and parameters:
            p = parameters[0]
            ptype = str(p.get("type", ""))
            if ptype == "text":
                header = TemplateHeader(kind="text", text=str(p.get("text", "")))
            elif ptype in ("image", "video", "document"):
                cls: type[Media] = {"image": Image, "video": Video, "document": Document}[ptype]
                header = TemplateHeader(kind=ptype, media=_media_out(cls, p.get(ptype), ptype))  # type: ignore[arg-type]
            elif ptype == "location":
                loc = p.get("location") or {}
                header = TemplateHeader(
                    kind="location",
                    location=Location(
                        latitude=float(loc["latitude"]), longitude=float(loc["longitude"])
                    ),
                )
            else:
                raise OutboundError(132012, f"header parameter type {ptype!r} is not supported")
        elif ctype == "button":
            sub = str(comp.get("sub_type", "quick_reply"))
            if sub not in ("quick_reply", "url", "copy_code", "flow"):
                raise OutboundError(100, f"Invalid parameter: button sub_type {sub!r}")
            first = parameters[0] if parameters else {}
            value = first.get("payload") or first.get("text") or first.get("coupon_code") or ""
            if isinstance(first.get("action"), dict):
                value = str(first["action"].get("flow_token", ""))
            buttons.append(
                TemplateButtonParam(
                    index=int(comp.get("index", 0)),
                    sub_type=sub,  # type: ignore[arg-type]
                    value=str(value),
                )
            )
    return Template(
        str(name), language=str(language), params=params, header=header, buttons=buttons
    )
