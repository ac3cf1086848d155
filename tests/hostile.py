"""Hostile input for the fuzz tests of every Meta platform (DESIGN §6), written once.

The classes that broke things before (JSON nested 1,000 deep, non-finite and out-of-range
numbers, lone surrogates, non-UTF-8 bytes, CR/LF in values, backslashes and regex
metacharacters in text) are the same whichever platform they hit; only the routes, the bodies
and the state a refusal must leave alone are each platform's. So:

* the simulator's route tests (``test_fuzz_sim_hostile.py`` for WhatsApp,
  ``test_fuzz_sim_messenger_hostile.py`` for Messenger) share :class:`Probe` (a request and
  the no-change check around it), :func:`check` (the envelope), the raw-socket helpers and
  the hypothesis strategies that spoil a valid body;
* the SDK's signed-webhook tests (``test_fuzz_sdk_hostile.py``, ``test_fuzz_messenger_hostile.py``)
  share the hostile strings, the nesting, the non-UTF-8 junk spliced into a body, the header
  shapes of :func:`signed_headers` and the whole outcome check of :class:`SignedFuzz`.

Each platform's extras (a value only its fuzz tries) are passed in, so that every test file
draws exactly what it drew before this module existed.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import socket
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import attrs
import httpx
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st

from omnimsg import Address, Client, Event, OmniMsgError, Text
from omnimsg.signing import sign_hub_sha256
from omnimsg_sim import InProcessSimulator

Sim = tuple[InProcessSimulator, httpx.Client]
"""An in-process simulator and a client on its transport."""

# --- the simulator's routes --------------------------------------------------------------------


def held(made: Sim) -> Iterator[Sim]:
    """The body of a ``sim`` fixture: ``made`` for one test, closed after it."""
    yield made
    made[1].close()
    made[0].close()


def check(r: httpx.Response, route: str) -> None:
    """Below 500, JSON, and a refusal in the route's own envelope."""
    assert r.status_code < 500, (route, r.status_code, r.text)
    if r.status_code < 400:
        return
    error = r.json()["error"]
    assert isinstance(error["message"], str) and error["message"]
    if not route.startswith("/_sim"):
        assert isinstance(error["code"], int)
        assert isinstance(error["type"], str)
        assert isinstance(error["fbtrace_id"], str)


@attrs.frozen
class Probe:
    """Requests to a simulator, checked against ``state``: everything a refusal must leave as
    it was (each platform's test names its own views and objects)."""

    state: Callable[[InProcessSimulator, httpx.Client], tuple[Any, ...]]

    def refused(
        self, sim: InProcessSimulator, http: httpx.Client, method: str, path: str, **kwargs: Any
    ) -> httpx.Response:
        """Send a request that must be refused (4xx) without any change of state."""
        before, r = self._send(sim, http, method, path, kwargs)
        assert 400 <= r.status_code < 500, (method, path, r.status_code, r.text)
        assert self.state(sim, http) == before, (method, path, r.text)
        return r

    def survives(
        self, sim: InProcessSimulator, http: httpx.Client, method: str, path: str, **kwargs: Any
    ) -> httpx.Response:
        """Send a request that may be taken or refused; a refusal changes nothing."""
        before, r = self._send(sim, http, method, path, kwargs)
        if r.status_code >= 400:
            assert self.state(sim, http) == before, (method, path, r.text)
        return r

    def _send(
        self,
        sim: InProcessSimulator,
        http: httpx.Client,
        method: str,
        path: str,
        kwargs: dict[str, Any],
    ) -> tuple[tuple[Any, ...], httpx.Response]:
        """The state before, and the answer (already :func:`check`-ed)."""
        before = self.state(sim, http)
        r = http.request(method, path, **kwargs)
        check(r, path)
        return before, r

    def wrong_token(
        self, sim: InProcessSimulator, http: httpx.Client, method: str, path: str, junk: bytes
    ) -> None:
        """A Bearer token of non-UTF-8 ``junk`` is refused as a wrong token (Graph's 190, or
        100 where the route checks its body first), changing nothing."""
        r = self.refused(
            sim,
            http,
            method,
            path,
            headers=[(b"Authorization", b"Bearer " + junk), (b"Content-Type", b"application/json")],
            content=b"{}",
        )
        assert r.json()["error"]["code"] in (190, 100), (path, r.text)


SIM_VIEWS = (
    "/_sim/state",
    "/_sim/outbox",
    "/_sim/webhooks",
    "/_sim/sink",
    "/_sim/faults",
    "/_sim/clock",
)
"""The control views every simulator has: part of the state a refusal must leave alone."""


