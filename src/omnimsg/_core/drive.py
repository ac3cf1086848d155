"""The only I/O in omnimsg: run a flow's effects, synchronously or asynchronously."""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

from ..clock import Clock
from ..exceptions import OmniMsgError
from ..stores import AsyncStore, Store
from ..stores.ops import arun_each, run_each
from .effects import (
    Effect,
    Flow,
    Now,
    Request,
    Response,
    Sleep,
    StoreAdd,
    StoreBatch,
    StoreDelete,
    StoreGet,
    StoreIncr,
    StoreSet,
)

T = TypeVar("T")


class SyncDriver(Protocol):
    """Performs one HTTP request synchronously."""

    def request(self, request: Request) -> Response:
        """Send ``request``; raise :class:`~omnimsg.TransportError` when there is no answer."""
        ...

    def close(self) -> None:
        """Release connections the driver owns."""
        ...


class AsyncDriver(Protocol):
    """Performs one HTTP request asynchronously."""

    async def request(self, request: Request) -> Response:
        """Send ``request``; raise :class:`~omnimsg.TransportError` when there is no answer."""
        ...

    async def aclose(self) -> None:
        """Release connections the driver owns."""
        ...


def _sync_store_effect(store: Store, effect: Effect) -> Any:
    if isinstance(effect, StoreBatch):
        batch = getattr(store, "batch", None)
        return batch(effect.ops) if batch is not None else run_each(store, effect.ops)
    if isinstance(effect, StoreGet):
        return store.get(effect.key)
    if isinstance(effect, StoreSet):
        return store.set(effect.key, effect.value, effect.ttl)
    if isinstance(effect, StoreAdd):
        return store.add(effect.key, effect.value, effect.ttl)
    if isinstance(effect, StoreIncr):
        return store.incr(effect.key, effect.amount, effect.ttl)
    if isinstance(effect, StoreDelete):
        return store.delete(effect.key)
    raise TypeError(f"not a store effect: {effect!r}")  # pragma: no cover - programming error


def run_sync(flow: Flow[T], driver: SyncDriver, store: Store, clock: Clock) -> T:
    """Drive ``flow`` to completion with blocking I/O."""
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            effect = flow.send(value) if error is None else flow.throw(error)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        value, error = None, None
        try:
            if isinstance(effect, Request):
                value = driver.request(effect)
            elif isinstance(effect, Now):
                refresh = getattr(clock, "refresh", None)
                if refresh is not None:
                    refresh()
                value = clock.time()
            elif isinstance(effect, Sleep):
                clock.sleep(effect.seconds)
            else:
                value = _sync_store_effect(store, effect)
        except OmniMsgError as exc:
            error = exc


async def run_async(
    flow: Flow[T], driver: AsyncDriver, store: Store | AsyncStore, clock: Clock
) -> T:
    """Drive ``flow`` to completion without blocking the event loop.

    ``store`` may be an :class:`AsyncStore`, or a sync :class:`Store` that never blocks
    (``nonblocking = True``, like :class:`~omnimsg.MemoryStore`).
    """
    # A store that declares itself non-blocking (MemoryStore) is called directly; any other
    # is an AsyncStore (checked once, when the client was made: omnimsg.stores.check_store).
    is_async = not getattr(store, "nonblocking", False)
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            effect = flow.send(value) if error is None else flow.throw(error)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        value, error = None, None
        try:
            if isinstance(effect, Request):
                value = await driver.request(effect)
            elif isinstance(effect, Now):
                arefresh = getattr(clock, "arefresh", None)
                if arefresh is not None:
                    await arefresh()
                value = clock.time()
            elif isinstance(effect, Sleep):
                await clock.asleep(effect.seconds)
            elif is_async:
                value = await _async_store_effect(store, effect)  # type: ignore[arg-type]
            else:
                value = _sync_store_effect(store, effect)  # type: ignore[arg-type]
        except OmniMsgError as exc:
            error = exc


async def _async_store_effect(store: AsyncStore, effect: Effect) -> Any:
    if isinstance(effect, StoreBatch):
        batch = getattr(store, "batch", None)
        return await batch(effect.ops) if batch is not None else await arun_each(store, effect.ops)
    if isinstance(effect, StoreGet):
        return await store.get(effect.key)
    if isinstance(effect, StoreSet):
        return await store.set(effect.key, effect.value, effect.ttl)
    if isinstance(effect, StoreAdd):
        return await store.add(effect.key, effect.value, effect.ttl)
    if isinstance(effect, StoreIncr):
        return await store.incr(effect.key, effect.amount, effect.ttl)
    if isinstance(effect, StoreDelete):
        return await store.delete(effect.key)
    raise TypeError(f"not a store effect: {effect!r}")  # pragma: no cover - programming error


def run_pure(flow: Flow[T], store: Store, clock: Clock) -> T:
    """Drive a flow that makes no HTTP request (webhook handling) on a sync store."""
    return run_sync(flow, _NoHTTP(), store, clock)


class _NoHTTP:
    def request(self, request: Request) -> Response:
        raise TypeError(f"this flow must not make HTTP requests: {request.operation}")

    def close(self) -> None:
        return None
