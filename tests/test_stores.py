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


def test_memory_store_forgets_expired_keys_written_in_batches() -> None:
    clock = FakeClock()
    store = MemoryStore(clock=clock)
    store.batch([Add(f"seen{i}", b"1", 10) for i in range(1000)])
    store.batch([SetMax("window", 5.0, 10), Set("kept", b"x", 10), Set("kept", b"y")])
    clock.advance(11)
    store.batch([Add(f"new{i}", b"1", 100) for i in range(300)])  # the writes sweep
    assert len(store) == 301
    assert store.get("kept") == b"y"


# --- batches: one round trip for a webhook body ---------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from omnimsg.stores.ops import (  # noqa: E402
    Add,
    Delete,
    DeleteIf,
    Get,
    Incr,
    Op,
    Set,
    SetMax,
    run_each,
)


class _VerbsOnly:
    """A third-party store with the five verbs and no ``batch``."""

    def __init__(self, clock: FakeClock) -> None:
        self._inner = MemoryStore(clock=clock)
        self.get, self.set, self.add = self._inner.get, self._inner.set, self._inner.add
        self.delete, self.incr = self._inner.delete, self._inner.incr


keys = st.sampled_from(["a", "b"])  # "n" holds only a counter, "t" only a SetMax number
any_key = st.sampled_from(["a", "b", "n", "t"])
values = st.sampled_from([b"1", b"2", b"claim:x"])
ttls = st.sampled_from([None, 5.0, 50.0])
ops_strategy = st.lists(
    st.one_of(
        st.builds(Get, any_key),
        st.builds(Set, keys, values, ttls),
        st.builds(Add, keys, values, ttls),
        st.builds(Delete, any_key),
        st.builds(Incr, st.just("n"), st.integers(-3, 3), ttls),
        st.builds(DeleteIf, keys, values),
        st.builds(SetMax, st.just("t"), st.sampled_from([1.0, 2.5, 1e9]), ttls),
    ),
    max_size=12,
)


@settings(max_examples=60, deadline=None)
@given(ops_strategy, ops_strategy)
def test_a_batch_means_the_same_as_its_operations_one_by_one(
    first: list[Op], second: list[Op]
) -> None:
    for make in (lambda c: MemoryStore(clock=c), lambda c: SQLiteStore(clock=c)):
        clock_a, clock_b = FakeClock(), FakeClock()
        batched, reference = make(clock_a), _VerbsOnly(clock_b)
        assert batched.batch(first) == run_each(reference, first)
        clock_a.advance(10)
        clock_b.advance(10)
        assert batched.batch(second) == run_each(reference, second)
        if isinstance(batched, SQLiteStore):
            batched.close()


def test_sqlite_batch_larger_than_one_statement(tmp_path: Path) -> None:
    # More keys than one query binds and more rows than one upsert carries (sqlite.py).
    ops: list[Op] = []
    for i in range(1500):
        ops += [Add(f"k{i}", b"1", 60), Get(f"k{i}"), SetMax(f"t{i % 700}", float(i), 60)]
    ops += [Delete("k3"), Get("k3"), Incr("n", 2), Incr("n", 3)]
    clock = FakeClock()
    store = SQLiteStore(tmp_path / "big.db", clock=clock)
    expected = MemoryStore(clock=clock).batch(ops)
    assert store.batch(ops) == expected
    assert store.batch([Add("k0", b"2", 60), Get("k1499"), Get("t699"), Get("k3")]) == [
        False,
        b"1",
        b"1399.0",
        None,
    ]
    store.close()


def test_delete_if_releases_only_the_holders_claim(backend: tuple[Any, FakeClock]) -> None:
    store, clock = backend
    assert store.batch([Add("k", b"claim:me", 10)]) == [True]
    assert store.batch([DeleteIf("k", b"claim:other")]) == [False]
    assert store.get("k") == b"claim:me"
    clock.advance(10)  # my lease ran out; another worker claims it
    assert store.batch([Add("k", b"claim:other", 10), DeleteIf("k", b"claim:me")]) == [True, False]
    assert store.get("k") == b"claim:other"
    assert store.batch([DeleteIf("k", b"claim:other"), Get("k")]) == [True, None]


def test_set_max_keeps_the_newest_time(backend: tuple[Any, FakeClock]) -> None:
    store, clock = backend
    assert store.batch([SetMax("t", 20.0, 100), SetMax("t", 10.0, 100), Get("t")]) == [
        True,
        False,
        b"20.0",
    ]
    assert store.batch([SetMax("t", 30.5, 100)]) == [True]
    clock.advance(100)
    assert store.batch([SetMax("t", 1.0)]) == [True]  # the old value expired


def test_sqlite_batch_is_one_transaction(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db", clock=FakeClock())
    store.set("text", b"abc")
    with pytest.raises(StoreError):
        store.batch([Set("k", b"v"), Add("d", b"1"), Incr("text")])
    assert store.get("k") is None and store.get("d") is None  # rolled back together
    store.batch([Set("k", b"v")])
    assert store.get("k") == b"v"
    store.close()


def test_batched_claims_are_atomic_across_threads(backend: tuple[Any, FakeClock]) -> None:
    store, _ = backend
    won: list[list[bool]] = []
    barrier = threading.Barrier(6)

    def race(i: int) -> None:
        barrier.wait()
        won.append(store.batch([Add("e1", f"w{i}".encode(), 60), Add("e2", b"x", 60)]))

    threads = [threading.Thread(target=race, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(won) == [[False, False]] * 5 + [[True, True]]


@pytest.mark.anyio
async def test_async_sqlite_batch() -> None:
    store = AsyncSQLiteStore(clock=FakeClock())
    assert await store.batch([Add("k", b"1"), Add("k", b"2"), Get("k"), SetMax("t", 3.0)]) == [
        True,
        False,
        b"1",
        True,
    ]
    await store.aclose()