def views(http: httpx.Client, more: Sequence[str] = ()) -> list[Any]:
    """The answers of :data:`SIM_VIEWS` and ``more`` (a platform's own views), each a 200."""
    answers = []
    for view in (*SIM_VIEWS, *more):
        r = http.get(view)
        assert r.status_code == 200, (view, r.text)  # the simulator still works, too
        answers.append(r.json())
    return answers


def raw_json(template: Any, hostile: str) -> bytes:
    """``template`` as JSON, its ``"__HOSTILE__"`` string replaced by raw JSON text."""
    return json.dumps(template).replace('"__HOSTILE__"', hostile).encode("utf-8", "surrogatepass")


DEEP = ["[" * 1000 + "]" * 1000, '{"a":' * 1000 + "1" + "}" * 1000, "[" * 100 + "]" * 100]
"""JSON nested 1,000 deep (a list, an object) and 100 deep."""
DEEP_IDS = ["list-1000", "object-1000", "list-100"]
NON_FINITE = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400"]
"""Numbers no JSON parser should hand on: not JSON at all, or infinite as a double."""
LONE_SURROGATES = ['"\\ud800"', '"a\\udfffb"', '"\\udc00\\ud800"']
"""JSON strings holding a surrogate without its pair."""
BAD_HEADER_BYTES = [b"\xff\xfe", b"\xc3", b"\xed\xa0\x80", b"caf\xe9", b"\x80" * 300]
"""Header values that are not UTF-8."""


def raw_http(port: int, request: bytes) -> tuple[int, bytes]:
    """One request over a plain socket (bytes exactly as given), its status and body."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(request)
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 "), data[:200]
    return int(head.split()[1]), body


def raw_request(method: str, path: str, headers: list[bytes], body: bytes = b"") -> bytes:
    """An HTTP/1.1 request as bytes, the headers exactly as given (any bytes at all)."""
    lines = [f"{method} {path} HTTP/1.1".encode(), *headers]
    lines += [f"Content-Length: {len(body)}".encode(), b"Connection: close"]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


LITERALS = ["10" + "0" * 30, "-1", "0", "true", "null", "[]", "{}"]
"""JSON values of the wrong type or size for wherever they land."""
ALPHABET = "\\$^.*+?()[]{}|\r\n\t\x00ab1é"
"""Regex metacharacters, backslashes, line breaks and NUL for the fuzz's strings."""


def hostile_json(
    literals: Sequence[str] = LITERALS, alphabet: str = ALPHABET
) -> st.SearchStrategy[str]:
    """Raw JSON text of every hostile class, to stand in a valid body's ``"__HOSTILE__"``."""
    return st.one_of(
        st.integers(min_value=20, max_value=1200).map(lambda n: "[" * n + "]" * n),
        st.integers(min_value=20, max_value=1200).map(lambda n: '{"a":' * n + "0" + "}" * n),
        st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "1e20", "1e300", "-1e300"]),
        st.sampled_from(['"\\ud800"', '"x\\udbff"', '"\\udfff\\ud800"', '["\\ud800"]']),
        st.sampled_from(list(literals)),
        st.text(alphabet=st.sampled_from(list(alphabet)), max_size=12).map(json.dumps),
    )


