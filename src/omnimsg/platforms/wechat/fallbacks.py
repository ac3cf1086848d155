"""WeChat's declared fallbacks: unified content types it shows in another form.

The capability table (:data:`CAPABILITIES`) names them ``fallback``; the adapter converts
them here, before the rules and the wire see them, into the customer-service message they
become (spec/wechat.md §5.2), so a converted message is checked exactly like a
:class:`~omnimsg.Raw` written that way:

* ``Buttons`` and ``QuickReplies``: a ``msgmenu`` (WeChat's native form of reply buttons):
  ``head_content`` the header and text, one ``list`` item per choice (``id`` the button id,
  ``content`` its title), ``tail_content`` the footer. A tap comes back as a text message
  with the item's id as ``bizmsgmenuid``. (Test accounts refuse msgmenu with 40200.)
* ``ListMenu``: a numbered text (issue 9): section titles as headings, ``1. title -
  description`` per row; the customer answers with the number or the title.
* ``Cards``: a ``news`` message, one article per card (title, subtitle as description, the
  card's url, or its first link button's, image as picurl). WeChat takes one article only:
  more cards are refused before I/O by the 45008 rule rather than cut (nothing is dropped
  silently); a card's reply buttons have no place in an article and are refused.
* ``UrlButton``: a ``news`` article linking to the url (title: the header, else the button
  text; description: the text and footer).
* ``Location`` and ``Contacts``: a text (name, address, coordinates; the contact cards).
* ``Document`` by ``url``: a text with the file name or caption and the link (the
  customer-service API sends no files); by ``media_id`` it is refused (nothing to link).

Native: ``Text``, ``Image``, ``Audio`` (a voice message), ``Video`` by ``media_id``
(upload first: :meth:`omnimsg.WeChatAPI.upload_media`; a ``url`` is refused with that hint),
and ``Raw`` (any customer-service body: ``{"msgtype": ..., <msgtype>: {...}}``).
Refused: ``Sticker``, ``Reaction`` (no such messages in the API) and WhatsApp's
``Template`` (WeChat templates go through :meth:`omnimsg.WeChatAPI.send_template`).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from ..._types import JSON, JSONObject
from ...models.content import (
    Button,
    Buttons,
    Card,
    Cards,
    Contacts,
    Content,
    Document,
    LinkButton,
    ListMenu,
    Location,
    QuickReplies,
    Raw,
    Text,
    UrlButton,
)
from .._text import contacts_text, document_text
from ..adapter import Capability

__all__ = ["CAPABILITIES", "article", "convert", "msgmenu"]


def _join(*parts: str | None, sep: str = "\n\n") -> str:
    return sep.join(p for p in parts if p)


def msgmenu(head: str, choices: tuple[Button, ...], tail: str | None = None) -> Raw:
    """A ``msgmenu`` customer-service message (§5.2)."""
    items: list[JSON] = [{"id": b.id, "content": b.title} for b in choices]
    menu: JSONObject = {"head_content": head, "list": items, "tail_content": tail or ""}
    return Raw({"msgtype": "msgmenu", "msgmenu": menu})


def article(title: str, description: str | None, url: str | None, picurl: str | None) -> JSONObject:
    """One ``news`` article, keys in the order of §5.2 (absent fields left out)."""
    out: JSONObject = {"title": title}
    if description:
        out["description"] = description
    if url:
        out["url"] = url
    if picurl:
        out["picurl"] = picurl
    return out


def _card(c: Card) -> JSONObject:
    link = c.url or next((b.url for b in c.buttons if isinstance(b, LinkButton)), None)
    return article(c.title, c.subtitle, link, c.image_url)


def _numbered(menu: ListMenu) -> Text:
    blocks: list[str] = [p for p in (menu.header, menu.body) if p]
    n = 0
    for section in menu.sections:
        lines = [section.title] if section.title else []
        for row in section.rows:
            n += 1
            lines.append(f"{n}. {row.title}" + (f" - {row.description}" if row.description else ""))
        if lines:
            blocks.append("\n".join(lines))
    if menu.footer:
        blocks.append(menu.footer)
    return Text("\n\n".join(blocks))


def _location(loc: Location) -> Text:
    coords = f"{loc.latitude},{loc.longitude}"
    return Text("\n".join(p for p in (loc.name, loc.address, coords) if p))


def convert(content: Content) -> Content:
    """``content`` in a form WeChat has (see the module docstring); others unchanged."""
    if isinstance(content, Buttons):
        return msgmenu(
            _join(content.header, content.body, sep="\n"), content.buttons, content.footer
        )
    if isinstance(content, QuickReplies):
        return msgmenu(content.body, content.replies)
    if isinstance(content, ListMenu):
        return _numbered(content)
    if isinstance(content, Cards):
        articles: list[JSON] = [_card(c) for c in content.cards]
        return Raw({"msgtype": "news", "news": {"articles": articles}})
    if isinstance(content, UrlButton):
        one = article(
            content.header or content.text, _join(content.body, content.footer), content.url, None
        )
        return Raw({"msgtype": "news", "news": {"articles": [one]}})
    if isinstance(content, Location):
        return _location(content)
    if isinstance(content, Contacts):
        return contacts_text(content)
    if isinstance(content, Document) and content.url is not None:
        return document_text(content) or content
    return content


CAPABILITIES: Mapping[str, Capability] = MappingProxyType(
    {
        # Native customer-service messages (§5.2): text, image, voice, video by media_id;
        # Raw is any customer-service body (music, mpnews, miniprogrampage, wxcard...).
        **dict.fromkeys(["Text", "Image", "Audio", "Video", "Raw"], "native"),
        # Buttons / QuickReplies: msgmenu. ListMenu: numbered text. Cards / UrlButton: news
        # (one article). Location / Contacts / Document (by url): a text.
        **dict.fromkeys(
            [
                "Buttons",
                "QuickReplies",
                "ListMenu",
                "Cards",
                "UrlButton",
                "Location",
                "Contacts",
                "Document",
            ],
            "fallback",
        ),
        # No sticker or reaction messages in the API; WeChat's templates are not WhatsApp's
        # (client.wechat.send_template).
        **dict.fromkeys(["Sticker", "Reaction", "Template"], "refused"),
    }
)
"""Each unified content type on WeChat: ``native``, ``fallback`` (:func:`convert`) or
``refused``."""
