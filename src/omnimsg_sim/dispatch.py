"""Concurrent webhook delivery that keeps every conversation in order.

A webhook belongs to a **conversation**, its *lane* ``(platform, account, conversation)``:
the customer's ``wa_id`` for messages and statuses, the template id for template updates
(the GET handshake has none). The guarantees:

* **One delivery in flight per conversation, ever.** A lane is held while its delivery is in
  flight; a delivery that falls due meanwhile waits behind it (FIFO) and starts when the one
  ahead is done. Deliveries of one conversation therefore reach the app in the order they
  fell due: ``sent`` -> ``delivered`` -> ``read`` of a message, and one customer's messages,
  never overtake each other. Different conversations go out in parallel, up to
  ``[sim] webhook_concurrency`` at a time (1: strictly one after the other, as before).
  The limit is shared by every drain; a drain with nothing in flight may still start one
  delivery, so that no drain ever waits on another (a ``/_sim/clock/advance`` sent while the
  server flushes a backlog, or from inside the app's webhook handler): with two drains at
  once, at most ``webhook_concurrency + 1`` are in flight.
* **Time order.** Due items leave the scheduler in ``(due, scheduled)`` order, so deliveries
  *start* in time order across conversations; a batch only ever takes what is due by the
  virtual "now". ``SimCore.advance`` stops the clock at each instant something falls due and
  drains a batch there, so only deliveries due at the same virtual instant run concurrently,
  and everything due at an instant is delivered (or has failed) before the clock moves on.
  A delivery that is parked behind a lane held by *another* drain running at the same time
  (the server's background pump, say) is delivered by that drain, in lane order, possibly
  after the advance moved on (its body still says the time it fell due).
* **At-least-once, as before.** A failed attempt is logged and rescheduled on the virtual
  clock by ``World.retry_later`` exactly as a sequential delivery would be; the retry joins
  its lane again when it falls due. Duplicate-delivery faults send the same attempt twice,
  back to back, within its lane.

A :class:`Batch` is sans-I/O: it pops due deliveries lazily (a backlog is never built all at
once), answers deliveries to the built-in sink in process, and hands the rest to the driver
as :class:`Job` s (:func:`omnimsg_sim.drive.run_batch_async` keeps up to ``concurrency`` of
them in flight; the blocking driver performs them one by one). The lanes live in the core
(:class:`Lanes`), shared by every batch and by direct deliveries (``/_sim/inbound``,
template updates), which hold their lane while in flight too: a direct delivery never waits
(when its lane is already held, it goes out at once all the same: the request asked for it),
and what falls due behind it is *orphaned* when it is done and adopted by the next batch.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any, Final

import attrs

from .effects import Delivery, DeliveryOutcome, outcome_json
from .sink import is_sink

if TYPE_CHECKING:
    from .core import SimCore
    from .world import World

__all__ = ["AGAIN", "Batch", "Job", "LaneKey", "Lanes", "delivery_result", "settle"]

LaneKey = tuple[str, str, str]

_INLINE_BURST = 256  # sink deliveries answered in one take() before the driver may yield


class _Again:
    def __repr__(self) -> str:
        return "AGAIN"


AGAIN: Final = _Again()
"""``Batch.take()``'s answer when it did work in process: let the loop breathe, then ask again."""


class Lanes:
    """Which conversations have a delivery in flight, and what waits behind each one."""

    def __init__(self) -> None:
        # Present = held; the deque holds what waits behind the delivery in flight.
        self.busy: dict[LaneKey, deque[Delivery]] = {}
        # Lanes whose holder finished with deliveries still waiting, for the next batch.
        self.orphans: deque[LaneKey] = deque()
        self.in_flight = 0  # jobs of every batch handed to drivers and not finished

    def acquire(self, key: LaneKey) -> bool:
        """Hold ``key``'s lane if it is free."""
        if key in self.busy:
            return False
        self.busy[key] = deque()
        return True

    def park(self, key: LaneKey, delivery: Delivery) -> None:
        """Queue ``delivery`` behind the one in flight on its (held) lane."""
        self.busy[key].append(delivery)

    def release(self, key: LaneKey) -> Delivery | None:
        """The holder is done: the next delivery waiting (the lane stays held), or ``None``."""
        waiting = self.busy.get(key)
        if waiting:
            return waiting.popleft()
        self.busy.pop(key, None)
        return None

    def orphan(self, key: LaneKey, delivery: Delivery) -> None:
        """Give a held lane, ``delivery`` at its head, to whichever batch runs next."""
        self.busy.setdefault(key, deque()).appendleft(delivery)
        self.orphans.append(key)

    def adopt(self) -> Delivery | None:
        """Take over an orphaned lane: its head delivery (the lane is now held by the caller)."""
        while self.orphans:
            waiting = self.busy.get(self.orphans.popleft())
            if waiting:
                return waiting.popleft()
        return None


@attrs.define(eq=False, kw_only=True)
class Job:
    """One delivery handed to a driver: post it ``times`` times (2: a duplicate fault)."""

    delivery: Delivery
    times: int = 1
    index: int = -1  # its place in the batch's results, when they are collected


