"""Send API bodies, decoded and checked as Messenger checks them (spec/messenger.md §3, §5).

The simulator reads a ``POST /{page-id}/messages`` body itself: the recipient, the message
or sender action, ``messaging_type`` and ``tag``, and every content limit of §3.2, each
refused with Messenger's own code (100 with its subcode, 194 too few, 105 too many). What
the message says becomes one of omnimsg's unified content values (``Text``, ``Image``...,
``QuickReplies``, ``Buttons``, ``Cards``, ``UrlButton``, ``Sticker``, ``Raw``), the
vocabulary the rules are written in.

Graph takes its parameters from the query string, a JSON body or a form body whose values
are JSON text (``recipient={"id":"..."}``); :func:`params` merges them as Graph does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import parse_qs

import attrs

from omnimsg.models.content import (
    Audio,
    Button,
    Buttons,
    Card,
    Cards,
    Content,
    Document,
    Image,
    LinkButton,
    QuickReplies,
    Raw,
    Sticker,
    Text,
    UrlButton,
    Video,
)
from omnimsg.rules.messenger import MessengerPolicy

from ...effects import SimRequest
from ...safejson import BadJSON, loads
from .errors import (
    BUTTON_TITLE,
    BUTTON_URL,
    EMPTY_MESSAGE,
    INCOMPLETE_ELEMENT,
    MESSAGE_OR_STATE,
    NO_SUCH_USER,
    POSTBACK_PAYLOAD,
    QUICK_REPLY_PAYLOAD,
    QUICK_REPLY_TITLE,
    Refusal,
    invalid,
    too_few,
    too_long,
    too_many,
)

__all__ = [
    "MESSAGING_TYPES",
    "SENDER_ACTIONS",
    "Recipient",
    "Send",
    "decode_send",
    "params",
    "recipient_of",
]

MESSAGING_TYPES = ("RESPONSE", "UPDATE", "MESSAGE_TAG")  # §3.1
NOTIFICATION_TYPES = ("REGULAR", "SILENT_PUSH", "NO_PUSH")  # §3.1
SENDER_ACTIONS = ("typing_on", "typing_off", "mark_seen")  # §3.1
MEDIA_TYPES = ("image", "audio", "video", "file")  # §3.3
QUICK_REPLY_TYPES = ("text", "user_phone_number", "user_email")  # §3.2: `location` was removed
BUTTON_TYPES = (
    "web_url",
    "postback",
    "phone_number",
    "account_link",
    "account_unlink",
    "game_play",
    "audio_call",  # research §2: Messenger Calling, 2026-02-11
)
# Template types sent as they are (no unified value): §3.2's list and the 2026 additions.
OTHER_TEMPLATES = (
    "receipt",
    "product",
    "customer_feedback",
    "one_time_notif_req",
    "notification_messages",
    "image_grid",
)
_DIGITS = re.compile(r"[0-9]{1,32}")


@attrs.frozen(kw_only=True)
class Recipient:
    """Who a send is for: a PSID (``id``), or the comment or post of a private reply (§3.4)."""

    kind: Literal["id", "comment_id", "post_id"]
    value: str


@attrs.frozen(kw_only=True)
class Send:
    """A Send API request, decoded and checked for shape (nothing about state yet)."""

    recipient: Recipient
    sender_action: str | None = None
    message: Mapping[str, Any] | None = None
    content: Content | None = None
    kind: str = "text"
    messaging_type: str = "RESPONSE"
    tag: str | None = None
    metadata: str | None = None
    attachment_ids: tuple[str, ...] = ()
    reusable: bool = False
    media: bool = False  # audio or video: the 10 calls/s class of §6


def _json_value(value: str, where: str) -> Any:
    """A form or query value: JSON text when it looks like an object or a list."""
    if value[:1] in ("{", "["):
        try:
            return loads(value)
        except BadJSON as exc:
            raise invalid(f"param {where} is not valid JSON: {exc}") from None
    return value


def params(req: SimRequest) -> dict[str, Any]:
    """Graph's parameters of a request: the query string, then the body (JSON or form).

    Raises:
        Refusal: a body that is neither a JSON object nor a form, or hostile JSON.
    """
    out: dict[str, Any] = {k: _json_value(v[0], k) for k, v in req.query.items() if v}
    body = req.body.strip()
    if not body:
        return out
    ctype = req.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "application/x-www-form-urlencoded" or (
        ctype != "application/json" and not body.startswith((b"{", b"["))
    ):
        try:
            text = body.decode("utf-8")
            form = parse_qs(text, keep_blank_values=True, strict_parsing=True)
        except (UnicodeDecodeError, ValueError):
            raise invalid("the body is neither JSON nor a form") from None
        out.update({k: _json_value(v[0], k) for k, v in form.items() if v})
        return out
    try:
        decoded = loads(body)
    except BadJSON as exc:
        raise invalid(str(exc)) from None
    if not isinstance(decoded, dict):
        raise invalid("the body must be a JSON object")
    out.update(decoded)
    return out


# --- small readers ------------------------------------------------------------------------------


def _text(value: Any, where: str, *, required: bool = True, empty: bool = False) -> str | None:
    if value is None:
        if required:
            raise invalid(f"The parameter {where} is required")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise invalid(f"Param {where} must be a string")
    text = str(value)
    if not text and not empty:
        if required:
            raise invalid(f"The parameter {where} is required")
        return None
    return text


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid(f"Param {where} must be an object")
    return value


def _list(value: Any, where: str, most: int, *, least: int = 1) -> list[Any]:
    if not isinstance(value, list):
        raise invalid(f"Param {where} must be an array")
    if len(value) < least:
        raise too_few(where)
    if len(value) > most:
        raise too_many(where, most)
    return value


def _limit(value: str | None, where: str, limit: int) -> None:
    if value is not None and len(value) > limit:
        raise too_long(where, limit)


def _flag(value: Any, where: str) -> bool:
    # fbmessenger sends is_reusable as the string "true" (research §3.1): Graph takes both.
    if value is None or value is False or value == "false":
        return False
    if value is True or value == "true":
        return True
    raise invalid(f"Param {where} must be a boolean")


def _url(value: Any, where: str) -> str:
    url = _text(value, where)
    assert url is not None
    if not url.startswith(("http://", "https://")) or any(
        ch.isspace() or ord(ch) < 0x20 for ch in url
    ):
        raise invalid(f"Param {where} must be a valid URL")
    return url


def _id(value: Any, where: str) -> str:
    """A Graph id: digits (a JSON number or a string of digits)."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise invalid(f"Param {where} must be an id")
    text = str(value)
    if not _DIGITS.fullmatch(text):
        raise invalid(f"Param {where} must be an id")
    return text


