"""The simulator's drivers: perform deliveries (webhooks to the app) and pauses.

A blocking driver performs a batch's deliveries one at a time; the async drivers keep up to
``[sim] webhook_concurrency`` in flight, never two of one conversation at once (the batch
sees to that: :mod:`omnimsg_sim.dispatch`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

import httpx

from omnimsg.clock import SystemClock

from .dispatch import Batch, Job
from .effects import Deliver, DeliverBatch, Delivery, DeliveryOutcome, Pause, SimFlow

if TYPE_CHECKING:
    import aiohttp

T = TypeVar("T")

Poster: TypeAlias = Callable[[Delivery], Awaitable[DeliveryOutcome]]
"""Performs one delivery asynchronously."""

_MAX_ANSWER = 65536  # bytes of the app's answer that are kept


def _outcome(status: int, body: bytes) -> DeliveryOutcome:
    return DeliveryOutcome(status=status, body=body[:_MAX_ANSWER])


# --- a kept-alive connection the app closed ---------------------------------------------------
#
# An app may close a kept-alive connection right after answering (uvicorn does, after a request
# whose app raised and got a 500). The next delivery can be written on that connection before
# its close has reached the pool, and fails without the app ever having seen it: no platform
# counts that as the app's failure. Every poster below sends such a delivery once more, at once,
# on another connection. Only a connection that dropped before any answer's status line was
# read qualifies: not a timeout, not a refused connection, not an answer (even a broken one),
# and one more failure is the attempt's outcome. The app may see the delivery twice at worst
# (it dropped the connection after reading it), which at-least-once delivery allows anyway.


def _h11_error(exc: BaseException) -> bool:
    """Was ``exc`` raised by h11 on bytes the server sent (a malformed answer)?"""
    import h11  # httpcore's HTTP/1.1 parser

    seen: BaseException | None = exc
    while seen is not None:  # httpx's error is raised from httpcore's, raised in h11's
        if isinstance(seen, h11.RemoteProtocolError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _httpx_dropped(exc: httpx.HTTPError) -> bool:
    """Did httpx's connection drop before any answer came (raised while sending, or waiting)?"""
    if isinstance(exc, httpx.ReadError | httpx.WriteError):
        return True
    # "Server disconnected without sending a response." is httpcore's own; a malformed status
    # line is h11's, mapped: the server did answer.
    return isinstance(exc, httpx.RemoteProtocolError) and not _h11_error(exc)


def post_sync(client: httpx.Client, delivery: Delivery) -> DeliveryOutcome:
    """Deliver one webhook with a blocking httpx client (once more if the connection dropped)."""
    try:
        request = client.build_request(
            delivery.method, delivery.url, headers=delivery.headers, content=delivery.body or None
        )
        try:
            r = client.send(request, stream=True)  # returns once the status and headers are in
        except httpx.HTTPError as exc:
            if not _httpx_dropped(exc):
                raise
            # httpcore dropped that connection and checks an idle one for a close before reusing
            # it: the retry goes on a new connection or on one still open.
            r = client.send(request, stream=True)
        try:
            body = r.read()
        finally:
            r.close()
    except httpx.TimeoutException:
        return DeliveryOutcome(status=None, error="timeout")
    except (httpx.HTTPError, httpx.InvalidURL) as exc:  # the app is unreachable or the URL bad
        return DeliveryOutcome(status=None, error=f"{type(exc).__name__}: {exc}")
    return _outcome(r.status_code, body)


async def post_async(client: httpx.AsyncClient, delivery: Delivery) -> DeliveryOutcome:
    """Deliver one webhook with an async httpx client (once more if the connection dropped)."""
    try:
        request = client.build_request(
            delivery.method, delivery.url, headers=delivery.headers, content=delivery.body or None
        )
        try:
            r = await client.send(request, stream=True)  # the status and headers are in
        except httpx.HTTPError as exc:
            if not _httpx_dropped(exc):
                raise
            r = await client.send(request, stream=True)  # as post_sync: on another connection
        try:
            body = await r.aread()
        finally:
            await r.aclose()
    except httpx.TimeoutException:
        return DeliveryOutcome(status=None, error="timeout")
    except (httpx.HTTPError, httpx.InvalidURL) as exc:  # the app is unreachable or the URL bad
        return DeliveryOutcome(status=None, error=f"{type(exc).__name__}: {exc}")
    return _outcome(r.status_code, body)


def _aiohttp_dropped(exc: BaseException) -> bool:
    """Did aiohttp's connection drop before any answer came (raised while sending, or waiting)?

    The classes aiohttp itself retries an idempotent request on a reused connection for.
    """
    import aiohttp

    if isinstance(exc, TimeoutError | aiohttp.ClientConnectorError):  # timed out, or refused
        return False
    return isinstance(
        exc,
        aiohttp.ServerDisconnectedError
        | aiohttp.ClientOSError
        | aiohttp.ClientConnectionResetError,
    )