def spoil(body: Any, path: tuple[Any, ...]) -> Any:
    """``body`` with the value at ``path`` replaced by the placeholder."""
    if not path:
        return "__HOSTILE__"
    copy = json.loads(json.dumps(body))
    node = copy
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = "__HOSTILE__"
    return copy


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON value (a new key too, at each object)."""
    found = [prefix]
    if isinstance(value, dict):
        found.append((*prefix, "extra"))
        for key, child in value.items():
            found.extend(paths(child, (*prefix, key)))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            found.extend(paths(child, (*prefix, i)))
    return found


def spoiled(data: st.DataObject, body: Any, hostile: str) -> bytes:
    """``body`` with ``hostile`` at a place ``data`` draws, as the bytes to send."""
    where = data.draw(st.sampled_from(paths(body)))
    return raw_json(spoil(body, where), hostile)


def header_values(token: str) -> st.SearchStrategy[bytes]:
    """Header bytes of any kind (no line break: httpx would not send it), ``token`` spoilt."""
    return st.one_of(
        st.binary(min_size=1, max_size=24).filter(lambda b: b"\r" not in b and b"\n" not in b),
        st.sampled_from([b"Bearer \xff", b"bearer " + token.encode() + b"\xc3", b"\xed\xa0\x80"]),
    )


# --- the SDK's signed webhooks -------------------------------------------------------------------

ALLOWED = {200, 400, 401, 403, 413}
"""The statuses ``webhooks.handle`` may answer a hostile delivery with."""

Drawn = tuple[str, int, tuple[int, bytes] | None]
"""A drawn body: ``(template with placeholder ids, number of items, non-UTF-8 junk)``."""

REGEX_TEXT = st.text(alphabet=".*+?^$()[]{}|\\/\"'\r\n\t\x00\u2028é😀", max_size=30)
"""Text full of regex metacharacters, CR/LF, backslashes, NUL and non-ASCII."""


def json_strings() -> st.SearchStrategy[str]:
    """Valid JSON strings of :data:`REGEX_TEXT`, ASCII-escaped or not."""
    return st.one_of(
        REGEX_TEXT.map(json.dumps), REGEX_TEXT.map(lambda t: json.dumps(t, ensure_ascii=False))
    )


def strings(more: Sequence[str] = ()) -> st.SearchStrategy[str]:
    """:func:`json_strings` and string-shaped text that is not valid JSON, or is but breaks
    whatever treats it as a pattern; ``more`` adds a platform's own."""
    return st.one_of(
        json_strings(),
        st.sampled_from(
            [
                '"\\ud800"',  # lone high surrogate
                '"a\\udc00b"',  # lone low surrogate
                *more,
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


@st.composite
def nested(draw: Callable[..., Any], depths: Sequence[int]) -> str:
    """A list or an object nested to one of ``depths``."""
    depth = draw(st.sampled_from(depths))
    if draw(st.booleans()):
        return "[" * depth + "]" * depth
    return '{"a":' * depth + draw(st.sampled_from(["1", "null", '"x"'])) + "}" * depth


@st.composite
def junk(draw: Callable[..., Any]) -> tuple[int, bytes] | None:
    """Non-UTF-8 bytes and where to splice them in (one body in five), else ``None``."""
    if draw(st.integers(0, 4)) != 0:
        return None
    where = draw(st.integers(0, 1 << 20))
    return where, draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80"]))


def fill_in(
    drawn: Drawn, user: str, mid: str, also: Sequence[tuple[str, str]] = ()
) -> tuple[bytes, list[str], str]:
    """``(body, its message ids, its customer)``: the placeholders ``@USER@``, ``also`` and
    ``@MID{i}@`` filled in (ids ``{mid}.{i}``), then the junk spliced in.

    The tests give ids no earlier example used, so every example starts from a state no other
    example touched, while the data generation itself stays deterministic (hypothesis replays
    it to shrink).
    """
    template, count, spliced = drawn
    mids = [f"{mid}.{i}" for i in range(count)]
    text = template.replace("@USER@", user)
    for placeholder, value in also:
        text = text.replace(placeholder, value)
    for i, m in enumerate(mids):
        text = text.replace(f"@MID{i}@", m)
    body = text.encode()
    if spliced is not None:
        where = spliced[0] % (len(body) + 1)
        body = body[:where] + spliced[1] + body[where:]
    return body, mids, user


def odd_case(name: str, pattern: list[bool]) -> str:
    """``name`` with its letters upper-cased where the repeated ``pattern`` says so."""
    return "".join(c.upper() if up else c for c, up in zip(name, itertools.cycle(pattern)))


@st.composite
def header_shapes(
    draw: Callable[..., Any],
    header: str,
    sig: str,
    spoilt: Sequence[str],
    *,
    exact: Sequence[str],
    host: bool,
    junk_prefix: bytes = b"",
    foreign: Sequence[object] = (),
) -> tuple[object, bool]:
    """``(headers, valid)``: the signature ``sig`` in the ``header`` of some framework's shape
    (a dict under each of the ``exact`` names, or an odd-cased name in a dict, a list of pairs,
    ASGI bytes, ``httpx.Headers``; with ``host``, a Host header beside it), or one of the
    ``spoilt`` values in such a shape, a non-UTF-8 value (after ``junk_prefix``) or name,
    one of the ``foreign`` headers, or none."""
    name = odd_case(header, draw(st.lists(st.booleans(), min_size=1, max_size=5)))
    valid_shapes: list[object] = [
        *({named: sig} for named in exact),
        {name: sig},
        *([{"Host": "app", name: sig}] if host else []),
        [(name, sig)],
        [(b"host", b"app"), (name.encode(), sig.encode())],  # ASGI scope["headers"]
        httpx.Headers({name: sig}),
        {name.encode(): sig.encode()},
    ]
    if draw(st.integers(0, 2)):
        return draw(st.sampled_from(valid_shapes)), True
    value = draw(st.sampled_from(list(spoilt)))
    raw = value.encode("utf-8", "surrogatepass")
    shapes: list[object] = [
        {exact[0]: value},
        [(name.encode(), raw)],
        [(name.encode(), raw + b"\xff")],
        [(name.encode() + b"\xff", sig.encode())],  # a different (non-UTF-8) header name
        [(header.encode(), junk_prefix + bytes(range(128, 192)))],
        *foreign,
        {},
        [],
    ]
    return draw(st.sampled_from(shapes)), False


def signed_headers(
    secret: str, body: bytes, *, lenient: bool = False
) -> st.SearchStrategy[tuple[object, bool]]:
    """``(headers, valid)``: the signature of ``body`` in some framework's shape, or spoilt.

    ``lenient`` adds the shapes WhatsApp's fuzz tries on top: a Host header beside the
    signature, a line break after ``sha256=``, and the spoilt signatures Meta's check
    tolerates (upper-case hex, trailing white space).
    """
    sig = sign_hub_sha256(secret, body)
    spoilt = [
        sig[:20] + "\r\n" + sig[20:],
        sig[:-2] + "\r\nX-Injected: 1",
        *(["sha256=\r\n" + sig[7:]] if lenient else []),
        sig[:-1] + "\ud800",
        sig[:-1],
        "sha1=" + sig[7:],
        "",
        "sha256=",
        # tolerated: upper-case hex, trailing white space
        *([sig.upper(), sig + "\r\n"] if lenient else []),
    ]
    return header_shapes(
        "x-hub-signature-256",
        sig,
        spoilt,
        exact=["X-Hub-Signature-256"],
        host=lenient,
        junk_prefix=b"sha256=",
    )


def fuzz_settings(max_examples: int) -> settings:
    """The signed-webhook fuzz's settings: ``max_examples`` each, no deadline, large bodies."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


@attrs.frozen
class SignedFuzz:
    """What must hold for one signed (maybe hostile) delivery to ``client``'s ``platform``.

    ``handle`` never raises and answers one of :data:`ALLOWED`; a taken body gives each of its
    events once (a retry is all duplicates); a refused body leaves no trace (no window moves,
    and re-sending ``valid_body`` with the same ids delivers each of them once); the client
    raises nothing but omnimsg's own errors afterwards. The platform judges the rest:
    ``check_events`` the events of a taken body, ``window_time`` the customer's last inbound
    time (Unix seconds) when there is one, ``afterwards`` any more calls of its own.
    """

    client: Client
    platform: str
    secret: str
    valid_body: Callable[[list[str], str], bytes]
    check_events: Callable[[tuple[Event, ...]], None]
    window_time: Callable[[float], bool]
    afterwards: Callable[[Client], object] = lambda client: None
    url: str = "https://app/wh"

    def handle(self, headers: object, body: bytes) -> Any:
        """``webhooks.handle`` on a POST, its status one of :data:`ALLOWED`."""
        outcome = self.client.webhooks.handle(self.platform, "POST", self.url, headers, body)  # type: ignore[arg-type]
        assert outcome.status in ALLOWED, outcome
        return outcome

    def no_foreign_errors(self, user: str) -> None:
        """``window``/``check``/``send`` (and ``afterwards``) for ``user`` raise only omnimsg
        errors."""
        to = Address(self.platform, user)
        window = self.client.window(to)
        if window.last_inbound_at is not None:
            assert self.window_time(window.last_inbound_at.timestamp()), window
        assert isinstance(self.client.check(to, Text("hi")), tuple)
        with contextlib.suppress(OmniMsgError):
            self.client.send(to, Text("hi"))
        self.afterwards(self.client)

    def check(self, body: bytes, mids: list[str], user: str, headers: object, valid: bool) -> None:
        """Deliver ``body`` with ``headers`` (``valid``: signed right) and check all of it."""
        client = self.client
        to = Address(self.platform, user)
        outcome = self.handle(headers, body)
        event(f"status {outcome.status}")  # pytest --hypothesis-show-statistics
        try:
            parsed: list[Event] | None = client.webhooks.parse(self.platform, headers, body)  # type: ignore[arg-type]
        except OmniMsgError:
            parsed = None
        if valid:
            assert outcome.status not in (401, 403), outcome
        if outcome.status == 200:
            assert parsed is not None and len(parsed) == len(outcome.events) + outcome.duplicates
            self.check_events(outcome.events)
            again = self.handle(headers, body)  # the platform's retry: every event a duplicate
            assert again.events == () and again.duplicates == len(parsed)
        else:
            assert parsed is None
            assert outcome.events == () and isinstance(outcome.error, OmniMsgError)
            # A refused body left no trace: no window, and every one of its ids is still new.
            assert client.window(to).last_inbound_at is None
            fresh = self.valid_body(mids, user)
            signed = {"X-Hub-Signature-256": sign_hub_sha256(self.secret, fresh)}
            redelivered = self.handle(signed, fresh)
            assert [e.message_id for e in redelivered.events] == mids  # type: ignore[union-attr]
            assert redelivered.duplicates == 0
            assert client.window(to).open
        self.no_foreign_errors(user)
