"""Messenger on the platform seam: the flows of ``flows.py`` behind
:class:`~omnimsg.platforms.adapter.Adapter`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

from ..._core.effects import Flow
from ..._core.retry import RetryPolicy
from ..._inbound import Headers, WebhookConfig, WebhookOutcome
from ..._violation import Violation
from ...exceptions import ConfigurationError
from ...models.content import Content
from ...models.events import Event, MessageEcho, MessageReceived, Postback
from ...models.options import SendOptions
from ...models.refs import Address
from ...models.results import SendResult, Window
from ...stores.ops import Op
from .._meta import HubWebhooks
from ..adapter import Capability, Channel
from . import flows
from .channel import Messenger
from .fallbacks import convert

__all__ = ["ADAPTER", "MessengerAdapter", "MessengerWebhooks"]

_LOGGED = (MessageReceived, Postback, MessageEcho)  # what the badge's log needs


def _nothing() -> Flow[None]:
    yield from ()


# One finished flow, shared: most events need no more state (a hot path, DESIGN §5).
_NOTHING = _nothing()
_NOTHING.close()


class MessengerWebhooks(HubWebhooks):
    """Meta's webhook side for the configured Pages: ``hub.*`` handshake, HMAC-SHA256 hex."""

    def __init__(self, channels: Sequence[Messenger], config: WebhookConfig) -> None:
        super().__init__(channels, config)
        # The badge's log is kept only for the Pages that want it (``badge_log``).
        self._policies = {c.page_id: c.policy for c in channels if c.badge_log}
        # Who owns a thread is kept for the Pages whose app id is known (``app_id``).
        self._apps = {c.page_id: c.app_id for c in channels if c.app_id is not None}

    def read(self, url: str, headers: Headers, body: bytes) -> list[Event]:
        """Verify ``X-Hub-Signature-256`` over the raw bytes (§1.2), then parse every event."""
        self.check_size(body)
        if not self._verifiers:  # said before any header is read
            raise ConfigurationError("set app_secret= on the Messenger channel to verify webhooks")
        self.verify_signature(self.signature(headers), body)
        return flows.parse_body(body)

    def dedup_key(self, event: Event) -> str:
        """The event's de-duplication key: its ``mid``, a receipt's watermark (§2.3)."""
        return flows.dedup_key(event)

    def state_ops(self, event: Event) -> list[Op]:
        """Windows moved by the customer's messages and taps; comments for private replies;
        the thread's owner from hand-overs."""
        return flows.state_ops(event, self._apps)

    def apply_rest(self, event: Event) -> Flow[None]:
        """The badge's conversation log, from customer messages and echoes."""
        if not isinstance(event, _LOGGED):
            return _NOTHING
        policy = self._policies.get(event.account)
        return _NOTHING if policy is None else flows.apply_rest(event, policy)

    def apply_fresh(self, events: Sequence[Event]) -> Flow[None]:
        """The badge's log for a whole body's new events, in a few store round trips."""
        if not self._policies:
            return _NOTHING
        return flows.apply_fresh(events, self._policies)

    def answer(self, outcome: WebhookOutcome) -> WebhookOutcome:
        """Meta expects a bare 200 at once (§2.3): the outcome as it is."""
        return outcome


class MessengerAdapter:
    """The Messenger Platform (a Facebook Page) on the seam."""

    platform = "messenger"
    # Each unified content type: its native form (spec §3), a fallback (fallbacks.py), or
    # refused.
    capabilities: Mapping[str, Capability] = MappingProxyType(
        {
            **dict.fromkeys(
                [
                    "Text",
                    "Image",
                    "Video",
                    "Audio",
                    "Document",
                    "Sticker",
                    "QuickReplies",
                    "Cards",
                    "UrlButton",
                    "Raw",
                ],
                "native",
            ),
            # Buttons: a button template up to 3, quick replies from 4 (up to 13).
            # ListMenu: quick replies, or a generic template when rows have descriptions.
            # Location and Contacts: a text (Messenger sends neither any more).
            **dict.fromkeys(["Buttons", "ListMenu", "Location", "Contacts"], "fallback"),
            # The Send API's reaction body is UNVERIFIED (research §2, 2025-12-02); templates
            # are WhatsApp's (Messenger's own, e.g. the feedback template, go as Raw).
            **dict.fromkeys(["Reaction", "Template"], "refused"),
        }
    )

    def webhooks(self, channels: Sequence[Channel], config: WebhookConfig) -> MessengerWebhooks:
        """The inbound side for these Pages."""
        return MessengerWebhooks([c for c in channels if isinstance(c, Messenger)], config)

    def send(
        self,
        channel: Channel,
        to: Address,
        content: Content,
        *,
        now: float,
        retry: RetryPolicy,
        preflight: bool,
        options: SendOptions,
    ) -> Flow[SendResult]:
        """``POST /{page-id}/messages``, after the pre-flight."""
        return flows.send(
            page(channel),
            to,
            convert(content),
            now=now,
            retry=retry,
            preflight=preflight,
            options=options,
        )

    def check(
        self,
        channel: Channel,
        to: Address,
        content: Content,
        now: float,
        options: SendOptions,
    ) -> Flow[tuple[Violation, ...]]:
        """The pre-flight without sending."""
        return flows.check(page(channel), to.user, convert(content), now, options)

    def window(self, channel: Channel, to: Address, now: float) -> Flow[Window]:
        """The 24-hour standard window, and the tags that still allow a message."""
        return flows.window(page(channel), to, now)


def page(channel: Channel) -> Messenger:
    """``channel`` as a :class:`Messenger`, or a :class:`ConfigurationError`."""
    if not isinstance(channel, Messenger):
        raise ConfigurationError(f"not a Messenger channel: {channel!r}")
    return channel


ADAPTER = MessengerAdapter()
"""The one Messenger adapter (it holds no state: channels and secrets live in its readers)."""
