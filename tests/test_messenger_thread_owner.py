"""Who owns a Messenger thread, as the SDK's pre-flight knows it (spec/messenger.md §8.1).

Through the public interface against the in-process simulator (the harness of
``tests/test_messenger_e2e.py``): after this app passes a thread to the Page Inbox, or hears
by webhook that another app took it, ``client.send``/``client.check`` refuse before any I/O
with the code the simulator answers (10 / 2018300, ``messenger.thread.not_owner``); a take
back lets sends go again, and a late hand-over webhook never undoes a newer change.
"""

from __future__ import annotations

from typing import Any

import attrs
import orjson
import pytest

from omnimsg import (
    AsyncClient,
    Client,
    PermissionDenied,
    PolicyViolation,
    Text,
    ThreadControlChanged,
)
from omnimsg.platforms.messenger import PAGE_INBOX_APP_ID, Messenger
from omnimsg.signing import sign_hub_sha256
from omnimsg.testing import DEFAULT_MESSENGER, messenger_channel
from test_messenger_e2e import ADA, ALAN, APP, App, AsyncApp, to

PAGE = DEFAULT_MESSENGER["page_id"]
NOT_OWNER = ("messenger.thread.not_owner", 10, 2018300)  # the simulator's errors.NOT_THREAD_OWNER


@pytest.fixture
def app() -> Any:
    with App() as a:
        yield a


def _refused(exc: PolicyViolation) -> tuple[object, ...]:
    v = exc.violation
    return (v.rule_id, v.native_code, v.native_subcode)


def _late_take(app: App, at_ms: int, user: str = ADA) -> None:
    """A ``take_thread_control`` by the Page Inbox, stamped ``at_ms``, delivered now (late)."""
    body = orjson.dumps(
        {
            "object": "page",
            "entry": [
                {
                    "id": PAGE,
                    "time": at_ms,
                    "messaging": [
                        {
                            "sender": {"id": user},
                            "recipient": {"id": PAGE},
                            "timestamp": at_ms,
                            "take_thread_control": {
                                "previous_owner_app_id": APP,
                                "new_owner_app_id": int(PAGE_INBOX_APP_ID),
                            },
                        }
                    ],
                }
            ],
        }
    )
    headers = {
        "content-type": "application/json",
        "x-hub-signature-256": sign_hub_sha256(DEFAULT_MESSENGER["app_secret"], body),
    }
    with app.client.webhooks.receive(
        "messenger", "POST", DEFAULT_MESSENGER["webhook_url"], headers, body
    ) as receipt:
        assert receipt.status == 200
        (event,) = receipt.events
        assert isinstance(event, ThreadControlChanged) and event.action == "take"


def test_a_pass_to_the_page_inbox_refuses_sends_before_any_request(app: App) -> None:
    app.says()
    assert app.client.send(to(), Text("Let me get a person")).message_id
    assert app.client.messenger.pass_thread_control(to(), target_app_id=PAGE_INBOX_APP_ID)
    before = app.http.requests
    with pytest.raises(PolicyViolation) as refused:
        app.client.send(to(), Text("The bot again"))
    assert _refused(refused.value) == NOT_OWNER
    (v,) = app.client.check(to(), Text("The bot again"))
    assert (v.rule_id, v.native_code, v.native_subcode) == NOT_OWNER
    assert app.http.requests == before  # refused before any request
    # Only this customer's thread moved: another customer's still goes.
    app.says(ALAN)
    assert app.client.check(to(ALAN), Text("Hello Alan")) == ()
    assert app.client.send(to(ALAN), Text("Hello Alan")).message_id
    # The simulator agrees: it owns nothing it would let through.
    assert [m["text"] for m in app.outbox()] == ["Let me get a person"]
    # Taking it back (the app is the primary receiver): sends go again.
    assert app.client.messenger.take_thread_control(to())
    assert app.client.check(to(), Text("Back")) == ()
    assert app.client.send(to(), Text("Back")).message_id


def test_without_preflight_the_simulator_refuses_with_the_same_code() -> None:
    with App(preflight=False) as app:
        app.says()
        assert app.client.messenger.pass_thread_control(to(), target_app_id=PAGE_INBOX_APP_ID)
        with pytest.raises(PermissionDenied) as refused:
            app.client.send(to(), Text("The bot again"))
        err = refused.value
        assert (err.code, err.subcode, err.platform) == (10, 2018300, "messenger")
        assert app.outbox() == []


