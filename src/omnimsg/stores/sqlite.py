"""The SQLite store: embedded, durable, shared by the processes of one machine."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from itertools import chain
from pathlib import Path
from typing import Any

from ..clock import Clock, SystemClock
from ..exceptions import StoreError
from ._batch import Row, run_ops
from .ops import Op

__all__ = ["AsyncSQLiteStore", "SQLiteStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS omnimsg_kv (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL,
    expires REAL
)
"""


_UPSERT = (
    "INSERT INTO omnimsg_kv(key, value, expires) VALUES (?, ?, ?) "
    "ON CONFLICT(key) DO UPDATE SET value = excluded.value, expires = excluded.expires"
)
# Bound parameters per statement stay under SQLite's oldest limit (999; 32766 since 3.32).
_KEYS_PER_QUERY = 500
_ROWS_PER_UPSERT = 300


@functools.lru_cache(maxsize=64)
def _select_rows(n: int) -> str:
    """The rows of ``n`` keys, in one query."""
    marks = ",".join("?" * n)  # only placeholders: every key is bound
    return f"SELECT key, value, expires FROM omnimsg_kv WHERE key IN ({marks})"  # noqa: S608


@functools.lru_cache(maxsize=64)
def _upsert_rows(n: int) -> str:
    """One upsert of ``n`` rows: a multi-row ``VALUES`` costs less than ``executemany``."""
    marks = ",".join(["(?, ?, ?)"] * n)  # only placeholders: every value is bound
    return (
        f"INSERT INTO omnimsg_kv(key, value, expires) VALUES {marks} "  # noqa: S608
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value, expires = excluded.expires"
    )


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

    def _run(self, sql: str, args: Sequence[object]) -> sqlite3.Cursor:
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
        self._run(_UPSERT, (key, value, expires))

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
            self._run("DELETE FROM omnimsg_kv WHERE key = ?", (key,))

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
        """Run ``ops`` in order in one transaction; their results in order (``stores.ops``).

        The batch's rows are read with one query, the operations run on them in Python
        (``stores._batch``: the same code as the memory store's), and the rows they changed
        are written back with one statement each for upserts and deletes: a handful of
        statements for a webhook body instead of one or two per operation.
        """
        with self._lock, self._transaction():
            now = self._clock.time()
            before = self._rows([op.key for op in ops])
            rows = dict(before)
            results = run_ops(rows, ops, now, [])
            # Back to the table: every row the batch wrote (a new tuple), and every row it
            # dropped (deleted, or expired when it looked).
            written = [(key, *row) for key, row in rows.items() if row is not before.get(key)]
            for start in range(0, len(written), _ROWS_PER_UPSERT):
                chunk = written[start : start + _ROWS_PER_UPSERT]
                self._run(_upsert_rows(len(chunk)), tuple(chain.from_iterable(chunk)))
            dropped = [(key,) for key in before if key not in rows]
            if dropped:
                self._run_many("DELETE FROM omnimsg_kv WHERE key = ?", dropped)
            return results

    def _rows(self, keys: list[str]) -> dict[str, Row]:
        """The stored rows of ``keys`` (repeats allowed), expired ones included (``run_ops``
        tells them apart)."""
        found: dict[str, Row] = {}
        for start in range(0, len(keys), _KEYS_PER_QUERY):
            chunk = keys[start : start + _KEYS_PER_QUERY]
            for key, value, expires in self._run(_select_rows(len(chunk)), chunk):
                found[key] = (bytes(value), expires)
        return found

    def _run_many(self, sql: str, rows: Sequence[tuple[object, ...]]) -> None:
        try:
            self._db.executemany(sql, rows)
        except sqlite3.Error as exc:
            raise StoreError(f"SQLite store failed: {exc}") from exc

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
