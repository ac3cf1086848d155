"""A support bot answers a WhatsApp customer through omnimsg-sim, then the clock jumps 25 hours.

Everything runs on this machine over real HTTP on 127.0.0.1 (free ports):

* the simulator serves the WhatsApp Cloud API and sends signed webhooks;
* the bot is a small aiohttp app: it verifies and parses those webhooks with omnimsg and
  answers with omnimsg's AsyncClient.

Run: ``python examples/whatsapp_support_demo.py`` (needs ``pip install -e ".[sim]"``).
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime

import httpx
from aiohttp import web

from omnimsg import (
    Address,
    AsyncClient,
    Buttons,
    MessageReceived,
    PolicyViolation,
    Postback,
    StatusUpdate,
    Template,
    Text,
    WhatsApp,
)
from omnimsg_sim import Simulator, parse_config

PHONE_NUMBER_ID = "106540352242922"
CUSTOMER = "15551230001"


def config(webhook_url: str) -> object:
    return parse_config(
        {
            "sim": {"seed": 7, "start": "2026-03-02T09:00:00Z"},
            "whatsapp": [
                {
                    "phone_number_id": PHONE_NUMBER_ID,
                    "waba_id": "102290129340398",
                    "access_token": "demo-token",
                    "app_secret": "demo-app-secret",
                    "verify_token": "demo-verify",
                    "webhook_url": webhook_url,
                    "customers": [{"wa_id": CUSTOMER, "name": "Ada"}],
                    "templates": [
                        {"name": "order_update", "body": "Hi {{1}}, your order {{2}} is {{3}}."},
                    ],
                }
            ],
        },
        source="demo",
    )


class Transcript:
    """Both sides of the conversation, in the order things happened."""

    def __init__(self, clock: object) -> None:
        self.clock = clock
        self.lines: list[tuple[str, str, str]] = []  # (time, who, text)
        self.sent: dict[str, int] = {}  # message id -> line index

    def add(self, who: str, text: str, message_id: str | None = None) -> None:
        when = datetime.fromtimestamp(self.clock.time(), tz=UTC).strftime("%a %H:%M")  # type: ignore[attr-defined]
        if message_id:
            self.sent[message_id] = len(self.lines)
        self.lines.append((when, who, text))

    def show(self, statuses: dict[str, str]) -> None:
        by_line = {i: statuses.get(mid, "?") for mid, i in self.sent.items()}
        for i, (when, who, text) in enumerate(self.lines):
            suffix = f"   [{by_line[i]}]" if i in by_line else ""
            print(f"  {when}  {who:>8} {text}{suffix}")


class SupportBot:
    """Answers customers: order status, and a hand-off to a human agent."""

    def __init__(self, client: AsyncClient, log: Transcript) -> None:
        self.client = client
        self.log = log
        self.statuses: dict[str, str] = {}

    async def reply(self, to: Address, content: Text | Buttons, **kwargs: str) -> None:
        result = await self.client.send(to, content, **kwargs)
        text = (
            content.body
            if isinstance(content, Text)
            else f"{content.body} {[b.title for b in content.buttons]}"
        )
        self.log.add("bot <", text, result.message_id)

    async def webhook(self, request: web.Request) -> web.Response:
        outcome = await self.client.webhooks.handle(
            "whatsapp", request.method, str(request.url), request.headers, await request.read()
        )
        for event in outcome.events:
            await self.on_event(event)
        return web.Response(status=outcome.status, body=outcome.body)

    async def on_event(self, event: object) -> None:
        if isinstance(event, MessageReceived) and isinstance(event.content, Text):
            self.log.add(f"{event.user_name} >", event.content.body)
            await self.client.whatsapp.mark_read(event.message_id, typing=True)
            await self.reply(
                event.sender,
                Buttons(
                    "Order A-1001 ships today. Anything else?", ["Track order", "Talk to an agent"]
                ),
                reply_to=event.message_id,
            )
        elif isinstance(event, Postback):
            self.log.add(f"{event.user_name} >", f"(taps) {event.title}")
            if event.payload == "Talk to an agent":
                await self.reply(event.sender, Text("Thanks! A colleague will write to you soon."))
            else:
                await self.reply(
                    event.sender, Text("Track it at https://example.com/t/A-1001", preview_url=True)
                )
        elif isinstance(event, StatusUpdate):
            self.statuses[event.message_id] = event.status


async def main() -> int:
    # 1. The bot's webhook endpoint, on a free port.
    bot_app = web.Application()
    bots: list[SupportBot] = []

    async def webhook(request: web.Request) -> web.Response:
        return await bots[0].webhook(request)

    bot_app.router.add_route("*", "/webhooks/whatsapp", webhook)
    runner = web.AppRunner(bot_app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    bot_port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    # 2. The simulator, pointed at the bot.
    async with Simulator(config(f"http://127.0.0.1:{bot_port}/webhooks/whatsapp")) as sim:  # type: ignore[arg-type]
        clock = sim.core.world.clock  # the bot shares the simulator's virtual clock
        channel = WhatsApp(
            phone_number_id=PHONE_NUMBER_ID,
            access_token="demo-token",
            app_secret="demo-app-secret",
            verify_token="demo-verify",
            waba_id="102290129340398",
            base_url=sim.url,
        )
        async with (
            AsyncClient([channel], clock=clock) as client,
            httpx.AsyncClient(base_url=sim.url) as control,
        ):
            log = Transcript(clock)
            bot = SupportBot(client, log)
            bots.append(bot)

            def stamp() -> str:
                return datetime.fromtimestamp(clock.time(), tz=UTC).strftime("%a %H:%M")

            print(f"omnimsg demo: simulator at {sim.url}, bot at http://127.0.0.1:{bot_port}\n")
            verified = (await control.post("/_sim/webhooks/verify", json={})).json()
            print(f"webhook handshake verified: {verified['verified']}")
            await client.whatsapp.templates.list()  # learn the approved templates for pre-flight

            print(f"\n--- {stamp()}: the customer writes ---")
            await control.post(
                "/_sim/inbound",
                json={"platform": "whatsapp", "user": CUSTOMER, "text": "Hi, where is my order?"},
            )
            await control.post(
                "/_sim/inbound",
                json={
                    "platform": "whatsapp",
                    "user": CUSTOMER,
                    "button_reply": {"id": "Talk to an agent", "title": "Talk to an agent"},
                },
            )
            await control.post("/_sim/clock/advance", json={"seconds": 5})
            await asyncio.sleep(0.1)

            to = Address("whatsapp", CUSTOMER)
            window = await client.window(to)
            assert window.closes_at is not None
            print(f"window open: {window.open}, closes {window.closes_at:%a %H:%M} UTC")

            print("\n--- the clock jumps 25 hours ---")
            await control.post("/_sim/clock/advance", json={"seconds": 25 * 3600})
            print(f"now {stamp()} UTC; window open: {(await client.window(to)).open}")
            try:
                await client.send(to, Text("Hi Ada, following up on your order."))
                print("!! a free-form message went out after the window closed")
                return 1
            except PolicyViolation as refused:
                v = refused.violation
                print(f"free-form reply REFUSED before sending: [{v.native_code}] {v.message}")
                log.add(
                    "agent x",
                    f"(refused, window closed {v.closed_at:%a %H:%M}) Hi Ada, following up...",
                )
            template = Template("order_update", params=["Ada", "A-1001", "delivered"])
            result = await client.send(to, template)
            print(f"approved template accepted: {result.status}")
            log.add("agent <", "template order_update(Ada, A-1001, delivered)", result.message_id)
            await control.post("/_sim/clock/advance", json={"seconds": 5})
            await asyncio.sleep(0.1)

            print("\n--- transcript (times UTC; [status] from the status webhooks) ---")
            log.show(bot.statuses)
            outbox = (
                await control.get("/_sim/outbox", params={"user": CUSTOMER, "raw": "false"})
            ).json()["messages"]
            print(f"\nthe simulator's outbox holds {len(outbox)} messages; the last one reads:")
            print(f"  {outbox[-1]['text']!r}")
            deliveries = (await control.get("/_sim/webhooks")).json()["deliveries"]
            print(
                f"\n{len(deliveries)} signed webhooks delivered, {sum(d['status'] != 200 for d in deliveries)} refused"
            )
    await runner.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
