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

import itertools
import json
from collections.abc import Callable
from typing import Any

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from hostile import (
    Drawn,
    SignedFuzz,
    fill_in,
    fuzz_settings,
    json_strings,
    junk,
    nested,
    signed_headers,
    strings,
)
from omnimsg import (
    Client,
    CommentReceived,
    Event,
    MessageReceived,
    Messenger,
    Postback,
    StatusUpdate,
    Unknown,
)
from omnimsg.clock import FakeClock
from omnimsg.signing import sign_hub_sha256

SECRET = "hostile-fuzz-secret"
PAGE = "4242"
NOW = 1_780_000_000.0
TS = "1780000000000"  # NOW in milliseconds
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
STRINGS = strings()
DEPTHS = [2, 50, 253, 254, 255, 300, 1000, 1023, 1024, 1025, 3000]
VALUES = st.one_of(st.sampled_from(NUMBERS), STRINGS, nested(DEPTHS))
IDS = st.one_of(st.sampled_from(NUMBERS), STRINGS, st.just('"263902037430900"'))
# What still decodes as JSON (hostile values, but the body reaches the parser): half the
# examples use only these, so that the events' own handling is exercised as much as the
# envelope's refusal.
_NOT_JSON = {"NaN", "Infinity", "-Infinity", "1e400"}
JSON_NUMBERS = [n for n in NUMBERS if n not in _NOT_JSON]
JSON_STRINGS = json_strings()
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
def hostile_body(draw: Callable[..., Any]) -> Drawn:
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
    return template, count, draw(junk())


def realize(drawn: Drawn) -> tuple[bytes, list[str], str]:
    """``(body, its mids, its customer)`` with ids no earlier example used."""
    n = next(_ids)
    return fill_in(drawn, f"psid{n}", f"m_hostile.{n}")


def headers_for(body: bytes) -> st.SearchStrategy[tuple[object, bool]]:
    """``(headers, valid)``: the signature of ``body`` in some framework's shape, or spoilt."""
    return signed_headers(SECRET, body)


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


def _check_events(events: tuple[Event, ...]) -> None:
    for e in events:
        assert isinstance(e, Event.__args__)  # type: ignore[attr-defined]
        if isinstance(e, Unknown):
            assert e.reason
        if isinstance(e, MessageReceived | Postback | StatusUpdate | CommentReceived):
            assert 1e9 <= e.timestamp < 32_503_680_000  # finite, 2001..3000
        json.dumps(e.raw, default=str)  # the app can log what it got


SIGNED = SignedFuzz(
    client=CLIENT,
    platform="messenger",
    secret=SECRET,
    valid_body=_valid_body,
    check_events=_check_events,
    window_time=lambda t: 1e9 <= t < 32_503_680_000,
    afterwards=lambda client: client.messenger.badge(),
)
_check = SIGNED.check


FUZZ = fuzz_settings(400)


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
