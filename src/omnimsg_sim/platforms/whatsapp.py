"""The simulated WhatsApp Cloud API (spec/whatsapp.md), served at the real Graph paths.

State per business number: customers (keyed by ``wa_id`` and BSUID), their last inbound
time (the 24 h window), pair-rate buckets, the tier's business-initiated reach, templates,
media. Rules are :mod:`omnimsg.rules.whatsapp`, the same code the SDK runs before sending.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from urllib.parse import urlencode

import attrs

from omnimsg.models.content import (
    Content,
    Media,
    Reaction,
    Template,
    Text,
)
from omnimsg.platforms.whatsapp.wire import OutboundError, decode_outbound
from omnimsg.rules import whatsapp as rules
from omnimsg.signing import sign_hub_sha256

from ..config import WhatsAppAccount, WhatsAppTemplateSeed
from ..effects import Delivery, DeliveryOutcome, SimFlow, SimRequest, SimResponse
from ..enforcement import graph_error, json_response, violation_response
from ..faults import Faults
from ..safejson import BadJSON, loads
from ..world import OutboxEntry, World
from .whatsapp_inbound import (
    MEDIA_KINDS,
    MIME_TYPE,
    Refused,
    check_context,
    check_message,
    check_reply,
    decode_base64,
)

__all__ = [
    "Customer",
    "Number",
    "StoredMedia",
    "StoredTemplate",
    "WhatsAppSim",
    "normalize_phone",
    "outcome_json",
]

_VERSIONED = re.compile(r"^/v\d+\.\d+/(.+)$")
_MEDIA_TTL = 30 * 86_400.0  # §7.3: uploaded media persist 30 days
_URL_TTL = 300.0  # §7.3: download URLs live ~5 minutes
# §7.3 size limits by MIME family (bytes).
_MEDIA_LIMITS = {
    "image": 5 << 20,
    "video": 16 << 20,
    "audio": 16 << 20,
    "application": 100 << 20,
    "text": 100 << 20,
}
_STICKER_LIMIT = 500 << 10
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
# A phone number as people write it: digits with optional +, spaces, dashes, dots, brackets.
_PHONE = re.compile(r"\+?[0-9 ().\-]+")
_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
# §6.1: 250 templates per WABA while the business is unverified (up to 6,000 once verified).
_TEMPLATE_LIMIT = 250
_DEFAULT_MIME = {
    "image": "image/jpeg",
    "video": "video/mp4",
    "audio": "audio/ogg; codecs=opus",
    "document": "application/pdf",
    "sticker": "image/webp",
}
_GRAPH_DOCS = "https://developers.facebook.com/docs/graph-api"


def normalize_phone(number: str) -> str:
    """The ``wa_id`` of a phone number as sent: its digits (spec §4.3).

    WhatsApp answers ``+1 555-123-0001`` with ``contacts: [{"input": "+1 555-123-0001",
    "wa_id": "15551230001"}]``: the same person as ``15551230001``. Anything that is not a
    phone number (a BSUID such as ``US.1349...``, a group id) is left as it is.
    """
    digits = re.sub(r"[^0-9]", "", number)
    return digits if digits and _PHONE.fullmatch(number) else number


@attrs.define(slots=True)
class Customer:
    """A simulated WhatsApp user."""

    wa_id: str
    name: str
    user_id: str | None = None
    last_inbound: float | None = None
    pair: rules.PairBucket | None = None
    # The last interactive message the business sent: what a button or list reply quotes (§2).
    last_interactive: str | None = None


@attrs.define(kw_only=True)
class StoredTemplate:
    """A template as the simulated WABA stores it."""

    id: str
    name: str
    language: str
    category: str
    status: str
    parameter_format: str
    components: list[Any]
    reason: str | None = None

    def spec(self) -> rules.TemplateSpec:
        """What the rules need."""
        return rules.template_spec(
            name=self.name,
            language=self.language,
            status=self.status,
            category=self.category,
            components=self.components,
            parameter_format=self.parameter_format,
        )

    def to_json(self) -> dict[str, Any]:
        """The Graph representation."""
        return {
            "id": self.id,
            "name": self.name,
            "language": self.language,
            "status": self.status,
            "category": self.category,
            "parameter_format": self.parameter_format,
            "components": self.components,
        }

    def render(self, content: Template) -> str:
        """The body text with the parameters filled in (for transcripts)."""
        body = next(
            (
                c.get("text", "")
                for c in self.components
                if str(c.get("type", "")).upper() == "BODY"
            ),
            "",
        )
        params = content.params
        values = (
            dict(params)
            if isinstance(params, dict)
            else {str(i): v for i, v in enumerate(params, 1)}
        )
        # One pass, and the value as a function's result: a parameter is text, never a
        # replacement template (C:\Users stays C:\Users) nor a placeholder to fill again.
        return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), str(body))

    def matches(self, body_text: str | None) -> bool:
        """Does any component's text contain ``body_text`` (the list's ``content`` filter)?"""
        return body_text is None or any(
            body_text in str(c.get("text", "")) for c in self.components if isinstance(c, dict)
        )


@attrs.define(kw_only=True)
class StoredMedia:
    """An uploaded (or customer-sent) media object."""

    id: str
    account: str
    data: bytes
    mime_type: str
    sha256: str
    created: float
    filename: str | None = None


class Number:
    """One simulated business phone number and its WABA."""

    def __init__(self, cfg: WhatsAppAccount, world: World) -> None:
        self.cfg = cfg
        self.policy = attrs.evolve(rules.latest(), tier_limit=cfg.tier_limit)
        self.customers: dict[str, Customer] = {}
        # Business-initiated reach (§7.1), counted exactly as the SDK does: the first contact
        # per customer, in hour buckets (omnimsg.rules.whatsapp.tier_hours).
        self.tier_first: dict[str, float] = {}
        self.tier_counts: dict[int, int] = {}
        self.inbound_ids: set[str] = set()
        # §3: sent, delivered, read; when delivered and read coincide, only `read` is sent.
        steps: list[tuple[str, float]] = [("sent", 0.0)]
        if cfg.read_after is None or cfg.read_after > cfg.deliver_after:
            steps.append(("delivered", cfg.deliver_after))
        if cfg.read_after is not None:
            steps.append(("read", cfg.read_after))
        self.progression: tuple[tuple[str, float], ...] = tuple(steps)
        for c in cfg.customers:
            self.add_customer(c.wa_id, c.name, c.user_id)

    def add_customer(self, wa_id: str, name: str, user_id: str | None = None) -> Customer:
        """Create (or return) a customer, reachable by phone and BSUID."""
        existing = self.customers.get(wa_id) or (self.customers.get(user_id) if user_id else None)
        if existing is not None:
            return existing
        # Since April 2026 every webhook carries a BSUID (spec §8); invent a stable one.
        customer = Customer(wa_id=wa_id, name=name, user_id=user_id or _bsuid_for(wa_id))
        self.customers[wa_id] = customer
        if user_id:
            self.customers[user_id] = customer
        return customer

    def tier_used(self, now: float) -> int:
        """Unique customers reached outside a window in the moving 24 h."""
        return sum(self.tier_counts.get(h, 0) for h in rules.tier_hours(now, self.policy))

    def tier_counted(self, user: str, now: float) -> bool:
        """Was this customer already counted in the last 24 h?"""
        first = self.tier_first.get(user)
        return first is not None and now < first + self.policy.tier_window_seconds

    def count_tier(self, user: str, now: float) -> None:
        """Count a business-initiated contact (once per customer per 24 h)."""
        if not self.tier_counted(user, now):
            self.tier_first[user] = now
            hour = rules.tier_hour(now)
            self.tier_counts[hour] = self.tier_counts.get(hour, 0) + 1
            oldest = rules.tier_hours(now, self.policy).start
            for h in [h for h in self.tier_counts if h < oldest]:
                del self.tier_counts[h]


class WhatsAppSim:
    """Routes, state and webhooks of the simulated WhatsApp Cloud API."""

    platform = "whatsapp"

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

    def _add_template(
        self, waba: str, seed: WhatsAppTemplateSeed, *, seeded: bool = False
    ) -> StoredTemplate:
        components = [dict(c) for c in seed.components]
        if seeded:
            # §6.3: every parameter has example values, given at creation; the config's
            # shorthand has no place for them, so seeded templates get stand-ins.
            components = _with_examples(components, named=seed.parameter_format == "NAMED")
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
        header = req.headers.get("authorization", "")
        given = (
            header[7:] if header.lower().startswith("bearer ") else (req.arg("access_token") or "")
        )
        # Any text encodes with surrogatepass (a header of non-UTF-8 bytes included): a token
        # that is not the right one is simply wrong, answered 190 below.
        given_bytes = given.encode("utf-8", "surrogatepass")
        if not given:
            return graph_error(
                2500,
                "An active access token must be used to query information about the current user.",
                status=400,
                trace=self._trace(),
            )
        if not hmac.compare_digest(given_bytes, token.encode()):
            return graph_error(
                190,
                "Invalid OAuth access token - Cannot parse access token",
                status=401,
                trace=self._trace(),
            )
        return None

    def _fault(
        self, operation: str, account: str | None, user: str | None = None
    ) -> SimFlow[SimResponse | None]:
        fault = self.faults.take("whatsapp", operation, account, user)
        if fault is None:
            return None
        if fault.latency_ms:
            from ..effects import Pause

            yield Pause(fault.latency_ms / 1000.0)
        if fault.code is not None:
            return graph_error(
                fault.code,
                fault.message or "Injected fault",
                details=fault.message or "injected by /_sim/faults",
                status=fault.status or 400,
                trace=self._trace(),
            )
        if fault.status is not None:
            return graph_error(
                1,
                fault.message or "An unknown error occurred",
                status=fault.status,
                trace=self._trace(),
            )
        return None

    def _guard(
        self, req: SimRequest, number: Number, operation: str
    ) -> SimFlow[SimResponse | None]:
        """Auth, then any injected fault: the answer to give instead, or ``None`` to go on."""
        denied = self._auth(req, number.cfg.access_token)
        if denied:
            return denied
        return (yield from self._fault(operation, number.cfg.phone_number_id))

    # --- routing -------------------------------------------------------------------------

    def route(self, req: SimRequest) -> SimFlow[SimResponse] | None:
        """The handler for a Graph request, or ``None`` when the path is not WhatsApp's."""
        if req.path.startswith("/whatsapp_business/attachments"):
            return self._download(req)
        m = _VERSIONED.match(req.path)
        if not m:
            return None
        parts = m.group(1).strip("/").split("/")
        method = req.method.upper()
        head = parts[0]
        if len(parts) == 2 and head in self.numbers:
            number = self.numbers[head]
            if parts[1] == "messages" and method == "POST":
                return self._messages(req, number)
            if parts[1] == "media" and method == "POST":
                return self._upload(req, number)
        if len(parts) == 2 and head in self.by_waba:
            number = self.by_waba[head]
            if parts[1] == "message_templates":
                if method == "POST":
                    return self._create_template(req, number)
                if method == "GET":
                    return self._list_templates(req, number)
                if method == "DELETE":
                    return self._delete_template(req, number)
            if parts[1] == "subscribed_apps":
                return self._subscribed_apps(req, number)
        if len(parts) == 1:
            if head in self.numbers and method == "GET":
                return self._phone_info(req, self.numbers[head])
            if head in self.media:
                return self._media_object(req, self.media[head])
            if head in self.templates and method == "GET":
                return self._template_object(req, self.templates[head])
        if (
            head in self.numbers
            or head in self.by_waba
            or head in self.media
            or head in self.templates
        ):
            return self._unsupported(req, head)
        return None

    def _unsupported(self, req: SimRequest, head: str) -> SimFlow[SimResponse]:
        yield from ()  # a flow that needs no effect
        return self._no_such_object(req, head)

    def _no_such_object(self, req: SimRequest, head: str) -> SimResponse:
        """Graph's own answer to an unknown object or edge: code 100, subcode 33 (spec §0).

        A Graph-level error, so its message has no ``(#100)`` prefix (see ``graph_error``).
        """
        return graph_error(
            100,
            f"Unsupported {req.method.lower()} request. Object with ID '{head}' does not exist, "
            "cannot be loaded due to missing permissions, or does not support this operation. "
            f"Please read the Graph API documentation at {_GRAPH_DOCS}",
            status=400,
            subcode=33,
            trace=self._trace(),
            error_type="GraphMethodException",
        )

    def unknown_object(self, req: SimRequest) -> SimResponse | None:
        """The Graph answer for a versioned path whose object this simulator does not know."""
        m = _VERSIONED.match(req.path)
        if not m:
            return None
        return self._no_such_object(req, m.group(1).strip("/").split("/")[0])

    # --- sending (§4, §5) ----------------------------------------------------------------

    def _messages(self, req: SimRequest, number: Number) -> SimFlow[SimResponse]:
        denied = self._auth(req, number.cfg.access_token)
        if denied:
            return denied
        try:
            body = loads(req.body)
        except BadJSON as exc:
            return graph_error(100, "Invalid parameter", details=str(exc), trace=self._trace())
        if isinstance(body, dict) and body.get("status") == "read":
            return (yield from self._mark_read(body, number))
        try:
            given, content, reply_to = decode_outbound(body)
        except OutboundError as exc:
            title = "Required parameter is missing" if exc.code == 131008 else "Invalid parameter"
            return graph_error(exc.code, title, details=str(exc), trace=self._trace())
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
                async_failure = {
                    "code": 131047,
                    "title": first.title,
                    "message": first.title,
                    "error_data": {"details": first.details},
                    "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
                }
            else:
                return violation_response(first, self._trace())
        if customer is None and number.cfg.unknown_customers == "accept" and not rules_is_bsuid(to):
            customer = number.add_customer(to, "Customer")
        if customer is None:
            async_failure = {
                "code": 131026,
                "title": "Message undeliverable",
                "message": "Message undeliverable",
                "error_data": {"details": "Message Undeliverable."},
            }
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
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
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
            return graph_error(
                100, "Invalid parameter", details="message_id is required", trace=self._trace()
            )
        if message_id not in number.inbound_ids:
            return graph_error(
                100,
                "Invalid parameter",
                details=f"unknown message_id {message_id}",
                trace=self._trace(),
            )
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
            return graph_error(100, "Invalid parameter", details=str(exc), trace=self._trace())
        if not isinstance(body, dict):
            return graph_error(
                100,
                "Invalid parameter",
                details="the body must be a JSON object",
                trace=self._trace(),
            )
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
            # UNVERIFIED subcode; Meta refuses a second template with the same name and language.
            return graph_error(
                100,
                "Invalid parameter",
                details="Content in this language already exists",
                subcode=2388024,
                trace=self._trace(),
            )
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
        items = _filter_templates(owned, req)
        try:
            start, end = _page(items, req)
        except ValueError as exc:
            return graph_error(100, "Invalid parameter", details=str(exc), trace=self._trace())
        page = items[start:end]
        out: dict[str, Any] = {"data": [t.to_json() for t in page]}
        if page:
            out["paging"] = _paging(req, page, more_before=start > 0, more_after=end < len(items))
        summary = _summary(req.arg("summary"), matched=len(items), owned=len(owned))
        if summary:
            out["summary"] = summary
        return json_response(out)

    def _delete_template(self, req: SimRequest, number: Number) -> SimFlow[SimResponse]:
        stop = yield from self._guard(req, number, "whatsapp.delete_template")
        if stop is not None:
            return stop
        name, hsm_id = req.arg("name"), req.arg("hsm_id")
        if not name:
            return graph_error(
                100, "Invalid parameter", details="name is required", trace=self._trace()
            )
        doomed = [
            t.id
            for t in self.templates.values()
            if self._waba_of.get(t.id) == number.cfg.waba_id
            and t.name == name
            and (hsm_id is None or t.id == hsm_id)
        ]
        if not doomed:
            return graph_error(
                100,
                "Invalid parameter",
                details=f"Message template {name!r} not found",
                trace=self._trace(),
            )
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
        fields, files = _parse_multipart(req.headers.get("content-type", ""), req.body)
        if fields.get("messaging_product") != "whatsapp":
            return graph_error(
                100,
                "Invalid parameter",
                details="messaging_product must be 'whatsapp'",
                trace=self._trace(),
            )
        if "file" not in files:
            return graph_error(
                131008,
                "Required parameter is missing",
                details="file is required",
                trace=self._trace(),
            )
        filename, mime, data = files["file"]
        mime = fields.get("type") or mime
        if not MIME_TYPE.fullmatch(mime):
            # The type becomes the download's Content-Type header: CR/LF (or anything else
            # that is not a MIME type) is refused here, before anything is stored.
            return graph_error(
                100,
                "Invalid parameter",
                details="type must be a MIME type such as image/png",
                trace=self._trace(),
            )
        limit = (
            _STICKER_LIMIT
            if mime == "image/webp"
            else _MEDIA_LIMITS.get(mime.split("/")[0], 100 << 20)
        )
        if len(data) > limit:
            return graph_error(
                131053,
                "Media upload error",
                details=f"{mime} is limited to {limit} bytes",
                trace=self._trace(),
            )
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
        if now - media.created > _MEDIA_TTL:
            return self.unknown_object(req) or graph_error(
                100, "Invalid parameter", trace=self._trace()
            )
        if req.method.upper() == "DELETE":
            del self.media[media.id]
            return json_response({"success": True})
        if req.method.upper() != "GET":
            return (yield from self._unsupported(req, media.id))
        expires = int(now + _URL_TTL)
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
            return graph_error(
                100, "Invalid parameter", details="unknown media", status=404, trace=self._trace()
            )
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
            return graph_error(
                100,
                "Invalid parameter",
                details="the media URL is expired or invalid",
                status=404,
                trace=self._trace(),
            )
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
            message = _message_object(spec)
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
        _quote_interactive(message, number, customer, self._wamid)
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
            return kind, obj, (data, str(obj.get("mime_type") or _DEFAULT_MIME[kind]))
        stored = self.media.get(str(obj.get("id")))
        if stored is not None:
            obj.setdefault("mime_type", stored.mime_type)
            obj.setdefault("sha256", stored.sha256)
        obj.setdefault("mime_type", _DEFAULT_MIME[kind])
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
        url = self.world.webhook_url("whatsapp", number.cfg.phone_number_id, number.cfg.webhook_url)
        if not url:
            return "this account has no webhook_url"
        query = urlencode(
            {
                "hub.mode": "subscribe",
                "hub.challenge": challenge,
                "hub.verify_token": number.cfg.verify_token,
            }
        )
        sep = "&" if "?" in url else "?"
        return Delivery(
            id=self.world.next_seq(),
            platform="whatsapp",
            account=number.cfg.phone_number_id,
            kind="handshake",
            url=f"{url}{sep}{query}",
            body=b"",
            method="GET",
            headers=(("user-agent", "facebookplatform/1.0"),),
        )

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


