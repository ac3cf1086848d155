"""``batch`` for both built-in stores: one evaluation of the operations, whatever the backend.

Both stores keep rows of ``key -> (value, expires)``: the memory store in its dict, the
SQLite store in a table. :func:`run_ops` runs a batch on such rows in Python, in order, so
that what each operation means is written once:

* :class:`~omnimsg.MemoryStore` hands over its own dict, under its lock;
* :class:`~omnimsg.SQLiteStore` reads the batch's rows in one ``SELECT`` inside its
  transaction (which holds the write lock, so nothing changes them meanwhile), runs the
  batch on that copy, then writes back the rows it changed with one multi-row upsert (and
  deletes the rows it dropped).

A webhook body is one batch of a few operations per event, so this loop is a hot path
(DESIGN §5): it dispatches on the exact class and works on plain tuples.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeAlias

from ..exceptions import StoreError
from .ops import Add, Delete, DeleteIf, Get, Incr, Op, Set, SetMax

__all__ = ["Row", "run_ops"]

Row: TypeAlias = tuple[bytes, float | None]
"""A stored value and its expiry time (``None``: never expires)."""

_KINDS: dict[type[Any], int] = {Add: 0, SetMax: 1, Get: 2, Set: 3, DeleteIf: 4, Delete: 5, Incr: 6}


def _kind(op: Op) -> int:
    """The dispatch number of ``op``, for a subclass of an operation class too."""
    for cls, number in _KINDS.items():
        if isinstance(op, cls):
            return number
    raise TypeError(f"not a store operation: {op!r}")


def run_ops(
    rows: dict[str, Row], ops: Sequence[Op], now: float, expiring: list[tuple[float, str]]
) -> list[Any]:
    """Run ``ops`` in order on ``rows`` at time ``now``; their results, in order.

    A row whose expiry is ``now`` or earlier counts as absent, and is dropped from ``rows``
    when an operation reaches it. ``(expires, key)`` of every row written with a TTL is
    appended to ``expiring``, for a backend that indexes expiry times.

    Raises:
        StoreError: an ``Incr`` found a value that is not an integer counter; the operations
            before it have already changed ``rows`` (the SQLite store rolls back).
    """
    results: list[Any] = []
    append = results.append
    expire = expiring.append
    get = rows.get
    kinds = _KINDS
    last_number: float | None = None
    last_stored = b""
    for op in ops:
        kind = kinds.get(type(op))
        if kind is None:
            kind = _kind(op)
        key = op.key
        row = get(key)
        if row is not None and row[1] is not None and row[1] <= now:
            del rows[key]  # expired: absent (and the memory store frees it here)
            row = None
        # Each branch names ``op`` by its class (the dispatch above made sure of it).
        value: bytes
        ttl: float | None
        if kind == 0:  # Add: only over an absent or expired key
            if row is not None:
                append(False)
                continue
            add: Add = op  # type: ignore[assignment]
            value, ttl = add.value, add.ttl
            append(True)
        elif kind == 1:  # SetMax: keeps the largest number
            set_max: SetMax = op  # type: ignore[assignment]
            if row is not None and not set_max.replaces(row[0]):
                append(False)
                continue
            number = set_max.value
            if number is not last_number:  # an event's ops share its time: one repr
                last_number, last_stored = number, repr(number).encode()
            value, ttl = last_stored, set_max.ttl
            append(True)
        elif kind == 2:  # Get
            append(None if row is None else row[0])
            continue
        elif kind == 3:  # Set
            put: Set = op  # type: ignore[assignment]
            value, ttl = put.value, put.ttl
            append(None)
        elif kind == 4:  # DeleteIf: only while the key still holds the value
            delete_if: DeleteIf = op  # type: ignore[assignment]
            held = (None if row is None else row[0]) == delete_if.value
            if held:
                rows.pop(key, None)
            append(held)
            continue
        elif kind == 5:  # Delete
            if row is not None:
                del rows[key]
            append(None)
            continue
        else:  # Incr: a counter created at 0 with the op's ttl; later ones keep its expiry
            incr: Incr = op  # type: ignore[assignment]
            if row is None:
                count = incr.amount
                value, ttl = str(count).encode(), incr.ttl
            else:
                try:
                    count = int(row[0]) + incr.amount
                except ValueError as exc:
                    raise StoreError(f"key {key!r} does not hold a counter") from exc
                rows[key] = (str(count).encode(), row[1])
                append(count)
                continue
            append(count)
        # The write of Add, SetMax, Set and a new counter.
        if ttl is None:
            rows[key] = (value, None)
        else:
            expires = now + ttl
            rows[key] = (value, expires)
            expire((expires, key))
    return results
