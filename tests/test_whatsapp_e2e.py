"""The SDK against the in-process simulator: every WhatsApp feature through the public API."""

from __future__ import annotations

import base64

import pytest

from omnimsg import (
    Address,
    AuthenticationError,
    Button,
    Buttons,
    ConfigurationError,
    Contact,
    ContactName,
    ContactPhone,
    Contacts,
    Document,
    Image,
    InvalidRequest,
    ListMenu,
    ListRow,
    ListSection,
    Location,
    MessageReceived,
    NotFound,
    PolicyRejected,
    PolicyViolation,
    Postback,
    RateLimited,
    Reaction,
    StatusUpdate,
    Sticker,
    Template,
    TemplateButtonParam,
    TemplateStatusChanged,
    Text,
    UrlButton,
    Video,
    WhatsApp,
)
from omnimsg.testing import SimHarness, whatsapp_sim_config

ADA = "15551230001"
ALAN = "15551230002"
ALAN_BSUID = "US.13491208655302741918"


def statuses(h: SimHarness, message_id: str | None) -> list[str]:
    return [
        e.status for e in h.events if isinstance(e, StatusUpdate) and e.message_id == message_id
    ]


def test_customer_message_opens_the_window(omnimsg_sim: SimHarness) -> None:
    h = omnimsg_sim
    to = Address("whatsapp", ADA)
    assert not h.client.window(to).open
    event = h.customer_says(ADA, "where is my order?")
    assert isinstance(event, MessageReceived)
    assert event.content == Text("where is my order?")
    assert event.user_name == "Ada Lovelace"
    window = h.client.window(event.sender)
    assert window.open and window.closes_at is not None
    assert window.closes_at.timestamp() == event.timestamp + 86400
    assert window.allowed_when_closed == ("template",)


@pytest.mark.parametrize(
    "content",
    [
        Text("Your order ships today: https://example.com/track", preview_url=True),
        Image(url="https://example.com/a.jpg", caption="your receipt"),
        Video(url="https://example.com/a.mp4"),
        Document(url="https://example.com/a.pdf", filename="invoice.pdf", caption="invoice"),
        Sticker(url="https://example.com/s.webp"),
        Location(latitude=52.52, longitude=13.405, name="Shop", address="Main St 1"),
        Contacts(
            [
                Contact(
                    name=ContactName(formatted_name="Support"),
                    phones=(ContactPhone(phone="+15550100"),),
                )
            ]
        ),
        Buttons("Anything else?", ["Track order", "Agent"], header="Help", footer="24/7"),
        ListMenu(
            body="Pick a topic",
            button="Topics",
            sections=[
                ListSection(
                    title="Orders",
                    rows=[ListRow(id="t1", title="Track", description="Where is it")],
                )
            ],
        ),
        UrlButton(body="Track it here", text="Track", url="https://example.com/t"),
    ],
)
def test_every_content_type_is_accepted_inside_the_window(
    omnimsg_sim: SimHarness, content: object
) -> None:
    h = omnimsg_sim
    event = h.customer_says(ADA, "hi")
    result = h.client.send(event.sender, content)  # type: ignore[arg-type]
    assert result.message_id and result.message_id.startswith("wamid.")
    (entry,) = h.outbox(user=ADA)
    assert entry["message_id"] == result.message_id
    assert entry["raw"]["type"] in {
        "text",
        "image",
        "video",
        "document",
        "sticker",
        "location",
        "contacts",
        "interactive",
    }


def test_reply_in_context_reaction_and_statuses(omnimsg_sim: SimHarness) -> None:
    h = omnimsg_sim
    event = h.customer_says(ADA, "hello")
    reply = h.client.send(
        event.sender, Text("Hi Ada!"), reply_to=event.message_id, callback_data="ticket-42"
    )
    reaction = h.client.send(event.sender, Reaction(message_id=event.message_id, emoji="👍"))
    raw = h.outbox(user=ADA)[0]["raw"]
    assert raw["context"] == {"message_id": event.message_id}
    assert statuses(h, reply.message_id) == ["sent"]
    h.advance(seconds=5)
    assert statuses(h, reply.message_id) == ["sent", "delivered", "read"]
    assert statuses(h, reaction.message_id) == ["sent"]  # reactions get only `sent` (§3)
    sent = next(
        e for e in h.events if isinstance(e, StatusUpdate) and e.message_id == reply.message_id
    )
    assert sent.callback_data == "ticket-42"
    assert (
        sent.pricing is not None
        and sent.pricing.billable is False
        and sent.pricing.category == "service"
    )


