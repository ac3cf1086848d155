"""The Graph host that WhatsApp and Messenger share: ids resolved by the registered object.

``/v23.0/{object-id}/{edge}`` means whatever the object is: a WhatsApp phone number, a WABA,
a media object, a template, or (Messenger) a Page. Graph looks the id up; so does
:class:`GraphHost`, asking each :class:`~omnimsg_sim.platforms.adapter.GraphTenant` whether it
owns the id. An id nobody owns gets Graph's own answer, code 100 subcode 33 (spec/whatsapp.md
§0). ``me`` is whoever the access token belongs to: a
:class:`~omnimsg_sim.platforms.adapter.MeTenant` says which of its objects that is (a Page
token's Page, spec/messenger.md §3.1). Graph's errors and their envelope live here, as data,
for every tenant.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlencode

import attrs

from omnimsg.rules import Violation

from ..effects import Delivery, Pause, SimFlow, SimRequest, SimResponse
from ..faults import Fault
from ..world import World
from .adapter import GraphTenant, MeTenant

__all__ = [
    "BAD_TOKEN",
    "ME",
    "NO_TOKEN",
    "GraphError",
    "GraphHost",
    "fault_answer",
    "graph_error",
    "hub_handshake",
    "no_such_object",
    "request_token",
    "token_error",
    "violation_response",
]

VERSIONED = re.compile(r"^/v\d+\.\d+/(.+)$")
"""A Graph path: ``/v{major}.{minor}/`` and the object id with its edge."""

_GRAPH_DOCS = "https://developers.facebook.com/docs/graph-api"

ME = "me"
"""The object id that names the access token's own object (``/v25.0/me/messages``)."""

# Graph prefixes "(#code) " only to the messages of product-specific codes (spec §5.2: WhatsApp's
# "(#131047) Re-engagement message", "(#100) Invalid parameter"); Graph's own errors come bare
# (spec §0): 190 "Invalid OAuth access token - Cannot parse access token", 2500 "An active
# access token must be used...", 100/33 "Unsupported get request. Object with ID ...".
_BARE_CODES = frozenset({190, 2500})
_BARE_SUBCODES = frozenset({33})


@attrs.frozen
class GraphError:
    """One of Graph's errors, as data: its code, its title, its HTTP status, its subcode."""

    code: int
    title: str
    status: int = 400
    subcode: int | None = None
    type: str = "OAuthException"

    def response(self, trace: str, details: str | None = None) -> SimResponse:
        """This error's answer, with ``details`` in ``error_data`` when given."""
        return graph_error(
            self.code,
            self.title,
            details=details,
            status=self.status,
            subcode=self.subcode,
            trace=trace,
            error_type=self.type,
        )


# Graph's own errors (spec/whatsapp.md §0), the same for every product on the host.
NO_TOKEN = GraphError(
    2500, "An active access token must be used to query information about the current user."
)
BAD_TOKEN = GraphError(190, "Invalid OAuth access token - Cannot parse access token", status=401)


def graph_error(
    code: int,
    title: str,
    *,
    details: str | None = None,
    status: int = 400,
    subcode: int | None = None,
    trace: str = "AsimTrace0000000000000",
    error_type: str = "OAuthException",
) -> SimResponse:
    """A Graph API error: ``{"error": {message, type, code, error_data, fbtrace_id}}``.

    Shape: spec/whatsapp.md §5.2 (real 132000 and 131056 payloads). ``title`` becomes the
    message, with the ``(#code)`` prefix unless the error is one of Graph's own.
    """
    bare = code in _BARE_CODES or subcode in _BARE_SUBCODES
    error: dict[str, Any] = {
        "message": title if bare else f"(#{code}) {title}",
        "type": error_type,
        "code": code,
    }
    if details is not None:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    if subcode is not None:
        error["error_subcode"] = subcode
    error["fbtrace_id"] = trace
    return SimResponse(
        status=status,
        body=json.dumps({"error": error}, separators=(",", ":")).encode(),
        headers=(("x-fb-trace-id", trace),),
    )


def violation_response(v: Violation, trace: str) -> SimResponse:
    """A rule violation rendered as the product's own error answer."""
    code = v.native_code if isinstance(v.native_code, int) else 100
    return graph_error(
        code,
        v.title or v.message,
        details=v.details or v.message,
        status=v.http_status,
        trace=trace,
    )


def no_such_object(method: str, object_id: str, trace: str) -> SimResponse:
    """Graph's answer to an unknown object or edge: code 100, subcode 33 (spec §0).

    A Graph-level error, so its message has no ``(#100)`` prefix.
    """
    return graph_error(
        100,
        f"Unsupported {method.lower()} request. Object with ID '{object_id}' does not exist, "
        "cannot be loaded due to missing permissions, or does not support this operation. "
        f"Please read the Graph API documentation at {_GRAPH_DOCS}",
        status=400,
        subcode=33,
        trace=trace,
        error_type="GraphMethodException",
    )


