"""``batch`` for a store built on a few primitives: one dispatch, whatever the backend."""

from __future__ import annotations

from typing import Any

from .ops import Add, Delete, DeleteIf, Get, Incr, Op, Set, SetMax

__all__ = ["BatchDispatch"]


class BatchDispatch:
    """Runs one :mod:`~omnimsg.stores.ops` operation on the backend's primitives.

    The backend calls :meth:`_one` for each op inside its own lock or transaction, so the
    compound ops (``DeleteIf``, ``SetMax``: a read, then a write) are atomic there.
    """

    def _get_at(self, key: str, now: float) -> bytes | None:
        raise NotImplementedError  # pragma: no cover - every backend defines it

    def _add_at(self, key: str, value: bytes, ttl: float | None, now: float) -> bool:
        raise NotImplementedError  # pragma: no cover

    def _set_at(self, key: str, value: bytes, ttl: float | None, now: float) -> None:
        raise NotImplementedError  # pragma: no cover

    def _delete_key(self, key: str) -> None:
        raise NotImplementedError  # pragma: no cover

    def _incr_at(self, key: str, amount: int, ttl: float | None, now: float) -> int:
        raise NotImplementedError  # pragma: no cover

    def _one(self, op: Op, now: float) -> Any:
        if isinstance(op, Add):
            return self._add_at(op.key, op.value, op.ttl, now)
        if isinstance(op, Get):
            return self._get_at(op.key, now)
        if isinstance(op, SetMax):
            if not op.replaces(self._get_at(op.key, now)):
                return False
            self._set_at(op.key, repr(op.value).encode(), op.ttl, now)
            return True
        if isinstance(op, Set):
            return self._set_at(op.key, op.value, op.ttl, now)
        if isinstance(op, DeleteIf):
            held = self._get_at(op.key, now) == op.value
            if held:
                self._delete_key(op.key)
            return held
        if isinstance(op, Delete):
            return self._delete_key(op.key)
        assert isinstance(op, Incr)
        return self._incr_at(op.key, op.amount, op.ttl, now)
