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
    PolicyViolation,
    StatusUpdate,
    Template,
    Text,
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
