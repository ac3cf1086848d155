"""What the simulator's sans-I/O core asks its drivers to do."""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

import attrs

if TYPE_CHECKING:
    from .dispatch import Batch

T = TypeVar("T")

TIME_HEADER = "x-omnimsg-sim-time"
"""Every simulator answer carries its virtual time (Unix seconds), for apps in other processes."""


@attrs.frozen(kw_only=True)
class Delivery:
    """One webhook request to the app under test."""

    id: int
    platform: str
    account: str
    kind: str
    url: str
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()
    method: str = "POST"
    attempt: int = 1
    # Whose conversation this is (a customer's wa_id, a template id; None for the handshake):
    # deliveries of one conversation never overtake each other (omnimsg_sim.dispatch).
    conversation: str | None = None
    # A verification request's expected answer (Meta's hub.challenge, WeChat's echostr): what
    # a receiver that passes the handshake answers (the sink answers it).
    echo: bytes | None = None
    # The platform's own retry schedule for a failed attempt (seconds after each failure);
    # ``None``: ``[sim] webhook_retry_delays``, Meta's back-off. WeChat sends again at once,
    # about three times in all (spec/wechat.md §3.4).
    retry_delays: tuple[float, ...] | None = None

    @property
    def lane(self) -> tuple[str, str, str] | None:
        """The ordering key ``(platform, account, conversation)``, or ``None`` (unordered)."""
        if self.conversation is None:
            return None
        return (self.platform, self.account, self.conversation)


@attrs.frozen(kw_only=True)
class DeliveryOutcome:
    """What the app answered (``status`` is ``None`` when it did not answer)."""

    status: int | None
    body: bytes = b""
    error: str | None = None

    @property
    def ok(self) -> bool:
        """A 2xx answer."""
        return self.status is not None and 200 <= self.status < 300


@attrs.frozen
class Deliver:
    """Effect: perform a delivery (result: :class:`DeliveryOutcome`)."""

    delivery: Delivery


@attrs.frozen
class DeliverBatch:
    """Effect: drain a :class:`~omnimsg_sim.dispatch.Batch` (result: ``None``).

    The driver calls ``batch.take()`` for the next delivery to perform and
    ``batch.finish(job, outcomes)`` when it is done, with up to ``batch.concurrency`` jobs in
    flight (a blocking driver performs them one at a time).
    """

    batch: Batch


@attrs.frozen
class Pause:
    """Effect: wait real seconds (injected latency)."""

    seconds: float


SimFlow: TypeAlias = Generator[Deliver | DeliverBatch | Pause, Any, T]


@attrs.frozen(kw_only=True)
class SimRequest:
    """An HTTP request to the simulator (headers lower-cased)."""

    method: str
    path: str
    query: dict[str, list[str]] = attrs.field(factory=dict)
    headers: dict[str, str] = attrs.field(factory=dict)
    body: bytes = b""
    base_url: str = "http://127.0.0.1"

    def arg(self, name: str) -> str | None:
        """The first value of a query parameter."""
        values = self.query.get(name)
        return values[0] if values else None


@attrs.frozen(kw_only=True)
class SimResponse:
    """An HTTP answer from the simulator."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()


def outcome_json(outcome: DeliveryOutcome) -> dict[str, Any]:
    """A delivery outcome for control-plane answers (the body cut at 2,000 characters)."""
    return {
        "status": outcome.status,
        "ok": outcome.ok,
        "error": outcome.error,
        "body": outcome.body.decode("utf-8", "replace")[:2000],
    }
