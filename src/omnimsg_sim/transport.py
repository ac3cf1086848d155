"""In-process mode: the simulator as an httpx transport (no socket, no server).

::

    sim = InProcessSimulator(config)                     # omnimsg_sim.InProcessSimulator
    client = omnimsg.Client([...], transport=sim.transport())
    async_client = omnimsg.AsyncClient([...], transport=sim.async_transport())

Webhooks go to each account's ``webhook_url`` through ``webhook_transport`` (for example
``httpx.MockTransport(handler)`` or ``httpx.ASGITransport(app)`` of the app under test).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import httpx

from .config import SimConfig
from .core import SimCore
from .drive import run_async, run_sync
from .effects import SimRequest, SimResponse
from .world import World

__all__ = ["InProcessSimulator"]


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


def _response(r: SimResponse) -> httpx.Response:
    return httpx.Response(
        r.status, headers=[("content-type", r.content_type), *r.headers], content=r.body
    )


class _SyncTransport(httpx.BaseTransport):
    def __init__(self, sim: InProcessSimulator) -> None:
        self.sim = sim

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return _response(self.sim.handle(_sim_request(request, request.read())))


class _AsyncTransport(httpx.AsyncBaseTransport):
    def __init__(self, sim: InProcessSimulator) -> None:
        self.sim = sim

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return _response(await self.sim.ahandle(_sim_request(request, await request.aread())))


class InProcessSimulator:
    """The whole simulator in this process: call it through :meth:`transport`.

    Args:
        config: the simulator configuration.
        webhook_transport: how webhooks reach the app (sync); default: real HTTP.
        async_webhook_transport: the same for the async face.
        world: share an existing world (advanced).
    """

    base_url = "http://omnimsg-sim.test"

    def __init__(
        self,
        config: SimConfig,
        *,
        webhook_transport: httpx.BaseTransport | None = None,
        async_webhook_transport: httpx.AsyncBaseTransport | None = None,
        world: World | None = None,
    ) -> None:
        self.core = SimCore(config, world=world)
        self._http = httpx.Client(transport=webhook_transport, timeout=config.sim.webhook_timeout)
        self._ahttp = httpx.AsyncClient(
            transport=async_webhook_transport, timeout=config.sim.webhook_timeout
        )

    @classmethod
    def with_handler(
        cls, config: SimConfig, handler: Callable[[httpx.Request], httpx.Response]
    ) -> InProcessSimulator:
        """Deliver webhooks to a plain function ``handler(request) -> response``."""
        return cls(config, webhook_transport=httpx.MockTransport(handler))

    def transport(self) -> httpx.BaseTransport:
        """An httpx transport for sync clients."""
        return _SyncTransport(self)

    def async_transport(self) -> httpx.AsyncBaseTransport:
        """An httpx transport for async clients."""
        return _AsyncTransport(self)

    def handle(self, request: SimRequest) -> SimResponse:
        """Answer one request, then deliver what fell due (sync)."""
        response = run_sync(self.core.handle(request), self._http)
        if not request.path.startswith("/_sim"):
            run_sync(self.core.pump(), self._http)
        return response

    async def ahandle(self, request: SimRequest) -> SimResponse:
        """Answer one request, then deliver what fell due (async)."""
        response = await run_async(self.core.handle(request), self._ahttp)
        if not request.path.startswith("/_sim"):
            await run_async(self.core.pump(), self._ahttp)
        return response

    def control(self, method: str, path: str, body: Any = None) -> Any:
        """Call the ``/_sim`` control plane directly and return the decoded JSON."""
        import json

        raw = b"" if body is None else json.dumps(body).encode()
        path, _, query = path.partition("?")
        request = SimRequest(
            method=method, path=path, query=parse_qs(query), body=raw, base_url=self.base_url
        )
        response = self.handle(request)
        return json.loads(response.body) if response.body else None

    def close(self) -> None:
        """Close the webhook HTTP client."""
        self._http.close()

    async def aclose(self) -> None:
        """Close both webhook HTTP clients."""
        self._http.close()
        await self._ahttp.aclose()
