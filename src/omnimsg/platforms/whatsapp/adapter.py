"""WhatsApp on the platform seam: the flows of ``flows.py`` behind :class:`~omnimsg.platforms.adapter.Adapter`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

from ..._core.effects import Flow
from ..._core.retry import RetryPolicy
from ..._inbound import Headers, WebhookConfig, WebhookOutcome
from ..._violation import Violation
from ...exceptions import ConfigurationError
from ...models.content import Content
from ...models.events import Event, TemplateStatusChanged
from ...models.options import SendOptions
from ...models.refs import Address
from ...models.results import SendResult, Window
from ...stores.ops import Op
from .._meta import HubWebhooks
from ..adapter import Capability, Channel
from . import flows
from .channel import WhatsApp
from .fallbacks import convert

__all__ = ["ADAPTER", "WhatsAppAdapter", "WhatsAppWebhooks"]


def _nothing() -> Flow[None]:
    yield from ()


# One finished flow, shared: ``yield from`` a finished generator returns ``None`` at once,
# so the events that need no more state cost no new generator each (DESIGN §5).
_NOTHING = _nothing()
_NOTHING.close()


class WhatsAppWebhooks(HubWebhooks):
    """Meta's webhook side for the configured numbers: ``hub.*`` handshake, HMAC-SHA256 hex."""

    def verify(self, headers: Headers, body: bytes) -> None:
        """Raise :class:`SignatureError` unless one channel's app secret signed ``body``."""
        self.verify_signature(self.signature(headers), body)

    def read(self, url: str, headers: Headers, body: bytes) -> list[Event]:
        """Verify ``X-Hub-Signature-256`` over the raw bytes, then parse every event."""
        self.check_size(body)
        self.verify_signature(self.signature(headers), body)
        return flows.parse_body(body)

    def dedup_key(self, event: Event) -> str:
        """The event's de-duplication key (§1.3)."""
        return flows.dedup_key(event)

    def state_ops(self, event: Event) -> list[Op]:
        """Windows moved by a customer's message, as ``SetMax`` ops."""
        return flows.state_ops(event)

    def apply_rest(self, event: Event) -> Flow[None]:
        """The template cache, from template status webhooks."""
        if not isinstance(event, TemplateStatusChanged):
            return _NOTHING  # nearly every event needs no more state (a hot path)
        return flows.apply_rest(event)

    def answer(self, outcome: WebhookOutcome) -> WebhookOutcome:
        """Meta expects a bare 200: the outcome as it is."""
        return outcome


class WhatsAppAdapter:
    """The WhatsApp Business Platform (Cloud API) on the seam."""

    platform = "whatsapp"
    # Each unified content type: its native form (spec §4.2), a fallback, or refused.
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
                    "Location",
                    "Contacts",
                    "Reaction",
                    "Buttons",
                    "ListMenu",
                    "UrlButton",
                    "Template",
                    "Raw",
                ],
                "native",
            ),
            # fallbacks.convert: reply buttons up to three, else a one-section list.
            "QuickReplies": "fallback",
            # No carousel outside approved media-card templates: send a Template instead.
            "Cards": "refused",
        }
    )

    def webhooks(self, channels: Sequence[Channel], config: WebhookConfig) -> WhatsAppWebhooks:
        """The inbound side for these numbers."""
        return WhatsAppWebhooks([c for c in channels if isinstance(c, WhatsApp)], config)

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
        """``POST /{phone-number-id}/messages``, after the pre-flight."""
        return flows.send(
            _number(channel),
            to,
            convert(content),
            now=now,
            retry=retry,
            preflight=preflight,
            reply_to=_untagged(options).reply_to,
            callback_data=options.callback_data,
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
        _untagged(options)
        return flows.check(_number(channel), to.user, convert(content), now)

    def window(self, channel: Channel, to: Address, now: float) -> Flow[Window]:
        """The 24-hour customer-service window."""
        return flows.window(_number(channel), to, now)


def _untagged(options: SendOptions) -> SendOptions:
    """WhatsApp has no message tags: outside the window it sends templates (spec §5.1)."""
    if options.tag is not None:
        raise ConfigurationError(
            f"WhatsApp has no message tags (tag={options.tag!r}); outside the 24 h window, "
            "send an approved Template"
        )
    return options


def _number(channel: Channel) -> WhatsApp:
    if not isinstance(channel, WhatsApp):
        raise ConfigurationError(f"not a WhatsApp channel: {channel!r}")
    return channel


ADAPTER = WhatsAppAdapter()
"""The one WhatsApp adapter (it holds no state: channels and secrets live in its readers)."""