def _choice(value: Any, where: str, options: tuple[str, ...], *, upper: bool = False) -> str:
    text = _text(value, where)
    assert text is not None
    if text not in options:
        shown = ", ".join(o.upper() if upper else o for o in options)
        raise invalid(f"Param {where} must be one of {{{shown}}}")
    return text


# --- recipient ------------------------------------------------------------------------------


def recipient_of(value: Any, where: str = "recipient") -> Recipient:
    """``recipient``: exactly one of ``id``, ``comment_id`` or ``post_id`` (§3.1).

    ``user_ref`` and ``phone_number`` name people the simulator cannot know: 100/2018001.
    """
    if value is None or value == "":
        raise invalid(f"The parameter {where} is required")
    obj = _object(value, where)
    given = [k for k in ("id", "comment_id", "post_id") if obj.get(k) not in (None, "")]
    if not given and any(
        obj.get(k) for k in ("user_ref", "phone_number", "notification_messages_token")
    ):
        raise Refusal(NO_SUCH_USER)
    if not given:
        raise invalid(f"param {where} must be non-empty.")
    if len(given) > 1:
        raise invalid(f"param {where} must name one of id, comment_id or post_id")
    kind = given[0]
    if kind == "id":
        return Recipient(kind="id", value=_id(obj["id"], f"{where}[id]"))
    text = _text(obj[kind], f"{where}[{kind}]")
    assert text is not None
    if not re.fullmatch(r"[0-9]{1,32}(_[0-9]{1,32})?", text):
        raise invalid(f"Param {where}[{kind}] must be an id")
    return Recipient(kind=kind, value=text)  # type: ignore[arg-type]


