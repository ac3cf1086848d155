"""The simulated WhatsApp's state: business numbers, customers, templates, media.

Plain data, changed only by :class:`~omnimsg_sim.platforms.whatsapp.sim.WhatsAppSim` once a
request has passed every check (a refused request changes nothing, DESIGN §6). Rules are
:mod:`omnimsg.rules.whatsapp`, the same code the SDK runs before sending.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import attrs

from omnimsg.models.content import Template
from omnimsg.rules import whatsapp as rules

from ...config import WhatsAppAccount
from ...world import World

__all__ = [
    "PLACEHOLDER",
    "Customer",
    "Number",
    "StoredMedia",
    "StoredTemplate",
    "bsuid_for",
    "is_bsuid",
    "normalize_phone",
]

# A phone number as people write it: digits with optional +, spaces, dashes, dots, brackets.
_PHONE = re.compile(r"\+?[0-9 ().\-]+")
PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
"""A template placeholder: ``{{1}}`` (positional) or ``{{name}}`` (named)."""


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
        return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), str(body))

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
        customer = Customer(wa_id=wa_id, name=name, user_id=user_id or bsuid_for(wa_id))
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


def bsuid_for(wa_id: str) -> str:
    """A deterministic business-scoped user id for a phone number (``US.`` + 20 digits)."""
    digest = int.from_bytes(hashlib.sha256(wa_id.encode()).digest()[:8], "big")
    return f"US.{digest:020d}"


def is_bsuid(user: str) -> bool:
    """BSUID recipients cannot be auto-created: the simulator would not know their phone."""
    from omnimsg.platforms.whatsapp.wire import is_bsuid

    return is_bsuid(user)
