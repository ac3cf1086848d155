"""The simulator's drivers: perform deliveries (webhooks to the app) and pauses."""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar

import httpx

from omnimsg.clock import SystemClock

from .effects import Deliver, Delivery, DeliveryOutcome, Pause, SimFlow

T = TypeVar("T")


def _outcome(status: int, body: bytes) -> DeliveryOutcome:
    return DeliveryOutcome(status=status, body=body[:65536])


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


def run_sync(flow: SimFlow[T], client: httpx.Client) -> T:
    """Drive a core flow with blocking I/O."""
    value: Any = None
    while True:
        try:
            effect = flow.send(value)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        if isinstance(effect, Deliver):
            value = post_sync(client, effect.delivery)
        elif isinstance(effect, Pause):
            SystemClock().sleep(effect.seconds)  # injected latency is real time by design
            value = None


async def run_async(flow: SimFlow[T], client: httpx.AsyncClient) -> T:
    """Drive a core flow without blocking the loop."""
    value: Any = None
    while True:
        try:
            effect = flow.send(value)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        if isinstance(effect, Deliver):
            value = await post_async(client, effect.delivery)
        elif isinstance(effect, Pause):
            await asyncio.sleep(effect.seconds)
            value = None