def _bsuid_for(wa_id: str) -> str:
    """A deterministic business-scoped user id for a phone number (``US.`` + 20 digits)."""
    digest = int.from_bytes(hashlib.sha256(wa_id.encode()).digest()[:8], "big")
    return f"US.{digest:020d}"


def rules_is_bsuid(user: str) -> bool:
    """BSUID recipients cannot be auto-created: the simulator would not know their phone."""
    from omnimsg.platforms.whatsapp.wire import is_bsuid

    return is_bsuid(user)


def _message_object(spec: dict[str, Any]) -> dict[str, Any]:
    """The message part of an inbound request: ``message`` in full, or a shorthand.

    Raises:
        Refused: when neither is given, or a shorthand or the ``context`` is malformed.
    """
    message = spec.get("message")
    if isinstance(message, dict):
        if "type" not in message:
            raise Refused("message.type: missing")
        out = dict(message)
    elif message is not None:
        raise Refused("message: expected an object")
    elif isinstance(spec.get("text"), str):
        out = {"type": "text", "text": {"body": spec["text"]}}
    elif spec.get("button_reply") is not None:
        check_reply(spec["button_reply"], "button_reply")
        out = {
            "type": "interactive",
            "interactive": {"type": "button_reply", "button_reply": spec["button_reply"]},
        }
    elif spec.get("list_reply") is not None:
        check_reply(spec["list_reply"], "list_reply", description=True)
        out = {
            "type": "interactive",
            "interactive": {"type": "list_reply", "list_reply": spec["list_reply"]},
        }
    else:
        raise Refused(
            "give 'message' (a WhatsApp message object) or a shorthand: 'text', "
            "'button_reply', 'list_reply'"
        )
    if spec.get("context") is not None:
        check_context(spec["context"], "context")
        out["context"] = spec["context"]
    return out