# --- quick replies, buttons, templates (§3.2) ------------------------------------------------


def _quick_replies(value: Any, policy: MessengerPolicy) -> tuple[list[Button], bool]:
    """The quick replies as buttons (payload, title); ``False`` when one is not plain text."""
    where = "message[quick_replies]"
    items = _list(value, where, policy.quick_replies_max)
    buttons: list[Button] = []
    plain = True
    for i, item in enumerate(items):
        at = f"{where}[{i}]"
        qr = _object(item, at)
        kind = _choice(qr.get("content_type"), f"{at}[content_type]", QUICK_REPLY_TYPES)
        if qr.get("image_url") is not None:
            _url(qr["image_url"], f"{at}[image_url]")
        if kind != "text":
            plain = False
            continue
        title = _text(qr.get("title"), f"{at}[title]", required=False)
        if title is None:
            raise Refusal(QUICK_REPLY_TITLE)
        payload = _text(qr.get("payload"), f"{at}[payload]", required=False)
        if payload is None:
            raise Refusal(QUICK_REPLY_PAYLOAD)
        _limit(payload, f"{at}[payload]", policy.quick_reply_payload_max)
        # §3.2: a title over 20 characters is truncated by Messenger, not refused.
        buttons.append(Button(id=payload, title=title))
    return buttons, plain


def _button(value: Any, where: str, policy: MessengerPolicy) -> Button | LinkButton | None:
    """One template button; a reply (postback) or a link (web_url) becomes a unified one."""
    b = _object(value, where)
    kind = _choice(b.get("type"), f"{where}[type]", BUTTON_TYPES)
    needs_title = kind in ("web_url", "postback", "phone_number", "game_play", "audio_call")
    title = _text(b.get("title"), f"{where}[title]", required=False)
    if needs_title and title is None:
        raise Refusal(BUTTON_TITLE)
    if kind == "web_url":
        if b.get("url") in (None, ""):
            raise Refusal(BUTTON_URL)
        url = _url(b["url"], f"{where}[url]")
        assert title is not None
        return LinkButton(title=title, url=url)
    if kind in ("postback", "phone_number"):
        payload = _text(b.get("payload"), f"{where}[payload]", required=False)
        if payload is None:
            raise Refusal(POSTBACK_PAYLOAD)
        _limit(payload, f"{where}[payload]", policy.postback_payload_max)
        if kind == "postback":
            assert title is not None
            return Button(id=payload, title=title)
    if kind == "account_link":
        _url(b.get("url"), f"{where}[url]")
    return None


def _buttons(
    value: Any, where: str, policy: MessengerPolicy, *, least: int
) -> list[Button | LinkButton | None]:
    if value is None and least == 0:
        return []
    items = _list(value, where, policy.buttons_max, least=least)
    return [_button(item, f"{where}[{i}]", policy) for i, item in enumerate(items)]


def _button_template(
    payload: dict[str, Any], where: str, policy: MessengerPolicy
) -> Content | None:
    text = _text(payload.get("text"), f"{where}[text]")
    assert text is not None
    _limit(text, f"{where}[text]", policy.button_text_max)
    buttons = _buttons(payload.get("buttons"), f"{where}[buttons]", policy, least=1)
    replies = [b for b in buttons if isinstance(b, Button)]
    if len(replies) == len(buttons):
        return Buttons(text, replies)
    if len(buttons) == 1 and isinstance(buttons[0], LinkButton):
        link = buttons[0]
        return UrlButton(body=text, text=link.title, url=link.url)
    return None


