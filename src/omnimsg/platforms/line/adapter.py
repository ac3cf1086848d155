"""LINE on the platform seam: the flows of ``flows.py`` behind
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
from .channel import Line
from .fallbacks import CAPABILITIES, convert
from .webhooks import LineWebhooks

__all__ = ["ADAPTER", "LineAdapter", "line"]


class LineAdapter:
    """The LINE Messaging API (a LINE Official Account) on the seam."""

    platform = "line"
    # Each unified content type: native (messages.py), a fallback (fallbacks.py), or refused.
    capabilities: Mapping[str, Capability] = CAPABILITIES

    def webhooks(self, channels: Sequence[Channel], config: WebhookConfig) -> LineWebhooks:
        """The inbound side for these channels (``x-line-signature``, §1)."""
        return LineWebhooks([c for c in channels if isinstance(c, Line)], config)

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
        """A reply while the chat's reply token is valid, else a push (``flows.send``)."""
        return flows.send(
            line(channel),
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
        return flows.check(line(channel), to, convert(content), now, options)

    def window(self, channel: Channel, to: Address, now: float) -> Flow[Window]:
        """LINE has no window: open but for a user who blocked the account."""
        return flows.window(line(channel), to, now)


def line(channel: Channel) -> Line:
    """``channel`` as a :class:`Line`, or a :class:`ConfigurationError`."""
    if not isinstance(channel, Line):
        raise ConfigurationError(f"not a LINE channel: {channel!r}")
    return channel


ADAPTER = LineAdapter()
"""The one LINE adapter (it holds no state: channels and secrets live in its readers)."""