def test_postbacks_from_buttons_and_lists(omnimsg_sim: SimHarness) -> None:
    h = omnimsg_sim
    tap = h.customer_says(ADA, button_reply={"id": "track", "title": "Track order"})
    assert isinstance(tap, Postback) and (tap.payload, tap.title, tap.source) == (
        "track",
        "Track order",
        "button",
    )
    row = h.customer_says(ADA, list_reply={"id": "t1", "title": "Track", "description": "Where"})
    assert isinstance(row, Postback) and row.source == "list" and row.description == "Where"
    assert h.client.window(tap.sender).open


def test_the_window_closes_after_24_hours_and_templates_still_work(omnimsg_sim: SimHarness) -> None:
    h = omnimsg_sim
    event = h.customer_says(ADA, "hi")
    h.advance(hours=25)
    with pytest.raises(PolicyViolation) as caught:
        h.client.send(event.sender, Text("Following up"))
    v = caught.value.violation
    assert v.native_code == 131047 and v.closed_at is not None
    assert v.closed_at.timestamp() == event.timestamp + 86400
    assert h.outbox() == []  # nothing was sent
    result = h.client.send(event.sender, Template("order_update", params=["Ada", "A-1", "shipped"]))
    assert result.status == "accepted"
    (entry,) = h.outbox()
    assert entry["text"] == "Hi Ada, your order A-1 is shipped."
    h.advance(seconds=5)
    sent = next(
        e for e in h.events if isinstance(e, StatusUpdate) and e.message_id == result.message_id
    )
    assert sent.pricing is not None and sent.pricing.billable is True


def test_without_preflight_the_platform_refuses_asynchronously() -> None:
    with SimHarness(preflight=False) as h:
        result = h.client.send(Address("whatsapp", ADA), Text("cold message"))
        assert result.message_id
        failed = [e for e in h.events if isinstance(e, StatusUpdate) and e.failed]
        assert [e.errors[0].code for e in failed] == [131047]
        assert h.outbox()[0]["status"] == "failed"


def test_sync_window_error_maps_to_policy_rejected() -> None:
    with SimHarness(whatsapp_sim_config(window_error="sync"), preflight=False) as h:
        with pytest.raises(PolicyRejected) as caught:
            h.client.send(Address("whatsapp", ADA), Text("cold"))
        err = caught.value
        assert (err.code, err.http_status, err.rule_id, err.platform) == (
            131047,
            400,
            "whatsapp.window.customer_service",
            "whatsapp",
        )
        assert b"Re-engagement message" in err.raw and err.request_id


def test_template_errors_before_and_after_listing(omnimsg_sim: SimHarness) -> None:
    h = omnimsg_sim
    to = Address("whatsapp", ADA)
    # The SDK does not know the templates yet: a bad one goes to the platform, which refuses it.
    with pytest.raises(NotFound) as caught:
        h.client.send(to, Template("no_such_template"))
    assert caught.value.code == 132001
    templates = {t.name: t for t in h.client.whatsapp.templates.list()}
    assert templates["order_update"].status == "APPROVED"
    with pytest.raises(PolicyViolation) as pre:
        h.client.send(to, Template("no_such_template"))
    assert pre.value.violation.native_code == 132001
    with pytest.raises(PolicyViolation) as count:
        h.client.send(to, Template("order_update", params=["only one"]))
    assert count.value.violation.native_code == 132000
    with pytest.raises(PolicyViolation) as pending:
        h.client.send(to, Template("spring_sale", params=["May"]))
    assert pending.value.violation.native_code == 132001
    assert h.client.send(to, Template("follow_up", params={"customer": "Ada"})).message_id
    assert h.outbox() and h.outbox()[-1]["text"] == "Hello Ada, can we help with anything else?"


