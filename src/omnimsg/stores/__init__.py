"""State stores: a small key-value protocol with TTLs, in sync and async faces.

omnimsg keeps conversation state here: the customer's last inbound time (messaging windows),
webhook de-duplication keys, rate buckets, tier counters and cached templates. Backends:

* :class:`MemoryStore` - the default; one process.
* :class:`SQLiteStore` / :class:`AsyncSQLiteStore` - embedded, survives restarts.

Any object with these methods works (a Redis backend joins the same contract). Keys are
strings built by omnimsg; values are bytes; TTLs are seconds measured on the injected clock.
"""

from __future__ import annotations

import inspect
from typing import Protocol, runtime_checkable

from ..exceptions import ConfigurationError
from .memory import MemoryStore
from .sqlite import AsyncSQLiteStore, SQLiteStore

__all__ = ["AsyncSQLiteStore", "AsyncStore", "MemoryStore", "SQLiteStore", "Store", "check_store"]


@runtime_checkable
class Store(Protocol):
    """A synchronous key-value store with TTLs (used by :class:`omnimsg.Client`).

    A store whose operations never block (like :class:`MemoryStore`) may also be given to
    :class:`omnimsg.AsyncClient`.
    """

    def get(self, key: str) -> bytes | None:
        """The value, or ``None`` when absent or expired."""
        ...

    def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        """Write ``value``; it expires after ``ttl`` seconds when given."""
        ...

    def add(self, key: str, value: bytes, ttl: float | None = None) -> bool:
        """Write only if absent (or expired); ``True`` if this call wrote it. Atomic."""
        ...

    def delete(self, key: str) -> None:
        """Remove the key if present."""
        ...

    def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        """Add ``amount`` to an integer counter (created at 0) and return it. Atomic.

        ``ttl`` applies when the counter is created.
        """
        ...


@runtime_checkable
class AsyncStore(Protocol):
    """The same verbs as :class:`Store`, awaited (used by :class:`omnimsg.AsyncClient`)."""

    async def get(self, key: str) -> bytes | None:
        """The value, or ``None`` when absent or expired."""
        ...

    async def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        """Write ``value``; it expires after ``ttl`` seconds when given."""
        ...

    async def add(self, key: str, value: bytes, ttl: float | None = None) -> bool:
        """Write only if absent (or expired); ``True`` if this call wrote it. Atomic."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the key if present."""
        ...

    async def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        """Add ``amount`` to an integer counter and return it. Atomic."""
        ...


def check_store(store: object, *, async_face: bool) -> None:
    """Refuse, at construction time, a store the client could not drive.

    The sync client needs plain methods. The async client needs ``async def`` methods, or a
    store that declares ``nonblocking = True`` (its plain methods never block the loop).
    """
    verbs = ("get", "set", "add", "delete", "incr")
    missing = [v for v in verbs if not callable(getattr(store, v, None))]
    if missing:
        raise ConfigurationError(f"{type(store).__name__} is not a store: no {', '.join(missing)}")
    is_async = inspect.iscoroutinefunction(store.get)  # type: ignore[attr-defined]
    if async_face and not is_async and not getattr(store, "nonblocking", False):
        raise ConfigurationError(
            f"{type(store).__name__} blocks: give AsyncClient an AsyncStore (e.g. AsyncSQLiteStore) "
            "or a non-blocking store such as MemoryStore"
        )
    if not async_face and is_async:
        raise ConfigurationError(f"{type(store).__name__} is async: give it to AsyncClient")
