"""Server mode: the simulator on aiohttp, every platform on one port."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
from aiohttp import web

from .config import SimConfig
from .core import SimCore
from .drive import run_async
from .effects import TIME_HEADER, SimRequest, SimResponse
from .world import World

__all__ = ["Simulator", "create_app"]

_CORE = web.AppKey("core", SimCore)
_HTTP = web.AppKey("http", httpx.AsyncClient)
_TASKS = web.AppKey("tasks", set)
_PUMP_INTERVAL = 0.05  # seconds between checks for due webhooks in "running" clock mode
_HOST = re.compile(r"[A-Za-z0-9.\-]+(?::[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](?::[0-9]{1,5})?")


def _text(value: str) -> str:
    """A header or query value as text without lone surrogates.

    aiohttp decodes bytes that are not UTF-8 as surrogate escapes; such a value is read as
    Latin-1 instead (what httpx does in process), so the core only ever sees encodable text.
    """
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogateescape").decode("latin-1")
    return value


def _base_url(request: web.Request) -> str:
    """The scheme and host the client used, for the links the simulator answers with.

    Behind a TLS-terminating proxy, ``X-Forwarded-Proto`` and ``X-Forwarded-Host`` say what
    the client saw (``https://sim.example``); a host that is not a plain host[:port] falls
    back to the socket's own address.
    """
    proto = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    scheme = proto if proto in ("http", "https") else request.scheme
    forwarded = request.headers.get("x-forwarded-host", "").split(",")[0].strip()
    for host in (forwarded, request.headers.get("host", "")):
        if host and _HOST.fullmatch(host):
            return f"{scheme}://{host}"
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    if isinstance(sockname, tuple) and len(sockname) >= 2:
        address = f"[{sockname[0]}]" if ":" in str(sockname[0]) else str(sockname[0])
        return f"{scheme}://{address}:{sockname[1]}"
    return f"{scheme}://127.0.0.1"


def _answer(result: SimResponse, core: SimCore) -> web.Response:
    """The aiohttp response for a core answer, with the simulator's time header."""
    headers = dict(result.headers)
    headers[TIME_HEADER] = repr(core.world.now())
    # Whole, parameters included (audio/ogg; codecs=opus): media types are checked on upload.
    headers["Content-Type"] = result.content_type
    return web.Response(status=result.status, body=result.body, headers=headers)


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
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _answer(app[_CORE].too_large(request.path), app[_CORE])
        query: dict[str, list[str]] = {}
        for key, value in request.query.items():
            query.setdefault(_text(key), []).append(_text(value))
        sim_request = SimRequest(
            method=request.method,
            path=_text(request.path),
            query=query,
            headers={k.lower(): _text(v) for k, v in request.headers.items()},
            body=body,
            base_url=_base_url(request),
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
        return _answer(result, core)

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
