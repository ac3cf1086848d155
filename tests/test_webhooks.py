"""Webhook handling through the public API: handshake, signatures, limits, parsing, de-dup."""

from __future__ import annotations

import json
import re

import pytest

from omnimsg import (
    Address,
    Client,
    ConfigurationError,
    MessageReceived,
    PolicyViolation,
    SignatureError,
    StatusUpdate,
    TemplateStatusChanged,
    Text,
    Unknown,
    UnsupportedContent,
    WebhookConfig,
    WebhookParseError,
    WhatsApp,
)
from omnimsg.clock import FakeClock
from omnimsg.signing import sign_hub_sha256

SECRET = "app-secret"
CH = WhatsApp(
    phone_number_id="1001", access_token="t", app_secret=SECRET, verify_token="vt", waba_id="2001"
)


def client(**kw: object) -> Client:
    return Client([CH], clock=FakeClock(), **kw)  # type: ignore[arg-type]


def envelope(value: dict[str, object], field: str = "messages") -> dict[str, object]:
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "2001", "changes": [{"field": field, "value": value}]}],
    }


def message(i: int = 1, **extra: object) -> dict[str, object]:
    return {
        "from": "15550001",
        "id": f"wamid.{i}",
        "timestamp": "1772442000",
        "type": "text",
        "text": {"body": f"m{i}"},
        **extra,
    }


def messages_body(*msgs: dict[str, object]) -> bytes:
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "1555", "phone_number_id": "1001"},
        "contacts": [{"profile": {"name": "Ada"}, "wa_id": "15550001"}],
        "messages": list(msgs),
    }
    return json.dumps(envelope(value)).encode()


def post(c: Client, body: bytes, signature: str | None = "auto") -> object:
    headers = (
        {}
        if signature is None
        else {
            "X-Hub-Signature-256": sign_hub_sha256(SECRET, body)
            if signature == "auto"
            else signature
        }
    )
    return c.webhooks.handle("whatsapp", "POST", "https://app/wh", headers, body)


def test_handshake() -> None:
    c = client()
    ok = c.webhooks.handle(
        "whatsapp",
        "GET",
        "https://app/wh?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=vt",
        {},
        b"",
    )
    assert (ok.status, ok.body, ok.error) == (200, b"1158201444", None)
    bad = c.webhooks.handle(
        "whatsapp",
        "GET",
        "https://app/wh?hub.mode=subscribe&hub.challenge=1&hub.verify_token=nope",
        {},
        b"",
    )
    assert bad.status == 403
    assert isinstance(bad.error, SignatureError)
    with pytest.raises(SignatureError):
        bad.raise_for_error()


def test_signature_missing_and_wrong() -> None:
    c = client()
    body = messages_body(message())
    assert post(c, body, None).status == 401  # type: ignore[attr-defined]
    wrong = post(c, body, "sha256=" + "0" * 64)
    assert wrong.status == 403  # type: ignore[attr-defined]
    assert isinstance(wrong.error, SignatureError)  # type: ignore[attr-defined]
    assert wrong.events == ()  # type: ignore[attr-defined]
    with pytest.raises(SignatureError):
        c.webhooks.parse("whatsapp", {}, body)


def test_oversized_and_malformed_bodies() -> None:
    c = client(webhooks=WebhookConfig(max_body_bytes=100))
    big = b"{" + b" " * 200 + b"}"
    too_big = post(c, big)
    assert too_big.status == 413  # type: ignore[attr-defined]
    assert isinstance(too_big.error, WebhookParseError)  # type: ignore[attr-defined]
    c = client()
    for body in (
        b"not json",
        b"[]",
        b'{"object":"page"}',
        b'{"object":"whatsapp_business_account","entry":3}',
    ):
        outcome = post(c, body)
        assert outcome.status == 400, body  # type: ignore[attr-defined]
        assert isinstance(outcome.error, WebhookParseError)  # type: ignore[attr-defined]


