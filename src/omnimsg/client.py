"""The synchronous face: :class:`Client`."""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Literal, TypeVar

import httpx

from ._core.drive import SyncDriver, run_sync
from ._core.effects import Flow
from ._core.retry import RetryPolicy
from ._engine import Channel, Engine
from ._types import JSONObject, Platform
from .claims import Claim
from .clock import Clock, SystemClock
from .drivers import HttpxDriver
from .exceptions import ConfigurationError
from .models.content import Button, Content, LinkButton
from .models.events import Event
from .models.options import SendOptions
from .models.refs import Address
from .models.results import (
    AppInfo,
    MediaInfo,
    MessengerProfile,
    SendResult,
    TemplateInfo,
    UserProfile,
    Window,
)
from .platforms import Adapter
from .platforms.line import Line
from .platforms.line import extras as ln
from .platforms.line.extras import (
    ChannelToken,
    LineProfile,
    LineQuota,
    LineValidation,
    NarrowcastProgress,
    RichMenu,
    TokenInfo,
    TokenKind,
    ValidateKind,
    VerifyKind,
)
from .platforms.line.jwt import PrivateKey
from .platforms.messenger import PAGE_INBOX_APP_ID
from .platforms.wechat import WeChat
from .platforms.wechat import extras as wx
from .platforms.wechat.extras import MediaKind, MenuItem, QRCode, WeChatMenu, WeChatTag, WeChatUser
from .rules import Violation
from .rules.messenger import BadgeReport
from .stores import MemoryStore, Store, check_store
from .webhooks import Headers, WebhookConfig, WebhookOutcome

__all__ = ["Client", "Receipt", "Receiving"]

T = TypeVar("T")


