"""The simulator's configuration: a TOML file, checked field by field before anything starts.

Example (every field is documented in ``docs/simulator.md``)::

    [sim]
    seed = 7
    clock = "frozen"                      # or "running"
    start = "2026-01-01T09:00:00Z"        # frozen clock's start (default: now)

    [[whatsapp]]
    phone_number_id = "109876543210"
    waba_id = "209876543210"
    access_token = "sim-wa-token"
    app_secret = "sim-wa-secret"
    verify_token = "sim-verify"
    webhook_url = "http://127.0.0.1:8000/webhooks/whatsapp"

    [[whatsapp.customers]]
    wa_id = "15551230001"
    name = "Ada"

    [[whatsapp.templates]]
    name = "order_update"
    language = "en_US"
    category = "UTILITY"
    status = "APPROVED"
    body = "Hi {{1}}, order {{2}} is on its way."

    [[messenger]]
    page_id = "102938475610293"
    page_access_token = "sim-page-token"
    app_secret = "sim-messenger-secret"
    verify_token = "sim-verify"
    webhook_url = "http://127.0.0.1:8000/webhooks/messenger"

    [[messenger.customers]]
    psid = "6254798417866420"
    first_name = "Ada"
    last_name = "Lovelace"
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import attrs

from omnimsg.exceptions import ConfigurationError
from omnimsg.rules import messenger as messenger_rules

__all__ = [
    "MESSENGER_TAG_PROFILES",
    "MessengerAccount",
    "MessengerCustomer",
    "SimConfig",
    "SimSettings",
    "WhatsAppAccount",
    "WhatsAppCustomer",
    "WhatsAppTemplateSeed",
    "check_webhook_url",
    "load_config",
    "parse_config",
]


@attrs.frozen(kw_only=True)
class WhatsAppCustomer:
    """A pre-seeded WhatsApp customer (``user_id`` is the optional BSUID)."""

    wa_id: str
    name: str = "Customer"
    user_id: str | None = None


@attrs.frozen(kw_only=True)
class WhatsAppTemplateSeed:
    """A pre-seeded template. ``components`` wins over the ``header``/``body``/``footer`` shorthand."""

    name: str
    language: str = "en_US"
    category: str = "UTILITY"
    status: str = "APPROVED"
    parameter_format: str = "POSITIONAL"
    components: tuple[Mapping[str, Any], ...] = ()


@attrs.frozen(kw_only=True)
class WhatsAppAccount:
    """One simulated WhatsApp business phone number and its WABA.

    ``window_error`` chooses how 131047 is answered: ``"async"`` (as the platform does: 200,
    then a ``failed`` status webhook) or ``"sync"`` (an immediate HTTP 400).
    """

    phone_number_id: str
    waba_id: str
    access_token: str = attrs.field(repr=False)
    app_secret: str = attrs.field(repr=False)
    verify_token: str = attrs.field(repr=False, default="")
    webhook_url: str | None = None
    display_phone_number: str = "15550000000"
    verified_name: str = "omnimsg test business"
    window_error: Literal["async", "sync"] = "async"
    tier_limit: int | None = 250
    pair_rate: bool = True
    read_after: float | None = 2.0
    deliver_after: float = 1.0
    unknown_customers: Literal["accept", "undeliverable"] = "accept"
    customers: tuple[WhatsAppCustomer, ...] = ()
    templates: tuple[WhatsAppTemplateSeed, ...] = ()


MESSENGER_TAG_PROFILES: tuple[str, ...] = tuple(p.name for p in messenger_rules.PROFILES)
"""The Messenger rule profiles ``[[messenger]] tag_profile`` may name (those of
:mod:`omnimsg.rules.messenger`): ``messenger-2026-04-27``, the latest and the default, refuses
CONFIRMED_EVENT_UPDATE, POST_PURCHASE_UPDATE and ACCOUNT_UPDATE with code 100 (Meta's changelog
of 2026-03-27); ``messenger-2020-03-04`` still takes them. HUMAN_AGENT and CUSTOMER_FEEDBACK
stay in both.
"""


@attrs.frozen(kw_only=True)
class MessengerCustomer:
    """A pre-seeded Messenger user: a page-scoped id (PSID) and the profile the Page sees."""

    psid: str
    first_name: str = "Customer"
    last_name: str = ""
    profile_pic: str | None = None
    locale: str | None = None


@attrs.frozen(kw_only=True)
class MessengerAccount:
    """One simulated Facebook Page on the Messenger Platform, and the app under test.

    ``app_id`` is the app the Page token belongs to (the handover protocol's primary receiver,
    the ``app_id`` of message echoes). ``send_rate`` and ``media_send_rate`` are the Send
    API's calls per second per Page (spec/messenger.md §6; 0 turns the limit off), counted on
    the virtual clock.
    """

    page_id: str
    page_access_token: str = attrs.field(repr=False)
    app_secret: str = attrs.field(repr=False)
    verify_token: str = attrs.field(repr=False, default="")
    page_name: str = "omnimsg test page"
    app_id: str = "1000000000000001"
    webhook_url: str | None = None
    tag_profile: str = attrs.field(factory=lambda: messenger_rules.latest().name)
    human_agent: bool = True
    deliver_after: float = 1.0
    read_after: float | None = 2.0
    send_rate: int = 300
    media_send_rate: int = 10
    secondary_receivers: tuple[str, ...] = ()
    customers: tuple[MessengerCustomer, ...] = ()


@attrs.frozen(kw_only=True)
class SimSettings:
    """Simulator-wide settings."""

    seed: int = 0
    clock: Literal["frozen", "running"] = "frozen"
    start: float | None = None
    webhook_timeout: float = 5.0
    # Meta retries failed webhooks with back-off for up to 7 days (spec/whatsapp.md §1.3);
    # the exact schedule is UNVERIFIED, so it is configurable.
    webhook_retry_delays: tuple[float, ...] = (10.0, 30.0, 120.0, 600.0, 3600.0, 21600.0, 86400.0)
    max_body_bytes: int = 8 << 20
    # The webhook log keeps the newest attempts only, so a long-running server stays small.
    delivery_log_limit: int = 10_000
    # How many webhooks may be in flight at once (server and async paths); one conversation
    # never has more than one (omnimsg_sim.dispatch).
    webhook_concurrency: int = 32
    # The outbox (GET /_sim/outbox) keeps the newest sent messages only; 0 keeps none.
    outbox_limit: int = 100_000


@attrs.frozen(kw_only=True)
class SimConfig:
    """The whole simulator configuration."""

    sim: SimSettings = attrs.field(factory=SimSettings)
    whatsapp: tuple[WhatsAppAccount, ...] = ()
    messenger: tuple[MessengerAccount, ...] = ()

    def describe(self) -> str:
        """What it declares, for ``omnimsg-sim check``: "1 WhatsApp account(s), ..."."""
        parts = [
            f"{len(self.whatsapp)} WhatsApp account(s)" if self.whatsapp else "",
            f"{len(self.messenger)} Messenger page(s)" if self.messenger else "",
        ]
        return ", ".join(p for p in parts if p)


def load_config(path: str | Path) -> SimConfig:
    """Read and check a TOML config file."""
    p = Path(path)
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(f"config file not found: {p}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"cannot read config file {p}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{p}: not valid TOML: {exc}") from None
    return parse_config(raw, source=str(p))


class _Fields:
    """Reads one TOML table, naming the exact field in every error."""

    def __init__(self, table: Any, where: str) -> None:
        if not isinstance(table, dict):
            raise ConfigurationError(f"{where}: must be a table")
        self.table = table
        self.where = where
        self.used: set[str] = set()

    def _get(self, key: str, kind: type | tuple[type, ...], required: bool, default: Any) -> Any:
        self.used.add(key)
        if self.table.get(key) is None:  # TOML has no null; from Python, None means "absent"
            if required:
                raise ConfigurationError(f"{self.where}.{key}: missing (required)")
            return default
        value = self.table[key]
        if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            raise ConfigurationError(f"{self.where}.{key}: expected {_name(kind)}, got a boolean")
        if not isinstance(value, kind):
            raise ConfigurationError(
                f"{self.where}.{key}: expected {_name(kind)}, got {type(value).__name__}"
            )
        return value

    def text(self, key: str, default: str | None = None, *, required: bool = False) -> Any:
        value = self._get(key, str, required, default)
        if required and not value:
            raise ConfigurationError(f"{self.where}.{key}: must not be empty")
        return value

    def number(self, key: str, default: float | None) -> Any:
        value = self._get(key, (int, float), False, default)
        if value is not None and value < 0:
            raise ConfigurationError(f"{self.where}.{key}: must not be negative")
        return value

    def integer(self, key: str, default: int | None) -> Any:
        return self._get(key, int, False, default)

    def flag(self, key: str, default: bool) -> Any:
        return self._get(key, bool, False, default)

    def choice(self, key: str, default: str, options: tuple[str, ...]) -> Any:
        value = self.text(key, default)
        if value not in options:
            raise ConfigurationError(
                f"{self.where}.{key}: must be one of {', '.join(options)}; got {value!r}"
            )
        return value

    def tables(self, key: str) -> list[Any]:
        value = self._get(key, list, False, [])
        return list(value)

    def done(self) -> None:
        unknown = sorted(set(self.table) - self.used)
        if unknown:
            raise ConfigurationError(f"{self.where}: unknown field(s) {', '.join(unknown)}")


def _name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(
        {
            "str": "a string",
            "int": "an integer",
            "float": "a number",
            "bool": "true/false",
            "list": "a list",
        }.get(k.__name__, k.__name__)
        for k in kinds
    )


def _start(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    raise ConfigurationError(
        f"{where}.start: expected an ISO date-time such as 2026-01-01T09:00:00Z"
    )


def _template(t: Any, where: str) -> WhatsAppTemplateSeed:
    f = _Fields(t, where)
    name = f.text("name", required=True)
    components: list[Mapping[str, Any]] = []
    raw_components = f._get("components", list, False, None)
    header, body, footer = f.text("header"), f.text("body"), f.text("footer")
    buttons = f.tables("buttons")
    if raw_components is not None:
        components = [c for c in raw_components if isinstance(c, dict)]
    else:
        if body is None:
            raise ConfigurationError(f"{where}.body: missing (or give components)")
        if header:
            components.append({"type": "HEADER", "format": "TEXT", "text": header})
        components.append({"type": "BODY", "text": body})
        if footer:
            components.append({"type": "FOOTER", "text": footer})
        if buttons:
            components.append({"type": "BUTTONS", "buttons": buttons})
    seed = WhatsAppTemplateSeed(
        name=name,
        language=f.text("language", "en_US"),
        category=f.choice("category", "UTILITY", ("MARKETING", "UTILITY", "AUTHENTICATION")),
        status=f.text("status", "APPROVED").upper(),
        parameter_format=f.choice("parameter_format", "POSITIONAL", ("POSITIONAL", "NAMED")),
        components=tuple(components),
    )
    f.done()
    return seed


def _whatsapp(t: Any, where: str) -> WhatsAppAccount:
    f = _Fields(t, where)
    customers = []
    for i, c in enumerate(f.tables("customers")):
        cf = _Fields(c, f"{where}.customers[{i}]")
        customers.append(
            WhatsAppCustomer(
                wa_id=cf.text("wa_id", required=True),
                name=cf.text("name", "Customer"),
                user_id=cf.text("user_id"),
            )
        )
        cf.done()
    templates = [
        _template(t, f"{where}.templates[{i}]") for i, t in enumerate(f.tables("templates"))
    ]
    account = WhatsAppAccount(
        phone_number_id=f.text("phone_number_id", required=True),
        waba_id=f.text("waba_id", required=True),
        access_token=f.text("access_token", required=True),
        app_secret=f.text("app_secret", required=True),
        verify_token=f.text("verify_token", ""),
        webhook_url=f.text("webhook_url"),
        display_phone_number=f.text("display_phone_number", "15550000000"),
        verified_name=f.text("verified_name", "omnimsg test business"),
        window_error=f.choice("window_error", "async", ("async", "sync")),
        tier_limit=f.integer("tier_limit", 250),
        pair_rate=f.flag("pair_rate", True),
        read_after=f.number("read_after", 2.0),
        deliver_after=f.number("deliver_after", 1.0),
        unknown_customers=f.choice("unknown_customers", "accept", ("accept", "undeliverable")),
        customers=tuple(customers),
        templates=tuple(templates),
    )
    f.done()
    if account.webhook_url is not None:
        check_webhook_url(account.webhook_url, f"{where}.webhook_url")
    return account


def _digits(value: str, where: str) -> str:
    """A Graph id: digits only (it becomes a path segment and, for app ids, a JSON number)."""
    if not value.isascii() or not value.isdigit():
        raise ConfigurationError(f"{where}: must be digits only (a Graph id); got {value!r}")
    return value


def _messenger(t: Any, where: str) -> MessengerAccount:
    f = _Fields(t, where)
    customers = []
    for i, c in enumerate(f.tables("customers")):
        cf = _Fields(c, f"{where}.customers[{i}]")
        psid = cf.text("psid", required=True)
        customers.append(
            MessengerCustomer(
                psid=_digits(psid, f"{cf.where}.psid"),
                first_name=cf.text("first_name", "Customer"),
                last_name=cf.text("last_name", ""),
                profile_pic=cf.text("profile_pic"),
                locale=cf.text("locale"),
            )
        )
        cf.done()
    receivers = []
    for i, app in enumerate(f.tables("secondary_receivers")):
        if not isinstance(app, str):
            raise ConfigurationError(f"{where}.secondary_receivers[{i}]: expected a string")
        receivers.append(_digits(app, f"{where}.secondary_receivers[{i}]"))
    page_id = _digits(f.text("page_id", required=True), f"{where}.page_id")
    account = MessengerAccount(
        page_id=page_id,
        page_name=f.text("page_name", "omnimsg test page"),
        page_access_token=f.text("page_access_token", required=True),
        app_secret=f.text("app_secret", required=True),
        verify_token=f.text("verify_token", ""),
        app_id=_digits(f.text("app_id", "1000000000000001"), f"{where}.app_id"),
        webhook_url=f.text("webhook_url"),
        tag_profile=f.choice("tag_profile", messenger_rules.latest().name, MESSENGER_TAG_PROFILES),
        human_agent=f.flag("human_agent", True),
        deliver_after=f.number("deliver_after", 1.0),
        read_after=f.number("read_after", 2.0),
        send_rate=_bounded(f.integer("send_rate", 300), f"{where}.send_rate", 0),
        media_send_rate=_bounded(f.integer("media_send_rate", 10), f"{where}.media_send_rate", 0),
        secondary_receivers=tuple(receivers),
        customers=tuple(customers),
    )
    f.done()
    if account.webhook_url is not None:
        check_webhook_url(account.webhook_url, f"{where}.webhook_url")
    psids = [c.psid for c in account.customers]
    if len(set(psids)) != len(psids):
        raise ConfigurationError(f"{where}.customers: two customers share a psid")
    return account


def check_webhook_url(url: str, where: str) -> None:
    """Refuse a webhook URL that is neither http(s) nor the built-in ``/_sim/sink``.

    Also refused: whitespace and control characters (CR/LF would end the request line of
    every delivery) and an http(s) URL without a host.
    """
    from urllib.parse import urlsplit

    from .sink import is_sink

    if is_sink(url):
        return
    bad = not url.startswith(("http://", "https://")) or any(
        ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url
    )
    if not bad:
        try:
            bad = not urlsplit(url).hostname
        except ValueError:  # e.g. an unclosed IPv6 bracket
            bad = True
    if bad:
        raise ConfigurationError(f"{where}: must be an http(s) URL or /_sim/sink")


MAX_CONCURRENCY = 1024
"""The most webhooks ``[sim] webhook_concurrency`` lets the simulator have in flight."""


def _bounded(value: int, where: str, least: int, most: int | None = None) -> int:
    """An integer setting within its bounds, the error naming the field."""
    if value < least or (most is not None and value > most):
        bounds = f"between {least} and {most}" if most is not None else f"at least {least}"
        raise ConfigurationError(f"{where}: must be {bounds}; got {value}")
    return value


def parse_config(raw: Mapping[str, Any], *, source: str = "config") -> SimConfig:
    """Check an already-decoded config mapping (the TOML's tables)."""
    top = _Fields(dict(raw), source)
    sim_table = top._get("sim", dict, False, {})
    sf = _Fields(sim_table, f"{source}: sim")
    delays = sf._get("webhook_retry_delays", list, False, None)
    settings = SimSettings(
        seed=sf.integer("seed", 0),
        clock=sf.choice("clock", "frozen", ("frozen", "running")),
        start=_start(sf.table.get("start"), f"{source}: sim"),
        webhook_timeout=sf.number("webhook_timeout", 5.0),
        webhook_retry_delays=tuple(float(d) for d in delays)
        if delays is not None
        else SimSettings().webhook_retry_delays,
        max_body_bytes=sf.integer("max_body_bytes", 8 << 20),
        delivery_log_limit=sf.integer("delivery_log_limit", 10_000),
        webhook_concurrency=_bounded(
            sf.integer("webhook_concurrency", 32),
            f"{sf.where}.webhook_concurrency",
            1,
            MAX_CONCURRENCY,
        ),
        outbox_limit=_bounded(sf.integer("outbox_limit", 100_000), f"{sf.where}.outbox_limit", 0),
    )
    sf.used.add("start")
    sf.done()
    accounts = tuple(
        _whatsapp(t, f"{source}: whatsapp[{i}]") for i, t in enumerate(top.tables("whatsapp"))
    )
    pages = tuple(
        _messenger(t, f"{source}: messenger[{i}]") for i, t in enumerate(top.tables("messenger"))
    )
    top.done()
    ids = [a.phone_number_id for a in accounts]
    if len(set(ids)) != len(ids):
        raise ConfigurationError(f"{source}: two whatsapp accounts share a phone_number_id")
    page_ids = [p.page_id for p in pages]
    if len(set(page_ids)) != len(page_ids):
        raise ConfigurationError(f"{source}: two messenger accounts share a page_id")
    # One Graph host: an id names one object (a phone number, a WABA or a Page), never two.
    if set(page_ids) & {*ids, *(a.waba_id for a in accounts)}:
        raise ConfigurationError(
            f"{source}: a messenger page_id is also a whatsapp phone_number_id or waba_id "
            "(they share the Graph host)"
        )
    if not accounts and not pages:
        raise ConfigurationError(
            f"{source}: declare at least one platform account, e.g. [[whatsapp]] or [[messenger]]"
        )
    return SimConfig(sim=settings, whatsapp=accounts, messenger=pages)