def test_every_event_of_a_batch_is_parsed_and_duplicates_dropped() -> None:
    c = client()
    body = messages_body(*(message(i) for i in range(20)))
    first = post(c, body)
    assert [e.message_id for e in first.events] == [f"wamid.{i}" for i in range(20)]  # type: ignore[attr-defined]
    again = post(c, body)  # at-least-once: the platform retries
    assert again.events == ()  # type: ignore[attr-defined]
    assert again.duplicates == 20  # type: ignore[attr-defined]
    assert again.status == 200  # type: ignore[attr-defined]


def test_dedup_ttl_and_window_state() -> None:
    clock = FakeClock(1772442000)
    c = Client([CH], clock=clock, webhooks=WebhookConfig(dedup_ttl=60))
    body = messages_body(message(1))
    assert len(post(c, body).events) == 1  # type: ignore[attr-defined]
    from omnimsg import Address

    assert c.window(Address("whatsapp", "15550001")).open
    clock.advance(61)
    assert len(post(c, body).events) == 1  # type: ignore[attr-defined]


def test_out_of_order_webhooks_keep_the_newest_inbound_time() -> None:
    clock = FakeClock(1772442000)
    c = Client([CH], clock=clock)
    post(c, messages_body(message(2, timestamp="1772442000")))
    post(c, messages_body(message(1, timestamp="1772000000")))  # an old retry arrives late
    from omnimsg import Address

    window = c.window(Address("whatsapp", "15550001"))
    assert window.last_inbound_at is not None
    assert window.last_inbound_at.timestamp() == 1772442000


def test_unknown_and_malformed_items_become_unknown_events() -> None:
    c = client()
    body = messages_body(
        message(1),
        {"from": "15550001", "id": "wamid.2", "timestamp": "1", "type": "hologram", "hologram": {}},
        {
            "from": "15550001",
            "id": "wamid.3",
            "timestamp": "not-a-time",
            "type": "text",
            "text": {"body": "x"},
        },
        {
            "from": "15550001",
            "id": "wamid.4",
            "timestamp": "1",
            "type": "unsupported",
            "errors": [{"code": 131051, "title": "Message type unknown"}],
        },
        "not an object",
    )
    events = post(c, body).events  # type: ignore[attr-defined]
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["MessageReceived", "Unknown", "Unknown", "MessageReceived", "Unknown"]
    assert isinstance(events[1], Unknown) and events[1].raw["type"] == "hologram"
    assert isinstance(events[3], MessageReceived) and isinstance(
        events[3].content, UnsupportedContent
    )


def test_statuses_with_errors_pricing_and_lean_contacts() -> None:
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "1555", "phone_number_id": "1001"},
        "contacts": [{"wa_id": "15550001"}],
        "statuses": [
            {
                "id": "wamid.9",
                "status": "failed",
                "timestamp": "1772442000",
                "recipient_id": "15550001",
                "errors": [
                    {
                        "code": 131047,
                        "title": "Re-engagement message",
                        "error_data": {"details": "24h"},
                    }
                ],
            },
            {
                "id": "wamid.8",
                "status": "read",
                "timestamp": "1772442000",
                "recipient_id": "15550001",
                "pricing": {
                    "billable": False,
                    "pricing_model": "PMP",
                    "category": "service",
                    "type": "free_customer_service",
                },
            },
        ],
    }
    events = post(client(), json.dumps(envelope(value)).encode()).events  # type: ignore[attr-defined]
    failed, read = events
    assert isinstance(failed, StatusUpdate) and failed.failed
    assert failed.errors[0].code == 131047 and failed.errors[0].details == "24h"
    assert (
        isinstance(read, StatusUpdate)
        and read.pricing is not None
        and read.pricing.type == "free_customer_service"
    )


