"""Where webhooks go: run-time targets, the built-in sink, in-process ASGI/WSGI apps, and the
virtual time every answer reports."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from typing import Any

import httpx
import pytest

from omnimsg import AsyncClient, Client, MessageReceived, Text
from omnimsg.testing import DEFAULT_WHATSAPP, ServerThread, whatsapp_channel, whatsapp_sim_config
from omnimsg_sim import InProcessSimulator

ADA = "15551230001"
SECRET = DEFAULT_WHATSAPP["app_secret"]


def test_sink_receives_signed_webhooks_and_answers_the_handshake() -> None:
    sim = InProcessSimulator(whatsapp_sim_config(webhook_url="/_sim/sink"))
    inbound = sim.control("POST", "/_sim/inbound", {"user": ADA, "text": "hello \\d+ (x)"})
    assert inbound["delivery"]["status"] == 200
    verified = sim.control("POST", "/_sim/webhooks/verify", {"challenge": "4242"})
    assert verified["verified"] is True
    received = sim.control("GET", "/_sim/sink")["requests"]
    assert [r["method"] for r in received] == ["POST", "GET"]
    post = received[0]
    expected = hmac.new(SECRET.encode(), post["body"].encode(), hashlib.sha256).hexdigest()
    assert post["headers"]["x-hub-signature-256"] == f"sha256={expected}"
    message = post["payload"]["entry"][0]["changes"][0]["value"]["messages"][0]
    assert message["text"]["body"] == "hello \\d+ (x)"
    assert "hub.challenge=4242" in received[1]["url"]
    sim.control("DELETE", "/_sim/sink")
    assert sim.control("GET", "/_sim/sink")["requests"] == []


def test_target_moves_webhooks_and_survives_reset() -> None:
    got: list[bytes] = []

    def app(request: httpx.Request) -> httpx.Response:
        got.append(request.read())
        return httpx.Response(200)

    sim = InProcessSimulator.with_handler(whatsapp_sim_config(), app)
    changed = sim.control("POST", "/_sim/webhooks/target", {"url": "/_sim/sink"})
    assert changed == {
        "platform": "whatsapp",
        "account": DEFAULT_WHATSAPP["phone_number_id"],
        "url": "/_sim/sink",
    }
    sim.control("POST", "/_sim/reset")
    sim.control("POST", "/_sim/inbound", {"user": ADA, "text": "hi"})
    assert got == []
    assert len(sim.control("GET", "/_sim/sink")["requests"]) == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"url": "ftp://x"}, "must be an http(s) URL or /_sim/sink"),
        ({}, "'url' is required"),
        ({"url": 5}, "'url' must be a string"),
        ({"url": "/_sim/sink", "account": "999"}, "unknown or ambiguous 'account'"),
        ({"url": "/_sim/sink", "platform": "viber"}, "not simulated yet"),
        ({"url": "/_sim/sink", "platform": "line"}, "has no account in this config"),
        ([1], "must be a JSON object"),
    ],
)
def test_target_refuses_bad_input_and_changes_nothing(body: Any, message: str) -> None:
    sim = InProcessSimulator(whatsapp_sim_config(webhook_url="/_sim/sink"))
    answer = sim.control("POST", "/_sim/webhooks/target", body)
    assert message in answer["error"]["message"]
    sim.control("POST", "/_sim/inbound", {"user": ADA, "text": "hi"})
    assert len(sim.control("GET", "/_sim/sink")["requests"]) == 1


def test_every_answer_reports_virtual_time() -> None:
    sim = InProcessSimulator(whatsapp_sim_config())
    with httpx.Client(transport=sim.transport(), base_url=sim.base_url) as http:
        before = float(http.get("/_sim/health").headers["x-omnimsg-sim-time"])
        http.post("/_sim/clock/advance", json={"seconds": 3600})
        after = http.get("/v23.0/nothing-here").headers["x-omnimsg-sim-time"]
    assert float(after) == before + 3600


@pytest.mark.slow
def test_server_reports_virtual_time_and_takes_a_target() -> None:
    config = whatsapp_sim_config()
    with ServerThread(config) as url, httpx.Client(base_url=url) as http:
        first = http.get("/_sim/clock")
        assert float(first.headers["x-omnimsg-sim-time"]) == first.json()["timestamp"]
        http.post("/_sim/webhooks/target", json={"url": "/_sim/sink"})
        http.post("/_sim/inbound", json={"user": ADA, "text": "hi"})
        assert http.get("/_sim/sink").json()["requests"][0]["kind"] == "message"


# --- apps in process ---------------------------------------------------------------------------


def _asgi_app(client_box: list[AsyncClient]) -> Any:
    """A bare ASGI app: answers webhooks through an AsyncClient, replying to each message."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        client = client_box[0]
        url = f"http://app.test{scope['path']}?{scope['query_string'].decode()}"
        headers = [(k.decode(), v.decode()) for k, v in scope["headers"]]
        outcome = await client.webhooks.handle("whatsapp", scope["method"], url, headers, body)
        for event in outcome.events:
            if isinstance(event, MessageReceived):
                await client.send(event.sender, Text("ASGI says hi"))
        await send({"type": "http.response.start", "status": outcome.status, "headers": []})
        await send({"type": "http.response.body", "body": outcome.body})

    return app