class Client:
    """Send and receive on every configured platform, synchronously.

    Args:
        channels: the platform accounts, e.g. ``[WhatsApp(phone_number_id=..., ...)]``.
        store: where conversation state lives (default: a fresh :class:`MemoryStore`).
        clock: the time source (default: :class:`SystemClock`; tests pass a ``FakeClock``).
        driver: the HTTP driver (default: :class:`HttpxDriver`).
        http_client: an ``httpx.Client`` for the default driver (proxies, timeouts...).
        transport: an ``httpx`` transport for the default driver (e.g. the in-process
            simulator from :mod:`omnimsg.testing`).
        retry: the retry policy (default: 3 attempts, only when safe).
        preflight: check the platform's rules before sending (default ``True``).
        webhooks: webhook settings (de-duplication TTL, lease, body size limit).
        adapters: platforms beyond the built-in ones (or replacing one), each an
            :class:`omnimsg.platforms.Adapter`; its channels are then accepted in ``channels``.

    The same methods exist on :class:`AsyncClient`, awaited.
    """

    def __init__(
        self,
        channels: Sequence[Channel],
        *,
        store: Store | None = None,
        clock: Clock | None = None,
        driver: SyncDriver | None = None,
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
        preflight: bool = True,
        webhooks: WebhookConfig | None = None,
        adapters: Sequence[Adapter] = (),
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self.store: Store = store if store is not None else MemoryStore(clock=self.clock)
        check_store(self.store, async_face=False)
        self._driver = driver or HttpxDriver(http_client, transport=transport)
        self._engine = Engine(
            channels,
            clock=self.clock,
            retry=retry or RetryPolicy(),
            preflight=preflight,
            webhook_config=webhooks or WebhookConfig(),
            adapters=adapters,
        )
        self.webhooks = Webhooks(self)
        """Webhook handling: :meth:`Webhooks.receive` (exactly once), ``claim``, ``handle``, ``parse``."""
        self.whatsapp = WhatsAppAPI(self)
        """WhatsApp-only operations: read receipts, media, templates."""
        self.messenger = MessengerAPI(self)
        """Messenger-only operations: sender actions, private replies, profiles, hand-over."""
        self.line = LineAPI(self)
        """LINE-only operations: multicast, broadcast, narrowcast, quota, profiles, loading,
        content, rich menus, channel access tokens."""
        self.wechat = WeChatAPI(self)
        """WeChat-only operations: typing, media upload, template and subscribe messages,
        tags, users, QR codes, the custom menu, passive replies."""

    def _run(self, flow: Flow[T]) -> T:
        return run_sync(flow, self._driver, self.store, self.clock)

    def send(
        self,
        to: Address,
        content: Content,
        *,
        reply_to: str | None = None,
        callback_data: str | None = None,
        tag: str | None = None,
        human: bool = False,
    ) -> SendResult:
        """Send ``content`` to ``to``; the same call on every platform.

        The platform's rules are checked first: a message the platform would refuse raises
        :class:`~omnimsg.PolicyViolation` before any request is made.

        Args:
            to: the customer.
            content: what to send (``Text``, ``Image``, ``Buttons``, ``Template``...).
            reply_to: quote this earlier message id.
            callback_data: your own string, echoed back in status webhooks.
            tag: a message tag that allows the send outside the standard window (Messenger's
                ``"HUMAN_AGENT"``); only platforms with tags take one.
            human: a person wrote this message (Messenger's ``HUMAN_AGENT`` allows only those).

        Raises:
            PolicyViolation: the rules forbid it now (e.g. the window is closed), or the
                platform has no form for this content type.
            PlatformError: the platform refused it (a subclass names why).
            TransportError: no answer from the platform.
        """
        options = SendOptions(reply_to=reply_to, callback_data=callback_data, tag=tag, human=human)
        return self._run(self._engine.send(to, content, options))

    def check(
        self, to: Address, content: Content, *, tag: str | None = None, human: bool = False
    ) -> tuple[Violation, ...]:
        """The rules ``content`` would break if sent to ``to`` now (empty: it may be sent)."""
        return self._run(self._engine.check(to, content, SendOptions(tag=tag, human=human)))

    def window(self, to: Address) -> Window:
        """The messaging window with ``to``: open or not, until when, what is allowed after."""
        return self._run(self._engine.window(to))

    def close(self) -> None:
        """Release HTTP connections this client (and a clock that reads a simulator) opened."""
        self._driver.close()
        release = getattr(self.clock, "close", None)
        if release is not None:
            release()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client(channels={list(self._engine.channels)!r})"


class Webhooks:
    """Inbound HTTP from the platforms: verify, parse, de-duplicate, update state."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def handle(
        self,
        platform: Platform,
        method: str,
        url: str,
        headers: Headers,
        body: bytes,
    ) -> WebhookOutcome:
        """Answer one webhook request (GET handshake or signed POST).

        Never raises for bad input: the outcome carries the status to answer with and, when
        the request was refused, the typed ``error``. New events are in ``events``;
        re-deliveries are dropped and counted in ``duplicates``.
        """
        return self._client._run(
            self._client._engine.handle_webhook(platform, method, url, headers, body)
        )

    def receive(
        self,
        platform: Platform,
        method: str,
        url: str,
        headers: Headers,
        body: bytes,
        *,
        lease: float | None = None,
    ) -> Receiving:
        """Handle one webhook request exactly once: ``with client.webhooks.receive(...) as r:``.

        Entering the block verifies the request and claims its new events for ``lease``
        seconds (default ``WebhookConfig.lease``). Leaving it normally marks them handled;
        an exception releases them, so the platform's redelivery (after your framework
        answers 500) hands them over again. Answer with ``r.status``, ``r.body`` and
        ``r.content_type`` (``503`` while another delivery of the same event is in progress).
        """
        return Receiving(self, (platform, method, url, headers, body), lease)

    def claim(
        self,
        platform: Platform,
        method: str,
        url: str,
        headers: Headers,
        body: bytes,
        *,
        lease: float | None = None,
    ) -> Receipt:
        """Verify a webhook request and claim its new events; confirm with :meth:`Receipt.ack`.

        The explicit form of :meth:`receive`: call ``receipt.ack(event)`` once an event is
        handled, ``receipt.release(event)`` when it failed. An event neither acked nor
        released is handed over again once its lease has passed.
        """
        outcome, claim = self._client._run(
            self._client._engine.claim_webhook(platform, method, url, headers, body, lease)
        )
        return Receipt(self._client, outcome, claim)

    def parse(
        self,
        platform: Platform,
        headers: Headers,
        body: bytes,
        *,
        url: str = "",
    ) -> builtins.list[Event]:
        """Verify the signature and parse a POST body; no de-duplication, no state.

        ``url`` is the request's full URL: WeChat signs in its query string (``signature``,
        ``timestamp``, ``nonce``, ``msg_signature``), the other platforms in a header.

        Raises:
            SignatureError: the signature is missing or wrong.
            WebhookParseError: the body is too large or not the platform's envelope.
        """
        return self._client._engine.parse_webhook(platform, headers, body, url=url)


class Receipt:
    """The events of one webhook delivery, claimed for this process until settled.

    ``events`` are the new events, claimed; ``duplicates`` those already handled; ``busy``
    those another delivery holds right now. Answer the platform with ``status``, ``body`` and
    ``content_type``.
    """

    def __init__(self, client: Client, outcome: WebhookOutcome, claim: Claim) -> None:
        self._client = client
        self.outcome = outcome
        """The answer to give and the claimed events (a :class:`WebhookOutcome`)."""
        self._claim = claim
        # By identity: events hold their raw payload (a dict), so they are not hashable.
        self._open = {id(e): (e, k) for e, k in zip(claim.events, claim.keys, strict=True)}

    @property
    def events(self) -> tuple[Event, ...]:
        """The new events this delivery claimed, in the order they were sent."""
        return self.outcome.events

    @property
    def status(self) -> int:
        """The HTTP status to answer the platform with."""
        return self.outcome.status

    @property
    def body(self) -> bytes:
        """The answer body."""
        return self.outcome.body

    @property
    def content_type(self) -> str:
        """The answer's content type."""
        return self.outcome.content_type

    @property
    def busy(self) -> int:
        """How many events another delivery holds (the answer is then ``503``)."""
        return self._claim.busy

    @property
    def pending(self) -> tuple[Event, ...]:
        """Claimed events neither acknowledged nor released yet."""
        return tuple(e for e, _ in self._open.values())

    def _take(self, events: tuple[Event, ...]) -> builtins.list[str]:
        chosen = [id(e) for e in events] if events else list(self._open)
        return [self._open.pop(i)[1] for i in chosen if i in self._open]

    def ack(self, *events: Event) -> None:
        """Mark ``events`` (default: all pending) handled: their redeliveries are duplicates."""
        return self.settle(*events, handled=True)

    def release(self, *events: Event) -> None:
        """Give ``events`` (default: all pending) back: a redelivery hands them over again."""
        return self.settle(*events, handled=False)

    def settle(self, *events: Event, handled: bool) -> None:
        """:meth:`ack` (``handled=True``) or :meth:`release` ``events`` (default: all pending)."""
        return self._client._run(
            self._client._engine.settle_webhook(self._claim, self._take(events), handled)
        )


