"""An app in its own process follows the simulator's virtual clock (omnimsg.testing.SimulatorClock)."""

from __future__ import annotations

import httpx
import pytest

from omnimsg import Address, AsyncClient, Client, PolicyViolation, Template, Text, TransportError
from omnimsg.clock import FakeClock
from omnimsg.testing import ServerThread, SimulatorClock, whatsapp_channel, whatsapp_sim_config
from omnimsg_sim import InProcessSimulator

ADA = Address("whatsapp", "15551230001")
START = 1_772_442_000.0  # 2026-03-02T09:00:00Z, the default test config's start


def _inbound(sim: InProcessSimulator) -> None:
    sim.control("POST", "/_sim/inbound", {"user": ADA.user, "text": "hi"})


def test_frozen_clock_is_read_at_every_operation() -> None:
    sim = InProcessSimulator(whatsapp_sim_config(webhook_url="/_sim/sink"))
    clock = SimulatorClock(sim.base_url, transport=sim.transport())
    assert clock.time() == START
    sim.control("POST", "/_sim/clock/advance", {"seconds": 60})
    assert clock.time() == START  # between reads, a frozen clock stands still
    clock.refresh()
    assert clock.time() == START + 60
    assert clock.now().isoformat() == "2026-03-02T09:01:00+00:00"


def test_preflight_follows_an_advance_made_by_someone_else() -> None:
    """The quickstart's story, with the client's store fed by the simulator's webhooks."""
    sim = InProcessSimulator(whatsapp_sim_config())
    clock = SimulatorClock(sim.base_url, transport=sim.transport())
    client = Client(
        [whatsapp_channel(sim.core.config, sim.base_url)], transport=sim.transport(), clock=clock
    )

    def app(request: httpx.Request) -> httpx.Response:
        outcome = client.webhooks.handle(
            "whatsapp", request.method, str(request.url), request.headers, request.read()
        )
        return httpx.Response(outcome.status, content=outcome.body)

    sim.deliver_webhooks_to(app)
    _inbound(sim)
    assert client.window(ADA).open
    client.send(ADA, Text("Thanks!"))
    sim.control("POST", "/_sim/clock/advance", {"seconds": 25 * 3600})  # not through the client
    window = client.window(ADA)
    assert not window.open
    assert (
        window.closes_at is not None and window.closes_at.isoformat() == "2026-03-03T09:00:00+00:00"
    )
    with pytest.raises(PolicyViolation) as refused:
        client.send(ADA, Text("Any news?"))
    assert refused.value.violation.native_code == 131047
    client.send(ADA, Template("order_update", params=["Ada", "A-1", "delivered"]))
    statuses = [m["status"] for m in sim.control("GET", "/_sim/outbox?raw=false")["messages"]]
    assert "failed" not in statuses  # nothing was sent that the simulator then failed
    client.close()
    clock.close()


@pytest.mark.anyio
async def test_async_face_refreshes_without_blocking() -> None:
    sim = InProcessSimulator(whatsapp_sim_config(webhook_url="/_sim/sink"))
    # No sync transport: a blocking read would fail, so only arefresh() can have run.
    clock = SimulatorClock(
        sim.base_url,
        transport=httpx.MockTransport(_unreachable),
        async_transport=sim.async_transport(),
    )
    client = AsyncClient(
        [whatsapp_channel(sim.core.config, sim.base_url)],
        transport=sim.async_transport(),
        clock=clock,
    )
    await sim.acontrol("POST", "/_sim/clock/advance", {"seconds": 3600})
    window = await client.window(ADA)
    assert not window.open
    assert clock.time() == START + 3600
    await client.aclose()
    await clock.aclose()


def test_running_clock_flows_between_reads() -> None:
    sim = InProcessSimulator(
        whatsapp_sim_config(webhook_url="/_sim/sink", sim={"clock": "running"})
    )
    base = FakeClock(1000.0)
    clock = SimulatorClock(sim.base_url, transport=sim.transport(), base=base)
    clock.refresh()
    first = clock.time()
    base.advance(2.5)
    assert clock.time() == first + 2.5


def _unreachable(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def test_unreachable_simulator_is_a_transport_error() -> None:
    config = whatsapp_sim_config()
    clock = SimulatorClock("http://127.0.0.1:9", transport=httpx.MockTransport(_unreachable))
    client = Client([whatsapp_channel(config, "http://127.0.0.1:9")], clock=clock)
    with pytest.raises(TransportError, match="cannot read the simulator's clock"):
        client.window(ADA)


@pytest.mark.parametrize("answer", [b"not json", b'{"timestamp": "soon"}', b"[]"])
def test_an_answer_that_is_not_a_clock_is_a_transport_error(answer: bytes) -> None:
    clock = SimulatorClock(
        "http://sim.test",
        transport=httpx.MockTransport(lambda r: httpx.Response(200, content=answer)),
    )
    with pytest.raises(TransportError, match="did not answer with a clock"):
        clock.refresh()


@pytest.mark.slow
def test_follows_a_real_server() -> None:
    with ServerThread(whatsapp_sim_config(webhook_url="/_sim/sink")) as url:
        clock = SimulatorClock(url)
        assert clock.time() == START
        httpx.post(f"{url}/_sim/clock/advance", json={"seconds": 90000})
        clock.refresh()
        assert clock.time() == START + 90000
        assert repr(clock) == f"SimulatorClock({url!r})"
        clock.close()


@pytest.mark.slow
def test_leaves_no_socket_open_on_either_face() -> None:
    """No keep-alive: a clock that is never closed, or outlives its event loop, leaks nothing
    (pytest turns a ResourceWarning from the collection below into a failure)."""
    import asyncio
    import gc

    config = whatsapp_sim_config(webhook_url="/_sim/sink")
    with ServerThread(config) as url:
        forgotten = SimulatorClock(url)
        Client([whatsapp_channel(config, url)], clock=forgotten).window(ADA)

        async def one_loop() -> None:
            client = AsyncClient([whatsapp_channel(config, url)], clock=forgotten)
            await client.window(ADA)

        asyncio.run(one_loop())
        asyncio.run(one_loop())  # a second loop: a second async client, the first one idle
        with Client([whatsapp_channel(config, url)], clock=SimulatorClock(url)) as client:
            client.window(ADA)  # close() releases the clock too
        gc.collect()
