"""A tiny WeChat support bot for an Official Account, run against an in-process omnimsg-sim.

A shop puts a QR code on its counter. A customer who scans it follows the account and is
welcomed by a **passive reply**, the answer inside the webhook response (encrypted: the
account runs in safe mode). A tap on the custom menu gets the FAQ as a message menu (the
customer-service API, within the short window the tap opened), and a question whose lookup
takes longer than WeChat's 5 seconds is answered ``success`` at once and then through the
customer-service API. Two days later the 48-hour window is closed: a free-form message is
refused before sending, and a template message goes through instead.

Everything runs in this process, on the simulator's virtual clock and with no socket: the
simulator serves api.weixin.qq.com through an httpx transport and delivers its signed and
encrypted webhooks to the bot's handler, which verifies, decrypts and parses them with omnimsg.

Run: ``python examples/wechat_support.py`` (needs ``pip install -e ".[sim]"``).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Any

import httpx

from omnimsg import (
    Address,
    Button,
    Buttons,
    Client,
    Event,
    FollowChanged,
    LinkButton,
    MessageReceived,
    PolicyViolation,
    Postback,
    QrScanned,
    StatusUpdate,
    Text,
    WeChat,
)
from omnimsg_sim import InProcessSimulator, SimConfig, parse_config

ACCOUNT = "gh_10f6c3c3ac5a"  # the account's original id: its webhooks' ToUserName
APP_ID = "wx2c2769f8efd9abc2"
TOKEN = "demo-wechat-token"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
CUSTOMER = "oyORnuP8q7ou2gfYjqLzSIWZf0rs"
TEMPLATE = "order-shipped"

FAQ = {
    "SHIPPING": "We ship within 2 working days; delivery takes 1 to 3 more.",
    "RETURNS": "Returns are free for 30 days: send us your order number.",
}
LOOKUP_SECONDS = 8  # longer than the 5 s WeChat waits for the webhook's answer


def config() -> SimConfig:
    """One account in safe mode; the customer does not follow it yet."""
    return parse_config(
        {
            "sim": {"seed": 7, "start": "2026-03-02T09:00:00Z"},
            "wechat": [
                {
                    "account_id": ACCOUNT,
                    "app_id": APP_ID,
                    "app_secret": "demo-app-secret",
                    "token": TOKEN,
                    "encoding_aes_key": AES_KEY,
                    "mode": "safe",
                    "webhook_url": "http://bot.test/webhooks/wechat",
                    "templates": [TEMPLATE],
                    "customers": [{"openid": CUSTOMER, "following": False}],
                }
            ],
        },
        source="demo",
    )


class Transcript:
    """Both sides of the conversation, with the virtual time of each line."""

    def __init__(self, sim: InProcessSimulator) -> None:
        self.sim = sim
        self.lines: list[str] = []

    def stamp(self) -> str:
        return datetime.fromtimestamp(self.sim.now(), tz=UTC).strftime("%a %H:%M:%S")

    def add(self, who: str, text: str) -> None:
        self.lines.append(f"{self.stamp()}  {who:>10} {text}")


class SupportBot:
    """Answers one account's customers: passively when it can, else by the CS API."""

    def __init__(self, client: Client, sim: InProcessSimulator, log: Transcript) -> None:
        self.client = client
        self.sim = sim
        self.log = log

    def webhook(self, request: httpx.Request) -> httpx.Response:
        """The bot's webhook endpoint: the echostr handshake, then verified, decrypted,
        de-duplicated events, each handled once; a passive reply goes in the answer."""
        outcome = self.client.webhooks.handle(
            "wechat", request.method, str(request.url), request.headers, request.read()
        )
        if outcome.duplicates:
            self.log.add("", "(WeChat sends it again: no answer came within 5 s; dropped)")
        for event in outcome.events:
            reply = self.on_event(event)
            if reply is not None:
                outcome = self.client.wechat.passive_reply(event, reply)
        return httpx.Response(
            outcome.status, content=outcome.body, headers={"content-type": outcome.content_type}
        )

    def on_event(self, event: Event) -> Text | None:
        """What to answer in the webhook response (``None``: ``success``, nothing)."""
        if isinstance(event, QrScanned):
            self.log.add("customer", f"(scans the QR code of {event.scene})")
            self.log.add("bot <", "Welcome to Shoe Shop! Tap Help below.   [passive reply]")
            return Text("Welcome to Shoe Shop! Tap Help below.")
        if isinstance(event, FollowChanged):
            return None  # the QrScanned of the same scan answers it
        to = Address("wechat", getattr(event, "user", ""))
        if isinstance(event, Postback) and event.source == "menu":
            self.log.add("customer >", f"(taps the menu) {event.payload}")
            faq = Buttons("What can we help with?", [Button(k, k.title()) for k in FAQ])
            self.client.send(to, faq)  # a message menu, in the window the tap opened
            self.log.add("bot <", "What can we help with? [Shipping, Returns]   [msgmenu]")
        elif isinstance(event, Postback):
            self.log.add("customer >", f"(taps) {event.title}")
            self.client.send(to, Text(FAQ.get(event.payload, "Sorry?")))
            self.log.add("bot <", f"{FAQ.get(event.payload, 'Sorry?')}   [customer service]")
        elif isinstance(event, MessageReceived) and isinstance(event.content, Text):
            self.log.add("customer >", event.content.body)
            self.client.wechat.typing(to)
            # Too slow for a passive reply: answer "success" now, send when done.
            self.sim.control("POST", "/_sim/clock/advance", {"seconds": LOOKUP_SECONDS})
            self.client.send(to, Text("Order A-1001 left our warehouse today."))
            self.log.add("bot <", "Order A-1001 left our warehouse today.   [customer service]")
        elif isinstance(event, StatusUpdate):
            self.log.add("", f"(template message {event.message_id}: {event.status})")
        return None


