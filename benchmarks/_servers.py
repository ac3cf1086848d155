"""Servers for benchmarks/run.py, each started in its own process (never imported by it).

    python benchmarks/_servers.py stub       # WhatsApp-like POST /v23.0/{id}/messages, instant 200
    python benchmarks/_servers.py bare-json  # a bare aiohttp JSON handler (the simulator's yardstick)
    python benchmarks/_servers.py sim        # omnimsg_sim's server, webhooks off
    python benchmarks/_servers.py receiver   # a webhook receiver: any POST gets 200 (GET /stats)
    python benchmarks/_servers.py sim-hooks 32   # omnimsg_sim delivering webhooks, 32 in flight

Each binds 127.0.0.1 on port 0, prints ``PORT <n>`` on stdout once it listens, and serves
until stdin closes (so it dies with the benchmark even if that is killed) or it is
terminated. Only loopback, no files written.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from aiohttp import web

SEND_ANSWER = (
    b'{"messaging_product":"whatsapp","contacts":[{"input":"1","wa_id":"1"}],'
    b'"messages":[{"id":"wamid.X"}]}'
)


def stub_app() -> web.Application:
    """Answers the send endpoint instantly with a constant WhatsApp-like body."""

    async def messages(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=SEND_ANSWER, content_type="application/json")

    app = web.Application()
    app.router.add_post("/v23.0/{phone_id}/messages", messages)
    return app


def bare_json_app() -> web.Application:
    """The least a JSON API handler does: read the body, decode it, answer JSON."""
    counter = 0

    async def messages(request: web.Request) -> web.Response:
        nonlocal counter
        data: Any = json.loads(await request.read())
        counter += 1
        answer = {
            "messaging_product": "whatsapp",
            "contacts": [{"input": data.get("to"), "wa_id": data.get("to")}],
            "messages": [{"id": f"wamid.{counter}"}],
        }
        return web.json_response(answer)

    app = web.Application()
    app.router.add_post("/v23.0/{phone_id}/messages", messages)
    return app


def receiver_app() -> web.Application:
    """An app that takes every webhook: reads the body, answers 200 ``ok``; counts them."""
    received = 0

    async def take(request: web.Request) -> web.Response:
        nonlocal received
        await request.read()
        received += 1
        return web.Response(text="ok")

    async def stats(request: web.Request) -> web.Response:
        return web.json_response({"received": received})

    app = web.Application()
    app.router.add_get("/stats", stats)
    app.router.add_post("/{tail:.*}", take)
    return app


def sim_config(**sim: Any) -> Any:
    """The default simulated WhatsApp account, without a webhook URL (nothing is delivered).

    ``sim`` overrides ``[sim]`` settings (``webhook_concurrency``...).
    """
    from omnimsg.testing import DEFAULT_WHATSAPP
    from omnimsg_sim import parse_config

    account = {k: v for k, v in DEFAULT_WHATSAPP.items() if k != "webhook_url"}
    return parse_config(
        {"sim": {"seed": 1, "start": "2026-03-02T09:00:00Z", **sim}, "whatsapp": [account]},
        source="benchmark config",
    )


async def _wait_stdin_closed() -> None:
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)


async def serve(kind: str, *args: str) -> None:
    if kind in ("sim", "sim-hooks"):
        from omnimsg_sim.app import Simulator

        # sim-hooks: webhooks go where POST /_sim/webhooks/target says, N in flight.
        settings = {"webhook_concurrency": int(args[0])} if kind == "sim-hooks" and args else {}
        sim = Simulator(sim_config(**settings))
        await sim.start()
        print(f"PORT {sim.port}", flush=True)
        try:
            await _wait_stdin_closed()
        finally:
            await sim.stop()
        return
    app = {"stub": stub_app, "bare-json": bare_json_app, "receiver": receiver_app}[kind]()
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server: Any = site._server
    port = server.sockets[0].getsockname()[1]
    print(f"PORT {port}", flush=True)
    try:
        await _wait_stdin_closed()
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1], *sys.argv[2:]))