def test_template_lifecycle_with_status_webhooks(omnimsg_sim: SimHarness) -> None:
    h = omnimsg_sim
    created = h.client.whatsapp.templates.create(
        "delivery_notice",
        language="en_US",
        category="UTILITY",
        components=[
            {
                "type": "BODY",
                "text": "Order {{1}} arrives {{2}}.",
                "example": {"body_text": [["A1", "today"]]},
            },
            {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Thanks"}]},
        ],
    )
    assert created.status == "PENDING" and created.id
    to = Address("whatsapp", ADA)
    template = Template(
        "delivery_notice",
        params=["A1", "today"],
        buttons=[TemplateButtonParam(index=0, sub_type="quick_reply", value="thanks")],
    )
    with pytest.raises(PolicyViolation):
        h.client.send(to, template)  # still PENDING, and the SDK knows it
    h.control("POST", "/_sim/templates/status", {"name": "delivery_notice", "status": "APPROVED"})
    changed = [e for e in h.events if isinstance(e, TemplateStatusChanged)]
    assert [(e.name, e.status) for e in changed] == [("delivery_notice", "APPROVED")]
    assert h.client.send(to, template).message_id  # the webhook updated the SDK's cache
    with pytest.raises(PolicyViolation) as definition:
        h.client.whatsapp.templates.create(
            "Bad Name", language="en_US", category="UTILITY", components=[]
        )
    assert definition.value.violation.rule_id == "whatsapp.template.definition"
    assert h.client.whatsapp.templates.delete("delivery_notice") is True
    assert "delivery_notice" not in {t.name for t in h.client.whatsapp.templates.list()}
    with pytest.raises(InvalidRequest):
        h.client.whatsapp.templates.delete("delivery_notice")


def test_media_upload_info_download_delete(omnimsg_sim: SimHarness) -> None:
    h = omnimsg_sim
    data = b"\x89PNG fake image bytes"
    media_id = h.client.whatsapp.upload_media(data, mime_type="image/png", filename="a.png")
    info = h.client.whatsapp.media_info(media_id)
    assert info.mime_type == "image/png" and info.file_size == len(data) and info.url
    assert h.client.whatsapp.download_media(media_id) == data
    event = h.customer_says(ADA, "photo")
    assert h.client.send(event.sender, Image(media_id=media_id)).message_id
    assert h.client.whatsapp.delete_media(media_id) is True
    with pytest.raises(InvalidRequest):
        h.client.whatsapp.media_info(media_id)


def test_download_url_expires_after_five_minutes(omnimsg_sim: SimHarness) -> None:
    h = omnimsg_sim
    media_id = h.client.whatsapp.upload_media(b"pdf", mime_type="application/pdf")
    url = h.client.whatsapp.media_info(media_id).url
    h.advance(minutes=6)
    response = h.client._driver.client.get(
        url, headers={"authorization": "Bearer sim-whatsapp-token"}
    )  # type: ignore[attr-defined]
    assert response.status_code == 404
    assert h.client.whatsapp.download_media(media_id) == b"pdf"  # a fresh URL works


def test_inbound_media_can_be_downloaded(omnimsg_sim: SimHarness) -> None:
    h = omnimsg_sim
    voice = base64.b64encode(b"OggS voice").decode()
    event = h.customer_says(
        ADA, message={"type": "audio", "audio": {"data_base64": voice, "voice": True}}
    )
    assert isinstance(event, MessageReceived)
    audio = event.content
    assert getattr(audio, "voice", False) is True
    assert h.client.whatsapp.download_media(audio.media_id) == b"OggS voice"  # type: ignore[union-attr]


def test_mark_read_and_typing(omnimsg_sim: SimHarness) -> None:
    h = omnimsg_sim
    event = h.customer_says(ADA, "hi")
    assert h.client.whatsapp.mark_read(event.message_id) is True
    assert h.client.whatsapp.mark_read(event.message_id, typing=True) is True
    with pytest.raises(InvalidRequest):
        h.client.whatsapp.mark_read("wamid.unknown")


def test_bsuid_customers_are_reached_through_recipient(omnimsg_sim: SimHarness) -> None:
    h = omnimsg_sim
    event = h.customer_says(ALAN, "hi")
    assert event.user == ALAN and event.raw["from_user_id"] == ALAN_BSUID
    # Both ids share the window (spec §8).
    assert h.client.window(Address("whatsapp", ALAN_BSUID)).open
    result = h.client.send(Address("whatsapp", ALAN_BSUID), Text("hello by BSUID"))
    raw = h.outbox()[0]["raw"]
    assert raw["recipient"] == ALAN_BSUID and "to" not in raw and result.user_id == ALAN


def test_pair_rate_limit_is_known_before_sending(omnimsg_sim: SimHarness) -> None:
    h = omnimsg_sim
    event = h.customer_says(ADA, "hi")
    for _ in range(45):
        h.client.send(event.sender, Text("spam"))
    assert [v.native_code for v in h.client.check(event.sender, Text("one more"))] == [131056]
    with pytest.raises(PolicyViolation):
        h.client.send(event.sender, Text("one more"))
    h.advance(seconds=6)
    assert h.client.check(event.sender, Text("one more")) == ()


def test_pair_rate_enforced_by_the_simulator_too() -> None:
    with SimHarness(preflight=False) as h:
        event = h.customer_says(ADA, "hi")
        for _ in range(45):
            h.client.send(event.sender, Text("x"))
        with pytest.raises(RateLimited) as caught:
            h.client.send(event.sender, Text("x"))  # retried (safe), then still refused
        assert caught.value.code == 131056 and caught.value.http_status == 429
        assert len(h.outbox()) == 45


def test_tier_limit_counts_unique_business_initiated_customers() -> None:
    with SimHarness(whatsapp_sim_config(tier_limit=2)) as h:
        h.client.whatsapp.templates.list()
        t = Template("order_update", params=["a", "b", "c"])
        for user in ("15550000001", "15550000002"):
            h.client.send(Address("whatsapp", user), t)
        h.client.send(Address("whatsapp", "15550000001"), t)  # already counted today
        with pytest.raises(PolicyViolation) as caught:
            h.client.send(Address("whatsapp", "15550000003"), t)
        assert caught.value.violation.rule_id == "whatsapp.tier.business_initiated"
        h.advance(hours=25)
        assert h.client.send(Address("whatsapp", "15550000003"), t).message_id


def test_bad_token_is_an_authentication_error() -> None:
    with SimHarness() as h:
        ch = WhatsApp(
            phone_number_id="106540352242922", access_token="wrong", base_url=h.sim.base_url
        )
        from omnimsg import Client

        with Client([ch], transport=h.sim.transport(), clock=h.clock) as bad:
            with pytest.raises(AuthenticationError) as caught:
                bad.send(Address("whatsapp", ADA), Template("order_update", params=["a", "b", "c"]))
        assert caught.value.code == 190 and caught.value.http_status == 401


def test_configuration_errors_are_typed() -> None:
    with pytest.raises(ConfigurationError):
        WhatsApp(phone_number_id="", access_token="t")
    with pytest.raises(ConfigurationError):
        WhatsApp(phone_number_id="1", access_token="t", api_version="23")
    with pytest.raises(ConfigurationError):
        Image()
    with SimHarness() as h:
        with pytest.raises(ConfigurationError):
            h.client.send(Address("line", "U1"), Text("x"))
        with pytest.raises(ConfigurationError):
            h.client.send("15551230001", Text("x"))  # type: ignore[arg-type]
    assert "sim-whatsapp-token" not in repr(
        WhatsApp(phone_number_id="1", access_token="sim-whatsapp-token")
    )


def test_buttons_accept_plain_strings() -> None:
    b = Buttons("Pick", ["Yes", Button("no", "No")])
    assert b.buttons == (Button("Yes", "Yes"), Button("no", "No"))


@pytest.mark.parametrize("written", ["+15551230001", "+1 555-123-0001", "1 (555) 123.0001"])
def test_a_number_written_any_way_is_the_same_customer(written: str) -> None:
    """The window opened by 15551230001 is the window of +1 555-123-0001 (spec §4.3)."""
    from omnimsg import Address, Text
    from omnimsg.testing import SimHarness

    with SimHarness() as h:
        h.customer_says("15551230001", "hi")
        to = Address("whatsapp", written)
        assert h.client.window(to).open
        assert h.client.check(to, Text("hello")) == ()
        sent = h.client.send(to, Text("hello"))
        assert sent.user_id == "15551230001"
        assert h.outbox()[-1]["user"] == "15551230001"