def main() -> int:
    bots: list[SupportBot] = []

    def webhook(request: httpx.Request) -> httpx.Response:
        return bots[0].webhook(request)

    sim = InProcessSimulator(config(), webhook_transport=httpx.MockTransport(webhook))
    channel = WeChat(
        account_id=ACCOUNT,
        app_id=APP_ID,
        app_secret="demo-app-secret",
        token=TOKEN,
        encoding_aes_key=AES_KEY,
        mode="safe",
        base_url=sim.base_url,
    )
    log = Transcript(sim)
    try:
        with Client([channel], transport=sim.transport(), clock=sim.clock) as client:
            bots.append(SupportBot(client, sim, log))
            ada = Address("wechat", CUSTOMER)

            def customer(**action: Any) -> None:
                sim.control("POST", "/_sim/clock/advance", {"seconds": 20})  # Ada types
                sim.control(
                    "POST", "/_sim/inbound", {"platform": "wechat", "user": CUSTOMER, **action}
                )

            verified = sim.control("POST", "/_sim/webhooks/verify", {"platform": "wechat"})
            print(f"server configuration verified (echostr answered): {verified['verified']}")
            client.wechat.create_menu(
                [Button("HELP", "Help"), LinkButton("Shop", "https://shop.example/")]
            )
            qr = client.wechat.create_qr("counter-42", expire_seconds=30 * 86_400)
            print(f"QR code for the counter: {qr.image_url[:60]}...")

            print(f"\n--- {log.stamp()}: Ada scans the code and asks ---")
            customer(scan=qr.ticket)
            customer(click="HELP")
            customer(text="Shipping", bizmsgmenuid="SHIPPING")  # taps the message menu
            customer(text="Where is my order A-1001?")
            window = client.window(ada)
            print(f"window open: {window.open}; closes {window.closes_at:%a %H:%M} UTC")

            print("\n--- the clock jumps 2 days ---")
            sim.control("POST", "/_sim/clock/advance", {"seconds": 2 * 86_400})
            try:
                client.send(ada, Text("How were the shoes?"))
                print("!! a free-form message went out after the 48-hour window")
                return 1
            except PolicyViolation as refused:
                v = refused.violation
                print(f"free-form follow-up REFUSED before sending: [{v.native_code}] {v.rule_id}")
            msgid = client.wechat.send_template(
                ada, TEMPLATE, {"keyword1": "A-1001", "keyword2": "shipped"}, client_msg_id="A-1001"
            )
            print(f"template message accepted: {msgid is not None}")
            sim.control("POST", "/_sim/clock/advance", {"seconds": 5})

            print("\n--- transcript (times UTC) ---")
            for line in log.lines:
                print(f"  {line}")
            outbox = sim.control("GET", f"/_sim/outbox?user={CUSTOMER}")["messages"]
            print(f"\nthe simulator's outbox holds {len(outbox)} messages")
            deliveries = sim.control("GET", "/_sim/webhooks")["deliveries"]
            refused_count = sum(d["status"] != 200 for d in deliveries)
            print(
                f"{len(deliveries)} signed, encrypted webhooks delivered, {refused_count} refused"
            )
    finally:
        sim.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
