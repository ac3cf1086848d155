"""What a message says: one vocabulary for every platform.

Each class is a frozen attrs value. Platform adapters map them to and from the wire; a type
a platform cannot show is converted by a declared fallback or refused with a clear error,
never dropped (see each platform's page in the docs).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal, TypeAlias

import attrs

from .._types import JSONObject
from ..exceptions import ConfigurationError

__all__ = [
    "Audio",
    "Button",
    "Buttons",
    "Card",
    "Cards",
    "Contact",
    "ContactAddress",
    "ContactEmail",
    "ContactName",
    "ContactPhone",
    "Contacts",
    "Content",
    "Document",
    "Image",
    "LinkButton",
    "ListMenu",
    "ListRow",
    "ListSection",
    "Location",
    "Media",
    "QuickReplies",
    "Raw",
    "Reaction",
    "Sticker",
    "Template",
    "TemplateButtonParam",
    "TemplateHeader",
    "Text",
    "UrlButton",
    "Video",
]


def _choices(value: object) -> tuple[Button, ...]:
    """Accept ``["Yes", "No"]`` or ``[Button(...)]``: a plain string is its own id and title."""
    if not isinstance(value, list | tuple):
        raise ConfigurationError("buttons must be a list of strings or Button objects")
    return tuple(b if isinstance(b, Button) else Button(id=str(b), title=str(b)) for b in value)


def _card_buttons(value: Iterable[Button | LinkButton | str]) -> tuple[Button | LinkButton, ...]:
    """A card's buttons: ``Button``/``LinkButton`` values, or strings (reply buttons)."""
    if not isinstance(value, list | tuple):
        raise ConfigurationError("a card's buttons must be a list")
    return tuple(
        b if isinstance(b, Button | LinkButton) else Button(id=str(b), title=str(b)) for b in value
    )


def _cards(value: Iterable[Card]) -> tuple[Card, ...]:
    return tuple(value)


def _contacts(value: Iterable[Contact]) -> tuple[Contact, ...]:
    return tuple(value)


def _rows(value: Iterable[ListRow]) -> tuple[ListRow, ...]:
    return tuple(value)


def _sections(value: Iterable[ListSection]) -> tuple[ListSection, ...]:
    return tuple(value)


def _button_params(value: Iterable[TemplateButtonParam]) -> tuple[TemplateButtonParam, ...]:
    return tuple(value)


@attrs.frozen(slots=True)
class Text:
    """Plain text. ``preview_url`` asks for a link preview where the platform renders one."""

    body: str
    preview_url: bool = False


@attrs.frozen(kw_only=True, slots=True)
class Media:
    """Base of the media types: exactly one of ``media_id`` (uploaded) or ``url`` (link)."""

    media_id: str | None = None
    url: str | None = None
    mime_type: str | None = None
    sha256: str | None = attrs.field(default=None, repr=False)

    def __attrs_post_init__(self) -> None:
        if (self.media_id is None) == (self.url is None):
            raise ConfigurationError(
                f"{type(self).__name__} needs exactly one of media_id= or url="
            )


@attrs.frozen(kw_only=True, slots=True)
class Image(Media):
    """A picture, with an optional caption."""

    caption: str | None = None


@attrs.frozen(kw_only=True, slots=True)
class Video(Media):
    """A video, with an optional caption.

    ``preview_url`` is the still image shown before it plays (LINE requires one: spec/line.md
    §3; WhatsApp and Messenger make their own). ``duration_ms`` is its length, when the
    platform reports it (LINE's inbound videos).
    """

    caption: str | None = None
    preview_url: str | None = None
    duration_ms: int | None = None


@attrs.frozen(kw_only=True, slots=True)
class Audio(Media):
    """An audio clip; ``voice`` marks a voice note (inbound).

    ``duration_ms`` is its length in milliseconds: LINE requires it to send one (spec/line.md
    §3) and reports it on what customers send.
    """

    voice: bool = False
    duration_ms: int | None = None


@attrs.frozen(kw_only=True, slots=True)
class Document(Media):
    """A file such as a PDF, with an optional file name and caption."""

    filename: str | None = None
    caption: str | None = None


@attrs.frozen(kw_only=True, slots=True)
class Sticker(Media):
    """A sticker (WhatsApp: a WebP image)."""

    animated: bool = False


@attrs.frozen(kw_only=True, slots=True)
class Location:
    """A point on the map."""

    latitude: float
    longitude: float
    name: str | None = None
    address: str | None = None


@attrs.frozen(kw_only=True, slots=True)
class ContactName:
    """A contact card's name."""

    formatted_name: str
    first_name: str | None = None
    last_name: str | None = None


@attrs.frozen(kw_only=True, slots=True)
class ContactPhone:
    """A phone number on a contact card."""

    phone: str
    type: str | None = None
    wa_id: str | None = None


@attrs.frozen(kw_only=True, slots=True)
class ContactEmail:
    """An e-mail address on a contact card."""

    email: str
    type: str | None = None


@attrs.frozen(kw_only=True, slots=True)
class ContactAddress:
    """A postal address on a contact card."""

    street: str | None = None
    city: str | None = None
    zip: str | None = None
    country: str | None = None
    country_code: str | None = None
    type: str | None = None


@attrs.frozen(kw_only=True, slots=True)
class Contact:
    """One contact card."""

    name: ContactName
    phones: tuple[ContactPhone, ...] = ()
    emails: tuple[ContactEmail, ...] = ()
    addresses: tuple[ContactAddress, ...] = ()
    organization: str | None = None
    urls: tuple[str, ...] = ()
    birthday: str | None = None


