"""What a webhook tells you: typed inbound events.

Every event carries the platform, the business ``account`` it arrived on, the customer
(``user``), the platform's own event id and time, and ``raw`` (the platform's JSON for that
one item), so nothing is lost even when omnimsg does not model a field yet. An item omnimsg
does not recognise becomes :class:`Unknown`, never an exception.
"""

from __future__ import annotations

from typing import ClassVar, Literal, TypeAlias

import attrs

from .._types import JSON, JSONObject, Platform
from .content import Content
from .refs import Address

__all__ = [
    "DeliveryError",
    "Event",
    "FollowChanged",
    "MessageContext",
    "MessageReceived",
    "Postback",
    "Pricing",
    "Referral",
    "StatusUpdate",
    "SystemNotice",
    "TemplateStatusChanged",
    "Unknown",
    "UnsupportedContent",
]


@attrs.frozen(kw_only=True, slots=True)
class MessageContext:
    """What an inbound message refers to: a quoted message, a forward, a product."""

    message_id: str | None = None
    from_user: str | None = None
    forwarded: bool = False
    frequently_forwarded: bool = False
    product_id: str | None = None
    catalog_id: str | None = None


@attrs.frozen(kw_only=True, slots=True)
class Referral:
    """The ad or post a customer came from (Click-to-WhatsApp, Messenger ads)."""

    source_url: str | None = None
    source_id: str | None = None
    source_type: str | None = None
    headline: str | None = None
    body: str | None = None
    click_id: str | None = None


@attrs.frozen(kw_only=True, slots=True)
class UnsupportedContent:
    """Inbound content omnimsg does not model (order, edit, unsupported...): see ``kind``/``raw``."""

    kind: str
    raw: JSONObject = attrs.field(eq=False, factory=dict)


@attrs.frozen(kw_only=True, slots=True)
class MessageReceived:
    """A customer sent a message. It opens or refreshes the customer-service window."""

    platform: Platform
    account: str
    user: str
    message_id: str
    timestamp: float
    content: Content | UnsupportedContent
    user_name: str | None = None
    phone: str | None = None
    context: MessageContext | None = None
    referral: Referral | None = None
    raw: JSONObject = attrs.field(eq=False, factory=dict, repr=False)

    @property
    def sender(self) -> Address:
        """The customer's address, ready for ``client.send``."""
        return Address(self.platform, self.user, self.account)

    kind: ClassVar[str] = "message"


@attrs.frozen(kw_only=True, slots=True)
class Postback:
    """A customer tapped a button or chose a list row (``payload`` is the id you gave it).

    ``source`` says which: ``"button"`` (reply button), ``"list"`` (list row),
    ``"template_button"`` (a template's quick reply), ``"flow"`` (a completed flow).
    On WhatsApp this is also a message and refreshes the window.
    """

    platform: Platform
    account: str
    user: str
    message_id: str
    timestamp: float
    payload: str
    title: str | None = None
    source: Literal["button", "list", "template_button", "flow", "postback"] = "button"
    description: str | None = None
    user_name: str | None = None
    context: MessageContext | None = None
    raw: JSONObject = attrs.field(eq=False, factory=dict, repr=False)

    @property
    def sender(self) -> Address:
        """The customer's address, ready for ``client.send``."""
        return Address(self.platform, self.user, self.account)

    kind: ClassVar[str] = "postback"


@attrs.frozen(kw_only=True, slots=True)
class DeliveryError:
    """Why a message failed (native ``code``, ``title`` and ``details``)."""

    code: int | str
    title: str | None = None
    message: str | None = None
    details: str | None = None


@attrs.frozen(kw_only=True, slots=True)
class Pricing:
    """How a sent message is billed (WhatsApp ``pricing``)."""

    billable: bool | None = None
    model: str | None = None
    category: str | None = None
    type: str | None = None


@attrs.frozen(kw_only=True, slots=True)
class StatusUpdate:
    """What happened to a message you sent: ``sent``, ``delivered``, ``read``, ``played``, ``failed``."""

    platform: Platform
    account: str
    user: str
    message_id: str
    timestamp: float
    status: str
    errors: tuple[DeliveryError, ...] = ()
    pricing: Pricing | None = None
    conversation_id: str | None = None
    callback_data: str | None = None
    raw: JSONObject = attrs.field(eq=False, factory=dict, repr=False)

    kind: ClassVar[str] = "status"

    @property
    def failed(self) -> bool:
        """True for a ``failed`` status."""
        return self.status == "failed"


@attrs.frozen(kw_only=True, slots=True)
class TemplateStatusChanged:
    """A template was approved, rejected, paused, disabled... (``status`` is the new state)."""

    platform: Platform
    account: str
    template_id: str
    name: str
    language: str
    status: str
    reason: str | None = None
    timestamp: float | None = None
    raw: JSONObject = attrs.field(eq=False, factory=dict, repr=False)

    kind: ClassVar[str] = "template_status"


@attrs.frozen(kw_only=True, slots=True)
class SystemNotice:
    """A platform notice about a customer (changed number, changed identity...)."""

    platform: Platform
    account: str
    user: str
    message_id: str | None
    timestamp: float
    notice: str
    body: str | None = None
    new_user: str | None = None
    raw: JSONObject = attrs.field(eq=False, factory=dict, repr=False)

    kind: ClassVar[str] = "system"


@attrs.frozen(kw_only=True, slots=True)
class FollowChanged:
    """A customer followed or unfollowed the account (LINE follow/unfollow, WeChat subscribe).

    Platforms that have followers let the business message only those who follow; the
    adapter keeps that state in the store from these events.
    """

    platform: Platform
    account: str
    user: str
    timestamp: float
    following: bool
    raw: JSONObject = attrs.field(eq=False, factory=dict, repr=False)

    kind: ClassVar[str] = "follow"

    @property
    def sender(self) -> Address:
        """The customer, as an address to send to."""
        return Address(self.platform, self.user, self.account)


@attrs.frozen(kw_only=True, slots=True)
class Unknown:
    """An item omnimsg does not recognise; ``raw`` keeps it whole and ``reason`` says why.

    Also what a malformed item becomes: e.g. a message or status whose ``timestamp`` is not
    Unix seconds between 1970 and 3000 (``"nan"``, ``"inf"``, ``1e20``, milliseconds...).
    Such an item updates no state (no window opens).
    """

    platform: Platform
    account: str | None
    reason: str
    raw: JSON = attrs.field(eq=False, factory=dict, repr=False)

    kind: ClassVar[str] = "unknown"


Event: TypeAlias = (
    MessageReceived
    | Postback
    | StatusUpdate
    | TemplateStatusChanged
    | SystemNotice
    | FollowChanged
    | Unknown
)
"""Any inbound event."""
