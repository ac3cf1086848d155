"""Simulated state shared by every platform: clock, ids, scheduler, outbox, delivery log."""

from __future__ import annotations

import heapq
import json
import random
import string
import sys
from collections import deque
from collections.abc import Callable
from typing import Any

import attrs

from omnimsg.clock import FakeClock, OffsetClock, SystemClock

from .config import SimConfig
from .effects import Delivery, DeliveryOutcome
from .sink import Sink

__all__ = ["DeliveryRecord", "OutboxEntry", "World"]

_ALNUM = string.ascii_letters + string.digits


@attrs.define(kw_only=True)
class OutboxEntry:
    """One message the business sent, as the simulator accepted it.

    Compact (DESIGN §5: a load keeps up to ``[sim] outbox_limit`` of them): the request body
    is kept as sent, and what can be read back from it is not stored twice. ``text`` is
    either the text itself (a rendered template) or a function of ``raw`` that gives it
    (shared by every entry: a text message's body is in ``raw`` already). Strings the
    platform and account share are shared; ``type`` is interned.
    """

    seq: int
    platform: str
    account: str
    user: str
    message_id: str
    type: str = attrs.field(converter=sys.intern)
    text: str | Callable[[bytes], str | None] | None
    timestamp: float
    # The request body as sent: bytes are a fifth of a decoded dict (100k customers, DESIGN §5).
    raw: bytes
    status: str = "accepted"
    errors: tuple[dict[str, Any], ...] = ()
    callback: str | None = None

    def describe(self) -> str | None:
        """What the message says, for people (the ``text`` of ``GET /_sim/outbox``)."""
        text = self.text
        return text(self.raw) if callable(text) else text

    def to_json(self, *, include_raw: bool = True) -> dict[str, Any]:
        """The control plane's view of this entry."""
        out: dict[str, Any] = {
            "seq": self.seq,
            "platform": self.platform,
            "account": self.account,
            "user": self.user,
            "message_id": self.message_id,
            "type": self.type,
            "text": self.describe(),
            "timestamp": self.timestamp,
            "status": self.status,
            "errors": list(self.errors),
        }
        if include_raw:
            out["raw"] = json.loads(self.raw)
        return out


@attrs.define(kw_only=True)
class DeliveryRecord:
    """The log line of one webhook attempt."""

    delivery_id: int
    platform: str
    account: str
    kind: str
    url: str
    attempt: int
    at: float
    status: int | None
    error: str | None
    body: bytes

    def to_json(self) -> dict[str, Any]:
        """The control plane's view of this record."""
        try:
            payload: Any = json.loads(self.body)
        except ValueError:
            payload = self.body.decode("utf-8", "replace")
        return {
            "delivery_id": self.delivery_id,
            "platform": self.platform,
            "account": self.account,
            "kind": self.kind,
            "url": self.url,
            "attempt": self.attempt,
            "at": self.at,
            "status": self.status,
            "error": self.error,
            "payload": payload,
        }


def _again(_now: float, delivery: Delivery) -> Delivery:
    return delivery


class World:
    """Clock, seeded ids, the scheduler and the logs; platform state hangs off it."""

    def __init__(self, config: SimConfig, *, clock: FakeClock | OffsetClock | None = None) -> None:
        self.config = config
        if clock is None:
            if config.sim.clock == "running":
                clock = OffsetClock()
            else:
                clock = FakeClock(
                    config.sim.start if config.sim.start is not None else SystemClock().time()
                )
        self.clock = clock
        self.start = clock.time()
        self.rng = random.Random(config.sim.seed)
        # The newest sent messages (oldest dropped past the limit; statuses still go out).
        self.outbox: deque[OutboxEntry] = deque(maxlen=max(0, config.sim.outbox_limit))
        self.outbox_dropped = 0
        self.deliveries: deque[DeliveryRecord] = deque(maxlen=max(1, config.sim.delivery_log_limit))
        self._queue: list[tuple[float, int, Callable[..., Delivery | None], tuple[Any, ...]]] = []
        self._seq = 0
        self.sink = Sink(config.sim.delivery_log_limit)
        # Webhook URLs set at run time (POST /_sim/webhooks/target), by (platform, account).
        self.targets: dict[tuple[str, str], str] = {}
        # The scheme and host clients last reached the simulator at: links the simulator puts
        # in webhooks (Messenger's attachment URLs) point there, as links in answers do.
        self.origin = "http://omnimsg-sim.test"

    def webhook_url(self, platform: str, account: str, configured: str | None) -> str | None:
        """Where ``account``'s webhooks go now: a run-time target, else the configured URL."""
        return self.targets.get((platform, account), configured)

    # --- ids ---

    def next_seq(self) -> int:
        """A process-unique increasing number."""
        self._seq += 1
        return self._seq

    def token(self, n: int) -> str:
        """``n`` seeded random letters and digits."""
        return "".join(self.rng.choices(_ALNUM, k=n))

    def digits(self, n: int) -> str:
        """``n`` seeded random digits (no leading zero)."""
        return str(self.rng.randint(1, 9)) + "".join(
            self.rng.choice(string.digits) for _ in range(n - 1)
        )

    # --- time ---

    def now(self) -> float:
        """The simulator's current time."""
        return self.clock.time()

    def schedule(self, due: float, build: Callable[..., Delivery | None], *args: Any) -> None:
        """Call ``build(now, *args)`` when the clock reaches ``due``; it returns the delivery."""
        heapq.heappush(self._queue, (due, self.next_seq(), build, args))

    def next_due(self) -> float | None:
        """When the earliest scheduled item falls due."""
        return self._queue[0][0] if self._queue else None

    def pop_due(self, now: float) -> Delivery | bool | None:
        """Build the next item due by ``now``: a delivery, ``None`` (nothing to send) or ``False``."""
        if not self._queue or self._queue[0][0] > now:
            return False
        _, _, build, args = heapq.heappop(self._queue)
        return build(now, *args)

    def pending(self) -> int:
        """How many scheduled items wait."""
        return len(self._queue)

    # --- the outbox ---

    def sent(self, entry: OutboxEntry) -> None:
        """Keep a sent message, dropping the oldest past ``[sim] outbox_limit``."""
        if len(self.outbox) == self.outbox.maxlen:
            self.outbox_dropped += 1
        self.outbox.append(entry)

    def outbox_stats(self) -> dict[str, int]:
        """``{size, limit, dropped}`` for ``GET /_sim/health``."""
        return {
            "size": len(self.outbox),
            "limit": self.config.sim.outbox_limit,
            "dropped": self.outbox_dropped,
        }

    # --- deliveries ---

    def record(self, delivery: Delivery, outcome: DeliveryOutcome) -> None:
        """Log one attempt."""
        self.deliveries.append(
            DeliveryRecord(
                delivery_id=delivery.id,
                platform=delivery.platform,
                account=delivery.account,
                kind=delivery.kind,
                url=delivery.url,
                attempt=delivery.attempt,
                at=self.now(),
                status=outcome.status,
                error=outcome.error,
                body=delivery.body,
            )
        )

    def retry_later(self, delivery: Delivery) -> float | None:
        """Schedule the next attempt of a failed delivery; returns when, or ``None`` (gave up)."""
        delays = delivery.retry_delays
        if delays is None:
            delays = self.config.sim.webhook_retry_delays
        if delivery.attempt > len(delays):
            return None
        due = self.now() + delays[delivery.attempt - 1]
        self.schedule(due, _again, attrs.evolve(delivery, attempt=delivery.attempt + 1))
        return due
