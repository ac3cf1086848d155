"""The simulated Messenger Platform (spec/messenger.md), served at the real Graph paths.

A Graph tenant beside WhatsApp: it owns its Page ids, its customers' PSIDs (the user
profile) and the attachment ids it hands out, and ``/me/...`` with a Page token is that
Page (§3.1). Requests are decoded by :mod:`.wire`, checked by :mod:`.policy` (window, tags,
private replies, thread ownership) and the Send API rate, then applied to the state of
:mod:`.state`; every refusal is one of :mod:`.errors`. Webhooks are signed with both
``X-Hub-Signature-256`` and ``X-Hub-Signature`` over the exact bytes sent (§1.2).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from omnimsg.rules import messenger as rules
from omnimsg.signing import sign_hub_sha256

from ...answers import control_error, json_response
from ...config import MessengerAccount
from ...effects import Delivery, DeliveryOutcome, SimFlow, SimRequest, SimResponse
from ...faults import Faults
from ...safejson import BadJSON, loads
from ...world import OutboxEntry, World
from ..adapter import Deliverer
from ..graph import (
    ME,
    GraphError,
    fault_answer,
    graph_error,
    hub_handshake,
    no_such_object,
    request_token,
    token_error,
)
from . import handover, profile
from .errors import (
    APPSECRET_PROOF,
    BAD_ATTACHMENT,
    NO_SUCH_USER,
    UNKNOWN_ERROR,
    Refusal,
    invalid,
)
from .inbound import Action, Refused, parse
from .policy import ConversationState, check
from .state import ATTACHMENT_TTL, Comment, Customer, Page, StoredAttachment
from .wire import Send, decode_send, params

__all__ = ["ATTACHMENT_PATH", "MessengerSim"]

ATTACHMENT_PATH = "/messenger/attachments/"
"""Where the simulator serves what customers send as ``data_base64`` (a CDN URL's stand-in:
public, signed with a hash, on the host the simulator was reached at)."""

_SECRET_PARAMS = ("access_token", "appsecret_proof")
# Until 2026-08-30 a sticker also arrives as an image attachment (spec §2.2, pitfall 12).
_STICKER_AS_IMAGE_UNTIL = datetime(2026, 8, 30, tzinfo=UTC).timestamp()
_USER_FIELDS = ("id", "name", "first_name", "last_name", "profile_pic", "locale")
# Fields that need feature approval (spec §8.2): omitted from the answer, not refused.
_APPROVED_ONLY = ("timezone", "gender")


def _ms(t: float) -> int:
    """Unix milliseconds, as Messenger's timestamps and watermarks are (§2.1)."""
    return int(t * 1000)


def encode(payload: Any) -> bytes:
    """A webhook body as Meta writes it (§1.2): non-ASCII as escapes such as ``\\u00e9`` (lower-case
    hex) and ``/`` as ``\\/``, so that an app which re-serialises the JSON before checking the
    signature fails here as it does in production."""
    # "/" only ever appears inside JSON strings, so the replacement cannot touch syntax.
    return (
        json.dumps(payload, separators=(",", ":"), ensure_ascii=True).replace("/", "\\/").encode()
    )


def sign_hub_sha1(app_secret: str, body: bytes) -> str:
    """The legacy ``X-Hub-Signature`` value: ``sha1=<hex HMAC-SHA1(body)>`` (§1.2)."""
    return "sha1=" + hmac.new(app_secret.encode(), body, hashlib.sha1).hexdigest()


def _text_of_raw(raw: bytes) -> str | None:
    """The outbox ``text`` of a sent body: its text, a template's text or title, else a tag."""
    try:
        body = loads(raw)
    except BadJSON:  # cannot happen: the simulator wrote it
        return None
    message = body.get("message") if isinstance(body, dict) else None
    if not isinstance(message, dict):
        return None
    if isinstance(message.get("text"), str):
        return str(message["text"])
    if message.get("sticker_id") is not None:
        return "[sticker]"
    attachment = message.get("attachment")
    if not isinstance(attachment, dict):
        return None
    payload = attachment.get("payload")
    payload = payload if isinstance(payload, dict) else {}
    if attachment.get("type") != "template":
        return f"[{attachment.get('type')}]"
    if isinstance(payload.get("text"), str):
        labels = [str(b.get("title")) for b in payload.get("buttons") or () if isinstance(b, dict)]
        return str(payload["text"]) + "".join(f" [{label}]" for label in labels)
    elements = payload.get("elements")
    if isinstance(elements, list) and elements and isinstance(elements[0], dict):
        titles = [str(e.get("title")) for e in elements if isinstance(e, dict) and e.get("title")]
        if titles:
            return " | ".join(titles)
    return f"[{payload.get('template_type')} template]"