def _generic_template(
    payload: dict[str, Any], where: str, policy: MessengerPolicy
) -> Content | None:
    elements = _list(payload.get("elements"), f"{where}[elements]", policy.generic_elements_max)
    cards: list[Card] = []
    whole = True
    for i, item in enumerate(elements):
        at = f"{where}[elements][{i}]"
        e = _object(item, at)
        title = _text(e.get("title"), f"{at}[title]", required=False, empty=True)
        if title == "":
            # An empty title is a bad parameter, not a missing one: code 100 alone
            # (Messageflow/send-as's captures, the source of §5's subcodes).
            raise invalid(f"Param {at}[title] must be a non-empty UTF-8 encoded string")
        subtitle = _text(e.get("subtitle"), f"{at}[subtitle]", required=False)
        # A parameter's own checks come before the element's completeness (same captures:
        # an empty title is answered as such, not as 2018035), as the SDK's rules order them.
        _limit(title, f"{at}[title]", policy.generic_title_max)
        _limit(subtitle, f"{at}[subtitle]", policy.generic_subtitle_max)
        image = _url(e["image_url"], f"{at}[image_url]") if e.get("image_url") else None
        link = None
        if e.get("default_action") is not None:
            action = _object(e["default_action"], f"{at}[default_action]")
            link = _url(action.get("url"), f"{at}[default_action][url]")
        buttons = _buttons(e.get("buttons"), f"{at}[buttons]", policy, least=0)
        # §3.2: a title, and at least one other field besides it (subcode 2018035).
        if title is None or not (subtitle or image or link or buttons):
            raise Refusal(INCOMPLETE_ELEMENT)
        known = [b for b in buttons if b is not None]
        whole = whole and len(known) == len(buttons)
        cards.append(Card(title=title, subtitle=subtitle, image_url=image, url=link, buttons=known))
    return Cards(cards) if whole else None


def _media_template(
    payload: dict[str, Any], where: str, policy: MessengerPolicy, ids: list[str]
) -> Content | None:
    elements = _list(payload.get("elements"), f"{where}[elements]", 1)
    at = f"{where}[elements][0]"
    e = _object(elements[0], at)
    _choice(e.get("media_type"), f"{at}[media_type]", ("image", "video"))
    if (e.get("url") in (None, "")) == (e.get("attachment_id") in (None, "")):
        raise invalid(f"param {at} needs exactly one of url or attachment_id")
    if e.get("url"):
        _url(e["url"], f"{at}[url]")
    else:
        ids.append(_id(e["attachment_id"], f"{at}[attachment_id]"))
    _buttons(e.get("buttons"), f"{at}[buttons]", policy, least=0)
    return None


def _attachment(
    value: Any, policy: MessengerPolicy, ids: list[str]
) -> tuple[str, Content | None, bool, bool]:
    """``message.attachment``: (outbox type, content or None for Raw, reusable, audio/video)."""
    where = "message[attachment]"
    att = _object(value, where)
    kind = _choice(att.get("type"), f"{where}[type]", (*MEDIA_TYPES, "template"))
    payload = _object(att.get("payload"), f"{where}[payload]")
    here = f"{where}[payload]"
    if kind == "template":
        ttype = _text(payload.get("template_type"), f"{here}[template_type]")
        if ttype == "button":
            return "template", _button_template(payload, here, policy), False, False
        if ttype == "generic":
            return "template", _generic_template(payload, here, policy), False, False
        if ttype == "media":
            return "template", _media_template(payload, here, policy, ids), False, False
        if ttype in OTHER_TEMPLATES:
            return "template", None, False, False
        raise invalid(f"Param {here}[template_type] is not a known template type")
    reusable = _flag(payload.get("is_reusable"), f"{here}[is_reusable]")
    has_url = payload.get("url") not in (None, "")
    has_id = payload.get("attachment_id") not in (None, "")
    if has_url == has_id:
        raise invalid(f"param {here} needs exactly one of url or attachment_id")
    url = _url(payload["url"], f"{here}[url]") if has_url else None
    media_id = None if has_url else _id(payload["attachment_id"], f"{here}[attachment_id]")
    if media_id is not None:
        ids.append(media_id)
    made: Content
    if kind == "image":
        made = Image(url=url, media_id=media_id)
    elif kind == "video":
        made = Video(url=url, media_id=media_id)
    elif kind == "audio":
        made = Audio(url=url, media_id=media_id)
    else:
        made = Document(url=url, media_id=media_id)
    return kind, made, reusable, kind in ("audio", "video")


