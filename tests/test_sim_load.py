"""The simulator at load: concurrent webhook delivery, in order per conversation, on the
virtual clock; the outbox bounded by ``[sim] outbox_limit``.

Real sockets on 127.0.0.1 (the simulator in a ServerThread, a small aiohttp receiver in
another thread), bounded counts and delays: a few seconds in all.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from aiohttp import web

from omnimsg.exceptions import ConfigurationError
from omnimsg.testing import DEFAULT_WHATSAPP, ServerThread, whatsapp_sim_config
from omnimsg_sim import InProcessSimulator
from omnimsg_sim.config import parse_config

PHONE_ID = DEFAULT_WHATSAPP["phone_number_id"]
TOKEN = DEFAULT_WHATSAPP["access_token"]

pytestmark = pytest.mark.slow


def _events(payload: dict[str, Any]) -> list[tuple[str, str]]:
    """(conversation, event) for each item of a webhook: ``msg:<id>`` or ``<status>:<id>``."""
    out = []
    for entry in payload.get("entry", []):
        for change in entry.get("changes", []):
            value = change.get("value", {})
            for m in value.get("messages", []):
                out.append((m["from"], f"msg:{m['id']}"))
            for s in value.get("statuses", []):
                out.append((s["recipient_id"], f"{s['status']}:{s['id']}"))
    return out


class Receiver:
    """An aiohttp app on 127.0.0.1 in its own thread, recording what arrives and how.

    ``delay(conversation)`` says how long to hold each request (seconds); ``answer(body,
    first)`` the status to answer (``first``: the body was not seen before).
    """

    def __init__(
        self,
        delay: Callable[[str], float] = lambda _c: 0.0,
        answer: Callable[[bytes, bool], int] = lambda _b, _f: 200,
    ) -> None:
        self.delay = delay
        self.answer = answer
        self.arrivals: list[tuple[str, str]] = []  # in the order they were handled
        self.in_flight = 0
        self.max_in_flight = 0
        self.requests = 0
        self.seen: set[bytes] = set()
        self.url = ""
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        events = _events(json.loads(body))
        with self._lock:
            first = body not in self.seen
            self.seen.add(body)
            self.requests += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            pause = max((self.delay(c) for c, _ in events), default=0.0)
            if pause:
                await asyncio.sleep(pause)  # the app at work
        finally:
            with self._lock:
                # Recorded once handled: a webhook that overtook one still being handled
                # would be recorded first.
                self.arrivals.extend(events)
                self.in_flight -= 1
        return web.Response(status=self.answer(body, first), text="ok")

    async def _main(self) -> None:
        app = web.Application()
        app.router.add_post("/webhook", self._handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        server: Any = site._server
        self.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/webhook"
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._ready.set()
        await self._stop.wait()
        await runner.cleanup()

    def by_conversation(self) -> dict[str, list[str]]:
        with self._lock:
            out: dict[str, list[str]] = defaultdict(list)
            for conversation, event in self.arrivals:
                out[conversation].append(event)
            return dict(out)

    def wait_for(self, count: int, timeout: float = 10.0) -> None:
        """Until ``count`` items arrived and nothing came in or was in flight for 0.1 s."""
        deadline = time.monotonic() + timeout
        last, since = -1, time.monotonic()
        while time.monotonic() < deadline:
            with self._lock:
                now_seen, busy = self.requests, self.in_flight
                enough = len(self.arrivals) >= count
            if now_seen != last or busy:
                last, since = now_seen, time.monotonic()
            elif enough and time.monotonic() - since >= 0.1:
                return
            time.sleep(0.01)
        raise AssertionError(f"only {len(self.arrivals)} of {count} webhook items arrived")

    def __enter__(self) -> Receiver:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


def _config(**sim: Any) -> Any:
    account = {k: v for k, v in DEFAULT_WHATSAPP.items() if k != "webhook_url"}
    return parse_config(
        {"sim": {"seed": 1, "start": "2026-03-02T09:00:00Z", **sim}, "whatsapp": [account]},
        source="test config",
    )


@pytest.fixture
def http() -> Iterator[Callable[..., Any]]:
    """Start a simulator with the given [sim] settings, pointed at a receiver."""
    stack: list[Any] = []

    def start(receiver: Receiver, **sim: Any) -> httpx.Client:
        server = ServerThread(_config(**sim))
        url = server.__enter__()
        stack.append(server)
        client = httpx.Client(base_url=url, timeout=30)
        stack.append(client)
        r = client.post("/_sim/webhooks/target", json={"url": receiver.url})
        assert r.status_code == 200, r.text
        return client

    yield start
    for thing in reversed(stack):
        if isinstance(thing, httpx.Client):
            thing.close()
        else:
            thing.__exit__(None, None, None)


def _send(client: httpx.Client, user: str, text: str) -> str:
    r = client.post(
        f"/v23.0/{PHONE_ID}/messages",
        headers={"Authorization": f"Bearer {TOKEN}"},
        json={"messaging_product": "whatsapp", "to": user, "type": "text", "text": {"body": text}},
    )
    assert r.status_code == 200, r.text
    return str(r.json()["messages"][0]["id"])


def _advance(client: httpx.Client, seconds: float) -> list[dict[str, Any]]:
    r = client.post("/_sim/clock/advance", json={"seconds": seconds})
    assert r.status_code == 200, r.text
    return list(r.json()["delivered"])


# --- order and concurrency ---------------------------------------------------------------------


def test_each_conversation_arrives_in_order_while_slow_ones_are_held(http: Any) -> None:
    users = [f"1555000{i:04d}" for i in range(16)]
    rng = random.Random(6)
    slow = {u: rng.random() < 0.5 for u in users}  # half the conversations get a slow app
    jitter = random.Random(7)
    lock = threading.Lock()

    def delay(conversation: str) -> float:
        if not slow.get(conversation):
            return 0.0
        with lock:
            return jitter.uniform(0.0, 0.02)

    with Receiver(delay) as receiver:
        client = http(receiver, webhook_concurrency=8)
        inbound = {}
        for u in users:
            r = client.post("/_sim/inbound", json={"user": u, "text": "hi"})
            assert r.json()["delivery"]["status"] == 200
            inbound[u] = r.json()["message_id"]
        sent: dict[str, list[str]] = {u: [] for u in users}
        for k in range(3):  # interleaved: the background pump runs while we send
            for u in users:
                sent[u].append(_send(client, u, f"update {k}"))
        # `delivered` and `read` fall due at +1 s and +2 s, for every conversation at once,
        # possibly while the background pump still flushes some `sent`.
        _advance(client, 5)
        receiver.wait_for(len(users) * 10)
        got = receiver.by_conversation()
        for u in users:
            ids = sent[u]
            expected = (
                [f"msg:{inbound[u]}"]
                + [f"sent:{i}" for i in ids]
                + [f"delivered:{i}" for i in ids]
                + [f"read:{i}" for i in ids]
            )
            assert got[u] == expected, u
        assert receiver.max_in_flight > 1


def test_deliveries_run_concurrently_and_never_above_the_limit(http: Any) -> None:
    users = [f"1555100{i:04d}" for i in range(12)]
    with Receiver(delay=lambda _c: 0.05) as receiver:
        client = http(receiver, webhook_concurrency=4)
        for u in users:
            client.post("/_sim/inbound", json={"user": u, "text": "hi"})
        # The customers wrote; each message went out in its own request, one after the other.
        assert receiver.max_in_flight == 1
        for u in users:
            _send(client, u, "hello")
        receiver.wait_for(len(users) * 2)  # each one's `sent`, from the background pump
        assert receiver.max_in_flight <= 4
        receiver.max_in_flight = 0
        delivered = _advance(client, 1)  # 12 `delivered` due at one instant
        assert [d["status"] for d in delivered] == [200] * len(users)
        assert 1 < receiver.max_in_flight <= 4


def test_concurrency_one_is_strictly_sequential(http: Any) -> None:
    users = [f"1555200{i:04d}" for i in range(6)]
    with Receiver(delay=lambda _c: 0.01) as receiver:
        client = http(receiver, webhook_concurrency=1)
        for u in users:
            client.post("/_sim/inbound", json={"user": u, "text": "hi"})
        ids = [_send(client, u, "x") for u in users]
        receiver.wait_for(len(users) * 2)
        delivered = _advance(client, 5)
        assert len(delivered) == 2 * len(users)
        assert receiver.max_in_flight == 1
        # One at a time: exactly the scheduled order, across conversations too.
        assert [e for _, e in receiver.arrivals[len(users) :]] == (
            [f"sent:{i}" for i in ids]
            + [f"delivered:{i}" for i in ids]
            + [f"read:{i}" for i in ids]
        )


def test_failed_deliveries_are_retried_on_the_virtual_clock_under_concurrency(http: Any) -> None:
    users = [f"1555300{i:04d}" for i in range(8)]

    def answer(body: bytes, first: bool) -> int:
        # The first attempt of about a third of the webhooks is refused.
        return 500 if first and zlib.crc32(body) % 3 == 0 else 200

    with Receiver(answer=answer) as receiver:
        client = http(receiver, webhook_concurrency=8, webhook_retry_delays=[10, 10])
        for u in users:
            client.post("/_sim/inbound", json={"user": u, "text": "hi"})
        ids = {u: _send(client, u, "x") for u in users}
        receiver.wait_for(len(users) * 2)
        _advance(client, 5)
        receiver.wait_for(len(users) * 4)
        log = client.get("/_sim/webhooks").json()["deliveries"]
        assert any(d["status"] == 500 for d in log), "some attempts failed"
        # Nothing is retried before its time: nothing goes out without moving the clock...
        before = receiver.requests
        assert client.post("/_sim/deliver").json()["delivered"] == []
        assert receiver.requests == before
        # ...and every failed attempt goes out again 10 s (virtual) later, at once.
        retried = _advance(client, 60)
        receiver.wait_for(0)
        assert retried
        assert {(d["attempt"], d["status"]) for d in retried} == {(2, 200)}
        log = client.get("/_sim/webhooks").json()["deliveries"]
        by_id: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for d in log:
            by_id[d["delivery_id"]].append(d)
        for attempts in by_id.values():
            assert [a["attempt"] for a in attempts] == list(range(1, len(attempts) + 1))
            assert attempts[-1]["status"] == 200  # at least once, in the end
            if len(attempts) == 2:
                assert attempts[1]["at"] == attempts[0]["at"] + 10  # on the virtual clock
        # Every status of every message got through.
        got = receiver.by_conversation()
        for u, message_id in ids.items():
            for status in ("sent", "delivered", "read"):
                assert f"{status}:{message_id}" in got[u]
        assert client.get("/_sim/health").json()["pending"] == 0


def test_async_in_process_path_delivers_concurrently_in_order() -> None:
    in_flight = 0
    peak = 0
    seen: dict[str, list[str]] = defaultdict(list)
    jitter = random.Random(11)

    async def app(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        events = _events(json.loads(await request.aread()))
        await asyncio.sleep(jitter.choice((0.0, 0.005, 0.02)))  # the app at work, unevenly
        for conversation, event in events:  # recorded once handled
            seen[conversation].append(event)
        in_flight -= 1
        return httpx.Response(200)

    async def main() -> None:
        sim = InProcessSimulator(
            whatsapp_sim_config(sim={"webhook_concurrency": 5}),
            async_webhook_transport=httpx.MockTransport(app),
        )
        users = [f"1555400{i:04d}" for i in range(10)]
        for u in users:
            await sim.acontrol("POST", "/_sim/inbound", {"user": u, "text": "hi"})
        outbox_ids: dict[str, list[str]] = defaultdict(list)
        async with httpx.AsyncClient(
            transport=sim.async_transport(), base_url=sim.base_url
        ) as client:
            for k in range(2):
                for u in users:
                    r = await client.post(
                        f"/v23.0/{PHONE_ID}/messages",
                        headers={"Authorization": f"Bearer {TOKEN}"},
                        json={
                            "messaging_product": "whatsapp",
                            "to": u,
                            "type": "text",
                            "text": {"body": str(k)},
                        },
                    )
                    outbox_ids[u].append(r.json()["messages"][0]["id"])
        advanced = await sim.acontrol("POST", "/_sim/clock/advance", {"seconds": 5})
        assert len(advanced["delivered"]) == 2 * 2 * len(users)
        for u in users:
            ids = outbox_ids[u]
            assert seen[u][1:] == (
                [f"sent:{i}" for i in ids]
                + [f"delivered:{i}" for i in ids]
                + [f"read:{i}" for i in ids]
            )
        await sim.aclose()

    asyncio.run(main())
    assert 1 < peak <= 5


# --- the outbox limit --------------------------------------------------------------------------


def _send_text(client: httpx.Client, user: str, body: str) -> httpx.Response:
    """The business sends a text, as any Graph client would."""
    return client.post(
        f"/v23.0/{PHONE_ID}/messages",
        headers={"Authorization": f"Bearer {TOKEN}"},
        json={"messaging_product": "whatsapp", "to": user, "type": "text", "text": {"body": body}},
    )


def test_outbox_limit_drops_the_oldest_and_health_reports_it() -> None:
    sim = InProcessSimulator(whatsapp_sim_config(webhook_url="/_sim/sink", sim={"outbox_limit": 3}))
    user = "15555000001"
    sim.control("POST", "/_sim/inbound", {"user": user, "text": "hi"})
    transport = sim.transport()
    ids = []
    with httpx.Client(transport=transport, base_url=sim.base_url) as client:
        for k in range(5):
            ids.append(_send_text(client, user, f"message {k}").json()["messages"][0]["id"])
    kept = sim.control("GET", "/_sim/outbox")["messages"]
    assert [m["message_id"] for m in kept] == ids[2:]
    assert [m["text"] for m in kept] == ["message 2", "message 3", "message 4"]
    assert kept[0]["raw"]["text"] == {"body": "message 2"}
    assert sim.control("GET", "/_sim/health")["outbox"] == {"size": 3, "limit": 3, "dropped": 2}
    # The dropped messages' statuses still go out, and nothing breaks.
    advanced = sim.control("POST", "/_sim/clock/advance", {"seconds": 5})
    assert len(advanced["delivered"]) == 2 * 5
    statuses = [
        (s["id"], s["status"])
        for r in sim.control("GET", "/_sim/sink")["requests"]
        for e in r["payload"]["entry"]
        for c in e["changes"]
        for s in c["value"].get("statuses", [])
    ]
    for message_id in ids:
        assert [st for i, st in statuses if i == message_id] == ["sent", "delivered", "read"]
    assert [m["status"] for m in sim.control("GET", "/_sim/outbox")["messages"]] == ["read"] * 3
    sim.control("DELETE", "/_sim/outbox")
    assert sim.control("GET", "/_sim/health")["outbox"] == {"size": 0, "limit": 3, "dropped": 2}
    sim.control("POST", "/_sim/reset")
    assert sim.control("GET", "/_sim/health")["outbox"] == {"size": 0, "limit": 3, "dropped": 0}
    sim.close()


def test_outbox_limit_zero_keeps_nothing_and_statuses_still_go_out() -> None:
    sim = InProcessSimulator(whatsapp_sim_config(webhook_url="/_sim/sink", sim={"outbox_limit": 0}))
    user = "15555000002"
    sim.control("POST", "/_sim/inbound", {"user": user, "text": "hi"})
    with httpx.Client(transport=sim.transport(), base_url=sim.base_url) as client:
        r = _send_text(client, user, "gone")
        assert r.status_code == 200
    assert sim.control("GET", "/_sim/outbox")["messages"] == []
    assert sim.control("GET", "/_sim/health")["outbox"] == {"size": 0, "limit": 0, "dropped": 1}
    assert len(sim.control("POST", "/_sim/clock/advance", {"seconds": 5})["delivered"]) == 2
    sim.close()


@pytest.mark.parametrize(
    ("sim", "message"),
    [
        ({"webhook_concurrency": 0}, "sim.webhook_concurrency: must be between 1 and 1024; got 0"),
        ({"webhook_concurrency": 5000}, "sim.webhook_concurrency: must be between 1 and 1024"),
        ({"webhook_concurrency": "8"}, "sim.webhook_concurrency: expected an integer"),
        ({"outbox_limit": -1}, "sim.outbox_limit: must be at least 0; got -1"),
        ({"outbox_limit": 1.5}, "sim.outbox_limit: expected an integer"),
    ],
)
def test_load_settings_are_checked(sim: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message.replace(".", r"\.")):
        _config(**sim)


# --- direct deliveries and nested calls keep the lanes --------------------------------------


def test_a_reply_sent_from_the_handler_waits_for_the_message_it_answers() -> None:
    log: list[str] = []
    sim: InProcessSimulator

    def app(request: httpx.Request) -> httpx.Response:
        events = _events(json.loads(request.read()))
        log.append(f"start {events[0][1].split(':')[0]}")
        if events[0][1].startswith("msg:"):
            with httpx.Client(transport=sim.transport(), base_url=sim.base_url) as client:
                r = client.post(
                    f"/v23.0/{PHONE_ID}/messages",
                    headers={"Authorization": f"Bearer {TOKEN}"},
                    json={
                        "messaging_product": "whatsapp",
                        "to": events[0][0],
                        "type": "text",
                        "text": {"body": "on it"},
                    },
                )
                assert r.status_code == 200
        log.append(f"end {events[0][1].split(':')[0]}")
        return httpx.Response(200)

    sim = InProcessSimulator.with_handler(whatsapp_sim_config(), app)
    result = sim.control("POST", "/_sim/inbound", {"user": "15556000001", "text": "help"})
    # The reply's `sent` waited for the message's delivery to end (one per conversation),
    # then went out before the inbound call answered.
    assert log == ["start msg", "end msg", "start sent", "end sent"]
    assert [d["kind"] for d in result["then"]] == ["status"]
    sim.close()


def test_advance_from_inside_a_webhook_handler_neither_hangs_nor_loses_webhooks() -> None:
    users = ["15557000001", "15557000002"]
    seen: list[tuple[str, str]] = []
    sim: InProcessSimulator
    nested: list[Any] = []

    def app(request: httpx.Request) -> httpx.Response:
        events = _events(json.loads(request.read()))
        seen.extend(events)
        if events[0][1].startswith("sent:") and not nested:
            nested.append(sim.control("POST", "/_sim/clock/advance", {"seconds": 1}))
        return httpx.Response(200)

    sim = InProcessSimulator.with_handler(whatsapp_sim_config(), app)
    with httpx.Client(transport=sim.transport(), base_url=sim.base_url) as client:
        for u in users:
            sim.control("POST", "/_sim/inbound", {"user": u, "text": "hi"})
        for u in users:
            client.post(
                f"/v23.0/{PHONE_ID}/messages",
                headers={"Authorization": f"Bearer {TOKEN}"},
                json={
                    "messaging_product": "whatsapp",
                    "to": u,
                    "type": "text",
                    "text": {"body": "x"},
                },
            )
    sim.control("POST", "/_sim/clock/advance", {"seconds": 5})
    for u in users:
        mine = [e.split(":")[0] for c, e in seen if c == u]
        assert mine == ["msg", "sent", "delivered", "read"], (u, mine)
    assert sim.control("GET", "/_sim/health")["pending"] == 0
    sim.close()