def settle(world: World, delivery: Delivery, outcomes: list[DeliveryOutcome]) -> float | None:
    """Log the attempts of one delivery; reschedule it if the first failed (when, or None)."""
    for outcome in outcomes:
        world.record(delivery, outcome)
    if not outcomes[0].ok and delivery.kind != "handshake":
        return world.retry_later(delivery)
    return None


def delivery_result(
    delivery: Delivery, outcome: DeliveryOutcome, retry_at: float | None
) -> dict[str, Any]:
    """The control plane's view of one delivery attempt."""
    return {
        "delivery_id": delivery.id,
        "kind": delivery.kind,
        "attempt": delivery.attempt,
        "retry_at": retry_at,
        **outcome_json(outcome),
    }


class Batch:
    """One drain of the scheduler: everything due by the virtual "now", lanes respected.

    The driver loops ``take()`` -> perform -> ``finish()`` until ``take()`` returns ``None``
    with nothing in flight, and calls ``close()`` at the end (also on error or cancellation:
    lanes still held are orphaned, so a later batch goes on with them).
    """

    def __init__(self, core: SimCore, *, collect: bool = True) -> None:
        self._core = core
        self._world = core.world
        self._lanes = core.lanes
        self.concurrency = max(1, core.config.sim.webhook_concurrency)
        self._ready: deque[Delivery] = deque()  # heads of lanes this batch holds
        self._running: set[Job] = set()
        self._results: list[dict[str, Any] | None] | None = [] if collect else None
        self._closed = False

    @property
    def in_flight(self) -> int:
        """This batch's jobs handed out and not finished."""
        return len(self._running)

    def _full(self) -> bool:
        # All batches share the limit; a batch with nothing in flight may always start one,
        # so that a drain never waits on another (the one an app's handler is inside of).
        return bool(self._running) and self._lanes.in_flight >= self.concurrency

    def _next(self) -> Delivery | None:
        """The next delivery this batch may start (its lane, if any, now held), or ``None``."""
        if self._ready:
            return self._ready.popleft()
        adopted = self._lanes.adopt()
        if adopted is not None:
            return adopted
        world = self._world
        while True:
            item = world.pop_due(world.now())
            if item is False:
                return None
            if not isinstance(item, Delivery):
                continue  # built nothing to send (no webhook URL)
            key = item.lane
            if key is not None and not self._lanes.acquire(key):
                self._lanes.park(key, item)  # behind the one in flight
                continue
            return item

    def take(self) -> Job | _Again | None:
        """The next job for the driver; ``AGAIN`` after work done in process; ``None``: none now.

        ``None`` with jobs still in flight means "nothing to start until one finishes" (the
        limit is reached, or what is due waits behind those in flight).
        """
        inline = 0
        while not self._closed and self._core.world is self._world:  # a reset ends the batch
            if self._full():
                return None
            delivery = self._next()
            if delivery is None:
                return None
            faults, fault = self._core.faults, None
            if faults.rules:  # a load sets none: no look-up (and no string built) per webhook
                fault = faults.take(
                    delivery.platform, f"{delivery.platform}.webhook", delivery.account, None
                )
            job = Job(delivery=delivery, times=2 if fault and fault.action == "duplicate" else 1)
            if self._results is not None:
                job.index = len(self._results)
                self._results.append(None)
            self._running.add(job)
            self._lanes.in_flight += 1
            if is_sink(delivery.url):  # answered in process, no HTTP
                sink, now = self._world.sink, self._world.now()
                self.finish(job, [sink.receive(delivery, now) for _ in range(job.times)])
                inline += 1
                if inline >= _INLINE_BURST:
                    return AGAIN
                continue
            return job
        return None

    def finish(self, job: Job, outcomes: list[DeliveryOutcome]) -> None:
        """A job is done: log it, retry it later if it failed, start its lane's next one."""
        if job not in self._running:
            return  # closed meanwhile
        self._running.discard(job)
        self._lanes.in_flight -= 1
        delivery = job.delivery
        retry_at = self._core.settle(delivery, outcomes)  # its platform reads the answers too
        if self._results is not None:
            self._results[job.index] = delivery_result(delivery, outcomes[0], retry_at)
        key = delivery.lane
        if key is not None:
            following = self._lanes.release(key)
            if following is not None:
                self._ready.append(following)

    def close(self) -> None:
        """Stop: hand the lanes this batch still holds to the next batch."""
        if self._closed:
            return
        self._closed = True
        while self._ready:
            delivery = self._ready.popleft()
            key = delivery.lane
            assert key is not None  # only lane heads are ever ready
            self._lanes.orphan(key, delivery)
        for job in self._running:  # abandoned in flight (an error, a cancellation)
            self._lanes.in_flight -= 1
            key = job.delivery.lane
            if key is not None:
                following = self._lanes.release(key)
                if following is not None:
                    self._lanes.orphan(key, following)
        self._running.clear()

    def results(self) -> list[dict[str, Any]]:
        """What was delivered, in the order the deliveries started."""
        return [r for r in self._results or () if r is not None]
