"""One contract for every Store backend (memory, SQLite, async SQLite)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from omnimsg import AsyncSQLiteStore, FakeClock, MemoryStore, SQLiteStore, StoreError


@pytest.fixture(params=["memory", "sqlite-memory", "sqlite-file"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Any, FakeClock]]:
    clock = FakeClock()
    if request.param == "memory":
        yield MemoryStore(clock=clock), clock
    elif request.param == "sqlite-memory":
        store = SQLiteStore(clock=clock)
        yield store, clock
        store.close()
    else:
        store = SQLiteStore(tmp_path / "state.db", clock=clock)
        yield store, clock
        store.close()


def test_get_set_delete(backend: tuple[Any, FakeClock]) -> None:
    store, _ = backend
    assert store.get("k") is None
    store.set("k", b"v")
    assert store.get("k") == b"v"
    store.set("k", b"w")
    assert store.get("k") == b"w"
    store.delete("k")
    store.delete("k")
    assert store.get("k") is None


def test_ttl_is_measured_on_the_injected_clock(backend: tuple[Any, FakeClock]) -> None:
    store, clock = backend
    store.set("k", b"v", ttl=10)
    clock.advance(9.9)
    assert store.get("k") == b"v"
    clock.advance(0.1)
    assert store.get("k") is None


def test_add_is_set_if_absent_and_respects_expiry(backend: tuple[Any, FakeClock]) -> None:
    store, clock = backend
    assert store.add("d", b"1", ttl=5) is True
    assert store.add("d", b"2", ttl=5) is False
    assert store.get("d") == b"1"
    clock.advance(5)
    assert store.add("d", b"3") is True
    assert store.get("d") == b"3"


def test_incr_counts_and_keeps_the_first_ttl(backend: tuple[Any, FakeClock]) -> None:
    store, clock = backend
    assert store.incr("c", ttl=10) == 1
    assert store.incr("c", 5, ttl=100) == 6
    clock.advance(10)
    assert store.incr("c") == 1
    store.set("text", b"abc")
    with pytest.raises(StoreError):
        store.incr("text")


def test_add_is_atomic_across_threads(backend: tuple[Any, FakeClock]) -> None:
    store, _ = backend
    wins: list[bool] = []
    barrier = threading.Barrier(8)

    def race() -> None:
        barrier.wait()
        wins.append(store.add("once", b"x", ttl=60))

    threads = [threading.Thread(target=race) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wins.count(True) == 1


def test_sqlite_survives_a_restart(tmp_path: Path) -> None:
    clock = FakeClock()
    first = SQLiteStore(tmp_path / "s.db", clock=clock)
    first.set("k", b"v", ttl=60)
    first.incr("n")
    first.close()
    second = SQLiteStore(tmp_path / "s.db", clock=clock)
    assert second.get("k") == b"v"
    assert second.incr("n") == 2
    clock.advance(61)
    assert second.purge() == 1
    second.close()


def test_sqlite_bad_path_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError):
        SQLiteStore(tmp_path / "missing-dir" / "x.db")


@pytest.mark.anyio
async def test_async_sqlite_store_contract() -> None:
    clock = FakeClock()
    store = AsyncSQLiteStore(clock=clock)
    assert await store.get("k") is None
    await store.set("k", b"v", ttl=5)
    assert await store.get("k") == b"v"
    assert await store.add("k", b"x") is False
    assert await store.incr("n", 2) == 2
    clock.advance(5)
    assert await store.get("k") is None
    await store.delete("n")
    assert await store.get("n") is None
    await store.aclose()


def test_clients_refuse_a_store_of_the_wrong_face() -> None:
    from omnimsg import AsyncClient, Client, ConfigurationError, WhatsApp

    ch = [WhatsApp(phone_number_id="1", access_token="t")]
    with pytest.raises(ConfigurationError, match="blocks"):
        AsyncClient(ch, store=SQLiteStore())
    with pytest.raises(ConfigurationError, match="is async"):
        Client(ch, store=AsyncSQLiteStore())  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="not a store"):
        Client(ch, store=object())  # type: ignore[arg-type]
    AsyncClient(ch, store=MemoryStore())  # non-blocking: fine for both faces


def test_memory_store_forgets_expired_keys_without_being_read() -> None:
    clock = FakeClock()
    store = MemoryStore(clock=clock)
    for i in range(1000):
        store.set(f"old{i}", b"x", ttl=10)
    store.set("kept", b"x", ttl=10)
    store.set("kept", b"y")  # rewritten without a TTL: must survive the sweep
    clock.advance(11)
    for i in range(300):  # writes trigger the sweep
        store.set(f"new{i}", b"x", ttl=100)
    assert len(store) == 301
    assert store.get("kept") == b"y"
