"""In-process mode: the simulator as an httpx transport (no socket, no server).

::

    sim = InProcessSimulator(config)                     # omnimsg_sim.InProcessSimulator
    client = omnimsg.Client([...], transport=sim.transport(), clock=sim.clock)
    async_client = omnimsg.AsyncClient([...], transport=sim.async_transport(), clock=sim.clock)
    sim.deliver_webhooks_to(app)                         # your ASGI or WSGI app, or a transport

Webhooks go to each account's ``webhook_url`` through that target. Either kind of app or
transport serves both the sync and the async path: an ASGI app reached from sync code runs on
a private event loop in a helper thread, a WSGI app reached from async code in a worker thread.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, TypeVar
from urllib.parse import parse_qs

import httpx

from omnimsg.clock import FakeClock, OffsetClock
from omnimsg.exceptions import ConfigurationError

from .config import SimConfig
from .core import SimCore
from .drive import run_async, run_sync
from .effects import TIME_HEADER, SimRequest, SimResponse
from .platforms import SimAdapter
from .world import World

__all__ = ["InProcessSimulator"]

T = TypeVar("T")


def _sim_request(request: httpx.Request, body: bytes) -> SimRequest:
    url = request.url
    return SimRequest(
        method=request.method,
        path=url.path,
        query=parse_qs(url.query.decode(), keep_blank_values=True),
        headers={k.lower(): v for k, v in request.headers.items()},
        body=body,
        base_url=f"{url.scheme}://{url.netloc.decode()}",
    )


def _response(r: SimResponse, now: float) -> httpx.Response:
    headers = [("content-type", r.content_type), *r.headers, (TIME_HEADER, repr(now))]
    return httpx.Response(r.status, headers=headers, content=r.body)


class _SyncTransport(httpx.BaseTransport):
    def __init__(self, sim: InProcessSimulator) -> None:
        self.sim = sim

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return _response(self.sim.handle(_sim_request(request, request.read())), self.sim.now())


class _AsyncTransport(httpx.AsyncBaseTransport):
    def __init__(self, sim: InProcessSimulator) -> None:
        self.sim = sim

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return _response(
            await self.sim.ahandle(_sim_request(request, await request.aread())), self.sim.now()
        )


class _Portal:
    """A private event loop in a daemon thread: runs coroutines for blocking callers."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="omnimsg-sim-portal", daemon=True
        )
        self._thread.start()

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()


class _BlockingTransport(httpx.BaseTransport):
    """An async transport (an ASGI app) made callable from sync code."""

    def __init__(self, inner: httpx.AsyncBaseTransport, portal: Callable[[], _Portal]) -> None:
        self._inner = inner
        self._portal = portal

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        async def call() -> httpx.Response:
            response = await self._inner.handle_async_request(request)
            await response.aread()
            return response

        response = self._portal().call(call())
        return httpx.Response(
            response.status_code, headers=response.headers, content=response.content
        )


class _ThreadedTransport(httpx.AsyncBaseTransport):
    """A sync transport (a WSGI app) made awaitable: it runs in a worker thread.

    One request at a time, even when webhooks go out concurrently: a sync app (and its
    store) is rarely safe to call from two threads at once.
    """

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self._inner = inner
        self._one_at_a_time = threading.RLock()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        def call() -> httpx.Response:
            with self._one_at_a_time:
                response = self._inner.handle_request(request)
                response.read()
                return response

        response = await asyncio.to_thread(call)
        return httpx.Response(
            response.status_code, headers=response.headers, content=response.content
        )


def _is_async_only(transport: object) -> bool:
    if isinstance(transport, httpx.MockTransport):
        # A MockTransport serves both paths, unless its handler is a coroutine function.
        return inspect.iscoroutinefunction(transport.handler)
    return isinstance(transport, httpx.AsyncBaseTransport) and not isinstance(
        transport, httpx.BaseTransport
    )


def _as_transport(target: object) -> httpx.BaseTransport | httpx.AsyncBaseTransport:
    """A transport for ``target``: a transport, an ASGI app, a WSGI app or a handler function."""
    if isinstance(target, httpx.BaseTransport | httpx.AsyncBaseTransport):
        return target
    if not callable(target):
        raise ConfigurationError(
            f"cannot deliver webhooks to {target!r}: give an ASGI or WSGI app, an httpx "
            "transport, or a function request -> response"
        )
    call = getattr(target, "__call__", target)  # noqa: B004 - apps are objects with __call__
    if inspect.iscoroutinefunction(target) or inspect.iscoroutinefunction(call):
        try:
            params = len(inspect.signature(target).parameters)
        except (TypeError, ValueError):
            params = 3
        if params == 1:
            return httpx.MockTransport(target)  # an async handler function
        return httpx.ASGITransport(app=target)
    try:
        params = len(inspect.signature(target).parameters)
    except (TypeError, ValueError):
        params = 2
    if params == 1:
        return httpx.MockTransport(target)
    return httpx.WSGITransport(app=target)