def _quote_interactive(
    message: dict[str, Any], number: Number, customer: Customer, new_wamid: Callable[[], str]
) -> None:
    """Give a button or list reply the ``context`` real ones always carry (spec §2).

    ``{"from": <the business's display number>, "id": <the interactive message replied
    to>}``: the last interactive message the business sent this customer, a generated wamid
    when there was none; a context given without ``from`` or ``id`` is completed the same way.
    pywa's ``CallbackSelection`` reads ``context`` unconditionally.
    """
    interactive = message.get("interactive")
    if message.get("type") != "interactive" or not isinstance(interactive, dict):
        return
    if interactive.get("type") not in ("button_reply", "list_reply"):
        return
    given = message.get("context") if isinstance(message.get("context"), dict) else {}
    assert isinstance(given, dict)
    message["context"] = {
        "from": given.get("from") or number.cfg.display_phone_number,
        "id": given.get("id") or customer.last_interactive or new_wamid(),
        **{k: v for k, v in given.items() if k not in ("from", "id")},
    }


# --- templates list (§6.1) and seeded examples (§6.3) -------------------------------------------


def _choices(req: SimRequest, key: str, *, upper: bool) -> set[str] | None:
    """A comma-separated filter (pywa sends ``category=MARKETING,UTILITY``), or ``None``."""
    raw = req.arg(key)
    if not raw:
        return None
    return {v.strip().upper() if upper else v.strip() for v in raw.split(",") if v.strip()}


