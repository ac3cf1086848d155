"""A Messenger client we did not write (fbmessenger, from PyPI) works against omnimsg-sim.

How fbmessenger is pointed at the simulator: its ``MessengerClient`` builds
``self.graph_url = "https://graph.facebook.com/v{api_version}"`` in ``__init__`` and formats
every call from it at call time, so setting ``client.graph_url`` to the simulator's URL is the
one change (research §3.1). Nothing else is patched: fbmessenger sends its own bodies (the
Page token and ``appsecret_proof`` as query parameters, ``is_reusable`` as the string
``"true"``), and its ``BaseMessenger.handle`` parses the simulator's webhooks, which a small
HTTP server receives after checking ``X-Hub-Signature-256`` over the raw bytes.

fbmessenger 6.0.0 (2019) needs ``six`` without declaring it, and its ``templates`` module
breaks on Python 3.10+ (``collections.Iterable``): neither matters here, templates are not
used (research §3.1).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from fbmessenger import (
    BaseMessenger,
    MessengerClient,
    attachments,
    elements,
    quick_replies,
    sender_actions,
    thread_settings,
)

from omnimsg.testing import DEFAULT_MESSENGER, ServerThread, messenger_sim_config
from remote import Receiver, Remote

pytestmark = pytest.mark.slow

ADA = DEFAULT_MESSENGER["customers"][0]["psid"]
ALAN = DEFAULT_MESSENGER["customers"][1]["psid"]
TOKEN = DEFAULT_MESSENGER["page_access_token"]
SECRET = DEFAULT_MESSENGER["app_secret"]


def client_for(url: str) -> MessengerClient:
    """fbmessenger's client, pointed at the simulator by its graph_url alone."""
    client = MessengerClient(TOKEN, api_version="25.0", app_secret=SECRET)
    client.graph_url = f"{url}/v25.0"
    return client


class Bot(BaseMessenger):  # type: ignore[misc]
    """A bot written with fbmessenger: it answers every text by echoing it."""

    def __init__(self, url: str) -> None:
        super().__init__(TOKEN, app_secret=SECRET)
        self.client.graph_url = f"{url}/v25.0"
        self.seen: list[tuple[str, dict[str, Any]]] = []
        self.answers: list[dict[str, Any]] = []

    def message(self, message: dict[str, Any]) -> None:
        self.seen.append(("message", message))
        if message["message"].get("is_echo"):
            return  # pitfall 4: an echo is the Page's own message
        text = message["message"].get("text", "")
        self.answers.append(self.send(elements.Text(f"You said: {text}").to_dict()))

    def delivery(self, message: dict[str, Any]) -> None:
        self.seen.append(("delivery", message))

    def read(self, message: dict[str, Any]) -> None:
        self.seen.append(("read", message))

    def postback(self, message: dict[str, Any]) -> None:
        self.seen.append(("postback", message))

    def optin(self, message: dict[str, Any]) -> None:
        self.seen.append(("optin", message))

    def account_linking(self, message: dict[str, Any]) -> None:
        self.seen.append(("account_linking", message))


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with ServerThread(messenger_sim_config(webhook_url="/_sim/sink")) as url:
        yield url


REMOTE = Remote("messenger", ADA)
control = REMOTE.control


@pytest.fixture
def sim(server: str) -> str:
    return REMOTE.reset(server)


def test_text_quick_replies_and_sender_actions(sim: str) -> None:
    client = client_for(sim)
    control(sim, "/_sim/inbound", {"platform": "messenger", "user": ADA, "text": "hi"})
    sent = client.send(elements.Text("Hello Ada").to_dict(), ADA)
    assert set(sent) == {"recipient_id", "message_id"} and sent["recipient_id"] == ADA
    replies = quick_replies.QuickReplies(
        [
            quick_replies.QuickReply(title="Track order", payload="TRACK"),
            quick_replies.QuickReply(title="Agent", payload="AGENT"),
            quick_replies.QuickReply(content_type="user_email"),
        ]
    )
    asked = client.send(elements.Text("What next?", quick_replies=replies).to_dict(), ADA)
    assert asked["message_id"].startswith("m_"), asked
    image = attachments.Image(url="https://example.com/parcel.jpg", is_reusable=True)
    pictured = client.send(image.to_dict(), ADA)
    assert pictured["attachment_id"].isdigit()  # is_reusable "true" saves it (§3.3)
    for action in ("mark_seen", "typing_on", "typing_off"):
        typing = client.send_action(sender_actions.SenderAction(action).to_dict(), ADA)
        assert typing == {"recipient_id": ADA}
    import httpx

    outbox = httpx.get(f"{sim}/_sim/outbox").json()["messages"]
    assert [m["text"] for m in outbox] == ["Hello Ada", "What next?", "[image]"]
    assert outbox[1]["raw"]["message"]["quick_replies"][2] == {"content_type": "user_email"}


