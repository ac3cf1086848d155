"""Hostile but correctly SIGNED LINE webhooks (DESIGN §6): the SDK side.

As tests/test_fuzz_messenger_hostile.py does for Messenger: every body is signed with the
channel secret (``x-line-signature``, spec/line.md §1), so it reaches the parser, the
de-duplication and the state updates. The classes that broke things before: JSON nested
1,000 deep, NaN/Infinity/1e20/1e300 as timestamps, lone surrogates, non-UTF-8 bytes, CR/LF
inside values, backslashes and regex metacharacters in text, and wrong types everywhere
(sources, modes, delivery contexts, reply tokens, message fields); and header shapes (ASGI
byte pairs, odd cases, non-UTF-8 bytes, CR/LF in the signature).

What must hold: ``handle`` never raises and answers 200/400/401/403/413; a taken body gives
typed events or ``Unknown`` (a retry is all duplicates) and what it stores is well formed; a
refused body leaves no trace (no reply token, no friendship, no event marked seen: re-sending
a valid body with the same ``webhookEventId`` values delivers each of them once).
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from hostile import (
    ALLOWED,
    Drawn,
    fill_in,
    fuzz_settings,
    header_shapes,
    json_strings,
    junk,
    nested,
    strings,
)
from omnimsg import (
    Client,
    Event,
    Line,
    MemoryStore,
    MessageReceived,
    OmniMsgError,
    Unknown,
)
from omnimsg.clock import FakeClock
from omnimsg.platforms.line.state import follow_key, reply_token_key, unfollow_key
from omnimsg.signing import sign_line

SECRET = "hostile-line-secret"
BOT = "U" + "a1" * 16
NOW = 1_780_000_000.0
TS = "1780000000000"  # NOW in milliseconds
URL = "https://app/wh/line"
_ids = itertools.count()


_CLOCK = FakeClock(NOW)
CLIENT = Client(
    [Line(bot_user_id=BOT, channel_access_token="t", channel_secret=SECRET)],
    clock=_CLOCK,
    store=MemoryStore(clock=_CLOCK),
)

NUMBERS = [
    TS,
    f'"{TS}"',
    '"nan"',
    '"1e20"',
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
    "1780000000000.5",
    "1780000000000.0",
    "10000000000000000000000000000000",
    "1780000000",  # seconds where milliseconds belong
    "true",
    "false",
    "null",
    "[]",
    "{}",
]
_NOT_JSON = {"NaN", "Infinity", "-Infinity", "1e400"}
JSON_NUMBERS = [n for n in NUMBERS if n not in _NOT_JSON]
STRINGS = strings()
JSON_STRINGS = json_strings()
DEPTHS = [2, 50, 250, 253, 254, 255, 300, 1000, 1023, 1024, 1025, 3000]
VALUES = st.one_of(st.sampled_from(NUMBERS), STRINGS, nested(DEPTHS))
JSON_VALUES = st.one_of(st.sampled_from(JSON_NUMBERS), JSON_STRINGS, st.sampled_from(["[]", "{}"]))
# Half the examples draw only what still decodes as JSON, so that the events' own handling is
# exercised as much as the envelope's refusal.
POOLS: dict[bool, tuple[list[str], Any, Any]] = {
    True: (JSON_NUMBERS, JSON_STRINGS, JSON_VALUES),
    False: (NUMBERS, STRINGS, VALUES),
}
KINDS = [
    "text",
    "image",
    "sticker",
    "location",
    "file",
    "hologram",
    "postback",
    "follow",
    "unfollow",
    "unsend",
    "join",
    "leave",
    "memberJoined",
    "memberLeft",
    "videoPlayComplete",
    "beacon",
    "accountLink",
    "membership",
    "messageEdited",
]


@st.composite
def line_event(draw: Callable[..., Any], eid: str, strict: bool) -> str:
    """One event of any type, with hostile values where values go."""
    numbers, strings, values = POOLS[strict]
    numbers_st = st.sampled_from(numbers)

    def maybe(good: str, pool: Any) -> str:
        """``good`` most of the time, else a hostile value of ``pool``."""
        return good if draw(st.integers(0, 3)) else draw(pool)

    kind = draw(st.sampled_from(KINDS))
    source_kind = draw(
        st.sampled_from(["user", "user", "user", "group", "room", "none", "odd", "hostile"])
    )
    if source_kind == "user":
        source = '{{"type":"user","userId":{}}}'.format(maybe('"@USER@"', strings))
    elif source_kind == "group":
        source = '{"type":"group","groupId":"@GROUP@","userId":"@USER@"}'
    elif source_kind == "room":
        source = '{{"type":"room","roomId":{}}}'.format(maybe('"@ROOM@"', values))
    elif source_kind == "odd":
        source = f'{{"type":{draw(strings)},"userId":"@USER@"}}'
    elif source_kind == "hostile":
        source = draw(values)
    else:
        source = ""
    ts = draw(numbers_st) if draw(st.integers(0, 2)) == 0 else TS
    mode = maybe('"active"', st.one_of(st.just('"standby"'), values))
    redelivery = maybe("false", st.one_of(st.just("true"), values))
    dummy = st.just('"00000000000000000000000000000000"')
    token = maybe(f'"tok-{eid}"', st.one_of(dummy, strings, values))
    is_message = kind in ("text", "image", "sticker", "location", "file", "hologram")
    head = (
        f'"type":"{"message" if is_message else kind}","mode":{mode},"timestamp":{ts},'
        f'"webhookEventId":"{eid}","deliveryContext":{{"isRedelivery":{redelivery}}},'
        f'"replyToken":{token}'
    )
    if source:
        head += f',"source":{source}'
    if kind == "text":
        fields = '"text":{},"quoteToken":"q","quotedMessageId":{}'.format(
            maybe('"hi"', strings),
            maybe('"9"', values),
        )
    elif kind == "image":
        fields = '"contentProvider":{{"type":{},"originalContentUrl":{}}}'.format(
            maybe('"external"', strings),
            draw(strings),
        )
    elif kind == "sticker":
        fields = '"packageId":{},"stickerId":{},"stickerResourceType":{}'.format(
            draw(values),
            maybe('"1"', values),
            draw(strings),
        )
    elif kind == "location":
        fields = f'"latitude":{draw(numbers_st)},"longitude":{draw(values)},"title":{draw(strings)}'
    elif kind == "file":
        fields = f'"fileName":{draw(strings)},"fileSize":{draw(numbers_st)}'
    else:
        fields = f'"depth":{draw(values)}'
    if is_message:
        mid = maybe(f'"m-{eid}"', values)
        body = f'"message":{{"id":{mid},"type":"{kind}",{fields}}}'
    elif kind == "postback":
        body = '"postback":{{"data":{},"params":{}}}'.format(maybe('"a=1"', values), draw(values))
    elif kind == "follow":
        body = f'"follow":{{"isUnblocked":{draw(values)}}}'
    elif kind == "unsend":
        body = f'"unsend":{{"messageId":{draw(values)}}}'
    elif kind in ("memberJoined", "memberLeft"):
        key = "joined" if kind == "memberJoined" else "left"
        body = f'"{key}":{{"members":[{{"type":"user","userId":{draw(strings)}}},{draw(values)}]}}'
    elif kind == "videoPlayComplete":
        body = f'"videoPlayComplete":{{"trackingId":{draw(strings)}}}'
    elif kind == "beacon":
        body = f'"beacon":{{"hwid":{draw(strings)},"type":{draw(strings)},"dm":{draw(values)}}}'
    elif kind == "accountLink":
        body = '"link":{{"result":{},"nonce":{}}}'.format(maybe('"ok"', strings), draw(values))
    else:  # unfollow, join, leave, and the types kept raw
        body = f'"extra":{draw(values)}'
    return "{" + head + "," + body + "}"


@st.composite
def hostile_body(draw: Callable[..., Any]) -> Drawn:
    """``(template, number of events, non-UTF-8 junk to splice in)``; ids are placeholders."""
    count = draw(st.integers(1, 3))
    strict = draw(st.booleans())
    items = [draw(line_event(f"@MID{i}@", strict)) for i in range(count)]
    extras = draw(st.lists(JSON_VALUES if strict else VALUES, max_size=2))
    destination = f'"{BOT}"'
    if not draw(st.integers(0, 2)):
        destination = draw(st.one_of(st.just('"xxxxxxxxxx"'), VALUES))
    root = f',"x":{draw(VALUES)}' if draw(st.integers(0, 4)) == 0 else ""
    template = f'{{"destination":{destination},"events":[{",".join(items + extras)}]{root}}}'
    return template, count, draw(junk())


def realize(drawn: Drawn) -> tuple[bytes, list[str], str]:
    """``(body, its event ids, its user)`` with ids no earlier example used."""
    n = next(_ids)
    user = f"U{n:032x}"
    also = [("@GROUP@", f"C{n:032x}"), ("@ROOM@", f"R{n:032x}")]
    return fill_in(drawn, user, f"01HOSTILE{n:08d}X", also)


def _chats(user: str) -> list[str]:
    n = user[1:]
    return [user, f"C{n}", f"R{n}"]


def _traces(user: str) -> list[bytes | None]:
    """Everything an example's body could have left in the store."""
    keys = [reply_token_key(BOT, chat) for chat in _chats(user)]
    keys.append(follow_key(BOT, user))
    return [CLIENT.store.get(k) for k in keys]