def _filter_templates(items: list[StoredTemplate], req: SimRequest) -> list[StoredTemplate]:
    """The templates matching the list's filters: status, category, language, name, content."""
    statuses = _choices(req, "status", upper=True)
    categories = _choices(req, "category", upper=True)
    languages = _choices(req, "language", upper=False)
    name = req.arg("name") or None
    content = req.arg("content") or None
    either = req.arg("name_or_content") or None
    return [
        t
        for t in items
        if (statuses is None or t.status in statuses)
        and (categories is None or t.category in categories)
        and (languages is None or t.language in languages)
        and (name is None or name in t.name)
        and t.matches(content)
        and (either is None or either in t.name or t.matches(either))
    ]


def _cursor(template_id: str) -> str:
    """An opaque cursor that points at one template, as Graph's cursors point at items."""
    return base64.urlsafe_b64encode(template_id.encode()).decode()


def _position(items: list[StoredTemplate], cursor: str, which: str) -> int:
    """Where the template a cursor points at stands in the (filtered) list."""
    try:
        wanted = base64.urlsafe_b64decode(cursor.encode("utf-8", "surrogatepass")).decode()
    except (binascii.Error, ValueError):
        wanted = None
    for i, t in enumerate(items):
        if t.id == wanted:
            return i
    # Graph: a cursor is invalidated when its item is deleted (or no longer matches).
    raise ValueError(f"the {which} cursor is not valid")


