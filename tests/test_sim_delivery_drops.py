"""Webhook delivery when the app closes a kept-alive connection (omnimsg_sim.drive).

An app may close a kept-alive connection right after answering (uvicorn does, after a request
whose app raised): the simulator's next delivery can go out on that connection and fail
without the app ever seeing it. Each poster sends such a delivery once more, at once, on
another connection, and nothing else: not a timeout, not a refused connection, not an answer.

The app here is a small HTTP/1.1 server on 127.0.0.1 (port 0, a thread per connection) that
follows a script: for each request it reads, answer it, or drop the connection without
answering. Dropping when the *next* request arrives is what a close racing with a delivery
looks like from the client, without depending on who is faster: every test is deterministic.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Callable
from typing import Any

import aiohttp
import httpx
import pytest

from omnimsg_sim.drive import (
    _aiohttp_dropped,
    _httpx_dropped,
    aiohttp_poster,
    post_async,
    post_sync,
)
from omnimsg_sim.effects import Delivery, DeliveryOutcome

pytestmark = pytest.mark.slow

Script = Callable[[int, int, bytes], str]
"""What the app does with a request: (connection number, request number on it, body) ->
``ok`` (200, kept alive), ``500-close`` (500, then it closes), ``fin`` / ``rst`` (closes
without answering, gracefully or with a reset), ``partial`` (a status, then it closes halfway
through the body) or ``garbage`` (a line that is no HTTP status, then it closes)."""


def _read_request(reader: Any) -> bytes | None:
    """The body of the next request on a connection, or ``None`` once the client closed it."""
    line = reader.readline()
    if not line:
        return None
    length = 0
    while line not in (b"\r\n", b""):
        line = reader.readline()
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    body: bytes = reader.read(length)
    return body


class App:
    """The scripted app. ``seen``: every request read; ``answered``: (status, body) it answered.

    Each is recorded before the client can learn of it (a request when read, an answer before
    it is written), so both lists are in the order the client caused them, whichever
    connection's thread served each: the client can only go on, perhaps on another connection,
    once it has the answer.
    """

    def __init__(self, script: Script) -> None:
        self.script = script
        self.seen: list[tuple[int, int, bytes]] = []
        self.answered: list[tuple[int, bytes]] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._connections: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._stopping = False
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        """Where the app takes webhooks."""
        return f"http://127.0.0.1:{self.port}/webhooks"

    def _accept(self) -> None:
        number = 0
        while True:
            conn, _ = self._listener.accept()
            if self._stopping:
                conn.close()
                return
            with self._lock:
                self._connections.append(conn)
            thread = threading.Thread(target=self._serve, args=(conn, number), daemon=True)
            self._threads.append(thread)
            thread.start()
            number += 1

    def _answer(self, conn: socket.socket, status: int, body: bytes, request: bytes) -> None:
        with self._lock:  # before it is written: the client may act on it at once
            self.answered.append((status, request))
        head = b"HTTP/1.1 %d X\r\nContent-Length: %d\r\n" % (status, len(body))
        conn.sendall(head + b"\r\n" + body)

    def _serve(self, conn: socket.socket, number: int) -> None:
        reader = conn.makefile("rb")
        try:
            for index in range(1_000):
                body = _read_request(reader)
                if body is None:
                    return
                with self._lock:
                    self.seen.append((number, index, body))
                action = self.script(number, index, body)
                if action == "ok":
                    self._answer(conn, 200, b"ok", body)
                    continue
                if action == "500-close":  # uvicorn after an app error: no "Connection: close"
                    self._answer(conn, 500, b"Internal Server Error", body)
                elif action == "partial":
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok")
                elif action == "garbage":
                    conn.sendall(b"NOT HTTP AT ALL\r\n\r\n")
                elif action == "rst":  # close with a reset, not a FIN
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                else:
                    assert action == "fin", action
                return
        except OSError:
            return  # stopped
        finally:
            reader.close()
            conn.close()

    def __enter__(self) -> App:
        thread = threading.Thread(target=self._accept, daemon=True)
        self._threads.append(thread)
        thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping = True
        with contextlib.suppress(OSError):  # wakes the accept()
            socket.create_connection(("127.0.0.1", self.port)).close()
        with self._lock:
            for conn in self._connections:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(10)
        self._listener.close()


def _delivery(n: int, url: str) -> Delivery:
    return Delivery(
        id=n,
        platform="whatsapp",
        account="1",
        kind="status",
        url=url,
        body=b'{"n":%d}' % n,
        headers=(("content-type", "application/json"),),
    )


def _deliver(poster: str, url: str, count: int) -> list[DeliveryOutcome]:
    """Deliver ``count`` webhooks one after another over one client (one pooled connection)."""
    deliveries = [_delivery(n, url) for n in range(1, count + 1)]
    if poster == "httpx-sync":
        with httpx.Client(timeout=10) as client:
            return [post_sync(client, d) for d in deliveries]

    async def main() -> list[DeliveryOutcome]:
        if poster == "httpx-async":
            async with httpx.AsyncClient(timeout=10) as client:
                return [await post_async(client, d) for d in deliveries]
        assert poster == "aiohttp"
        async with aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=10), trust_env=False
        ) as session:
            post = aiohttp_poster(session)
            return [await post(d) for d in deliveries]

    return asyncio.run(main())


POSTERS = ["aiohttp", "httpx-async", "httpx-sync"]


@pytest.mark.parametrize("close", ["fin", "rst"])
@pytest.mark.parametrize("poster", POSTERS)
def test_a_delivery_on_a_connection_the_app_closed_goes_out_once_more(
    poster: str, close: str
) -> None:
    # Each connection serves one request; the next one on it is dropped unanswered.
    with App(lambda _c, index, _b: "ok" if index == 0 else close) as app:
        outcomes = _deliver(poster, app.url, 3)
    assert [o.status for o in outcomes] == [200, 200, 200], outcomes
    # The second went out on the first connection, was dropped, and went again on a new one.
    seen = [(0, 0, b'{"n":1}'), (0, 1, b'{"n":2}'), (1, 0, b'{"n":2}')]
    if poster == "aiohttp":  # its retry's connection is its own: the third opens another
        seen += [(2, 0, b'{"n":3}')]
    else:  # httpx's retry took a pooled connection: the third is dropped on it, and retried
        seen += [(1, 1, b'{"n":3}'), (2, 0, b'{"n":3}')]
    assert app.seen == seen
    assert app.answered == [(200, b'{"n":%d}' % n) for n in (1, 2, 3)]  # each once


@pytest.mark.parametrize("poster", POSTERS)
def test_a_dropped_delivery_goes_out_once_more_only(poster: str) -> None:
    with App(lambda _c, _i, _b: "fin") as app:  # drops every request
        (outcome,) = _deliver(poster, app.url, 1)
    assert outcome.status is None and outcome.error, outcome
    assert app.seen == [(0, 0, b'{"n":1}'), (1, 0, b'{"n":1}')]  # the retry, then no more


@pytest.mark.parametrize("answer", ["partial", "garbage"])
@pytest.mark.parametrize("poster", POSTERS)
def test_an_answer_cut_short_or_malformed_is_not_sent_again(poster: str, answer: str) -> None:
    # The app said something: the attempt failed (retried later on the virtual clock), but it
    # is not sent again at once.
    with App(lambda _c, _i, _b: answer) as app:
        (outcome,) = _deliver(poster, app.url, 1)
    assert outcome.status is None and outcome.error, outcome
    assert app.seen == [(0, 0, b'{"n":1}')]


@pytest.mark.parametrize("poster", POSTERS)
def test_a_500_is_the_apps_answer_and_the_next_delivery_gets_through(poster: str) -> None:
    # uvicorn's case: a 500, then the connection closes. The 500 stands; the next delivery
    # reaches the app whether or not it was written on the closing connection first.
    with App(lambda _c, _i, body: "500-close" if body == b'{"n":1}' else "ok") as app:
        outcomes = _deliver(poster, app.url, 2)
    assert [o.status for o in outcomes] == [500, 200], outcomes
    assert app.answered == [(500, b'{"n":1}'), (200, b'{"n":2}')]


def _closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as s:
        port: int = s.getsockname()[1]
    return port


def test_refused_connections_and_timeouts_are_not_drops() -> None:
    url = f"http://127.0.0.1:{_closed_port()}/webhooks"
    with pytest.raises(httpx.ConnectError) as refused, httpx.Client() as client:
        client.post(url)
    assert not _httpx_dropped(refused.value)
    for timeout in (httpx.ReadTimeout("t"), httpx.WriteTimeout("t"), httpx.PoolTimeout("t")):
        assert not _httpx_dropped(timeout)
    assert _httpx_dropped(httpx.ReadError("reset")) and _httpx_dropped(httpx.WriteError("pipe"))

    async def aiohttp_refused() -> BaseException:
        async with aiohttp.ClientSession() as session:
            try:
                await session.post(url)
            except aiohttp.ClientError as exc:
                return exc
        raise AssertionError("connected to a closed port")

    exc = asyncio.run(aiohttp_refused())
    assert isinstance(exc, aiohttp.ClientConnectorError)
    assert not _aiohttp_dropped(exc)
    assert not _aiohttp_dropped(aiohttp.ServerTimeoutError("t"))
    assert not _aiohttp_dropped(aiohttp.ConnectionTimeoutError("t"))
    assert not _aiohttp_dropped(TimeoutError())
    assert _aiohttp_dropped(aiohttp.ServerDisconnectedError())