class Receiving:
    """What :meth:`Webhooks.receive` returns: a context manager around a :class:`Receipt`."""

    def __init__(self, webhooks: Webhooks, request: tuple[Any, ...], lease: float | None) -> None:
        self._webhooks = webhooks
        self._request = request
        self._lease = lease
        self._receipt: Receipt | None = None

    def __enter__(self) -> Receipt:
        self._receipt = self._webhooks.claim(*self._request, lease=self._lease)
        return self._receipt

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._receipt is not None
        if exc_type is None:
            self._receipt.ack()
        else:
            self._receipt.release()


class WhatsAppAPI:
    """WhatsApp-only operations (``client.whatsapp``)."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self.templates = WhatsAppTemplates(client)
        """Template management."""

    def mark_read(
        self, message_id: str, *, typing: bool = False, account: str | None = None
    ) -> bool:
        """Mark an inbound message (and earlier ones) read; ``typing`` also shows the indicator."""
        return self._client._run(self._client._engine.wa_mark_read(message_id, typing, account))

    def upload_media(
        self, data: bytes, *, mime_type: str, filename: str = "file", account: str | None = None
    ) -> str:
        """Upload media and return its id (valid 30 days)."""
        return self._client._run(self._client._engine.wa_upload(data, mime_type, filename, account))

    def media_info(self, media_id: str, *, account: str | None = None) -> MediaInfo:
        """The download URL (short-lived, needs the token) and metadata of a media id."""
        return self._client._run(self._client._engine.wa_media_info(media_id, account))

    def download_media(self, media_id: str, *, account: str | None = None) -> bytes:
        """The bytes of a media id (inbound or uploaded)."""
        return self._client._run(self._client._engine.wa_download(media_id, account))

    def delete_media(self, media_id: str, *, account: str | None = None) -> bool:
        """Delete uploaded media."""
        return self._client._run(self._client._engine.wa_delete_media(media_id, account))


class WhatsAppTemplates:
    """WhatsApp message templates (``client.whatsapp.templates``)."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def create(
        self,
        name: str,
        *,
        language: str,
        category: str,
        components: Sequence[JSONObject],
        parameter_format: str | None = None,
        account: str | None = None,
    ) -> TemplateInfo:
        """Submit a template for review; it starts ``PENDING``."""
        return self._client._run(
            self._client._engine.wa_create_template(
                name, language, category, components, parameter_format, account
            )
        )

    def list(
        self, *, status: str | None = None, account: str | None = None
    ) -> builtins.list[TemplateInfo]:
        """All templates (optionally only those with ``status``); refreshes pre-flight's cache."""
        return self._client._run(self._client._engine.wa_list_templates(status, account))

    def delete(
        self, name: str, *, template_id: str | None = None, account: str | None = None
    ) -> bool:
        """Delete a template by name (all languages), or one language by ``template_id``."""
        return self._client._run(
            self._client._engine.wa_delete_template(name, template_id, account)
        )


_PROFILE_DEFAULT_FIELDS = ("greeting", "get_started", "persistent_menu", "ice_breakers")
_USER_DEFAULT_FIELDS = ("name", "first_name", "last_name", "profile_pic")


