"""Bad input never crashes: hypothesis throws junk at every parser and endpoint."""

from __future__ import annotations

import json
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnimsg import Client, Event, OmniMsgError, Unknown, WhatsApp
from omnimsg.clock import FakeClock
from omnimsg.signing import sign_hub_sha256
from omnimsg.testing import DEFAULT_WHATSAPP, whatsapp_sim_config
from omnimsg_sim import InProcessSimulator

SECRET = "fuzz-secret"
CLIENT = Client(
    [WhatsApp(phone_number_id="1001", access_token="t", app_secret=SECRET)], clock=FakeClock()
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=25,
)
KEYS = [
    "object",
    "entry",
    "id",
    "changes",
    "field",
    "value",
    "messages",
    "statuses",
    "metadata",
    "phone_number_id",
    "from",
    "type",
    "text",
    "body",
    "timestamp",
    "interactive",
    "button_reply",
    "contacts",
    "errors",
    "status",
    "recipient_id",
    "image",
    "location",
    "latitude",
    "context",
    "pricing",
    "event",
    "message_template_id",
]
shaped = st.recursive(
    st.none()
    | st.integers()
    | st.text(max_size=10)
    | st.sampled_from(["whatsapp_business_account", "messages", "text", "1001"]),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(KEYS), children, max_size=6)
    ),
    max_leaves=30,
)


def envelope(entry: Any) -> dict[str, Any]:
    return {"object": "whatsapp_business_account", "entry": entry}


def assert_handled(body: bytes) -> None:
    signed = {"X-Hub-Signature-256": sign_hub_sha256(SECRET, body)}
    outcome = CLIENT.webhooks.handle("whatsapp", "POST", "https://app/wh", signed, body)
    assert outcome.status in (200, 400, 413)
    if outcome.status != 200:
        assert isinstance(outcome.error, OmniMsgError)
    for event in outcome.events:
        assert isinstance(event, Event.__args__)  # type: ignore[attr-defined]
        if isinstance(event, Unknown):
            assert event.reason


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_random_bytes(body: bytes) -> None:
    assert_handled(body)
    unsigned = CLIENT.webhooks.handle("whatsapp", "POST", "https://app/wh", {}, body)
    assert unsigned.status == 401


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_random_json(value: Any) -> None:
    assert_handled(json.dumps(value).encode())


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(shaped)
def test_envelope_shaped_json(entry: Any) -> None:
    assert_handled(json.dumps(envelope(entry)).encode())


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.dictionaries(st.sampled_from(KEYS), shaped, max_size=6), max_size=4))
def test_message_items_with_junk_fields(messages: list[dict[str, Any]]) -> None:
    value = {"metadata": {"phone_number_id": "1001"}, "messages": messages, "statuses": messages}
    assert_handled(
        json.dumps(
            envelope([{"id": "1", "changes": [{"field": "messages", "value": value}]}])
        ).encode()
    )


SIM = InProcessSimulator(whatsapp_sim_config(webhook_url=None))
HTTP = httpx.Client(transport=SIM.transport(), base_url=SIM.base_url)
AUTH = {"Authorization": f"Bearer {DEFAULT_WHATSAPP['access_token']}"}
PNID = DEFAULT_WHATSAPP["phone_number_id"]
SEND_KEYS = [
    "messaging_product",
    "to",
    "recipient",
    "type",
    "text",
    "body",
    "image",
    "id",
    "link",
    "interactive",
    "action",
    "buttons",
    "reply",
    "title",
    "sections",
    "rows",
    "template",
    "name",
    "language",
    "code",
    "components",
    "parameters",
    "context",
    "message_id",
    "status",
    "reaction",
    "emoji",
    "location",
]
send_shaped = st.recursive(
    st.none()
    | st.integers()
    | st.text(max_size=8)
    | st.sampled_from(
        [
            "whatsapp",
            "text",
            "interactive",
            "template",
            "button",
            "list",
            "15551230001",
            "order_update",
        ]
    ),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(SEND_KEYS), children, max_size=6)
    ),
    max_leaves=30,
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(send_shaped)
def test_simulator_answers_junk_sends_with_native_errors(body: Any) -> None:
    r = HTTP.post(f"/v21.0/{PNID}/messages", headers=AUTH, content=json.dumps(body).encode())
    assert r.status_code in (200, 400, 404, 429), r.text
    if r.status_code != 200:
        error = r.json()["error"]
        assert isinstance(error["code"], int)
        assert error["message"].startswith("(#")


CONTROL_KEYS = [
    "platform",
    "account",
    "user",
    "text",
    "message",
    "button_reply",
    "list_reply",
    "context",
    "name",
    "user_id",
    "type",
    "id",
    "title",
    "seconds",
    "status",
    "language",
    "waba_id",
    "reason",
    "challenge",
    "operation",
    "times",
    "code",
    "latency_ms",
    "action",
    "data_base64",
    "image",
    "audio",
    "url",
]
control_shaped = st.recursive(
    st.none()
    | st.integers(min_value=-5, max_value=5)
    | st.text(max_size=6)
    | st.sampled_from(
        [
            "whatsapp",
            "15551230001",
            PNID,
            "text",
            "image",
            "order_update",
            "APPROVED",
            "aGk=",
            "/_sim/sink",
        ]
    ),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(CONTROL_KEYS), children, max_size=6)
    ),
    max_leaves=25,
)


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(
        [
            "/_sim/inbound",
            "/_sim/faults",
            "/_sim/clock/advance",
            "/_sim/templates/status",
            "/_sim/webhooks/verify",
            "/_sim/webhooks/target",
        ]
    ),
    st.one_of(control_shaped, json_values),
)
def test_control_plane_answers_junk_with_400s(path: str, body: Any) -> None:
    r = HTTP.post(path, content=json.dumps(body).encode())
    assert r.status_code < 500, r.text
    json.loads(r.content)
    HTTP.delete("/_sim/faults")