def _page(items: list[StoredTemplate], req: SimRequest) -> tuple[int, int]:
    """The ``[start, end)`` slice asked for: ``after`` the item it names, or ``before`` it."""
    try:
        limit = int(req.arg("limit") or 25)
    except ValueError:
        raise ValueError("limit must be an integer") from None
    limit = max(1, min(limit, 1000))
    after, before = req.arg("after"), req.arg("before")
    if after:
        start = _position(items, after, "after") + 1
        return start, start + limit
    if before:
        end = _position(items, before, "before")
        return max(0, end - limit), end
    return 0, limit


def _link(req: SimRequest, **cursor: str) -> str:
    """The request's own URL (scheme, host, path, filters) with another cursor."""
    query = [(k, v) for k, vs in req.query.items() if k not in ("after", "before") for v in vs]
    query.extend(cursor.items())
    return f"{req.base_url}{req.path}?{urlencode(query, errors='replace')}"


def _paging(
    req: SimRequest, page: Sequence[StoredTemplate], *, more_before: bool, more_after: bool
) -> dict[str, Any]:
    """Graph's ``paging``: both cursors on every page; ``previous`` and ``next`` when there are."""
    cursors = {"before": _cursor(page[0].id), "after": _cursor(page[-1].id)}
    out: dict[str, Any] = {"cursors": cursors}
    if more_after:
        out["next"] = _link(req, after=cursors["after"])
    if more_before:
        out["previous"] = _link(req, before=cursors["before"])
    return out


