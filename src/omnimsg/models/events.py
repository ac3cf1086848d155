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
    "AccountLinked",
    "BeaconDetected",
    "CommentReceived",
    "DeliveryError",
    "Event",
    "FollowChanged",
    "LocationReported",
    "MembershipChanged",
    "MenuLinkOpened",
    "MessageContext",
    "MessageEcho",
    "MessageReceived",
    "MessageUnsent",
    "OptIn",
    "Postback",
    "Pricing",
    "QrScanned",
    "ReactionChanged",
    "Referral",
    "ReferralReceived",
    "StatusUpdate",
    "SystemNotice",
    "TemplateStatusChanged",
    "ThreadControlChanged",
    "Unknown",
    "UnsupportedContent",
    "VideoWatched",
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
    """The ad, link or post a customer came from (Click-to-WhatsApp, Messenger ads and m.me).

    ``source_type`` is the platform's word for it (WhatsApp ``ad``/``post``; Messenger
    ``ADS``, ``SHORTLINK``...), ``source_id`` the ad id, ``ref`` the parameter of an
    ``m.me/<page>?ref=...`` link (Messenger).
    """

    source_url: str | None = None
    source_id: str | None = None
    source_type: str | None = None
    headline: str | None = None
    body: str | None = None
    click_id: str | None = None
    ref: str | None = None


@attrs.frozen(kw_only=True, slots=True)
class UnsupportedContent:
    """Inbound content omnimsg does not model (order, edit, unsupported...): see ``kind``/``raw``."""

    kind: str
    raw: JSONObject = attrs.field(eq=False, factory=dict)


