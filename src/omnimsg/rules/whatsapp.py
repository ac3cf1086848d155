"""WhatsApp Cloud API rules, pure: given content, state and ``now``, return violations.

Shared by the SDK's pre-flight (raise before any I/O) and the simulator (answer the native
error). Facts: ``spec/whatsapp.md``; each rule cites its section.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Mapping
from datetime import date
from typing import Literal

import attrs

from .._types import JSON
from ..clock import to_datetime
from ..exceptions import ConfigurationError
from ..models.content import (
    Buttons,
    Contacts,
    Content,
    Document,
    Image,
    ListMenu,
    Media,
    Raw,
    Reaction,
    Sticker,
    Template,
    Text,
    UrlButton,
    Video,
)
from ._core import PolicyProfile, Violation

__all__ = [
    "PROFILES",
    "PairBucket",
    "SendState",
    "TemplateSpec",
    "WhatsAppPolicy",
    "check_send",
    "check_template_definition",
    "consume_pair",
    "counts_toward_tier",
    "latest",
    "profile",
    "template_spec",
    "tier_hour",
    "tier_hours",
    "window_closes_at",
    "window_open",
]

_DAY = 86_400.0


@attrs.frozen(kw_only=True, slots=True)
class WhatsAppPolicy(PolicyProfile):
    """The WhatsApp numbers omnimsg enforces. UNVERIFIED facts are fields, so they can change.

    Attributes mirror ``spec/whatsapp.md``: window length (§5.1), content limits (§4.2), the
    pair rate limit (§7.2) and messaging tier (§7.1), and which native codes they produce.
    """

    platform: Literal["whatsapp"] = "whatsapp"
    window_seconds: float = _DAY  # §5.1
    text_max: int = 4096  # §4.2
    caption_max: int = 1024  # UNVERIFIED (same as interactive body)
    interactive_body_max: int = 1024  # §4.2
    header_footer_max: int = 60  # §4.2
    buttons_max: int = 3  # §4.2
    button_title_max: int = 20  # §4.2
    button_id_max: int = 256  # §4.2
    list_rows_max: int = 10  # §4.2 (rows in total)
    list_sections_max: int = 10  # §4.2
    list_row_title_max: int = 24  # §4.2
    list_row_description_max: int = 72  # §4.2
    list_row_id_max: int = 200  # §4.2
    list_button_max: int = 20  # §4.2
    contacts_max: int = 257  # §4.2
    template_name_max: int = 512  # §6.1
    template_body_max: int = 1024  # §6.3
    # Pair rate (§7.2): one message per 6 s to one user, bursts of up to 45 borrowed.
    pair_interval_seconds: float = 6.0
    pair_burst: int = 45
    # §5.3: HTTP status for 131056 is a CONFLICT (400 vs 429); two sources say 429.
    pair_http_status: int = 429
    # §7.1: unique users reached outside a window per moving 24 h (per business portfolio).
    tier_limit: int | None = 250
    tier_window_seconds: float = _DAY
    # §7.1: no dedicated code is documented (UNVERIFIED); 131064 is the closest "messaging
    # limit" code Meta lists.
    tier_error_code: int = 131064
    # §5.3: "parameter value invalid"; the exact code Meta uses per limit is UNVERIFIED.
    limit_error_code: int = 131009


PROFILES: tuple[WhatsAppPolicy, ...] = (
    # Messaging limits became per business portfolio and the 1K tier became 2K (§7.1).
    WhatsAppPolicy(name="whatsapp-2025-10-07", effective=date(2025, 10, 7)),
)


def latest() -> WhatsAppPolicy:
    """The newest WhatsApp profile."""
    return max(PROFILES, key=lambda p: p.effective)


def profile(name_or_date: str | date) -> WhatsAppPolicy:
    """The profile with that name, or the one in force on that date."""
    if isinstance(name_or_date, str):
        for p in PROFILES:
            if p.name == name_or_date:
                return p
        raise ConfigurationError(
            f"unknown WhatsApp policy profile {name_or_date!r}; known: {[p.name for p in PROFILES]}"
        )
    in_force = [p for p in PROFILES if p.effective <= name_or_date]
    if not in_force:
        raise ConfigurationError(f"no WhatsApp policy profile was in force on {name_or_date}")
    return max(in_force, key=lambda p: p.effective)


# --- window (§5.1) --------------------------------------------------------------------------


_PHONE = re.compile(r"\+?[0-9 ().\-]+")


def wa_id(user: str) -> str:
    """The customer a recipient names: a phone number's digits, anything else as given.

    WhatsApp answers a send to ``+1 555-123-0001`` with ``contacts: [{"input": "+1 555-123-0001",
    "wa_id": "15551230001"}]`` (spec §4.3): one customer, one window, however the number is
    written. A BSUID (``US.1349...``) or a group id is not a phone number and stays as it is.
    """
    if not _PHONE.fullmatch(user):
        return user
    digits = "".join(c for c in user if c.isdigit())
    return digits or user


def window_closes_at(last_inbound_at: float | None, policy: WhatsAppPolicy) -> float | None:
    """When the customer-service window closes (``None`` if the customer never wrote)."""
    return None if last_inbound_at is None else last_inbound_at + policy.window_seconds


def window_open(last_inbound_at: float | None, now: float, policy: WhatsAppPolicy) -> bool:
    """Is free-form messaging allowed now?"""
    closes = window_closes_at(last_inbound_at, policy)
    return closes is not None and now < closes


# --- templates (§6) -------------------------------------------------------------------------

_POSITIONAL = re.compile(r"\{\{\s*(\d+)\s*\}\}")
_NAMED = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}")
_ANY_PARAM = re.compile(r"\{\{[^{}]*\}\}")


@attrs.frozen(kw_only=True, slots=True)
class TemplateSpec:
    """What the rules need to know about one stored template (identity = name + language)."""

    name: str
    language: str
    status: str
    category: str = "UTILITY"
    parameter_format: Literal["POSITIONAL", "NAMED"] = "POSITIONAL"
    body_params: tuple[str, ...] = ()
    header_format: str | None = None
    header_params: int = 0
    buttons: tuple[str, ...] = ()


def _params_in(text: str, named: bool) -> tuple[str, ...]:
    pattern = _NAMED if named else _POSITIONAL
    seen: list[str] = []
    for match in pattern.finditer(text):
        if match.group(1) not in seen:
            seen.append(match.group(1))
    return tuple(seen)


def template_spec(
    *,
    name: str,
    language: str,
    status: str,
    category: str | None,
    components: JSON,
    parameter_format: str | None = None,
) -> TemplateSpec:
    """Build a :class:`TemplateSpec` from the create-time ``components`` JSON (§6.3)."""
    fmt: Literal["POSITIONAL", "NAMED"] = (
        "NAMED" if (parameter_format or "").upper() == "NAMED" else "POSITIONAL"
    )
    named = fmt == "NAMED"
    body: tuple[str, ...] = ()
    header_format: str | None = None
    header_params = 0
    buttons: list[str] = []
    for comp in components if isinstance(components, list) else []:
        if not isinstance(comp, dict):
            continue
        ctype = str(comp.get("type", "")).upper()
        text = comp.get("text")
        if ctype == "BODY" and isinstance(text, str):
            body = _params_in(text, named)
        elif ctype == "HEADER":
            header_format = str(comp.get("format", "TEXT")).upper()
            if isinstance(text, str):
                header_params = len(_params_in(text, named))
        elif ctype == "BUTTONS":
            for button in comp.get("buttons") or []:  # type: ignore[union-attr]
                if isinstance(button, dict):
                    buttons.append(str(button.get("type", "")).upper())
    return TemplateSpec(
        name=name,
        language=language,
        status=status.upper(),
        category=(category or "UTILITY").upper(),
        parameter_format=fmt,
        body_params=body,
        header_format=header_format,
        header_params=header_params,
        buttons=tuple(buttons),
    )


def check_template_definition(
    *,
    name: object,
    language: object,
    category: object,
    components: object,
    parameter_format: object = None,
    policy: WhatsAppPolicy,
) -> tuple[Violation, ...]:
    """Check a ``POST /{waba-id}/message_templates`` body before it is submitted (§6.1, §6.3)."""
    out: list[Violation] = []

    def bad(what: str) -> None:
        out.append(
            Violation(
                rule_id="whatsapp.template.definition",
                platform="whatsapp",
                message=f"invalid template: {what}",
                native_code=100,
                title="Invalid parameter",
                details=what,
            )
        )

    if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9_]+", name):
        bad("name must be lowercase letters, digits and underscores")
    elif len(name) > policy.template_name_max:
        bad(f"name is longer than {policy.template_name_max} characters")
    if not isinstance(language, str) or not language:
        bad("language is required")
    if str(category).upper() not in {"MARKETING", "UTILITY", "AUTHENTICATION"}:
        bad("category must be MARKETING, UTILITY or AUTHENTICATION")
    if parameter_format is not None and str(parameter_format).upper() not in {
        "POSITIONAL",
        "NAMED",
    }:
        bad("parameter_format must be POSITIONAL or NAMED")
    if not isinstance(components, list):
        bad("components must be a list")
        return tuple(out)
    kinds = [str(c.get("type", "")).upper() for c in components if isinstance(c, dict)]
    if len(kinds) != len(components):
        bad("each component must be an object")
    if kinds.count("BODY") != 1:
        bad("exactly one BODY component is required")
    for comp in components:
        if not isinstance(comp, dict):
            continue
        ctype = str(comp.get("type", "")).upper()
        text = comp.get("text")
        if ctype == "BODY" and (not isinstance(text, str) or len(text) > policy.template_body_max):
            bad(f"BODY text is required and at most {policy.template_body_max} characters")
        if ctype in {"BODY", "HEADER"} and isinstance(text, str):
            named = str(parameter_format).upper() == "NAMED"
            missing = _missing_examples(ctype, text, comp.get("example"), named)
            if missing:
                bad(missing)
        if ctype in {"HEADER", "FOOTER"} and isinstance(text, str):
            if len(text) > policy.header_footer_max:
                bad(f"{ctype} text is longer than {policy.header_footer_max} characters")
            if ctype == "HEADER" and len(_ANY_PARAM.findall(text)) > 1:
                bad("a TEXT header takes at most one parameter")
        if ctype == "BUTTONS":
            buttons = comp.get("buttons")
            if not isinstance(buttons, list) or not buttons:
                bad("BUTTONS needs a non-empty buttons list")
                continue
            types = [str(b.get("type", "")).upper() if isinstance(b, dict) else "" for b in buttons]
            if len(types) > 10 or types.count("URL") > 2 or types.count("PHONE_NUMBER") > 1:
                bad("at most 10 buttons, 2 URL and 1 PHONE_NUMBER")
            # Quick replies and other buttons must be grouped (§6.3).
            groups = [t == "QUICK_REPLY" for t in types]
            changes = sum(1 for a, b in itertools.pairwise(groups) if a != b)
            if changes > 1:
                bad("quick-reply buttons and other buttons must be grouped")
    return tuple(out)


def _missing_examples(ctype: str, text: str, example: object, named: bool) -> str | None:
    """What example values a component with parameters lacks (§6.3), or ``None``.

    Graph refuses a template whose parameters have no sample values, and parsers such as
    pywa's cannot read one either: positional ones in ``example.body_text: [[...]]`` /
    ``header_text: [...]``, named ones in ``body_text_named_params`` /
    ``header_text_named_params: [{param_name, example}]``.
    """
    params = _params_in(text, named)
    if not params:
        return None
    where = "body" if ctype == "BODY" else "header"
    given = example if isinstance(example, dict) else {}
    if named:
        entries = given.get(f"{where}_text_named_params")
        names = {
            e.get("param_name")
            for e in (entries if isinstance(entries, list) else [])
            if isinstance(e, dict) and isinstance(e.get("example"), str) and e["example"]
        }
        absent = [n for n in params if n not in names]
        if absent:
            return f"{ctype} needs example.{where}_text_named_params for {', '.join(absent)}"
        return None
    values = given.get(f"{where}_text")
    if ctype == "BODY":
        row = (
            values[0]
            if isinstance(values, list) and values and isinstance(values[0], list)
            else None
        )
    else:
        row = values if isinstance(values, list) else None
    if row is None or len(row) != len(params) or not all(isinstance(v, str) and v for v in row):
        shape = "[[...]]" if ctype == "BODY" else "[...]"
        return f"{ctype} needs example.{where}_text: {shape} with {len(params)} value(s)"
    return None


# --- content limits (§4.2) ------------------------------------------------------------------


def _too_long(
    field: str, value: str | None, limit: int, policy: WhatsAppPolicy
) -> Violation | None:
    if value is None or len(value) <= limit:
        return None
    return Violation(
        rule_id="whatsapp.limits.length",
        platform="whatsapp",
        message=f"{field} is {len(value)} characters; WhatsApp allows {limit}",
        native_code=policy.limit_error_code,
        title="Parameter value is not valid",
        details=f"{field} must be at most {limit} characters",
    )


def _limit(rule: str, message: str, policy: WhatsAppPolicy) -> Violation:
    return Violation(
        rule_id=rule,
        platform="whatsapp",
        message=message,
        native_code=policy.limit_error_code,
        title="Parameter value is not valid",
        details=message,
    )


def _content_limits(content: Content, policy: WhatsAppPolicy) -> list[Violation]:
    found: list[Violation | None] = []
    p = policy
    if isinstance(content, Text):
        if not content.body:
            found.append(_limit("whatsapp.limits.empty", "text body must not be empty", p))
        found.append(_too_long("text body", content.body, p.text_max, p))
    elif isinstance(content, Image | Video | Document):
        found.append(_too_long("caption", content.caption, p.caption_max, p))
    elif isinstance(content, Buttons):
        found.append(_too_long("body", content.body, p.interactive_body_max, p))
        found.append(_too_long("header", content.header, p.header_footer_max, p))
        found.append(_too_long("footer", content.footer, p.header_footer_max, p))
        if not 1 <= len(content.buttons) <= p.buttons_max:
            found.append(
                _limit(
                    "whatsapp.limits.buttons",
                    f"{len(content.buttons)} buttons; WhatsApp allows 1 to {p.buttons_max}",
                    p,
                )
            )
        ids = [b.id for b in content.buttons]
        if len(set(ids)) != len(ids):
            found.append(_limit("whatsapp.limits.buttons", "button ids must be unique", p))
        for b in content.buttons:
            found.append(_too_long("button title", b.title, p.button_title_max, p))
            found.append(_too_long("button id", b.id, p.button_id_max, p))
    elif isinstance(content, ListMenu):
        found.append(_too_long("body", content.body, p.interactive_body_max, p))
        found.append(_too_long("header", content.header, p.header_footer_max, p))
        found.append(_too_long("footer", content.footer, p.header_footer_max, p))
        found.append(_too_long("list button", content.button, p.list_button_max, p))
        rows = [r for s in content.sections for r in s.rows]
        if not content.sections or len(content.sections) > p.list_sections_max:
            found.append(
                _limit(
                    "whatsapp.limits.list", f"a list needs 1 to {p.list_sections_max} sections", p
                )
            )
        if not 1 <= len(rows) <= p.list_rows_max:
            found.append(
                _limit(
                    "whatsapp.limits.list",
                    f"{len(rows)} rows; WhatsApp allows 1 to {p.list_rows_max} in total",
                    p,
                )
            )
        if len(content.sections) > 1 and any(not s.title for s in content.sections):
            found.append(
                _limit(
                    "whatsapp.limits.list", "every section needs a title when there are several", p
                )
            )
        for s in content.sections:
            found.append(_too_long("section title", s.title, p.list_row_title_max, p))
        for r in rows:
            found.append(_too_long("row title", r.title, p.list_row_title_max, p))
            found.append(_too_long("row description", r.description, p.list_row_description_max, p))
            found.append(_too_long("row id", r.id, p.list_row_id_max, p))
    elif isinstance(content, UrlButton):
        found.append(_too_long("body", content.body, p.interactive_body_max, p))
        found.append(_too_long("button text", content.text, p.button_title_max, p))
        found.append(_too_long("header", content.header, p.header_footer_max, p))
        found.append(_too_long("footer", content.footer, p.header_footer_max, p))
    elif isinstance(content, Contacts) and not 1 <= len(content.contacts) <= p.contacts_max:
        found.append(_limit("whatsapp.limits.contacts", f"send 1 to {p.contacts_max} contacts", p))
    return [v for v in found if v is not None]


# --- template use at send time (§6.4, §5.3) ---------------------------------------------------

_Make = Callable[..., Violation]
_BAD_PARAM = re.compile(r"[\n\t]| {5,}")


def _template_violations(t: Template, spec: TemplateSpec | None, known: bool) -> list[Violation]:
    def v(rule: str, code: int, title: str, details: str, status: int = 400) -> Violation:
        return Violation(
            rule_id=rule,
            platform="whatsapp",
            message=f"template {t.name!r} ({t.language}): {details}",
            native_code=code,
            http_status=status,
            title=title,
            details=details,
        )

    if spec is None:
        if not known:
            return []  # the SDK does not know this template; the platform will decide
        return [
            v(
                "whatsapp.template.not_found",
                132001,
                "Template name does not exist in the translation",
                f"template name ({t.name}) does not exist in {t.language}",
                404,
            )
        ]
    status = spec.status
    if status == "PAUSED":
        return [v("whatsapp.template.paused", 132015, "Template is paused", "template is paused")]
    if status == "DISABLED":
        return [
            v("whatsapp.template.disabled", 132016, "Template is disabled", "template is disabled")
        ]
    if status != "APPROVED":
        return [
            v(
                "whatsapp.template.not_approved",
                132001,
                "Template name does not exist in the translation",
                f"template is {status}; only APPROVED templates can be sent",
                404,
            )
        ]
    out: list[Violation] = []
    if spec.parameter_format == "NAMED":
        if not t.named and t.param_count():
            out.append(
                v(
                    "whatsapp.template.param_names",
                    100,
                    "Invalid parameter",
                    "Parameter name is missing or empty",
                )
            )
        elif t.named and set(t.params) != set(spec.body_params):
            out.append(
                v(
                    "whatsapp.template.param_count",
                    132000,
                    "Number of parameters does not match the expected number of params",
                    f"body: localizable_params {sorted(t.params)} do not match the expected params "
                    f"{sorted(spec.body_params)}",
                )
            )
    elif t.named and t.param_count():
        out.append(
            v(
                "whatsapp.template.param_count",
                132000,
                "Number of parameters does not match the expected number of params",
                "body: named parameters given to a positional template",
            )
        )
    elif t.param_count() != len(spec.body_params):
        out.append(
            v(
                "whatsapp.template.param_count",
                132000,
                "Number of parameters does not match the expected number of params",
                f"body: number of localizable_params ({t.param_count()}) does not match the "
                f"expected number of params ({len(spec.body_params)})",
            )
        )
    values = list(t.params.values()) if isinstance(t.params, Mapping) else list(t.params)
    if any(not val or _BAD_PARAM.search(val) for val in values):
        out.append(
            v(
                "whatsapp.template.param_format",
                132008,
                "Template Parameter Format Mismatch",
                "a parameter is empty, or has a new line, a tab or more than 4 spaces in a row",
            )
        )
    out.extend(_header_violations(t, spec, v))
    if any(b.index >= len(spec.buttons) or b.index < 0 for b in t.buttons):
        out.append(
            v(
                "whatsapp.template.param_count",
                132000,
                "Number of parameters does not match the expected number of params",
                "button: parameter for a button the template does not have",
            )
        )
    return out


def _header_violations(t: Template, spec: TemplateSpec, make: _Make) -> list[Violation]:
    fmt = spec.header_format
    header = t.header
    mismatch = "header: parameter format does not match the template's header format"
    if fmt in {"IMAGE", "VIDEO", "DOCUMENT", "LOCATION"}:
        if header is None or header.kind.upper() != fmt:
            return [
                make(
                    "whatsapp.template.header_format", 132012, "Parameter format mismatch", mismatch
                )
            ]
    elif fmt == "TEXT" and spec.header_params:
        if header is None or header.kind != "text" or not header.text:
            return [
                make(
                    "whatsapp.template.header_format", 132012, "Parameter format mismatch", mismatch
                )
            ]
    elif header is not None:
        return [
            make("whatsapp.template.header_format", 132012, "Parameter format mismatch", mismatch)
        ]
    return []


# --- rate and reach (§7.1, §7.2) --------------------------------------------------------------


@attrs.frozen(slots=True)
class PairBucket:
    """The pair-rate token bucket for one (business number, customer) pair."""

    tokens: float
    updated: float


def _refill(bucket: PairBucket | None, now: float, policy: WhatsAppPolicy) -> float:
    if bucket is None:
        return float(policy.pair_burst)
    gained = max(0.0, now - bucket.updated) / policy.pair_interval_seconds
    return min(float(policy.pair_burst), bucket.tokens + gained)


def consume_pair(bucket: PairBucket | None, now: float, policy: WhatsAppPolicy) -> PairBucket:
    """The bucket after one more message at ``now`` (call only for an accepted message)."""
    return PairBucket(tokens=_refill(bucket, now, policy) - 1.0, updated=now)


def tier_hour(now: float) -> int:
    """The hour bucket a business-initiated send at ``now`` is counted in."""
    return math.floor(now / 3600)


def tier_hours(now: float, policy: WhatsAppPolicy) -> range:
    """The hour buckets that make up the moving window at ``now`` (§7.1).

    Meta counts unique customers over a moving 24 h. A key-value store cannot count live
    keys, so the SDK counts first contacts per hour; the simulator counts the same way, so
    both agree to the second. An hour's contacts leave the count when their hour is 24 h old.
    """
    hours = max(1, math.ceil(policy.tier_window_seconds / 3600))
    current = tier_hour(now)
    return range(current - hours + 1, current + 1)


def counts_toward_tier(content: Content, window_is_open: bool) -> bool:
    """A template outside the window is business-initiated and counts toward the tier (§7.1)."""
    return isinstance(content, Template) and not window_is_open


@attrs.frozen(kw_only=True, slots=True)
class SendState:
    """What is known about the conversation when a message is about to be sent.

    Attributes:
        now: the current Unix time (from the injected clock).
        last_inbound_at: when the customer last wrote, or ``None``.
        template: the stored template the message names, or ``None`` if not known.
        templates_known: ``True`` when the full template list is known, so a missing template
            is a violation; ``False`` lets unknown templates through to the platform.
        pair: the pair-rate bucket for this customer, or ``None`` (full).
        tier_used: unique customers reached outside a window in the last 24 h, this one excluded.
        tier_counted: this customer is already counted in the current 24 h.
    """

    now: float
    last_inbound_at: float | None = None
    template: TemplateSpec | None = None
    templates_known: bool = False
    pair: PairBucket | None = None
    tier_used: int = 0
    tier_counted: bool = False


def check_send(content: Content, state: SendState, policy: WhatsAppPolicy) -> tuple[Violation, ...]:
    """Every rule a message breaks, most important first; an empty tuple means "send it"."""
    out = _content_limits(content, policy)
    is_open = window_open(state.last_inbound_at, state.now, policy)
    if isinstance(content, Template):
        out.extend(_template_violations(content, state.template, state.templates_known))
    elif not is_open and not isinstance(content, Raw):
        # §5.1: outside the window only approved templates may be sent. Raw payloads are the
        # user's escape hatch; a raw template passes, anything else is held to the window.
        out.append(_window_violation(state.last_inbound_at, policy))
    elif isinstance(content, Raw) and not is_open and content.payload.get("type") != "template":
        out.append(_window_violation(state.last_inbound_at, policy))
    if out:
        return tuple(out)
    if (
        policy.tier_limit is not None
        and counts_toward_tier(content, is_open)
        and not state.tier_counted
        and state.tier_used >= policy.tier_limit
    ):
        out.append(
            Violation(
                rule_id="whatsapp.tier.business_initiated",
                platform="whatsapp",
                message=(
                    f"messaging limit reached: {state.tier_used} customers were already reached "
                    f"outside a window in the last 24 h (tier {policy.tier_limit})"
                ),
                native_code=policy.tier_error_code,
                title="Messaging limit reached",
                details="the business has reached its messaging limit for business-initiated messages",
            )
        )
    tokens = _refill(state.pair, state.now, policy)
    if tokens < 1.0:
        wait = (1.0 - tokens) * policy.pair_interval_seconds
        out.append(
            Violation(
                rule_id="whatsapp.rate.pair",
                platform="whatsapp",
                message=f"pair rate limit: too many messages to this customer; retry in {wait:.0f} s",
                native_code=131056,
                http_status=policy.pair_http_status,
                title="(Business Account, Consumer Account) pair rate limit hit",
                details="Message failed to send because there were too many messages sent from "
                "this phone number to the same phone number in a short period of time.",
                retry_after=wait,
            )
        )
    return tuple(out)


def _window_violation(last_inbound_at: float | None, policy: WhatsAppPolicy) -> Violation:
    closes = window_closes_at(last_inbound_at, policy)
    when = (
        "the customer has never written"
        if closes is None
        else f"the window closed at {to_datetime(closes).isoformat()}"
    )
    return Violation(
        rule_id="whatsapp.window.customer_service",
        platform="whatsapp",
        message=f"outside the 24 h customer-service window ({when}); send an approved template",
        native_code=131047,
        title="Re-engagement message",
        details="Message failed to send because more than 24 hours have passed since the "
        "customer last replied to this number.",
        closed_at=None if closes is None else to_datetime(closes),
    )


def media_kind(content: Content) -> str | None:
    """The WhatsApp message type of a media content, else ``None``."""
    if isinstance(content, Media):
        return "sticker" if isinstance(content, Sticker) else type(content).__name__.lower()
    return None


def reaction_only_sent(content: Content) -> bool:
    """Reactions get only a ``sent`` status, never delivered/read (§3)."""
    return isinstance(content, Reaction)
