"""A tiny LINE support bot for a LINE Official Account, run against an in-process omnimsg-sim.

The shop is on Japan's free plan (200 pushes a month; replies are free). The bot offers its
FAQ as a rich menu, greets each new friend by name with a free reply, answers menu taps with
replies, and shows the loading animation while it looks an order up. The lookup takes
longer than the reply token lives, so that answer goes as a push, counted against the quota,
and the result says so. When the customer blocks the account, the next push is refused
before sending: LINE would accept it and drop it without a word.

Everything runs in this process, on the simulator's virtual clock and with no socket: the
simulator serves api.line.me (and api-data.line.me) through an httpx transport and delivers
its signed webhooks to the bot's handler, which verifies and parses them with omnimsg.

Run: ``python examples/line_support.py`` (needs ``pip install -e ".[sim]"``).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Any

import httpx

from omnimsg import (
    Address,
    Button,
    Client,
    Event,
    FollowChanged,
    Line,
    MessageReceived,
    PolicyViolation,
    Postback,
    QuickReplies,
    SendResult,
    Text,
)
from omnimsg_sim import InProcessSimulator, SimConfig, parse_config
from omnimsg_sim.platforms.line.richmenu import sample_png

BOT = "U4af4980629ab4af4980629ab4af49806"  # the bot's user id: its webhooks' destination
SECRET = "demo-line-channel-secret"
TOKEN = "demo-line-channel-token"
ADA = "U1111111111111111111111111111111a"

FAQ = {
    "SHIPPING": "We ship within 2 working days; delivery takes 1 to 3 more.",
    "RETURNS": "Returns are free for 30 days: send us your order number.",
}
ORDER_LOOKUP_SECONDS = 90  # longer than a reply token lives (about a minute)


def config() -> SimConfig:
    """One channel on the free plan, one customer; webhooks go to the bot (this process)."""
    return parse_config(
        {
            "sim": {"seed": 7, "start": "2026-03-02T09:00:00Z"},
            "line": [
                {
                    "bot_user_id": BOT,
                    "channel_id": "1657000000",
                    "channel_secret": SECRET,
                    "channel_access_token": TOKEN,
                    "display_name": "Shoe Shop",
                    "plan": "jp-communication",
                    "webhook_url": "http://bot.test/webhooks/line",
                    "customers": [{"user_id": ADA, "display_name": "Ada", "friend": False}],
                }
            ],
        },
        source="demo",
    )


# The FAQ menu under the chat: two areas, each a postback (LINE's rich menu object).
RICH_MENU: dict[str, Any] = {
    "size": {"width": 2500, "height": 843},
    "selected": True,
    "name": "FAQ",
    "chatBarText": "Help",
    "areas": [
        {
            "bounds": {"x": 0, "y": 0, "width": 1250, "height": 843},
            "action": {"type": "postback", "data": "SHIPPING", "displayText": "Shipping"},
        },
        {
            "bounds": {"x": 1250, "y": 0, "width": 1250, "height": 843},
            "action": {"type": "postback", "data": "RETURNS", "displayText": "Returns"},
        },
    ],
}


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
    """Answers one LINE account's customers, with free replies whenever it can."""

    def __init__(self, client: Client, sim: InProcessSimulator, log: Transcript) -> None:
        self.client = client
        self.sim = sim
        self.log = log

    def say(self, to: Address, content: Text | QuickReplies) -> SendResult:
        result = self.client.send(to, content)
        self.log.add("bot <", f"{content.body}   [{result.status}]")
        return result

    def webhook(self, request: httpx.Request) -> httpx.Response:
        """The bot's webhook endpoint: verified, de-duplicated, each event handled once."""
        with self.client.webhooks.receive(
            "line", request.method, str(request.url), request.headers, request.read()
        ) as receipt:
            for event in receipt.events:
                self.on_event(event)
        return httpx.Response(receipt.status, content=receipt.body)

    def on_event(self, event: Event) -> None:
        if isinstance(event, FollowChanged):
            if not event.following:
                self.log.add("customer", "(blocks the account)")
                return
            self.log.add("customer", "(adds the account as a friend)")
            profile = self.client.line.profile(Address("line", event.user))
            self.say(
                Address("line", event.user),
                Text(f"Hi {profile.display_name}! Tap Help below for shipping and returns."),
            )
        elif isinstance(event, Postback):
            self.log.add("customer >", f"(taps the menu) {event.payload}")
            answer = FAQ.get(event.payload, "Sorry, I did not get that.")
            self.say(Address("line", event.user), Text(answer))
        elif isinstance(event, MessageReceived) and isinstance(event.content, Text):
            self.log.add("customer >", event.content.body)
            to = Address("line", event.user)
            self.client.line.show_loading(to, seconds=20)
            self.log.add("bot", "(loading animation, looking the order up...)")
            self.sim.control("POST", "/_sim/clock/advance", {"seconds": ORDER_LOOKUP_SECONDS})
            done = Text("Order A-1001 left our warehouse today.")
            again = [Button("SHIPPING", "Shipping"), Button("RETURNS", "Returns")]
            self.say(to, QuickReplies(f"{done.body} Anything else?", again))


