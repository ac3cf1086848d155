"""Hostile but correctly SIGNED (and encrypted) WeChat pushes (DESIGN §6, issue 9): the SDK side.

As tests/test_fuzz_line_hostile.py does for LINE: every body is signed with the channel's
token (``signature`` in the query, spec/wechat.md §1.3) and, for the compatible and safe
channels, encrypted with the channel's key and AppID with a matching ``msg_signature``
(§1.4, §2.2), so it reaches the XML parser, the de-duplication and the state updates. The
classes that broke things before, in XML's own forms: entity bombs (billion laughs,
quadratic blowup), external entities (``file://``, ``http://``, parameter entities, an
external DTD), any DOCTYPE, oversized and truncated bodies, a root other than ``<xml>``,
deep nesting and too many elements, non-UTF-8 bytes and other declared encodings, lone
surrogates and forbidden characters as character references (``&#xD800;``, ``&#0;``),
NaN/huge/negative numbers in ``CreateTime``, ``MsgId`` and coordinates, CR/LF in query
values, backslashes and regex metacharacters in text; and wrong AppIDs.

What must hold: ``handle`` never raises and answers 200/400/401/403/413; a taken body gives
typed events or ``Unknown`` (a retry is all duplicates) and what it stores is well formed; a
refused body leaves no trace (no interaction, no follow, no push marked seen: re-sending a
valid body with the same ``MsgId`` values delivers each of them once).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from hostile import ALLOWED, REGEX_TEXT
from omnimsg import (
    Client,
    Event,
    MemoryStore,
    MessageReceived,
    OmniMsgError,
    Unknown,
    WebhookParseError,
)
from omnimsg.clock import FakeClock
from omnimsg.platforms.wechat import WeChat, crypto
from omnimsg.platforms.wechat import xml as wxml
from omnimsg.platforms.wechat.state import follow_key, interaction_key, unfollow_key

NOW = 1_780_000_000.0
URL = "https://app/wh/wechat"
KEY_C = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
KEY_S = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"
CHANNELS = {
    "plaintext": WeChat(
        account_id="gh_plain", app_id="wxplain", token="tok-plain", access_token="t"
    ),
    "compatible": WeChat(
        account_id="gh_compat",
        app_id="wxcompat",
        token="tok-compat",
        encoding_aes_key=KEY_C,
        mode="compatible",
        access_token="t",
    ),
    "safe": WeChat(
        account_id="gh_safe",
        app_id="wxsafe",
        token="tok-safe",
        encoding_aes_key=KEY_S,
        mode="safe",
        access_token="t",
    ),
}
MODES = list(CHANNELS)
_CLOCK = FakeClock(NOW)
CLIENT = Client(list(CHANNELS.values()), clock=_CLOCK, store=MemoryStore(clock=_CLOCK))
_ids = itertools.count(1)


# --- building signed requests ----------------------------------------------------------------


def signed(
    inner: bytes,
    mode: str,
    *,
    appid: str | None = None,
    query: dict[str, str] | None = None,
    outer: Callable[[str], bytes] | None = None,
) -> tuple[str, bytes]:
    """``(url, body)`` for ``inner`` as the ``mode`` channel receives it, signed right.

    ``appid`` encrypts for another AppID; ``query`` adds or overrides parameters (after
    signing); ``outer`` builds the body around the ``Encrypt`` value instead.
    """
    ch = CHANNELS[mode]
    ts, nonce = str(int(NOW)), str(next(_ids))
    assert ch.token is not None
    q = {"signature": crypto.signature(ch.token, ts, nonce), "timestamp": ts, "nonce": nonce}
    if mode == "plaintext":
        body = inner
    else:
        assert ch.encoding_aes_key is not None
        enc = crypto.encrypt(ch.encoding_aes_key, appid or ch.app_id, inner, b"r" * 16)
        q["encrypt_type"] = "aes"
        q["msg_signature"] = crypto.msg_signature(ch.token, ts, nonce, enc)
        if outer is not None:
            body = outer(enc)
        elif mode == "safe":
            body = f"<xml><ToUserName><![CDATA[{ch.account_id}]]></ToUserName><Encrypt>"
            body += f"<![CDATA[{enc}]]></Encrypt></xml>"
            body = body.encode()
        else:
            body = f"<xml><Encrypt><![CDATA[{enc}]]></Encrypt></xml>".encode()
    q.update(query or {})
    return f"{URL}?{urlencode(q)}", body


def valid_push(mode: str, user: str, mid: str) -> bytes:
    return (
        f"<xml><ToUserName><![CDATA[{CHANNELS[mode].account_id}]]></ToUserName>"
        f"<FromUserName><![CDATA[{user}]]></FromUserName><CreateTime>{int(NOW)}</CreateTime>"
        f"<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[ok]]></Content>"
        f"<MsgId>{mid}</MsgId></xml>"
    ).encode()


def traces(mode: str, user: str) -> list[bytes | None]:
    """Everything a push to ``user`` could have left in the store."""
    account = CHANNELS[mode].account_id
    keys = [
        interaction_key(account, user, "message"),
        interaction_key(account, user, "event"),
        follow_key(account, user),
        unfollow_key(account, user),
    ]
    return [CLIENT.store.get(k) for k in keys]


def _check_events(events: tuple[Event, ...]) -> None:
    accounts = {c.account_id for c in CHANNELS.values()}
    for e in events:
        assert isinstance(e, Event.__args__)  # type: ignore[attr-defined]
        assert e.platform == "wechat"
        if isinstance(e, Unknown):
            assert e.reason
        else:
            assert 1e9 <= e.timestamp < 32_503_680_000, e  # type: ignore[union-attr]
            assert isinstance(e.user, str) and e.user, e  # type: ignore[union-attr]
            assert e.account in accounts
            if isinstance(e, MessageReceived):
                assert e.message_id.isdigit() and 0 < int(e.message_id) < 1 << 64
        assert isinstance(e.raw, dict)


def _check_state(mode: str, user: str) -> None:
    for raw in traces(mode, user):
        if raw is not None:
            stamp = float(raw)
            assert math.isfinite(stamp) and 1e9 <= stamp < 32_503_680_000


def _handle(url: str, body: bytes) -> Any:
    outcome = CLIENT.webhooks.handle("wechat", "POST", url, {}, body)
    assert outcome.status in ALLOWED, outcome
    return outcome


def check(
    url: str, body: bytes, mode: str, user: str, mids: list[str], valid: bool, *, fuzz: bool = True
) -> Any:
    """Deliver a (maybe hostile) push and check all of it (module docstring)."""
    before = traces(mode, user)
    outcome = _handle(url, body)
    if fuzz:
        event(f"{mode} status {outcome.status}")  # pytest --hypothesis-show-statistics
    if valid:
        assert outcome.status not in (401, 403), outcome
    if outcome.status == 200:
        assert outcome.body == b"success"
        _check_events(outcome.events)
        _check_state(mode, user)
        again = _handle(url, body)  # WeChat's re-send after 5 s: all duplicates
        assert again.events == ()
        assert again.duplicates == len(outcome.events) + outcome.duplicates
        return outcome
    assert outcome.events == () and isinstance(outcome.error, OmniMsgError)
    assert traces(mode, user) == before == [None] * 4
    # Nothing was marked seen: the same MsgIds in a valid push are new.
    for mid in mids:
        fresh_url, fresh = signed(valid_push(mode, user, mid), mode)
        (taken,) = _handle(fresh_url, fresh).events
        assert isinstance(taken, MessageReceived) and taken.message_id == mid
    if mids:
        assert CLIENT.store.get(interaction_key(CHANNELS[mode].account_id, user, "message"))
    return outcome


# --- hypothesis: hostile values in every field --------------------------------------------------

NUMBERS = [
    str(int(NOW)),
    "nan",
    "NaN",
    "inf",
    "-inf",
    "1e20",
    "1e400",
    "-5",
    "0",
    "1.5",
    "1780000000.0",
    "1780000000000",
    "99999999999999999999999999999999",
    "18446744073709551616",
    "18446744073709551615",
    " 1780000000 ",
    "\uff11",
    "0x10",
    "",
    "1_780_000_000",
]
MSG_TYPES = ["text", "image", "voice", "video", "shortvideo", "location", "link", "event", "x"]
EVENTS = [
    "subscribe",
    "unsubscribe",
    "SCAN",
    "LOCATION",
    "CLICK",
    "VIEW",
    "scancode_push",
    "pic_weixin",
    "TEMPLATESENDJOBFINISH",
    "kf_create_session",
    "",
]
TEXT = st.one_of(
    REGEX_TEXT,
    st.sampled_from(["]]>", "<![CDATA[", "&amp;", "&lt;x&gt;", "\\", "qrscene_", "qrscene_1"]),
    st.sampled_from(NUMBERS),
)
REFS = ["&#xD800;", "&#0;", "&#xFFFE;", "&#x1F600;", "&lt;", "&unknown;", "&#x110000;", "&#9;"]
JUNK = [b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80", b"\x00", b"\xef\xbf\xbe"]


@st.composite
def value(draw: Callable[..., Any]) -> str:
    """One element's content: CDATA, escaped text, a raw (maybe malformed) string, a
    character reference, or nested elements."""
    text = draw(TEXT)
    how = draw(st.sampled_from(["cdata"] * 8 + ["escaped"] * 4 + ["raw", "ref", "nested"]))
    if how == "cdata":
        return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"
    if how == "escaped":
        return escape(text)
    if how == "ref":
        return escape(text) + draw(st.sampled_from(REFS))
    if how == "nested":
        depth = draw(st.sampled_from([1, 3, 7, 8, 9, 50]))
        return "<a>" * depth + escape(text) + "</a>" * depth
    return text  # raw: "<", "&" and control characters make it malformed


@st.composite
def hostile_push(draw: Callable[..., Any], mode: str, user: str, mid: str) -> bytes:
    account = CHANNELS[mode].account_id

    def field(good: str) -> str:
        return good if draw(st.integers(0, 3)) else draw(value())

    msg_type = draw(st.sampled_from(MSG_TYPES))
    parts = [
        f"<ToUserName>{field(f'<![CDATA[{account}]]>')}</ToUserName>",
        f"<FromUserName>{field(f'<![CDATA[{user}]]>')}</FromUserName>",
        f"<CreateTime>{escape(draw(st.sampled_from(NUMBERS)))}</CreateTime>",
        f"<MsgType>{field(f'<![CDATA[{msg_type}]]>')}</MsgType>",
    ]
    if msg_type == "event":
        parts.append(f"<Event><![CDATA[{draw(st.sampled_from(EVENTS))}]]></Event>")
        parts.append(f"<EventKey>{draw(value())}</EventKey>")
        parts.append(f"<Latitude>{escape(draw(st.sampled_from(NUMBERS)))}</Latitude>")
        parts.append(f"<Longitude>{draw(value())}</Longitude>")
        parts.append(f"<MsgID>{escape(draw(st.sampled_from(NUMBERS)))}</MsgID>")
        parts.append(f"<Status>{draw(value())}</Status>")
    else:
        number = mid if draw(st.integers(0, 2)) else draw(st.sampled_from(NUMBERS))
        parts.append(f"<MsgId>{escape(number)}</MsgId>")
        parts.append(f"<Content>{draw(value())}</Content>")
        parts.append(f"<MediaId>{draw(value())}</MediaId>")
        parts.append(f"<Location_X>{escape(draw(st.sampled_from(NUMBERS)))}</Location_X>")
        parts.append(f"<Location_Y>{draw(value())}</Location_Y>")
    if not draw(st.integers(0, 4)):  # a field twice
        parts.append(draw(st.sampled_from(parts)))
    parts = draw(st.permutations(parts))
    body = ("<xml>" + "\n".join(parts) + "</xml>").encode("utf-8", "surrogatepass")
    if not draw(st.integers(0, 5)):  # non-UTF-8 junk somewhere
        where = draw(st.integers(0, len(body)))
        body = body[:where] + draw(st.sampled_from(JUNK)) + body[where:]
    if not draw(st.integers(0, 7)):  # truncated
        body = body[: draw(st.integers(0, len(body) - 1))]
    return body


@st.composite
def hostile_query(draw: Callable[..., Any]) -> tuple[dict[str, str], bool]:
    """Extra or spoilt query parameters, and whether the request stays validly signed."""
    extra = draw(
        st.sampled_from(
            [
                {},
                {},
                {"openid": "o\r\nX-Injected: 1"},
                {"openid": "\\d+(?P<x>.*)"},
                {"encrypt_type": "raw"},
                {"timestamp": "1780000000\r\n"},
                {"signature": "0" * 40},
                {"signature": ""},
                {"nonce": "\\ud800"},
                {"msg_signature": "\r\n"},
            ]
        )
    )
    spoils = {"timestamp", "signature", "nonce", "msg_signature", "encrypt_type"}
    return extra, not (spoils & set(extra))


FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _example() -> tuple[str, str]:
    n = next(_ids)
    return f"o-fuzz-{n:010d}", str(7_000_000_000_000_000_000 + n)


@FUZZ
@given(st.data())
def test_signed_hostile_pushes(data: st.DataObject) -> None:
    mode = data.draw(st.sampled_from(MODES))
    user, mid = _example()
    inner = data.draw(hostile_push(mode, user, mid))
    url, body = signed(inner, mode)
    outcome = check(url, body, mode, user, [mid], True)
    if mode == "plaintext" and outcome.status == 200:
        # The same push in the other modes is read the same way.
        for other in ("compatible", "safe"):
            spelled = inner.replace(b"gh_plain", CHANNELS[other].account_id.encode())
            url2, body2 = signed(spelled, other)
            again = _handle(url2, body2)
            assert again.status == 200
            total = len(outcome.events) + outcome.duplicates
            assert len(again.events) + again.duplicates == total


@FUZZ
@given(st.data())
def test_signed_hostile_pushes_with_hostile_queries(data: st.DataObject) -> None:
    mode = data.draw(st.sampled_from(MODES))
    user, mid = _example()
    inner = data.draw(hostile_push(mode, user, mid))
    query, valid = data.draw(hostile_query())
    if mode == "plaintext" and query.get("encrypt_type") == "raw":
        valid = True
    url, body = signed(inner, mode, query=query)
    check(url, body, mode, user, [mid], valid)


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(["compatible", "safe"]),
    st.sampled_from(["wxother", "", "wx", "wxsafe ", "WXCOMPAT", "wxcompatx"]),
)
def test_a_wrong_appid_is_refused_and_leaves_no_trace(mode: str, appid: str) -> None:
    user, mid = _example()
    url, body = signed(valid_push(mode, user, mid), mode, appid=appid or "x")
    outcome = check(url, body, mode, user, [mid], False, fuzz=False)
    assert outcome.status == 403 and getattr(outcome.error, "reason", None) == "appid"


# --- each hostile document once, deterministically, in each mode ------------------------------

SECRET_FILE = Path(__file__)  # any readable file: its text must never reach an event

BOMB = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">'
        for i in range(1, 10)
    )
    + "]><xml><ToUserName>gh_x</ToUserName><Content>&lol9;</Content></xml>"
)
QUADRATIC = (
    '<!DOCTYPE x [<!ENTITY a "'
    + "a" * 50_000
    + '">]><xml><Content>'
    + "&a;" * 20
    + "</Content></xml>"
)
DOCUMENTS: dict[str, bytes] = {
    "billion-laughs": BOMB.encode(),
    "quadratic-blowup": QUADRATIC.encode(),
    "xxe-file": (
        f'<!DOCTYPE x [<!ENTITY e SYSTEM "file://{SECRET_FILE}">]>'
        "<xml><ToUserName>@ACCOUNT@</ToUserName><Content>&e;</Content></xml>"
    ).encode(),
    "xxe-http": (
        b'<!DOCTYPE x [<!ENTITY e SYSTEM "http://127.0.0.1:9/x">]><xml><Content>&e;</Content></xml>'
    ),
    "parameter-entity": (
        b'<!DOCTYPE x [<!ENTITY % p SYSTEM "http://127.0.0.1:9/p.dtd"> %p;]><xml/>'
    ),
    "external-dtd": b'<!DOCTYPE xml SYSTEM "http://127.0.0.1:9/x.dtd"><xml/>',
    "doctype-only": b"<!DOCTYPE xml><xml><MsgType>text</MsgType></xml>",
    "undefined-entity": b"<xml><Content>&xxe;</Content></xml>",
    "wrong-root": b"<foo><MsgType>text</MsgType></foo>",
    "two-roots": b"<xml></xml><xml></xml>",
    "no-root": b"",
    "whitespace": b"   \n",
    "truncated": b"<xml><ToUserName><![CDATA[gh_x]]></ToUserName><Content><![CDATA[hi",
    "truncated-tag": b"<xml><ToUserName",
    "deep-9": b"<xml>" + b"<a>" * 8 + b"</a>" * 8 + b"</xml>",
    "deep-10000": b"<xml>" + b"<a>" * 10_000 + b"</a>" * 10_000 + b"</xml>",
    "many-elements": b"<xml>" + b"<a/>" * 10_000 + b"</xml>",
    "non-utf8": b"<xml><Content>caf\xe9</Content></xml>",
    "utf8-surrogate": b"<xml><Content>\xed\xa0\x80</Content></xml>",
    "latin1-declared": b'<?xml version="1.0" encoding="ISO-8859-1"?><xml><Content>\xe9</Content></xml>',
    "utf16": "<xml><Content>x</Content></xml>".encode("utf-16"),
    "lone-surrogate-ref": b"<xml><Content>&#xD800;</Content></xml>",
    "nul-ref": b"<xml><Content>&#0;</Content></xml>",
    "fffe-ref": b"<xml><Content>&#xFFFE;</Content></xml>",
    "out-of-range-ref": b"<xml><Content>&#x110000;</Content></xml>",
    "nul-byte": b"<xml><Content>a\x00b</Content></xml>",
    "cdata-unclosed": b"<xml><Content><![CDATA[abc</Content></xml>",
    "comment-and-pi": b"<?pi x?><!-- c --><xml><!-- c --></xml>",
    "attributes": b'<xml a="1" b="&amp;"><MsgType x="y">text</MsgType></xml>',
    "duplicated-fields": (
        b"<xml><ToUserName>@ACCOUNT@</ToUserName><FromUserName>@USER@</FromUserName>"
        b"<CreateTime>1780000000</CreateTime><MsgType>text</MsgType><MsgType>image</MsgType>"
        b"<Content>x</Content><MsgId>@MID@</MsgId></xml>"
    ),
    "nan-everywhere": (
        b"<xml><ToUserName>@ACCOUNT@</ToUserName><FromUserName>@USER@</FromUserName>"
        b"<CreateTime>NaN</CreateTime><MsgType>location</MsgType><Location_X>NaN</Location_X>"
        b"<Location_Y>1e400</Location_Y><MsgId>1e20</MsgId></xml>"
    ),
    "huge-numbers": (
        b"<xml><ToUserName>@ACCOUNT@</ToUserName><FromUserName>@USER@</FromUserName>"
        b"<CreateTime>" + b"9" * 5000 + b"</CreateTime><MsgType>text</MsgType>"
        b"<Content>x</Content><MsgId>" + b"9" * 5000 + b"</MsgId></xml>"
    ),
    "regex-text": (
        b"<xml><ToUserName>@ACCOUNT@</ToUserName><FromUserName>@USER@</FromUserName>"
        b"<CreateTime>1780000000</CreateTime><MsgType>text</MsgType>"
        b"<Content><![CDATA[\\d+(?P<x>a+)+$ \\\\ [^]]]]><![CDATA[>] \r\n $1 \\1]]></Content>"
        b"<MsgId>@MID@</MsgId></xml>"
    ),
}
TAKEN = {"comment-and-pi", "attributes", "duplicated-fields", "nan-everywhere", "huge-numbers",
         "regex-text"}  # fmt: skip


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", list(DOCUMENTS))
def test_the_hostile_documents_one_by_one(name: str, mode: str) -> None:
    user, mid = _example()
    document = (
        DOCUMENTS[name]
        .replace(b"@ACCOUNT@", CHANNELS[mode].account_id.encode())
        .replace(b"@USER@", user.encode())
        .replace(b"@MID@", mid.encode())
    )
    url, body = signed(document, mode)
    outcome = check(url, body, mode, user, [mid], True, fuzz=False)
    if name in TAKEN:
        assert outcome.status == 200
        if name == "regex-text":
            (e,) = outcome.events
            # XML reads a CR LF as LF, in CDATA too (XML 1.0 §2.11), as every XML parser does.
            assert e.content.body == "\\d+(?P<x>a+)+$ \\\\ [^]]>] \n $1 \\1"
        elif name != "comment-and-pi" and name != "attributes":
            assert all(isinstance(e, Unknown) for e in outcome.events)
    else:
        assert outcome.status == 400 and isinstance(outcome.error, WebhookParseError)
        assert SECRET_FILE.read_text()[:40] not in str(outcome.error)
    # The parser itself, on the same document (what the outer envelope meets in every mode).
    if name not in TAKEN:
        with pytest.raises(WebhookParseError):
            wxml.parse(document, max_bytes=1 << 20)


@pytest.mark.parametrize("mode", ["compatible", "safe"])
@pytest.mark.parametrize("name", ["billion-laughs", "xxe-file", "doctype-only", "deep-10000"])
def test_hostile_outer_envelopes_around_a_valid_encrypt(name: str, mode: str) -> None:
    """The outer body is parsed before decryption: a DOCTYPE there is refused as well."""
    user, mid = _example()
    doc = DOCUMENTS[name].decode()

    def outer(enc: str) -> bytes:
        return doc.replace("<xml>", f"<xml><Encrypt>{enc}</Encrypt>", 1).encode()

    url, body = signed(valid_push(mode, user, mid), mode, outer=outer)
    outcome = check(url, body, mode, user, [mid], True, fuzz=False)
    assert outcome.status == 400


@pytest.mark.parametrize("mode", MODES)
def test_oversized_bodies_are_413(mode: str) -> None:
    user, mid = _example()
    filler = b"<Content><![CDATA[" + b"x" * (1 << 20) + b"]]></Content>"
    url, body = signed(valid_push(mode, user, mid).replace(b"</xml>", filler + b"</xml>"), mode)
    outcome = check(url, body, mode, user, [mid], True, fuzz=False)
    assert outcome.status == 413


@pytest.mark.parametrize(
    "query",
    [
        {"signature": "a\r\nb"},
        {"timestamp": "1780000000\r\nX: 1"},
        {"nonce": "\r\n"},
        {"msg_signature": "%0D%0A"},
        {"signature": "\\d+.*"},
        {"encrypt_type": "AES\r\n"},
    ],
)
@pytest.mark.parametrize("mode", MODES)
def test_cr_lf_and_regex_characters_in_query_values(mode: str, query: dict[str, str]) -> None:
    user, mid = _example()
    url, body = signed(valid_push(mode, user, mid), mode, query=query)
    outcome = check(url, body, mode, user, [mid], False, fuzz=False)
    if "msg_signature" in query or "encrypt_type" in query:
        assert outcome.status in (200, 400, 401, 403)  # plaintext ignores them
    else:
        assert outcome.status in (401, 403)


def test_raw_query_bytes() -> None:
    """Percent-encoded non-UTF-8 and lone surrogates in the query are a wrong signature."""
    user, mid = _example()
    url, body = signed(valid_push("plaintext", user, mid), "plaintext")
    for spoilt in ("%FF%FE", "%ED%A0%80", quote("é"), "%00"):
        bad = url.replace("signature=", f"signature={spoilt}", 1)
        outcome = check(bad, body, "plaintext", user, [], False, fuzz=False)
        assert outcome.status == 403


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="ab=&%+2F0x;#?\u00e9 \\", max_size=40))
def test_the_query_reads_as_parse_qsl_does(tail: str) -> None:
    """The reader's own query split (a hot path) gives what the standard library gives."""
    from urllib.parse import parse_qsl, urlsplit

    from omnimsg.platforms.wechat.webhooks import _query

    url = "https://bot.example/webhooks/wechat" + tail
    expected: dict[str, str] = {}
    for key, value in parse_qsl(urlsplit(url).query, keep_blank_values=True):
        expected.setdefault(key, value)
    assert _query(url) == expected
