"""Credentials kept in the Store are refreshed once across workers (DESIGN §6: no 40001 storms)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from omnimsg import FakeClock, MemoryStore, SQLiteStore, SystemClock, TransportError
from omnimsg._core.credentials import Refresh, credential, forget
from omnimsg._core.drive import run_async, run_sync
from omnimsg._core.effects import Flow, Request, Response

KEY = "omnimsg:test:token:app1"


class TokenServer:
    """The platform's token endpoint: every call issues a new token (and invalidates the old)."""

    def __init__(self, delay: float = 0.0, fail: int = 0) -> None:
        self.calls = 0
        self.delay = delay
        self.fail = fail
        self._lock = threading.Lock()

    def request(self, request: Request) -> Response:
        with self._lock:
            self.calls += 1
            n = self.calls
        time.sleep(self.delay)  # the endpoint takes a while: others arrive meanwhile
        if n <= self.fail:
            raise TransportError("token endpoint down")
        return Response(
            status=200, headers={}, body=json.dumps({"token": f"t{n}", "expires_in": 7200}).encode()
        )

    async def arequest(self, request: Request) -> Response:
        await asyncio.sleep(self.delay)
        return self.request(request)

    def close(self) -> None:
        return None


def fetch() -> Flow[tuple[str, float]]:
    response = yield Request(method="GET", url="https://api.example/token", operation="test.token")
    data = json.loads(response.body)
    return data["token"], float(data["expires_in"])


@pytest.mark.parametrize("shared", ["memory", "sqlite"])
def test_one_fetch_for_many_threads_sharing_a_store(shared: str, tmp_path: Path) -> None:
    server = TokenServer(delay=0.2)
    memory = MemoryStore()
    # SQLite: one store object per worker on one file, as separate processes would have.
    stores: list[Any] = [
        memory if shared == "memory" else SQLiteStore(tmp_path / "s.db") for _ in range(8)
    ]
    got: list[str] = []
    barrier = threading.Barrier(8)

    def worker(store: Any) -> None:
        barrier.wait()
        got.append(run_sync(credential(KEY, fetch), server, store, SystemClock()))

    threads = [threading.Thread(target=worker, args=(store,)) for store in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert server.calls == 1
    assert got == ["t1"] * 8
    for store in stores:
        if isinstance(store, SQLiteStore):
            store.close()


@pytest.mark.anyio
async def test_one_fetch_for_many_tasks() -> None:
    server = TokenServer(delay=0.05)

    class Driver:
        async def request(self, request: Request) -> Response:
            return await server.arequest(request)

        async def aclose(self) -> None:
            return None

    store, clock = MemoryStore(), SystemClock()
    got = await asyncio.gather(
        *(run_async(credential(KEY, fetch), Driver(), store, clock) for _ in range(10))
    )
    assert server.calls == 1 and set(got) == {"t1"}


def test_expiry_forget_and_a_failed_refresh() -> None:
    clock = FakeClock(0)
    store = MemoryStore(clock=clock)
    server = TokenServer(fail=1)
    with pytest.raises(TransportError):
        run_sync(credential(KEY, fetch), server, store, clock)
    # The failed refresh released its lock: the next call fetches at once.
    assert run_sync(credential(KEY, fetch), server, store, clock) == "t2"
    assert run_sync(credential(KEY, fetch), server, store, clock) == "t2"  # cached
    clock.advance(7200 - 300)  # within the margin of its 2 h lifetime: refreshed ahead
    assert run_sync(credential(KEY, fetch), server, store, clock) == "t3"
    run_sync(forget(KEY), server, store, clock)  # the platform answered 40001
    assert run_sync(credential(KEY, fetch), server, store, clock) == "t4"
    assert server.calls == 4


def test_a_worker_gives_up_when_the_refresh_never_finishes() -> None:
    clock = FakeClock(0)
    store = MemoryStore(clock=clock)
    store.add(f"{KEY}:refreshing", b"1", ttl=30)  # another worker holds the lock, and hangs
    refresh = Refresh(lock_ttl=30, wait=1.0, attempts=5)
    with pytest.raises(TransportError, match="not refreshed in time"):
        run_sync(credential(KEY, fetch, refresh), TokenServer(), store, clock)
    # Its lock expires: the next worker takes the refresh over.
    clock.advance(30)
    assert run_sync(credential(KEY, fetch, refresh), TokenServer(), store, clock) == "t1"


def test_a_refresh_that_lands_between_the_read_and_the_lock_is_not_repeated() -> None:
    """Worker A reads nothing; worker B fetches, stores and unlocks; A then wins the lock.

    A reads again under the lock and uses B's value: still one fetch (this interleaving made
    the thread test above flaky before the second read)."""
    from omnimsg._core.effects import StoreAdd, StoreDelete, StoreGet

    fetched: list[int] = []

    def counting_fetch() -> Flow[tuple[str, float]]:
        fetched.append(1)
        yield from ()
        return "mine", 3600.0

    flow = credential(KEY, counting_fetch)
    assert isinstance(next(flow), StoreGet)
    assert isinstance(flow.send(None), StoreAdd)  # nothing stored yet: try the lock
    # Meanwhile B fetched "theirs", stored it and released the lock: A's Add succeeds.
    assert isinstance(flow.send(True), StoreGet)
    assert isinstance(flow.send(b"theirs"), StoreDelete)
    with pytest.raises(StopIteration) as done:
        flow.send(None)
    assert done.value.value == "theirs"
    assert fetched == []
