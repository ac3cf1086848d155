"""A tiny Messenger support bot for a Facebook Page, run against an in-process omnimsg-sim.

The bot greets each customer by first name (the User Profile API), answers common questions
with quick replies, and hands the conversation to a person in the Page Inbox
(``pass_thread_control``) when asked. Three days later the window is closed: an automated
follow-up is refused before sending, and the agent's own follow-up goes out with the
``HUMAN_AGENT`` tag.

Everything runs in this process, on the simulator's virtual clock and with no socket: the
simulator serves the Graph API through an httpx transport and delivers its signed webhooks to
the bot's handler, which verifies and parses them with omnimsg.

Run: ``python examples/messenger_support.py`` (needs ``pip install -e ".[sim]"``).
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
    MessageReceived,
    Messenger,
    PolicyViolation,
    Postback,
    QuickReplies,
    Text,
    ThreadControlChanged,
)
from omnimsg.platforms.messenger import PAGE_INBOX_APP_ID
from omnimsg_sim import InProcessSimulator, SimConfig, parse_config

PAGE_ID = "102938475610293"
APP_ID = "909090909090909"
CUSTOMER = "6254798417866420"

FAQ = {
    "SHIPPING": ("Shipping times", "We ship within 2 working days; delivery takes 3 to 5 more."),
    "RETURNS": ("Returns", "Returns are free for 30 days: reply RETURN with your order number."),
}
AGENT = "AGENT"


def config() -> SimConfig:
    """One Page with one customer; webhooks go to the bot (in this process)."""
    return parse_config(
        {
            "sim": {"seed": 7, "start": "2026-03-02T09:00:00Z"},
            "messenger": [
                {
                    "page_id": PAGE_ID,
                    "page_name": "Shoe Shop",
                    "page_access_token": "demo-page-token",
                    "app_secret": "demo-app-secret",
                    "verify_token": "demo-verify",
                    "app_id": APP_ID,
                    "webhook_url": "http://bot.test/webhooks/messenger",
                    "customers": [{"psid": CUSTOMER, "first_name": "Ada", "last_name": "Lovelace"}],
                }
            ],
        },
        source="demo",
    )


def menu(text: str) -> QuickReplies:
    """The FAQ as quick replies (Messenger shows up to 13)."""
    choices = [Button(key, title) for key, (title, _) in FAQ.items()]
    return QuickReplies(text, [*choices, Button(AGENT, "Talk to a person")])


class Transcript:
    """Both sides of the conversation, with the virtual time of each line."""

    def __init__(self, sim: InProcessSimulator) -> None:
        self.sim = sim
        self.lines: list[str] = []

    def stamp(self) -> str:
        return datetime.fromtimestamp(self.sim.now(), tz=UTC).strftime("%a %H:%M")

    def add(self, who: str, text: str) -> None:
        self.lines.append(f"{self.stamp()}  {who:>8} {text}")


class SupportBot:
    """Answers one Page's customers; hands them to a person on request."""

    def __init__(self, client: Client, log: Transcript) -> None:
        self.client = client
        self.log = log
        self.greeted: set[str] = set()

    def say(self, to: Address, content: Text | QuickReplies) -> None:
        self.client.send(to, content)
        extra = (
            f" {[b.title for b in content.replies]}" if isinstance(content, QuickReplies) else ""
        )
        self.log.add("bot <", content.body + extra)

    def webhook(self, request: httpx.Request) -> httpx.Response:
        """The bot's webhook endpoint: verified, de-duplicated, each event handled once."""
        with self.client.webhooks.receive(
            "messenger", request.method, str(request.url), request.headers, request.read()
        ) as receipt:
            for event in receipt.events:
                self.on_event(event)
        return httpx.Response(receipt.status, content=receipt.body)

    def on_event(self, event: Event) -> None:
        if isinstance(event, MessageReceived) and isinstance(event.content, Text):
            self.log.add("customer >", event.content.body)
            if event.standby:  # a person in the Page Inbox owns the thread: leave it to them
                self.log.add("", "(standby: a person in the Page Inbox answers this one)")
                return
            if event.user not in self.greeted:
                self.greeted.add(event.user)
                profile = self.client.messenger.user_profile(event.sender)
                self.say(event.sender, menu(f"Hi {profile.first_name}! How can we help?"))
            else:
                self.say(event.sender, menu("Pick a topic, or ask for a person."))
        elif isinstance(event, Postback) and not event.standby:
            self.log.add("customer >", f"(taps) {event.title}")
            if event.payload == AGENT:
                self.say(event.sender, Text("Connecting you with a person. One moment!"))
                self.client.messenger.pass_thread_control(
                    event.sender, target_app_id=PAGE_INBOX_APP_ID, metadata="asked for a person"
                )
                self.log.add("", "(handed over to the Page Inbox)")
            elif event.payload in FAQ:
                self.say(event.sender, menu(FAQ[event.payload][1]))
        elif isinstance(event, ThreadControlChanged) and event.new_owner == APP_ID:
            self.log.add("", "(the Page Inbox passed the thread back to the bot)")


