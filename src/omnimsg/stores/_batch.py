"""``batch`` for a store built on a few primitives: one dispatch, whatever the backend."""

from __future__ import annotations

from typing import Any, Protocol

from .ops import Add, Delete, DeleteIf, Get, Incr, Op, Set, SetMax

__all__ = ["Primitives", "run_op"]


class Primitives(Protocol):
    """What a backend offers :func:`run_op`, called inside its own lock or transaction."""

    def _get_at(self, key: str, now: float) -> bytes | None: ...

    def _add_at(self, key: str, value: bytes, ttl: float | None, now: float) -> bool: ...

    def _set_at(self, key: str, value: bytes, ttl: float | None, now: float) -> None: ...

    def _delete_key(self, key: str) -> None: ...

    def _incr_at(self, key: str, amount: int, ttl: float | None, now: float) -> int: ...


def run_op(store: Primitives, op: Op, now: float) -> Any:
    """Run one :mod:`~omnimsg.stores.ops` operation on ``store``'s primitives.

    The backend calls this for each op inside its own lock or transaction, so the compound
    ops (``DeleteIf``, ``SetMax``: a read, then a write) are atomic there.
    """
    if isinstance(op, Add):
        return store._add_at(op.key, op.value, op.ttl, now)
    if isinstance(op, Get):
        return store._get_at(op.key, now)
    if isinstance(op, SetMax):
        if not op.replaces(store._get_at(op.key, now)):
            return False
        store._set_at(op.key, repr(op.value).encode(), op.ttl, now)
        return True
    if isinstance(op, Set):
        return store._set_at(op.key, op.value, op.ttl, now)
    if isinstance(op, DeleteIf):
        held = store._get_at(op.key, now) == op.value
        if held:
            store._delete_key(op.key)
        return held
    if isinstance(op, Delete):
        return store._delete_key(op.key)
    assert isinstance(op, Incr)
    return store._incr_at(op.key, op.amount, op.ttl, now)
