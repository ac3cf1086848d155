"""Handled means handled: ``webhooks.receive`` hands an event over until the app confirms it.

The app crashes mid-event, answers 500, the simulator redelivers on its retry schedule (on
the virtual clock), and the event is handed over again; once confirmed, every later delivery
is a duplicate. ``webhooks.handle`` stays at most once, and says so.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from omnimsg import (
    AsyncClient,
    Client,
    FakeClock,
    MessageReceived,
    SQLiteStore,
    StatusUpdate,
    WebhookConfig,
)
from omnimsg.signing import sign_hub_sha256
from omnimsg.testing import DEFAULT_WHATSAPP, whatsapp_channel, whatsapp_sim_config
from omnimsg_sim import InProcessSimulator

ADA = "15551230001"
SECRET = DEFAULT_WHATSAPP["app_secret"]
URL = "https://bot.example/webhooks/whatsapp"


class Boom(Exception):
    """The app's own failure, in the middle of handling an event."""


def _sim_and_client(**client: Any) -> tuple[InProcessSimulator, Client]:
    sim = InProcessSimulator(whatsapp_sim_config())
    c = Client(
        [whatsapp_channel(sim.core.config, sim.base_url)],
        transport=sim.transport(),
        clock=sim.clock,
        **client,
    )
    return sim, c


def _deliveries(sim: InProcessSimulator) -> list[int | None]:
    return [d["status"] for d in sim.control("GET", "/_sim/webhooks")["deliveries"]]


def test_a_crash_hands_the_event_over_again_on_redelivery() -> None:
    sim, client = _sim_and_client()
    handled: list[str] = []
    crashes = [True]  # the first attempt fails

    def app(request: httpx.Request) -> httpx.Response:
        try:
            with client.webhooks.receive(
                "whatsapp", request.method, str(request.url), request.headers, request.read()
            ) as receipt:
                for event in receipt.events:
                    if isinstance(event, MessageReceived):
                        if crashes.pop() if crashes else False:
                            raise Boom("database down")
                        handled.append(event.message_id)
        except Boom:
            return httpx.Response(500)  # what a web framework answers
        return httpx.Response(receipt.status, content=receipt.body)

    sim.deliver_webhooks_to(app)
    said = sim.control("POST", "/_sim/inbound", {"user": ADA, "text": "where is my order?"})
    assert said["delivery"]["status"] == 500 and handled == []
    sim.control("POST", "/_sim/clock/advance", {"seconds": 10})  # Meta-like retry, due at +10 s
    assert handled == [said["message_id"]]
    assert _deliveries(sim) == [500, 200]
    # The platform delivers once more (at least once): a duplicate now, handled nowhere.
    sim.control("POST", "/_sim/faults", {"operation": "whatsapp.webhook", "action": "duplicate"})
    sim.control("POST", "/_sim/inbound", {"user": ADA, "text": "thanks"})
    assert len(handled) == 2
    assert client.window(ADA_ADDRESS).open  # state was recorded at the first delivery


def test_handle_is_at_most_once_and_loses_what_the_app_failed() -> None:
    """The one-call path, for apps that accept it: the contrast the docs describe."""
    sim, client = _sim_and_client()
    handled: list[str] = []
    crashes = [True]

    def app(request: httpx.Request) -> httpx.Response:
        outcome = client.webhooks.handle(
            "whatsapp", request.method, str(request.url), request.headers, request.read()
        )
        for event in outcome.events:
            if isinstance(event, MessageReceived):
                if crashes.pop() if crashes else False:
                    return httpx.Response(500)
                handled.append(event.message_id)
        return httpx.Response(outcome.status)

    sim.deliver_webhooks_to(app)
    sim.control("POST", "/_sim/inbound", {"user": ADA, "text": "hello"})
    sim.control("POST", "/_sim/clock/advance", {"seconds": 10})
    assert handled == []  # redelivered, but already marked seen: lost
    assert _deliveries(sim) == [500, 200]


