"""Store operations as values, so that a webhook body's traffic goes to the store in one batch.

``store.batch([Add(...), SetMax(...), ...])`` runs the operations in order as one unit (one
SQLite transaction, one lock for the memory store, one pipeline for Redis) and returns their
results in order. A store without ``batch`` still works: :func:`run_each` runs the operations
one call at a time (then the two compound ones are not atomic).
"""

from __future__ import annotations

import math
from collections.abc import Generator, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias

import attrs

from .._fast import fast_constructor

if TYPE_CHECKING:
    from . import AsyncStore, Store

__all__ = [
    "Add",
    "Delete",
    "DeleteIf",
    "Get",
    "Incr",
    "Op",
    "Set",
    "SetMax",
    "arun_each",
    "run_each",
]


@attrs.frozen(slots=True)
class Get:
    """Read a key (result: its value or ``None``)."""

    key: str


@attrs.frozen(slots=True)
class Set:
    """Write a key (result: ``None``)."""

    key: str
    value: bytes
    ttl: float | None = None


@attrs.frozen(slots=True)
class Add:
    """Write a key only if it is absent or expired (result: ``True`` if written)."""

    key: str
    value: bytes
    ttl: float | None = None


@attrs.frozen(slots=True)
class Delete:
    """Remove a key (result: ``None``)."""

    key: str


@attrs.frozen(slots=True)
class Incr:
    """Add to an integer counter, created at 0 with ``ttl`` (result: the new value)."""

    key: str
    amount: int = 1
    ttl: float | None = None


@attrs.frozen(slots=True)
class DeleteIf:
    """Remove a key only while it still holds ``value`` (result: ``True`` if removed).

    Releases a claim without touching one that another worker made after ours expired.
    """

    key: str
    value: bytes


@attrs.frozen(slots=True)
class SetMax:
    """Store the number ``value`` unless the key holds a larger one (result: ``True`` if written).

    Keeps the newest time of a conversation when webhooks arrive out of order. A stored value
    that is not a finite number, or is above ``ceiling``, counts as absent (so a bad value
    kept by an older version never blocks the newest time).
    """

    key: str
    value: float
    ttl: float | None = None
    ceiling: float | None = None

    def replaces(self, stored: bytes | None) -> bool:
        """Whether this value goes in over what the key holds now."""
        current = number(stored)
        if current is None or (self.ceiling is not None and current > self.ceiling):
            return True
        return self.value > current


Op: TypeAlias = Get | Set | Add | Delete | Incr | DeleteIf | SetMax

# Hot-path constructors (same frozen instances, see omnimsg/_fast.py): a webhook body makes
# a few operations per event. Every argument is given.
new_add = fast_constructor(Add)
new_get = fast_constructor(Get)
new_set = fast_constructor(Set)
new_set_max = fast_constructor(SetMax)


def number(raw: bytes | None) -> float | None:
    """The number a :class:`SetMax` stored (``None`` if absent or not a number)."""
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) else None  # a stored NaN or inf counts as absent


def _plan(op: Op) -> Generator[tuple[str, tuple[Any, ...]], Any, Any]:
    """One operation as plain verb calls (yields ``(verb, args)``, receives each result)."""
    if isinstance(op, Get):
        return (yield ("get", (op.key,)))
    if isinstance(op, Set):
        return (yield ("set", (op.key, op.value, op.ttl)))
    if isinstance(op, Add):
        return (yield ("add", (op.key, op.value, op.ttl)))
    if isinstance(op, Delete):
        return (yield ("delete", (op.key,)))
    if isinstance(op, Incr):
        return (yield ("incr", (op.key, op.amount, op.ttl)))
    if isinstance(op, DeleteIf):
        held = (yield ("get", (op.key,))) == op.value
        if held:
            yield ("delete", (op.key,))
        return held
    wrote = op.replaces((yield ("get", (op.key,))))
    if wrote:
        yield ("set", (op.key, repr(op.value).encode(), op.ttl))
    return wrote


def run_each(store: Store, ops: Sequence[Op]) -> list[Any]:
    """Run ``ops`` with the plain verbs, one call each (for stores without ``batch``)."""
    results: list[Any] = []
    for op in ops:
        plan, value = _plan(op), None
        try:
            while True:
                verb, args = plan.send(value)
                value = getattr(store, verb)(*args)
        except StopIteration as done:
            results.append(done.value)
    return results


async def arun_each(store: AsyncStore, ops: Sequence[Op]) -> list[Any]:
    """:func:`run_each` for an async store."""
    results: list[Any] = []
    for op in ops:
        plan, value = _plan(op), None
        try:
            while True:
                verb, args = plan.send(value)
                value = await getattr(store, verb)(*args)
        except StopIteration as done:
            results.append(done.value)
    return results
