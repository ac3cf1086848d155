"""docs/frameworks.md: each framework's file, served on a real socket, against the simulator.

For every file block of the page (FastAPI, Flask, Django, aiohttp): the simulator runs the
quickstart's sim.toml on a free port, the file (pointed at that simulator) is imported and its
``app`` served on another free port, and the simulator plays WhatsApp: the GET handshake, a
customer's message, forged and genuine signed POSTs, and the status webhooks of the reply.
Then the page's exactly-once guarantee, through the framework: a delivery made twice is
answered once; a reply that fails answers 500 and the redelivery 10 seconds later is answered
(one reply in all); an event another worker claimed and never settled is answered 503 until
its lease has passed, then handled once. Each page's ``python X.py`` command is also run as
written, in a process of its own.

Every wait is bounded, and none ends while a webhook is in flight: the simulator delivers a
reply's ``sent`` status from a task of its own, after answering the send, so each step waits
until the status webhooks it caused have been answered (``_settled``). Stopped mid-request,
an app logs ``ConnectionResetError``; a fault rule meant for the next message would hit the
status instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import hmac
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from docsnippets import ROOT, Block, docs_addresses, read_blocks, rewrite, titled
from omnimsg import Client, WebhookConfig, WhatsApp
from omnimsg.testing import ServerThread, SimulatorClock
from test_docs_snippets import docs_sim_config

PAGE = ROOT / "docs" / "frameworks.md"
ROUTE = "/webhooks/whatsapp"
REPLY = "Thanks! We are on it."
USER = "15551230001"
TIMEOUT = 10.0  # seconds: every wait below is bounded by it
FIRST_RETRY = docs_sim_config().sim.webhook_retry_delays[0]  # 10 s: the first redelivery
LEASE = WebhookConfig().lease  # 60 s: how long an unsettled claim holds (the page's default)
HANDSHAKE = {"hub.mode": "subscribe", "hub.verify_token": "sim-verify", "hub.challenge": "12&34 5"}

pytestmark = pytest.mark.slow


# --- serving the page's apps in this process ---


async def _aclose_clock(module: ModuleType) -> None:
    # The page leaves the SimulatorClock to the process's end; a test closes its HTTP clients
    # on the loop that used them, so no socket is left to the garbage collector.
    aclose = getattr(module.client.clock, "aclose", None)
    if aclose is not None:
        await aclose()


def _close_clock(module: ModuleType) -> None:
    close = getattr(module.client.clock, "close", None)
    if close is not None:
        close()


@contextlib.contextmanager
def _serve_asgi(module: ModuleType) -> Iterator[int]:
    """uvicorn in a thread of its own, on port 0; yields the bound port."""
    import uvicorn

    config = uvicorn.Config(
        module.app, host="127.0.0.1", port=0, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)

    async def main() -> None:
        try:
            await server.serve()  # the lifespan's shutdown closes the page's client
        finally:
            await _aclose_clock(module)

    thread = threading.Thread(target=asyncio.run, args=(main(),), name="uvicorn", daemon=True)
    thread.start()
    try:
        _until(lambda: server.started or not thread.is_alive(), "uvicorn did not start")
        assert server.started, "uvicorn stopped while starting"
        yield int(server.servers[0].sockets[0].getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(TIMEOUT)
        assert not thread.is_alive(), "uvicorn did not stop"


@contextlib.contextmanager
def _serve_wsgi(module: ModuleType) -> Iterator[int]:
    """Werkzeug's threaded WSGI server (what ``flask run`` uses) on port 0."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, module.app, threaded=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="wsgi", daemon=True
    )
    thread.start()
    try:
        yield int(server.port)
    finally:
        stopper = threading.Thread(target=server.shutdown, daemon=True)
        stopper.start()
        stopper.join(TIMEOUT)
        thread.join(TIMEOUT)
        server.server_close()
        assert not thread.is_alive(), "the WSGI server did not stop"
        module.client.close()
        _close_clock(module)


