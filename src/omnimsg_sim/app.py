"""Server mode: the simulator on aiohttp, every platform on one port."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
from aiohttp import web

from .config import SimConfig
from .core import SimCore
from .drive import run_async
from .effects import TIME_HEADER, SimRequest
from .world import World

__all__ = ["Simulator", "create_app"]

_CORE = web.AppKey("core", SimCore)
_HTTP = web.AppKey("http", httpx.AsyncClient)
_TASKS = web.AppKey("tasks", set)
_PUMP_INTERVAL = 0.05  # seconds between checks for due webhooks in "running" clock mode


def create_app(config: SimConfig, *, core: SimCore | None = None) -> web.Application:
    """The aiohttp application serving the platforms and ``/_sim``."""
    app = web.Application(client_max_size=config.sim.max_body_bytes + 1)
    app[_CORE] = core or SimCore(config)
    app[_TASKS] = set()
    lock = asyncio.Lock()

    async def pump(app: web.Application) -> None:
        async with lock:
            await run_async(app[_CORE].pump(), app[_HTTP])

    async def handler(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        query: dict[str, list[str]] = {}
        for key, value in request.query.items():
            query.setdefault(key, []).append(value)
        sim_request = SimRequest(
            method=request.method,
            path=request.path,
            query=query,
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
            base_url=f"{request.scheme}://{request.host}",
        )
        core = app[_CORE]
        result = await run_async(core.handle(sim_request), app[_HTTP])
        due = core.world.next_due()
        if due is not None and due <= core.world.now() and not request.path.startswith("/_sim"):
            # Status webhooks fall due as soon as the answer is out; deliver them right after.
            task = asyncio.get_running_loop().create_task(pump(app))
            tasks = app[_TASKS]
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        headers = dict(result.headers)
        headers[TIME_HEADER] = repr(core.world.now())
        return web.Response(
            status=result.status,
            body=result.body,
            content_type=result.content_type.split(";")[0],
            headers=headers,
        )

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        app[_HTTP] = httpx.AsyncClient(timeout=config.sim.webhook_timeout)
        ticker: asyncio.Task[Any] | None = None
        if config.sim.clock == "running":

            async def tick() -> None:
                while True:
                    await asyncio.sleep(_PUMP_INTERVAL)
                    await pump(app)

            ticker = asyncio.get_running_loop().create_task(tick())
        yield
        if ticker is not None:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
        await app[_HTTP].aclose()

    app.cleanup_ctx.append(lifecycle)
    app.router.add_route("*", "/{tail:.*}", handler)
    return app


class Simulator:
    """The simulator server in this process, on a free port: ``async with Simulator(cfg) as sim``.

    ``sim.url`` is its base URL; ``sim.core`` its state.
    """

    def __init__(
        self,
        config: SimConfig,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        world: World | None = None,
    ) -> None:
        self.config = config
        self.core = SimCore(config, world=world)
        self.host = host
        self.port = port
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> str:
        """Start serving; returns the base URL."""
        self._runner = web.AppRunner(create_app(self.config, core=self.core), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server
        assert server is not None
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1]
        self.url = f"http://{self.host}:{self.port}"
        return self.url

    async def stop(self) -> None:
        """Stop serving."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
