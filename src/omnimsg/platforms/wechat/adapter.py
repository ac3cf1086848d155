"""WeChat on the platform seam: the flows of ``flows.py`` behind
:class:`~omnimsg.platforms.adapter.Adapter`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..._core.effects import Flow
from ..._core.retry import RetryPolicy
from ..._inbound import WebhookConfig
from ..._violation import Violation
from ...exceptions import ConfigurationError
from ...models.content import Content
from ...models.options import SendOptions
from ...models.refs import Address
from ...models.results import SendResult, Window
from ..adapter import Capability, Channel
from . import flows
from .channel import WeChat
from .fallbacks import CAPABILITIES
from .webhooks import WeChatWebhooks

__all__ = ["ADAPTER", "WeChatAdapter", "wechat"]


class WeChatAdapter:
    """The WeChat Official Account (a Service Account) on the seam."""

    platform = "wechat"
    # Each unified content type: native (messages.py), a fallback (fallbacks.py), or refused.
    capabilities: Mapping[str, Capability] = CAPABILITIES

    def webhooks(self, channels: Sequence[Channel], config: WebhookConfig) -> WeChatWebhooks:
        """The inbound side for these channels (signature, safe mode, XML, §1-§3)."""
        return WeChatWebhooks([c for c in channels if isinstance(c, WeChat)], config)

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
        """A customer-service message within the window (``flows.send``)."""
        return flows.send(
            wechat(channel),
            to,
            content,
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
        return flows.check(wechat(channel), to, content, now, options)

    def window(self, channel: Channel, to: Address, now: float) -> Flow[Window]:
        """The customer-service window (48 h / 5 messages, or 1 min / 3 after an event)."""
        return flows.window(wechat(channel), to, now)


def wechat(channel: Channel) -> WeChat:
    """``channel`` as a :class:`WeChat`, or a :class:`ConfigurationError`."""
    if not isinstance(channel, WeChat):
        raise ConfigurationError(f"not a WeChat channel: {channel!r}")
    return channel


ADAPTER = WeChatAdapter()
"""The one WeChat adapter (it holds no state: channels and secrets live in its readers)."""
