"""The SQLite store: embedded, durable, shared by the processes of one machine."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ..clock import Clock, SystemClock
from ..exceptions import StoreError
from ._batch import run_op
from .ops import Op

__all__ = ["AsyncSQLiteStore", "SQLiteStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS omnimsg_kv (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL,
    expires REAL
)
"""


class SQLiteStore:
    """A key-value table in an SQLite file (``":memory:"`` for a private in-memory one).

    Writes are atomic (``INSERT ... ON CONFLICT``); WAL mode lets several processes share the
    file. Blocking: give :class:`AsyncSQLiteStore` to an :class:`~omnimsg.AsyncClient`.
    """

    def __init__(self, path: str | Path = ":memory:", *, clock: Clock | None = None) -> None:
        self._clock = clock or SystemClock()
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(
                str(path), check_same_thread=False, isolation_level=None, timeout=30
            )
            if str(path) != ":memory:":
                self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(_SCHEMA)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open SQLite store: {exc}") from exc

    def _run(self, sql: str, args: tuple[object, ...]) -> sqlite3.Cursor:
        try:
            return self._db.execute(sql, args)
        except sqlite3.Error as exc:
            raise StoreError(f"SQLite store failed: {exc}") from exc

    def _expiry(self, ttl: float | None) -> float | None:
        return None if ttl is None else self._clock.time() + ttl

    def get(self, key: str) -> bytes | None:
        """The value, or ``None`` when absent or expired."""
        with self._lock:
            return self._get(key, self._clock.time())

    def _get(self, key: str, now: float) -> bytes | None:
        row = self._run(
            "SELECT value FROM omnimsg_kv WHERE key = ? AND (expires IS NULL OR expires > ?)",
            (key, now),
        ).fetchone()
        return None if row is None else bytes(row[0])

    def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        """Write ``value``; it expires after ``ttl`` seconds when given."""
        with self._lock:
            self._set(key, value, self._expiry(ttl))

    def _set(self, key: str, value: bytes, expires: float | None) -> None:
        self._run(
            "INSERT INTO omnimsg_kv(key, value, expires) VALUES (?, ?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value, expires = excluded.expires",
            (key, value, expires),
        )

    def add(self, key: str, value: bytes, ttl: float | None = None) -> bool:
        """Write only if absent or expired; ``True`` if this call wrote it."""
        with self._lock:
            return self._add(key, value, ttl, self._clock.time())

    def _add(self, key: str, value: bytes, ttl: float | None, now: float) -> bool:
        cur = self._run(
            "INSERT INTO omnimsg_kv(key, value, expires) VALUES (?, ?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value, expires = excluded.expires "
            "WHERE omnimsg_kv.expires IS NOT NULL AND omnimsg_kv.expires <= ?",
            (key, value, self._expiry(ttl), now),
        )
        return cur.rowcount == 1

    def delete(self, key: str) -> None:
        """Remove the key if present."""
        with self._lock:
            self._delete_key(key)

    def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        """Add ``amount`` to an integer counter (created at 0) and return it."""
        with self._lock, self._transaction():
            return self._incr(key, amount, ttl, self._clock.time())

    def _incr(self, key: str, amount: int, ttl: float | None, now: float) -> int:
        row = self._run(
            "SELECT value, expires FROM omnimsg_kv WHERE key = ? "
            "AND (expires IS NULL OR expires > ?)",
            (key, now),
        ).fetchone()
        if row is None:
            value, expires = amount, self._expiry(ttl)
        else:
            try:
                value, expires = int(bytes(row[0])) + amount, row[1]
            except ValueError as exc:
                raise StoreError(f"key {key!r} does not hold a counter") from exc
        self._set(key, str(value).encode(), expires)
        return value

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self._run("BEGIN IMMEDIATE", ())
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._run("COMMIT", ())

    def batch(self, ops: Sequence[Op]) -> list[Any]:
        """Run ``ops`` in order in one transaction; their results in order (``stores.ops``)."""
        with self._lock, self._transaction():
            now = self._clock.time()
            return [run_op(self, op, now) for op in ops]

    # --- the primitives batch() dispatches to (called in the transaction) ---

    def _get_at(self, key: str, now: float) -> bytes | None:
        return self._get(key, now)

    def _add_at(self, key: str, value: bytes, ttl: float | None, now: float) -> bool:
        return self._add(key, value, ttl, now)

    def _set_at(self, key: str, value: bytes, ttl: float | None, now: float) -> None:
        self._set(key, value, self._expiry(ttl))

    def _delete_key(self, key: str) -> None:
        self._run("DELETE FROM omnimsg_kv WHERE key = ?", (key,))

    def _incr_at(self, key: str, amount: int, ttl: float | None, now: float) -> int:
        return self._incr(key, amount, ttl, now)

    def purge(self) -> int:
        """Delete expired rows now; returns how many."""
        with self._lock:
            cur = self._run(
                "DELETE FROM omnimsg_kv WHERE expires IS NOT NULL AND expires <= ?",
                (self._clock.time(),),
            )
            return cur.rowcount

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._db.close()

    def __repr__(self) -> str:
        return "SQLiteStore()"


class AsyncSQLiteStore:
    """:class:`SQLiteStore` for async code: each call runs in a worker thread.

    Never blocks the event loop (the anti-pattern of calling sqlite3 inside ``async def``).
    """

    def __init__(self, path: str | Path = ":memory:", *, clock: Clock | None = None) -> None:
        self.sync = SQLiteStore(path, clock=clock)

    async def get(self, key: str) -> bytes | None:
        """The value, or ``None`` when absent or expired."""
        return await asyncio.to_thread(self.sync.get, key)

    async def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        """Write ``value``; it expires after ``ttl`` seconds when given."""
        await asyncio.to_thread(self.sync.set, key, value, ttl)

    async def add(self, key: str, value: bytes, ttl: float | None = None) -> bool:
        """Write only if absent or expired; ``True`` if this call wrote it."""
        return await asyncio.to_thread(self.sync.add, key, value, ttl)

    async def delete(self, key: str) -> None:
        """Remove the key if present."""
        await asyncio.to_thread(self.sync.delete, key)

    async def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        """Add ``amount`` to an integer counter and return it."""
        return await asyncio.to_thread(self.sync.incr, key, amount, ttl)

    async def batch(self, ops: Sequence[Op]) -> list[Any]:
        """Run ``ops`` in one transaction, in a worker thread."""
        return await asyncio.to_thread(self.sync.batch, ops)

    async def aclose(self) -> None:
        """Close the database connection."""
        await asyncio.to_thread(self.sync.close)

    def __repr__(self) -> str:
        return "AsyncSQLiteStore()"