def _summary(asked: str | None, *, matched: int, owned: int) -> dict[str, Any]:
    """The ``summary`` fields asked for (``summary=true`` asks for ``total_count``).

    ``total_count`` counts what the filters matched (as Graph's edge summaries do; UNVERIFIED
    for this edge), ``message_template_count`` the whole WABA.
    """
    if not asked:
        return {}
    fields = {f.strip() for f in asked.split(",")}
    if asked.strip().lower() in ("true", "1"):
        fields = {"total_count"}
    values = {
        "total_count": matched,
        "message_template_count": owned,
        "message_template_limit": _TEMPLATE_LIMIT,
        "are_translations_complete": True,
    }
    return {k: v for k, v in values.items() if k in fields}


def _with_examples(components: Iterable[dict[str, Any]], *, named: bool) -> list[dict[str, Any]]:
    """Components whose parameters all have example values (spec §6.3), stand-ins added."""
    return [_component_example(dict(c), named=named) for c in components]


def _component_example(component: dict[str, Any], *, named: bool) -> dict[str, Any]:
    ctype = str(component.get("type", "")).upper()
    text = component.get("text")
    if ctype in ("HEADER", "BODY") and isinstance(text, str) and "example" not in component:
        names = list(dict.fromkeys(_PLACEHOLDER.findall(text)))
        if names and not named and all(n.isdigit() for n in names):
            names.sort(key=int)
        key = "header_text" if ctype == "HEADER" else "body_text"
        if names and named:
            examples = [{"param_name": n, "example": f"example {n}"} for n in names]
            component["example"] = {f"{key}_named_params": examples}
        elif names:
            values = [f"example {n}" for n in names]
            component["example"] = {key: values if ctype == "HEADER" else [values]}
    if ctype == "BUTTONS" and isinstance(component.get("buttons"), list):
        component["buttons"] = [_button_example(b) for b in component["buttons"]]
    return component


