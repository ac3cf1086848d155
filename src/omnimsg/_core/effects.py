"""The effects a flow can ask for: an HTTP call, a store operation, a sleep.

A *flow* is a generator that yields effects and receives their results; it never does I/O
itself. The sync and async drivers in :mod:`.drive` perform the effects, so every operation
is written once and works in both faces.

The HTTP currency is deliberately light (plain tuples and bytes, no ``httpx.Request``): the
aiohttp driver must stay close to a raw ``ClientSession`` (DESIGN §5).
"""

from __future__ import annotations

import json
import re
from collections.abc import Generator, Mapping
from typing import Any, TypeAlias, TypeVar

import attrs

from .._fast import fast_constructor
from .._types import JSON
from ..stores.ops import Add, Delete, Get, Incr, Op, Set

T = TypeVar("T")

_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})
_SECRET_QUERY = re.compile(
    r"(?i)([?&;](?:access_token|appsecret_proof|app_secret|client_assertion|client_secret"
    r"|secret|token)=)[^&;#]*"
)
REDACTED = "<redacted>"


def redact_url(url: str) -> str:
    """``url`` with the values of secret query parameters (``access_token``...) hidden."""
    return _SECRET_QUERY.sub(r"\1" + REDACTED, url) if "=" in url else url


def redact_headers(headers: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """``headers`` with the values of credential headers (``Authorization``...) hidden."""
    return tuple((k, REDACTED if k.lower() in _SECRET_HEADERS else v) for k, v in headers)


def secrets_of(request: Request) -> list[str]:
    """The credential values a request carries, to scrub from third-party messages.

    Values under 8 characters are left out: no real credential is that short, and scrubbing
    them (a test token ``"t"``) would garble every message.
    """
    found = [v for k, v in request.headers if k.lower() in _SECRET_HEADERS]
    for k, v in request.headers:
        if k.lower() == "authorization" and " " in v:
            found.append(v.split(" ", 1)[1])  # the bare token of "Bearer <token>"
    found.extend(m.group(0).split("=", 1)[1] for m in _SECRET_QUERY.finditer(request.url))
    return [s for s in found if len(s) >= 8]


def _url_repr(url: str) -> str:
    return repr(redact_url(url))


def _headers_repr(headers: tuple[tuple[str, str], ...]) -> str:
    return repr(redact_headers(headers))


def _body_repr(body: bytes | None) -> str:
    return "None" if body is None else f"<{len(body)} bytes>"


@attrs.frozen(slots=True)
class Request:
    """An HTTP request to make. ``idempotent`` says whether retrying it is always safe.

    Its ``repr`` hides credentials (the ``Authorization`` header, an ``access_token`` query
    parameter) and shows only the body's size: requests end up in logs and tracebacks.
    """

    method: str
    url: str = attrs.field(repr=_url_repr)
    headers: tuple[tuple[str, str], ...] = attrs.field(default=(), repr=_headers_repr)
    body: bytes | None = attrs.field(default=None, repr=_body_repr)
    idempotent: bool = False
    # A short label for logs and fault matching, e.g. "whatsapp.send".
    operation: str = ""


@attrs.frozen(slots=True)
class Response:
    """An HTTP answer. ``headers`` is looked up by lower-case name (case-insensitive maps)."""

    status: int
    headers: Mapping[str, str] = attrs.field(eq=False)
    body: bytes = b""

    def json(self) -> JSON:
        """The body decoded as JSON (raises ``ValueError`` for the caller to map)."""
        return json.loads(self.body) if self.body else None


# One store operation is one effect: the same values ``store.batch`` takes (``stores.ops``).
StoreGet = Get
StoreSet = Set
StoreAdd = Add
StoreIncr = Incr
StoreDelete = Delete


@attrs.frozen(slots=True)
class StoreBatch:
    """Run store operations in order as one round trip (result: their results, in order).

    One webhook body's claims and state updates travel together: one lock, one SQLite
    transaction, one Redis pipeline (``omnimsg.stores.ops``).
    """

    ops: tuple[Op, ...]


@attrs.frozen(slots=True)
class Sleep:
    """Wait, through the injected clock (result: ``None``)."""

    seconds: float


@attrs.frozen(slots=True)
class Now:
    """Read the injected clock (result: Unix seconds), once at the start of an operation.

    A clock that follows another process (:class:`omnimsg.testing.SimulatorClock`) syncs
    here, through the driver, so the async face never blocks its event loop to do it.
    """


NOW = Now()

Effect: TypeAlias = (
    Request | StoreGet | StoreSet | StoreAdd | StoreIncr | StoreDelete | StoreBatch | Sleep | Now
)
Flow: TypeAlias = Generator[Effect, Any, T]
"""A sans-I/O operation returning ``T``."""


def get_json(key: str) -> Flow[JSON]:
    """Read a JSON value from the store (``None`` when absent or unreadable)."""
    raw = yield StoreGet(key)
    if raw is None:
        return None
    try:
        return json.loads(raw)  # type: ignore[no-any-return]
    except ValueError:
        return None


def set_json(key: str, value: JSON, ttl: float | None = None) -> Flow[None]:
    """Write a JSON value to the store."""
    yield StoreSet(key, json.dumps(value, separators=(",", ":")).encode(), ttl)


# Hot-path constructors (see omnimsg/_fast.py): every send builds one of each.
new_request = fast_constructor(Request)
new_response = fast_constructor(Response)
