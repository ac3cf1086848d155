"""WeChat access tokens through the public interface (spec/wechat.md §4; research §1.5, §4).

One fetch for many calls, kept until ``refresh_early`` before it expires, shared by every
client on one Store (memory or an SQLite file) and fetched once across them; 40001 / 42001 /
40014 answered by exactly one refetch and one retry (wechatpy loops without a bound); the
classic and stable endpoints; a fixed token never fetched; 40164 / 89503 / 40243 explained;
no secret in a message or a repr.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from omnimsg import (
    AuthenticationError,
    Client,
    MemoryStore,
    PermissionDenied,
    PlatformError,
    RetryPolicy,
    SQLiteStore,
    SystemClock,
    Text,
)
from omnimsg.clock import FakeClock
from omnimsg.platforms.wechat.state import access_token_key
from test_wechat_send import (
    ADA,
    APP_ID,
    NOW,
    SECRET,
    FakeWeChat,
    amake,
    channel,
    customer_writes,
    make,
    sends,
)

TOKEN_KEY = access_token_key(APP_ID, "stable")


@pytest.fixture
def fake() -> FakeWeChat:
    return FakeWeChat()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


def test_one_fetch_for_many_calls(fake: FakeWeChat, clock: FakeClock) -> None:
    c = make(fake, clock)
    customer_writes(c, NOW)
    for _ in range(5):
        c.send(ADA, Text("x"))
    c.wechat.tags()
    c.wechat.user_tags(ADA)
    assert len(fake.fetches()) == 1
    assert {call.query["access_token"] for call in fake.api()} == {"TOK1-" + "x" * 20}
    assert c.store.get(TOKEN_KEY) == ("TOK1-" + "x" * 20).encode()


def test_the_classic_endpoint(fake: FakeWeChat, clock: FakeClock) -> None:
    c = make(fake, clock, token_endpoint="classic")
    c.wechat.tags()
    (fetch,) = fake.fetches()
    assert (fetch.method, fetch.path, fetch.raw) == ("GET", "/cgi-bin/token", b"")
    assert fetch.query == {"grant_type": "client_credential", "appid": APP_ID, "secret": SECRET}
    assert c.store.get(access_token_key(APP_ID, "classic")) is not None
    assert c.store.get(TOKEN_KEY) is None  # the two endpoints' tokens are isolated


def test_a_token_is_refreshed_early(fake: FakeWeChat, clock: FakeClock) -> None:
    c = make(fake, clock, refresh_early=300.0)
    c.wechat.tags()
    clock.advance(7200 - 300 - 1)
    c.wechat.tags()
    assert len(fake.fetches()) == 1
    clock.advance(2)  # 299 s before expiry: replaced before WeChat would refuse it
    c.wechat.tags()
    assert len(fake.fetches()) == 2
    assert fake.api()[-1].query["access_token"].startswith("TOK2-")


def test_a_short_lived_stable_token_is_kept_half_its_life(
    fake: FakeWeChat, clock: FakeClock
) -> None:
    fake.expires_in = 400  # a stable token fetched near its end (expires_in >= 300)
    c = make(fake, clock)
    c.wechat.tags()
    clock.advance(199)
    c.wechat.tags()
    assert len(fake.fetches()) == 1
    clock.advance(2)
    c.wechat.tags()
    assert len(fake.fetches()) == 2


@pytest.mark.parametrize("errcode", [40001, 42001, 40014])
def test_a_refused_token_is_refetched_once_and_the_call_retried_once(
    fake: FakeWeChat, clock: FakeClock, errcode: int
) -> None:
    c = make(fake, clock)
    customer_writes(c, NOW)
    c.wechat.tags()
    fake.valid.clear()  # another service fetched a new one: ours is no longer the latest
    fake.then({"errcode": errcode, "errmsg": "access_token refused rid: 1-2-3"})
    c.send(ADA, Text("x"))  # a send too: WeChat refused it, so the retry is safe
    assert [call.path for call in fake.calls] == [
        "/cgi-bin/stable_token",
        "/cgi-bin/tags/get",
        "/cgi-bin/message/custom/send",
        "/cgi-bin/stable_token",
        "/cgi-bin/message/custom/send",
    ]
    assert fake.calls[-1].query["access_token"].startswith("TOK2-")
    assert fake.calls[-1].raw == fake.calls[2].raw
    assert len(sends(fake)) == 2


def test_a_second_refusal_raises_without_looping(fake: FakeWeChat, clock: FakeClock) -> None:
    c = make(fake, clock)
    fake.then({"errcode": 40001, "errmsg": "invalid credential rid: a"})
    fake.then({"errcode": 40001, "errmsg": "invalid credential rid: b"})
    with pytest.raises(AuthenticationError) as refused:
        c.wechat.tags()
    assert refused.value.code == 40001 and refused.value.request_id == "b"
    assert "share one Store" in str(refused.value)
    assert len(fake.fetches()) == 2 and len(fake.api()) == 2


def test_a_fixed_token_is_never_fetched_and_never_replaced(
    fake: FakeWeChat, clock: FakeClock
) -> None:
    fixed = "central-service-token-0123456789"
    fake.valid.add(fixed)
    c = make(fake, clock, app_secret=None, access_token=fixed)
    c.wechat.tags()
    assert fake.fetches() == [] and fake.api()[0].query["access_token"] == fixed
    fake.valid.clear()
    with pytest.raises(AuthenticationError) as refused:
        c.wechat.tags()
    assert "central token service" in str(refused.value)
    assert fixed not in str(refused.value)
    assert fake.fetches() == [] and len(fake.api()) == 2


def test_40164_explains_the_ip_whitelist_and_shows_the_ip(
    fake: FakeWeChat, clock: FakeClock
) -> None:
    c = make(fake, clock)
    errmsg = (
        "invalid ip 101.226.140.206 ipv6 ::ffff:101.226.140.206, not in whitelist rid: "
        "64e5d2d0-5b3c1e22-1d2a9c3f"
    )
    fake.token_script.append((200, {"errcode": 40164, "errmsg": errmsg}))
    with pytest.raises(PermissionDenied) as denied:
        c.wechat.tags()
    e = denied.value
    assert e.code == 40164 and e.request_id == "64e5d2d0-5b3c1e22-1d2a9c3f"
    text = str(e)
    assert errmsg in text
    assert "IP whitelist" in text and "Settings > Basic configuration" in text
    assert "the IP WeChat saw is 101.226.140.206" in text
    assert SECRET not in text and SECRET not in repr(e)
    assert fake.api() == []  # the token never came: nothing else was called
    # The lock was released: the next call fetches again.
    c.wechat.tags()
    assert len(fake.fetches()) == 2


@pytest.mark.parametrize(
    ("errcode", "kind", "phrase"),
    [
        (89503, PermissionDenied, "administrator confirms"),
        (40243, AuthenticationError, "AppSecret is frozen"),
        (40125, AuthenticationError, "AppSecret is wrong"),
    ],
)
def test_other_token_refusals_are_explained(
    fake: FakeWeChat, clock: FakeClock, errcode: int, kind: type[PlatformError], phrase: str
) -> None:
    c = make(fake, clock)
    fake.token_script.append((200, {"errcode": errcode, "errmsg": f"refused {SECRET} rid: r"}))
    with pytest.raises(kind) as raised:
        c.wechat.tags()
    assert raised.value.code == errcode and phrase in str(raised.value)
    assert SECRET not in str(raised.value)  # scrubbed even when WeChat echoes it


def test_two_clients_sharing_a_memory_store_fetch_once(fake: FakeWeChat, clock: FakeClock) -> None:
    store = MemoryStore(clock=clock)
    a, b = make(fake, clock, store=store), make(fake, clock, store=store)
    for _ in range(3):
        a.wechat.tags()
        b.wechat.tags()
    assert len(fake.fetches()) == 1
    # Across many lifetimes: one fetch per lifetime, never a refused token.
    for _ in range(5):
        clock.advance(6900)
        a.wechat.tags()
        b.wechat.tags()
    assert len(fake.fetches()) == 6
    assert len(fake.api()) == 16 and fake.n == 16


def test_two_clients_on_one_sqlite_file_fetch_once(
    fake: FakeWeChat, clock: FakeClock, tmp_path: Path
) -> None:
    path = tmp_path / "omnimsg.db"
    stores = [SQLiteStore(path, clock=clock), SQLiteStore(path, clock=clock)]
    try:
        a, b = (make(fake, clock, store=s) for s in stores)
        a.wechat.tags()
        b.wechat.tags()
        clock.advance(7000)
        b.wechat.tags()
        a.wechat.tags()
        assert len(fake.fetches()) == 2
    finally:
        for s in stores:
            s.close()


def test_threads_sharing_an_sqlite_file_fetch_once(tmp_path: Path) -> None:
    """Real concurrency: eight workers (one store each, as processes would) start together
    while the token endpoint is slow; one of them fetches, the others wait for it."""
    fake = FakeWeChat()
    lock = threading.Lock()

    def slow(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("stable_token"):
            threading.Event().wait(0.2)
        with lock:
            return fake.handle(request)

    path = tmp_path / "omnimsg.db"
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def worker() -> None:
        store = SQLiteStore(path)
        try:
            c = Client(
                [channel()],
                store=store,
                clock=SystemClock(),
                transport=httpx.MockTransport(slow),
                retry=RetryPolicy.never(),
            )
            barrier.wait()
            c.wechat.tags()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    assert len(fake.fetches()) == 1 and fake.n == 8


def test_async_face_fetches_once_for_concurrent_calls(fake: FakeWeChat, clock: FakeClock) -> None:
    async def main() -> None:
        async with amake(fake, clock) as c:
            await asyncio.gather(*(c.wechat.tags() for _ in range(10)))
            fake.valid.clear()
            fake.then({"errcode": 42001, "errmsg": "access_token expired rid: z"})
            await c.wechat.tags()

    asyncio.run(main())
    assert len(fake.fetches()) == 2 and len(fake.api()) == 12


def test_no_secret_in_reprs(fake: FakeWeChat, clock: FakeClock) -> None:
    c = make(fake, clock)
    c.wechat.tags()
    token = fake.api()[0].query["access_token"]
    for text in (repr(c), repr(channel()), repr(channel(access_token="fixed-token-0123456789"))):
        assert SECRET not in text and token not in text and "fixed-token" not in text
    from omnimsg.platforms.wechat.tokens import fetch_token

    flow: Any = fetch_token(channel(token_endpoint="classic"), RetryPolicy.never())
    request = next(flow)
    assert SECRET not in repr(request) and "<redacted>" in repr(request)
