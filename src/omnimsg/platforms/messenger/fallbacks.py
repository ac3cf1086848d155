"""Messenger's declared fallbacks: unified content types it has no native form for.

The capability table (:data:`~omnimsg.platforms.messenger.adapter.MessengerAdapter.capabilities`)
names them ``fallback``; the adapter converts them here before the rules and the wire see
them, so a converted message is checked exactly as if it had been written that way:

* ``Buttons`` of up to 3 stay a button template (postback buttons); 4 or more become quick
  replies (up to 13: the quick replies' limit refuses more). A header and a footer have no
  place in a button template: they frame the text, separated by blank lines.
* ``UrlButton``: the same framing; the button template then has one ``web_url`` button.
* ``ListMenu``: rows without descriptions, up to 13, become quick replies (the row id is the
  payload). Rows with descriptions, or more than 13, become a generic template: one card per
  row (its title, its description as the subtitle, one postback button labelled with the
  list's ``button``), up to 10 (the generic template's limit refuses more). Section titles
  are not shown: Messenger has no grouping.
* ``Location``: a text with the name, the address and a Google Maps link (Messenger no
  longer sends locations, spec §2.2).
* ``Contacts``: a text per card: the name, organization, phones, e-mails, addresses, links.
"""

from __future__ import annotations

from ...models.content import (
    Button,
    Buttons,
    Card,
    Cards,
    Contacts,
    Content,
    ListMenu,
    Location,
    QuickReplies,
    Text,
    UrlButton,
)
from .._text import contacts_text, framed

__all__ = ["MAPS_URL", "convert"]

MAPS_URL = "https://www.google.com/maps/search/?api=1&query={latitude},{longitude}"
"""The link a ``Location`` becomes (Google Maps URLs, no key needed)."""

_BUTTON_TEMPLATE_MAX = 3  # spec §3.2: a button template has 1-3 buttons
_QUICK_REPLIES_MAX = 13  # spec §3.2


def _location(loc: Location) -> Text:
    lines = [line for line in (loc.name, loc.address) if line]
    lines.append(MAPS_URL.format(latitude=loc.latitude, longitude=loc.longitude))
    return Text("\n".join(lines))


def _list(menu: ListMenu) -> Content:
    rows = [r for s in menu.sections for r in s.rows]
    body = framed(menu.body, menu.header, menu.footer)
    if len(rows) <= _QUICK_REPLIES_MAX and not any(r.description for r in rows):
        return QuickReplies(body, [Button(r.id, r.title) for r in rows])
    return Cards(
        [
            Card(title=r.title, subtitle=r.description, buttons=[Button(r.id, menu.button)])
            for r in rows
        ]
    )


def convert(content: Content) -> Content:
    """``content`` in a form Messenger has (see the module docstring); others unchanged."""
    if isinstance(content, Buttons):
        body = framed(content.body, content.header, content.footer)
        if len(content.buttons) <= _BUTTON_TEMPLATE_MAX:
            return Buttons(body, list(content.buttons))
        return QuickReplies(body, list(content.buttons))
    if isinstance(content, UrlButton):
        return UrlButton(
            body=framed(content.body, content.header, content.footer),
            text=content.text,
            url=content.url,
        )
    if isinstance(content, ListMenu):
        return _list(content)
    if isinstance(content, Location):
        return _location(content)
    if isinstance(content, Contacts):
        return contacts_text(content)
    return content