def test_asgi_app_from_the_sync_control_plane() -> None:
    """The documented ``webhook_transport=httpx.ASGITransport(app)`` works from sync code."""
    config = whatsapp_sim_config()
    box: list[AsyncClient] = []
    app = _asgi_app(box)
    sim = InProcessSimulator(config, webhook_transport=httpx.ASGITransport(app=app))
    box.append(
        AsyncClient(
            [whatsapp_channel(config, sim.base_url)],
            transport=sim.async_transport(),
            clock=sim.clock,
        )
    )
    try:
        result = sim.control("POST", "/_sim/inbound", {"user": ADA, "text": "hi"})
        assert result["delivery"]["status"] == 200
        assert [m["text"] for m in sim.control("GET", "/_sim/outbox")["messages"]] == [
            "ASGI says hi"
        ]
    finally:
        sim.close()


@pytest.mark.anyio
async def test_asgi_app_from_the_async_control_plane() -> None:
    config = whatsapp_sim_config()
    box: list[AsyncClient] = []
    sim = InProcessSimulator(config, app=_asgi_app(box))
    box.append(
        AsyncClient(
            [whatsapp_channel(config, sim.base_url)],
            transport=sim.async_transport(),
            clock=sim.clock,
        )
    )
    result = await sim.acontrol("POST", "/_sim/inbound", {"user": ADA, "text": "hi"})
    assert result["delivery"]["status"] == 200
    assert (await sim.acontrol("GET", "/_sim/outbox"))["messages"][0]["text"] == "ASGI says hi"
    await box[0].aclose()
    await sim.aclose()


def _wsgi_app(client_box: list[Client]) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        headers = [
            (k[5:].replace("_", "-").lower(), v)
            for k, v in environ.items()
            if k.startswith("HTTP_")
        ]
        url = f"http://app.test{environ['PATH_INFO']}?{environ.get('QUERY_STRING', '')}"
        client = client_box[0]
        outcome = client.webhooks.handle("whatsapp", environ["REQUEST_METHOD"], url, headers, body)
        for event in outcome.events:
            if isinstance(event, MessageReceived):
                client.send(event.sender, Text("WSGI says hi"))
        start_response(f"{outcome.status} X", [("content-type", outcome.content_type)])
        return [outcome.body]

    return app


@pytest.mark.parametrize("path", ["sync", "async"])
def test_wsgi_app_on_both_paths(path: str) -> None:
    config = whatsapp_sim_config()
    box: list[Client] = []
    sim = InProcessSimulator(config)
    sim.deliver_webhooks_to(_wsgi_app(box))
    box.append(
        Client([whatsapp_channel(config, sim.base_url)], transport=sim.transport(), clock=sim.clock)
    )
    spec = {"user": ADA, "text": "hi"}
    if path == "sync":
        result = sim.control("POST", "/_sim/inbound", spec)
    else:
        result = asyncio.run(sim.acontrol("POST", "/_sim/inbound", spec))
    assert result["delivery"]["status"] == 200
    assert sim.control("GET", "/_sim/outbox")["messages"][0]["text"] == "WSGI says hi"
    sim.close()


def test_deliver_webhooks_to_refuses_what_is_not_an_app() -> None:
    from omnimsg import ConfigurationError

    sim = InProcessSimulator(whatsapp_sim_config())
    with pytest.raises(ConfigurationError, match="cannot deliver webhooks to 42"):
        sim.deliver_webhooks_to(42)
