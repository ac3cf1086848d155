"""A small fake of Graph's Messenger endpoints for the SDK's tests (an httpx MockTransport).

It answers as spec/messenger.md §3, §5, §8 and research §5 describe, records every request,
and checks the Page token and ``appsecret_proof`` on each. It is not the simulator (that is
``omnimsg_sim``): it keeps no rules, so a test here shows what the SDK does on its own.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import attrs
import httpx

from omnimsg.signing import sign_hub_sha256

PAGE = "1234567890"
TOKEN = "page-token-0123456789"
SECRET = "test_app_secret"
VERIFY = "verify-me"
PSID = "9876543210"


@attrs.define
class Call:
    """One request the fake received."""

    method: str
    path: str
    query: dict[str, str]
    body: Any


@attrs.define
class FakeGraph:
    """Graph for one Page: sends, sender actions, profiles, attachments, hand-over."""

    page: str = PAGE
    token: str = TOKEN
    secret: str = SECRET
    calls: list[Call] = attrs.field(factory=list)
    errors: list[tuple[int, dict[str, Any]]] = attrs.field(factory=list)  # answered first
    profile: dict[str, Any] = attrs.field(factory=dict)
    owner: str | None = "263902037430900"
    _ids: Any = attrs.field(factory=lambda: itertools.count(1))

    def transport(self) -> httpx.MockTransport:
        """The transport for ``Client(..., transport=...)``."""
        return httpx.MockTransport(self.handle)

    def async_transport(self) -> httpx.MockTransport:
        """The same fake, for ``AsyncClient``."""
        return httpx.MockTransport(self.handle)

    def fail_next(self, code: int, subcode: int | None = None, *, message: str = "err",
                  status: int = 400, transient: bool = False) -> None:  # fmt: skip
        """Answer the next request with this Graph error."""
        error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code,
                                 "fbtrace_id": "Atrace123"}  # fmt: skip
        if subcode is not None:
            error["error_subcode"] = subcode
        if transient:
            error["is_transient"] = True
        self.errors.append((status, {"error": error}))

    def sends(self) -> list[Any]:
        """The bodies of every ``/messages`` POST that carried a message."""
        return [c.body for c in self.calls if c.path.endswith("/messages") and "message" in c.body]

    def handle(self, request: httpx.Request) -> httpx.Response:
        url = urlsplit(str(request.url))
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        body = json.loads(request.content) if request.content else None
        call = Call(request.method, url.path, query, body)
        self.calls.append(call)
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return httpx.Response(
                401, json={"error": {"message": "Invalid OAuth access token", "code": 190}}
            )
        proof = hmac.new(self.secret.encode(), self.token.encode(), hashlib.sha256).hexdigest()
        if query.get("appsecret_proof") != proof:
            return httpx.Response(
                400, json={"error": {"message": "Invalid appsecret_proof", "code": 100}}
            )
        if self.errors:
            status, error = self.errors.pop(0)
            return httpx.Response(status, json=error)
        return httpx.Response(200, json=self._answer(call))

    def _answer(self, call: Call) -> Any:
        path = call.path.removeprefix("/v25.0/")
        edge = path.partition("/")[2]
        body = call.body or {}
        if edge == "messages":
            recipient = body.get("recipient", {})
            if "sender_action" in body:
                return {"recipient_id": recipient.get("id")}
            if "comment_id" in recipient:
                return {"recipient_id": "commenter-psid", "message_id": f"m_pr{next(self._ids)}"}
            return {"recipient_id": recipient.get("id"), "message_id": f"m_out{next(self._ids)}"}
        if edge == "message_attachments":
            return {"attachment_id": "1854626884821032"}
        if edge == "messenger_profile":
            if call.method == "POST":
                self.profile.update(body)
                return {"result": "success"}
            if call.method == "DELETE":
                for f in body.get("fields", []):
                    self.profile.pop(f, None)
                return {"result": "success"}
            wanted = call.query.get("fields", "").split(",")
            return {"data": [{f: self.profile[f]} for f in wanted if f in self.profile]}
        if edge in ("pass_thread_control", "take_thread_control", "request_thread_control"):
            return {"success": True}
        if edge == "thread_owner":
            return (
                {"data": [{"thread_owner": {"app_id": self.owner}}]} if self.owner else {"data": []}
            )
        if edge == "secondary_receivers":
            return {"data": [{"id": "12345678910", "name": "David's Composer"},
                             {"id": 23456789101, "name": "Messenger Rocks"}]}  # fmt: skip
        if not edge:  # GET /{psid}: the user profile
            return {"id": path, "name": "Ada Lovelace", "first_name": "Ada",
                    "last_name": "Lovelace", "profile_pic": "https://e.x/ada.png"}  # fmt: skip
        return {"error": {"message": "unknown edge", "code": 100}}


def envelope(*events: dict[str, Any], page: str = PAGE, key: str = "messaging") -> dict[str, Any]:
    """A Page webhook body with these events in one entry."""
    return {"object": "page", "entry": [{"id": page, "time": 1_780_000_000_000, key: list(events)}]}


def message(mid: str, text: str = "hi", *, user: str = PSID, ts: int = 1_780_000_000_000,
            **extra: Any) -> dict[str, Any]:  # fmt: skip
    """A customer's text message event."""
    msg: dict[str, Any] = {"mid": mid, "text": text, **extra}
    return {"sender": {"id": user}, "recipient": {"id": PAGE}, "timestamp": ts, "message": msg}


def signed(payload: dict[str, Any] | bytes, secret: str = SECRET) -> tuple[dict[str, str], bytes]:
    """``(headers, body)`` as Meta sends them: compact JSON, non-ASCII escaped, signed."""
    body = (
        payload
        if isinstance(payload, bytes)
        else json.dumps(payload, separators=(",", ":")).encode()
    )
    return {"X-Hub-Signature-256": sign_hub_sha256(secret, body)}, body
