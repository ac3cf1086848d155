"""Hostile but correctly SIGNED webhooks (DESIGN §6, issue #6 section 3): the SDK side.

Every body here is signed with the channel's app secret, so it gets past verification and
reaches the parser, the de-duplication and the state updates. The classes that broke things
before: JSON nested 1,000 deep, NaN/Infinity/1e20/1e300 as timestamps and numbers, lone
surrogates, non-UTF-8 bytes, CR/LF inside values, backslashes and regex metacharacters in
text; and header shapes (ASGI byte pairs, odd cases, non-UTF-8 bytes, CR/LF in the signature).

What must hold: ``handle`` never raises and answers 200/400/401/403/413; a refused body leaves
no trace (no event of it is marked seen, no window moves: re-sending a valid body with the same
ids delivers each of them once); ``window``/``check``/``send`` afterwards raise nothing but
omnimsg's own errors.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from typing import Any

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from hostile import Drawn, SignedFuzz, fill_in, fuzz_settings, junk, nested, signed_headers, strings
from omnimsg import (
    Client,
    Event,
    MessageReceived,
    Postback,
    StatusUpdate,
    Unknown,
    WhatsApp,
)
from omnimsg.clock import FakeClock
from omnimsg.signing import sign_hub_sha256

SECRET = "hostile-fuzz-secret"
NOW = 1772442000.0
_ids = itertools.count()


def _platform(request: httpx.Request) -> httpx.Response:
    """A platform that accepts every send (so ``send`` gets as far as it can)."""
    return httpx.Response(
        200, json={"messaging_product": "whatsapp", "messages": [{"id": "wamid.out"}]}
    )


CLIENT = Client(
    [WhatsApp(phone_number_id="1001", access_token="t", app_secret=SECRET)],
    clock=FakeClock(NOW),
    transport=httpx.MockTransport(_platform),
)

# --- hostile JSON fragments (raw text, so invalid JSON is possible too) -----------------------

NUMBERS = [
    '"1772442000"',
    "1772442000",
    '"nan"',
    '"NaN"',
    '"inf"',
    '"-inf"',
    '"Infinity"',
    '"1e20"',
    '"1e300"',
    "1e20",
    "1e300",
    "-1e300",
    "NaN",  # not JSON at all
    "Infinity",
    "-Infinity",
    "1e400",  # infinite as a double
    "-5",
    "0",
    '"0"',
    '"-0"',
    "10000000000000000000000000000000",
    '"' + "9" * 400 + '"',
    '"1772442000000"',
    '"1_772_442_000"',
    '" 1772442000 "',
    "true",
    "null",
    "[]",
    "{}",
]
STRINGS = strings(['"\\ud800\\ud800"', '"\\\\\\""'])
DEPTHS = [2, 50, 100, 253, 254, 255, 256, 300, 1000, 1023, 1024, 1025, 1030, 3000]


VALUES = st.one_of(st.sampled_from(NUMBERS), STRINGS, nested(DEPTHS))


@st.composite
def message(draw: Callable[..., Any], mid: str, user: str) -> str:
    kind = draw(st.sampled_from(["text", "location", "interactive", "hologram"]))
    ts = draw(st.sampled_from(NUMBERS)) if draw(st.booleans()) else '"1772442000"'
    fields = [f'"from":"{user}"', f'"id":"{mid}"', f'"timestamp":{ts}', f'"type":"{kind}"']
    if kind == "text":
        fields.append(f'"text":{{"body":{draw(STRINGS)}}}')
    elif kind == "location":
        lat, lon = draw(st.sampled_from(NUMBERS)), draw(st.sampled_from(NUMBERS))
        fields.append(f'"location":{{"latitude":{lat},"longitude":{lon}}}')
    elif kind == "interactive":
        fields.append(
            '"interactive":{"type":"button_reply","button_reply":'
            f'{{"id":{draw(STRINGS)},"title":{draw(STRINGS)}}}}}'
        )
    else:
        fields.append(f'"hologram":{draw(VALUES)}')
    if draw(st.integers(0, 3)) == 0:
        fields.append(f'"context":{draw(VALUES)}')
    return "{" + ",".join(fields) + "}"


@st.composite
def status(draw: Callable[..., Any], mid: str, user: str) -> str:
    ts = draw(st.sampled_from(NUMBERS))
    return (
        f'{{"id":"{mid}","status":"read","timestamp":{ts},"recipient_id":"{user}",'
        f'"pricing":{{"billable":{draw(VALUES)}}}}}'
    )


@st.composite
def hostile_body(draw: Callable[..., Any]) -> Drawn:
    """``(template, number of messages, non-UTF-8 junk to splice in)``.

    The customer and message ids are placeholders (``@USER@``, ``@MID0@``...) that
    :func:`realize` fills in.
    """
    count = draw(st.integers(1, 3))
    items = [draw(message(f"@MID{i}@", "@USER@")) for i in range(count)]
    extras = draw(st.lists(VALUES, max_size=2))  # junk items after the real ones
    statuses = [draw(status("@MIDS@", "@USER@"))] if draw(st.booleans()) else []
    value = (
        '{"messaging_product":"whatsapp","metadata":{"phone_number_id":"1001"},'
        f'"contacts":[{{"profile":{{"name":{draw(STRINGS)}}},"wa_id":"@USER@"}}],'
        f'"messages":[{",".join(items + extras)}],"statuses":[{",".join(statuses)}]}}'
    )
    template = (
        '{"object":"whatsapp_business_account","entry":[{"id":"2001","time":'
        f'{draw(st.sampled_from(NUMBERS))},"changes":[{{"field":"messages","value":{value}}}]}}]}}'
    )
    return template, count, draw(junk())  # non-UTF-8 bytes somewhere inside, at times


def realize(drawn: Drawn) -> tuple[bytes, list[str], str]:
    """``(body, its message ids, its customer)`` with ids no earlier example used."""
    n = next(_ids)
    also = [("@MIDS@", f"wamid.status.{n}")]
    return fill_in(drawn, f"1555{n:07d}", f"wamid.hostile.{n}", also)


def headers_for(body: bytes) -> st.SearchStrategy[tuple[object, bool]]:
    """``(headers, valid)``: the signature of ``body`` in some framework's shape, or spoilt."""
    return signed_headers(SECRET, body, lenient=True)