def _button_example(button: Any) -> Any:
    """A URL button with a parameter gets an example URL (§6.3)."""
    if not isinstance(button, dict) or "example" in button:
        return button
    url = button.get("url")
    if str(button.get("type", "")).upper() == "URL" and isinstance(url, str) and "{{" in url:
        return {**button, "example": [_PLACEHOLDER.sub("example", url)]}
    return button


def _parse_multipart(
    content_type: str, body: bytes
) -> tuple[dict[str, str], dict[str, tuple[str, str, bytes]]]:
    """Fields and files of a multipart/form-data body (enough for media uploads)."""
    m = re.search(r'boundary="?([^";]+)"?', content_type)
    fields: dict[str, str] = {}
    files: dict[str, tuple[str, str, bytes]] = {}
    if not m:
        return fields, files
    delimiter = b"--" + m.group(1).encode("utf-8", "surrogatepass")
    for part in body.split(delimiter)[1:]:
        if part.startswith(b"--"):
            break
        head, _, data = part.lstrip(b"\r\n").partition(b"\r\n\r\n")
        data = data[:-2] if data.endswith(b"\r\n") else data
        headers = head.decode("utf-8", "replace")
        name = re.search(r'name="([^"]*)"', headers)
        if not name:
            continue
        filename = re.search(r'filename="([^"]*)"', headers)
        ctype = re.search(r"(?im)^content-type:\s*(.+)$", headers)
        if filename:
            files[name.group(1)] = (
                filename.group(1),
                ctype.group(1).strip() if ctype else "application/octet-stream",
                data,
            )
        else:
            fields[name.group(1)] = data.decode("utf-8", "replace")
    return fields, files


def outcome_json(outcome: DeliveryOutcome) -> dict[str, Any]:
    """A delivery outcome for control-plane answers."""
    return {
        "status": outcome.status,
        "ok": outcome.ok,
        "error": outcome.error,
        "body": outcome.body.decode("utf-8", "replace")[:2000],
    }


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
