"""Server mode: the simulator on aiohttp, every platform on one port."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Iterable
from typing import Any

import aiohttp
from aiohttp import web

from .config import SimConfig
from .core import SimCore
from .drive import Poster, aiohttp_poster, run_async
from .effects import TIME_HEADER, SimRequest, SimResponse
from .platforms import SimAdapter
from .world import World

__all__ = ["Simulator", "create_app"]

_PUMP_INTERVAL = 0.05  # seconds between checks for due webhooks in "running" clock mode


class _Pumper:
    """Delivers what falls due in the background: one task at a time, woken by requests.

    A request that leaves work due only *kicks* it: while a drain runs, the batch takes what
    falls due meanwhile by itself (and a kick during its run makes it look once more), so a
    load of sends never piles up one waiting task per request.
    """

    def __init__(self, core: SimCore) -> None:
        self.core = core
        self.post: Poster | None = None
        self._task: asyncio.Task[None] | None = None
        self._again = False

    def kick(self) -> None:
        if self.post is None:
            return  # not started, or stopping
        if self._task is not None and not self._task.done():
            self._again = True
            return
        self._task = asyncio.get_running_loop().create_task(self._run(self.post))

    async def _run(self, post: Poster) -> None:
        while True:
            self._again = False
            await run_async(self.core.pump(collect=False), post)
            if not self._again:
                return

    async def stop(self) -> None:
        self.post = None
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


_CORE = web.AppKey("core", SimCore)
_PUMPER = web.AppKey("pumper", _Pumper)
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
    app[_PUMPER] = pumper = _Pumper(app[_CORE])
    poster: list[Poster] = []  # delivers with the app's aiohttp session, once it runs

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
        result = await run_async(core.handle(sim_request), poster[0])
        if core.wants_pump(sim_request.path):
            # Status webhooks fall due as soon as the answer is out; deliver them right after.
            pumper.kick()
        return _answer(result, core)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        session = aiohttp.ClientSession(
            # Connections are bounded by the batches (webhook_concurrency) and by the direct
            # deliveries of requests in progress; the pool keeps them all alive.
            connector=aiohttp.TCPConnector(limit=0, limit_per_host=0),
            timeout=aiohttp.ClientTimeout(total=config.sim.webhook_timeout),
            # Straight to the app: no proxy or .netrc lookups from the environment (each would
            # cost two thread hops per webhook in aiohttp).
            trust_env=False,
        )
        poster.append(aiohttp_poster(session))
        pumper.post = poster[0]
        ticker: asyncio.Task[Any] | None = None
        if config.sim.clock == "running":

            async def tick() -> None:
                while True:
                    await asyncio.sleep(_PUMP_INTERVAL)
                    if app[_CORE].has_due():
                        pumper.kick()

            ticker = asyncio.get_running_loop().create_task(tick())
        yield
        if ticker is not None:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
        await pumper.stop()
        await session.close()

    app.cleanup_ctx.append(lifecycle)
    app.router.add_route("*", "/{tail:.*}", handler)
    return app


class Simulator:
    """The simulator server in this process, on a free port: ``async with Simulator(cfg) as sim``.

    ``sim.url`` is its base URL; ``sim.core`` its state. ``adapters`` add simulated
    platforms beside the shipped ones.
    """

    def __init__(
        self,
        config: SimConfig,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        world: World | None = None,
        adapters: Iterable[SimAdapter] = (),
    ) -> None:
        self.config = config
        self.core = SimCore(config, world=world, adapters=adapters)
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