def aiohttp_poster(session: aiohttp.ClientSession) -> Poster:
    """Deliver webhooks with an aiohttp session (the server's driver: the fastest client).

    A delivery whose connection dropped before any answer goes out once more on a connection
    of its own (the note on dropped connections, above).
    """
    import aiohttp
    import yarl

    async def once_more(delivery: Delivery, url: yarl.URL) -> DeliveryOutcome:
        # On a connection of its own: after a drop, the pool may hold more connections the app
        # closed (all of them, if it restarted) that the loop has not seen closing yet. The
        # session's timeout and headers; TLS as the server's session has it (the defaults).
        async with (
            aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(force_close=True),
                timeout=session.timeout,
                headers=session.headers,
                trust_env=session.trust_env,
            ) as fresh,
            fresh.request(
                delivery.method,
                url,
                headers=delivery.headers,
                data=delivery.body or None,
                allow_redirects=False,
            ) as r,
        ):
            return _outcome(r.status, await r.read())

    async def post(delivery: Delivery) -> DeliveryOutcome:
        try:
            # encoded=True: the URL goes out exactly as built (the handshake's query included).
            url = yarl.URL(delivery.url, encoded=True)
            try:
                # Awaited, the request returns once the status and headers are in.
                response = await session.request(
                    delivery.method,
                    url,
                    headers=delivery.headers,
                    data=delivery.body or None,
                    allow_redirects=False,
                )
            except Exception as exc:
                if not _aiohttp_dropped(exc):
                    raise
                return await once_more(delivery, url)
            async with response as r:
                return _outcome(r.status, await r.read())
        except TimeoutError:
            return DeliveryOutcome(status=None, error="timeout")
        except (aiohttp.ClientError, ValueError) as exc:  # unreachable, or the URL is bad
            return DeliveryOutcome(status=None, error=f"{type(exc).__name__}: {exc}")

    return post


def _poster(client: httpx.AsyncClient | Poster) -> Poster:
    if isinstance(client, httpx.AsyncClient):

        async def post(delivery: Delivery) -> DeliveryOutcome:
            return await post_async(client, delivery)

        return post
    return client


def run_batch_sync(batch: Batch, client: httpx.Client) -> None:
    """Drain a batch with blocking I/O, one delivery at a time (in the order they started)."""
    try:
        while True:
            job = batch.take()
            if job is None:
                return
            if isinstance(job, Job):
                batch.finish(job, [post_sync(client, job.delivery) for _ in range(job.times)])
    finally:
        batch.close()


async def run_batch_async(batch: Batch, post: Poster) -> None:
    """Drain a batch with up to ``batch.concurrency`` deliveries in flight.

    The batch decides what may start (one per conversation, due by the virtual "now"); this
    loop only keeps the slots full. A worker performs a delivery, reports its outcome and goes
    on with the next one that may start (its lane's next delivery first), starting a worker
    for each further one that may start then; it ends when none may. So a slow conversation
    holds up nothing but itself, and a backlog costs a task per slot, not per delivery.
    """
    loop = asyncio.get_running_loop()
    workers: set[asyncio.Task[None]] = set()
    failures: list[BaseException] = []
    changed = asyncio.Event()  # the last worker ended, or one failed

    async def startable() -> Job | None:
        while True:
            job = batch.take()
            if job is None or isinstance(job, Job):
                return job
            await asyncio.sleep(0)  # AGAIN: a burst of in-process (sink) deliveries

    async def start_all() -> None:
        while (job := await startable()) is not None:
            worker = loop.create_task(work(job))
            workers.add(worker)
            worker.add_done_callback(ended)

    def ended(worker: asyncio.Task[None]) -> None:
        workers.discard(worker)
        if not workers:
            changed.set()

    async def work(job: Job) -> None:
        try:
            while True:
                outcomes = [await post(job.delivery)]
                for _ in range(job.times - 1):  # a duplicate fault: the same attempt again
                    outcomes.append(await post(job.delivery))
                batch.finish(job, outcomes)
                following = await startable()
                if following is None:
                    return
                await start_all()  # more may start than this slot: the clock runs, say
                job = following
        except Exception as exc:  # raised by the loop below
            failures.append(exc)
            changed.set()

    try:
        await start_all()
        while workers and not failures:
            changed.clear()
            await changed.wait()
        if failures:
            raise failures[0]
    finally:
        for worker in workers:
            worker.cancel()
        if workers:
            await asyncio.gather(*workers, return_exceptions=True)
        batch.close()


def run_sync(flow: SimFlow[T], client: httpx.Client) -> T:
    """Drive a core flow with blocking I/O."""
    value: Any = None
    while True:
        try:
            effect = flow.send(value)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        value = None
        if isinstance(effect, Deliver):
            value = post_sync(client, effect.delivery)
        elif isinstance(effect, DeliverBatch):
            run_batch_sync(effect.batch, client)
        elif isinstance(effect, Pause):
            SystemClock().sleep(effect.seconds)  # injected latency is real time by design


async def run_async(flow: SimFlow[T], client: httpx.AsyncClient | Poster) -> T:
    """Drive a core flow without blocking the loop.

    ``client`` is an httpx async client (the in-process simulator's transports) or a
    :data:`Poster` (the server delivers with aiohttp: :func:`aiohttp_poster`).
    """
    post = _poster(client)
    value: Any = None
    while True:
        try:
            effect = flow.send(value)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        value = None
        if isinstance(effect, Deliver):
            value = await post(effect.delivery)
        elif isinstance(effect, DeliverBatch):
            await run_batch_async(effect.batch, post)
        elif isinstance(effect, Pause):
            await asyncio.sleep(effect.seconds)
