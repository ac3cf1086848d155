"""What omnimsg calls return: typed, frozen results (never bare dicts)."""

from __future__ import annotations

from datetime import datetime

import attrs

from .._types import JSON, Platform
from .refs import Address

__all__ = [
    "MediaInfo",
    "SendResult",
    "TemplateInfo",
    "Window",
]


@attrs.frozen(kw_only=True, slots=True)
class SendResult:
    """The platform accepted a message.

    Acceptance is not delivery: on WhatsApp a message can still fail later, reported by a
    ``failed`` :class:`~omnimsg.StatusUpdate` (e.g. 131047 outside the window).
    """

    platform: Platform
    to: Address
    message_id: str | None
    status: str | None = None
    user_id: str | None = None
    raw: JSON = attrs.field(eq=False, default=None, repr=False)


@attrs.frozen(kw_only=True, slots=True)
class Window:
    """The messaging window with one customer, known before sending.

    Attributes:
        open: free-form messages are allowed now.
        last_inbound_at: when the customer last wrote (``None``: never, as far as we know).
        closes_at: when free-form messaging ends (or ended) for this window.
        allowed_when_closed: what may still be sent, e.g. ``("template",)`` on WhatsApp.
    """

    platform: Platform
    to: Address
    open: bool
    last_inbound_at: datetime | None
    closes_at: datetime | None
    allowed_when_closed: tuple[str, ...]


@attrs.frozen(kw_only=True, slots=True)
class MediaInfo:
    """An uploaded or received media object (the ``url`` is short-lived and needs the token)."""

    id: str
    url: str | None = None
    mime_type: str | None = None
    sha256: str | None = None
    file_size: int | None = None


@attrs.frozen(kw_only=True, slots=True)
class TemplateInfo:
    """A message template as the platform stores it."""

    id: str
    name: str
    language: str
    status: str
    category: str | None = None
    parameter_format: str | None = None
    components: JSON = attrs.field(eq=False, default=None, repr=False)