def main() -> int:
    bots: list[SupportBot] = []

    def webhook(request: httpx.Request) -> httpx.Response:
        return bots[0].webhook(request)

    sim = InProcessSimulator(config(), webhook_transport=httpx.MockTransport(webhook))
    channel = Line(
        bot_user_id=BOT,
        channel_access_token=TOKEN,
        channel_secret=SECRET,
        base_url=sim.base_url,
    )
    log = Transcript(sim)
    try:
        with Client([channel], transport=sim.transport(), clock=sim.clock) as client:
            bots.append(SupportBot(client, sim, log))
            ada = Address("line", ADA)

            def customer(**action: Any) -> None:
                sim.control("POST", "/_sim/clock/advance", {"seconds": 30})  # Ada types
                sim.control("POST", "/_sim/inbound", {"platform": "line", "user": ADA, **action})

            verified = sim.control("POST", "/_sim/webhooks/verify", {"platform": "line"})
            print(
                f"webhook URL verified (an empty events list answered 200): {verified['verified']}"
            )

            menu = client.line.create_rich_menu(RICH_MENU)
            client.line.upload_rich_menu_image(menu, sample_png(2500, 843))
            client.line.set_default_rich_menu(menu)
            print(f"rich menu {menu} is every friend's default")

            print(f"\n--- {log.stamp()}: Ada adds the shop and asks ---")
            customer(follow=True)
            customer(richmenu={"area": 0})
            customer(text="Where is my order A-1001?")
            customer(richmenu={"area": 1})
            quota = client.line.quota()
            used = client.line.consumption()
            print(
                f"quota this month: {quota.value} (limited: {quota.limited}); pushes used: {used}"
            )

            print("\n--- Ada blocks the account ---")
            customer(unfollow=True)
            print(f"chat open: {client.window(ada).open}")
            try:
                client.send(ada, Text("We miss you! 10% off this week."))
                print("!! a push to a customer who blocked the account went out")
                return 1
            except PolicyViolation as refused:
                v = refused.violation
                print(f"push REFUSED before sending: {v.rule_id}")

            print("\n--- transcript (times UTC) ---")
            for line in log.lines:
                print(f"  {line}")
            outbox = sim.control("GET", f"/_sim/outbox?user={ADA}")["messages"]
            print(f"\nthe simulator's outbox holds {len(outbox)} messages; the last one reads:")
            print(f"  {outbox[-1]['text']!r}")
            deliveries = sim.control("GET", "/_sim/webhooks")["deliveries"]
            refused_count = sum(d["status"] != 200 for d in deliveries)
            print(f"\n{len(deliveries)} signed webhooks delivered, {refused_count} refused")
    finally:
        sim.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
