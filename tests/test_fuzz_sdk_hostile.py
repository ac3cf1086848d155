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

import contextlib
import itertools
import json
from collections.abc import Callable
from typing import Any

import httpx
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from omnimsg import (
    Address,
    Client,
    Event,
    MessageReceived,
    OmniMsgError,
    Postback,
    StatusUpdate,
    Text,
    Unknown,
    WhatsApp,
)
from omnimsg.clock import FakeClock
from omnimsg.signing import sign_hub_sha256

SECRET = "hostile-fuzz-secret"
NOW = 1772442000.0
URL = "https://app/wh"
ALLOWED = {200, 400, 401, 403, 413}
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
REGEX_TEXT = st.text(alphabet=".*+?^$()[]{}|\\/\"'\r\n\t\x00\u2028é😀", max_size=30)
STRINGS = st.one_of(
    REGEX_TEXT.map(json.dumps),  # valid JSON strings full of metacharacters, CR/LF, \\
    REGEX_TEXT.map(lambda t: json.dumps(t, ensure_ascii=False)),
    st.sampled_from(
        [
            '"\\ud800"',  # lone high surrogate
            '"a\\udc00b"',  # lone low surrogate
            '"\\ud800\\ud800"',
            '"\\udfff\\ud800"',
            '"\\x41"',  # not a JSON escape
            '"\\u12"',
            '"a\r\nb"',  # raw CR/LF inside a string: not JSON
            '"a\\r\\nb"',
            '"\\\\"',
            '"\\\\\\""',
            '"(?P<x>a+)+$"',
            '"\\\\d{1,3}[\\\\w-]*"',
        ]
    ),
)
DEPTHS = [2, 50, 100, 253, 254, 255, 256, 300, 1000, 1023, 1024, 1025, 1030, 3000]


@st.composite
def nested(draw: Callable[..., Any]) -> str:
    depth = draw(st.sampled_from(DEPTHS))
    if draw(st.booleans()):
        return "[" * depth + "]" * depth
    return '{"a":' * depth + draw(st.sampled_from(["1", "null", '"x"'])) + "}" * depth


VALUES = st.one_of(st.sampled_from(NUMBERS), STRINGS, nested())


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
def hostile_body(draw: Callable[..., Any]) -> tuple[str, int, tuple[int, bytes] | None]:
    """``(template, number of messages, non-UTF-8 junk to splice in)``.

    The customer and message ids are placeholders (``@USER@``, ``@MID0@``...): the test fills
    in fresh ones, so every example starts from a state no other example touched, while
    the data generation itself stays deterministic (hypothesis replays it to shrink).
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
    junk = None
    if draw(st.integers(0, 4)) == 0:  # non-UTF-8 bytes somewhere inside
        where = draw(st.integers(0, 1 << 20))
        junk = (where, draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80"])))
    return template, count, junk


def realize(drawn: tuple[str, int, tuple[int, bytes] | None]) -> tuple[bytes, list[str], str]:
    """``(body, its message ids, its customer)`` with ids no earlier example used."""
    template, count, junk = drawn
    n = next(_ids)
    user = f"1555{n:07d}"
    mids = [f"wamid.hostile.{n}.{i}" for i in range(count)]
    text = template.replace("@USER@", user).replace("@MIDS@", f"wamid.status.{n}")
    for i, mid in enumerate(mids):
        text = text.replace(f"@MID{i}@", mid)
    body = text.encode()
    if junk is not None:
        where = junk[0] % (len(body) + 1)
        body = body[:where] + junk[1] + body[where:]
    return body, mids, user


def _odd_case(name: str, pattern: list[bool]) -> str:
    return "".join(c.upper() if up else c for c, up in zip(name, itertools.cycle(pattern)))


@st.composite
def headers_for(draw: Callable[..., Any], body: bytes) -> tuple[object, bool]:
    """``(headers, valid)``: the signature of ``body`` in some framework's shape, or spoilt."""
    sig = sign_hub_sha256(SECRET, body)
    name = _odd_case("x-hub-signature-256", draw(st.lists(st.booleans(), min_size=1, max_size=5)))
    valid_shapes: list[object] = [
        {"X-Hub-Signature-256": sig},
        {name: sig},
        {"Host": "app", name: sig},
        [(name, sig)],
        [(b"host", b"app"), (name.encode(), sig.encode())],  # ASGI scope["headers"]
        httpx.Headers({name: sig}),
        {name.encode(): sig.encode()},
    ]
    if draw(st.integers(0, 2)):
        return draw(st.sampled_from(valid_shapes)), True
    spoilt = draw(
        st.sampled_from(
            [
                sig[:20] + "\r\n" + sig[20:],
                sig[:-2] + "\r\nX-Injected: 1",
                "sha256=\r\n" + sig[7:],
                sig[:-1] + "\ud800",
                sig[:-1],
                "sha1=" + sig[7:],
                "",
                "sha256=",
                sig.upper(),  # tolerated: upper-case hex
                sig + "\r\n",  # tolerated: trailing white space
            ]
        )
    )
    raw = spoilt.encode("utf-8", "surrogatepass")
    shapes: list[object] = [
        {"X-Hub-Signature-256": spoilt},
        [(name.encode(), raw)],
        [(name.encode(), raw + b"\xff")],
        [(name.encode() + b"\xff", sig.encode())],  # a different (non-UTF-8) header name
        [(b"x-hub-signature-256", b"sha256=" + bytes(range(128, 192)))],
        {},
        [],
    ]
    return draw(st.sampled_from(shapes)), False


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