@pytest.mark.anyio
async def test_async_crash_then_redelivery() -> None:
    sim = InProcessSimulator(whatsapp_sim_config())
    client = AsyncClient(
        [whatsapp_channel(sim.core.config, sim.base_url)],
        transport=sim.async_transport(),
        clock=sim.clock,
    )
    handled: list[str] = []
    crashes = [True]

    async def app(request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        try:
            async with client.webhooks.receive(
                "whatsapp", request.method, str(request.url), request.headers, body
            ) as receipt:
                for event in receipt.events:
                    if isinstance(event, MessageReceived):
                        if crashes.pop() if crashes else False:
                            raise Boom("queue full")
                        handled.append(event.message_id)
        except Boom:
            return httpx.Response(500)
        return httpx.Response(receipt.status, content=receipt.body)

    sim.deliver_webhooks_to(httpx.MockTransport(app))
    said = await sim.acontrol("POST", "/_sim/inbound", {"user": ADA, "text": "hi"})
    assert said["delivery"]["status"] == 500
    await sim.acontrol("POST", "/_sim/clock/advance", {"seconds": 10})
    assert handled == [said["message_id"]]
    await client.aclose()
    await sim.aclose()


# --- the store's view: claims, leases, explicit settling ---------------------------------------

ADA_ADDRESS = __import__("omnimsg").Address("whatsapp", ADA)


def _body(*ids: str, status: bool = False) -> bytes:
    import json

    messages = [
        {"from": ADA, "id": i, "timestamp": "1772442000", "type": "text", "text": {"body": i}}
        for i in ids
    ]
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {
            "display_phone_number": "1",
            "phone_number_id": DEFAULT_WHATSAPP["phone_number_id"],
        },
        "contacts": [{"wa_id": ADA, "profile": {"name": "Ada"}}],
        "messages": messages,
    }
    if status:
        value["statuses"] = [
            {
                "id": "wamid.out",
                "status": "delivered",
                "timestamp": "1772442001",
                "recipient_id": ADA,
            }
        ]
    payload = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "w", "changes": [{"field": "messages", "value": value}]}],
    }
    return json.dumps(payload).encode()


def _client(store: Any = None, clock: FakeClock | None = None, **config: Any) -> Client:
    clock = clock or FakeClock(1772442000)
    config_ = whatsapp_sim_config()
    return Client(
        [whatsapp_channel(config_, "http://sim.test")],
        clock=clock,
        store=store,
        webhooks=WebhookConfig(**config) if config else None,
    )


def _claim(client: Client, body: bytes) -> Any:
    headers = {"X-Hub-Signature-256": sign_hub_sha256(SECRET, body)}
    return client.webhooks.claim("whatsapp", "POST", URL, headers, body)


def test_a_delivery_that_finds_the_event_in_progress_answers_503() -> None:
    client = _client()
    body = _body("wamid.1")
    first = _claim(client, body)
    assert [e.message_id for e in first.events] == ["wamid.1"] and first.status == 200
    second = _claim(client, body)  # the platform retried while the first is still working
    assert (second.events, second.busy, second.status) == ((), 1, 503)
    first.release()
    third = _claim(client, body)
    assert len(third.events) == 1
    third.ack()
    fourth = _claim(client, body)
    assert (fourth.events, fourth.outcome.duplicates, fourth.status) == ((), 1, 200)


def test_a_lease_that_runs_out_hands_the_event_to_the_next_delivery() -> None:
    clock = FakeClock(1772442000)
    client = _client(clock=clock, lease=30.0)
    body = _body("wamid.1")
    stuck = _claim(client, body)  # this worker died without a word
    assert _claim(client, body).status == 503
    clock.advance(30)
    again = _claim(client, body)
    assert len(again.events) == 1
    stuck.release()  # too late: the claim is no longer its own, nothing is undone
    again.ack()
    assert _claim(client, body).outcome.duplicates == 1


def test_events_are_settled_one_by_one() -> None:
    client = _client()
    body = _body("wamid.1", "wamid.2", "wamid.3", status=True)
    receipt = _claim(client, body)
    m1, m2, m3, delivered = receipt.events
    assert isinstance(delivered, StatusUpdate)
    receipt.ack(m1, delivered)
    receipt.release(m2)
    assert receipt.pending == (m3,)
    receipt.ack()  # the rest
    assert receipt.pending == ()
    again = _claim(client, body)
    assert [e.message_id for e in again.events] == ["wamid.2"]  # only the released one
    assert again.outcome.duplicates == 3


def test_a_refused_body_claims_nothing() -> None:
    client = _client()
    body = _body("wamid.1")
    bad = client.webhooks.claim("whatsapp", "POST", URL, {"X-Hub-Signature-256": "sha256=00"}, body)
    assert (bad.status, bad.events) == (403, ())
    bad.ack()  # harmless
    assert len(_claim(client, body).events) == 1


class CountingStore:
    """A store that counts round trips."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)

        def counted(*args: Any) -> Any:
            self.calls.append(name)
            return method(*args)

        return counted


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_one_store_round_trip_per_body(backend: str) -> None:
    from omnimsg import MemoryStore

    clock = FakeClock(1772442000)
    inner = MemoryStore(clock=clock) if backend == "memory" else SQLiteStore(clock=clock)
    store = CountingStore(inner)
    client = _client(store=store, clock=clock)
    body = _body(*[f"wamid.{i}" for i in range(20)], status=True)
    headers = {"X-Hub-Signature-256": sign_hub_sha256(SECRET, body)}
    outcome = client.webhooks.handle("whatsapp", "POST", URL, headers, body)
    assert len(outcome.events) == 21
    assert store.calls == ["batch"]  # 21 dedup keys and the window: one round trip
    store.calls.clear()
    receipt = _claim(client, _body("wamid.new"))
    receipt.ack()
    assert store.calls == ["batch", "batch"]  # claim, then settle
    assert client.window(ADA_ADDRESS).open
