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

    [[line]]
    bot_user_id = "U0123456789abcdef0123456789abcdef"
    channel_id = "2001234567"
    channel_secret = "sim-line-secret"
    channel_access_token = "sim-line-token"
    webhook_url = "http://127.0.0.1:8000/webhooks/line"
    plan = "jp-communication"             # LINE_PLANS: the monthly free messages, extras

    [line.rate_limits]                    # calls per LINE_RATE_LIMITS period; 0 turns one off
    push = 2000

    [[line.customers]]
    user_id = "U1111111111111111111111111111111a"
    display_name = "Ada"

    [[wechat]]
    account_id = "gh_0123456789ab"
    app_id = "wx0123456789abcdef"
    app_secret = "sim-wechat-secret"
    token = "sim-wechat-token"
    mode = "plaintext"                    # or "compatible", "safe" (needs encoding_aes_key)
    webhook_url = "http://127.0.0.1:8000/webhooks/wechat"

    [[wechat.customers]]
    openid = "oAda0000000000000000000000000"
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import attrs

from omnimsg.exceptions import ConfigurationError
from omnimsg.rules import messenger as messenger_rules

__all__ = [
    "LINE_PLANS",
    "LINE_RATE_LIMITS",
    "MESSENGER_TAG_PROFILES",
    "LineAccount",
    "LineCustomer",
    "LinePlan",
    "MessengerAccount",
    "MessengerCustomer",
    "SimConfig",
    "SimSettings",
    "WeChatAccount",
    "WeChatCustomer",
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
class LinePlan:
    """A LINE Official Account plan: its free messages a month and whether it may go over.

    ``extra`` plans (paid) count messages past ``free`` as additional messages, up to the
    account's ``extra_limit``; the others refuse with 429 once ``free`` is spent (spec/line.md
    §4). ``since`` is the date the numbers took effect.
    """

    name: str
    region: str
    free: int
    extra: bool
    since: str


LINE_PLANS: dict[str, LinePlan] = {
    p.name: p
    for p in (
        # Japan, revised 2023-06-01 (spec/line.md §4; research §4).
        LinePlan(name="jp-communication", region="JP", free=200, extra=False, since="2023-06-01"),
        LinePlan(name="jp-light", region="JP", free=5_000, extra=False, since="2023-06-01"),
        LinePlan(name="jp-standard", region="JP", free=30_000, extra=True, since="2023-06-01"),
        # Taiwan, effective 2023-09-01 (Medium no longer allows additional messages).
        LinePlan(name="tw-light", region="TW", free=200, extra=False, since="2023-09-01"),
        LinePlan(name="tw-medium", region="TW", free=3_000, extra=False, since="2023-09-01"),
        LinePlan(name="tw-high", region="TW", free=6_000, extra=True, since="2023-09-01"),
    )
}
"""The plans ``[[line]] plan`` may name, as data (spec/line.md §4: numbers second-hand)."""

LINE_RATE_LIMITS: dict[str, tuple[int, float]] = {
    # (calls, per seconds), per channel and endpoint (spec/line.md §4, mapping second-hand).
    "push": (2_000, 1.0),
    "reply": (2_000, 1.0),
    "multicast": (200, 1.0),
    "broadcast": (60, 3_600.0),
    "narrowcast": (60, 3_600.0),
    "loading": (100, 1.0),
    "other": (2_000, 1.0),
}
"""LINE's per-endpoint rate limits: ``[line.rate_limits]`` overrides the calls (0: off)."""


@attrs.frozen(kw_only=True)
class LineCustomer:
    """A pre-seeded LINE user: the user id the provider gives them and their profile.

    ``friend = false`` is a user who blocked the account (spec/line.md §8).
    """

    user_id: str
    display_name: str = "Customer"
    picture_url: str | None = None
    status_message: str | None = None
    language: str | None = None
    friend: bool = True


@attrs.frozen(kw_only=True)
class LineAccount:
    """One simulated LINE Official Account (its Messaging API channel) and the app under test.

    ``plan`` names one of :data:`LINE_PLANS`; ``extra_limit`` caps a paid plan's additional
    messages a month (``None``: no cap). ``reply_token_ttl`` (LINE: "about a minute",
    UNVERIFIED) and ``retry_key_ttl`` (24 h) run on the virtual clock, as do
    ``transcoding_time`` (how long a customer's video or audio is ``processing``) and the
    narrowcast phases (``narrowcast_wait`` in ``waiting``, then ``narrowcast_send`` in
    ``sending``). ``rate_limits`` gives the calls per period of :data:`LINE_RATE_LIMITS`.
    """

    bot_user_id: str
    channel_id: str
    channel_secret: str = attrs.field(repr=False)
    channel_access_token: str = attrs.field(repr=False)
    webhook_url: str | None = None
    basic_id: str = "@000omnimsg"
    display_name: str = "omnimsg test bot"
    chat_mode: Literal["bot", "chat"] = "bot"
    mark_as_read_mode: Literal["auto", "manual"] = "auto"
    plan: str = "jp-communication"
    extra_limit: int | None = None
    reply_token_ttl: float = 60.0
    retry_key_ttl: float = 86_400.0
    transcoding_time: float = 5.0
    narrowcast_wait: float = 1.0
    narrowcast_send: float = 2.0
    rate_limits: Mapping[str, int] = attrs.field(
        factory=lambda: {k: v[0] for k, v in LINE_RATE_LIMITS.items()}
    )
    rate_limit_message: str = "The API rate limit has been exceeded. Try again later."
    customers: tuple[LineCustomer, ...] = ()

    @property
    def quota_plan(self) -> LinePlan:
        """The plan's data."""
        return LINE_PLANS[self.plan]

    @property
    def monthly_limit(self) -> int | None:
        """The most messages a month: free plus the extra cap (``None``: no limit)."""
        plan = self.quota_plan
        if not plan.extra:
            return plan.free
        return None if self.extra_limit is None else plan.free + self.extra_limit


@attrs.frozen(kw_only=True)
class WeChatCustomer:
    """A pre-seeded WeChat user as one Official Account sees them (an OpenID is per account).

    ``following = false`` is a user who unfollowed (or never followed): sends to them fail
    with 43004. ``blocks_templates`` makes their template messages finish as
    ``failed:user block`` (spec/wechat.md §6.1).
    """

    openid: str
    following: bool = True
    unionid: str | None = None
    remark: str = ""
    language: str = "zh_CN"
    blocks_templates: bool = False


@attrs.frozen(kw_only=True)
class WeChatAccount:
    """One simulated WeChat Official Account (a Service Account) and the app under test.

    ``mode`` is the server configuration's message encryption (spec/wechat.md §2.1):
    ``compatible`` and ``safe`` need the 43-character ``encoding_aes_key``. The
    customer-service window (§5.1): a message opens ``cs_message_count`` sends for
    ``cs_message_window`` seconds, a follow, a QR-code scan or a menu click
    ``cs_event_count`` for ``cs_event_window``. A webhook answered later than
    ``reply_timeout`` (virtual seconds) counts as unanswered and goes out again, up to
    ``deliveries`` attempts in all (§3.4: "three in total", ambiguous). Access tokens live
    ``token_ttl`` seconds; a replaced one still works for ``token_grace``; at most
    ``token_daily_limit`` fetches a day (§4). ``ip_whitelist`` empty: any caller.
    ``templates`` are the template ids in use; ``template_finish_delay`` is when their
    ``TEMPLATESENDJOBFINISH`` comes; ``text_limit`` caps a customer-service text in bytes
    (measured, UNVERIFIED); ``media_ttl`` is how long uploaded media lives (3 days).
    ``template_daily_limit`` and ``custom_send_daily_limit`` are the daily quotas of
    successful template and customer-service sends (§9: 100,000 and 500,000; a day in
    Beijing time, UNVERIFIED), 45009 beyond; ``clear_quota_monthly_limit`` how many
    ``/cgi-bin/clear_quota`` calls a month resets them (10, then 48006).
    """

    account_id: str
    app_id: str
    app_secret: str = attrs.field(repr=False)
    token: str = attrs.field(repr=False)
    encoding_aes_key: str | None = attrs.field(default=None, repr=False)
    mode: Literal["plaintext", "compatible", "safe"] = "plaintext"
    webhook_url: str | None = None
    cs_message_window: float = 172_800.0
    cs_message_count: int = 5
    cs_event_window: float = 60.0
    cs_event_count: int = 3
    reply_timeout: float = 5.0
    deliveries: int = 3
    token_ttl: int = 7200
    token_grace: int = 300
    token_daily_limit: int = 2000
    ip_whitelist: tuple[str, ...] = ()
    templates: tuple[str, ...] = ()
    template_finish_delay: float = 1.0
    text_limit: int = 2048
    media_ttl: float = 259_200.0
    template_daily_limit: int = 100_000
    custom_send_daily_limit: int = 500_000
    clear_quota_monthly_limit: int = 10
    customers: tuple[WeChatCustomer, ...] = ()


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
    line: tuple[LineAccount, ...] = ()
    wechat: tuple[WeChatAccount, ...] = ()

    def describe(self) -> str:
        """What it declares, for ``omnimsg-sim check``: "1 WhatsApp account(s), ..."."""
        parts = [
            f"{len(self.whatsapp)} WhatsApp account(s)" if self.whatsapp else "",
            f"{len(self.messenger)} Messenger page(s)" if self.messenger else "",
            f"{len(self.line)} LINE account(s)" if self.line else "",
            f"{len(self.wechat)} WeChat account(s)" if self.wechat else "",
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


_LINE_ID = re.compile(r"U[0-9a-f]{32}")


def _line_id(value: str, where: str) -> str:
    """A LINE user id: ``U`` and 32 lower-case hex digits (spec/line.md §2)."""
    if not _LINE_ID.fullmatch(value):
        raise ConfigurationError(
            f"{where}: must be 'U' and 32 hex digits (a LINE user id); got {value!r}"
        )
    return value


def _line(t: Any, where: str) -> LineAccount:
    f = _Fields(t, where)
    customers = []
    for i, c in enumerate(f.tables("customers")):
        cf = _Fields(c, f"{where}.customers[{i}]")
        customers.append(
            LineCustomer(
                user_id=_line_id(cf.text("user_id", required=True), f"{cf.where}.user_id"),
                display_name=cf.text("display_name", "Customer"),
                picture_url=cf.text("picture_url"),
                status_message=cf.text("status_message"),
                language=cf.text("language"),
                friend=cf.flag("friend", True),
            )
        )
        cf.done()
    limits_table = f._get("rate_limits", dict, False, {})
    lf = _Fields(limits_table, f"{where}.rate_limits")
    limits = {
        key: _bounded(lf.integer(key, calls), f"{lf.where}.{key}", 0)
        for key, (calls, _period) in LINE_RATE_LIMITS.items()
    }
    lf.done()
    extra_limit = f.integer("extra_limit", None)
    account = LineAccount(
        bot_user_id=_line_id(f.text("bot_user_id", required=True), f"{where}.bot_user_id"),
        channel_id=_digits(f.text("channel_id", required=True), f"{where}.channel_id"),
        channel_secret=f.text("channel_secret", required=True),
        channel_access_token=f.text("channel_access_token", required=True),
        webhook_url=f.text("webhook_url"),
        basic_id=f.text("basic_id", "@000omnimsg"),
        display_name=f.text("display_name", "omnimsg test bot"),
        chat_mode=f.choice("chat_mode", "bot", ("bot", "chat")),
        mark_as_read_mode=f.choice("mark_as_read_mode", "auto", ("auto", "manual")),
        plan=f.choice("plan", "jp-communication", tuple(LINE_PLANS)),
        extra_limit=None
        if extra_limit is None
        else _bounded(extra_limit, f"{where}.extra_limit", 0),
        reply_token_ttl=f.number("reply_token_ttl", 60.0),
        retry_key_ttl=f.number("retry_key_ttl", 86_400.0),
        transcoding_time=f.number("transcoding_time", 5.0),
        narrowcast_wait=f.number("narrowcast_wait", 1.0),
        narrowcast_send=f.number("narrowcast_send", 2.0),
        rate_limits=limits,
        rate_limit_message=f.text(
            "rate_limit_message", "The API rate limit has been exceeded. Try again later."
        ),
        customers=tuple(customers),
    )
    f.done()
    if extra_limit is not None and not account.quota_plan.extra:
        raise ConfigurationError(
            f"{where}.extra_limit: plan {account.plan!r} allows no additional messages"
        )
    if account.webhook_url is not None:
        check_webhook_url(account.webhook_url, f"{where}.webhook_url")
    ids = [c.user_id for c in account.customers]
    if len(set(ids)) != len(ids):
        raise ConfigurationError(f"{where}.customers: two customers share a user_id")
    if account.bot_user_id in ids:
        raise ConfigurationError(f"{where}.customers: a customer has the bot's user id")
    return account


_WECHAT_ORIGINAL_ID = re.compile(r"gh_[0-9a-zA-Z]{1,64}")
_WECHAT_APP_ID = re.compile(r"wx[0-9a-zA-Z]{1,64}")
_WECHAT_OPENID = re.compile(r"[0-9A-Za-z_-]{1,64}")


def _matching(value: str, pattern: re.Pattern[str], where: str, what: str) -> str:
    if not pattern.fullmatch(value):
        raise ConfigurationError(f"{where}: must be {what}; got {value!r}")
    return value


def _aes_key(value: str | None, where: str) -> str | None:
    """A 43-character EncodingAESKey: base64 of 32 bytes without the ``=`` (spec §2.2)."""
    import base64
    import binascii

    if value is None:
        return None
    try:
        ok = len(value) == 43 and len(base64.b64decode(value + "=", validate=True)) == 32
    except (binascii.Error, ValueError):
        ok = False
    if not ok:
        raise ConfigurationError(
            f"{where}: must be the 43-character EncodingAESKey (base64 of 32 bytes, no '=')"
        )
    return value


def _strings(values: list[Any], where: str) -> tuple[str, ...]:
    for i, value in enumerate(values):
        if not isinstance(value, str) or not value:
            raise ConfigurationError(f"{where}[{i}]: expected a non-empty string")
    return tuple(values)


def _wechat(t: Any, where: str) -> WeChatAccount:
    f = _Fields(t, where)
    customers = []
    for i, c in enumerate(f.tables("customers")):
        cf = _Fields(c, f"{where}.customers[{i}]")
        customers.append(
            WeChatCustomer(
                openid=_matching(
                    cf.text("openid", required=True),
                    _WECHAT_OPENID,
                    f"{cf.where}.openid",
                    "an OpenID (letters, digits, '-' and '_', at most 64)",
                ),
                following=cf.flag("following", True),
                unionid=cf.text("unionid"),
                remark=cf.text("remark", ""),
                language=cf.text("language", "zh_CN"),
                blocks_templates=cf.flag("blocks_templates", False),
            )
        )
        cf.done()
    account = WeChatAccount(
        account_id=_matching(
            f.text("account_id", required=True),
            _WECHAT_ORIGINAL_ID,
            f"{where}.account_id",
            "the original id, 'gh_' and letters or digits",
        ),
        app_id=_matching(
            f.text("app_id", required=True), _WECHAT_APP_ID, f"{where}.app_id", "'wx...'"
        ),
        app_secret=f.text("app_secret", required=True),
        token=f.text("token", required=True),
        encoding_aes_key=_aes_key(f.text("encoding_aes_key"), f"{where}.encoding_aes_key"),
        mode=f.choice("mode", "plaintext", ("plaintext", "compatible", "safe")),
        webhook_url=f.text("webhook_url"),
        cs_message_window=f.number("cs_message_window", 172_800.0),
        cs_message_count=_bounded(f.integer("cs_message_count", 5), f"{where}.cs_message_count", 0),
        cs_event_window=f.number("cs_event_window", 60.0),
        cs_event_count=_bounded(f.integer("cs_event_count", 3), f"{where}.cs_event_count", 0),
        reply_timeout=f.number("reply_timeout", 5.0),
        deliveries=_bounded(f.integer("deliveries", 3), f"{where}.deliveries", 1, 10),
        token_ttl=_bounded(f.integer("token_ttl", 7200), f"{where}.token_ttl", 1),
        token_grace=_bounded(f.integer("token_grace", 300), f"{where}.token_grace", 0),
        token_daily_limit=_bounded(
            f.integer("token_daily_limit", 2000), f"{where}.token_daily_limit", 0
        ),
        ip_whitelist=_strings(f.tables("ip_whitelist"), f"{where}.ip_whitelist"),
        templates=_strings(f.tables("templates"), f"{where}.templates"),
        template_finish_delay=f.number("template_finish_delay", 1.0),
        text_limit=_bounded(f.integer("text_limit", 2048), f"{where}.text_limit", 1),
        media_ttl=f.number("media_ttl", 259_200.0),
        template_daily_limit=_bounded(
            f.integer("template_daily_limit", 100_000), f"{where}.template_daily_limit", 0
        ),
        custom_send_daily_limit=_bounded(
            f.integer("custom_send_daily_limit", 500_000), f"{where}.custom_send_daily_limit", 0
        ),
        clear_quota_monthly_limit=_bounded(
            f.integer("clear_quota_monthly_limit", 10), f"{where}.clear_quota_monthly_limit", 0
        ),
        customers=tuple(customers),
    )
    f.done()
    if account.mode != "plaintext" and account.encoding_aes_key is None:
        raise ConfigurationError(f"{where}.encoding_aes_key: mode {account.mode!r} needs one")
    if account.webhook_url is not None:
        check_webhook_url(account.webhook_url, f"{where}.webhook_url")
    ids = [c.openid for c in account.customers]
    if len(set(ids)) != len(ids):
        raise ConfigurationError(f"{where}.customers: two customers share an openid")
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
    bots = tuple(_line(t, f"{source}: line[{i}]") for i, t in enumerate(top.tables("line")))
    officials = tuple(
        _wechat(t, f"{source}: wechat[{i}]") for i, t in enumerate(top.tables("wechat"))
    )
    top.done()
    official_ids = [o.account_id for o in officials]
    if len(set(official_ids)) != len(official_ids):
        raise ConfigurationError(f"{source}: two wechat accounts share an account_id")
    app_ids = [o.app_id for o in officials]
    if len(set(app_ids)) != len(app_ids):
        raise ConfigurationError(f"{source}: two wechat accounts share an app_id")
    bot_ids = [b.bot_user_id for b in bots]
    if len(set(bot_ids)) != len(bot_ids):
        raise ConfigurationError(f"{source}: two line accounts share a bot_user_id")
    tokens = [b.channel_access_token for b in bots]
    if len(set(tokens)) != len(tokens):
        raise ConfigurationError(f"{source}: two line accounts share a channel_access_token")
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
    if not accounts and not pages and not bots and not officials:
        raise ConfigurationError(
            f"{source}: declare at least one platform account, e.g. [[whatsapp]], [[messenger]], "
            "[[line]] or [[wechat]]"
        )
    return SimConfig(sim=settings, whatsapp=accounts, messenger=pages, line=bots, wechat=officials)
