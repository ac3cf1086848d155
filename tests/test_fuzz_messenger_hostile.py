"""Hostile but correctly SIGNED Messenger webhooks (DESIGN §6): the SDK side.

As tests/test_fuzz_sdk_hostile.py does for WhatsApp: every body is signed with the Page's app
secret, so it reaches the parser, the de-duplication and the state updates. The classes that
broke things before: JSON nested 1,000 deep, NaN/Infinity/1e20/1e300 as timestamps and
watermarks, lone surrogates, non-UTF-8 bytes, CR/LF inside values, backslashes and regex
metacharacters in text, app ids and sticker ids of every type; and header shapes (ASGI byte
pairs, odd cases, non-UTF-8 bytes, CR/LF in the signature).

What must hold: ``handle`` never raises and answers 200/400/401/403/413; a refused body leaves
no trace (no event of it is marked seen, no window moves: re-sending a valid body with the
same mids delivers each of them once); ``window``/``check``/``send``/``badge`` afterwards
raise nothing but omnimsg's own errors.
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
    CommentReceived,
    Event,
    MessageReceived,
    Messenger,
    OmniMsgError,
    Postback,
    StatusUpdate,
    Text,
    Unknown,
)
from omnimsg.clock import FakeClock
from omnimsg.signing import sign_hub_sha256

SECRET = "hostile-fuzz-secret"
PAGE = "4242"
NOW = 1_780_000_000.0
TS = "1780000000000"  # NOW in milliseconds
URL = "https://app/wh"
ALLOWED = {200, 400, 401, 403, 413}
_ids = itertools.count()


def _platform(request: httpx.Request) -> httpx.Response:
    """A Graph that accepts every send (so ``send`` gets as far as it can)."""
    return httpx.Response(200, json={"recipient_id": "x", "message_id": "m_out"})


CLIENT = Client(
    [Messenger(page_id=PAGE, page_access_token="t", app_secret=SECRET)],
    clock=FakeClock(NOW),
    transport=httpx.MockTransport(_platform),
)

NUMBERS = [
    TS,
    f'"{TS}"',
    '"nan"',
    '"NaN"',
    '"inf"',
    '"-Infinity"',
    '"1e20"',
    '"1e300"',
    "1e20",
    "1e300",
    "-1e300",
    "NaN",  # not JSON at all
    "Infinity",
    "-Infinity",
    "1e400",
    "-5",
    "0",
    "1.5",
    '"0"',
    "10000000000000000000000000000000",
    '"' + "9" * 400 + '"',
    "1780000000",  # seconds where milliseconds belong
    '"1_780_000_000_000"',
    '" 1780000000000 "',
    "true",
    "false",
    "null",
    "[]",
    "{}",
]
REGEX_TEXT = st.text(alphabet=".*+?^$()[]{}|\\/\"'\r\n\t\x00\u2028é😀", max_size=30)
STRINGS = st.one_of(
    REGEX_TEXT.map(json.dumps),
    REGEX_TEXT.map(lambda t: json.dumps(t, ensure_ascii=False)),
    st.sampled_from(
        [
            '"\\ud800"',  # lone high surrogate
            '"a\\udc00b"',  # lone low surrogate
            '"\\udfff\\ud800"',
            '"\\x41"',  # not a JSON escape
            '"\\u12"',
            '"a\r\nb"',  # raw CR/LF inside a string: not JSON
            '"a\\r\\nb"',
            '"\\\\"',
            '"(?P<x>a+)+$"',
            '"\\\\d{1,3}[\\\\w-]*"',
        ]
    ),
)
DEPTHS = [2, 50, 253, 254, 255, 300, 1000, 1023, 1024, 1025, 3000]


@st.composite
def nested(draw: Callable[..., Any]) -> str:
    depth = draw(st.sampled_from(DEPTHS))
    if draw(st.booleans()):
        return "[" * depth + "]" * depth
    return '{"a":' * depth + draw(st.sampled_from(["1", "null", '"x"'])) + "}" * depth


VALUES = st.one_of(st.sampled_from(NUMBERS), STRINGS, nested())
IDS = st.one_of(st.sampled_from(NUMBERS), STRINGS, st.just('"263902037430900"'))
# What still decodes as JSON (hostile values, but the body reaches the parser): half the
# examples use only these, so that the events' own handling is exercised as much as the
# envelope's refusal.
_NOT_JSON = {"NaN", "Infinity", "-Infinity", "1e400"}
JSON_NUMBERS = [n for n in NUMBERS if n not in _NOT_JSON]
JSON_STRINGS = st.one_of(
    REGEX_TEXT.map(json.dumps), REGEX_TEXT.map(lambda t: json.dumps(t, ensure_ascii=False))
)
JSON_VALUES = st.one_of(st.sampled_from(JSON_NUMBERS), JSON_STRINGS, st.sampled_from(["[]", "{}"]))
JSON_IDS = st.one_of(st.sampled_from(JSON_NUMBERS), JSON_STRINGS)
POOLS: dict[bool, tuple[list[str], Any, Any, Any]] = {
    True: (JSON_NUMBERS, JSON_STRINGS, JSON_VALUES, JSON_IDS),
    False: (NUMBERS, STRINGS, VALUES, IDS),
}


@st.composite
def item(draw: Callable[..., Any], mid: str, user: str, strict: bool) -> str:
    """One messaging event of any kind, with hostile values where values go."""
    numbers, strings, values, ids = POOLS[strict]
    kind = draw(
        st.sampled_from(
            [
                "text",
                "attachments",
                "quick_reply",
                "echo",
                "postback",
                "delivery",
                "read",
                "reaction",
                "referral",
                "optin",
                "pass",
                "roles",
                "hologram",
            ]
        )
    )
    ts = draw(st.sampled_from(numbers)) if draw(st.booleans()) else TS
    head = f'"sender":{{"id":"{user}"}},"recipient":{{"id":"{PAGE}"}},"timestamp":{ts}'
    if kind == "text":
        body = f'"message":{{"mid":"{mid}","text":{draw(strings)}}}'
    elif kind == "attachments":
        kinds = draw(
            st.lists(
                st.sampled_from(["image", "sticker", "file", "location", "fallback", "reel", "x"]),
                max_size=3,
            )
        )
        parts = []
        for k in kinds:
            payload = (
                f'{{"url":{draw(strings)},"sticker_id":{draw(ids)},'
                f'"coordinates":{{"lat":{draw(st.sampled_from(numbers))},"long":{draw(values)}}}}}'
            )
            parts.append(f'{{"type":"{k}","payload":{payload}}}')
        body = f'"message":{{"mid":"{mid}","attachments":[{",".join(parts)}]}}'
    elif kind == "quick_reply":
        body = f'"message":{{"mid":"{mid}","text":{draw(strings)},"quick_reply":{{"payload":{draw(values)}}}}}'
    elif kind == "echo":
        head = f'"sender":{{"id":"{PAGE}"}},"recipient":{{"id":"{user}"}},"timestamp":{ts}'
        body = f'"message":{{"is_echo":true,"app_id":{draw(ids)},"mid":"{mid}","metadata":{draw(values)}}}'
    elif kind == "postback":
        body = f'"postback":{{"mid":"{mid}","title":{draw(strings)},"payload":{draw(values)}}}'
    elif kind == "delivery":
        body = f'"delivery":{{"mids":["{mid}",{draw(values)}],"watermark":{draw(st.sampled_from(numbers))}}}'
    elif kind == "read":
        body = f'"read":{{"watermark":{draw(st.sampled_from(numbers))}}}'
    elif kind == "reaction":
        body = f'"reaction":{{"reaction":{draw(strings)},"emoji":{draw(strings)},"action":"react","mid":"{mid}"}}'
    elif kind == "referral":
        body = f'"referral":{{"ref":{draw(strings)},"source":"SHORTLINK","ad_id":{draw(ids)}}}'
    elif kind == "optin":
        body = f'"optin":{{"user_ref":{draw(ids)},"token_expiry_timestamp":{draw(st.sampled_from(numbers))}}}'
    elif kind == "pass":
        body = f'"pass_thread_control":{{"previous_owner_app_id":{draw(ids)},"new_owner_app_id":{draw(ids)}}}'
    elif kind == "roles":
        body = f'"app_roles":{{{draw(strings)}:[{draw(values)}]}}'
    else:
        body = f'"hologram":{draw(values)}'
    return "{" + head + "," + body + "}"


@st.composite
def hostile_body(draw: Callable[..., Any]) -> tuple[str, int, tuple[int, bytes] | None]:
    """``(template, number of items, non-UTF-8 junk to splice in)``; ids are placeholders."""
    count = draw(st.integers(1, 3))
    strict = draw(st.booleans())
    items = [draw(item(f"@MID{i}@", "@USER@", strict)) for i in range(count)]
    extras = draw(st.lists(JSON_VALUES if strict else VALUES, max_size=2))
    comment = ""
    if draw(st.booleans()):
        comment = (
            ',"changes":[{"field":"feed","value":{"item":"comment","verb":"add",'
            f'"comment_id":{draw(IDS)},"created_time":{draw(st.sampled_from(NUMBERS))},'
            f'"message":{draw(STRINGS)},"from":{{"id":{draw(IDS)}}}}}}}]'
        )
    where = draw(st.sampled_from(["messaging", "standby"]))
    template = (
        f'{{"object":"page","entry":[{{"id":"{PAGE}","time":{draw(st.sampled_from(NUMBERS))},'
        f'"{where}":[{",".join(items + extras)}]{comment}}}]}}'
    )
    junk = None
    if draw(st.integers(0, 4)) == 0:
        at = draw(st.integers(0, 1 << 20))
        junk = (at, draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80"])))
    return template, count, junk


def realize(drawn: tuple[str, int, tuple[int, bytes] | None]) -> tuple[bytes, list[str], str]:
    """``(body, its mids, its customer)`` with ids no earlier example used."""
    template, count, junk = drawn
    n = next(_ids)
    user = f"psid{n}"
    mids = [f"m_hostile.{n}.{i}" for i in range(count)]
    text = template.replace("@USER@", user)
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
    valid: list[object] = [
        {"X-Hub-Signature-256": sig},
        {name: sig},
        [(name, sig)],
        [(b"host", b"app"), (name.encode(), sig.encode())],
        httpx.Headers({name: sig}),
        {name.encode(): sig.encode()},
    ]
    if draw(st.integers(0, 2)):
        return draw(st.sampled_from(valid)), True
    spoilt = draw(
        st.sampled_from(
            [
                sig[:20] + "\r\n" + sig[20:],
                sig[:-2] + "\r\nX-Injected: 1",
                sig[:-1] + "\ud800",
                sig[:-1],
                "sha1=" + sig[7:],
                "",
                "sha256=",
            ]
        )
    )
    raw = spoilt.encode("utf-8", "surrogatepass")
    shapes: list[object] = [
        {"X-Hub-Signature-256": spoilt},
        [(name.encode(), raw)],
        [(name.encode(), raw + b"\xff")],
        [(name.encode() + b"\xff", sig.encode())],
        [(b"x-hub-signature-256", b"sha256=" + bytes(range(128, 192)))],
        {},
        [],
    ]
    return draw(st.sampled_from(shapes)), False


def _valid_body(mids: list[str], user: str) -> bytes:
    items = [
        {
            "sender": {"id": user},
            "recipient": {"id": PAGE},
            "timestamp": int(NOW * 1000),
            "message": {"mid": mid, "text": "ok"},
        }
        for mid in mids
    ]
    return json.dumps({"object": "page", "entry": [{"id": PAGE, "messaging": items}]}).encode()


def _handle(headers: object, body: bytes) -> Any:
    outcome = CLIENT.webhooks.handle("messenger", "POST", URL, headers, body)  # type: ignore[arg-type]
    assert outcome.status in ALLOWED, outcome
    return outcome


def _no_foreign_errors(user: str) -> None:
    to = Address("messenger", user)
    window = CLIENT.window(to)
    if window.last_inbound_at is not None:
        assert 1e9 <= window.last_inbound_at.timestamp() < 32_503_680_000
    assert isinstance(CLIENT.check(to, Text("hi")), tuple)
    with contextlib.suppress(OmniMsgError):
        CLIENT.send(to, Text("hi"))
    CLIENT.messenger.badge()


def _check_events(events: tuple[Event, ...]) -> None:
    for e in events:
        assert isinstance(e, Event.__args__)  # type: ignore[attr-defined]
        if isinstance(e, Unknown):
            assert e.reason
        if isinstance(e, MessageReceived | Postback | StatusUpdate | CommentReceived):
            assert 1e9 <= e.timestamp < 32_503_680_000  # finite, 2001..3000
        json.dumps(e.raw, default=str)  # the app can log what it got


def _check(body: bytes, mids: list[str], user: str, headers: object, valid: bool) -> None:
    to = Address("messenger", user)
    outcome = _handle(headers, body)
    event(f"status {outcome.status}")
    try:
        parsed: list[Event] | None = CLIENT.webhooks.parse("messenger", headers, body)  # type: ignore[arg-type]
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
        assert CLIENT.window(to).last_inbound_at is None  # no trace
        fresh = _valid_body(mids, user)
        redelivered = _handle({"X-Hub-Signature-256": sign_hub_sha256(SECRET, fresh)}, fresh)
        assert [e.message_id for e in redelivered.events] == mids  # type: ignore[union-attr]
        assert redelivered.duplicates == 0
        assert CLIENT.window(to).open
    _no_foreign_errors(user)


FUZZ = settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@FUZZ
@given(st.data())
def test_signed_hostile_bodies(data: st.DataObject) -> None:
    body, mids, user = realize(data.draw(hostile_body()))
    _check(body, mids, user, {"X-Hub-Signature-256": sign_hub_sha256(SECRET, body)}, True)


@FUZZ
@given(st.data())
def test_signed_hostile_bodies_with_hostile_headers(data: st.DataObject) -> None:
    body, mids, user = realize(data.draw(hostile_body()))
    headers, valid = data.draw(headers_for(body))
    _check(body, mids, user, headers, valid)


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(DEPTHS),
    st.integers(0, 3),
    st.sampled_from(["item", "message", "entry", "root"]),
)
def test_deep_nesting_anywhere(depth: int, valid_before: int, where: str) -> None:
    """Deep nesting after valid messages, at every level of the envelope."""
    n = next(_ids)
    user = f"deep{n}"
    mids = [f"m_deep.{n}.{i}" for i in range(valid_before + 1)]
    deep = "[" * depth + "]" * depth
    items = []
    for i, mid in enumerate(mids):
        extra = f',"x":{deep}' if where == "message" and i == valid_before else ""
        items.append(
            f'{{"sender":{{"id":"{user}"}},"recipient":{{"id":"{PAGE}"}},"timestamp":{TS},'
            f'"message":{{"mid":"{mid}","text":"x"{extra}}}}}'
        )
    if where == "item":
        items.append(deep)
    entry = f'{{"id":"{PAGE}","messaging":[{",".join(items)}]}}'
    entries = f"[{entry},{deep}]" if where == "entry" else f"[{entry}]"
    root = f',"x":{deep}' if where == "root" else ""
    body = f'{{"object":"page","entry":{entries}{root}}}'.encode()
    sig = sign_hub_sha256(SECRET, body)
    _check(body, mids, user, [(b"x-hub-signature-256", sig.encode())], True)