@attrs.frozen(slots=True)
class Contacts:
    """One or more contact cards."""

    contacts: tuple[Contact, ...] = attrs.field(converter=_contacts)


@attrs.frozen(kw_only=True, slots=True)
class Reaction:
    """An emoji reaction to an earlier message; an empty ``emoji`` removes it."""

    message_id: str
    emoji: str


@attrs.frozen(slots=True)
class Button:
    """A reply button: ``id`` comes back in the postback, ``title`` is shown."""

    id: str
    title: str


@attrs.frozen(slots=True)
class Buttons:
    """A question with reply buttons: ``Buttons("Pick one", ["Track order", "Agent"])``.

    Platforms without native buttons use a declared fallback (numbered text).
    """

    body: str
    buttons: tuple[Button, ...] = attrs.field(converter=_choices)
    header: str | None = attrs.field(default=None, kw_only=True)
    footer: str | None = attrs.field(default=None, kw_only=True)


@attrs.frozen(slots=True)
class QuickReplies:
    """A question with suggested answers that disappear once one is tapped.

    ``QuickReplies("How was it?", ["Great", "OK", "Bad"])``: Messenger's and LINE's quick
    replies (up to 13). Platforms without them use a declared fallback (WhatsApp: reply
    buttons up to 3, a list up to 10).
    """

    body: str
    replies: tuple[Button, ...] = attrs.field(converter=_choices)


@attrs.frozen(slots=True)
class LinkButton:
    """A button that opens ``url`` (on a card)."""

    title: str
    url: str


@attrs.frozen(kw_only=True, slots=True)
class Card:
    """One card of a carousel: a title, and optionally a subtitle, a picture and buttons.

    ``url`` is where tapping the card itself goes; ``buttons`` are reply buttons
    (:class:`Button`, or strings) and link buttons (:class:`LinkButton`).
    """

    title: str
    subtitle: str | None = None
    image_url: str | None = None
    url: str | None = None
    buttons: tuple[Button | LinkButton, ...] = attrs.field(default=(), converter=_card_buttons)


@attrs.frozen(slots=True)
class Cards:
    """A carousel of cards the customer swipes through (Messenger's generic template, LINE's
    carousel)."""

    cards: tuple[Card, ...] = attrs.field(converter=_cards)


@attrs.frozen(kw_only=True, slots=True)
class ListRow:
    """One choice in a list menu."""

    id: str
    title: str
    description: str | None = None


@attrs.frozen(kw_only=True, slots=True)
class ListSection:
    """A titled group of rows in a list menu."""

    rows: tuple[ListRow, ...] = attrs.field(converter=_rows)
    title: str | None = None


@attrs.frozen(kw_only=True, slots=True)
class ListMenu:
    """A menu opened by a button (``button`` is its label), with sections of rows."""

    body: str
    button: str
    sections: tuple[ListSection, ...] = attrs.field(converter=_sections)
    header: str | None = None
    footer: str | None = None


@attrs.frozen(kw_only=True, slots=True)
class UrlButton:
    """A message with one call-to-action button that opens ``url``."""

    body: str
    text: str
    url: str
    header: str | None = None
    footer: str | None = None


@attrs.frozen(kw_only=True, slots=True)
class TemplateHeader:
    """A template header parameter: text, or a media link/id of the template's header format."""

    kind: Literal["text", "image", "video", "document", "location"]
    text: str | None = None
    media: Media | None = None
    location: Location | None = None


@attrs.frozen(kw_only=True, slots=True)
class TemplateButtonParam:
    """A parameter for one of a template's buttons (``index`` is 0-based)."""

    index: int
    sub_type: Literal["quick_reply", "url", "copy_code", "flow"]
    value: str


TemplateParams: TypeAlias = tuple[str, ...] | Mapping[str, str]


def _params(value: object) -> tuple[str, ...] | Mapping[str, str]:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    raise ConfigurationError("template params must be a list (positional) or a dict (named)")


@attrs.frozen(slots=True)
class Template:
    """A pre-approved template (WhatsApp; WeChat template messages).

    ``params`` is a list for positional (``{{1}}``) or a dict for named (``{{name}}``) body
    parameters.
    """

    name: str
    language: str = attrs.field(default="en_US", kw_only=True)
    params: tuple[str, ...] | Mapping[str, str] = attrs.field(
        default=(), kw_only=True, converter=_params, eq=False
    )
    header: TemplateHeader | None = attrs.field(default=None, kw_only=True)
    buttons: tuple[TemplateButtonParam, ...] = attrs.field(
        default=(), kw_only=True, converter=_button_params
    )

    @property
    def named(self) -> bool:
        """True when the body parameters are named."""
        return isinstance(self.params, Mapping)

    def param_count(self) -> int:
        """Number of body parameters given."""
        return len(self.params)


@attrs.frozen(slots=True)
class Raw:
    """An escape hatch: a platform-native message object, sent as-is.

    ``payload`` is the body the platform expects for that message type (without the
    envelope, e.g. a WhatsApp ``{"type": "interactive", "interactive": {...}}``).
    """

    payload: JSONObject = attrs.field(eq=False)


Content: TypeAlias = (
    Text
    | Image
    | Video
    | Audio
    | Document
    | Sticker
    | Location
    | Contacts
    | Reaction
    | Buttons
    | QuickReplies
    | Cards
    | ListMenu
    | UrlButton
    | Template
    | Raw
)
"""Anything that can be sent with ``client.send``."""