def _valid_body(ids: list[str], user: str) -> bytes:
    events = [
        {
            "type": "message",
            "mode": "active",
            "timestamp": int(NOW * 1000),
            "webhookEventId": eid,
            "deliveryContext": {"isRedelivery": False},
            "replyToken": f"tok-{eid}",
            "source": {"type": "user", "userId": user},
            "message": {"id": f"m-{eid}", "type": "text", "text": "ok", "quoteToken": "q"},
        }
        for eid in ids
    ]
    return json.dumps({"destination": BOT, "events": events}).encode()


def _check_events(events: tuple[Event, ...]) -> None:
    for e in events:
        assert isinstance(e, Event.__args__)  # type: ignore[attr-defined]
        assert e.platform == "line"
        if isinstance(e, Unknown):
            assert e.reason
        else:
            assert 1e9 <= e.timestamp < 32_503_680_000, e  # type: ignore[union-attr]
            assert isinstance(e.user, str) and e.user, e  # type: ignore[union-attr]
            assert isinstance(e.account, str) and e.account
        json.dumps(e.raw, default=str)  # the app can log what it got


def _check_state(user: str) -> None:
    """What a taken body stored is well formed: a reply token as the send flow reads it."""
    for chat in _chats(user):
        raw = CLIENT.store.get(reply_token_key(BOT, chat))
        if raw is not None:
            stored = orjson.loads(raw)
            assert set(stored) == {"token", "at"}
            assert isinstance(stored["token"], str) and stored["token"].strip("0f")
            assert math.isfinite(stored["at"]) and 1e9 <= stored["at"] < 32_503_680_000
    for key in (follow_key(BOT, user), unfollow_key(BOT, user)):  # newest times (state.py)
        stamp = CLIENT.store.get(key)
        assert stamp is None or 1e9 <= float(stamp) < 32_503_680_000