def test_template_status_updates_and_other_fields() -> None:
    c = client()
    tpl = envelope(
        {
            "event": "APPROVED",
            "message_template_id": 123,
            "message_template_name": "order_update",
            "message_template_language": "en_US",
            "reason": "NONE",
        },
        field="message_template_status_update",
    )
    (event,) = post(c, json.dumps(tpl).encode()).events  # type: ignore[attr-defined]
    assert isinstance(event, TemplateStatusChanged)
    assert (event.name, event.status, event.template_id) == ("order_update", "APPROVED", "123")
    other = envelope({"x": 1}, field="account_alerts")
    (unknown,) = post(c, json.dumps(other).encode()).events  # type: ignore[attr-defined]
    assert isinstance(unknown, Unknown) and "account_alerts" in unknown.reason


def test_every_inbound_message_type_from_the_spec() -> None:
    m = [
        message(
            1,
            type="image",
            image={"id": "m1", "mime_type": "image/jpeg", "sha256": "x", "caption": "c"},
        ),
        message(2, type="video", video={"id": "m2", "mime_type": "video/mp4", "sha256": "x"}),
        message(
            3,
            type="audio",
            audio={"id": "m3", "mime_type": "audio/ogg; codecs=opus", "sha256": "x", "voice": True},
        ),
        message(
            4,
            type="document",
            document={
                "id": "m4",
                "mime_type": "application/pdf",
                "sha256": "x",
                "filename": "f.pdf",
            },
        ),
        message(
            5,
            type="sticker",
            sticker={"id": "m5", "mime_type": "image/webp", "sha256": "x", "animated": True},
        ),
        message(6, type="location", location={"latitude": 1.5, "longitude": 2.5, "name": "Shop"}),
        message(
            7,
            type="contacts",
            contacts=[
                {"name": {"formatted_name": "Bob"}, "phones": [{"phone": "+1", "type": "CELL"}]}
            ],
        ),
        message(
            8,
            type="interactive",
            interactive={"type": "button_reply", "button_reply": {"id": "b", "title": "B"}},
        ),
        message(
            9,
            type="interactive",
            interactive={"type": "list_reply", "list_reply": {"id": "r", "title": "R"}},
        ),
        message(
            10,
            type="interactive",
            interactive={"type": "nfm_reply", "nfm_reply": {"response_json": "{}", "name": "flow"}},
        ),
        message(11, type="button", button={"payload": "p", "text": "Yes"}),
        message(12, type="reaction", reaction={"message_id": "wamid.x", "emoji": "👍"}),
        message(13, type="order", order={"catalog_id": "c", "product_items": []}),
        message(
            14,
            type="system",
            system={"body": "changed", "type": "user_changed_number", "wa_id": "1666"},
        ),
        message(
            15,
            context={"from": "1555", "id": "wamid.q", "forwarded": True},
            referral={"source_url": "u", "source_type": "ad", "ctwa_clid": "clid"},
        ),
    ]
    events = post(client(), messages_body(*m)).events  # type: ignore[attr-defined]
    assert [type(e).__name__ for e in events] == ["MessageReceived"] * 7 + ["Postback"] * 4 + [
        "MessageReceived"
    ] * 2 + ["SystemNotice", "MessageReceived"]
    assert events[2].content.voice is True  # type: ignore[union-attr]
    assert [e.source for e in events[7:11]] == ["button", "list", "flow", "template_button"]  # type: ignore[union-attr]
    assert events[13].new_user == "1666"  # type: ignore[union-attr]
    last = events[14]
    assert last.context.forwarded and last.context.message_id == "wamid.q"  # type: ignore[union-attr]
    assert last.referral.click_id == "clid"  # type: ignore[union-attr]


def test_webhooks_need_secrets_configured() -> None:
    c = Client([WhatsApp(phone_number_id="1", access_token="t")], clock=FakeClock())
    body = messages_body(message())
    outcome = c.webhooks.handle(
        "whatsapp", "POST", "https://app/wh", {"x-hub-signature-256": "sha256=00"}, body
    )
    assert outcome.status == 500
    assert "app_secret" in str(outcome.error)
    handshake = c.webhooks.handle(
        "whatsapp", "GET", "https://app/wh?hub.mode=subscribe&hub.verify_token=x", {}, b""
    )
    assert handshake.status == 403
    assert c.webhooks.handle("line", "POST", "https://app/wh", {}, b"").status == 404