class MessengerAPI:
    """Messenger-only operations (``client.messenger``)."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self.profile = MessengerProfileAPI(client)
        """The Page's Messenger Profile: greeting, Get Started, persistent menu, ice breakers."""

    def typing_on(self, to: Address) -> None:
        """Show the typing indicator to ``to`` (a request of its own, never with a message)."""
        return self._client._run(self._client._engine.fb_sender_action(to, "typing_on"))

    def typing_off(self, to: Address) -> None:
        """Hide the typing indicator."""
        return self._client._run(self._client._engine.fb_sender_action(to, "typing_off"))

    def mark_seen(self, to: Address) -> None:
        """Mark the customer's last message seen."""
        return self._client._run(self._client._engine.fb_sender_action(to, "mark_seen"))

    def reply_to_comment(
        self,
        comment_id: str,
        content: Content,
        *,
        callback_data: str | None = None,
        account: str | None = None,
    ) -> SendResult:
        """Answer a comment on one of the Page's posts privately, in Messenger.

        One private reply per comment, within 7 days of the comment: a second one, or a late
        one, raises :class:`~omnimsg.PolicyViolation` before any request. The window opens
        only once the person answers. ``result.user_id`` is the person's PSID.
        """
        return self._client._run(
            self._client._engine.fb_reply_to_comment(comment_id, content, callback_data, account)
        )

    def user_profile(
        self, to: Address, *, fields: Sequence[str] = _USER_DEFAULT_FIELDS
    ) -> UserProfile:
        """The customer's name and picture (``locale``, ``timezone``, ``gender`` need Meta's
        approval), for a personal greeting."""
        return self._client._run(self._client._engine.fb_user_profile(to, fields))

    def upload_attachment(
        self,
        url: str,
        *,
        kind: Literal["image", "video", "audio", "file"] = "image",
        reusable: bool = True,
        account: str | None = None,
    ) -> str:
        """Upload an attachment from ``url``; its ``attachment_id`` (send it as
        ``Image(media_id=...)``; reusable ids expire after 90 days)."""
        return self._client._run(self._client._engine.fb_upload(url, kind, reusable, account))

    def pass_thread_control(
        self,
        to: Address,
        *,
        target_app_id: str = PAGE_INBOX_APP_ID,
        metadata: str | None = None,
    ) -> bool:
        """Pass the conversation to another app: by default the Page Inbox, where a person
        answers. This app then receives the conversation's events as ``standby``."""
        return self._client._run(
            self._client._engine.fb_thread_control("pass", to, target_app_id, metadata)
        )

    def take_thread_control(self, to: Address, *, metadata: str | None = None) -> bool:
        """Take the conversation back (the primary receiver may, at any time)."""
        return self._client._run(self._client._engine.fb_thread_control("take", to, None, metadata))

    def request_thread_control(self, to: Address, *, metadata: str | None = None) -> bool:
        """Ask the app that owns the conversation to pass it to this one."""
        return self._client._run(
            self._client._engine.fb_thread_control("request", to, None, metadata)
        )

    def thread_owner(self, to: Address) -> str | None:
        """The app id that owns the conversation now (``None``: nobody, the thread is idle)."""
        return self._client._run(self._client._engine.fb_thread_owner(to))

    def secondary_receivers(self, *, account: str | None = None) -> builtins.list[AppInfo]:
        """The apps that may be passed a conversation (asked as the primary receiver)."""
        return self._client._run(self._client._engine.fb_secondary_receivers(account))

    def badge(self, *, account: str | None = None) -> BadgeReport:
        """The Page's "Very responsive" figures over the last 7 days, from the conversation
        log in the store: response rate, response time, and whether they meet the badge."""
        return self._client._run(self._client._engine.fb_badge(account))


class MessengerProfileAPI:
    """The Page's Messenger Profile (``client.messenger.profile``)."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def set(
        self,
        *,
        greeting: str | Mapping[str, str] | None = None,
        get_started: str | None = None,
        persistent_menu: Sequence[Button | LinkButton] | None = None,
        composer_input_disabled: bool = False,
        ice_breakers: Sequence[Button] | None = None,
        account: str | None = None,
    ) -> bool:
        """Set the given properties (the others stay as they are).

        ``greeting`` is a text (the ``default`` locale) or ``{locale: text}`` (a ``default``
        is required; at most 160 characters); ``get_started`` the payload of the Get Started
        button's postback; ``persistent_menu`` up to 20 postback :class:`~omnimsg.Button` and
        link :class:`~omnimsg.LinkButton` items (Meta wants Get Started set for it);
        ``ice_breakers`` up to 4 :class:`~omnimsg.Button` (the title is the question).
        """
        return self._client._run(
            self._client._engine.fb_set_profile(
                greeting=greeting,
                get_started=get_started,
                persistent_menu=persistent_menu,
                composer_input_disabled=composer_input_disabled,
                ice_breakers=ice_breakers,
                account=account,
            )
        )

    def get(
        self, fields: Sequence[str] = _PROFILE_DEFAULT_FIELDS, *, account: str | None = None
    ) -> MessengerProfile:
        """The Page's current profile (the given properties)."""
        return self._client._run(self._client._engine.fb_get_profile(fields, account))

    def delete(self, fields: Sequence[str], *, account: str | None = None) -> bool:
        """Remove properties, e.g. ``["persistent_menu", "get_started"]``."""
        return self._client._run(self._client._engine.fb_delete_profile(fields, account))


def _line(client: Client, account: str | None) -> Line:
    """The LINE channel (``client.line``: that platform's own operations)."""
    ch = client._engine.channel("line", account)
    if not isinstance(ch, Line):
        raise ConfigurationError(f"the line channel is not a Line(...): {ch!r}")
    return ch


def _line_to(client: Client, to: Address) -> tuple[Line, str]:
    """The LINE channel of a chat's address, and the chat's id."""
    if not isinstance(to, Address) or to.platform != "line":
        raise ConfigurationError(f"give a LINE chat, Address('line', user_id): {to!r}")
    return _line(client, to.account), to.user