def _handle(headers: object, body: bytes) -> Any:
    outcome = CLIENT.webhooks.handle("line", "POST", URL, headers, body)  # type: ignore[arg-type]
    assert outcome.status in ALLOWED, outcome
    return outcome


def _check(
    body: bytes, ids: list[str], user: str, headers: object, valid: bool, *, fuzzed: bool = True
) -> None:
    """Deliver ``body`` with ``headers`` (``valid``: signed right) and check all of it."""
    before = _traces(user)
    outcome = _handle(headers, body)
    if fuzzed:
        event(f"status {outcome.status}")  # pytest --hypothesis-show-statistics
    try:
        parsed: list[Event] | None = CLIENT.webhooks.parse("line", headers, body)  # type: ignore[arg-type]
    except OmniMsgError:
        parsed = None
    if valid:
        assert outcome.status not in (401, 403), outcome
    if outcome.status == 200:
        assert parsed is not None and len(parsed) == len(outcome.events) + outcome.duplicates
        _check_events(outcome.events)
        _check_state(user)
        again = _handle(headers, body)  # LINE's redelivery: every event a duplicate
        assert again.events == () and again.duplicates == len(parsed)
        return
    assert parsed is None
    assert outcome.events == () and isinstance(outcome.error, OmniMsgError)
    # A refused body left no trace: nothing stored, and every one of its ids is still new.
    assert _traces(user) == before == [None, None, None, None]
    fresh = _valid_body(ids, user)
    redelivered = _handle({"x-line-signature": sign_line(SECRET, fresh)}, fresh)
    assert [e.raw["webhookEventId"] for e in redelivered.events] == ids
    assert all(isinstance(e, MessageReceived) for e in redelivered.events)
    assert redelivered.duplicates == 0
    assert orjson.loads(CLIENT.store.get(reply_token_key(BOT, user)) or b"{}")["token"] == (
        f"tok-{ids[-1]}"
    )