class MessengerSim:
    """Routes, state and webhooks of the simulated Messenger Platform.

    A :class:`~omnimsg_sim.platforms.adapter.SimPlatform` and a Graph tenant that resolves
    ``me`` (:class:`~omnimsg_sim.platforms.adapter.MeTenant`).
    """

    name = "messenger"
    operations = (("GET", "threads"), ("POST", "handover"))

    def __init__(
        self, accounts: tuple[MessengerAccount, ...], world: World, faults: Faults
    ) -> None:
        self.world = world
        self.faults = faults
        self.pages: dict[str, Page] = {a.page_id: Page(a) for a in accounts}
        self.attachments: dict[str, StoredAttachment] = {}
        self._routes = self._page_routes()

    # --- helpers -------------------------------------------------------------------------

    def _trace(self) -> str:
        return "A" + self.world.token(22)

    def _mid(self) -> str:
        return "m_" + self.world.token(43)

    def _fail(self, error: GraphError) -> SimResponse:
        return Refusal(error).response(self._trace())

    def _refuse(self, refusal: Refusal) -> SimResponse:
        return refusal.response(self._trace())

    def _page(self, account: Any) -> Page | None:
        if account is None:
            return next(iter(self.pages.values())) if len(self.pages) == 1 else None
        return self.pages.get(account) if isinstance(account, str) else None

    @staticmethod
    def _token(req: SimRequest, given: Mapping[str, Any] | None) -> str:
        """The access token: a Bearer header, the ``access_token`` query or body parameter."""
        token = request_token(req)
        if token is not None:
            return token
        if given is not None and isinstance(given.get("access_token"), str):
            return str(given["access_token"])
        return ""

    def _auth(
        self, req: SimRequest, page: Page | None, given: Mapping[str, Any] | None
    ) -> SimResponse | None:
        """Graph's own token errors (2500, 190) and a wrong ``appsecret_proof``; else None."""
        token = self._token(req, given)
        error = token_error(token, None if page is None else page.cfg.page_access_token)
        if error is not None:
            return self._fail(error)
        assert page is not None  # token_error answers 190 without a Page
        token_bytes = token.encode("utf-8", "surrogatepass")
        proof = req.arg("appsecret_proof")
        if proof is None and given is not None:
            proof = given.get("appsecret_proof")
        if proof is not None:
            expected = hmac.new(
                page.cfg.app_secret.encode(), token_bytes, hashlib.sha256
            ).hexdigest()
            if not isinstance(proof, str) or not hmac.compare_digest(
                expected.encode(), proof.encode("utf-8", "surrogatepass")
            ):
                return self._fail(APPSECRET_PROOF)
        return None

    def _fault(
        self, operation: str, account: str | None, user: str | None = None
    ) -> SimFlow[SimResponse | None]:
        fault = self.faults.take(self.name, operation, account, user)
        # Messenger's errors carry no details: the error's own sentence is the message.
        return fault_answer(fault, UNKNOWN_ERROR, lambda error, _message: self._fail(error))

    # --- the seam (omnimsg_sim.platforms.adapter) ------------------------------------------

    def accounts(self) -> list[str]:
        """The Page ids served."""
        return sorted(self.pages)

    def error(self, status: int, message: str) -> SimResponse:
        """Graph's envelope, code 100, for an error the core answers (a body too large)."""
        return graph_error(100, message, status=status, trace=self._trace())

    def answered(self, delivery: Delivery, outcome: DeliveryOutcome) -> None:
        """Messenger reads nothing from the app's answer but its status (§2.3)."""

    def owns(self, object_id: str) -> bool:
        """Page ids, the PSIDs of their customers and attachment ids are Messenger's."""
        return (
            object_id in self.pages
            or object_id in self.attachments
            or any(object_id in p.customers for p in self.pages.values())
        )

    def me(self, req: SimRequest) -> str | None:
        """The Page whose access token the request carries (``/me`` is that Page, §3.1)."""
        given: Mapping[str, Any] | None = None
        if not req.headers.get("authorization") and not req.arg("access_token"):
            try:
                given = params(req)
            except Refusal:
                return None
        token = self._token(req, given).encode("utf-8", "surrogatepass")
        for page_id, page in self.pages.items():
            if hmac.compare_digest(token, page.cfg.page_access_token.encode()):
                return page_id
        return None

    def route(self, req: SimRequest) -> SimFlow[SimResponse] | None:
        """Messenger's own (non-Graph) path: attachments customers sent as data."""
        if req.path.startswith(ATTACHMENT_PATH):
            return self._download(req)
        return None

    def graph(self, req: SimRequest, object_id: str, edge: str | None) -> SimFlow[SimResponse]:
        """Answer ``/{version}/{object_id}[/{edge}]`` for one of Messenger's objects."""
        method = req.method.upper()
        page = self.pages.get(object_id)
        if object_id == ME:  # no Page's token (MeTenant.me found none): Graph's token errors
            return self._serve(req, None, lambda p, given: self._unsupported(req, ME))
        if page is not None:
            handler = self._routes.get((edge, method))
            if handler is not None:
                return self._serve(req, page, lambda p, given: handler(req, p, given))
        elif edge is None and method == "GET" and object_id not in self.attachments:
            return self._serve(
                req,
                self._page_of_user(req, object_id),
                lambda p, given: self._user(p, object_id, given),
            )
        return self._unsupported(req, object_id)

    def _page_routes(
        self,
    ) -> dict[
        tuple[str | None, str],
        Callable[[SimRequest, Page, dict[str, Any]], SimFlow[SimResponse]],
    ]:
        return {
            ("messages", "POST"): self._messages,
            ("message_attachments", "POST"): self._upload,
            ("messenger_profile", "GET"): self._get_profile,
            ("messenger_profile", "POST"): self._set_profile,
            ("messenger_profile", "DELETE"): self._delete_profile,
            ("pass_thread_control", "POST"): self._pass,
            ("take_thread_control", "POST"): self._take,
            ("request_thread_control", "POST"): self._request,
            ("release_thread_control", "POST"): self._release,
            ("thread_owner", "GET"): self._thread_owner,
            ("secondary_receivers", "GET"): self._secondary_receivers,
            ("subscribed_apps", "GET"): self._subscribed_apps,
            ("subscribed_apps", "POST"): self._subscribed_apps,
            ("subscribed_apps", "DELETE"): self._subscribed_apps,
            (None, "GET"): self._page_info,
        }

    def _page_of_user(self, req: SimRequest, psid: str) -> Page | None:
        """The Page a PSID belongs to: the one whose token the request carries, if it has it."""
        mine = self.pages.get(self.me(req) or "")
        if mine is not None and psid in mine.customers:
            return mine
        return next((p for p in self.pages.values() if psid in p.customers), None)

    def _serve(
        self,
        req: SimRequest,
        page: Page | None,
        handler: Callable[[Page, dict[str, Any]], SimFlow[SimResponse]],
    ) -> SimFlow[SimResponse]:
        """Parameters, then the token (Graph's errors first), then the handler."""
        try:
            given: dict[str, Any] | None = params(req)
            bad: Refusal | None = None
        except Refusal as exc:
            given, bad = None, exc
        denied = self._auth(req, page, given)
        if denied is not None:
            return denied
        assert page is not None  # _auth refuses a request for no Page
        if bad is not None:
            return self._refuse(bad)
        assert given is not None
        return (yield from handler(page, given))

    def _unsupported(self, req: SimRequest, object_id: str) -> SimFlow[SimResponse]:
        yield from ()  # a flow that needs no effect
        return no_such_object(req.method, object_id, self._trace())

    # --- the Send API (§3) -----------------------------------------------------------------

    def _messages(self, req: SimRequest, page: Page, given: dict[str, Any]) -> SimFlow[SimResponse]:
        try:
            send = decode_send(given, page.policy)
        except Refusal as exc:
            return self._refuse(exc)
        user = send.recipient.value if send.recipient.kind == "id" else None
        stop = yield from self._fault("messenger.send", page.cfg.page_id, user)
        if stop is not None:
            return stop
        # Kept as sent, without the token: the outbox must not show secrets.
        raw = json.dumps(
            {k: v for k, v in given.items() if k not in _SECRET_PARAMS}, separators=(",", ":")
        ).encode()
        try:
            return self.accept_send(page, send, raw)
        except Refusal as exc:
            return self._refuse(exc)

    def accept_send(self, page: Page, send: Send, raw: bytes) -> SimResponse:
        """Run the rules on a decoded send and answer as Messenger does.

        Raises:
            Refusal: the first rule broken; nothing has changed then.
        """
        now = self.world.now()
        recipient = send.recipient
        comment: Comment | None = None
        if recipient.kind == "id":
            customer = page.customers.get(recipient.value)
            if customer is None:
                raise Refusal(NO_SUCH_USER)  # pitfall 7: unknown, or another Page's PSID
        else:
            comment = page.comments.get(recipient.value)
            if comment is None or (recipient.kind == "post_id") != (comment.item == "post"):
                raise invalid(f"Param recipient[{recipient.kind}] names nothing on this Page")
            customer = page.customers[comment.user]
        for attachment_id in send.attachment_ids:
            stored = self.attachments.get(attachment_id)
            if (
                stored is None
                or stored.page != page.cfg.page_id
                or now > stored.created + ATTACHMENT_TTL
            ):
                raise Refusal(BAD_ATTACHMENT)
        kind = "text" if send.content is None else rules.rate_kind(send.content)
        state = ConversationState(
            now=now,
            last_inbound_at=customer.last_inbound,
            app=page.cfg.app_id,
            owner_app=customer.owner_app,
            human_agent=page.cfg.human_agent,
            comment_id=comment.id if comment else None,
            comment_at=comment.created if comment else None,
            comment_replied=comment.replied if comment else False,
            text_bucket=page.buckets["text"],
            media_bucket=page.buckets["media"],
        )
        refusal = check(send, state, page.policy)
        if refusal is not None:
            raise refusal
        # --- checked: from here on, state changes ---
        if send.sender_action is not None:  # not a message: no rate spent (see policy.check)
            customer.last_action = send.sender_action
            return json_response({"recipient_id": customer.psid})
        page.spend(kind, now)
        mid = self._mid()
        out: dict[str, Any] = {"recipient_id": customer.psid, "message_id": mid}
        if comment is not None:
            comment.replied = True
        if send.reusable:
            out["attachment_id"] = self._keep_url(page, send).id
        customer.last_sent = now
        entry = OutboxEntry(
            seq=self.world.next_seq(),
            platform=self.name,
            account=page.cfg.page_id,
            user=customer.psid,
            message_id=mid,
            type=send.kind,
            text=_text_of_raw,  # read back from raw: not stored twice (DESIGN §5)
            timestamp=now,
            raw=raw,
            callback=send.metadata,
        )
        self.world.sent(entry)
        message = dict(send.message or {})
        self.world.schedule(now, self._echo, page, entry, message)
        cfg = page.cfg
        self.world.schedule(now + cfg.deliver_after, self._delivered, page, entry)
        if cfg.read_after is not None:
            self.world.schedule(
                now + max(cfg.read_after, cfg.deliver_after), self._read, page, entry
            )
        return json_response(out)

    def _keep_url(self, page: Page, send: Send) -> StoredAttachment:
        """An attachment sent with ``is_reusable``: saved, its id in the answer (§3.3)."""
        message = send.message or {}
        attachment = message.get("attachment") or {}
        payload = attachment.get("payload") or {}
        return self._store(
            page, str(attachment.get("type")), url=payload.get("url"), data=None, mime=None
        )

    def _store(
        self, page: Page, kind: str, *, url: str | None, data: bytes | None, mime: str | None
    ) -> StoredAttachment:
        stored = StoredAttachment(
            id=self.world.digits(16),
            page=page.cfg.page_id,
            type=kind,
            created=self.world.now(),
            url=url,
            data=data,
            mime_type=mime or "application/octet-stream",
        )
        self.attachments[stored.id] = stored
        return stored

    # --- webhooks ------------------------------------------------------------------------

    def _delivery(
        self,
        page: Page,
        kind: str,
        entry: dict[str, Any],
        *,
        conversation: str,
    ) -> Delivery | None:
        """The signed webhook of one entry; ``conversation`` (the PSID) orders it."""
        cfg = page.cfg
        url = self.world.webhook_url(self.name, cfg.page_id, cfg.webhook_url)
        if not url:
            return None
        body = encode({"object": "page", "entry": [entry]})
        return Delivery(
            id=self.world.next_seq(),
            platform=self.name,
            account=cfg.page_id,
            kind=kind,
            url=url,
            body=body,
            headers=(
                ("content-type", "application/json"),
                ("user-agent", "facebookexternalua"),
                ("x-hub-signature", sign_hub_sha1(cfg.app_secret, body)),
                ("x-hub-signature-256", sign_hub_sha256(cfg.app_secret, body)),
            ),
            conversation=conversation,
        )

    def _event(
        self,
        page: Page,
        customer: Customer,
        kind: str,
        event: dict[str, Any],
        *,
        standby: bool | None = None,
    ) -> Delivery | None:
        """A messaging event, in ``messaging`` or, when another app owns the thread, in
        ``standby`` (§2.1); ``standby=False`` for what is addressed to the app itself."""
        if standby is None:
            owner = customer.owner_app
            standby = owner is not None and owner != page.cfg.app_id
        where = "standby" if standby else "messaging"
        entry = {"id": page.cfg.page_id, "time": _ms(self.world.now()), where: [event]}
        return self._delivery(page, kind, entry, conversation=customer.psid)

    def _pair(self, page: Page, psid: str, *, from_page: bool = False) -> dict[str, Any]:
        """``sender`` and ``recipient``: the customer and the Page (reversed for echoes)."""
        user, me = {"id": psid}, {"id": page.cfg.page_id}
        return {"sender": me, "recipient": user} if from_page else {"sender": user, "recipient": me}

    def _echo(
        self, at: float, page: Page, entry: OutboxEntry, message: dict[str, Any]
    ) -> Delivery | None:
        """``message_echoes``: every message the Page sends, echoed (§2.2; research §4)."""
        echo: dict[str, Any] = {
            "is_echo": True,
            "app_id": int(page.cfg.app_id),  # a number in echoes (research §4)
            "mid": entry.message_id,
        }
        if entry.callback is not None:
            echo["metadata"] = entry.callback
        if isinstance(message.get("text"), str):
            echo["text"] = message["text"]
        attachment = message.get("attachment")
        if isinstance(attachment, dict):
            echo["attachments"] = [
                {"type": attachment.get("type"), "payload": attachment.get("payload") or {}}
            ]
        if message.get("sticker_id") is not None:
            sticker = int(str(message["sticker_id"]))
            url = f"https://scontent.xx.fbcdn.net/v/t39.1997-6/{sticker}.png"
            echo["attachments"] = [
                {"type": "image", "payload": {"url": url, "sticker_id": sticker}}
            ]
        if isinstance(message.get("quick_replies"), list):
            echo["quick_replies"] = message["quick_replies"]
        entry.status = "sent"
        event = {**self._pair(page, entry.user, from_page=True), "timestamp": _ms(entry.timestamp)}
        event["message"] = echo
        customer = page.customers[entry.user]
        return self._event(page, customer, "echo", event)

    def _delivered(self, at: float, page: Page, entry: OutboxEntry) -> Delivery | None:
        """``message_deliveries``: mids and a watermark, no timestamp (research §4)."""
        if entry.status in ("accepted", "sent"):
            entry.status = "delivered"
        event = {
            **self._pair(page, entry.user),
            "delivery": {"mids": [entry.message_id], "watermark": _ms(entry.timestamp)},
        }
        return self._event(page, page.customers[entry.user], "delivery", event)

    def _read(self, at: float, page: Page, entry: OutboxEntry) -> Delivery | None:
        """``message_reads``: everything sent up to the watermark was read (§2.2)."""
        entry.status = "read"
        event = {
            **self._pair(page, entry.user),
            "timestamp": _ms(at),
            "read": {"watermark": _ms(entry.timestamp)},
        }
        return self._event(page, page.customers[entry.user], "read", event)

    # --- the customer's side (control plane) -----------------------------------------------

    def inbound(self, spec: dict[str, Any]) -> tuple[Delivery | None, dict[str, Any]] | str:
        """A customer acts: the window, the thread, the signed webhook.

        Returns ``(delivery, message)`` or an error sentence. Everything is checked before
        anything changes: a refused action opens no window and stores nothing.
        """
        page = self._page(spec.get("account"))
        if page is None:
            return "unknown or ambiguous 'account' (the page_id)"
        user = spec.get("user")
        if not isinstance(user, str) or not user.isascii() or not user.isdigit() or len(user) > 32:
            return "'user' (the customer's PSID, digits) is required"
        for key in ("first_name", "last_name"):
            if spec.get(key) is not None and not isinstance(spec[key], str):
                return f"'{key}' must be a string"
        try:
            action = parse(spec)
            self._check_comment(page, action)
        except Refused as exc:
            return str(exc)
        # --- checked: from here on, state changes ---
        first, _, last = str(spec.get("name") or "").partition(" ")
        customer = page.customer(
            user,
            str(spec.get("first_name") or first or "Customer"),
            str(spec.get("last_name") or last),
        )
        return self._apply(page, customer, action)

    def _check_comment(self, page: Page, action: Action) -> None:
        if action.kind != "comment":
            return
        part = action.part
        key = part.get("comment_id") if part["item"] == "comment" else part.get("post_id")
        exists = key is not None and key in page.comments
        if part["verb"] == "add" and exists:
            field = "comment_id" if part["item"] == "comment" else "post_id"
            raise Refused(f"comment.{field}: already exists")
        if part["verb"] != "add" and key is not None and not exists:
            raise Refused("comment.comment_id: no such comment on this Page")

    def _apply(
        self, page: Page, customer: Customer, action: Action
    ) -> tuple[Delivery | None, dict[str, Any]]:
        now = self.world.now()
        owner = customer.owner_app
        standby = owner is not None and owner != page.cfg.app_id
        kind, part = action.kind, dict(action.part)
        base = {**self._pair(page, customer.psid), "timestamp": _ms(now)}
        ident: str
        if kind == "message":
            ident = str(part.pop("mid", None) or self._mid())
            message = {"mid": ident, **part}
            if action.upload is not None:
                media, data, mime = action.upload
                stored = self._store(page, media, url=None, data=data, mime=mime)
                stored.url = self._attachment_url(page, stored)
                message["attachments"] = [{"type": media, "payload": {"url": stored.url}}]
            self._sticker_as_image(message, now)
            customer.last_inbound = now  # §4: every message opens or refreshes the window
            event = {**base, "message": message}
        elif kind == "postback":
            ident = self._mid()
            event = {**base, "postback": self._postback(part, ident, standby)}
            customer.last_inbound = now  # a tapped button is an eligible action (§4)
        elif kind == "referral":
            if customer.last_inbound is None and customer.last_sent is None:
                # §2.2: a new thread's referral comes inside the Get Started postback.
                kind, ident = "postback", self._mid()
                started = page.profile.get("get_started")
                payload = started.get("payload") if isinstance(started, dict) else None
                postback = {"title": "Get Started", "payload": payload or "GET_STARTED"}
                postback["referral"] = part
                event = {**base, "postback": self._postback(postback, ident, standby)}
                customer.last_inbound = now
            else:
                ident = f"referral.{self.world.next_seq()}"
                event = {**base, "referral": part}
                # Opening the thread is the customer's own action: it moves the window, as the
                # SDK's state_ops have it (UNVERIFIED on Meta's policy page).
                customer.last_inbound = now
        elif kind == "reaction":
            ident = str(part["mid"])
            event = {**base, "reaction": part}
        elif kind == "read":
            default = customer.last_sent if customer.last_sent is not None else now
            part.setdefault("watermark", _ms(default))
            ident = f"read.{self.world.next_seq()}"
            event = {**base, "read": part}
        else:
            return self._comment(page, customer, part)
        delivery = self._event(page, customer, kind, event)
        return delivery, {"id": ident, "kind": kind, "standby": standby, "event": event}

    @staticmethod
    def _postback(part: dict[str, Any], mid: str, standby: bool) -> dict[str, Any]:
        postback = {"mid": mid, **part}
        if standby:
            postback.pop("payload", None)  # §2.2: in standby the payload is stripped
        return postback

    def _sticker_as_image(self, message: dict[str, Any], now: float) -> None:
        """Pitfall 12: until 2026-08-30 a sticker also comes as an image attachment."""
        attachments = message.get("attachments")
        if now >= _STICKER_AS_IMAGE_UNTIL or not isinstance(attachments, list):
            return
        extra = [
            {"type": "image", "payload": dict(a["payload"])}
            for a in attachments
            if isinstance(a, dict)
            and a.get("type") == "sticker"
            and isinstance(a.get("payload"), dict)
        ]
        attachments.extend(extra)

    def _comment(
        self, page: Page, customer: Customer, part: dict[str, Any]
    ) -> tuple[Delivery | None, dict[str, Any]]:
        """A comment on the Page's post: a ``feed`` change (§2.1; research §4's capture)."""
        now = self.world.now()
        page_id = page.cfg.page_id
        item, verb = part["item"], part["verb"]
        post_id = part.get("post_id")
        if post_id is None:
            known = page.comments.get(part.get("comment_id") or "")
            post_id = known.post_id if known else f"{page_id}_{self.world.digits(17)}"
        value: dict[str, Any] = {
            "from": {"id": customer.psid, "name": customer.name},
            "post_id": post_id,
        }
        ident = post_id
        if item == "comment":
            ident = (
                part.get("comment_id") or f"{post_id.rpartition('_')[2]}_{self.world.digits(16)}"
            )
            value["comment_id"] = ident
            value["parent_id"] = part.get("parent_id") or post_id  # top level: the post
        value.update(
            {"created_time": int(now), "item": item, "verb": verb, "message": part["message"]}
        )
        if verb == "add":
            page.comments[ident] = Comment(
                id=ident,
                post_id=post_id,
                user=customer.psid,
                message=part["message"],
                created=now,
                item=item,
            )
        elif verb == "edited" and ident in page.comments:
            page.comments[ident].message = part["message"]
        elif verb in ("remove", "hide"):
            page.comments.pop(ident, None)  # nothing left to reply to
        # Feed entries count time in seconds (research §4), messaging ones in milliseconds.
        entry = {
            "id": page_id,
            "time": int(now),
            "changes": [{"field": "feed", "value": value}],
        }
        delivery = self._delivery(page, "feed", entry, conversation=customer.psid)
        return delivery, {"id": ident, "kind": "feed", "standby": False, "event": value}

    def _attachment_url(self, page: Page, stored: StoredAttachment) -> str:
        return f"{self.world.origin}{ATTACHMENT_PATH}{stored.id}?hash={self._url_hash(page, stored.id)}"

    @staticmethod
    def _url_hash(page: Page, attachment_id: str) -> str:
        key = page.cfg.app_secret.encode()
        return hmac.new(key, attachment_id.encode(), hashlib.sha256).hexdigest()[:32]

    def _download(self, req: SimRequest) -> SimFlow[SimResponse]:
        yield from ()  # a flow that needs no effect
        attachment_id = req.path[len(ATTACHMENT_PATH) :].strip("/")
        stored = self.attachments.get(attachment_id)
        page = self.pages.get(stored.page) if stored is not None else None
        if stored is None or page is None or stored.data is None:
            return self._fail(GraphError(100, "Invalid parameter", status=404))
        given = (req.arg("hash") or "").encode("utf-8", "surrogatepass")
        if not hmac.compare_digest(self._url_hash(page, stored.id).encode(), given):
            return self._fail(GraphError(100, "Invalid parameter", status=404))
        return SimResponse(status=200, body=stored.data, content_type=stored.mime_type)

    def handshake(self, account: str | None, challenge: str) -> Delivery | str:
        """The GET verification request Meta sends when a callback URL is set (§1.1)."""
        page = self._page(account)
        if page is None:
            return "unknown or ambiguous 'account'"
        cfg = page.cfg
        return hub_handshake(
            self.world, self.name, cfg.page_id, cfg.webhook_url, cfg.verify_token, challenge
        )

    # --- the Attachment Upload API (§3.3) ---------------------------------------------------

    def _upload(self, req: SimRequest, page: Page, given: dict[str, Any]) -> SimFlow[SimResponse]:
        stop = yield from self._fault("messenger.upload", page.cfg.page_id)
        if stop is not None:
            return stop
        try:
            kind, url, data, mime = self._upload_body(req, given)
        except Refusal as exc:
            return self._refuse(exc)
        stored = self._store(page, kind, url=url, data=data, mime=mime)
        return json_response({"attachment_id": stored.id})

    @staticmethod
    def _upload_body(
        req: SimRequest, given: dict[str, Any]
    ) -> tuple[str, str | None, bytes | None, str | None]:
        """``message.attachment`` (a JSON or form body, or multipart with ``filedata``)."""
        from ..whatsapp.inbound import MIME_TYPE
        from ..whatsapp.media import parse_multipart

        files: dict[str, tuple[str, str, bytes]] = {}
        message: Any = given.get("message")
        ctype = req.headers.get("content-type", "")
        if ctype.lower().startswith("multipart/form-data"):
            fields, files = parse_multipart(ctype, req.body)
            try:
                message = loads(fields.get("message", ""))
            except BadJSON:
                raise invalid("param message must be JSON") from None
        if not isinstance(message, dict) or not isinstance(message.get("attachment"), dict):
            raise invalid("The parameter message[attachment] is required")
        attachment = message["attachment"]
        kind = attachment.get("type")
        if kind not in ("image", "audio", "video", "file"):
            raise invalid(
                "Param message[attachment][type] must be one of {image, audio, video, file}"
            )
        payload = attachment.get("payload")
        payload = payload if isinstance(payload, dict) else {}
        if "filedata" in files:
            _, mime, data = files["filedata"]
            if not MIME_TYPE.fullmatch(mime):
                raise invalid("param filedata has no valid Content-Type")
            return str(kind), None, data, mime
        url = payload.get("url")
        if (
            not isinstance(url, str)
            or not url.startswith(("http://", "https://"))
            or any(ch.isspace() or ord(ch) < 0x20 for ch in url)
        ):
            raise invalid("Param message[attachment][payload][url] must be a valid URL")
        return str(kind), url, None, None

    # --- the User Profile API (§8.2) --------------------------------------------------------

    def _user(self, page: Page, psid: str, given: dict[str, Any]) -> SimFlow[SimResponse]:
        stop = yield from self._fault("messenger.user_profile", page.cfg.page_id, psid)
        if stop is not None:
            return stop
        customer = page.customers.get(psid)
        if customer is None:
            return self._fail(NO_SUCH_USER)
        wanted = given.get("fields") or "first_name,last_name,profile_pic"
        if not isinstance(wanted, str):
            return self._refuse(invalid("Param fields must be a comma-separated string"))
        values: dict[str, Any] = {
            "id": customer.psid,
            "name": customer.name,
            "first_name": customer.first_name,
            "last_name": customer.last_name,
            "profile_pic": customer.profile_pic
            or f"https://platform-lookaside.fbsbx.com/platform/profilepic/?psid={psid}",
            "locale": customer.locale,
        }
        out: dict[str, Any] = {}
        for name in (f.strip() for f in wanted.split(",")):
            if name in _APPROVED_ONLY or not name:
                continue
            if name not in _USER_FIELDS:
                return self._refuse(
                    invalid(f"Tried accessing nonexisting field ({name}) on node type (User)")
                )
            if values[name] is not None:
                out[name] = values[name]
        out["id"] = customer.psid  # Graph always answers the id
        return json_response(out)

    def _page_info(
        self, req: SimRequest, page: Page, given: dict[str, Any]
    ) -> SimFlow[SimResponse]:
        yield from ()  # a flow that needs no effect
        return json_response({"name": page.cfg.page_name, "id": page.cfg.page_id})

    def _subscribed_apps(
        self, req: SimRequest, page: Page, given: dict[str, Any]
    ) -> SimFlow[SimResponse]:
        yield from ()  # a flow that needs no effect
        if req.method.upper() == "GET":
            app = {"id": page.cfg.app_id, "name": "omnimsg app", "subscribed_fields": ["messages"]}
            return json_response({"data": [app]})
        return json_response({"success": True})

    # --- the Messenger Profile API (research §5.1) ------------------------------------------

    def _profile(
        self,
        page: Page,
        given: dict[str, Any],
        act: Callable[[Page, dict[str, Any]], dict[str, Any]],
    ) -> SimFlow[SimResponse]:
        """A Messenger Profile call: an injected fault first, then ``act``'s answer (its
        :class:`Refusal` as Graph's error, before anything changed)."""
        stop = yield from self._fault("messenger.profile", page.cfg.page_id)
        if stop is not None:
            return stop
        try:
            answer = act(page, given)
        except Refusal as exc:
            return self._refuse(exc)
        return json_response(answer)

    def _get_profile(
        self, req: SimRequest, page: Page, given: dict[str, Any]
    ) -> SimFlow[SimResponse]:
        return self._profile(page, given, _read_profile)

    def _set_profile(
        self, req: SimRequest, page: Page, given: dict[str, Any]
    ) -> SimFlow[SimResponse]:
        return self._profile(page, given, _update_profile)

    def _delete_profile(
        self, req: SimRequest, page: Page, given: dict[str, Any]
    ) -> SimFlow[SimResponse]:
        return self._profile(page, given, _delete_profile)

    # --- the handover protocol (§8.1) --------------------------------------------------------

    def _handover(
        self,
        page: Page,
        given: dict[str, Any],
        act: Callable[[Page, Customer, dict[str, Any]], None],
    ) -> SimFlow[SimResponse]:
        stop = yield from self._fault("messenger.handover", page.cfg.page_id)
        if stop is not None:
            return stop
        try:
            customer, _ = handover.thread(page, given)
            act(page, customer, given)
        except Refusal as exc:
            return self._refuse(exc)
        return json_response({"success": True})

    def _pass(self, req: SimRequest, page: Page, given: dict[str, Any]) -> SimFlow[SimResponse]:
        return self._handover(page, given, handover.pass_control)

    def _take(self, req: SimRequest, page: Page, given: dict[str, Any]) -> SimFlow[SimResponse]:
        return self._handover(page, given, handover.take_control)

    def _request(self, req: SimRequest, page: Page, given: dict[str, Any]) -> SimFlow[SimResponse]:
        return self._handover(page, given, handover.request_control)

    def _release(self, req: SimRequest, page: Page, given: dict[str, Any]) -> SimFlow[SimResponse]:
        return self._handover(page, given, handover.release_control)

    def _thread_owner(
        self, req: SimRequest, page: Page, given: dict[str, Any]
    ) -> SimFlow[SimResponse]:
        yield from ()  # a flow that needs no effect
        try:
            customer, _ = handover.thread(page, {"recipient": {"id": given.get("recipient")}})
        except Refusal as exc:
            return self._refuse(exc)
        if customer.owner_app is None:
            return json_response({"data": []})  # idle (UNVERIFIED: Graph's answer for idle)
        return json_response({"data": [{"thread_owner": {"app_id": customer.owner_app}}]})

    def _secondary_receivers(
        self, req: SimRequest, page: Page, given: dict[str, Any]
    ) -> SimFlow[SimResponse]:
        yield from ()  # a flow that needs no effect
        try:
            fields = handover.receiver_fields(given.get("fields"))
        except Refusal as exc:
            return self._refuse(exc)
        receivers = [{"id": app, "name": handover.app_name(app)} for app in page.apps[1:]]
        return json_response({"data": [{k: r[k] for k in fields} for r in receivers]})

    # --- Messenger's own control plane (/_sim/messenger/...) ----------------------------------

    def control(
        self, req: SimRequest, operation: str, body: Any, deliver: Deliverer
    ) -> SimFlow[SimResponse] | None:
        """``GET threads`` (who owns each thread) and ``POST handover`` (another app, such as
        the Page Inbox, passes, takes or asks for a thread)."""
        method = req.method.upper()
        if operation == "threads" and method == "GET":
            return self._threads(req)
        if operation == "handover" and method == "POST":
            return self._control_handover(body, deliver)
        return None

    def _threads(self, req: SimRequest) -> SimFlow[SimResponse]:
        yield from ()  # a flow that needs no effect
        account, user = req.arg("account"), req.arg("user")
        threads = [
            {
                "account": page_id,
                "user": c.psid,
                "owner_app_id": c.owner_app,
                "requested_by": c.requested_by,
            }
            for page_id, page in self.pages.items()
            if account in (None, page_id)
            for c in page.customers.values()
            if user in (None, c.psid)
        ]
        return json_response({"threads": threads})

    def _control_handover(self, body: Any, deliver: Deliverer) -> SimFlow[SimResponse]:
        if not isinstance(body, dict):
            return control_error(400, "the body must be a JSON object")
        page = self._page(body.get("account"))
        if page is None:
            return control_error(400, "unknown or ambiguous 'account' (the page_id)")
        try:
            customer, event = handover.by_other_app(page, body, _ms(self.world.now()))
        except Refused as exc:
            return control_error(400, str(exc))
        delivery = None
        if event is not None:
            event = {**self._pair(page, customer.psid), **event}
            # Handover events are addressed to the app itself: never in standby.
            delivery = self._event(page, customer, "handover", event, standby=False)
        outcome = None if delivery is None else (yield from deliver(delivery))
        thread = {
            "account": page.cfg.page_id,
            "user": customer.psid,
            "owner_app_id": customer.owner_app,
        }
        return json_response({"thread": thread, "delivery": outcome})

    def state(self) -> dict[str, Any]:
        """A JSON snapshot for ``GET /_sim/state``."""
        now = self.world.now()
        return {
            page_id: {
                "page_name": page.cfg.page_name,
                "app_id": page.cfg.app_id,
                "tag_profile": page.policy.name,
                "customers": [c.to_json(now, page.policy) for c in page.customers.values()],
                "comments": [c.to_json() for c in page.comments.values()],
                "messenger_profile": page.profile,
                "attachments": sorted(a.id for a in self.attachments.values() if a.page == page_id),
            }
            for page_id, page in self.pages.items()
        }

    def window_open(self, page_id: str, psid: str) -> bool:
        """Is the customer's 24-hour window open now (for tests)?"""
        page = self.pages[page_id]
        customer = page.customers.get(psid)
        now = self.world.now()
        return customer is not None and rules.window_open(customer.last_inbound, now, page.policy)


# --- the Messenger Profile API's three operations (research §5.1) ------------------------------


def _read_profile(page: Page, given: dict[str, Any]) -> dict[str, Any]:
    fields = profile.field_list(given.get("fields"))
    return {"data": [{name: page.profile[name]} for name in fields if name in page.profile]}


def _update_profile(page: Page, given: dict[str, Any]) -> dict[str, Any]:
    page.profile.update(profile.validate(given, page.profile))  # validated whole, then set
    return {"result": "success"}


def _delete_profile(page: Page, given: dict[str, Any]) -> dict[str, Any]:
    for name in profile.field_list(given.get("fields")):  # every name checked before any goes
        page.profile.pop(name, None)
    return {"result": "success"}