class LineAPI:
    """LINE-only operations (``client.line``).

    ``contents`` is one content value or a list of them, sent in one request (at most 5
    LINE message objects); each goes through LINE's capability table and fallbacks, as in
    ``send``. Sends to many carry an ``X-Line-Retry-Key``: a retry never sends twice.
    """

    def __init__(self, client: Client) -> None:
        self._client = client

    def multicast(
        self,
        users: Sequence[str],
        contents: Content | Sequence[Content],
        *,
        notification_disabled: bool = False,
        account: str | None = None,
    ) -> str | None:
        """Send to up to 500 user ids at once; the request id.

        Counted against the month's quota per distinct recipient before the request; a plan
        that cannot go over refuses it with :class:`~omnimsg.PolicyViolation` (no I/O).
        """
        engine = self._client._engine
        return self._client._run(
            ln.multicast(
                _line(self._client, account),
                users,
                contents,
                notification_disabled=notification_disabled,
                preflight=engine.preflight,
                retry=engine.retry,
            )
        )

    def broadcast(
        self,
        contents: Content | Sequence[Content],
        *,
        notification_disabled: bool = False,
        account: str | None = None,
    ) -> str | None:
        """Send to every friend of the account; the request id.

        Not counted before the request (its reach is LINE's to know); refused before I/O
        only when a plan that cannot go over has used up the month.
        """
        engine = self._client._engine
        return self._client._run(
            ln.broadcast(
                _line(self._client, account),
                contents,
                notification_disabled=notification_disabled,
                preflight=engine.preflight,
                retry=engine.retry,
            )
        )

    def narrowcast(
        self,
        contents: Content | Sequence[Content],
        *,
        recipient: Mapping[str, Any] | None = None,
        filter: Mapping[str, Any] | None = None,
        limit: Mapping[str, Any] | None = None,
        notification_disabled: bool = False,
        account: str | None = None,
    ) -> str | None:
        """Send to an audience or demographic filter (LINE's JSON); the request id to ask
        :meth:`narrowcast_progress` with (LINE answers 202 and delivers later)."""
        engine = self._client._engine
        return self._client._run(
            ln.narrowcast(
                _line(self._client, account),
                contents,
                recipient=recipient,
                filter=filter,
                limit=limit,
                notification_disabled=notification_disabled,
                preflight=engine.preflight,
                retry=engine.retry,
            )
        )

    def narrowcast_progress(
        self, request_id: str, *, account: str | None = None
    ) -> NarrowcastProgress:
        """A narrowcast's phase (waiting, sending, succeeded, failed) and counts."""
        return self._client._run(
            ln.narrowcast_progress(
                _line(self._client, account),
                request_id,
                retry=self._client._engine.retry,
                preflight=self._client._engine.preflight,
            )
        )

    def validate(
        self,
        kind: ValidateKind,
        contents: Content | Sequence[Content],
        *,
        account: str | None = None,
    ) -> LineValidation:
        """Ask LINE whether these messages are valid for a ``reply``, ``push``,
        ``multicast``, ``narrowcast`` or ``broadcast`` (nothing is sent)."""
        return self._client._run(
            ln.validate(
                _line(self._client, account),
                kind,
                contents,
                retry=self._client._engine.retry,
                preflight=self._client._engine.preflight,
            )
        )

    def quota(self, *, account: str | None = None) -> LineQuota:
        """The month's message quota as LINE counts it (``limited`` and its ``value``)."""
        return self._client._run(
            ln.quota(
                _line(self._client, account),
                retry=self._client._engine.retry,
                preflight=self._client._engine.preflight,
            )
        )

    def consumption(self, *, account: str | None = None) -> int:
        """The messages LINE counted this month (``totalUsage``)."""
        return self._client._run(
            ln.consumption(
                _line(self._client, account),
                retry=self._client._engine.retry,
                preflight=self._client._engine.preflight,
            )
        )

    def profile(self, to: Address) -> LineProfile:
        """A user's display name, picture, status message and language."""
        ch, user = _line_to(self._client, to)
        return self._client._run(
            ln.profile(
                ch, user, retry=self._client._engine.retry, preflight=self._client._engine.preflight
            )
        )

    def show_loading(self, to: Address, seconds: int = 5) -> None:
        """Show the loading animation in a 1:1 chat for 5-60 seconds (multiples of 5); it
        ends early when a message arrives."""
        ch, chat = _line_to(self._client, to)
        return self._client._run(
            ln.show_loading(
                ch,
                chat,
                seconds,
                retry=self._client._engine.retry,
                preflight=self._client._engine.preflight,
            )
        )

    def mark_as_read(self, token: str, *, account: str | None = None) -> None:
        """Mark a message (and every earlier one in its chat) read, by the
        ``markAsReadToken`` of its webhook."""
        return self._client._run(
            ln.mark_as_read(
                _line(self._client, account),
                token,
                retry=self._client._engine.retry,
                preflight=self._client._engine.preflight,
            )
        )

    def content(self, message_id: str, *, account: str | None = None) -> bytes:
        """The bytes of an image, video, audio or file a user sent (``api-data`` host)."""
        return self._client._run(
            ln.content(
                _line(self._client, account),
                message_id,
                retry=self._client._engine.retry,
                preflight=self._client._engine.preflight,
            )
        )

    def content_status(self, message_id: str, *, account: str | None = None) -> str:
        """Whether a video or audio is ready: ``processing``, ``succeeded`` or ``failed``."""
        return self._client._run(
            ln.content_status(
                _line(self._client, account),
                message_id,
                retry=self._client._engine.retry,
                preflight=self._client._engine.preflight,
            )
        )

    def create_rich_menu(self, menu: Mapping[str, Any], *, account: str | None = None) -> str:
        """Create a rich menu from LINE's menu object; its ``richMenuId``."""
        return self._client._run(
            ln.create_rich_menu(
                _line(self._client, account),
                menu,
                retry=self._client._engine.retry,
                preflight=self._client._engine.preflight,
            )
        )

    def upload_rich_menu_image(
        self,
        rich_menu_id: str,
        data: bytes,
        *,
        content_type: str = "image/png",
        account: str | None = None,
    ) -> None:
        """Upload a rich menu's image (JPEG or PNG; ``api-data`` host)."""
        return self._client._run(
            ln.upload_rich_menu_image(
                _line(self._client, account),
                rich_menu_id,
                data,
                content_type,
                retry=self._client._engine.retry,
                preflight=self._client._engine.preflight,
            )
        )

    def set_default_rich_menu(self, rich_menu_id: str, *, account: str | None = None) -> None:
        """Make a rich menu the one every user sees unless linked to another."""
        return self._client._run(
            ln.set_default_rich_menu(
                _line(self._client, account),
                rich_menu_id,
                retry=self._client._engine.retry,
                preflight=self._client._engine.preflight,
            )
        )

    def link_rich_menu(self, to: Address, rich_menu_id: str) -> None:
        """Show this rich menu to one user."""
        ch, user = _line_to(self._client, to)
        return self._client._run(
            ln.link_rich_menu(
                ch,
                user,
                rich_menu_id,
                retry=self._client._engine.retry,
                preflight=self._client._engine.preflight,
            )
        )

    def unlink_rich_menu(self, to: Address) -> None:
        """Take a user's own rich menu away (the default shows again)."""
        ch, user = _line_to(self._client, to)
        return self._client._run(
            ln.unlink_rich_menu(
                ch, user, retry=self._client._engine.retry, preflight=self._client._engine.preflight
            )
        )

    def create_rich_menu_alias(
        self, alias: str, rich_menu_id: str, *, account: str | None = None
    ) -> None:
        """Name a rich menu for ``richmenuswitch`` actions (alias ``[a-z0-9_-]{1,32}``)."""
        return self._client._run(
            ln.create_rich_menu_alias(
                _line(self._client, account),
                alias,
                rich_menu_id,
                retry=self._client._engine.retry,
                preflight=self._client._engine.preflight,
            )
        )

    def delete_rich_menu(self, rich_menu_id: str, *, account: str | None = None) -> None:
        """Delete a rich menu."""
        return self._client._run(
            ln.delete_rich_menu(
                _line(self._client, account),
                rich_menu_id,
                retry=self._client._engine.retry,
                preflight=self._client._engine.preflight,
            )
        )

    def rich_menus(self, *, account: str | None = None) -> builtins.list[RichMenu]:
        """The channel's rich menus."""
        return self._client._run(
            ln.rich_menus(
                _line(self._client, account),
                retry=self._client._engine.retry,
                preflight=self._client._engine.preflight,
            )
        )

    def issue_token(
        self,
        kind: TokenKind = "stateless",
        *,
        private_key: PrivateKey | None = None,
        kid: str | None = None,
        token_exp: int | None = None,
        account: str | None = None,
    ) -> ChannelToken:
        """Issue a channel access token: ``stateless`` (15 minutes, cannot be revoked) or
        ``short_lived`` (30 days, at most 30) with the channel's id and secret; ``v2.1`` (up
        to ``token_exp`` seconds, default and most 30 days; at most 30) or ``stateless`` with
        a JWT assertion signed by ``private_key``, the channel's Assertion Signing Key (PEM
        or the JWK LINE's key tool gives), whose public half the console registered as
        ``kid``."""
        engine = self._client._engine
        return self._client._run(
            ln.issue_token(
                _line(self._client, account),
                kind,
                private_key=private_key,
                kid=kid,
                token_exp=token_exp,
                retry=engine.retry,
                preflight=engine.preflight,
            )
        )

    def verify_token(
        self, token: str, *, kind: VerifyKind = "short_lived", account: str | None = None
    ) -> TokenInfo:
        """The channel, seconds left and scope of a short- or long-lived token, or of a
        v2.1 one (``kind="v2.1"``)."""
        engine = self._client._engine
        return self._client._run(
            ln.verify_token(
                _line(self._client, account),
                token,
                kind=kind,
                retry=engine.retry,
                preflight=engine.preflight,
            )
        )

    def revoke_token(
        self, token: str, *, kind: VerifyKind = "short_lived", account: str | None = None
    ) -> None:
        """Revoke a short- or long-lived token, or a v2.1 one (``kind="v2.1"``, with the
        channel's id and secret). Stateless tokens cannot be revoked."""
        engine = self._client._engine
        return self._client._run(
            ln.revoke_token(
                _line(self._client, account),
                token,
                kind=kind,
                retry=engine.retry,
                preflight=engine.preflight,
            )
        )

    def valid_key_ids(
        self, private_key: PrivateKey, *, kid: str | None = None, account: str | None = None
    ) -> builtins.list[str]:
        """The ``key_id`` of every valid v2.1 token of the channel (asked with a JWT
        assertion signed by ``private_key``, as for :meth:`issue_token`)."""
        engine = self._client._engine
        return self._client._run(
            ln.valid_key_ids(
                _line(self._client, account),
                private_key,
                kid=kid,
                retry=engine.retry,
                preflight=engine.preflight,
            )
        )


