"""WhatsApp's declared fallbacks: unified content types it has no native form for.

The capability table (:data:`~omnimsg.platforms.whatsapp.adapter.WhatsAppAdapter.capabilities`)
names them ``fallback``; the adapter converts them here before the rules and the wire see
them, so a converted message is checked exactly as if it had been written that way.
"""

from __future__ import annotations

from ...models.content import (
    Buttons,
    Content,
    ListMenu,
    ListRow,
    ListSection,
    QuickReplies,
)

__all__ = ["LIST_BUTTON", "convert"]

LIST_BUTTON = "Options"
"""The label of the list a ``QuickReplies`` of more than three replies becomes."""

_REPLY_BUTTONS_MAX = 3  # spec/whatsapp.md §4.2: an interactive message has 1-3 reply buttons


def convert(content: Content) -> Content:
    """``content`` in a form WhatsApp has: quick replies become reply buttons (up to three)
    or a one-section list (more; the list's own limit of ten rows is then the rule)."""
    if isinstance(content, QuickReplies):
        if len(content.replies) <= _REPLY_BUTTONS_MAX:
            return Buttons(content.body, list(content.replies))
        rows = tuple(ListRow(id=r.id, title=r.title) for r in content.replies)
        return ListMenu(body=content.body, button=LIST_BUTTON, sections=(ListSection(rows=rows),))
    return content