# --- hostile input (issue #6, section 3, items 7-9) -------------------------------------------

ADA = Address("whatsapp", "15550001")


def signed(body: bytes) -> dict[str, str]:
    return {"X-Hub-Signature-256": sign_hub_sha256(SECRET, body)}


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def body_with_raw_item(item_json: str, *msgs: dict[str, object]) -> bytes:
    """A messages body whose items are ``msgs`` followed by ``item_json`` spliced in verbatim."""
    before = json.dumps(list(msgs))[:-1]
    value = (
        '{"messaging_product":"whatsapp","metadata":{"phone_number_id":"1001"},"messages":'
        f"{before}{', ' if msgs else ''}{item_json}]}}"
    )
    return (
        '{"object":"whatsapp_business_account","entry":[{"id":"2001","changes":'
        f'[{{"field":"messages","value":{value}}}]}}]}}'
    ).encode()


@pytest.mark.parametrize("depth", [300, 1000, 1030, 5000])
def test_a_deeply_nested_body_is_refused_before_any_state_changes(depth: int) -> None:
    clock = FakeClock(1772442000)
    c = Client([CH], clock=clock)
    body = body_with_raw_item(nested(depth), message(1))
    outcome = c.webhooks.handle("whatsapp", "POST", "https://app/wh", signed(body), body)
    assert outcome.status == 400
    assert isinstance(outcome.error, WebhookParseError)
    assert re.search("deep|depth", str(outcome.error))
    assert outcome.events == ()
    with pytest.raises(WebhookParseError):
        c.webhooks.parse("whatsapp", signed(body), body)
    # Nothing of the refused body was kept: no window, and its first message is still new.
    assert not c.window(ADA).open
    assert c.window(ADA).last_inbound_at is None
    assert [e.message_id for e in post(c, messages_body(message(1))).events] == ["wamid.1"]  # type: ignore[attr-defined]


def test_moderate_nesting_in_an_unknown_item_still_parses() -> None:
    c = client()
    body = body_with_raw_item(nested(100), message(1))
    outcome = post(c, body)
    assert outcome.status == 200  # type: ignore[attr-defined]
    kinds = [type(e).__name__ for e in outcome.events]  # type: ignore[attr-defined]
    assert kinds == ["MessageReceived", "Unknown"]
    assert post(c, body).duplicates == 2  # type: ignore[attr-defined]


BAD_TIMESTAMPS: list[object] = [
    "nan",
    "NaN",
    "inf",
    "-inf",
    "Infinity",
    "1e20",
    "1e300",
    "-5",
    "0",
    "1772442000000",  # milliseconds, not seconds: year 58000
    10**30,
    1e20,
    1e300,
    -1,
    0,
    True,
    None,
    "",
    [1772442000],
]


@pytest.mark.parametrize("timestamp", BAD_TIMESTAMPS, ids=repr)
def test_out_of_range_message_timestamps_become_unknown_and_keep_the_window(
    timestamp: object,
) -> None:
    clock = FakeClock(1772442000)
    c = Client([CH], clock=clock)
    outcome = post(c, messages_body(message(1, timestamp=timestamp), message(2)))
    assert outcome.status == 200  # type: ignore[attr-defined]
    bad, good = outcome.events  # type: ignore[attr-defined]
    assert isinstance(bad, Unknown) and "timestamp" in bad.reason
    assert isinstance(good, MessageReceived)
    window = c.window(ADA)  # the good message's time, not the hostile one
    assert window.open
    assert window.last_inbound_at is not None
    assert window.last_inbound_at.timestamp() == 1772442000
    assert c.check(ADA, Text("hi")) == ()
    clock.advance(25 * 3600)  # the window closes as usual: it was not held open forever
    assert not c.window(ADA).open
    assert c.check(ADA, Text("hi"))
    with pytest.raises(PolicyViolation):
        c.send(ADA, Text("hi"))


