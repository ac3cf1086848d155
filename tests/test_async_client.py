"""The async face against the in-process simulator: same behaviour as the sync face."""

from __future__ import annotations

import asyncio
import json

import pytest

from omnimsg import (
    Address,
    AiohttpDriver,
    AsyncClient,
    AsyncSQLiteStore,
    Buttons,
    MessageReceived,
    OmniMsgError,
    PolicyViolation,
    StatusUpdate,
    Template,
    Text,
    Timeout,
    TransportError,
    WhatsApp,
)
from omnimsg.signing import sign_hub_sha256
from omnimsg.testing import AsyncSimHarness, ServerThread, whatsapp_channel, whatsapp_sim_config

pytestmark = pytest.mark.anyio
ADA = "15551230001"


async def test_conversation_window_and_template() -> None:
    h = AsyncSimHarness()
    try:
        event = await h.customer_says(ADA, "where is my order?")
        assert isinstance(event, MessageReceived)
        window = await h.client.window(event.sender)
        assert window.open
        sent = await h.client.send(event.sender, Buttons("Anything else?", ["Track", "Agent"]))
        assert sent.message_id
        await h.aadvance(hours=25)
        with pytest.raises(PolicyViolation) as caught:
            await h.client.send(event.sender, Text("late"))
        assert caught.value.violation.native_code == 131047
        await h.client.whatsapp.templates.list()
        result = await h.client.send(
            event.sender, Template("order_update", params=["Ada", "A1", "late"])
        )
        assert result.status == "accepted"
        assert [
            e.status
            for e in h.events
            if isinstance(e, StatusUpdate) and e.message_id == sent.message_id
        ] == [
            "sent",
            "delivered",
            "read",
        ]
    finally:
        await h.aclose()


async def test_media_and_mark_read() -> None:
    h = AsyncSimHarness()
    try:
        event = await h.customer_says(ADA, "hi")
        assert await h.client.whatsapp.mark_read(event.message_id, typing=True)
        media_id = await h.client.whatsapp.upload_media(
            b"%PDF", mime_type="application/pdf", filename="x.pdf"
        )
        assert (await h.client.whatsapp.media_info(media_id)).file_size == 4
        assert await h.client.whatsapp.download_media(media_id) == b"%PDF"
        assert await h.client.whatsapp.delete_media(media_id)
    finally:
        await h.aclose()


async def test_async_sqlite_store_backs_the_async_client() -> None:
    h = AsyncSimHarness()
    store = AsyncSQLiteStore(clock=h.clock)
    client = AsyncClient(
        [whatsapp_channel(h.config, h.sim.base_url)],
        transport=h.sim.async_transport(),
        clock=h.clock,
        store=store,
    )
    try:
        await h.acontrol("POST", "/_sim/inbound", {"user": ADA, "text": "x"})
        to = Address("whatsapp", ADA)
        assert not (await client.window(to)).open  # its own store knows nothing yet
        # Replay the delivered webhook into this client: state lands in its SQLite store.
        payload = h.control("GET", "/_sim/webhooks")["deliveries"][-1]["payload"]
        raw = json.dumps(payload).encode()
        headers = {"x-hub-signature-256": sign_hub_sha256(h.config.whatsapp[0].app_secret, raw)}
        outcome = await client.webhooks.handle("whatsapp", "POST", "https://app/wh", headers, raw)
        assert len(outcome.events) == 1
        assert (await client.window(to)).open
        assert (
            await client.webhooks.handle("whatsapp", "POST", "https://app/wh", headers, raw)
        ).duplicates == 1
    finally:
        await client.aclose()
        await store.aclose()
        await h.aclose()


@pytest.mark.slow
async def test_aiohttp_driver_against_the_real_server() -> None:
    config = whatsapp_sim_config(webhook_url=None)
    with ServerThread(config) as url:
        async with AsyncClient([whatsapp_channel(config, url)], driver=AiohttpDriver()) as client:
            to = Address("whatsapp", ADA)
            results = await asyncio.gather(
                *(
                    client.send(
                        Address("whatsapp", f"1555000{i:04d}"),
                        Template("order_update", params=["a", "b", "c"]),
                    )
                    for i in range(20)
                )
            )
            assert len({r.message_id for r in results}) == 20
            with pytest.raises(PolicyViolation):
                await client.send(to, Text("never wrote"))


SECRET_TOKEN = "EAAGm0PX4ZCpsBA-aiohttp-secret-token"


def _error_chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is not None and not any(e is s for s in seen):
            seen.append(e)
            todo += [e.__cause__, e.__context__]
    return seen


