"""The platform seam: what one platform provides so that the rest of omnimsg never asks which.

A platform is one :class:`Adapter` (registered in :data:`omnimsg.platforms.BUILTIN`, or
given to a client as ``Client(..., adapters=[...])``). The engine and the webhook receiver
dispatch on a channel's ``platform`` through it; nothing outside the adapters says
``if platform == ...``.

Every method returns values or sans-I/O flows (generators of effects: HTTP requests, store
operations, clock reads), so each adapter serves the sync and the async client alike. What the
four platforms need beyond WhatsApp's shape is carried here already:

* the webhook answer may carry a reply (WeChat's passive reply, XML, encrypted in safe mode):
  :meth:`WebhookReader.answer`;
* bodies may be JSON or XML, signed in a header or in the query string: the reader gets the
  URL, the headers and the raw bytes;
* credentials that must be fetched and refreshed (WeChat's access_token) live in the Store
  and are refreshed once across workers: ``omnimsg._core.credentials.credential`` (``Add`` as
  the lock, the others wait through the clock) and ``forget`` when the platform refuses one;
* single-use reply tokens (LINE) and followers are state an event implies:
  :meth:`WebhookReader.state_ops`, read back by the adapter's send flow.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal, Protocol, TypeAlias, runtime_checkable

from .._core.effects import Flow
from .._core.retry import RetryPolicy
from .._inbound import Headers, WebhookConfig, WebhookOutcome
from .._violation import Violation
from ..models.content import Content
from ..models.events import Event
from ..models.options import SendOptions
from ..models.refs import Address
from ..models.results import SendResult, Window
from ..stores.ops import Op

__all__ = ["Adapter", "AppliesBodies", "Capability", "Channel", "WebhookReader"]

Capability: TypeAlias = Literal["native", "fallback", "refused"]
"""How a platform shows a unified content type: as itself, by a declared fallback, or not."""


@runtime_checkable
class Channel(Protocol):
    """A configured platform account: ``WhatsApp(...)``, and each platform's own class."""

    @property
    def platform(self) -> str:
        """The platform's name, e.g. ``"whatsapp"``."""
        ...

    @property
    def account(self) -> str:
        """This account's id on the platform (the phone-number id, the channel id...)."""
        ...


class WebhookReader(Protocol):
    """One platform's inbound side, prepared once for the configured channels."""

    def handshake(self, method: str, url: str) -> WebhookOutcome | None:
        """The answer to a verification request, or ``None`` when this is not one."""
        ...

    def read(self, url: str, headers: Headers, body: bytes) -> list[Event]:
        """Verify a delivery over its raw bytes and parse every event in it.

        Raises:
            SignatureError: the signature is missing or wrong.
            WebhookParseError: the body is not the platform's envelope (or too large).
        """
        ...

    def signature_missing(self, url: str, headers: Headers) -> bool:
        """Whether the request carries no signature at all (401, rather than 403)."""
        ...

    def dedup_key(self, event: Event) -> str:
        """The store key that tells a redelivery of ``event`` from a new event."""
        ...

    def state_ops(self, event: Event) -> list[Op]:
        """The state ``event`` implies (windows, followers, reply tokens), as idempotent ops."""
        ...

    def apply_rest(self, event: Event) -> Flow[None]:
        """State that needs reading first (a cache to update); nothing for most events."""
        ...

    def answer(self, outcome: WebhookOutcome) -> WebhookOutcome:
        """The HTTP answer for a handled delivery (a passive reply goes in here)."""
        ...


@runtime_checkable
class AppliesBodies(Protocol):
    """A reader whose read-first state is cheaper per body than per event (optional).

    When a reader has ``apply_fresh``, the receiver calls it once with all the new events of
    a delivery instead of :meth:`WebhookReader.apply_rest` for each, so that the state is
    read and written in a few store round trips per body, not per event (DESIGN §2:
    Messenger's badge log reads every customer's open conversation).
    """

    def apply_fresh(self, events: Sequence[Event]) -> Flow[None]:
        """The read-first state of these new events, in their order."""
        ...


class Adapter(Protocol):
    """Everything omnimsg needs to know about one platform."""

    platform: str
    capabilities: Mapping[str, Capability]
    """Each unified content type by class name: ``native``, ``fallback`` or ``refused``."""

    def webhooks(self, channels: Sequence[Channel], config: WebhookConfig) -> WebhookReader:
        """The inbound side for these channels (secrets keyed once)."""
        ...

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
        """Send ``content``: the platform's rules first (when ``preflight``), then the request.

        ``content`` is a type the capability table names ``native`` or ``fallback`` (the
        engine refuses the rest); a fallback is the adapter's to convert.
        """
        ...

    def check(
        self,
        channel: Channel,
        to: Address,
        content: Content,
        now: float,
        options: SendOptions,
    ) -> Flow[tuple[Violation, ...]]:
        """The rules ``content`` would break if sent to ``to`` now, with these options."""
        ...

    def window(self, channel: Channel, to: Address, now: float) -> Flow[Window]:
        """The messaging window with ``to``."""
        ...
