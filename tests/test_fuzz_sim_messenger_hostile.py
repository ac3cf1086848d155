"""Hostile input on every Messenger route: a 4xx in Graph's envelope, and no state change.

The classes of DESIGN §6, as ``tests/test_fuzz_sim_hostile.py`` tries them on WhatsApp's
routes: JSON nested 1,000 deep, non-finite and out-of-range numbers, lone surrogates,
non-UTF-8 header bytes, CR/LF in values that end up in headers or URLs, backslashes and
regex metacharacters in user text; then a bounded hypothesis fuzz mixing them into valid
bodies. A Messenger route answers a refusal in Graph's ``{"error": {message, type, code,
fbtrace_id}}`` (``/_sim`` in its own ``{"error": {"message"}}``) and leaves the simulator
exactly as it was: state, outbox, webhook log, sink, threads, attachments, rate budgets.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hostile import (
    ALPHABET,
    BAD_HEADER_BYTES,
    DEEP,
    DEEP_IDS,
    LITERALS,
    LONE_SURROGATES,
    NON_FINITE,
    Probe,
    header_values,
    held,
    hostile_json,
    raw_http,
    raw_json,
    raw_request,
    spoiled,
    views,
)
from omnimsg.testing import DEFAULT_MESSENGER, DEFAULT_WHATSAPP, ServerThread
from omnimsg_sim import InProcessSimulator, SimConfig, parse_config

PAGE = DEFAULT_MESSENGER["page_id"]
TOKEN = DEFAULT_MESSENGER["page_access_token"]
ADA = DEFAULT_MESSENGER["customers"][0]["psid"]
Q = f"access_token={TOKEN}"


def config() -> SimConfig:
    """WhatsApp and Messenger side by side, their webhooks to the sink (part of the state)."""
    return parse_config(
        {
            "sim": {"seed": 1, "start": "2026-03-02T09:00:00Z"},
            "whatsapp": [{**DEFAULT_WHATSAPP, "webhook_url": "/_sim/sink"}],
            "messenger": [{**DEFAULT_MESSENGER, "webhook_url": "/_sim/sink"}],
        }
    )


def new_sim() -> tuple[InProcessSimulator, httpx.Client]:
    sim = InProcessSimulator(config())
    http = httpx.Client(transport=sim.transport(), base_url=sim.base_url)
    # Some state a wrong change would show: an open window, a comment, an upload.
    sim.control("POST", "/_sim/inbound", {"platform": "messenger", "user": ADA, "text": "hi"})
    sim.control(
        "POST",
        "/_sim/inbound",
        {"platform": "messenger", "user": ADA, "comment": {"message": "?", "comment_id": "11_22"}},
    )
    upload = {"message": {"attachment": {"type": "image", "payload": {"url": "https://x.test/a"}}}}
    http.post(f"/v25.0/me/message_attachments?{Q}", json=upload).raise_for_status()
    return sim, http


@pytest.fixture
def sim() -> Iterator[tuple[InProcessSimulator, httpx.Client]]:
    yield from held(new_sim())


def state(sim: InProcessSimulator, http: httpx.Client) -> tuple[Any, ...]:
    """Everything a refused request must leave as it was."""
    answers = views(http, ["/_sim/messenger/threads"])
    messenger = sim.core.platforms["messenger"]
    page = messenger.pages[PAGE]
    return (*answers, sorted(messenger.attachments), dict(page.buckets), dict(page.profile))


PROBE = Probe(state)
refused = PROBE.refused
survives = PROBE.survives


# --- the routes and a valid body for each ---------------------------------------------------

TEXT = {"recipient": {"id": ADA}, "messaging_type": "RESPONSE", "message": {"text": "hi"}}
QUICK = {
    "recipient": {"id": ADA},
    "message": {
        "text": "Pick",
        "quick_replies": [{"content_type": "text", "title": "A", "payload": "a"}],
        "metadata": "m",
    },
}
TEMPLATE = {
    "recipient": {"id": ADA},
    "message": {
        "attachment": {
            "type": "template",
            "payload": {
                "template_type": "generic",
                "elements": [
                    {
                        "title": "Shoe",
                        "image_url": "https://x.test/s.png",
                        "buttons": [{"type": "postback", "title": "Buy", "payload": "BUY"}],
                    }
                ],
            },
        }
    },
}
TAGGED = {
    "recipient": {"id": ADA},
    "messaging_type": "MESSAGE_TAG",
    "tag": "HUMAN_AGENT",
    "message": {"text": "agent"},
}
PRIVATE_REPLY = {"recipient": {"comment_id": "11_22"}, "message": {"text": "thanks"}}
UPLOAD = {"message": {"attachment": {"type": "image", "payload": {"url": "https://x.test/b"}}}}
PROFILE = {
    "get_started": {"payload": "START"},
    "greeting": [{"locale": "default", "text": "Hello"}],
    "ice_breakers": [{"question": "Hours?", "payload": "HOURS"}],
}
THREAD = {"recipient": {"id": ADA}, "metadata": "m"}

JSON_ROUTES: list[tuple[str, dict[str, Any]]] = [
    (f"/v25.0/me/messages?{Q}", TEXT),
    (f"/v25.0/{PAGE}/messages?{Q}", QUICK),
    (f"/v25.0/{PAGE}/messages?{Q}", {"recipient": {"id": ADA}, "sender_action": "typing_on"}),
    (f"/v25.0/me/message_attachments?{Q}", UPLOAD),
    (f"/v25.0/me/messenger_profile?{Q}", PROFILE),
    (f"/v25.0/me/pass_thread_control?{Q}", {**THREAD, "target_app_id": "263902037430900"}),
    (f"/v25.0/me/take_thread_control?{Q}", THREAD),
    (f"/v25.0/me/request_thread_control?{Q}", THREAD),
    (f"/v25.0/me/release_thread_control?{Q}", THREAD),
    ("/_sim/inbound", {"platform": "messenger", "user": ADA, "text": "hi"}),
    ("/_sim/messenger/handover", {"user": ADA, "action": "take", "metadata": "m"}),
    ("/_sim/webhooks/target", {"platform": "messenger", "url": "/_sim/sink"}),
    ("/_sim/webhooks/verify", {"platform": "messenger", "challenge": "42"}),
]
SIM_POST_ROUTES = [path for path, _ in JSON_ROUTES if path.startswith("/_sim")]
"""The Messenger control operations fuzzed here (test_fuzz_sim_hostile.py checks that every
POST operation under /_sim/<platform>/ is in a fuzzed list)."""

INBOUND = [
    {"platform": "messenger", "user": ADA, "text": "hi", "quick_reply": {"payload": "P"}},
    {"platform": "messenger", "user": ADA, "postback": {"title": "T", "payload": "P"}},
    {"platform": "messenger", "user": ADA, "reaction": {"mid": "m_1", "reaction": "love"}},
    {"platform": "messenger", "user": ADA, "read": {"watermark": 1772442000000}},
    {
        "platform": "messenger",
        "user": ADA,
        "image": {"data_base64": "aGk=", "mime_type": "image/png"},
    },
    {"platform": "messenger", "user": ADA, "comment": {"message": "c", "post_id": "1_2"}},
    {"platform": "messenger", "user": ADA, "referral": {"ref": "r", "source": "ADS", "ad_id": "9"}},
    {
        "platform": "messenger",
        "user": ADA,
        "message": {
            "text": "x",
            "attachments": [{"type": "image", "payload": {"url": "https://x.test"}}],
        },
    },
]

GRAPH_ROUTES: list[tuple[str, str]] = [
    ("POST", "/v25.0/me/messages"),
    ("POST", f"/v25.0/{PAGE}/messages"),
    ("POST", "/v25.0/me/message_attachments"),
    ("GET", "/v25.0/me/messenger_profile?fields=greeting"),
    ("POST", "/v25.0/me/messenger_profile"),
    ("DELETE", "/v25.0/me/messenger_profile"),
    ("POST", "/v25.0/me/pass_thread_control"),
    ("POST", "/v25.0/me/take_thread_control"),
    ("POST", "/v25.0/me/request_thread_control"),
    ("POST", "/v25.0/me/release_thread_control"),
    ("GET", f"/v25.0/me/thread_owner?recipient={ADA}"),
    ("GET", "/v25.0/me/secondary_receivers?fields=id,name"),
    ("GET", f"/v25.0/{ADA}?fields=first_name"),
    ("GET", f"/v25.0/{PAGE}"),
    ("GET", "/v25.0/me"),
    ("POST", f"/v25.0/{PAGE}/subscribed_apps"),
]
"""(method, path) of every Messenger Graph route, without a token."""


def with_token(path: str) -> str:
    return f"{path}{'&' if '?' in path else '?'}{Q}"


JSON_HEADERS = {"Content-Type": "application/json"}
IDS = [f"{p.split('?')[0]}:{sorted(b)[0]}" for p, b in JSON_ROUTES]


# --- 1. JSON nested 1,000 deep ---------------------------------------------------------------


@pytest.mark.parametrize("deep", DEEP, ids=DEEP_IDS)
@pytest.mark.parametrize(("path", "body"), JSON_ROUTES, ids=IDS)
def test_deep_json_is_refused_on_every_json_route(
    sim: tuple[InProcessSimulator, httpx.Client], path: str, body: dict[str, Any], deep: str
) -> None:
    s, http = sim
    refused(s, http, "POST", path, content=deep.encode(), headers=JSON_HEADERS)
    nested = raw_json({**body, "extra": "__HOSTILE__"}, deep)
    refused(s, http, "POST", path, content=nested, headers=JSON_HEADERS)


def test_deep_json_in_query_parameters_and_form_bodies(
    sim: tuple[InProcessSimulator, httpx.Client],
) -> None:
    s, http = sim
    deep = "[" * 200 + "]" * 200
    refused(s, http, "POST", f"/v25.0/me/messages?{Q}&recipient={deep}")
    form = {"recipient": deep, "message": '{"text":"x"}', "access_token": TOKEN}
    refused(s, http, "POST", "/v25.0/me/messages", data=form)
    refused(s, http, "GET", f"/v25.0/me/thread_owner?{Q}&recipient={deep}")


# --- 2. non-finite and out-of-range numbers --------------------------------------------------


@pytest.mark.parametrize("number", NON_FINITE)
@pytest.mark.parametrize(("path", "body"), JSON_ROUTES, ids=IDS)
def test_non_finite_numbers_are_refused_on_every_json_route(
    sim: tuple[InProcessSimulator, httpx.Client], path: str, body: dict[str, Any], number: str
) -> None:
    s, http = sim
    spoiled = raw_json({**body, "extra": "__HOSTILE__"}, number)
    refused(s, http, "POST", path, content=spoiled, headers=JSON_HEADERS)


@pytest.mark.parametrize(
    "body",
    [
        {"recipient": {"id": 1e20}, "message": {"text": "x"}},
        {"recipient": {"id": 10**40}, "message": {"text": "x"}},
        {"recipient": {"id": -1}, "message": {"text": "x"}},
        {"recipient": {"id": ADA}, "message": {"sticker_id": 1e300}},
        {"recipient": {"id": ADA}, "message": {"sticker_id": 10**100}},
        {"recipient": {"id": ADA}, "message": {"sticker_id": True}},
        {"recipient": {"id": ADA}, "persona_id": 1.5, "message": {"text": "x"}},
        {
            "recipient": {"id": ADA},
            "message": {"attachment": {"type": "image", "payload": {"attachment_id": 1e20}}},
        },
    ],
)
def test_the_send_api_refuses_numbers_that_are_no_ids(
    sim: tuple[InProcessSimulator, httpx.Client], body: dict[str, Any]
) -> None:
    s, http = sim
    refused(s, http, "POST", f"/v25.0/me/messages?{Q}", json=body)


@pytest.mark.parametrize(
    "body",
    [
        {"user": ADA, "action": "pass", "target_app_id": "9" * 5000},
        {"user": ADA, "action": "take", "app_id": 10**40},
        {"user": ADA, "action": "take", "app_id": 1e300},
    ],
)
def test_handover_refuses_app_ids_out_of_range(
    sim: tuple[InProcessSimulator, httpx.Client], body: dict[str, Any]
) -> None:
    s, http = sim
    refused(s, http, "POST", "/_sim/messenger/handover", json=body)
    graph = {"recipient": {"id": ADA}, "target_app_id": body.get("target_app_id") or 10**40}
    refused(s, http, "POST", f"/v25.0/me/pass_thread_control?{Q}", json=graph)


@pytest.mark.parametrize(
    "spec",
    [
        {"read": {"watermark": 1e20}},
        {"read": {"watermark": -1}},
        {"read": {"watermark": 10**30}},
        {"sticker": {"sticker_id": 10**40}},
        {"referral": {"ad_id": 1e300}},
        {"comment": {"message": "x", "post_id": 1e20}},
    ],
)
def test_inbound_refuses_numbers_out_of_range(
    sim: tuple[InProcessSimulator, httpx.Client], spec: dict[str, Any]
) -> None:
    s, http = sim
    body = {"platform": "messenger", "user": ADA, **spec}
    refused(s, http, "POST", "/_sim/inbound", json=body)


JUNK_QUERY = (
    "fields=%ED%A0%80&recipient=%0D%0Ax&appsecret_proof=%FF&metadata=NaN&target_app_id=1e400"
    "&hash=%00&limit=Infinity"
)


def test_junk_queries_on_every_graph_route(sim: tuple[InProcessSimulator, httpx.Client]) -> None:
    s, http = sim
    for method, path in GRAPH_ROUTES:
        sep = "&" if "?" in path else "?"
        survives(s, http, method, f"{with_token(path)}{sep}{JUNK_QUERY}", content=b"{}")
        survives(s, http, method, f"{path}{sep}{JUNK_QUERY}&access_token=%ED%A0%80")


# --- 3. lone surrogates -----------------------------------------------------------------------


@pytest.mark.parametrize("text", LONE_SURROGATES)
@pytest.mark.parametrize(("path", "body"), JSON_ROUTES, ids=IDS)
def test_lone_surrogates_are_refused_on_every_json_route(
    sim: tuple[InProcessSimulator, httpx.Client], path: str, body: dict[str, Any], text: str
) -> None:
    s, http = sim
    spoiled = raw_json({**body, "extra": "__HOSTILE__"}, text)
    refused(s, http, "POST", path, content=spoiled, headers=JSON_HEADERS)


def test_lone_surrogates_in_text_and_query(sim: tuple[InProcessSimulator, httpx.Client]) -> None:
    s, http = sim
    body = raw_json({"recipient": {"id": ADA}, "message": {"text": "__HOSTILE__"}}, '"\\ud800"')
    refused(s, http, "POST", f"/v25.0/me/messages?{Q}", content=body, headers=JSON_HEADERS)
    spec = raw_json({"platform": "messenger", "user": ADA, "text": "__HOSTILE__"}, '"\\udfff"')
    refused(s, http, "POST", "/_sim/inbound", content=spec, headers=JSON_HEADERS)
    survives(s, http, "GET", f"/v25.0/{ADA}?{Q}&fields=%ED%A0%80")
    refused(s, http, "GET", f"/v25.0/me/thread_owner?{Q}&recipient=%7B%22id%22%3A%22%5Cud800%22%7D")


# --- 4. non-UTF-8 header bytes -------------------------------------------------------------------


@pytest.mark.parametrize("junk", BAD_HEADER_BYTES)
def test_non_utf8_authorization_is_a_wrong_token_in_process(
    sim: tuple[InProcessSimulator, httpx.Client], junk: bytes
) -> None:
    s, http = sim
    for method, path in GRAPH_ROUTES:
        PROBE.wrong_token(s, http, method, path, junk)


@pytest.mark.slow
def test_non_utf8_header_bytes_over_a_real_socket() -> None:
    with ServerThread(config()) as url, httpx.Client(base_url=url, timeout=5) as http:
        port = int(url.rsplit(":", 1)[1])
        before = http.get("/_sim/state").json(), http.get("/_sim/outbox").json()
        host = b"Host: 127.0.0.1"
        for method, path in GRAPH_ROUTES:
            for headers in (
                [host, b"Authorization: Bearer \xff\xfe\xc3"],
                [host, b"Authorization: \xed\xa0\x80"],
                [host, b"Content-Type: application/x-www-form-urlencoded; charset=\xff"],
                [b"Host: \xff\xfe:80", b"Authorization: Bearer " + TOKEN.encode()],
            ):
                status, body = raw_http(port, raw_request(method, path, headers, b"{}"))
                assert status < 500, (method, path, headers, body)
                if status >= 400:
                    error = json.loads(body)["error"]
                    assert isinstance(error["code"], int) and error["fbtrace_id"], body
        assert (http.get("/_sim/state").json(), http.get("/_sim/outbox").json()) == before


# --- 5. CR/LF in values that end up in headers or URLs ------------------------------------------

CRLF = ["https://x.test/\r\nX-Evil: 1", "https://x.test/a b", "https://\n/", "javascript:alert(1)"]


@pytest.mark.parametrize("url", CRLF)
def test_urls_that_cannot_be_requested_are_refused(
    sim: tuple[InProcessSimulator, httpx.Client], url: str
) -> None:
    s, http = sim
    image = {"attachment": {"type": "image", "payload": {"url": url}}}
    refused(
        s,
        http,
        "POST",
        f"/v25.0/me/messages?{Q}",
        json={"recipient": {"id": ADA}, "message": image},
    )
    refused(s, http, "POST", f"/v25.0/me/message_attachments?{Q}", json={"message": image})
    spec = {"platform": "messenger", "user": ADA, "image": {"url": url}}
    refused(s, http, "POST", "/_sim/inbound", json=spec)
    domains = {"whitelisted_domains": [url]}
    refused(s, http, "POST", f"/v25.0/me/messenger_profile?{Q}", json=domains)


@pytest.mark.parametrize("mime", ["image/png\r\nX-Evil: 1", "image/png\n", "image/\x00png"])
def test_a_mime_type_that_cannot_be_a_header_is_refused(
    sim: tuple[InProcessSimulator, httpx.Client], mime: str
) -> None:
    s, http = sim
    spec = {
        "platform": "messenger",
        "user": ADA,
        "image": {"data_base64": "aGk=", "mime_type": mime},
    }
    refused(s, http, "POST", "/_sim/inbound", json=spec)


# --- 6. backslashes and regex metacharacters pass intact ------------------------------------------

TRICKY = ["C:\\Users\\ada", "a\\nb", "\\1 \\g<0> $& $1", "(.*)[x{{1}}", "\\", "^$|?*+", "</script>"]


@pytest.mark.parametrize("text", TRICKY)
def test_tricky_text_passes_through_intact(
    sim: tuple[InProcessSimulator, httpx.Client], text: str
) -> None:
    s, http = sim
    r = http.post("/_sim/inbound", json={"platform": "messenger", "user": ADA, "text": text})
    assert r.status_code == 200
    webhook = http.get("/_sim/sink").json()["requests"][-1]["payload"]
    assert webhook["entry"][0]["messaging"][0]["message"]["text"] == text
    sent = http.post(
        f"/v25.0/me/messages?{Q}",
        json={"recipient": {"id": ADA}, "message": {"text": text, "metadata": text}},
    )
    assert sent.status_code == 200, sent.text
    assert http.get("/_sim/outbox").json()["messages"][-1]["text"] == text
    echo = http.get("/_sim/sink").json()["requests"][-1]["payload"]
    assert echo["entry"][0]["messaging"][0]["message"]["metadata"] == text
    fault = {"platform": "messenger", "operation": "messenger.send", "code": 2, "message": text}
    assert http.post("/_sim/faults", json=fault).status_code == 201
    failed = http.post(f"/v25.0/me/messages?{Q}", json=TEXT)
    assert failed.json()["error"]["message"] == f"(#2) {text}"
    survives(s, http, "GET", f"/v25.0/{ADA}", params={"fields": text, "access_token": TOKEN})
    survives(s, http, "GET", "/_sim/messenger/threads", params={"user": text})


# --- 7. the fuzz: the classes above, mixed into valid bodies -----------------------------------

# Beyond WhatsApp's: a number too long for any id, an empty string, and slashes (URLs).
HOSTILE_JSON = hostile_json([LITERALS[0], "9" * 4000, *LITERALS[1:], '""'], ALPHABET + "/")


FUZZ_BODIES: list[tuple[str, Any]] = [
    *JSON_ROUTES,
    (f"/v25.0/me/messages?{Q}", TEMPLATE),
    (f"/v25.0/me/messages?{Q}", TAGGED),
    (f"/v25.0/me/messages?{Q}", PRIVATE_REPLY),
    *[("/_sim/inbound", spec) for spec in INBOUND],
]
FUZZ_SIM = new_sim()


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.sampled_from(FUZZ_BODIES), st.data(), HOSTILE_JSON)
def test_fuzz_hostile_values_in_valid_bodies(
    route: tuple[str, Any], data: st.DataObject, hostile: str
) -> None:
    path, body = route
    content = spoiled(data, body, hostile)
    s, http = FUZZ_SIM
    survives(s, http, "POST", path, content=content, headers=JSON_HEADERS)


HEADER_VALUES = header_values(TOKEN)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(GRAPH_ROUTES), HEADER_VALUES, HEADER_VALUES)
def test_fuzz_header_bytes_in_process(
    route: tuple[str, str], authorization: bytes, content_type: bytes
) -> None:
    method, path = route
    s, http = FUZZ_SIM
    headers = [(b"Authorization", authorization), (b"Content-Type", content_type)]
    survives(s, http, method, path, headers=headers, content=b'{"recipient":{"id":"1"}}')


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(GRAPH_ROUTES), st.binary(max_size=64))
def test_fuzz_raw_bodies_on_every_graph_route(route: tuple[str, str], body: bytes) -> None:
    method, path = route
    s, http = FUZZ_SIM
    for ctype in (b"application/json", b"application/x-www-form-urlencoded", b""):
        survives(
            s, http, method, with_token(path), headers=[(b"Content-Type", ctype)], content=body
        )