def test_webhooks_say_who_owns_the_thread_and_a_late_one_never_wins(app: App) -> None:
    app.says()
    assert app.client.messenger.take_thread_control(to())  # the bot answers the thread
    # The Inbox takes it (a person answers there): this app hears of it by webhook (the
    # simulator tells the owner it lost the thread; of an idle thread taken, nobody).
    app.handover("take", metadata="agent Sam")
    (taken,) = app.of(ThreadControlChanged)
    assert (taken.action, taken.new_owner) == ("take", PAGE_INBOX_APP_ID)
    with pytest.raises(PolicyViolation) as refused:
        app.client.send(to(), Text("Can I help?"))
    assert _refused(refused.value) == NOT_OWNER
    # The Inbox passes it back: sends go.
    app.handover("pass")
    assert app.of(ThreadControlChanged)[-1].new_owner == APP
    assert app.client.send(to(), Text("Back with you")).message_id
    # Taken again, then this app takes it back a minute later...
    app.advance(10)
    app.handover("take")
    took_at_ms = round(app.of(ThreadControlChanged)[-1].timestamp * 1000)
    assert app.client.check(to(), Text("x"))[0].rule_id == "messenger.thread.not_owner"
    app.advance(60)
    assert app.client.messenger.take_thread_control(to())
    assert app.client.send(to(), Text("The bot is back")).message_id
    # ...and a hand-over webhook from before the take arrives late: it changes nothing.
    _late_take(app, took_at_ms + 30_000)
    assert app.client.check(to(), Text("Still here")) == ()
    assert app.client.send(to(), Text("Still here")).message_id
    assert app.client.messenger.thread_owner(to()) == APP  # the simulator agrees


def test_a_pass_and_a_pass_back_in_the_same_millisecond(app: App) -> None:
    # The simulator's clock is frozen between calls: equal times, the last word wins.
    app.says()
    assert app.client.messenger.pass_thread_control(to(), target_app_id=PAGE_INBOX_APP_ID)
    app.handover("pass")
    assert app.client.send(to(), Text("Back")).message_id
    app.handover("take")
    assert app.client.check(to(), Text("x"))[0].rule_id == "messenger.thread.not_owner"
    assert app.client.messenger.take_thread_control(to())
    assert app.client.messenger.pass_thread_control(to(), target_app_id=PAGE_INBOX_APP_ID)
    assert app.client.check(to(), Text("x"))[0].rule_id == "messenger.thread.not_owner"


def test_without_the_app_id_the_rule_is_skipped() -> None:
    with App() as app:
        app.client.close()
        page = messenger_channel(app.config, app.sim.base_url)
        assert isinstance(page, Messenger)
        channel = attrs.evolve(page, app_id=None)
        app.client = Client([channel], transport=app.http, clock=app.sim.clock)
        app.says()
        assert app.client.messenger.pass_thread_control(to(), target_app_id=PAGE_INBOX_APP_ID)
        assert app.client.check(to(), Text("x")) == ()  # nothing known: nothing refused here
        with pytest.raises(PermissionDenied) as refused:  # the platform refuses it
            app.client.send(to(), Text("x"))
        assert (refused.value.code, refused.value.subcode) == (10, 2018300)


@pytest.mark.anyio
async def test_async_pass_refuses_and_a_pass_back_lets_sends_go() -> None:
    app = AsyncApp()
    try:
        c: AsyncClient = app.client
        event = await app.says(text="I want a person")
        assert await c.messenger.pass_thread_control(event.sender, target_app_id=PAGE_INBOX_APP_ID)
        with pytest.raises(PolicyViolation) as refused:
            await c.send(event.sender, Text("The bot again"))
        assert _refused(refused.value) == NOT_OWNER
        (v,) = await c.check(event.sender, Text("The bot again"))
        assert v.rule_id == "messenger.thread.not_owner"
        body: dict[str, Any] = {"platform": "messenger", "user": ADA, "action": "pass"}
        answer = await app.sim.acontrol("POST", "/_sim/messenger/handover", body)
        assert "error" not in answer, answer
        assert any(isinstance(e, ThreadControlChanged) for e in app.events)
        assert await c.check(event.sender, Text("Back")) == ()
        assert (await c.send(event.sender, Text("Back"))).message_id
        await app.advance(5)
        body["action"] = "take"
        await app.sim.acontrol("POST", "/_sim/messenger/handover", body)
        with pytest.raises(PolicyViolation):
            await c.send(event.sender, Text("Again?"))
        assert await c.messenger.take_thread_control(event.sender)
        assert (await c.send(event.sender, Text("Again"))).message_id
    finally:
        await app.aclose()
