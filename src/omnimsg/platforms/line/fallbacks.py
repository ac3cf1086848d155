"""LINE's declared fallbacks: unified content types it shows in another form.

The capability table (:data:`~omnimsg.platforms.line.adapter.LineAdapter.capabilities`) names
them ``fallback``; the adapter converts them here before the rules and the wire see them, so
a converted message is checked exactly as if it had been written that way:

* ``Buttons`` of up to 4 whose text fits the buttons template (160 UTF-16 units, 60 with a
  header as its title) stay ``Buttons`` (a buttons template of postback actions); more
  choices, or a longer text, become ``QuickReplies`` (up to 13: the quick replies' limit
  refuses more). The footer joins the text after a blank line.
* ``UrlButton``: a buttons template with one ``uri`` action (stays ``UrlButton``, framed).
* ``ListMenu``: rows without descriptions, up to 13, become ``QuickReplies`` (the row id is
  the postback data); otherwise a flex bubble: the text, then one tappable row per choice
  (its title, its description under it), section titles as small headings.
* ``Contacts``: a text per card (name, organization, phones, e-mails, addresses, links).
* ``Document``: LINE bots cannot send files (there is no file message object, §3): a text
  with the file name or caption and the link. A ``Document`` by ``media_id`` has no link and
  is refused by the rules (``line.document.url``).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from ..._types import JSON
from ...models.content import (
    Button,
    Buttons,
    Contacts,
    Content,
    Document,
    ListMenu,
    QuickReplies,
    Raw,
    UrlButton,
)
from ...rules.line import utf16_length
from .._text import contacts_text, document_text, framed
from ..adapter import Capability

__all__ = ["CAPABILITIES", "convert"]

_BUTTONS_TEMPLATE_MAX = 4  # §3: a buttons template has up to 4 actions
_BUTTONS_TEXT_MAX = 160  # §3: UNVERIFIED; 60 with a title
_BUTTONS_TEXT_WITH_TITLE_MAX = 60
_QUICK_REPLIES_MAX = 13  # §3 [spec]


def _flex_list(menu: ListMenu) -> Raw:
    """A flex bubble listing the rows, each a postback (the row id as its data)."""
    body: list[JSON] = [{"type": "text", "text": menu.body, "wrap": True}]
    if menu.header:
        body.insert(0, {"type": "text", "text": menu.header, "weight": "bold", "size": "lg"})
    for section in menu.sections:
        if section.title:
            body.append({"type": "separator", "margin": "md"})
            body.append({"type": "text", "text": section.title, "size": "sm", "color": "#888888"})
        for row in section.rows:
            contents: list[JSON] = [
                {"type": "text", "text": row.title, "weight": "bold", "wrap": True}
            ]
            if row.description:
                contents.append(
                    {"type": "text", "text": row.description, "size": "sm", "wrap": True}
                )
            body.append(
                {
                    "type": "box",
                    "layout": "vertical",
                    "margin": "md",
                    "contents": contents,
                    "action": {
                        "type": "postback",
                        "label": row.title[:20],
                        "data": row.id,
                        "displayText": row.title,
                    },
                }
            )
    if menu.footer:
        body.append({"type": "text", "text": menu.footer, "size": "xs", "wrap": True})
    return Raw(
        {
            "type": "flex",
            "altText": menu.body[:400],
            "contents": {
                "type": "bubble",
                "body": {"type": "box", "layout": "vertical", "contents": body},
            },
        }
    )


def _buttons(content: Buttons) -> Content:
    text = framed(content.body, None, content.footer)
    limit = _BUTTONS_TEXT_WITH_TITLE_MAX if content.header else _BUTTONS_TEXT_MAX
    if len(content.buttons) <= _BUTTONS_TEMPLATE_MAX and utf16_length(text) <= limit:
        return Buttons(text, list(content.buttons), header=content.header)
    return QuickReplies(framed(content.body, content.header, content.footer), list(content.buttons))


def convert(content: Content) -> Content:
    """``content`` in a form LINE has (see the module docstring); others unchanged."""
    if isinstance(content, Buttons):
        return _buttons(content)
    if isinstance(content, UrlButton):
        return UrlButton(
            body=framed(content.body, None, content.footer),
            text=content.text,
            url=content.url,
            header=content.header,
        )
    if isinstance(content, ListMenu):
        rows = [r for s in content.sections for r in s.rows]
        if len(rows) <= _QUICK_REPLIES_MAX and not any(r.description for r in rows):
            return QuickReplies(
                framed(content.body, content.header, content.footer),
                [Button(r.id, r.title) for r in rows],
            )
        return _flex_list(content)
    if isinstance(content, Contacts):
        return contacts_text(content)
    if isinstance(content, Document) and content.url is not None:
        return document_text(content) or content
    return content


CAPABILITIES: Mapping[str, Capability] = MappingProxyType(
    {
        # Native LINE message objects (§3): text, image, video, audio, location, sticker,
        # quick replies, a buttons template, a carousel; Raw is any LINE message object.
        # (Video needs its preview_url and Audio its duration_ms, else they are refused
        # before sending: see messages.py; Sticker is "packageId:stickerId".)
        **dict.fromkeys(
            [
                "Text",
                "Image",
                "Video",
                "Audio",
                "Sticker",
                "Location",
                "QuickReplies",
                "Cards",
                "Raw",
            ],
            "native",
        ),
        # Buttons: a buttons template up to 4, quick replies beyond (up to 13). UrlButton: a
        # buttons template with a uri action. ListMenu: quick replies, or a flex bubble.
        # Contacts: a text. Document: a text with the link (LINE bots send no files).
        **dict.fromkeys(["Buttons", "UrlButton", "ListMenu", "Contacts", "Document"], "fallback"),
        # Reaction: the Messaging API has no endpoint for a bot to react to a message.
        # Template: WhatsApp's pre-approved templates have no LINE counterpart (LINE's own
        # templates are Buttons, Cards, or messages.confirm / image_carousel as Raw).
        **dict.fromkeys(["Reaction", "Template"], "refused"),
    }
)
"""Each unified content type on LINE: ``native``, ``fallback`` (:func:`convert`) or
``refused``."""
