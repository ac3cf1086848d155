"""Outbound LINE message objects: the unified content, after its fallback, as LINE's JSON (§3).

:func:`encode` turns one content value into the message objects of a request (an image
with a caption is two: the image, then the caption as a text). The builders below make the
LINE message types the unified vocabulary has no word for, as :class:`~omnimsg.Raw`
values any ``send`` accepts: :func:`text` with LINE emoji, :func:`text_v2` with its
``{key}`` substitution, :func:`sticker`, :func:`video` and :func:`audio` with the fields LINE
requires, :func:`imagemap`, :func:`confirm`, :func:`image_carousel`, :func:`flex`, and
:func:`many` to send up to 5 message objects in one request.

Mapping decisions (where the unified value lacks a field LINE requires):

* ``Image`` by ``url``: the same URL is the preview. A ``media_id`` has no meaning on LINE
  (it sends media by HTTPS URL only): the image goes without a URL and the rules refuse it.
* ``Video`` needs a preview image (``Video(url=..., preview_url=...)``) and ``Audio`` its
  length (``Audio(url=..., duration_ms=...)``): without them they are refused before I/O
  (``line.video.preview``, ``line.audio.duration``).
* ``Sticker``: LINE stickers are a package and a sticker id: ``Sticker(media_id="446:1988")``
  (``packageId:stickerId``); anything else is refused (``line.sticker.id``).
* ``Location``: ``title`` and ``address`` are required by LINE; a missing name becomes
  ``"Location"`` and a missing address the coordinates.
* ``Buttons`` / ``UrlButton``: a buttons template (the header is its title); the alt text
  (shown in notifications and old clients) is the text, cut to 400.
* ``QuickReplies``: a text with quick-reply postback actions (label = title, data = id,
  the title shown as the user's reply).
* ``Cards``: a carousel template when every card has the same 1-3 buttons, else a flex
  carousel (cards without buttons, or with different numbers of them).
* ``reply_to`` (a quote token from the inbound message) goes on the first text or sticker.
* ``Raw``: a LINE message object as it is, or ``{"messages": [...]}`` for several.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..._types import JSON, JSONObject
from ...models.content import (
    Audio,
    Button,
    Buttons,
    Card,
    Cards,
    Content,
    Document,
    Image,
    LinkButton,
    Location,
    QuickReplies,
    Raw,
    Sticker,
    Text,
    UrlButton,
    Video,
)
from .fallbacks import convert

__all__ = [
    "audio",
    "confirm",
    "encode",
    "flex",
    "image_carousel",
    "imagemap",
    "many",
    "sticker",
    "text",
    "text_v2",
    "video",
]

_ALT_MAX = 400


def _postback(b: Button) -> JSONObject:
    return {"type": "postback", "label": b.title, "data": b.id, "displayText": b.title}


def _action(b: Button | LinkButton) -> JSONObject:
    if isinstance(b, LinkButton):
        return {"type": "uri", "label": b.title, "uri": b.url}
    return _postback(b)


def _quick_reply(replies: Sequence[Button]) -> JSONObject:
    items: list[JSON] = [{"type": "action", "action": _postback(b)} for b in replies]
    return {"items": items}


def _card_column(c: Card) -> JSONObject:
    col: JSONObject = {"text": c.subtitle or c.title, "actions": [_action(b) for b in c.buttons]}
    if c.subtitle:
        col["title"] = c.title
    if c.image_url:
        col["thumbnailImageUrl"] = c.image_url
    if c.url:
        col["defaultAction"] = {"type": "uri", "label": "Open", "uri": c.url}
    return col


def _flex_card(c: Card) -> JSONObject:
    body: list[JSON] = [{"type": "text", "text": c.title, "weight": "bold", "wrap": True}]
    if c.subtitle:
        body.append({"type": "text", "text": c.subtitle, "size": "sm", "wrap": True})
    bubble: JSONObject = {
        "type": "bubble",
        "body": {"type": "box", "layout": "vertical", "contents": body},
    }
    if c.image_url:
        bubble["hero"] = {"type": "image", "url": c.image_url, "size": "full"}
    if c.buttons:
        buttons: list[JSON] = [
            {"type": "button", "action": _action(b), "style": "link"} for b in c.buttons
        ]
        bubble["footer"] = {"type": "box", "layout": "vertical", "contents": buttons}
    if c.url:
        bubble["action"] = {"type": "uri", "label": "Open", "uri": c.url}
    return bubble


def _cards(content: Cards) -> JSONObject:
    alt = ", ".join(c.title for c in content.cards)[:_ALT_MAX] or "Cards"
    widths = {len(c.buttons) for c in content.cards}
    if len(widths) == 1 and 1 <= next(iter(widths)) <= 3:
        columns: list[JSON] = [_card_column(c) for c in content.cards]
        return {
            "type": "template",
            "altText": alt,
            "template": {"type": "carousel", "columns": columns},
        }
    bubbles: list[JSON] = [_flex_card(c) for c in content.cards]
    return {"type": "flex", "altText": alt, "contents": {"type": "carousel", "contents": bubbles}}


def _media_url(m: Image | Video | Audio) -> str:
    return m.url or ""


def _sticker(s: Sticker) -> JSONObject:
    package, _, sticker_id = (s.media_id or "").partition(":")
    if s.url is not None or not package.isdigit() or not sticker_id.isdigit():
        return {"type": "sticker", "packageId": "", "stickerId": ""}
    return {"type": "sticker", "packageId": package, "stickerId": sticker_id}


def _one(content: Content) -> list[JSONObject]:
    if isinstance(content, Text):
        return [{"type": "text", "text": content.body}]
    if isinstance(content, Image):
        url = _media_url(content)
        out: list[JSONObject] = [
            {"type": "image", "originalContentUrl": url, "previewImageUrl": url}
        ]
        if content.caption:
            out.append({"type": "text", "text": content.caption})
        return out
    if isinstance(content, Video):
        out = [
            {
                "type": "video",
                "originalContentUrl": _media_url(content),
                "previewImageUrl": content.preview_url or "",
            }
        ]
        if content.caption:
            out.append({"type": "text", "text": content.caption})
        return out
    if isinstance(content, Audio):
        return [
            {
                "type": "audio",
                "originalContentUrl": _media_url(content),
                "duration": content.duration_ms,
            }
        ]
    if isinstance(content, Sticker):
        return [_sticker(content)]
    if isinstance(content, Location):
        return [
            {
                "type": "location",
                "title": content.name or "Location",
                "address": content.address or f"{content.latitude},{content.longitude}",
                "latitude": content.latitude,
                "longitude": content.longitude,
            }
        ]
    if isinstance(content, QuickReplies):
        return [{"type": "text", "text": content.body, "quickReply": _quick_reply(content.replies)}]
    if isinstance(content, Buttons):
        template: JSONObject = {
            "type": "buttons",
            "text": content.body,
            "actions": [_postback(b) for b in content.buttons],
        }
        if content.header:
            template["title"] = content.header
        return [{"type": "template", "altText": content.body[:_ALT_MAX], "template": template}]
    if isinstance(content, UrlButton):
        template = {
            "type": "buttons",
            "text": content.body,
            "actions": [{"type": "uri", "label": content.text, "uri": content.url}],
        }
        if content.header:
            template["title"] = content.header
        return [{"type": "template", "altText": content.body[:_ALT_MAX], "template": template}]
    if isinstance(content, Cards):
        return [_cards(content)]
    if isinstance(content, Document):  # by media_id: no link to give (by url: a fallback)
        return [{"type": "text", "text": ""}]
    if isinstance(content, Raw):
        many_ = content.payload.get("messages")
        if isinstance(many_, list) and "type" not in content.payload:
            return [m if isinstance(m, dict) else {"type": None} for m in many_]
        return [dict(content.payload)]
    raise TypeError(f"LINE has no message form for {type(content).__name__}")  # the table refuses


def encode(content: Content, *, quote_token: str | None = None) -> list[JSONObject]:
    """The LINE message objects for ``content`` (already through its fallback)."""
    out = _one(content)
    if quote_token is not None:
        for m in out:
            if m.get("type") in ("text", "textV2", "sticker"):
                m["quoteToken"] = quote_token
                break
    return out


# --- builders of LINE-only message types (each a Raw) -------------------------------------------


def text(body: str, *, emojis: Sequence[Mapping[str, Any]] = ()) -> Raw:
    """A text with LINE emoji: each ``{"index", "productId", "emojiId"}`` replaces a ``$``."""
    m: JSONObject = {"type": "text", "text": body}
    if emojis:
        m["emojis"] = [dict(e) for e in emojis]
    return Raw(m)


def text_v2(body: str, substitution: Mapping[str, Mapping[str, Any]]) -> Raw:
    """A ``textV2``: ``{key}`` placeholders replaced by mentions or emoji (§3), e.g.
    ``text_v2("Hi {user}!", {"user": {"type": "mention", "mentionee": {"type": "user",
    "userId": "U..."}}})``."""
    return Raw(
        {
            "type": "textV2",
            "text": body,
            "substitution": {k: dict(v) for k, v in substitution.items()},
        }
    )


def sticker(package_id: str, sticker_id: str) -> Raw:
    """A LINE sticker by package and sticker id."""
    return Raw({"type": "sticker", "packageId": str(package_id), "stickerId": str(sticker_id)})


def video(url: str, preview_url: str, *, tracking_id: str | None = None) -> Raw:
    """A video (mp4) with its preview image; ``tracking_id`` asks for ``videoPlayComplete``."""
    m: JSONObject = {"type": "video", "originalContentUrl": url, "previewImageUrl": preview_url}
    if tracking_id is not None:
        m["trackingId"] = tracking_id
    return Raw(m)


def audio(url: str, duration_ms: int) -> Raw:
    """An audio clip (m4a) and its length in milliseconds."""
    return Raw({"type": "audio", "originalContentUrl": url, "duration": int(duration_ms)})


def imagemap(
    base_url: str,
    alt_text: str,
    *,
    height: int,
    actions: Sequence[Mapping[str, Any]],
    width: int = 1040,
) -> Raw:
    """An imagemap: an image (``base_url`` + ``/1040`` etc.) with tappable areas."""
    return Raw(
        {
            "type": "imagemap",
            "baseUrl": base_url,
            "altText": alt_text,
            "baseSize": {"width": width, "height": height},
            "actions": [dict(a) for a in actions],
        }
    )


def confirm(body: str, yes: Button | str, no: Button | str, *, alt_text: str | None = None) -> Raw:
    """A confirm template: a question and two postback answers (a string is its own id and
    title, as in :class:`~omnimsg.Buttons`)."""
    yes, no = (b if isinstance(b, Button) else Button(id=b, title=b) for b in (yes, no))
    return Raw(
        {
            "type": "template",
            "altText": (alt_text or body)[:_ALT_MAX],
            "template": {
                "type": "confirm",
                "text": body,
                "actions": [_postback(yes), _postback(no)],
            },
        }
    )


def image_carousel(
    columns: Sequence[tuple[str, Button | LinkButton]], *, alt_text: str = "Images"
) -> Raw:
    """An image carousel: ``(image_url, action)`` columns (up to 10)."""
    cols: list[JSON] = [{"imageUrl": url, "action": _action(a)} for url, a in columns]
    return Raw(
        {
            "type": "template",
            "altText": alt_text,
            "template": {"type": "image_carousel", "columns": cols},
        }
    )


def flex(alt_text: str, contents: Mapping[str, Any]) -> Raw:
    """A flex message: ``contents`` is a ``bubble`` or a ``carousel`` (checked before I/O)."""
    return Raw({"type": "flex", "altText": alt_text, "contents": dict(contents)})


def many(*items: Content) -> Raw:
    """Several message objects in one request (up to 5, §3): each item encoded in turn."""
    out: list[JSON] = []
    for item in items:
        out.extend(encode(convert(item)))
    return Raw({"messages": out})
