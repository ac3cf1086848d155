"""Text renderings of content a platform has no form for, shared by the adapters' fallbacks.

A contact card, a file link or a header and footer around a body become plain text the same
way on every platform that lacks them, so a customer reads the same thing everywhere.
"""

from __future__ import annotations

from ..models.content import Contact, Contacts, Document, Text

__all__ = ["contact_text", "contacts_text", "document_text", "framed"]


def framed(body: str, header: str | None, footer: str | None) -> str:
    """``body`` with its header above and its footer below, blank-line separated."""
    return "\n\n".join(part for part in (header, body, footer) if part)


def contact_text(c: Contact) -> str:
    """One contact card as lines: name, organization, phones, e-mails, addresses, links."""
    lines = [c.name.formatted_name]
    if c.organization:
        lines.append(c.organization)
    lines += [f"{p.type or 'Phone'}: {p.phone}" for p in c.phones]
    lines += [f"{e.type or 'Email'}: {e.email}" for e in c.emails]
    for a in c.addresses:
        address = ", ".join(p for p in (a.street, a.city, a.zip, a.country) if p)
        if address:
            lines.append(f"{a.type or 'Address'}: {address}")
    lines += list(c.urls)
    if c.birthday:
        lines.append(f"Birthday: {c.birthday}")
    return "\n".join(lines)


def contacts_text(content: Contacts) -> Text:
    """Every card of ``content``, one text block each."""
    return Text("\n\n".join(contact_text(c) for c in content.contacts))


def document_text(content: Document) -> Text | None:
    """A file by URL as its label and link (``None`` for an uploaded file: no link)."""
    if content.url is None:
        return None
    label = content.caption or content.filename
    return Text(f"{label}\n{content.url}" if label else content.url)