def test_native_errors_come_back_as_fbmessenger_returns_them(sim: str) -> None:
    client = client_for(sim)
    # Alan never wrote: outside the window, Graph's error dict (fbmessenger never raises).
    refused = client.send(elements.Text("Hi Alan").to_dict(), ALAN)
    assert refused["error"]["code"] == 10 and refused["error"]["error_subcode"] == 2018278
    tagged = client.send(
        elements.Text("An agent here").to_dict(),
        ALAN,
        messaging_type="MESSAGE_TAG",
        tag="HUMAN_AGENT",
    )
    assert tagged["error"]["code"] == 10  # HUMAN_AGENT too needs a message in the last 7 days
    retired = client.send(
        elements.Text("Shipped").to_dict(),
        ADA,
        messaging_type="MESSAGE_TAG",
        tag="POST_PURCHASE_UPDATE",
    )
    assert (retired["error"]["code"], retired["error"]["error_subcode"]) == (100, 1893061)
    wrong = MessengerClient("not-the-token", api_version="25.0")
    wrong.graph_url = client.graph_url
    assert wrong.send(elements.Text("x").to_dict(), ADA)["error"]["code"] == 190
    forged = MessengerClient(TOKEN, api_version="25.0", app_secret="another-secret")
    forged.graph_url = client.graph_url
    assert forged.send(elements.Text("x").to_dict(), ADA)["error"]["code"] == 100


def test_user_profile_and_messenger_profile(sim: str) -> None:
    client = client_for(sim)
    user = client.get_user_data(ADA)  # its default fields: locale, timezone, gender too
    assert user["first_name"] == "Ada" and user["last_name"] == "Lovelace" and user["id"] == ADA
    assert user["profile_pic"].startswith("https://")
    assert client.get_user_data(ADA, fields=["first_name"]) == {"first_name": "Ada", "id": ADA}
    profile = thread_settings.MessengerProfile(
        greetings=[thread_settings.GreetingText("Hi {{user_first_name}}, how can we help?")],
        get_started=thread_settings.GetStartedButton(payload="START"),
        persistent_menus=[
            thread_settings.PersistentMenu(
                menu_items=[
                    thread_settings.PersistentMenuItem(
                        "postback", "Track my order", payload="TRACK"
                    ),
                    thread_settings.PersistentMenuItem(
                        "web_url", "Shop", url="https://example.com"
                    ),
                ]
            )
        ],
    )
    assert client.set_messenger_profile(profile.to_dict()) == {"result": "success"}
    assert client.subscribe_app_to_page() == {"success": True}
    import httpx

    fields = {"fields": "greeting,get_started,persistent_menu", "access_token": TOKEN}
    got = httpx.get(f"{sim}/v25.0/me/messenger_profile", params=fields).json()["data"]
    assert [next(iter(item)) for item in got] == ["greeting", "get_started", "persistent_menu"]
    assert client.delete_get_started() == {"result": "success"}
    got = httpx.get(f"{sim}/v25.0/me/messenger_profile", params=fields).json()["data"]
    assert [next(iter(item)) for item in got] == ["greeting", "persistent_menu"]
    assert client.upload_attachment(attachments.File(url="https://example.com/a.pdf"))[
        "attachment_id"
    ].isdigit()


def test_an_fbmessenger_bot_receives_the_webhooks_and_answers(sim: str) -> None:
    bot = Bot(sim)
    bodies: list[bytes] = []

    def serve(request: BaseHTTPRequestHandler, body: bytes) -> tuple[int, bytes]:
        given = request.headers.get("X-Hub-Signature-256", "")
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(given, expected):
            return 403, b""
        bodies.append(body)
        bot.handle(json.loads(body))  # fbmessenger's own parser and dispatcher
        return 200, b"EVENT_RECEIVED"

    with Receiver(serve, "/webhook") as receiver:
        url = receiver.url
        control(sim, "/_sim/webhooks/target", {"platform": "messenger", "url": url})
        said = control(sim, "/_sim/inbound", {"platform": "messenger", "user": ADA, "text": "Où ?"})
        assert said["delivery"]["status"] == 200, said
        control(sim, "/_sim/clock/advance", {"seconds": 5})
        kinds = [kind for kind, _ in bot.seen]
        assert kinds[:2] == ["message", "message"]  # the customer's, then the echo of the answer
        assert bot.seen[0][1]["message"]["text"] == "Où ?"
        assert bot.seen[1][1]["message"]["is_echo"] is True
        assert "delivery" in kinds and "read" in kinds
        assert bot.answers[0]["recipient_id"] == ADA
        assert any(b"O\\u00f9 ?" in body for body in bodies)  # signed over the escaped bytes
        control(
            sim,
            "/_sim/inbound",
            {
                "platform": "messenger",
                "user": ADA,
                "postback": {"title": "Agent", "payload": "AGENT"},
            },
        )
        assert bot.seen[-1][0] == "postback"
        assert bot.seen[-1][1]["postback"]["payload"] == "AGENT"
