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
    PolicyViolation,
    SignatureError,
    Text,
)
from omnimsg.platforms import Adapter, Channel

PAGE = ROOT / "docs" / "concepts" / "adding-a-platform.md"


def _load_tin() -> types.ModuleType:
    """The adapter exactly as the docs page shows it (the page is its only source)."""
    module = types.ModuleType("tin")
    sys.modules["tin"] = module
    exec(compile(titled(PAGE, "tin.py"), "tin.py", "exec"), module.__dict__)
    return module


tin = _load_tin()
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