def _handle(headers: object, body: bytes) -> Any:
    outcome = CLIENT.webhooks.handle("whatsapp", "POST", URL, headers, body)  # type: ignore[arg-type]
    assert outcome.status in ALLOWED, outcome
    return outcome


def _no_foreign_errors(user: str) -> None:
    """``window``/``check``/``send`` for ``user`` raise only omnimsg errors."""
    to = Address("whatsapp", user)
    window = CLIENT.window(to)
    if window.last_inbound_at is not None:
        assert window.last_inbound_at.timestamp() == 1772442000
    assert isinstance(CLIENT.check(to, Text("hi")), tuple)
    with contextlib.suppress(OmniMsgError):
        CLIENT.send(to, Text("hi"))


def _check_events(events: tuple[Event, ...]) -> None:
    for e in events:
        assert isinstance(e, Event.__args__)  # type: ignore[attr-defined]
        if isinstance(e, Unknown):
            assert e.reason
        if isinstance(e, MessageReceived | Postback | StatusUpdate):
            assert 0 < e.timestamp < 32_503_680_000  # finite, 1970..3000


def _check(body: bytes, mids: list[str], user: str, headers: object, valid: bool) -> None:
    to = Address("whatsapp", user)
    outcome = _handle(headers, body)
    event(f"status {outcome.status}")  # pytest --hypothesis-show-statistics
    try:
        parsed: list[Event] | None = CLIENT.webhooks.parse("whatsapp", headers, body)  # type: ignore[arg-type]
    except OmniMsgError:
        parsed = None
    if valid:
        assert outcome.status not in (401, 403), outcome
    if outcome.status == 200:
        assert parsed is not None and len(parsed) == len(outcome.events) + outcome.duplicates
        _check_events(outcome.events)
        again = _handle(headers, body)  # the platform's retry: every event is a duplicate now
        assert again.events == () and again.duplicates == len(parsed)
    else:
        assert parsed is None
        assert outcome.events == () and isinstance(outcome.error, OmniMsgError)
        # A refused body left no trace: no window, and every one of its ids is still new.
        assert CLIENT.window(to).last_inbound_at is None
        fresh = _valid_body(mids, user)
        redelivered = _handle({"X-Hub-Signature-256": sign_hub_sha256(SECRET, fresh)}, fresh)
        assert [e.message_id for e in redelivered.events] == mids  # type: ignore[union-attr]
        assert redelivered.duplicates == 0
        assert CLIENT.window(to).open
    _no_foreign_errors(user)


FUZZ = settings(
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


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
