"""Handled means handled: webhook events are claimed with a lease, and done only when the app
says so.

Platforms deliver webhooks at least once. ``webhooks.handle`` marks each event seen as soon
as it is parsed (at most once: if the app then fails, the redelivery is dropped).
``webhooks.receive`` instead *claims* each new event in the store, for ``lease`` seconds:

* the app confirms (``ack``, or leaving the ``with`` block normally): the event is done, and
  every later delivery of it is a duplicate for ``dedup_ttl``;
* the app fails (``release``, or an exception out of the ``with`` block): the claim is dropped,
  so the platform's redelivery is handed over again;
* the app dies without a word: the claim expires after ``lease`` seconds, and the next
  redelivery is handed over again.

A delivery that finds an event claimed by another worker (still within its lease) is
answered ``503``, so that the platform comes back once that worker has finished or failed.

Each step is one store round trip for the whole body (``store.batch``).
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from .models.events import Event
from .stores.ops import DeleteIf, Op, new_add, new_get, new_set

__all__ = ["DONE", "Claim", "claim_ops", "new_token", "read_claims", "settle_ops"]

DONE = b"1"
"""The value of a handled event's key (``webhooks.handle`` writes the same)."""

_CLAIM = b"claim:"


@attrs.frozen(kw_only=True)
class Claim:
    """What one ``receive`` holds: the claimed events and the keys that stand for them.

    Attributes:
        events: the events this delivery claimed, in body order.
        keys: their de-duplication keys, in the same order.
        token: this claim's value in the store (``claim:<random>``).
        duplicates: events already handled.
        busy: events claimed by another delivery that is still within its lease.
    """

    events: tuple[Event, ...] = ()
    keys: tuple[str, ...] = ()
    token: bytes = b""
    duplicates: int = 0
    busy: int = 0


def claim_ops(keys: Sequence[str], token: bytes, lease: float) -> list[Op]:
    """Claim every key for ``lease`` seconds and read back who holds it (two ops per key)."""
    ops: list[Op] = []
    for key in keys:  # the fast constructors: this runs for every event of a delivery
        ops.append(new_add(key=key, value=token, ttl=lease))
        ops.append(new_get(key=key))
    return ops


def read_claims(
    events: Sequence[Event], keys: Sequence[str], token: bytes, results: Sequence[object]
) -> Claim:
    """Sort the events by what the store answered to :func:`claim_ops`."""
    mine: list[Event] = []
    mine_keys: list[str] = []
    duplicates = busy = 0
    for i, (event, key) in enumerate(zip(events, keys, strict=True)):
        won, holder = results[2 * i], results[2 * i + 1]
        if won or holder == token:
            mine.append(event)
            mine_keys.append(key)
        elif isinstance(holder, bytes) and holder.startswith(_CLAIM):
            busy += 1
        else:
            duplicates += 1  # handled (or expired between the two ops: handled then)
    return Claim(
        events=tuple(mine), keys=tuple(mine_keys), token=token, duplicates=duplicates, busy=busy
    )


def new_token(random_hex: str) -> bytes:
    """The store value of a claim."""
    return _CLAIM + random_hex.encode()


def settle_ops(keys: Sequence[str], token: bytes, *, handled: bool, ttl: float) -> list[Op]:
    """Mark ``keys`` done (kept ``ttl`` seconds), or release the ones this claim still holds."""
    if handled:
        return [new_set(key=key, value=DONE, ttl=ttl) for key in keys]
    return [DeleteIf(key, token) for key in keys]
