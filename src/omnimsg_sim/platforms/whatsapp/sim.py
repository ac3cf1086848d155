"""The simulated WhatsApp Cloud API (spec/whatsapp.md), served at the real Graph paths.

Requests are decoded and checked here, against the rules of :mod:`omnimsg.rules.whatsapp`
(the same code the SDK runs before sending), then applied to the state of
:mod:`~omnimsg_sim.platforms.whatsapp.state` and answered with the native errors of
:mod:`~omnimsg_sim.platforms.whatsapp.errors`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

import orjson

from omnimsg.models.content import Content, Media, Reaction, Template, Text
from omnimsg.platforms.whatsapp.wire import OutboundError, decode_outbound
from omnimsg.rules import whatsapp as rules
from omnimsg.signing import sign_hub_sha256

from ...answers import control_error, json_response, require_strings
from ...config import WhatsAppAccount, WhatsAppTemplateSeed
from ...effects import Delivery, DeliveryOutcome, SimFlow, SimRequest, SimResponse
from ...faults import Faults
from ...safejson import BadJSON, loads
from ...world import OutboxEntry, World
from ..adapter import Deliverer
from ..graph import (
    GraphError,
    fault_answer,
    graph_error,
    hub_handshake,
    no_such_object,
    request_token,
    token_error,
    violation_response,
)
from .errors import (
    DUPLICATE_TEMPLATE,
    INVALID_PARAMETER,
    MEDIA_UPLOAD,
    MISSING_PARAMETER,
    NOT_FOUND,
    UNDELIVERABLE,
    UNKNOWN_ERROR,
    window_closed,
)
from .inbound import (
    MEDIA_KINDS,
    MIME_TYPE,
    Refused,
    check_message,
    decode_base64,
    message_object,
    quote_interactive,
)
from .media import DEFAULT_MIME, MEDIA_TTL, URL_TTL, limit_for, parse_multipart
from .state import Customer, Number, StoredMedia, StoredTemplate, is_bsuid, normalize_phone
from .templates import filter_templates, page, paging, summary, with_examples

__all__ = ["WhatsAppSim"]

# Status progressions: (status, seconds after the send). Shared by every message.
_FAILED: tuple[tuple[str, float], ...] = (("failed", 0.0),)
_SENT_ONLY: tuple[tuple[str, float], ...] = (("sent", 0.0),)
# §3 pricing objects, shared by every status that carries them (never mutated).
_FREE_SERVICE: dict[str, Any] = {
    "billable": False,
    "pricing_model": "PMP",
    "category": "service",
    "type": "free_customer_service",
}
_FREE_UTILITY: dict[str, Any] = {
    "billable": False,
    "pricing_model": "PMP",
    "category": "utility",
    "type": "free_customer_service",
}
_REGULAR: dict[str, dict[str, Any]] = {
    category: {"billable": True, "pricing_model": "PMP", "category": category, "type": "regular"}
    for category in ("marketing", "utility", "authentication")
}


class WhatsAppSim:
    """Routes, state and webhooks of the simulated WhatsApp Cloud API.

    A :class:`~omnimsg_sim.platforms.adapter.SimPlatform` and a Graph tenant: it owns its
    phone-number ids, WABA ids, media ids and template ids on the shared Graph host.
    """

    name = "whatsapp"
    operations = (("GET", "templates"), ("POST", "templates/status"))

    def __init__(self, accounts: tuple[WhatsAppAccount, ...], world: World, faults: Faults) -> None:
        self.world = world
        self.faults = faults
        self.numbers: dict[str, Number] = {a.phone_number_id: Number(a, world) for a in accounts}
        self.by_waba: dict[str, Number] = {
            a.waba_id: self.numbers[a.phone_number_id] for a in accounts
        }
        self.templates: dict[str, StoredTemplate] = {}
        self.media: dict[str, StoredMedia] = {}
        self.subscribed: set[str] = set()
        self._waba_of: dict[str, str] = {}
        for a in accounts:
            for seed in a.templates:
                self._add_template(a.waba_id, seed, seeded=True)

    # --- helpers -------------------------------------------------------------------------

    def _trace(self) -> str:
        return "A" + self.world.token(22)

    def _wamid(self) -> str:
        return "wamid.HBgL" + self.world.token(48)

    def _fail(self, error: GraphError, details: str | None = None) -> SimResponse:
        return error.response(self._trace(), details)

    def _add_template(
        self, waba: str, seed: WhatsAppTemplateSeed, *, seeded: bool = False
    ) -> StoredTemplate:
        components = [dict(c) for c in seed.components]
        if seeded:
            # §6.3: every parameter has example values, given at creation; the config's
            # shorthand has no place for them, so seeded templates get stand-ins.
            components = with_examples(components, named=seed.parameter_format == "NAMED")
        t = StoredTemplate(
            id=self.world.digits(15),
            name=seed.name,
            language=seed.language,
            category=seed.category,
            status=seed.status,
            parameter_format=seed.parameter_format,
            components=components,
        )
        self.templates[t.id] = t
        self._waba_of[t.id] = waba
        return t

    def _number(self, account: str | None) -> Number | None:
        if account is None:
            return next(iter(self.numbers.values())) if len(self.numbers) == 1 else None
        return self.numbers.get(account)

    def _auth(self, req: SimRequest, token: str) -> SimResponse | None:
        error = token_error(request_token(req) or "", token)
        return None if error is None else self._fail(error)

    def _fault(
        self, operation: str, account: str | None, user: str | None = None
    ) -> SimFlow[SimResponse | None]:
        fault = self.faults.take(self.name, operation, account, user)
        return fault_answer(fault, UNKNOWN_ERROR, self._injected)

    def _injected(self, error: GraphError, message: str | None) -> SimResponse:
        return self._fail(error, message or "injected by /_sim/faults")

    def _guard(
        self, req: SimRequest, number: Number, operation: str
    ) -> SimFlow[SimResponse | None]:
        """Auth, then any injected fault: the answer to give instead, or ``None`` to go on."""
        denied = self._auth(req, number.cfg.access_token)
        if denied:
            return denied
        return (yield from self._fault(operation, number.cfg.phone_number_id))

    # --- the seam (omnimsg_sim.platforms.adapter) ------------------------------------------

    def accounts(self) -> list[str]:
        """The phone-number ids served."""
        return sorted(self.numbers)

    def error(self, status: int, message: str) -> SimResponse:
        """Graph's envelope, code 100, for an error the core answers (a body too large)."""
        return graph_error(100, "Invalid parameter", details=message, status=status)

    def answered(self, delivery: Delivery, outcome: DeliveryOutcome) -> None:
        """WhatsApp reads nothing from the app's answer but its status (§1.3)."""

    def owns(self, object_id: str) -> bool:
        """Phone-number, WABA, media and template ids are WhatsApp's on the Graph host."""
        return (
            object_id in self.numbers
            or object_id in self.by_waba
            or object_id in self.media
            or object_id in self.templates
        )

    def route(self, req: SimRequest) -> SimFlow[SimResponse] | None:
        """WhatsApp's own (non-Graph) path: the media download (§7.3)."""
        if req.path.startswith("/whatsapp_business/attachments"):
            return self._download(req)
        return None

    def graph(self, req: SimRequest, object_id: str, edge: str | None) -> SimFlow[SimResponse]:
        """Answer ``/{version}/{object_id}[/{edge}]`` for one of WhatsApp's objects."""
        method = req.method.upper()
        number = self.numbers.get(object_id)
        if number is not None:
            if edge == "messages" and method == "POST":
                return self._messages(req, number)
            if edge == "media" and method == "POST":
                return self._upload(req, number)
            if edge is None and method == "GET":
                return self._phone_info(req, number)
        waba = self.by_waba.get(object_id)
        if waba is not None:
            if edge == "message_templates":
                if method == "POST":
                    return self._create_template(req, waba)
                if method == "GET":
                    return self._list_templates(req, waba)
                if method == "DELETE":
                    return self._delete_template(req, waba)
            if edge == "subscribed_apps":
                return self._subscribed_apps(req, waba)
        if edge is None and object_id in self.media:
            return self._media_object(req, self.media[object_id])
        if edge is None and object_id in self.templates and method == "GET":
            return self._template_object(req, self.templates[object_id])
        return self._unsupported(req, object_id)

    def _unsupported(self, req: SimRequest, head: str) -> SimFlow[SimResponse]:
        yield from ()  # a flow that needs no effect
        return no_such_object(req.method, head, self._trace())

    # --- sending (§4, §5) ----------------------------------------------------------------

    def _messages(self, req: SimRequest, number: Number) -> SimFlow[SimResponse]:
        denied = self._auth(req, number.cfg.access_token)
        if denied:
            return denied
        try:
            body = loads(req.body)
        except BadJSON as exc:
            return self._fail(INVALID_PARAMETER, str(exc))
        if isinstance(body, dict) and body.get("status") == "read":
            return (yield from self._mark_read(body, number))
        try:
            given, content, reply_to = decode_outbound(body)
        except OutboundError as exc:
            title = "Required parameter is missing" if exc.code == 131008 else "Invalid parameter"
            return self._fail(GraphError(exc.code, title), str(exc))
        to = normalize_phone(given)
        injected = yield from self._fault("whatsapp.send", number.cfg.phone_number_id, to)
        if injected is not None:
            return injected
        return self.accept_send(number, to, content, reply_to, body, req.body, given=given)

    def send_state(
        self, number: Number, customer: Customer | None, content: Content, now: float
    ) -> rules.SendState:
        """The rules' view of a conversation, from simulated state."""
        template = None
        if isinstance(content, Template):
            stored = self._find_template(number.cfg.waba_id, content.name, content.language)
            template = stored.spec() if stored else None
        user = customer.wa_id if customer else ""
        last = customer.last_inbound if customer else None
        counts = rules.counts_toward_tier(content, rules.window_open(last, now, number.policy))
        return rules.SendState(
            now=now,
            last_inbound_at=last,
            template=template,
            templates_known=True,
            pair=customer.pair if (customer and number.cfg.pair_rate) else None,
            tier_used=number.tier_used(now) if counts else 0,
            tier_counted=counts and number.tier_counted(user, now),
        )

    def accept_send(
        self,
        number: Number,
        to: str,
        content: Content,
        reply_to: str | None,
        body: Any,
        raw: bytes,
        *,
        given: str | None = None,
    ) -> SimResponse:
        """Run the rules on a decoded send and answer as WhatsApp does.

        ``to`` is the normalised recipient; ``given`` what the request said (the answer's
        ``contacts[].input``, spec §4.3), ``to`` when omitted.
        """
        now = self.world.now()
        customer = number.customers.get(to)
        # A new customer's state is the empty one; the customer is only created once the
        # send is taken, so that a refused send changes nothing (DESIGN §6).
        state = self.send_state(number, customer, content, now)
        violations = rules.check_send(content, state, number.policy)
        async_failure: dict[str, Any] | None = None
        if violations:
            first = violations[0]
            if (
                first.rule_id == "whatsapp.window.customer_service"
                and number.cfg.window_error == "async"
            ):
                # §5.1: in production 131047 arrives as a `failed` status after a 200.
                async_failure = window_closed(first.title or first.message, first.details)
            else:
                return violation_response(first, self._trace())
        if customer is None and number.cfg.unknown_customers == "accept" and not is_bsuid(to):
            customer = number.add_customer(to, "Customer")
        if customer is None:
            async_failure = UNDELIVERABLE
        message_id = self._wamid()
        if customer is not None and async_failure is None:
            if number.cfg.pair_rate:
                customer.pair = rules.consume_pair(customer.pair, now, number.policy)
            if rules.counts_toward_tier(
                content, rules.window_open(customer.last_inbound, now, number.policy)
            ):
                number.count_tier(customer.wa_id, now)
            if body.get("type") == "interactive":
                customer.last_interactive = message_id
        entry = OutboxEntry(
            seq=self.world.next_seq(),
            platform="whatsapp",
            account=number.cfg.phone_number_id,
            user=customer.wa_id if customer else to,
            message_id=message_id,
            type=str(body.get("type", "text")),
            text=self._describe(number, content),
            timestamp=now,
            raw=raw,  # type=: interned by OutboxEntry
            callback=body.get("biz_opaque_callback_data")
            if isinstance(body.get("biz_opaque_callback_data"), str)
            else None,
        )
        self.world.sent(entry)
        self._schedule_statuses(number, entry, content, state, async_failure)
        out: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "contacts": [{"input": given or to, "wa_id": customer.wa_id if customer else to}],
            "messages": [{"id": message_id}],
        }
        if isinstance(content, Template):
            out["messages"][0]["message_status"] = "accepted"
        return json_response(out)

    def _describe(
        self, number: Number, content: Content
    ) -> str | Callable[[bytes], str | None] | None:
        """The outbox's ``text``: a template rendered now, else read back from the raw body."""
        if isinstance(content, Template):
            stored = self._find_template(number.cfg.waba_id, content.name, content.language)
            return stored.render(content) if stored else f"[template {content.name}]"
        return _text_of_raw  # the body holds it already: not stored twice (DESIGN §5)

    def _pricing(self, number: Number, content: Content, state: rules.SendState) -> dict[str, Any]:
        """§3: per-message pricing since 2025-07-01; free-form in the window is free.

        The answer is one of a few shared dicts (a backlog of statuses holds one per message;
        nothing mutates them).
        """
        is_open = rules.window_open(state.last_inbound_at, state.now, number.policy)
        if isinstance(content, Template) and state.template is not None:
            category = state.template.category.lower()
            if category == "utility" and is_open:
                return _FREE_UTILITY
            known = _REGULAR.get(category)
            if known is not None:
                return known
            return {
                "billable": True,
                "pricing_model": "PMP",
                "category": category,
                "type": "regular",
            }
        return _FREE_SERVICE

    def _schedule_statuses(
        self,
        number: Number,
        entry: OutboxEntry,
        content: Content,
        state: rules.SendState,
        failure: dict[str, Any] | None,
    ) -> None:
        if failure is not None:
            entry.errors = (failure,)
            self.world.schedule(entry.timestamp, self._step, number, entry, _FAILED, 0, None)
            return
        # §3: reactions only get `sent`.
        steps = _SENT_ONLY if isinstance(content, Reaction) else number.progression
        pricing = self._pricing(number, content, state)
        self.world.schedule(entry.timestamp, self._step, number, entry, steps, 0, pricing)

    def _step(
        self,
        at: float,
        number: Number,
        entry: OutboxEntry,
        steps: tuple[tuple[str, float], ...],
        index: int,
        pricing: dict[str, Any] | None,
    ) -> Delivery | None:
        """One status of a message; the next one is scheduled only then (one queue item each)."""
        status = steps[index][0]
        if index + 1 < len(steps):
            nxt = steps[index + 1]
            self.world.schedule(
                entry.timestamp + nxt[1], self._step, number, entry, steps, index + 1, pricing
            )
        return self._status(
            number,
            entry,
            status,
            at,
            pricing=pricing,
            errors=entry.errors if status == "failed" else None,
        )

    def _status(
        self,
        number: Number,
        entry: OutboxEntry,
        status: str,
        at: float,
        *,
        pricing: dict[str, Any] | None = None,
        errors: tuple[dict[str, Any], ...] | None = None,
    ) -> Delivery | None:
        entry.status = status
        item: dict[str, Any] = {
            "id": entry.message_id,
            "status": status,
            "timestamp": str(int(at)),
            "recipient_id": entry.user,
        }
        if entry.callback:
            item["biz_opaque_callback_data"] = entry.callback
        if pricing:
            item["pricing"] = pricing
        if errors:
            item["errors"] = list(errors)
        value = {
            "messaging_product": "whatsapp",
            "metadata": self._metadata(number),
            "contacts": [{"wa_id": entry.user}],  # §1.4: lean contacts on status webhooks
            "statuses": [item],
        }
        return self._delivery(number, "status", value, "messages", conversation=entry.user)

    def _metadata(self, number: Number) -> dict[str, str]:
        return {
            "display_phone_number": number.cfg.display_phone_number,
            "phone_number_id": number.cfg.phone_number_id,
        }

    def _delivery(
        self,
        number: Number,
        kind: str,
        value: dict[str, Any],
        field: str,
        *,
        conversation: str,
        time: float | None = None,
    ) -> Delivery | None:
        """The signed webhook of one change; ``conversation`` orders it (see dispatch)."""
        url = self.world.webhook_url("whatsapp", number.cfg.phone_number_id, number.cfg.webhook_url)
        if not url:
            return None
        entry: dict[str, Any] = {
            "id": number.cfg.waba_id,
            "changes": [{"value": value, "field": field}],
        }
        if time is not None:
            entry["time"] = int(time)
        payload = {"object": "whatsapp_business_account", "entry": [entry]}
        body = _encode(payload)
        return Delivery(
            id=self.world.next_seq(),
            platform="whatsapp",
            account=number.cfg.phone_number_id,
            kind=kind,
            url=url,
            body=body,
            headers=(
                ("content-type", "application/json"),
                ("user-agent", "facebookexternalua"),
                ("x-hub-signature-256", sign_hub_sha256(number.cfg.app_secret, body)),
            ),
            conversation=conversation,
        )

    def _mark_read(self, body: dict[str, Any], number: Number) -> SimFlow[SimResponse]:
        message_id = body.get("message_id")
        injected = yield from self._fault("whatsapp.mark_read", number.cfg.phone_number_id)
        if injected is not None:
            return injected
        if body.get("messaging_product") != "whatsapp" or not isinstance(message_id, str):
            return self._fail(INVALID_PARAMETER, "message_id is required")
        if message_id not in number.inbound_ids:
            return self._fail(INVALID_PARAMETER, f"unknown message_id {message_id}")
        return json_response({"success": True})

    # --- templates (§6) --------------------------------------------------------------------

    def _find_template(self, waba: str, name: str, language: str) -> StoredTemplate | None:
        for t in self.templates.values():
            if t.name == name and t.language == language and self._waba_of.get(t.id) == waba:
                return t
        return None

    def _create_template(self, req: SimRequest, number: Number) -> SimFlow[SimResponse]:
        stop = yield from self._guard(req, number, "whatsapp.create_template")
        if stop is not None:
            return stop
        try:
            body = loads(req.body)
        except BadJSON as exc:
            return self._fail(INVALID_PARAMETER, str(exc))
        if not isinstance(body, dict):
            return self._fail(INVALID_PARAMETER, "the body must be a JSON object")
        violations = rules.check_template_definition(
            name=body.get("name"),
            language=body.get("language"),
            category=body.get("category"),
            components=body.get("components"),
            parameter_format=body.get("parameter_format"),
            policy=number.policy,
        )
        if violations:
            return violation_response(violations[0], self._trace())
        if self._find_template(number.cfg.waba_id, body["name"], body["language"]):
            return self._fail(DUPLICATE_TEMPLATE, "Content in this language already exists")
        stored = self._add_template(
            number.cfg.waba_id,
            WhatsAppTemplateSeed(
                name=body["name"],
                language=body["language"],
                category=str(body["category"]).upper(),
                status="PENDING",
                parameter_format=str(body.get("parameter_format") or "POSITIONAL").upper(),
                components=tuple(body["components"]),
            ),
        )
        return json_response({"id": stored.id, "status": "PENDING", "category": stored.category})

    def _list_templates(self, req: SimRequest, number: Number) -> SimFlow[SimResponse]:
        """``GET /{waba-id}/message_templates``: filters, ``summary``, cursor pages (§6.1)."""
        stop = yield from self._guard(req, number, "whatsapp.list_templates")
        if stop is not None:
            return stop
        owned = [
            t for t in self.templates.values() if self._waba_of.get(t.id) == number.cfg.waba_id
        ]
        items = filter_templates(owned, req)
        try:
            start, end = page(items, req)
        except ValueError as exc:
            return self._fail(INVALID_PARAMETER, str(exc))
        shown = items[start:end]
        out: dict[str, Any] = {"data": [t.to_json() for t in shown]}
        if shown:
            out["paging"] = paging(req, shown, more_before=start > 0, more_after=end < len(items))
        fields = summary(req.arg("summary"), matched=len(items), owned=len(owned))
        if fields:
            out["summary"] = fields
        return json_response(out)

    def _delete_template(self, req: SimRequest, number: Number) -> SimFlow[SimResponse]:
        stop = yield from self._guard(req, number, "whatsapp.delete_template")
        if stop is not None:
            return stop
        name, hsm_id = req.arg("name"), req.arg("hsm_id")
        if not name:
            return self._fail(INVALID_PARAMETER, "name is required")
        doomed = [
            t.id
            for t in self.templates.values()
            if self._waba_of.get(t.id) == number.cfg.waba_id
            and t.name == name
            and (hsm_id is None or t.id == hsm_id)
        ]
        if not doomed:
            return self._fail(INVALID_PARAMETER, f"Message template {name!r} not found")
        for tid in doomed:
            del self.templates[tid]
        return json_response({"success": True})

    def _template_object(self, req: SimRequest, t: StoredTemplate) -> SimFlow[SimResponse]:
        yield from ()  # a flow that needs no effect
        number = self.by_waba[self._waba_of[t.id]]
        denied = self._auth(req, number.cfg.access_token)
        if denied:
            return denied
        return json_response(t.to_json())

    def set_template_status(
        self, waba: str | None, name: str, language: str, status: str, reason: str | None
    ) -> tuple[StoredTemplate, Delivery | None] | None:
        """Change a template's review state and build the status webhook (§6.5)."""
        number = (
            self.by_waba.get(waba)
            if waba
            else (next(iter(self.by_waba.values())) if len(self.by_waba) == 1 else None)
        )
        if number is None:
            return None
        stored = self._find_template(number.cfg.waba_id, name, language)
        if stored is None:
            return None
        stored.status = status.upper()
        stored.reason = reason
        now = self.world.now()
        value = {
            "event": stored.status,
            "message_template_id": int(stored.id),
            "message_template_name": stored.name,
            "message_template_language": stored.language,
            "reason": reason or "NONE",
            "message_template_category": stored.category,
        }
        return stored, self._delivery(
            number,
            "template_status",
            value,
            "message_template_status_update",
            conversation=stored.id,
            time=now,
        )

    # --- media (§7.3) -------------------------------------------------------------------------

    def _upload(self, req: SimRequest, number: Number) -> SimFlow[SimResponse]:
        stop = yield from self._guard(req, number, "whatsapp.upload_media")
        if stop is not None:
            return stop
        fields, files = parse_multipart(req.headers.get("content-type", ""), req.body)
        if fields.get("messaging_product") != "whatsapp":
            return self._fail(INVALID_PARAMETER, "messaging_product must be 'whatsapp'")
        if "file" not in files:
            return self._fail(MISSING_PARAMETER, "file is required")
        filename, mime, data = files["file"]
        mime = fields.get("type") or mime
        if not MIME_TYPE.fullmatch(mime):
            # The type becomes the download's Content-Type header: CR/LF (or anything else
            # that is not a MIME type) is refused here, before anything is stored.
            return self._fail(INVALID_PARAMETER, "type must be a MIME type such as image/png")
        limit = limit_for(mime)
        if len(data) > limit:
            return self._fail(MEDIA_UPLOAD, f"{mime} is limited to {limit} bytes")
        media = self.store_media(number, data, mime, filename)
        return json_response({"id": media.id})

    def store_media(
        self, number: Number, data: bytes, mime: str, filename: str | None = None
    ) -> StoredMedia:
        """Keep a media object and return it."""
        media = StoredMedia(
            id=self.world.digits(16),
            account=number.cfg.phone_number_id,
            data=data,
            mime_type=mime,
            sha256=hashlib.sha256(data).hexdigest(),
            created=self.world.now(),
            filename=filename,
        )
        self.media[media.id] = media
        return media

    def _media_object(self, req: SimRequest, media: StoredMedia) -> SimFlow[SimResponse]:
        number = self.numbers[media.account]
        denied = self._auth(req, number.cfg.access_token)
        if denied:
            return denied
        operation = (
            "whatsapp.delete_media" if req.method.upper() == "DELETE" else "whatsapp.media_info"
        )
        injected = yield from self._fault(operation, number.cfg.phone_number_id)
        if injected is not None:
            return injected
        now = self.world.now()
        if now - media.created > MEDIA_TTL:
            return no_such_object(req.method, media.id, self._trace())  # §7.3: gone after 30 days
        if req.method.upper() == "DELETE":
            del self.media[media.id]
            return json_response({"success": True})
        if req.method.upper() != "GET":
            return (yield from self._unsupported(req, media.id))
        expires = int(now + URL_TTL)
        sig = self._url_sig(number, media.id, expires)
        # Graph answers https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=...&ext=
        # ...&hash=... (§7.3), and clients GET it with their token. The simulator keeps that
        # path and query but on the host the request came to: omnimsg and most SDKs GET the
        # URL as given, so a lookaside.fbsbx.com URL would take them off the simulator (to
        # the real Meta, with the test's token). A client that swaps only its base URL thus
        # downloads from the simulator, like pywa, whose own transport serves every host.
        url = (
            f"{req.base_url}/whatsapp_business/attachments/?mid={media.id}&ext={expires}&hash={sig}"
        )
        return json_response(
            {
                "messaging_product": "whatsapp",
                "url": url,
                "mime_type": media.mime_type,
                "sha256": media.sha256,
                "file_size": len(media.data),
                "id": media.id,
            }
        )

    def _url_sig(self, number: Number, media_id: str, expires: int) -> str:
        return hmac.new(
            number.cfg.app_secret.encode(), f"{media_id}:{expires}".encode(), hashlib.sha256
        ).hexdigest()[:32]

    def _download(self, req: SimRequest) -> SimFlow[SimResponse]:
        media = self.media.get(req.arg("mid") or "")
        if media is None:
            return self._fail(NOT_FOUND, "unknown media")
        number = self.numbers[media.account]
        stop = yield from self._guard(req, number, "whatsapp.download_media")
        if stop is not None:
            return stop
        try:
            expires = int(req.arg("ext") or "0")
        except ValueError:
            expires = 0
        good = hmac.compare_digest(self._url_sig(number, media.id, expires), req.arg("hash") or "")
        if not good or self.world.now() > expires:
            # §7.3: the URL lives ~5 minutes; ask GET /{media-id} for a new one.
            return self._fail(NOT_FOUND, "the media URL is expired or invalid")
        return SimResponse(status=200, body=media.data, content_type=media.mime_type)

    # --- other objects ----------------------------------------------------------------------

    def _phone_info(self, req: SimRequest, number: Number) -> SimFlow[SimResponse]:
        yield from ()  # a flow that needs no effect
        denied = self._auth(req, number.cfg.access_token)
        if denied:
            return denied
        return json_response(
            {
                "id": number.cfg.phone_number_id,
                "display_phone_number": number.cfg.display_phone_number,
                "verified_name": number.cfg.verified_name,
                "quality_rating": "GREEN",
                "throughput": {"level": "STANDARD"},
                "code_verification_status": "VERIFIED",
            }
        )

    def _subscribed_apps(self, req: SimRequest, number: Number) -> SimFlow[SimResponse]:
        yield from ()  # a flow that needs no effect
        denied = self._auth(req, number.cfg.access_token)
        if denied:
            return denied
        method = req.method.upper()
        waba = number.cfg.waba_id
        if method == "POST":
            self.subscribed.add(waba)
            return json_response({"success": True})
        if method == "DELETE":
            self.subscribed.discard(waba)
            return json_response({"success": True})
        data = (
            [{"whatsapp_business_api_data": {"id": "sim-app", "name": "omnimsg app"}}]
            if waba in self.subscribed
            else []
        )
        return json_response({"data": data})

    # --- the customer's side (control plane) -----------------------------------------------

    def inbound(self, spec: dict[str, Any]) -> tuple[Delivery | None, dict[str, Any]] | str:
        """A customer writes: update the window, build the signed webhook.

        Returns ``(delivery, message)`` or an error sentence. Everything is checked before
        anything changes: a refused message opens no window and stores no media.
        """
        number = self._number(spec.get("account"))
        if number is None:
            return "unknown or ambiguous 'account' (the phone_number_id)"
        user = spec.get("user")
        if not isinstance(user, str) or not user:
            return "'user' (the customer's wa_id) is required"
        user = normalize_phone(user)  # §4.3: +1 555-123-0001 is the customer 15551230001
        try:
            message = message_object(spec)
            check_message(message)
            upload = self._inbound_media(message)
        except Refused as exc:
            return str(exc)
        # --- checked: from here on, state changes ---
        customer = number.customers.get(user) or number.add_customer(
            user,
            str(spec.get("name") or "Customer"),
            spec.get("user_id") if isinstance(spec.get("user_id"), str) else None,
        )
        if upload is not None:
            kind, obj, (data, mime) = upload
            media = self.store_media(number, data, mime, obj.get("filename"))
            obj.update({"id": media.id, "mime_type": mime, "sha256": media.sha256})
            message = {**message, kind: obj}
        quote_interactive(message, number, customer, self._wamid)
        now = self.world.now()
        msg: dict[str, Any] = {
            "from": customer.wa_id,
            "id": self._wamid(),
            "timestamp": str(int(now)),
            **message,
        }
        if customer.user_id:
            msg.setdefault("from_user_id", customer.user_id)
        customer.last_inbound = now  # §5.1: every customer message opens/refreshes the window
        number.inbound_ids.add(msg["id"])
        contact: dict[str, Any] = {"profile": {"name": customer.name}, "wa_id": customer.wa_id}
        if customer.user_id:
            contact["user_id"] = customer.user_id
        value = {
            "messaging_product": "whatsapp",
            "metadata": self._metadata(number),
            "contacts": [contact],
            "messages": [msg],
        }
        delivery = self._delivery(number, "message", value, "messages", conversation=customer.wa_id)
        return delivery, msg

    def _inbound_media(
        self, message: dict[str, Any]
    ) -> tuple[str, dict[str, Any], tuple[bytes, str]] | None:
        """Complete a media object (§2: ``id``, ``mime_type``, ``sha256``) without storing.

        ``data_base64`` is decoded here and returned as ``(kind, object, (bytes, mime))`` for
        the caller to store once everything is checked; an ``id`` of stored media takes its
        ``mime_type`` and ``sha256`` from the store.
        """
        kind = message.get("type")
        if kind not in MEDIA_KINDS:
            return None
        assert isinstance(kind, str)
        where = f"message.{kind}"
        obj = dict(message[kind])
        encoded = obj.pop("data_base64", None)
        if isinstance(encoded, str) and encoded:
            data = decode_base64(encoded, f"{where}.data_base64")
            return kind, obj, (data, str(obj.get("mime_type") or DEFAULT_MIME[kind]))
        stored = self.media.get(str(obj.get("id")))
        if stored is not None:
            obj.setdefault("mime_type", stored.mime_type)
            obj.setdefault("sha256", stored.sha256)
        obj.setdefault("mime_type", DEFAULT_MIME[kind])
        if "sha256" not in obj:
            raise Refused(
                f"{where}.sha256: missing (the id is not of media the simulator stores; "
                "give data_base64 instead)"
            )
        message[kind] = obj
        return None

    def handshake(self, account: str | None, challenge: str) -> Delivery | str:
        """The GET verification request Meta sends when a callback URL is set (§1.1)."""
        number = self._number(account)
        if number is None:
            return "unknown or ambiguous 'account'"
        cfg = number.cfg
        return hub_handshake(
            self.world,
            "whatsapp",
            cfg.phone_number_id,
            cfg.webhook_url,
            cfg.verify_token,
            challenge,
        )

    # --- WhatsApp's own control plane (/_sim/whatsapp/...) -----------------------------------

    def control(
        self, req: SimRequest, operation: str, body: Any, deliver: Deliverer
    ) -> SimFlow[SimResponse] | None:
        """``GET templates`` (every WABA's templates) and ``POST templates/status`` (§6.5)."""
        method = req.method.upper()
        if operation == "templates" and method == "GET":
            return self._all_templates()
        if operation == "templates/status" and method == "POST":
            return self._review(body, deliver)
        return None

    def _all_templates(self) -> SimFlow[SimResponse]:
        yield from ()  # a flow that needs no effect
        listed = [
            {**t.to_json(), "waba_id": self._waba_of.get(t.id), "platform": self.name}
            for t in self.templates.values()
        ]
        return json_response({"templates": listed})

    def _review(self, body: Any, deliver: Deliverer) -> SimFlow[SimResponse]:
        """A template's review ends: its new status, and the webhook that says so."""
        if not isinstance(body, dict):
            return control_error(400, "the body must be a JSON object")
        require_strings(body, "waba_id", "reason")
        name, language, status = body.get("name"), body.get("language", "en_US"), body.get("status")
        if (
            not isinstance(name, str)
            or not isinstance(status, str)
            or not isinstance(language, str)
        ):
            return control_error(
                400, "'name' and 'status' (and optional 'language') are required strings"
            )
        changed = self.set_template_status(
            body.get("waba_id"), name, language, status, body.get("reason")
        )
        if changed is None:
            return control_error(
                404, f"no template {name!r} in {language!r} (or ambiguous waba_id)"
            )
        stored, delivery = changed
        outcome = None if delivery is None else (yield from deliver(delivery))
        return json_response({"template": stored.to_json(), "delivery": outcome})

    def state(self) -> dict[str, Any]:
        """A JSON snapshot for ``GET /_sim/state``."""
        out: dict[str, Any] = {}
        for pid, number in self.numbers.items():
            seen: set[int] = set()
            customers = []
            for c in number.customers.values():
                if id(c) in seen:
                    continue
                seen.add(id(c))
                customers.append(
                    {
                        "wa_id": c.wa_id,
                        "user_id": c.user_id,
                        "name": c.name,
                        "last_inbound": c.last_inbound,
                        "window_open": rules.window_open(
                            c.last_inbound, self.world.now(), number.policy
                        ),
                    }
                )
            out[pid] = {
                "waba_id": number.cfg.waba_id,
                "customers": customers,
                "tier_used": number.tier_used(self.world.now()),
            }
        return out