class InProcessSimulator:
    """The whole simulator in this process: call it through :meth:`transport`.

    Args:
        config: the simulator configuration.
        webhook_transport: where webhooks go: an httpx transport of either kind (for example
            ``httpx.MockTransport(handler)``, ``httpx.WSGITransport(app)``,
            ``httpx.ASGITransport(app)``); default: real HTTP to each ``webhook_url``.
        async_webhook_transport: a transport for the async path only (when the sync path
            needs another one).
        app: shorthand for :meth:`deliver_webhooks_to` (an ASGI or WSGI app).
        world: share an existing world (advanced).
        adapters: more simulated platforms (:class:`omnimsg_sim.platforms.SimAdapter`),
            served beside the shipped ones (see "Adding a platform" in the docs).

    Give your clients ``clock=sim.clock`` so that their pre-flight checks and the simulator
    agree on "now".
    """

    base_url = "http://omnimsg-sim.test"

    def __init__(
        self,
        config: SimConfig,
        *,
        webhook_transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None = None,
        async_webhook_transport: httpx.AsyncBaseTransport | None = None,
        app: object = None,
        world: World | None = None,
        adapters: Iterable[SimAdapter] = (),
    ) -> None:
        self.core = SimCore(config, world=world, adapters=adapters)
        self._timeout = config.sim.webhook_timeout
        self._portal: _Portal | None = None
        self._http = httpx.Client(timeout=self._timeout)
        self._ahttp = httpx.AsyncClient(timeout=self._timeout)  # opens nothing until used
        if webhook_transport is not None:
            self._target(webhook_transport)
        if async_webhook_transport is not None:
            self._swap_async(async_webhook_transport)
        if app is not None:
            self.deliver_webhooks_to(app)

    @classmethod
    def with_handler(
        cls, config: SimConfig, handler: Callable[[httpx.Request], httpx.Response]
    ) -> InProcessSimulator:
        """Deliver webhooks to a plain function ``handler(request) -> response``."""
        return cls(config, webhook_transport=httpx.MockTransport(handler))

    @property
    def clock(self) -> FakeClock | OffsetClock:
        """The simulator's (virtual) clock: give it to the clients under test."""
        return self.core.world.clock

    def now(self) -> float:
        """The simulator's current time (Unix seconds)."""
        return self.core.world.now()

    def deliver_webhooks_to(self, target: object) -> None:
        """Send webhooks to ``target`` from now on, on the sync and the async path alike.

        ``target`` is an ASGI app (FastAPI, Starlette, Django's ASGI handler...), a WSGI app
        (Flask, Django's WSGI handler...), an httpx transport, or a function
        ``request -> response``.
        """
        self._target(_as_transport(target))

    def _target(self, transport: httpx.BaseTransport | httpx.AsyncBaseTransport) -> None:
        if _is_async_only(transport):
            assert isinstance(transport, httpx.AsyncBaseTransport)
            self._swap_sync(_BlockingTransport(transport, self._get_portal))
            self._swap_async(transport)
            return
        assert isinstance(transport, httpx.BaseTransport)
        self._swap_sync(transport)
        if isinstance(transport, httpx.MockTransport):
            self._swap_async(transport)
        else:
            self._swap_async(_ThreadedTransport(transport))

    def _swap_sync(self, transport: httpx.BaseTransport) -> None:
        self._http.close()
        self._http = httpx.Client(transport=transport, timeout=self._timeout)

    def _swap_async(self, transport: httpx.AsyncBaseTransport) -> None:
        # Nothing was sent through the old async client yet, or its pool is idle: a new one
        # is safe without awaiting the old one's close.
        self._ahttp = httpx.AsyncClient(transport=transport, timeout=self._timeout)

    def _get_portal(self) -> _Portal:
        if self._portal is None:
            self._portal = _Portal()
        return self._portal

    def transport(self) -> httpx.BaseTransport:
        """An httpx transport for sync clients."""
        return _SyncTransport(self)

    def async_transport(self) -> httpx.AsyncBaseTransport:
        """An httpx transport for async clients."""
        return _AsyncTransport(self)

    def handle(self, request: SimRequest) -> SimResponse:
        """Answer one request, then deliver what fell due (sync: one webhook at a time)."""
        response = run_sync(self.core.handle(request), self._http)
        if self.core.wants_pump(request.path):
            run_sync(self.core.pump(collect=False), self._http)
        return response

    async def ahandle(self, request: SimRequest) -> SimResponse:
        """Answer one request, then deliver what fell due (async).

        Up to ``[sim] webhook_concurrency`` webhooks are in flight at once, one per
        conversation at most (an app reached through a WSGI transport still gets one request
        at a time: sync apps are rarely thread-safe).
        """
        response = await run_async(self.core.handle(request), self._ahttp)
        if self.core.wants_pump(request.path):
            await run_async(self.core.pump(collect=False), self._ahttp)
        return response

    def _request(self, method: str, path: str, body: Any) -> SimRequest:
        import json

        raw = b"" if body is None else json.dumps(body).encode()
        path, _, query = path.partition("?")
        return SimRequest(
            method=method, path=path, query=parse_qs(query), body=raw, base_url=self.base_url
        )

    def control(self, method: str, path: str, body: Any = None) -> Any:
        """Call the ``/_sim`` control plane directly and return the decoded JSON."""
        import json

        response = self.handle(self._request(method, path, body))
        return json.loads(response.body) if response.body else None

    async def acontrol(self, method: str, path: str, body: Any = None) -> Any:
        """:meth:`control` through the async path (webhooks reach async apps on this loop)."""
        import json

        response = await self.ahandle(self._request(method, path, body))
        return json.loads(response.body) if response.body else None

    def close(self) -> None:
        """Close the webhook HTTP client and the helper thread, if one was started."""
        self._http.close()
        if self._portal is not None:
            self._portal.close()
            self._portal = None

    async def aclose(self) -> None:
        """Close both webhook HTTP clients."""
        await self._ahttp.aclose()
        self.close()