def _wechat(client: Client, account: str | None) -> WeChat:
    """The WeChat channel (``client.wechat``: that platform's own operations)."""
    ch = client._engine.channel("wechat", account)
    if not isinstance(ch, WeChat):
        raise ConfigurationError(f"the wechat channel is not a WeChat(...): {ch!r}")
    return ch


def _wechat_to(client: Client, to: Address | str) -> tuple[WeChat, str]:
    """The WeChat channel of a customer (an ``Address`` or a bare OpenID), and the OpenID."""
    if isinstance(to, str) and to:
        return _wechat(client, None), to
    if not isinstance(to, Address) or to.platform != "wechat":
        raise ConfigurationError(f"give a WeChat customer, Address('wechat', openid): {to!r}")
    return _wechat(client, to.account), to.user


class WeChatAPI:
    """WeChat-only operations (``client.wechat``).

    A customer is an ``Address("wechat", openid)`` (or the bare OpenID when there is one
    WeChat channel). Every call carries the access token, fetched once across the workers
    sharing the Store and replaced once when WeChat refuses it; the limits of
    :mod:`omnimsg.rules.wechat` are checked before any I/O when pre-flight is on.
    """

    def __init__(self, client: Client) -> None:
        self._client = client

    def typing(self, to: Address | str, on: bool = True) -> None:
        """Show the typing indicator to a customer (``on=False`` cancels it). WeChat allows
        it within 30 s of an exchange with the customer; it lasts 15 s."""
        ch, openid = _wechat_to(self._client, to)
        return self._client._run(wx.typing(ch, openid, on, retry=self._client._engine.retry))

    def upload_media(
        self,
        kind: MediaKind,
        data: bytes,
        *,
        filename: str | None = None,
        mime_type: str | None = None,
        account: str | None = None,
    ) -> str:
        """Upload temporary media (``image``, ``voice``, ``video`` or ``thumb``; kept 3 days);
        its ``media_id``, to send as ``Image(media_id=...)`` and the like."""
        return self._client._run(
            wx.upload_media(
                _wechat(self._client, account),
                kind,
                data,
                filename=filename,
                mime_type=mime_type,
                retry=self._client._engine.retry,
            )
        )

    def send_template(
        self,
        to: Address | str,
        template_id: str,
        data: Mapping[str, Any],
        *,
        url: str | None = None,
        miniprogram: Mapping[str, Any] | None = None,
        client_msg_id: str | None = None,
    ) -> int | None:
        """Send a template message (not bound to the customer-service window); its
        ``msgid``. ``data`` maps each field to its value (``{"keyword1": "..."}`` or
        WeChat's ``{"keyword1": {"value": "..."}}``). With ``client_msg_id`` (WeChat's
        idempotency key) a retry after a failure carries the same id and is safe.

        With pre-flight on, each send counts in the account's daily template quota (the
        policy's ``template_daily_limit``, 100,000 by default; a day in Beijing time),
        atomically across the workers sharing the Store: once it is used up the send is
        refused before any request (:class:`~omnimsg.PolicyViolation`
        ``wechat.quota.template``, 45009). A ``client_msg_id`` already sent is not counted
        again (WeChat sends nothing for it)."""
        ch, openid = _wechat_to(self._client, to)
        engine = self._client._engine
        return self._client._run(
            wx.send_template(
                ch,
                openid,
                template_id,
                data,
                url=url,
                miniprogram=miniprogram,
                client_msg_id=client_msg_id,
                preflight=engine.preflight,
                retry=engine.retry,
            )
        )

    def send_subscribe(
        self,
        to: Address | str,
        template_id: str,
        data: Mapping[str, Any],
        *,
        page: str | None = None,
        miniprogram: Mapping[str, Any] | None = None,
    ) -> None:
        """Send a subscribe message; the customer must have consented to this template
        (WeChat refuses it with 43101 otherwise, a :class:`~omnimsg.PolicyRejected`). One
        consent allows one send. omnimsg cannot know a consent before sending (it may come
        from a popup this application never saw), so this is not checked before the
        request: only WeChat answers 43101."""
        ch, openid = _wechat_to(self._client, to)
        return self._client._run(
            wx.send_subscribe(
                ch,
                openid,
                template_id,
                data,
                page=page,
                miniprogram=miniprogram,
                retry=self._client._engine.retry,
            )
        )

    def clear_quota(self, *, account: str | None = None) -> None:
        """Reset the account's daily API quotas (WeChat's ``clear_quota``: at most 10 times
        a month, then 48006), and the day's template and customer-service counts omnimsg
        keeps in the Store."""
        return self._client._run(
            wx.clear_quota(_wechat(self._client, account), retry=self._client._engine.retry)
        )

    def create_tag(self, name: str, *, account: str | None = None) -> WeChatTag:
        """Create a user tag (a name of 1-30 bytes; at most 100 tags per account)."""
        engine = self._client._engine
        return self._client._run(
            wx.create_tag(
                _wechat(self._client, account), name, preflight=engine.preflight, retry=engine.retry
            )
        )

    def tags(self, *, account: str | None = None) -> builtins.list[WeChatTag]:
        """Every tag of the account, with its follower count."""
        return self._client._run(
            wx.tags(_wechat(self._client, account), retry=self._client._engine.retry)
        )

    def rename_tag(self, tag_id: int, name: str, *, account: str | None = None) -> None:
        """Rename a tag (not the system tags 0, 1 and 2)."""
        engine = self._client._engine
        return self._client._run(
            wx.rename_tag(
                _wechat(self._client, account),
                tag_id,
                name,
                preflight=engine.preflight,
                retry=engine.retry,
            )
        )

    def delete_tag(self, tag_id: int, *, account: str | None = None) -> None:
        """Delete a tag (not the system tags 0, 1 and 2)."""
        engine = self._client._engine
        return self._client._run(
            wx.delete_tag(
                _wechat(self._client, account),
                tag_id,
                preflight=engine.preflight,
                retry=engine.retry,
            )
        )

    def tag_users(self, tag_id: int, openids: Sequence[str], *, account: str | None = None) -> None:
        """Give a tag to 1-50 followers (a follower carries at most 20 tags)."""
        engine = self._client._engine
        return self._client._run(
            wx.tag_users(
                _wechat(self._client, account),
                tag_id,
                openids,
                preflight=engine.preflight,
                retry=engine.retry,
            )
        )

    def untag_users(
        self, tag_id: int, openids: Sequence[str], *, account: str | None = None
    ) -> None:
        """Take a tag from 1-50 followers."""
        engine = self._client._engine
        return self._client._run(
            wx.untag_users(
                _wechat(self._client, account),
                tag_id,
                openids,
                preflight=engine.preflight,
                retry=engine.retry,
            )
        )

    def user_tags(self, to: Address | str) -> builtins.list[int]:
        """The tag ids a follower carries."""
        ch, openid = _wechat_to(self._client, to)
        return self._client._run(wx.user_tags(ch, openid, retry=self._client._engine.retry))

    def user_info(self, to: Address | str, lang: str | None = "zh_CN") -> WeChatUser:
        """A user's follow state, follow time and scene, tags, remark and unionid (WeChat
        returns no nickname or picture since 2021-12-27); ``lang`` is zh_CN, zh_TW or en."""
        ch, openid = _wechat_to(self._client, to)
        return self._client._run(wx.user_info(ch, openid, lang, retry=self._client._engine.retry))

    def users_info(
        self,
        openids: Sequence[str],
        *,
        lang: str | None = None,
        account: str | None = None,
    ) -> builtins.list[WeChatUser]:
        """:meth:`user_info` for 1-100 users in one call."""
        engine = self._client._engine
        return self._client._run(
            wx.users_info(
                _wechat(self._client, account),
                openids,
                lang,
                preflight=engine.preflight,
                retry=engine.retry,
            )
        )

    def create_qr(
        self,
        scene: int | str,
        *,
        expire_seconds: int | None = None,
        account: str | None = None,
    ) -> QRCode:
        """A parametric QR code that starts a chat: temporary when ``expire_seconds`` is
        given (up to 30 days), permanent otherwise (scene ids 1-100000, at most 100,000
        codes). A scan arrives as a follow with the scene, or a scan event when already
        following, and opens a 1-minute window of 3 messages. Show ``image_url``."""
        engine = self._client._engine
        return self._client._run(
            wx.create_qr(
                _wechat(self._client, account),
                scene,
                expire_seconds=expire_seconds,
                preflight=engine.preflight,
                retry=engine.retry,
            )
        )

    def create_menu(self, buttons: Sequence[MenuItem], *, account: str | None = None) -> None:
        """Set the custom menu: 1-3 buttons, each a :class:`~omnimsg.Button` (a click: its id
        comes back as the event key), a :class:`~omnimsg.LinkButton` (opens the url) or
        WeChat's JSON (``{"name": ..., "sub_button": [...]}`` with 1-5 sub-buttons)."""
        engine = self._client._engine
        return self._client._run(
            wx.create_menu(
                _wechat(self._client, account),
                buttons,
                preflight=engine.preflight,
                retry=engine.retry,
            )
        )

    def menu(self, *, account: str | None = None) -> WeChatMenu | None:
        """The custom menu, or ``None`` when there is none."""
        return self._client._run(
            wx.menu(_wechat(self._client, account), retry=self._client._engine.retry)
        )

    def delete_menu(self, *, account: str | None = None) -> None:
        """Delete the custom menu (and its conditional menus)."""
        return self._client._run(
            wx.delete_menu(_wechat(self._client, account), retry=self._client._engine.retry)
        )

    def passive_reply(self, event: Event, content: Content) -> WebhookOutcome:
        """The webhook answer that replies to ``event`` within WeChat's 5 seconds (text,
        image, voice, video, music or one news article; encrypted in safe mode): answer the
        webhook request with its ``status``, ``body`` and ``content_type``."""
        account = getattr(event, "account", None)
        return self._client._run(wx.passive_reply(_wechat(self._client, account), event, content))