def _text_of_raw(raw: bytes) -> str | None:
    """The outbox ``text`` of a sent body that is not a template (as :func:`_text_of`)."""
    try:
        return _text_of(decode_outbound(loads(raw))[1])
    except (BadJSON, OutboundError):  # cannot happen: the body was accepted as it is
        return None


def _text_of(content: Content) -> str | None:
    """What a (non-template) message says, for people."""
    if isinstance(content, Text):
        return content.body
    if isinstance(content, Reaction):
        return content.emoji
    caption = getattr(content, "caption", None)
    if isinstance(content, Media):
        return caption or f"[{type(content).__name__.lower()}]"
    body = getattr(content, "body", None)
    if isinstance(body, str):
        labels = [b.title for b in getattr(content, "buttons", ())]
        return body + (" " + " | ".join(f"[{label}]" for label in labels) if labels else "")
    return None


def _encode(payload: dict[str, Any]) -> bytes:
    """A webhook body, compact and in UTF-8.

    orjson writes what ``json.dumps(separators=(",", ":"), ensure_ascii=False)`` does in a
    twentieth of the time (a status webhook per send: DESIGN §5's delivery rate), but refuses
    integers beyond 64 bits, which a test's inbound message object may hold: those bodies go
    through the standard library instead.
    """
    try:
        return orjson.dumps(payload)
    except orjson.JSONEncodeError:
        return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
