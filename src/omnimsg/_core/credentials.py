"""Credentials that must be fetched and refreshed, kept in the Store, refreshed once.

WeChat's access_token lives two hours, and fetching a new one invalidates the old: if every
worker fetched its own, they would take turns invalidating each other (the "40001 storm",
DESIGN §6). The token therefore lives in the Store shared by the workers, and a refresh is
single-flight: the worker that wins ``Add(lock)`` fetches, the others wait (through the
injected clock) and read what it stored.

The flows are platform-neutral: an adapter gives the key and a ``fetch`` flow that returns
the credential and its lifetime, and calls :func:`forget` when the platform says the
credential is no longer valid.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from ..exceptions import TransportError
from .effects import Flow, Sleep, StoreAdd, StoreDelete, StoreGet, StoreSet

__all__ = ["Refresh", "credential", "forget"]


@attrs.frozen(kw_only=True)
class Refresh:
    """How a credential is refreshed.

    Attributes:
        lock_ttl: how long a refresh may take before another worker may try (seconds).
        wait: how long a worker that lost the race waits before it looks again.
        attempts: how many times it looks before it gives up.
        margin: how long before its lifetime ends a credential counts as expired already.
    """

    lock_ttl: float = 30.0
    wait: float = 0.05
    attempts: int = 600
    margin: float = 300.0


def _lock(key: str) -> str:
    return f"{key}:refreshing"


def credential(
    key: str, fetch: Callable[[], Flow[tuple[str, float]]], refresh: Refresh | None = None
) -> Flow[str]:
    """The credential under ``key``: from the store, or fetched once across every worker.

    ``fetch()`` is a flow returning ``(value, lifetime_seconds)``; it runs only in the worker
    that holds the refresh lock, and a failure in it releases the lock and propagates.

    Raises:
        TransportError: the worker that refreshes did not finish within ``attempts`` waits.
    """
    refresh = refresh or Refresh()
    for _ in range(refresh.attempts):
        stored = yield StoreGet(key)
        if stored is not None:
            return bytes(stored).decode()
        if (yield StoreAdd(_lock(key), b"1", refresh.lock_ttl)):
            try:
                # Read again under the lock: a worker that refreshed between our read and our
                # lock has stored the value and released the lock already (no second fetch).
                stored = yield StoreGet(key)
                if stored is not None:
                    return bytes(stored).decode()
                value, lifetime = yield from fetch()
                yield StoreSet(key, value.encode(), max(lifetime - refresh.margin, 1.0))
            finally:
                yield StoreDelete(_lock(key))
            return value
        yield Sleep(refresh.wait)  # another worker is refreshing: read what it stores
    raise TransportError(f"the credential {key!r} was not refreshed in time by another worker")


def forget(key: str) -> Flow[None]:
    """Drop a credential the platform refused (e.g. WeChat 40001); the next use refreshes it."""
    yield StoreDelete(key)
