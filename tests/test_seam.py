"""The platform seam holds a platform omnimsg has never heard of.

"Tin" is defined only in docs/concepts/adding-a-platform.md (loaded from the page): its own
channel class, a base64 HMAC signature header, XML bodies, an echo handshake (like WeChat's
``echostr``), a follow event, its own rules (a 1-hour window, texts of at most 10 characters,
native code ``TIN-LONG``), a webhook answer of its own (XML) and its own send API. It goes
through ``Client``/``AsyncClient``, ``send``, ``check``, ``window``,
``webhooks.receive``/``handle``/``parse`` with no change to shared code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sys
import types
from typing import Any

import httpx
import pytest

from docsnippets import ROOT, titled
from omnimsg import (
    Address,
    AsyncClient,
    Client,
    ConfigurationError,
    FakeClock,
    PolicyRejected,
    PolicyViolation,
    SignatureError,
    Text,
)
from omnimsg.platforms import Adapter, Channel
from omnimsg.testing import whatsapp_channel, whatsapp_sim_config
from omnimsg_sim import InProcessSimulator
from omnimsg_sim.platforms import SimPlatform

PAGE = ROOT / "docs" / "concepts" / "adding-a-platform.md"


def _load(name: str) -> types.ModuleType:
    """A module exactly as the docs page shows it (the page is its only source)."""
    module = types.ModuleType(name)
    sys.modules[name] = module
    exec(compile(titled(PAGE, f"{name}.py"), f"{name}.py", "exec"), module.__dict__)
    return module


tin = _load("tin")
tin_sim = _load("tin_sim")
Tin, TinAdapter = tin.Tin, tin.TinAdapter
HOUR, NOW = tin.HOUR, 1_772_442_000.0


# --- the platform's own server, and signed bodies ---------------------------------------------

SECRET = "tin-secret"
TIN = Tin(account_id="acc1", secret=SECRET)
ADA = Address("tin", "ada")


def tin_api(sent: list[dict[str, Any]]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/send" and request.headers["authorization"] == f"Tin {SECRET}"
        sent.append(json.loads(request.content))
        return httpx.Response(200, json={"id": f"tin-{len(sent)}"})

    return httpx.MockTransport(handler)


def signed(xml: str) -> tuple[dict[str, str], bytes]:
    body = xml.encode()
    sig = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    return {"X-Tin-Signature": sig}, body


HELLO = '<batch><msg id="m1" from="ada" ts="1772442000"><text>hi</text></msg><follow from="ada" ts="1772442000"/></batch>'


def test_an_unknown_platform_is_refused_until_its_adapter_is_given() -> None:
    with pytest.raises(ConfigurationError, match="no adapter for platform 'tin'"):
        Client([TIN])


def test_tin_through_the_sync_client() -> None:
    clock = FakeClock(NOW)
    sent: list[dict[str, Any]] = []
    client = Client([TIN], adapters=[TinAdapter()], clock=clock, transport=tin_api(sent))
    headers, body = signed(HELLO)
    assert client.webhooks.handle("whatsapp", "POST", "https://a/h", headers, body).status == 404
    with client.webhooks.receive("tin", "POST", "https://app/tin", headers, body) as receipt:
        kinds = [type(e).__name__ for e in receipt.events]
    assert kinds == ["MessageReceived", "FollowChanged"]
    assert (receipt.status, receipt.body, receipt.content_type) == (
        200,
        b"<ack/>",
        "application/xml",
    )
    assert client.store.get("tin:follower:acc1:ada") == b"1"  # the state the follow implied
    again = client.webhooks.handle("tin", "POST", "https://app/tin", headers, body)
    assert again.duplicates == 2 and again.events == ()
    assert client.window(ADA).open
    assert client.send(ADA, Text("hello")).message_id == "tin-1"
    with pytest.raises(PolicyViolation) as refused:
        client.send(ADA, Text("far too long for tin"))
    assert refused.value.violation.native_code == "TIN-LONG"
    clock.advance(HOUR)
    assert [v.native_code for v in client.check(ADA, Text("hi"))] == ["TIN-WIN"]
    assert sent == [{"to": "ada", "text": "hello"}]


def test_tin_handshake_signature_and_bad_bodies() -> None:
    client = Client([TIN], adapters=[TinAdapter()], clock=FakeClock(NOW))
    shake = client.webhooks.handle("tin", "GET", "https://app/tin?echo=abc123", {}, b"")
    assert (shake.status, shake.body) == (200, b"abc123")
    headers, body = signed(HELLO)
    forged = client.webhooks.handle(
        "tin", "POST", "https://app/tin", {"X-Tin-Signature": "AAAA"}, body
    )
    assert forged.status == 403 and isinstance(forged.error, SignatureError)
    assert client.webhooks.handle("tin", "POST", "https://app/tin", {}, body).status == 401
    bad_headers, bad = signed("<batch><msg")
    assert client.webhooks.handle("tin", "POST", "https://app/tin", bad_headers, bad).status == 400
    assert not client.window(ADA).open  # nothing refused changed any state
    assert [type(e).__name__ for e in client.webhooks.parse("tin", headers, body)] == [
        "MessageReceived",
        "FollowChanged",
    ]


@pytest.mark.anyio
async def test_tin_through_the_async_client() -> None:
    sent: list[dict[str, Any]] = []
    client = AsyncClient(
        [TIN], adapters=[TinAdapter()], clock=FakeClock(NOW), transport=tin_api(sent)
    )
    headers, body = signed(HELLO)
    async with client.webhooks.receive("tin", "POST", "https://app/tin", headers, body) as r:
        assert len(r.events) == 2
    assert (await client.window(ADA)).open
    await client.send(ADA, Text("ok"))
    assert sent == [{"to": "ada", "text": "ok"}]
    await client.aclose()


def test_an_adapter_satisfies_the_protocol() -> None:
    adapter: Adapter = TinAdapter()  # checked by mypy when the tests are type-checked
    assert adapter.capabilities["Buttons"] == "refused"
    assert isinstance(TIN, Channel)


# --- Tin through the simulator, beside WhatsApp, on one port -------------------------------------


def tin_simulator(app_client: list[Client]) -> InProcessSimulator:
    """WhatsApp and Tin in one simulator; their webhooks go to one app (``app_client[0]``)."""

    failing = ["carol"]  # the app is down for carol's first message (503), then back

    def app(request: httpx.Request) -> httpx.Response:
        client, platform = app_client[0], request.url.path.strip("/")
        if failing and b'from="carol"' in request.content:
            failing.clear()
            return httpx.Response(503)
        outcome = client.webhooks.handle(
            platform, request.method, str(request.url), request.headers, request.read()
        )
        if outcome.status == 200 and request.method == "POST":
            for event in outcome.events:
                if type(event).__name__ == "MessageReceived":
                    client.send(Address(platform, event.user), Text("thanks!"))  # in the window
        return httpx.Response(
            outcome.status, content=outcome.body, headers={"content-type": outcome.content_type}
        )

    account = tin_sim.TinAccount("acc1", SECRET, webhook_url="https://app.example/tin")
    return InProcessSimulator(
        whatsapp_sim_config(webhook_url="https://app.example/whatsapp"),
        adapters=[tin_sim.tin_adapter(account)],
        webhook_transport=httpx.MockTransport(app),
    )


def test_tin_through_the_simulator_beside_whatsapp() -> None:
    holder: list[Client] = []
    sim = tin_simulator(holder)
    channel = Tin(account_id="acc1", secret=SECRET, base_url=sim.base_url)
    whatsapp = whatsapp_channel(sim.core.config, sim.base_url)
    client = Client(
        [channel, whatsapp],
        adapters=[TinAdapter()],
        clock=sim.clock,
        transport=sim.transport(),
    )
    holder.append(client)
    assert sim.control("GET", "/_sim/health")["platforms"] == {
        "whatsapp": [whatsapp.phone_number_id],
        "tin": ["acc1"],
    }
    assert isinstance(sim.core.platforms["tin"], SimPlatform)
    # The generic control plane, for Tin as for WhatsApp: handshake, a customer writes.
    assert sim.control("POST", "/_sim/webhooks/verify", {"platform": "tin"})["verified"]
    wrote = sim.control("POST", "/_sim/inbound", {"platform": "tin", "user": "ada", "text": "hi"})
    assert (wrote["delivery"]["status"], wrote["delivery"]["body"]) == (200, "<ack/>")
    outbox = sim.control("GET", "/_sim/outbox?platform=tin")["messages"]
    assert [(m["user"], m["text"]) for m in outbox] == [("ada", "thanks!")]  # the app's reply
    assert sim.core.platforms["tin"].answers == [b"<ack/>"]  # the answer reached the platform
    # WhatsApp on the same port, untouched by Tin.
    wa = sim.control("POST", "/_sim/inbound", {"user": "15551230001", "text": "hello"})
    assert wa["delivery"]["status"] == 200
    replies = sim.control("GET", "/_sim/outbox?platform=whatsapp")["messages"]
    assert [(m["user"], m["text"]) for m in replies] == [("15551230001", "thanks!")]
    # Tin's own control plane, /_sim/tin/follow: a follow webhook, and the state it implied.
    followed = sim.control("POST", "/_sim/tin/follow", {"user": "bob"})
    assert followed["delivery"]["status"] == 200
    assert client.store.get("tin:follower:acc1:bob") == b"1"
    assert sim.control("GET", "/_sim/state")["tin"]["acc1"]["followers"] == ["bob"]
    # Both sides keep the same rules: an hour later the SDK refuses first (pre-flight)...
    sim.control("POST", "/_sim/clock/advance", {"seconds": HOUR})
    ada = Address("tin", "ada")
    with pytest.raises(PolicyViolation) as refused:
        client.send(ada, Text("late"))
    assert refused.value.violation.native_code == "TIN-WIN"
    # ...and with pre-flight off, the simulated Tin refuses with its own native error.
    blunt = Client(
        [channel],
        adapters=[TinAdapter()],
        clock=sim.clock,
        preflight=False,
        transport=sim.transport(),
    )
    with pytest.raises(PolicyRejected) as native:
        blunt.send(ada, Text("late"))
    assert (native.value.code, native.value.http_status) == ("TIN-WIN", 400)
    blunt.close()
    http = httpx.Client(transport=sim.transport(), base_url=sim.base_url)
    forged = http.post("/send", headers={"authorization": "Tin nope"}, json={})
    assert (forged.status_code, forged.json()["code"]) == (401, "TIN-AUTH")
    assert sim.control("POST", "/_sim/inbound", {"platform": "tin", "user": 1})["error"]
    # A refused delivery is retried on the virtual clock, by a batch: the platform reads
    # that answer too (the path a WeChat passive reply takes).
    first = sim.control("POST", "/_sim/inbound", {"platform": "tin", "user": "carol", "text": "?"})
    assert first["delivery"]["status"] == 503 and first["delivery"]["retry_at"] is not None
    answers = sim.core.platforms["tin"].answers
    assert answers[-1] == b""
    retried = sim.control("POST", "/_sim/clock/advance", {"seconds": 10})["delivered"]
    assert [d["status"] for d in retried] == [200] and answers[-1] == b"<ack/>"
    # A reset rebuilds every platform, Tin included, from its adapter.
    sim.control("POST", "/_sim/reset")
    assert sim.control("GET", "/_sim/state")["tin"]["acc1"] == {"followers": [], "last_inbound": {}}
    client.close()
    http.close()
    sim.close()