@contextlib.contextmanager
def _serve_aiohttp(module: ModuleType) -> Iterator[int]:
    """An aiohttp AppRunner and TCPSite on port 0, on an event loop in its own thread."""
    from aiohttp import web

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="aiohttp", daemon=True)
    thread.start()
    runner = web.AppRunner(module.app, access_log=None)

    async def start() -> int:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        return int(runner.addresses[0][1])

    async def stop() -> None:
        await runner.cleanup()  # on_cleanup closes the page's client
        await _aclose_clock(module)

    try:
        yield asyncio.run_coroutine_threadsafe(start(), loop).result(TIMEOUT)
    finally:
        try:
            asyncio.run_coroutine_threadsafe(stop(), loop).result(TIMEOUT)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(TIMEOUT)
            if not thread.is_alive():
                loop.close()
        assert not thread.is_alive(), "the aiohttp loop did not stop"


SERVERS: dict[str, Callable[[ModuleType], contextlib.AbstractContextManager[int]]] = {
    "fastapi_app.py": _serve_asgi,
    "flask_app.py": _serve_wsgi,
    "django_app.py": _serve_wsgi,
    "aiohttp_app.py": _serve_aiohttp,
}


def _until(done: Callable[[], bool], message: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(message)
        time.sleep(0.02)


def _page_file(title: str, sim: str, app: str | None = None) -> str:
    """The page's file, pointed at the test's simulator (and app address)."""
    code = rewrite(titled(PAGE, title), sim=sim.removeprefix("http://"), app=app)
    assert docs_addresses()[0] not in code and ROUTE.lstrip("/") in code
    return code


@contextlib.contextmanager
def _imported(tmp_path: Path, title: str, sim: str) -> Iterator[ModuleType]:
    """Import the page's file as a module of its own name (Django's ROOT_URLCONF needs it)."""
    file = tmp_path / title
    file.write_text(_page_file(title, sim), encoding="utf-8")
    spec = importlib.util.spec_from_file_location(file.stem, file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[file.stem] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(file.stem, None)


# --- talking to the simulator ---


def _sim(http: httpx.Client, sim: str, path: str, body: Any = None, expect: int = 200) -> Any:
    response = http.post(f"{sim}{path}", json=body or {})
    assert response.status_code == expect, f"{path}: {response.status_code} {response.text}"
    return response.json()


def _fault(http: httpx.Client, sim: str, **rule: Any) -> Any:
    return _sim(http, sim, "/_sim/faults", rule, expect=201)


def _replies(http: httpx.Client, sim: str) -> list[str]:
    messages = http.get(f"{sim}/_sim/outbox", params={"raw": "false"}).json()["messages"]
    return [m["text"] for m in messages if m["user"] == USER]


def _deliveries(http: httpx.Client, sim: str) -> list[dict[str, Any]]:
    return list(http.get(f"{sim}/_sim/webhooks").json()["deliveries"])


def _attempts(http: httpx.Client, sim: str, delivery: dict[str, Any]) -> list[tuple[int, int]]:
    """``(attempt, status)`` of every attempt of one delivery, in order."""
    return [
        (d["attempt"], d["status"])
        for d in _deliveries(http, sim)
        if d["delivery_id"] == delivery["delivery_id"]
    ]


def _customer_writes(http: httpx.Client, sim: str, text: str = "Where is my order?") -> Any:
    inbound = _sim(http, sim, "/_sim/inbound", {"user": USER, "text": text})
    assert inbound["delivery"]["status"] == 200, inbound["delivery"]
    return inbound


def _settled(http: httpx.Client, sim: str, statuses: int) -> None:
    """Wait until ``statuses`` status webhooks have been delivered, each answered 200.

    With the frozen clock, the test knows how many are due: each reply's ``sent`` at once,
    its ``delivered`` and ``read`` 1 and 2 seconds later. Once all are logged, no delivery is
    in flight (an attempt is logged when its answer has come back).
    """

    def kinds() -> list[dict[str, Any]]:
        return [d for d in _deliveries(http, sim) if d["kind"] == "status"]

    _until(lambda: len(kinds()) >= statuses, f"fewer than {statuses} status webhooks came")
    answered = [(d["attempt"], d["status"], d["error"]) for d in kinds()]
    assert answered == [(1, 200, None)] * statuses, answered


def _signed(payload: dict[str, Any], message_id: str) -> tuple[bytes, dict[str, str]]:
    """A message delivery's payload as a new message, signed with the app secret."""
    payload = copy.deepcopy(payload)
    payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"] = message_id
    body = json.dumps(payload).encode()
    secret = docs_sim_config().whatsapp[0].app_secret.encode()
    signature = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    return body, {"content-type": "application/json", "x-hub-signature-256": signature}


def _other_worker(sim: str, store: Any) -> Client:
    """A second worker of the same bot: the page's credentials, the app's own store."""
    channel = docs_sim_config().whatsapp[0]
    return Client(
        [
            WhatsApp(
                phone_number_id=channel.phone_number_id,
                access_token=channel.access_token,
                app_secret=channel.app_secret,
                verify_token=channel.verify_token,
                base_url=sim,
            )
        ],
        store=store,
        clock=SimulatorClock(sim),
    )


# --- the tests ---


@pytest.mark.parametrize("title", list(SERVERS))
def test_framework_file_end_to_end(title: str, tmp_path: Path) -> None:
    with (
        ServerThread(docs_sim_config()) as sim,
        _imported(tmp_path, title, sim) as module,
        SERVERS[title](module) as port,
        httpx.Client(timeout=TIMEOUT) as http,
    ):
        app_url = f"http://127.0.0.1:{port}{ROUTE}"
        _sim(http, sim, "/_sim/webhooks/target", {"url": app_url})

        # The GET handshake, through the framework, answered with the challenge.
        verified = _sim(http, sim, "/_sim/webhooks/verify")
        assert verified["verified"] is True, verified["delivery"]
        # The query string reaches receive() as sent, escapes included.
        handshake = http.get(app_url, params=HANDSHAKE)
        assert (handshake.status_code, handshake.text) == (200, "12&34 5")
        assert handshake.headers["content-type"].startswith("text/plain")

        # A customer writes: the signed POST is answered 200 and the bot replies.
        _customer_writes(http, sim)
        _until(lambda: _replies(http, sim) == [REPLY], "the bot did not reply")
        _settled(http, sim, statuses=1)  # the reply's `sent`

        # A new message with a wrong signature is refused, and nothing is sent.
        (delivered,) = [d for d in _deliveries(http, sim) if d["kind"] == "message"]
        payload = delivered["payload"]
        body, headers = _signed(payload, "wamid.forged-1")
        forged = http.post(
            app_url, content=body, headers={**headers, "x-hub-signature-256": "sha256=" + "0" * 64}
        )
        assert forged.status_code == 403, forged.text
        time.sleep(0.1)
        assert _replies(http, sim) == [REPLY]
        # The same bytes, signed with the app secret, are a message like any other.
        genuine = http.post(app_url, content=body, headers=headers)
        assert genuine.status_code == 200, genuine.text
        _until(lambda: _replies(http, sim) == [REPLY] * 2, "no reply to the signed message")
        _settled(http, sim, statuses=2)

        # The replies' other status webhooks arrive as the clock moves on: answered 200, no reply.
        _sim(http, sim, "/_sim/clock/advance", {"seconds": 5})
        _settled(http, sim, statuses=6)  # sent, delivered and read, for each reply
        assert _replies(http, sim) == [REPLY] * 2

        # Exactly once, 1: a delivery made twice is answered twice, and replied to once.
        _fault(http, sim, operation="whatsapp.webhook", action="duplicate")
        inbound = _customer_writes(http, sim, "Any news?")
        twice = [(1, 200), (1, 200)]
        _until(lambda: _attempts(http, sim, inbound["delivery"]) == twice, "not delivered twice")
        _settled(http, sim, statuses=7)
        assert _replies(http, sim) == [REPLY] * 3

        # 2: the reply fails (WhatsApp refuses the send once): the exception leaves the block,
        # the framework answers 500, and WhatsApp's redelivery is handed over and replied to.
        _fault(http, sim, operation="whatsapp.send", status=400, code=100, message="fail once")
        inbound = _sim(http, sim, "/_sim/inbound", {"user": USER, "text": "Hello?"})
        assert inbound["delivery"]["status"] == 500, inbound["delivery"]
        assert inbound["delivery"]["retry_at"] is not None
        assert _replies(http, sim) == [REPLY] * 3
        _sim(http, sim, "/_sim/clock/advance", {"seconds": FIRST_RETRY})
        retried = [(1, 500), (2, 200)]
        _until(lambda: _attempts(http, sim, inbound["delivery"]) == retried, "not redelivered")
        _settled(http, sim, statuses=10)  # the third reply's delivered and read, the new sent
        assert _replies(http, sim) == [REPLY] * 4

        # 3: another worker, sharing the app's store, claims a new message and dies without
        # settling it. Within the lease, a delivery of it is answered 503 and handled by nobody;
        # past the lease, the next one is handled, once.
        body, headers = _signed(payload, "wamid.orphan-1")
        with _other_worker(sim, module.client.store) as worker:
            held = worker.webhooks.claim("whatsapp", "POST", app_url, headers, body)
            assert held.status == 200 and len(held.events) == 1
        busy = http.post(app_url, content=body, headers=headers)
        assert busy.status_code == 503, busy.text
        assert _replies(http, sim) == [REPLY] * 4
        _sim(http, sim, "/_sim/clock/advance", {"seconds": LEASE + 1})
        _settled(http, sim, statuses=12)  # the fourth reply's delivered and read
        taken = http.post(app_url, content=body, headers=headers)
        assert taken.status_code == 200, taken.text
        assert _replies(http, sim) == [REPLY] * 5
        again = http.post(app_url, content=body, headers=headers)
        assert again.status_code == 200, again.text
        _settled(http, sim, statuses=13)
        assert _replies(http, sim) == [REPLY] * 5

        deliveries = _deliveries(http, sim)
        failed = [(d["kind"], d["attempt"], d["status"]) for d in deliveries if d["status"] != 200]
        assert failed == [("message", 1, 500)]


def _free_port() -> int:
    # `python X.py` binds the port written in the file, so it is chosen here.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_blocks() -> list[Block]:
    return [b for b in read_blocks(PAGE) if b.lang == "sh" and b.marker == "run-by"]


def test_every_file_has_its_run_command() -> None:
    commands = [b.code.strip() for b in _run_blocks()]
    assert commands == [f"python {title}" for title in SERVERS]


@pytest.mark.parametrize("block", _run_blocks(), ids=lambda b: b.code.strip())
def test_run_command_serves_the_app(block: Block, tmp_path: Path) -> None:
    title = block.code.strip().removeprefix("python ")
    port = _free_port()
    log = tmp_path / "server.log"
    with ServerThread(docs_sim_config()) as sim, httpx.Client(timeout=TIMEOUT) as http:
        code = _page_file(title, sim, app=f"127.0.0.1:{port}")
        assert str(port) in code, f"{title} does not listen on {docs_addresses()[1]}"
        (tmp_path / title).write_text(code, encoding="utf-8")
        with log.open("wb") as out:
            # A session of its own: Django's autoreloader runs the server in a child process.
            proc = subprocess.Popen(
                [sys.executable, title],
                cwd=tmp_path,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:

            def listening() -> bool:
                assert proc.poll() is None, f"{title} exited:\n{log.read_text()}"
                with socket.socket() as s:
                    return s.connect_ex(("127.0.0.1", port)) == 0

            _until(listening, f"{title} did not listen on {port}:\n{log.read_text()}", 20)
            _sim(http, sim, "/_sim/webhooks/target", {"url": f"http://127.0.0.1:{port}{ROUTE}"})
            verified = _sim(http, sim, "/_sim/webhooks/verify")
            assert verified["verified"] is True, verified["delivery"]
            _customer_writes(http, sim)
            _until(lambda: _replies(http, sim) == [REPLY], "the bot did not reply")
            # Not stopped while the reply's status webhook is in flight (see the docstring).
            _settled(http, sim, statuses=1)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(TIMEOUT)
    assert "Traceback" not in log.read_text(), log.read_text()
