"""The in-memory store: fast, one process, no threads."""

from __future__ import annotations

import heapq
import threading
from collections.abc import Sequence
from typing import Any

from ..clock import Clock, SystemClock
from ..exceptions import StoreError
from ._batch import run_ops
from .ops import Op

__all__ = ["MemoryStore"]

_PURGE_EVERY = 256  # writes between sweeps of expired keys, so memory stays bounded


class MemoryStore:
    """A dict with TTLs measured on the injected clock. Safe across threads.

    Its operations never block, so it serves :class:`~omnimsg.Client` and
    :class:`~omnimsg.AsyncClient` alike.
    """

    nonblocking = True

    def __init__(self, *, clock: Clock | None = None) -> None:
        self._clock = clock or SystemClock()
        self._data: dict[str, tuple[bytes, float | None]] = {}
        # Expiry times in a heap: a sweep pops only what has expired, never scans every key.
        self._expiries: list[tuple[float, str]] = []
        self._lock = threading.Lock()
        self._writes = 0

    def _expiry(self, ttl: float | None) -> float | None:
        return None if ttl is None else self._clock.time() + ttl

    def _put(self, key: str, value: bytes, expires: float | None) -> None:
        self._data[key] = (value, expires)
        if expires is not None:
            heapq.heappush(self._expiries, (expires, key))

    def _live(self, key: str, now: float) -> bytes | None:
        item = self._data.get(key)
        if item is None:
            return None
        value, expires = item
        if expires is not None and expires <= now:
            del self._data[key]
            return None
        return value

    def _wrote(self, now: float) -> None:
        self._writes += 1
        if not self._writes % _PURGE_EVERY:
            self._purge(now)

    def _purge(self, now: float) -> None:
        heap = self._expiries
        while heap and heap[0][0] <= now:
            expires, key = heapq.heappop(heap)
            item = self._data.get(key)
            if item is not None and item[1] == expires:  # not rewritten since
                del self._data[key]

    def get(self, key: str) -> bytes | None:
        """The value, or ``None`` when absent or expired."""
        with self._lock:
            return self._live(key, self._clock.time())

    def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        """Write ``value``; it expires after ``ttl`` seconds when given."""
        with self._lock:
            self._put(key, value, self._expiry(ttl))
            self._wrote(self._clock.time())

    def add(self, key: str, value: bytes, ttl: float | None = None) -> bool:
        """Write only if absent or expired; ``True`` if this call wrote it."""
        with self._lock:
            return self._add(key, value, ttl, self._clock.time())

    def _add(self, key: str, value: bytes, ttl: float | None, now: float) -> bool:
        if self._live(key, now) is not None:
            return False
        self._put(key, value, self._expiry(ttl))
        self._wrote(now)
        return True

    def delete(self, key: str) -> None:
        """Remove the key if present."""
        with self._lock:
            self._data.pop(key, None)

    def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        """Add ``amount`` to an integer counter (created at 0) and return it."""
        with self._lock:
            return self._incr(key, amount, ttl, self._clock.time())

    def _incr(self, key: str, amount: int, ttl: float | None, now: float) -> int:
        current = self._live(key, now)
        if current is None:
            value, expires = amount, self._expiry(ttl)
            if expires is not None:
                heapq.heappush(self._expiries, (expires, key))
        else:
            try:
                value = int(current) + amount
            except ValueError as exc:
                raise StoreError(f"key {key!r} does not hold a counter") from exc
            expires = self._data[key][1]
        self._data[key] = (str(value).encode(), expires)
        self._wrote(now)
        return value

    def batch(self, ops: Sequence[Op]) -> list[Any]:
        """Run ``ops`` in order under one lock; their results in order (see ``stores.ops``)."""
        expiring: list[tuple[float, str]] = []
        with self._lock:
            now = self._clock.time()
            try:
                return run_ops(self._data, ops, now, expiring)
            finally:  # what ran before a failed op stays, so its keys must still expire
                heap = self._expiries
                for item in expiring:
                    heapq.heappush(heap, item)
                if expiring:
                    before = self._writes
                    self._writes = before + len(expiring)
                    if before // _PURGE_EVERY != self._writes // _PURGE_EVERY:
                        self._purge(now)

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)

    def __repr__(self) -> str:
        return f"MemoryStore({len(self)} keys)"
