"""The simulator's drivers: perform deliveries (webhooks to the app) and pauses.

A blocking driver performs a batch's deliveries one at a time; the async drivers keep up to
``[sim] webhook_concurrency`` in flight, never two of one conversation at once (the batch
sees to that: :mod:`omnimsg_sim.dispatch`).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

import httpx

from omnimsg.clock import SystemClock

from .dispatch import AGAIN, Batch, Job
from .effects import Deliver, DeliverBatch, Delivery, DeliveryOutcome, Pause, SimFlow

if TYPE_CHECKING:
    import aiohttp

T = TypeVar("T")

Poster: TypeAlias = Callable[[Delivery], Awaitable[DeliveryOutcome]]
"""Performs one delivery asynchronously."""

_MAX_ANSWER = 65536  # bytes of the app's answer that are kept


def _outcome(status: int, body: bytes) -> DeliveryOutcome:
    return DeliveryOutcome(status=status, body=body[:_MAX_ANSWER])


def post_sync(client: httpx.Client, delivery: Delivery) -> DeliveryOutcome:
    """Deliver one webhook with a blocking httpx client."""
    try:
        r = client.request(
            delivery.method, delivery.url, headers=delivery.headers, content=delivery.body or None
        )
    except httpx.TimeoutException:
        return DeliveryOutcome(status=None, error="timeout")
    except (httpx.HTTPError, httpx.InvalidURL) as exc:  # the app is unreachable or the URL bad
        return DeliveryOutcome(status=None, error=f"{type(exc).__name__}: {exc}")
    return _outcome(r.status_code, r.content)


async def post_async(client: httpx.AsyncClient, delivery: Delivery) -> DeliveryOutcome:
    """Deliver one webhook with an async httpx client."""
    try:
        r = await client.request(
            delivery.method, delivery.url, headers=delivery.headers, content=delivery.body or None
        )
    except httpx.TimeoutException:
        return DeliveryOutcome(status=None, error="timeout")
    except (httpx.HTTPError, httpx.InvalidURL) as exc:  # the app is unreachable or the URL bad
        return DeliveryOutcome(status=None, error=f"{type(exc).__name__}: {exc}")
    return _outcome(r.status_code, r.content)


def aiohttp_poster(session: aiohttp.ClientSession) -> Poster:
    """Deliver webhooks with an aiohttp session (the server's driver: the fastest client)."""
    import aiohttp
    import yarl

    async def post(delivery: Delivery) -> DeliveryOutcome:
        try:
            # encoded=True: the URL goes out exactly as built (the handshake's query included).
            url = yarl.URL(delivery.url, encoded=True)
            async with session.request(
                delivery.method,
                url,
                headers=delivery.headers,
                data=delivery.body or None,
                allow_redirects=False,
            ) as r:
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
    loop only keeps the slots full and reports each outcome as it comes back, so a slow
    conversation holds up nothing but itself.
    """
    finished: deque[tuple[Job, list[DeliveryOutcome] | BaseException]] = deque()
    wake = asyncio.Event()
    tasks: set[asyncio.Task[None]] = set()
    loop = asyncio.get_running_loop()

    async def perform(job: Job) -> None:
        result: list[DeliveryOutcome] | BaseException
        try:
            result = [await post(job.delivery) for _ in range(job.times)]
        except Exception as exc:  # handed to the loop below, which raises it
            result = exc
        finished.append((job, result))
        wake.set()

    try:
        while True:
            while True:  # start what may start (the batch keeps to the limit)
                job = batch.take()
                if job is None:
                    break
                if job is AGAIN:
                    await asyncio.sleep(0)  # a burst of in-process (sink) deliveries
                    continue
                assert isinstance(job, Job)
                task = loop.create_task(perform(job))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            if not batch.in_flight:
                return
            await wake.wait()
            wake.clear()
            while finished:
                job, result = finished.popleft()
                if isinstance(result, BaseException):
                    raise result
                batch.finish(job, result)
    finally:
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
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