def request_token(req: SimRequest) -> str | None:
    """The access token of a Bearer header, else of a non-empty ``access_token`` query
    parameter; ``None`` when the request gives it neither way (a product may look further)."""
    header = req.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:]
    return req.arg("access_token") or None


def token_error(given: str, expected: str | None) -> GraphError | None:
    """Graph's own answer to the access token ``given``: 2500 without one, 190 for one that is
    not ``expected`` (``None``: no object's token at all); ``None`` when it is the one."""
    if not given:
        return NO_TOKEN
    # Any text encodes with surrogatepass (a header of non-UTF-8 bytes included): a token
    # that is not the right one is simply wrong, answered 190.
    if expected is None or not hmac.compare_digest(
        given.encode("utf-8", "surrogatepass"), expected.encode()
    ):
        return BAD_TOKEN
    return None


def fault_answer(
    fault: Fault | None,
    unknown: GraphError,
    answer: Callable[[GraphError, str | None], SimResponse],
) -> SimFlow[SimResponse | None]:
    """What the ``/_sim/faults`` rule taken for a call makes of it, after its latency; ``None``
    (no rule, or one that only delays) to go on.

    A native ``code`` is that Graph error ("Injected fault" unless the rule says more), a bare
    ``status`` the product's ``unknown`` error with that status; ``answer`` renders the error,
    given the rule's own message.
    """
    if fault is None:
        return None
    if fault.latency_ms:
        yield Pause(fault.latency_ms / 1000.0)
    if fault.code is not None:
        error = GraphError(
            fault.code, fault.message or "Injected fault", status=fault.status or 400
        )
    elif fault.status is not None:
        error = GraphError(unknown.code, fault.message or unknown.title, status=fault.status)
    else:
        return None
    return answer(error, fault.message)


def hub_handshake(
    world: World,
    platform: str,
    account: str,
    webhook_url: str | None,
    verify_token: str,
    challenge: str,
) -> Delivery | str:
    """The GET verification request Meta sends when a callback URL is set (spec/whatsapp.md
    §1.1, spec/messenger.md §1.1), or why there is none to send."""
    url = world.webhook_url(platform, account, webhook_url)
    if not url:
        return "this account has no webhook_url"
    query = urlencode(
        {
            "hub.mode": "subscribe",
            "hub.challenge": challenge,
            "hub.verify_token": verify_token,
        }
    )
    sep = "&" if "?" in url else "?"
    return Delivery(
        id=world.next_seq(),
        platform=platform,
        account=account,
        kind="handshake",
        url=f"{url}{sep}{query}",
        body=b"",
        method="GET",
        headers=(("user-agent", "facebookplatform/1.0"),),
        echo=challenge.encode(),  # §1.1: the app answers hub.challenge as it is
    )


def _answer(response: SimResponse) -> SimFlow[SimResponse]:
    yield from ()  # a flow that needs no effect
    return response


class GraphHost:
    """Routes ``/v{version}/{object-id}[/{edge}]`` to the tenant that owns the object."""

    def __init__(self, tenants: Sequence[GraphTenant], trace: Callable[[], str]) -> None:
        self.tenants = tuple(tenants)
        self._trace = trace
        # The tenants whose tokens stand for an object (``/me``), found once.
        self._resolvers = tuple(t for t in self.tenants if isinstance(t, MeTenant))

    def _tenant(self, object_id: str) -> GraphTenant | None:
        for tenant in self.tenants:
            if tenant.owns(object_id):
                return tenant
        return None

    def route(self, req: SimRequest) -> SimFlow[SimResponse] | None:
        """The owner's flow for a Graph path, Graph's 100/33 for an unknown id; else ``None``."""
        m = VERSIONED.match(req.path)
        if not m:
            return None
        object_id, _, edge = m.group(1).strip("/").partition("/")
        if object_id == ME:
            flow = self._me(req, edge or None)
            if flow is not None:
                return flow
        tenant = self._tenant(object_id)
        if tenant is None:
            return _answer(no_such_object(req.method, object_id, self._trace()))
        return tenant.graph(req, object_id, edge or None)

    def _me(self, req: SimRequest, edge: str | None) -> SimFlow[SimResponse] | None:
        """``/me``: the object the token stands for; a token nobody issued gets the first
        :class:`MeTenant`'s answer (Graph's 2500 or 190); ``None`` without any."""
        for tenant in self._resolvers:
            resolved = tenant.me(req)
            if resolved is not None:
                return tenant.graph(req, resolved, edge)
        if self._resolvers:
            return self._resolvers[0].graph(req, ME, edge)
        return None

    def owner(self, path: str) -> GraphTenant | None:
        """Whose envelope an error on ``path`` takes: the object's owner (any tenant's for an
        unknown object: the envelope is Graph's); ``None`` off the Graph paths."""
        m = VERSIONED.match(path)
        if not m or not self.tenants:
            return None
        head = m.group(1).strip("/").partition("/")[0]
        if head == ME:
            return self._resolvers[0] if self._resolvers else self.tenants[0]
        return self._tenant(head) or self.tenants[0]