@pytest.mark.parametrize("timestamp", BAD_TIMESTAMPS, ids=repr)
def test_out_of_range_status_and_template_timestamps_become_unknown(timestamp: object) -> None:
    status = {"id": "wamid.9", "status": "read", "timestamp": timestamp, "recipient_id": "1555"}
    value = {"metadata": {"phone_number_id": "1001"}, "statuses": [status]}
    (event,) = post(client(), json.dumps(envelope(value)).encode()).events  # type: ignore[attr-defined]
    assert isinstance(event, Unknown) and "timestamp" in event.reason
    if timestamp is None:
        return  # a template update without "time" is fine (tested above)
    tpl = envelope(
        {
            "event": "APPROVED",
            "message_template_id": 1,
            "message_template_name": "n",
            "message_template_language": "en",
        },
        field="message_template_status_update",
    )
    tpl["entry"][0]["time"] = timestamp  # type: ignore[index]
    (event,) = post(client(), json.dumps(tpl).encode()).events  # type: ignore[attr-defined]
    assert isinstance(event, Unknown) and "timestamp" in event.reason


@pytest.mark.parametrize("latitude", ["nan", "inf", "1e300", 91, -181.0])
def test_out_of_range_locations_become_unknown(latitude: object) -> None:
    loc = message(1, type="location", location={"latitude": latitude, "longitude": 2.0})
    (event,) = post(client(), messages_body(loc)).events  # type: ignore[attr-defined]
    assert isinstance(event, Unknown)


def test_a_bad_inbound_time_left_in_the_store_by_an_older_version_is_ignored() -> None:
    from omnimsg.platforms.whatsapp.flows import last_inbound_key

    for stored in (b"nan", b"inf", b"-inf", b"1e20", b"-5.0", b"junk"):
        c = Client([CH], clock=FakeClock(1772442000))
        c.store.set(last_inbound_key("1001", ADA.user), stored)
        window = c.window(ADA)
        assert not window.open and window.last_inbound_at is None
        assert c.check(ADA, Text("hi"))
        post(c, messages_body(message(1)))  # a real message replaces it
        assert c.window(ADA).open


def header_variants(body: bytes) -> list[object]:
    sig = sign_hub_sha256(SECRET, body)
    import httpx
    from django.http.request import HttpHeaders
    from multidict import CIMultiDict, CIMultiDictProxy
    from starlette.datastructures import Headers as StarletteHeaders
    from werkzeug.datastructures import EnvironHeaders

    scope_headers = [(b"host", b"app"), (b"x-hub-signature-256", sig.encode())]
    return [
        {"X-Hub-Signature-256": sig},
        {"x-hub-signature-256": sig},
        {"X-HUB-SIGNATURE-256": sig},
        {"Host": "app", "x-Hub-Signature-256": sig},
        {b"x-hub-signature-256": sig.encode()},
        [("content-type", "application/json"), ("X-Hub-Signature-256", sig)],
        (("x-hub-signature-256", sig),),
        scope_headers,  # ASGI: request.scope["headers"]
        [(b"X-Hub-Signature-256", sig.encode())],
        httpx.Headers({"X-Hub-Signature-256": sig}),
        StarletteHeaders(raw=scope_headers),
        CIMultiDict({"X-Hub-Signature-256": sig}),
        CIMultiDictProxy(CIMultiDict({"x-hub-signature-256": sig})),
        EnvironHeaders({"HTTP_X_HUB_SIGNATURE_256": sig, "CONTENT_TYPE": "application/json"}),
        HttpHeaders({"HTTP_X_HUB_SIGNATURE_256": sig, "CONTENT_TYPE": "application/json"}),
    ]


def test_every_framework_header_shape_is_read() -> None:
    body = messages_body(message(1))
    for headers in header_variants(body):
        c = client()
        outcome = c.webhooks.handle("whatsapp", "POST", "https://app/wh", headers, body)  # type: ignore[arg-type]
        assert outcome.status == 200, (headers, outcome)
        assert len(outcome.events) == 1
        assert len(c.webhooks.parse("whatsapp", headers, body)) == 1  # type: ignore[arg-type]