def _message(
    value: Any, policy: MessengerPolicy
) -> tuple[Content, str, str | None, tuple[str, ...], bool, bool]:
    """``message``: (content, outbox type, metadata, attachment ids, reusable, audio/video)."""
    msg = _object(value, "message")
    metadata = _text(msg.get("metadata"), "message[metadata]", required=False)
    _limit(metadata, "message[metadata]", policy.metadata_max)
    given = [k for k in ("text", "attachment", "sticker_id") if msg.get(k) not in (None, "")]
    if not given:
        raise Refusal(EMPTY_MESSAGE)
    if len(given) > 1:
        raise invalid(
            "Only one of message[text], message[attachment] or message[sticker_id] may be set"
        )
    if given[0] == "text":
        # The text before its quick replies, as the SDK's rules check them (which of the two
        # Meta answers first is UNVERIFIED; the simulator and the pre-flight must agree).
        _limit(_text(msg["text"], "message[text]"), "message[text]", policy.text_max)
    replies: list[Button] | None = None
    plain = True
    if msg.get("quick_replies") is not None:
        replies, plain = _quick_replies(msg["quick_replies"], policy)
    ids: list[str] = []
    content: Content | None
    reusable = media = False
    if given[0] == "text":
        kind = "text"
        text = _text(msg["text"], "message[text]")
        assert text is not None
        _limit(text, "message[text]", policy.text_max)
        if replies is None:
            content = Text(text)
        elif plain:
            content = QuickReplies(text, replies)
        else:
            content = None  # a phone-number or e-mail quick reply: sent as it is
    elif given[0] == "sticker_id":
        kind = "sticker"
        content = Sticker(media_id=_id(msg["sticker_id"], "message[sticker_id]"))
    else:
        kind, content, reusable, media = _attachment(msg["attachment"], policy, ids)
        if replies is not None:
            content = None  # an attachment with quick replies has no unified form
    return (
        content if content is not None else Raw(dict(msg)),
        kind,
        metadata,
        tuple(ids),
        reusable,
        media,
    )


def decode_send(body: Mapping[str, Any], policy: MessengerPolicy) -> Send:
    """Decode and check a Send API request.

    Raises:
        Refusal: the first thing Messenger would refuse, with its code and subcode.
    """
    recipient = recipient_of(body.get("recipient"))
    action, message = body.get("sender_action"), body.get("message")
    if (action in (None, "")) == (message in (None, "")):
        # §3.1: a sender action is its own request, never beside a message (100/2018015).
        raise Refusal(MESSAGE_OR_STATE)
    notification = body.get("notification_type")
    if notification is not None:
        _choice(notification, "notification_type", NOTIFICATION_TYPES, upper=True)
    if body.get("persona_id") is not None:
        _id(body["persona_id"], "persona_id")
    if action not in (None, ""):
        if recipient.kind != "id":
            raise invalid("A sender action needs a recipient id")
        chosen = _choice(action, "sender_action", SENDER_ACTIONS, upper=True)
        return Send(recipient=recipient, sender_action=chosen, kind="sender_action")
    raw_type = body.get("messaging_type")
    messaging_type = (
        "RESPONSE"  # UNVERIFIED: accepted as RESPONSE when absent (research §6)
        if raw_type in (None, "")
        else _choice(raw_type, "messaging_type", MESSAGING_TYPES)
    )
    tag = _text(body.get("tag"), "tag", required=False)
    if tag is not None and messaging_type != "MESSAGE_TAG":
        # research §1.2 (ker0x/messenger#106): the tag is read only with MESSAGE_TAG.
        raise invalid("Messaging type should be MESSAGE_TAG for tagged messages.")
    if tag is None and messaging_type == "MESSAGE_TAG":
        raise invalid("The parameter tag is required for the messaging type MESSAGE_TAG")
    content, kind, metadata, ids, reusable, media = _message(message, policy)
    return Send(
        recipient=recipient,
        message=message,
        content=content,
        kind=kind,
        messaging_type=messaging_type,
        tag=tag,
        metadata=metadata,
        attachment_ids=ids,
        reusable=reusable,
        media=media,
    )