@attrs.frozen(kw_only=True, slots=True)
class MessageReceived:
    """A customer sent a message. It opens or refreshes the customer-service window.

    ``standby`` is true when the message reached this app only because another app owns the
    conversation (Messenger's hand-over protocol): look, but leave the answer to the owner.
    """

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
    standby: bool = False
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
    ``"template_button"`` (a template's quick reply), ``"flow"`` (a completed flow),
    ``"postback"`` (a Messenger postback button, Get Started or a menu item),
    ``"quick_reply"`` (a Messenger quick reply; ``title`` is its text), ``"menu"`` (a click
    on a WeChat custom-menu item: ``payload`` is its ``key``; a WeChat click opens only the
    short 1-minute window, spec/wechat.md §5.1). A tap refreshes the window like a message. ``referral`` is where a Get Started tap came from (an m.me link,
    an ad); ``standby`` as on :class:`MessageReceived` (a standby postback has no payload).
    """

    platform: Platform
    account: str
    user: str
    message_id: str
    timestamp: float
    payload: str
    title: str | None = None
    source: Literal[
        "button", "list", "template_button", "flow", "postback", "quick_reply", "menu"
    ] = "button"
    description: str | None = None
    user_name: str | None = None
    context: MessageContext | None = None
    referral: Referral | None = None
    standby: bool = False
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
    """What happened to a message you sent: ``sent``, ``delivered``, ``read``, ``played``, ``failed``.

    Messenger's receipts carry a ``watermark`` (Unix seconds): every message sent up to then
    was delivered (or read). A delivery receipt that names its messages is one event per
    message id; a read receipt names none, so its ``message_id`` is empty.
    """

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
    watermark: float | None = None
    standby: bool = False
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
class MessageEcho:
    """A message the business account sent, echoed back (Messenger ``message_echoes``).

    Sent by this app, another app on the account, or a person in the platform's inbox
    (``app_id`` tells them apart). ``user`` is the customer it went to. Echoes are not
    customer messages: they never open a window (answering them loops).
    """

    platform: Platform
    account: str
    user: str
    message_id: str
    timestamp: float
    content: Content | UnsupportedContent | None
    app_id: str | None = None
    metadata: str | None = None
    standby: bool = False
    raw: JSONObject = attrs.field(eq=False, factory=dict, repr=False)

    kind: ClassVar[str] = "echo"


@attrs.frozen(kw_only=True, slots=True)
class ReactionChanged:
    """A customer reacted to a message, or took the reaction back (``removed``).

    ``message_id`` is the message reacted to; ``emoji`` the emoji, ``reaction`` the
    platform's name for it (Messenger: ``love``, ``like``, ``smile``...).
    """

    platform: Platform
    account: str
    user: str
    message_id: str
    timestamp: float
    emoji: str | None
    reaction: str | None = None
    removed: bool = False
    standby: bool = False
    raw: JSONObject = attrs.field(eq=False, factory=dict, repr=False)

    kind: ClassVar[str] = "reaction"

    @property
    def sender(self) -> Address:
        """The customer's address, ready for ``client.send``."""
        return Address(self.platform, self.user, self.account)


@attrs.frozen(kw_only=True, slots=True)
class ThreadControlChanged:
    """Who answers a conversation changed, or is asked to (Messenger's hand-over protocol).

    ``action``: ``"pass"`` (an app passed it to ``new_owner``), ``"take"`` (``new_owner``
    took it from ``previous_owner``), ``"request"`` (``requested_owner`` asks for it), or
    ``"roles"`` (the apps' roles on the account changed: ``roles``, app id to role names;
    no ``user`` then). App ids are strings, whatever the platform sent.
    """

    platform: Platform
    account: str
    user: str | None
    timestamp: float
    action: Literal["pass", "take", "request", "roles"]
    previous_owner: str | None = None
    new_owner: str | None = None
    requested_owner: str | None = None
    metadata: str | None = None
    roles: tuple[tuple[str, tuple[str, ...]], ...] = ()
    standby: bool = False
    raw: JSONObject = attrs.field(eq=False, factory=dict, repr=False)

    kind: ClassVar[str] = "thread_control"


@attrs.frozen(kw_only=True, slots=True)
class CommentReceived:
    """Someone commented on one of the account's posts (Messenger: a Page feed change).

    ``verb`` is ``"add"``, ``"edited"``, ``"remove"`` or ``"hide"``. ``parent_id`` is the
    post for a top-level comment, the parent comment for a reply. A comment does not open
    the messaging window, but may get one private reply
    (``client.messenger.reply_to_comment``).
    """

    platform: Platform
    account: str
    comment_id: str
    post_id: str | None
    user: str | None
    timestamp: float
    verb: str
    text: str | None = None
    user_name: str | None = None
    parent_id: str | None = None
    raw: JSONObject = attrs.field(eq=False, factory=dict, repr=False)

    kind: ClassVar[str] = "comment"

    @property
    def is_reply(self) -> bool:
        """True for a reply to another comment (not to the post itself)."""
        return self.parent_id is not None and self.parent_id != self.post_id


@attrs.frozen(kw_only=True, slots=True)
class ReferralReceived:
    """A customer came back to the conversation through a link or an ad (Messenger
    ``messaging_referrals``: an m.me link with ``ref``, a Click-to-Messenger ad).

    A new conversation's referral arrives on its Get Started :class:`Postback` instead.
    """

    platform: Platform
    account: str
    user: str
    timestamp: float
    referral: Referral
    standby: bool = False
    raw: JSONObject = attrs.field(eq=False, factory=dict, repr=False)

    kind: ClassVar[str] = "referral"

    @property
    def sender(self) -> Address:
        """The customer's address, ready for ``client.send``."""
        return Address(self.platform, self.user, self.account)


@attrs.frozen(kw_only=True, slots=True)
class OptIn:
    """A customer opted in to something (Messenger ``messaging_optins``).

    ``type`` is the platform's (``notification_messages`` for marketing messages), else
    ``None`` (a Send-to-Messenger or checkbox plugin: ``ref``). A checkbox plugin knows the
    person only by ``user_ref``, which is then also ``user``. ``token`` sends the marketing
    messages (hidden from ``repr``); ``token_expires_at`` is Unix seconds.
    """

    platform: Platform
    account: str
    user: str
    timestamp: float
    type: str | None = None
    ref: str | None = None
    payload: str | None = None
    user_ref: str | None = None
    title: str | None = None
    token: str | None = attrs.field(default=None, repr=False)
    frequency: str | None = None
    token_status: str | None = None
    token_expires_at: float | None = None
    raw: JSONObject = attrs.field(eq=False, factory=dict, repr=False)

    kind: ClassVar[str] = "optin"


@attrs.frozen(kw_only=True, slots=True)
class MessageUnsent:
    """A customer took back (unsent) a message they had sent (LINE ``unsend``).

    ``message_id`` is the message withdrawn: an app that keeps messages should delete or
    hide it. ``user`` is the chat it was sent in (a user, a group or a room id).
    """

    platform: Platform
    account: str
    user: str
    message_id: str
    timestamp: float
    standby: bool = False
    raw: JSONObject = attrs.field(eq=False, factory=dict, repr=False)

    kind: ClassVar[str] = "unsend"


@attrs.frozen(kw_only=True, slots=True)
class MembershipChanged:
    """The bot or members came into or left a group chat (LINE join, leave, memberJoined,
    memberLeft).

    ``action``: ``"join"`` (the bot was added to the group or room ``user``), ``"leave"``
    (the bot left or was removed: nothing can be sent there any more), ``"member_joined"``
    and ``"member_left"`` (people did, ``members`` their user ids, as far as the platform
    names them). ``user`` is the group or room, where a message to the group goes.
    """

    platform: Platform
    account: str
    user: str
    timestamp: float
    action: Literal["join", "leave", "member_joined", "member_left"]
    members: tuple[str, ...] = ()
    standby: bool = False
    raw: JSONObject = attrs.field(eq=False, factory=dict, repr=False)

    kind: ClassVar[str] = "membership"

    @property
    def sender(self) -> Address:
        """The group or room, as an address to send to."""
        return Address(self.platform, self.user, self.account)


@attrs.frozen(kw_only=True, slots=True)
class BeaconDetected:
    """A customer's phone came near one of the account's beacons (LINE ``beacon``).

    ``hwid`` is the beacon's hardware id, ``type`` what happened (``"enter"``, ``"banner"``
    or ``"stay"``), ``dm`` the device message the beacon sent, if any (hex).
    """

    platform: Platform
    account: str
    user: str
    timestamp: float
    hwid: str
    type: str
    dm: str | None = None
    standby: bool = False
    raw: JSONObject = attrs.field(eq=False, factory=dict, repr=False)

    kind: ClassVar[str] = "beacon"

    @property
    def sender(self) -> Address:
        """The customer's address, ready for ``client.send``."""
        return Address(self.platform, self.user, self.account)


@attrs.frozen(kw_only=True, slots=True)
class AccountLinked:
    """A customer linked their platform account to the business's own (LINE
    ``accountLink``).

    ``result`` is ``"ok"`` or ``"failed"``; ``nonce`` the one the business issued for the
    link, which tells it whose account in its own system it was.
    """

    platform: Platform
    account: str
    user: str
    timestamp: float
    result: str
    nonce: str | None = None
    standby: bool = False
    raw: JSONObject = attrs.field(eq=False, factory=dict, repr=False)

    kind: ClassVar[str] = "account_link"

    @property
    def ok(self) -> bool:
        """True when the link succeeded."""
        return self.result == "ok"

    @property
    def sender(self) -> Address:
        """The customer's address, ready for ``client.send``."""
        return Address(self.platform, self.user, self.account)


@attrs.frozen(kw_only=True, slots=True)
class VideoWatched:
    """A customer watched a video the business sent to the end (LINE
    ``videoPlayComplete``): ``tracking_id`` is the one given with that video."""

    platform: Platform
    account: str
    user: str
    timestamp: float
    tracking_id: str
    standby: bool = False
    raw: JSONObject = attrs.field(eq=False, factory=dict, repr=False)

    kind: ClassVar[str] = "video_watched"

    @property
    def sender(self) -> Address:
        """The customer's address, ready for ``client.send``."""
        return Address(self.platform, self.user, self.account)


@attrs.frozen(kw_only=True, slots=True)
class QrScanned:
    """A customer scanned one of the account's parametric QR codes (WeChat).

    ``scene`` is the scene id or string the code was created with, ``ticket`` the code's
    ticket. ``new_follower`` is true when the scan made the customer follow the account
    (WeChat ``subscribe`` with ``qrscene_``): that delivery gives a
    :class:`FollowChanged` (``following=True``) first and then this event, so that
    follower counts (count ``FollowChanged``) and scan counts (count ``QrScanned``) each
    see the scan once. ``False`` is a customer who already followed (WeChat ``SCAN``).
    A scan opens WeChat's short customer-service window (3 messages, 1 minute).
    """

    platform: Platform
    account: str
    user: str
    timestamp: float
    scene: str
    ticket: str | None = None
    new_follower: bool = False
    raw: JSONObject = attrs.field(eq=False, factory=dict, repr=False)

    kind: ClassVar[str] = "qr_scanned"

    @property
    def sender(self) -> Address:
        """The customer's address, ready for ``client.send``."""
        return Address(self.platform, self.user, self.account)


@attrs.frozen(kw_only=True, slots=True)
class LocationReported:
    """The customer's phone reported where it is (WeChat ``LOCATION``, sent when the
    customer enters the chat, or every 5 seconds there, if the account asks for it and the
    customer agreed). Not a message: it opens no window. ``precision`` is in metres."""

    platform: Platform
    account: str
    user: str
    timestamp: float
    latitude: float
    longitude: float
    precision: float | None = None
    raw: JSONObject = attrs.field(eq=False, factory=dict, repr=False)

    kind: ClassVar[str] = "location_reported"


@attrs.frozen(kw_only=True, slots=True)
class MenuLinkOpened:
    """The customer opened a link from the account's menu (WeChat ``VIEW``): ``url`` is the
    menu item's URL, ``menu_id`` the conditional menu's id when there is one. The customer
    left the chat for a web page: it opens no window (spec/wechat.md §5.1)."""

    platform: Platform
    account: str
    user: str
    timestamp: float
    url: str
    menu_id: str | None = None
    raw: JSONObject = attrs.field(eq=False, factory=dict, repr=False)

    kind: ClassVar[str] = "menu_link_opened"


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
    | MessageEcho
    | ReactionChanged
    | ThreadControlChanged
    | CommentReceived
    | ReferralReceived
    | OptIn
    | MessageUnsent
    | MembershipChanged
    | BeaconDetected
    | AccountLinked
    | VideoWatched
    | QrScanned
    | LocationReported
    | MenuLinkOpened
    | Unknown
)
"""Any inbound event."""