def test_hostile_signature_header_bytes_are_refused_not_crashed() -> None:
    body = messages_body(message(1))
    sig = sign_hub_sha256(SECRET, body).encode()
    c = client()
    for value in (
        b"sha256=\xff\xfe" + sig[9:],
        b"\xff" * 71,
        sig[:20] + b"\r\n" + sig[20:],
        sig[:-1] + b"\x00",
        b"sha256=" + b"\xc3\xa9" * 32,
    ):
        for headers in ([(b"x-hub-signature-256", value)], {"X-Hub-Signature-256": value}):
            outcome = c.webhooks.handle("whatsapp", "POST", "https://app/wh", headers, body)  # type: ignore[arg-type]
            assert outcome.status == 403, value
            assert isinstance(outcome.error, SignatureError)
    missing = c.webhooks.handle("whatsapp", "POST", "https://app/wh", [(b"host", b"a")], body)
    assert missing.status == 401
    assert c.window(ADA).last_inbound_at is None


def test_body_as_bytearray_or_memoryview_is_accepted() -> None:
    body = messages_body(message(1))
    for raw in (bytearray(body), memoryview(body)):
        outcome = client().webhooks.handle("whatsapp", "POST", "https://app/wh", signed(body), raw)  # type: ignore[arg-type]
        assert outcome.status == 200 and len(outcome.events) == 1


def test_wrong_argument_types_raise_a_clear_configuration_error() -> None:
    c = client()
    body = messages_body(message(1))
    url = "https://app/wh"
    with pytest.raises(ConfigurationError, match="bytes"):
        c.webhooks.handle("whatsapp", "POST", url, signed(body), body.decode())  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="bytes"):
        c.webhooks.parse("whatsapp", signed(body), body.decode())  # type: ignore[arg-type]
    for bad_body in (None, 12, [body]):
        with pytest.raises(ConfigurationError, match="body"):
            c.webhooks.handle("whatsapp", "POST", url, signed(body), bad_body)  # type: ignore[arg-type]
    for bad_headers in (None, "X-Hub-Signature-256: x", b"x", 3, [("only-a-name",)], ["ab"]):
        with pytest.raises(ConfigurationError, match="headers"):
            c.webhooks.handle("whatsapp", "POST", url, bad_headers, body)  # type: ignore[arg-type]
        with pytest.raises(ConfigurationError, match="headers"):
            c.webhooks.parse("whatsapp", bad_headers, body)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="header"):
        c.webhooks.handle("whatsapp", "POST", url, {"X-Hub-Signature-256": 7}, body)  # type: ignore[dict-item]
    with pytest.raises(ConfigurationError, match="method"):
        c.webhooks.handle("whatsapp", None, url, signed(body), body)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="url"):
        c.webhooks.handle("whatsapp", "GET", None, {}, b"")  # type: ignore[arg-type]
    # Nothing was recorded by any of them.
    assert c.window(ADA).last_inbound_at is None


def test_the_depth_limit_is_exactly_max_depth() -> None:
    from omnimsg.platforms.whatsapp.flows import MAX_DEPTH

    # root {, entry [, entry {, changes [, change {, value {, messages [ : 7 levels
    at_limit = body_with_raw_item(nested(MAX_DEPTH - 7), message(1))
    outcome = post(client(), at_limit)
    assert outcome.status == 200  # type: ignore[attr-defined]
    assert [type(e).__name__ for e in outcome.events] == ["MessageReceived", "Unknown"]  # type: ignore[attr-defined]
    beyond = post(client(), body_with_raw_item(nested(MAX_DEPTH - 6), message(1)))
    assert beyond.status == 400  # type: ignore[attr-defined]
    assert isinstance(beyond.error, WebhookParseError)  # type: ignore[attr-defined]