def main() -> int:
    bots: list[SupportBot] = []

    def webhook(request: httpx.Request) -> httpx.Response:
        return bots[0].webhook(request)

    sim = InProcessSimulator(config(), webhook_transport=httpx.MockTransport(webhook))
    page = Messenger(
        page_id=PAGE_ID,
        page_access_token="demo-page-token",
        app_secret="demo-app-secret",
        verify_token="demo-verify",
        app_id=APP_ID,
        base_url=sim.base_url,
    )
    log = Transcript(sim)
    try:
        with Client([page], transport=sim.transport(), clock=sim.clock) as client:
            bot = SupportBot(client, log)
            bots.append(bot)
            ada = Address("messenger", CUSTOMER)

            def customer(**action: Any) -> None:
                sim.control("POST", "/_sim/clock/advance", {"seconds": 40})  # Ada types
                sim.control(
                    "POST", "/_sim/inbound", {"platform": "messenger", "user": CUSTOMER, **action}
                )

            verified = sim.control("POST", "/_sim/webhooks/verify", {"platform": "messenger"})
            print(f"webhook handshake verified: {verified['verified']}")
            client.messenger.profile.set(
                greeting="Hi {{user_first_name}}! Ask us about shipping and returns.",
                get_started="GET_STARTED",
            )

            print(f"\n--- {log.stamp()}: Ada writes to the Page ---")
            customer(text="Hi, when will my shoes arrive?")
            customer(quick_reply={"payload": "SHIPPING", "title": "Shipping times"})
            customer(quick_reply={"payload": AGENT, "title": "Talk to a person"})
            owner = client.messenger.thread_owner(ada)
            print(f"handed over to the Page Inbox: {owner == PAGE_INBOX_APP_ID}")
            customer(text="My order is A-1001")  # the person in the Page Inbox reads this one
            sim.control(  # ...answers there, and passes the thread back to the bot
                "POST",
                "/_sim/messenger/handover",
                {"platform": "messenger", "user": CUSTOMER, "action": "pass", "metadata": "done"},
            )
            print(f"the bot owns the thread again: {client.messenger.thread_owner(ada) == APP_ID}")

            print("\n--- the clock jumps 3 days ---")
            sim.control("POST", "/_sim/clock/advance", {"seconds": 3 * 86_400})
            window = client.window(ada)
            tags = window.allowed_when_closed
            print(f"now {log.stamp()} UTC; window open: {window.open}; tags allowed: {tags}")
            try:
                client.send(ada, Text("How did it go? Reply 1-5."))
                print("!! an automated message went out after the window closed")
                return 1
            except PolicyViolation as refused:
                v = refused.violation
                print(
                    "automated follow-up REFUSED before sending: "
                    f"[{v.native_code}/{v.native_subcode}] {v.rule_id}"
                )
            agent = Text("Hi Ada, Sam here: your replacement pair ships today.")
            result = client.send(ada, agent, tag="HUMAN_AGENT", human=True)
            print(f"human agent follow-up (HUMAN_AGENT) accepted: {bool(result.message_id)}")
            log.add("agent <", f"{agent.body}   [HUMAN_AGENT]")
            sim.control("POST", "/_sim/clock/advance", {"seconds": 5})

            print("\n--- transcript (times UTC) ---")
            for line in log.lines:
                print(f"  {line}")
            outbox = sim.control("GET", f"/_sim/outbox?user={CUSTOMER}")["messages"]
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