async def test_aiohttp_driver_errors_carry_no_token() -> None:
    """A timeout and a refused connection on the aiohttp driver: typed, and no aiohttp object
    (which holds the request headers) is chained to the error."""
    received, release = asyncio.Event(), asyncio.Event()
    handlers: list[asyncio.Task[None]] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handlers.append(asyncio.current_task())  # type: ignore[arg-type]
        await reader.readuntil(b"\r\n\r\n")
        received.set()
        await release.wait()  # never answers
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    channel = WhatsApp(
        phone_number_id="1001", access_token=SECRET_TOKEN, base_url=f"http://127.0.0.1:{port}"
    )
    try:
        async with AsyncClient(
            [channel], driver=AiohttpDriver(timeout=0.3), preflight=False
        ) as client:
            with pytest.raises(Timeout) as timed_out:
                await client.send(Address("whatsapp", ADA), Text("hi"))
            assert received.is_set()
    finally:
        release.set()
        await asyncio.gather(*handlers, return_exceptions=True)
        server.close()
        await server.wait_closed()
    refused = WhatsApp(
        phone_number_id="1001", access_token=SECRET_TOKEN, base_url=f"http://127.0.0.1:{port}"
    )
    async with AsyncClient([refused], driver=AiohttpDriver(timeout=2), preflight=False) as client:
        with pytest.raises(TransportError) as not_connected:
            await client.send(Address("whatsapp", ADA), Text("hi"))
    assert not_connected.value.retryable
    for caught in (timed_out.value, not_connected.value):
        chain = _error_chain(caught)
        assert all(isinstance(e, OmniMsgError) for e in chain), chain
        for e in chain:
            assert SECRET_TOKEN not in repr(e) + str(e) + repr(vars(e))


# --- hostile webhooks on the async face (issue #6, section 3, items 7-9) ----------------------

WH_SECRET = "async-app-secret"
WH_CHANNEL = WhatsApp(phone_number_id="1001", access_token="t", app_secret=WH_SECRET)
CUSTOMER = Address("whatsapp", "15550001")


def _wh_body(*items: str) -> bytes:
    return (
        '{"object":"whatsapp_business_account","entry":[{"id":"2001","changes":[{"field":'
        '"messages","value":{"metadata":{"phone_number_id":"1001"},"messages":['
        + ",".join(items)
        + "]}}]}]}"
    ).encode()


def _wh_message(i: int, timestamp: str = '"1772442000"') -> str:
    return (
        f'{{"from":"15550001","id":"wamid.{i}","timestamp":{timestamp},'
        f'"type":"text","text":{{"body":"m{i}"}}}}'
    )


async def test_async_hostile_webhooks_change_no_state() -> None:
    from omnimsg import ConfigurationError, SignatureError, Unknown, WebhookParseError
    from omnimsg.clock import FakeClock

    async with AsyncClient([WH_CHANNEL], clock=FakeClock(1772442000)) as client:
        handle = client.webhooks.handle
        url = "https://app/wh"
        # 7: nested 1,000 deep after a valid message: refused whole, nothing marked seen.
        deep = _wh_body(_wh_message(1), "[" * 1000 + "]" * 1000)
        sig = sign_hub_sha256(WH_SECRET, deep)
        outcome = await handle("whatsapp", "POST", url, {"X-Hub-Signature-256": sig}, deep)
        assert outcome.status == 400 and isinstance(outcome.error, WebhookParseError)
        assert (await client.window(CUSTOMER)).last_inbound_at is None
        # 8: a NaN / 1e20 timestamp is an Unknown event and moves no window.
        for ts in ('"nan"', '"1e20"', "1e300", '"-5"'):
            body = _wh_body(_wh_message(2, ts))
            sig = sign_hub_sha256(WH_SECRET, body)
            (event,) = (
                await handle("whatsapp", "POST", url, {"x-hub-signature-256": sig}, body)
            ).events
            assert isinstance(event, Unknown) and "timestamp" in event.reason
            window = await client.window(CUSTOMER)
            assert not window.open and window.last_inbound_at is None
            assert await client.check(CUSTOMER, Text("hi"))
            with pytest.raises(PolicyViolation):
                await client.send(CUSTOMER, Text("hi"))
        # 9: ASGI byte pairs are read; the refused message 1 is still new.
        body = _wh_body(_wh_message(1))
        scope_headers = [(b"x-hub-signature-256", sign_hub_sha256(WH_SECRET, body).encode())]
        outcome = await handle("whatsapp", "POST", url, scope_headers, body)  # type: ignore[arg-type]
        assert outcome.status == 200 and [e.message_id for e in outcome.events] == ["wamid.1"]  # type: ignore[union-attr]
        assert (await client.window(CUSTOMER)).open
        bad = await handle("whatsapp", "POST", url, [(b"x-hub-signature-256", b"\xff")], body)  # type: ignore[arg-type]
        assert bad.status == 403 and isinstance(bad.error, SignatureError)
        with pytest.raises(ConfigurationError, match="bytes"):
            await handle("whatsapp", "POST", url, scope_headers, body.decode())  # type: ignore[arg-type]
        with pytest.raises(ConfigurationError, match="headers"):
            await handle("whatsapp", "POST", url, None, body)  # type: ignore[arg-type]
