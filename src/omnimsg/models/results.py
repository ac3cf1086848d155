"""What omnimsg calls return: typed, frozen results (never bare dicts)."""

from __future__ import annotations

from datetime import datetime

import attrs

from .._types import JSON, Platform
from .content import Button, LinkButton
from .refs import Address

__all__ = [
    "AppInfo",
    "MediaInfo",
    "MessengerProfile",
    "SendResult",
    "TemplateInfo",
    "UserProfile",
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


@attrs.frozen(kw_only=True, slots=True)
class UserProfile:
    """What the platform tells about a customer (Messenger's User Profile API).

    ``name``, ``first_name``, ``last_name`` and ``profile_pic`` (a URL) by default;
    ``locale``, ``timezone`` (hours from UTC) and ``gender`` only with Meta's approval.
    """

    id: str
    name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    profile_pic: str | None = None
    locale: str | None = None
    timezone: float | None = None
    gender: str | None = None
    raw: JSON = attrs.field(eq=False, default=None, repr=False)


@attrs.frozen(kw_only=True, slots=True)
class AppInfo:
    """An app on the account (Messenger's hand-over: a secondary receiver)."""

    id: str
    name: str | None = None


@attrs.frozen(kw_only=True, slots=True)
class MessengerProfile:
    """A Page's Messenger Profile: what a customer sees before and around a conversation.

    Attributes:
        greeting: ``(locale, text)`` pairs, shown before the first message.
        get_started: the payload of the Get Started button's postback (``None``: no button).
        persistent_menu: the menu's items: postback :class:`Button` and link
            :class:`LinkButton` (the ``default`` locale's).
        composer_input_disabled: the menu replaces the text box.
        ice_breakers: the suggested first questions (``title`` the question, ``id`` the
            postback payload; the ``default`` locale's).
    """

    greeting: tuple[tuple[str, str], ...] = ()
    get_started: str | None = None
    persistent_menu: tuple[Button | LinkButton, ...] = ()
    composer_input_disabled: bool = False
    ice_breakers: tuple[Button, ...] = ()
    raw: JSON = attrs.field(eq=False, default=None, repr=False)