def _valid_body(mids: list[str], user: str) -> bytes:
    msgs = [
        {"from": user, "id": mid, "timestamp": "1772442000", "type": "text", "text": {"body": "ok"}}
        for mid in mids
    ]
    value = {"metadata": {"phone_number_id": "1001"}, "messages": msgs}
    envelope = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "2001", "changes": [{"field": "messages", "value": value}]}],
    }
    return json.dumps(envelope).encode()


def _check_events(events: tuple[Event, ...]) -> None:
    for e in events:
        assert isinstance(e, Event.__args__)  # type: ignore[attr-defined]
        if isinstance(e, Unknown):
            assert e.reason
        if isinstance(e, MessageReceived | Postback | StatusUpdate):
            assert 0 < e.timestamp < 32_503_680_000  # finite, 1970..3000


SIGNED = SignedFuzz(
    client=CLIENT,
    platform="whatsapp",
    secret=SECRET,
    valid_body=_valid_body,
    check_events=_check_events,
    window_time=lambda t: t == 1772442000,
)
_check = SIGNED.check


FUZZ = fuzz_settings(500)


@FUZZ
@given(st.data())
def test_signed_hostile_bodies(data: st.DataObject) -> None:
    body, mids, user = realize(data.draw(hostile_body()))
    sig = sign_hub_sha256(SECRET, body)
    _check(body, mids, user, {"X-Hub-Signature-256": sig}, True)


@FUZZ
@given(st.data())
def test_signed_hostile_bodies_with_hostile_headers(data: st.DataObject) -> None:
    body, mids, user = realize(data.draw(hostile_body()))
    headers, valid = data.draw(headers_for(body))
    _check(body, mids, user, headers, valid)


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(DEPTHS),
    st.integers(0, 3),
    st.sampled_from(["item", "context", "entry", "value", "root"]),
)
def test_deep_nesting_anywhere(depth: int, valid_before: int, where: str) -> None:
    """Deep nesting after valid messages, at every level of the envelope."""
    n = next(_ids)
    user = f"1666{n:07d}"
    mids = [f"wamid.deep.{n}.{i}" for i in range(valid_before + 1)]
    deep = "[" * depth + "]" * depth
    at = {"item": "", "context": "", "entry": "", "value": "", "root": ""}
    at[where] = deep
    msgs = []
    for i, mid in enumerate(mids):
        context = ',"context":' + at["context"] if i == valid_before and at["context"] else ""
        msgs.append(
            f'{{"from":"{user}","id":"{mid}","timestamp":"1772442000","type":"text",'
            f'"text":{{"body":"x"}}{context}}}'
        )
    if at["item"]:
        msgs.append(at["item"])
    value_extra = ',"x":' + at["value"] if at["value"] else ""
    value = (
        f'{{"metadata":{{"phone_number_id":"1001"}},"messages":[{",".join(msgs)}]{value_extra}}}'
    )
    entry = f'{{"id":"2001","changes":[{{"field":"messages","value":{value}}}]}}'
    entries = f"[{entry},{at['entry']}]" if at["entry"] else f"[{entry}]"
    root_extra = ',"x":' + at["root"] if at["root"] else ""
    body = f'{{"object":"whatsapp_business_account","entry":{entries}{root_extra}}}'.encode()
    sig = sign_hub_sha256(SECRET, body)
    _check(body, mids, user, [(b"x-hub-signature-256", sig.encode())], True)