def line_headers(body: bytes) -> st.SearchStrategy[tuple[object, bool]]:
    """``(headers, valid)``: the signature of ``body`` in some framework's shape, or spoilt."""
    sig = sign_line(SECRET, body)
    spoilt = [
        sig[:20] + "\r\n" + sig[20:],
        sig[:-2] + "\r\nX-Injected: 1",
        sig + "\r\n",
        " " + sig,
        sig[:-1] + "\ud800",
        sig[:-1],
        sig.swapcase(),
        "sha256=" + sig,
        "",
        "\\" * 44,
        ".*",
    ]
    return header_shapes(
        "x-line-signature",
        sig,
        spoilt,
        exact=["x-line-signature", "X-Line-Signature"],
        host=True,
        foreign=[{"X-Hub-Signature-256": "sha256=" + sig}],  # Meta's header is not LINE's
    )


FUZZ = fuzz_settings(400)


@FUZZ
@given(st.data())
def test_signed_hostile_bodies(data: st.DataObject) -> None:
    body, ids, user = realize(data.draw(hostile_body()))
    _check(body, ids, user, {"x-line-signature": sign_line(SECRET, body)}, True)


@FUZZ
@given(st.data())
def test_signed_hostile_bodies_with_hostile_headers(data: st.DataObject) -> None:
    body, ids, user = realize(data.draw(hostile_body()))
    headers, valid = data.draw(line_headers(body))
    _check(body, ids, user, headers, valid)


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(DEPTHS),
    st.integers(0, 3),
    st.sampled_from(["event", "message", "source", "root", "events"]),
)
def test_deep_nesting_anywhere(depth: int, valid_before: int, where: str) -> None:
    """Deep nesting after valid events, at every level of the envelope."""
    n = next(_ids)
    user = f"U{n:032x}"
    ids = [f"01DEEP{n:08d}X{i}" for i in range(valid_before + 1)]
    deep = "[" * depth + "]" * depth
    events = json.loads(_valid_body(ids, user))["events"]
    texts = [json.dumps(e) for e in events]
    last = texts[-1]
    if where == "message":
        texts[-1] = last.replace('"quoteToken": "q"', f'"quoteToken": "q", "x": {deep}')
    elif where == "source":
        texts[-1] = last.replace(f'"userId": "{user}"', f'"userId": "{user}", "x": {deep}')
    elif where == "event":
        texts.append(deep)
    root = f',"x":{deep}' if where == "root" else ""
    listed = f"[{','.join(texts)}]"
    events_json = f"[{listed[1:-1]},{deep}]" if where == "events" else listed
    body = f'{{"destination":"{BOT}","events":{events_json}{root}}}'.encode()
    sig = sign_line(SECRET, body)
    _check(body, ids, user, [(b"x-line-signature", sig.encode())], True)


LITERALS = [
    "NaN",
    "Infinity",
    "-Infinity",
    "1e400",
    "1e20",
    "1e300",
    '"\\ud800"',
    '"a\\udc00b"',
    '"\\udfff\\ud800"',
    '"a\r\nb"',
    '"a\\r\\nb\\u0000"',
    '"(?P<x>a+)+$\\\\d"',
    "[" * 1000 + "]" * 1000,
    '{"a":' * 300 + "1" + "}" * 300,
    "null",
    "true",
    "[]",
    "{}",
    "-1",
    "10" + "0" * 30,
]


@pytest.mark.parametrize(
    "where", ["timestamp", "replyToken", "text", "userId", "mode", "destination", "events"]
)
@pytest.mark.parametrize("literal", LITERALS)
def test_the_hostile_literals_one_by_one(literal: str, where: str) -> None:
    """Each class of DESIGN §6 once, deterministically, in each place of a valid message."""
    n = next(_ids)
    user = f"U{n:032x}"
    ids = [f"01LIT{n:08d}X"]
    body = _valid_body(ids, user)
    good = {
        "timestamp": str(int(NOW * 1000)),
        "replyToken": f'"tok-{ids[0]}"',
        "text": '"ok"',
        "userId": f'"{user}"',
        "mode": '"active"',
        "destination": f'"{BOT}"',
        "events": "[",
    }[where]
    hostile = literal.encode("utf-8", "surrogatepass")
    if where == "events":
        body = body.replace(b'"events": [', b'"events": ' + hostile + b', "_": [', 1)
    else:
        assert good.encode() in body
        body = body.replace(good.encode(), hostile, 1)
    sig = sign_line(SECRET, body)
    _check(body, ids, user, {"x-line-signature": sig}, True, fuzzed=False)
