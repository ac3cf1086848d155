"""LINE Messaging API rules, pure: given messages, state and ``now``, return violations.

Shared by the SDK's pre-flight (raise before any I/O) and the simulator (answer LINE's own
error). Facts: ``spec/line.md`` (sections cited as §N) and the research notes of issue 8
(cited as "research §N"). Every number is a field of :class:`LinePolicy`; the UNVERIFIED
ones say so, so that a profile can change them with :func:`attrs.evolve`.

The rules read the LINE message objects *after* the adapter turned the unified content into
them (``platforms/line/messages.py``): a ``Buttons`` that became quick replies is held to
the quick replies' limit, and a ``Raw`` LINE message is checked like any other.

Quotas (§4) are per country and per plan, dated: :data:`PROFILES` holds Japan since
2023-06-01, Taiwan since 2023-09-01 and Thailand (numbers UNVERIFIED). A profile carries the
country's plans and the one in force for the channel (:meth:`LinePolicy.with_plan`).
Messages are counted per recipient; replies are free; a free plan cannot go over its
messages (LINE answers 429 "You have reached your monthly limit."), a paid plan that allows
additional messages counts them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

import attrs

from ..exceptions import ConfigurationError
from ._core import PolicyProfile, Violation

__all__ = [
    "BAD_TO_MESSAGE",
    "MONTHLY_LIMIT_MESSAGE",
    "PROFILES",
    "RATE_LIMITS",
    "RATE_LIMIT_MESSAGE",
    "LinePolicy",
    "Plan",
    "QuotaUse",
    "RateLimit",
    "check_follow",
    "check_loading_seconds",
    "check_messages",
    "check_multicast",
    "check_quota",
    "check_rate",
    "extra_messages",
    "latest",
    "profile",
    "quota_limit",
    "quota_month",
    "rate_window",
    "recipient_kind",
    "utf16_length",
]

MONTHLY_LIMIT_MESSAGE = "You have reached your monthly limit."
"""LINE's 429 body ``message`` when the month's messages are used up (§4, §6)."""
BAD_TO_MESSAGE = "The property, 'to', in the request body is invalid (line: -, column: -)"
"""LINE's 400 ``message`` for a ``to`` that is no user, group or room id (§6)."""
RATE_LIMIT_MESSAGE = "The API rate limit has been exceeded. Try again later."
"""LINE's 429 ``message`` over a rate limit (§4: third-party only, UNVERIFIED)."""

_HOUR = 3600.0


@attrs.frozen(kw_only=True, slots=True)
class Plan:
    """One LINE Official Account plan of a country (§4; research §4).

    Attributes:
        name: omnimsg's name for it (``"communication"``, ``"light"``, ``"standard"``...).
        free_messages: the messages included each month.
        extra_allowed: whether messages beyond them may be bought (else LINE refuses with
            429 once the month is used up).
        extra_limit: the cap on additional messages set in OA Manager (research §2: it makes
            ``GET /v2/bot/message/quota`` answer ``value`` = free + cap); ``None``: no cap.
        fee: the monthly fee as published, for the record (UNVERIFIED for Taiwan, research §4).
    """

    name: str
    free_messages: int
    extra_allowed: bool
    extra_limit: int | None = None
    fee: str | None = None


@attrs.frozen(kw_only=True, slots=True)
class RateLimit:
    """A per-channel, per-endpoint rate limit (§4): ``requests`` per ``per_seconds``.

    A different HTTP method is a different endpoint; the body, URL parameters and client IP
    do not matter. The mapping of endpoint to limit is second-hand (§4, api-evangelist).
    Counted in fixed windows of ``per_seconds`` on the clock (the simulator's windows too);
    ``requests`` of 0 or less: no limit.
    """

    endpoint: str
    requests: int
    per_seconds: float


RATE_LIMITS: tuple[RateLimit, ...] = (
    # §4 [doc] values; endpoint mapping [2nd].
    RateLimit(endpoint="narrowcast", requests=60, per_seconds=_HOUR),
    RateLimit(endpoint="broadcast", requests=60, per_seconds=_HOUR),
    RateLimit(endpoint="webhook_test", requests=60, per_seconds=_HOUR),
    RateLimit(endpoint="insight", requests=60, per_seconds=_HOUR),
    RateLimit(endpoint="audience", requests=60, per_seconds=60.0),
    RateLimit(endpoint="webhook_endpoint", requests=1000, per_seconds=60.0),
    RateLimit(endpoint="rich_menu_create", requests=100, per_seconds=_HOUR),
    RateLimit(endpoint="rich_menu_delete", requests=100, per_seconds=_HOUR),
    RateLimit(endpoint="rich_menu_alias_delete", requests=100, per_seconds=_HOUR),
    RateLimit(endpoint="rich_menu_batch_progress", requests=100, per_seconds=_HOUR),
    RateLimit(endpoint="rich_menu_batch", requests=3, per_seconds=_HOUR),
    RateLimit(endpoint="multicast", requests=200, per_seconds=1.0),
    RateLimit(endpoint="membership", requests=200, per_seconds=1.0),
    RateLimit(endpoint="coupon", requests=200, per_seconds=1.0),
    RateLimit(endpoint="loading", requests=100, per_seconds=1.0),
    RateLimit(endpoint="stateless_token", requests=370, per_seconds=1.0),
    RateLimit(endpoint="push", requests=2000, per_seconds=1.0),
    RateLimit(endpoint="reply", requests=2000, per_seconds=1.0),
    RateLimit(endpoint="profile", requests=2000, per_seconds=1.0),
    RateLimit(endpoint="content", requests=2000, per_seconds=1.0),
    RateLimit(endpoint="other", requests=2000, per_seconds=1.0),
)
"""The rate limits of §4. The SDK's pre-flight takes one unit of the endpoint's bucket in the
Store before each call and refuses the call over the limit (``line.rate.<endpoint>``); an
endpoint not named here has its own bucket with the limit of ``"other"``."""


@attrs.frozen(kw_only=True, slots=True)
class LinePolicy(PolicyProfile):
    """The LINE numbers omnimsg enforces. UNVERIFIED facts are fields, so they can change.

    Attributes mirror ``spec/line.md``: the plans and quota (§4), the rate limits (§4), the
    message limits (§3; research §2), the reply token (§3), the loading animation (§7).
    """

    platform: Literal["line"] = "line"
    country: str = "JP"
    # The plan in force for this channel, and the country's plans (§4).
    plan: Plan
    plans: tuple[Plan, ...]
    # The quota month: a calendar month in UTC+9 for every country. The Messaging API's one
    # documented calendar is UTC+9 (§3: the sent counts' ``date``), and the simulator counts
    # its months so; a TW or TH account's reset in local time is UNVERIFIED (change it here).
    utc_offset_hours: float = 9.0
    rate_limits: tuple[RateLimit, ...] = RATE_LIMITS
    # §3 [spec]: 1-5 message objects per request on every send and validate endpoint.
    messages_per_request: int = 5
    multicast_max: int = 500  # §3 [spec]: multicast ``to`` 1-500 user ids
    quick_replies_max: int = 13  # §3 [spec]
    text_max: int = 5000  # §3 [2nd, med-high]: counted in UTF-16 code units
    alt_text_max: int = 400  # §3: template altText, UNVERIFIED (legacy + 2nd)
    flex_alt_text_max: int = 1500  # §3: flex altText 400 or 1500, UNVERIFIED
    postback_data_max: int = 300  # §3 [spec]: postback, datetimepicker, richmenuswitch data
    action_label_max: int = 20  # §3: UNVERIFIED (legacy); LINE counts graphemes here
    buttons_actions_max: int = 4  # §3: buttons template, legacy/2nd
    buttons_text_max: int = 160  # §3: UNVERIFIED; 60 with an image or a title
    buttons_text_with_title_max: int = 60  # §3: UNVERIFIED
    buttons_title_max: int = 40  # §3: UNVERIFIED
    carousel_columns_max: int = 10  # §3: UNVERIFIED (legacy)
    carousel_actions_max: int = 3  # §3: UNVERIFIED (legacy)
    carousel_text_max: int = 120  # §3: UNVERIFIED; 60 with an image or a title
    flex_carousel_max: int = 12  # §3: UNVERIFIED (legacy)
    location_text_max: int = 100  # §3: title and address, UNVERIFIED (legacy)
    url_max: int = 2000  # §3 [spec]: image and quick-reply image URLs
    # §3 [2nd]: about a minute; the channel's ``reply_token_lifetime`` decides in the SDK.
    reply_token_seconds: float = 60.0
    loading_min: int = 5  # §7: 5-60 seconds in multiples of 5
    loading_max: int = 60
    loading_step: int = 5

    def with_plan(self, name: str) -> LinePolicy:
        """This profile with the country's plan ``name`` in force (``"standard"``...)."""
        for p in self.plans:
            if p.name == name:
                return attrs.evolve(self, plan=p)
        raise ConfigurationError(
            f"unknown LINE plan {name!r} in {self.name}; known: {[p.name for p in self.plans]}"
        )

    def rate_limit(self, endpoint: str) -> RateLimit:
        """The rate limit of ``endpoint`` (``"push"``...), else the one of ``"other"`` (or
        none at all when the profile has no ``"other"``: ``requests`` 0)."""
        for r in self.rate_limits:
            if r.endpoint == endpoint:
                return r
        for r in self.rate_limits:
            if r.endpoint == "other":
                return r
        return RateLimit(endpoint="other", requests=0, per_seconds=1.0)

    def with_rate_limits(self, limits: Mapping[str, tuple[int, float]]) -> LinePolicy:
        """This profile with ``{endpoint: (requests, per_seconds)}`` replacing (or adding)
        those endpoints' limits; ``requests`` 0 turns one off."""
        kept = tuple(r for r in self.rate_limits if r.endpoint not in limits)
        added = tuple(
            RateLimit(endpoint=name, requests=int(n), per_seconds=float(per))
            for name, (n, per) in limits.items()
        )
        return attrs.evolve(self, rate_limits=kept + added)


_JP_PLANS = (
    # research §4: Japan, revised 2023-06-01 (several concordant secondary sources).
    Plan(name="communication", free_messages=200, extra_allowed=False, fee="JPY 0"),
    Plan(name="light", free_messages=5_000, extra_allowed=False, fee="JPY 5,000"),
    Plan(name="standard", free_messages=30_000, extra_allowed=True, fee="JPY 15,000"),
)
_TW_PLANS = (
    # research §4: Taiwan, effective 2023-09-01 (Medium no longer allows extra messages).
    Plan(name="light", free_messages=200, extra_allowed=False, fee="TWD 0"),
    Plan(name="medium", free_messages=3_000, extra_allowed=False, fee="TWD 800"),
    Plan(name="high", free_messages=6_000, extra_allowed=True, fee="TWD 1,200"),
)
_TH_PLANS = (
    # §4: Thailand: the names are confirmed, the numbers are UNVERIFIED (commonly cited).
    Plan(name="free", free_messages=300, extra_allowed=False, fee="THB 0"),
    Plan(name="basic", free_messages=15_000, extra_allowed=True, fee="THB 1,280"),
    Plan(name="pro", free_messages=35_000, extra_allowed=True, fee="THB 1,780"),
)

PROFILES: tuple[LinePolicy, ...] = (
    LinePolicy(
        name="line-jp-2023-06-01",
        effective=date(2023, 6, 1),
        country="JP",
        plan=_JP_PLANS[0],
        plans=_JP_PLANS,
        utc_offset_hours=9.0,
    ),
    LinePolicy(
        name="line-tw-2023-09-01",
        effective=date(2023, 9, 1),
        country="TW",
        plan=_TW_PLANS[0],
        plans=_TW_PLANS,
        utc_offset_hours=9.0,  # the API's UTC+9 (§3), see LinePolicy.utc_offset_hours
    ),
    # lineforbusiness.com/th notice 20221216, effective 2023-02-01 (plan rules; numbers
    # UNVERIFIED).
    LinePolicy(
        name="line-th-2023-02-01",
        effective=date(2023, 2, 1),
        country="TH",
        plan=_TH_PLANS[0],
        plans=_TH_PLANS,
        utc_offset_hours=9.0,  # the API's UTC+9 (§3), see LinePolicy.utc_offset_hours
    ),
)
"""The dated per-country profiles; each starts on the country's free plan."""


def latest(country: str = "JP") -> LinePolicy:
    """The newest profile of ``country`` (default Japan), on its free plan.

    The default of :class:`~omnimsg.platforms.line.Line`: the strictest assumption, a free
    plan that cannot go over 200 messages; pick yours with :meth:`LinePolicy.with_plan`.
    """
    found = [p for p in PROFILES if p.country == country.upper()]
    if not found:
        raise ConfigurationError(
            f"no LINE policy profile for country {country!r}; known: "
            f"{sorted({p.country for p in PROFILES})}"
        )
    return max(found, key=lambda p: p.effective)


def profile(name: str, *, plan: str | None = None) -> LinePolicy:
    """The profile with that name (``"line-jp-2023-06-01"``), with ``plan`` in force.

    ``profile("line-jp-2023-06-01", plan="standard")``: Japan's Standard plan, 30,000
    messages and additional ones allowed.
    """
    for p in PROFILES:
        if p.name == name:
            return p if plan is None else p.with_plan(plan)
    raise ConfigurationError(
        f"unknown LINE policy profile {name!r}; known: {[p.name for p in PROFILES]}"
    )


# --- counting -------------------------------------------------------------------------------


def utf16_length(text: str) -> int:
    """The length LINE counts a text in: UTF-16 code units (§3), so an emoji outside the
    BMP counts 2 and ``\\r\\n`` counts 2. (LINE emoji count by their undisclosed alt text:
    not known here.)"""
    return len(text.encode("utf-16-le")) // 2


def quota_month(now: float, policy: LinePolicy) -> str:
    """The quota month ``now`` falls in, ``"YYYY-MM"``, in the profile's time zone (§4)."""
    local = datetime.fromtimestamp(now, tz=UTC) + timedelta(hours=policy.utc_offset_hours)
    return f"{local.year:04d}-{local.month:02d}"


def quota_limit(policy: LinePolicy) -> int | None:
    """The most messages the month allows, or ``None`` when additional ones are uncapped."""
    plan = policy.plan
    if not plan.extra_allowed:
        return plan.free_messages
    if plan.extra_limit is None:
        return None
    return plan.free_messages + plan.extra_limit


def extra_messages(used: int, recipients: int, policy: LinePolicy) -> int:
    """How many of ``recipients`` new messages go beyond the plan's free messages (§4)."""
    free_left = max(0, policy.plan.free_messages - used)
    return max(0, recipients - free_left)


@attrs.frozen(kw_only=True, slots=True)
class QuotaUse:
    """What the month's counting says of one send (``used`` before it)."""

    month: str
    used: int
    recipients: int
    extra: int


def recipient_kind(to: str) -> Literal["user", "group", "room", "unknown"]:
    """What a LINE id names, by its first letter: ``U`` user, ``C`` group, ``R`` room (§2)."""
    return {"U": "user", "C": "group", "R": "room"}.get(to[:1], "unknown")  # type: ignore[return-value]


# --- violations -----------------------------------------------------------------------------


def _violation(
    rule_id: str,
    message: str,
    *,
    status: int = 400,
    title: str | None = None,
    details: str | None = None,
) -> Violation:
    return Violation(
        rule_id=rule_id,
        platform="line",
        message=message,
        native_code=None,  # LINE has no numeric codes: clients match on the message (§6)
        http_status=status,
        title=title,
        details=details or message,
    )


def _detail(rule: str, what: str, prop: str, problem: str) -> Violation:
    # LINE's 400 shape (§6): {"message": "The request body has 1 error(s)", "details":
    # [{"message": problem, "property": prop}]}.
    return _violation(
        rule,
        f"{what}: {problem} ({prop})",
        title="The request body has 1 error(s)",
        details=f"{prop}: {problem}",
    )


def check_quota(
    used: int, recipients: int, policy: LinePolicy, *, unknown_reach: bool = False
) -> Violation | None:
    """The 429 LINE would answer for ``recipients`` more messages this month, or ``None``.

    ``used`` is what the month counted so far. A plan without additional messages (or with
    a cap) refuses a send that would go over: nothing is sent to anyone (research §2, the
    429 page). ``unknown_reach`` (a group push, a broadcast, a narrowcast) is refused only
    when the month is used up already, since its count is not known before LINE delivers.
    """
    limit = quota_limit(policy)
    if limit is None:
        return None
    over = used >= limit if unknown_reach else used + recipients > limit
    if not over:
        return None
    plan = policy.plan
    left = max(0, limit - used)
    return _violation(
        "line.quota.monthly",
        f"{MONTHLY_LIMIT_MESSAGE} The {plan.name} plan ({policy.name}) allows {limit} "
        f"messages this month and {left} are left; "
        + (
            "this send's reach is not known before delivery"
            if unknown_reach
            else f"this send counts {recipients} (one per recipient)"
        ),
        status=429,
        title=MONTHLY_LIMIT_MESSAGE,
        details=MONTHLY_LIMIT_MESSAGE,
    )


def rate_window(limit: RateLimit, now: float) -> tuple[int, float]:
    """The fixed window ``now`` falls in (its index: ``now // per_seconds``) and the seconds
    left until it ends."""
    index = int(now // limit.per_seconds)
    return index, max(0.0, (index + 1) * limit.per_seconds - now)


def check_rate(endpoint: str, calls: int, now: float, policy: LinePolicy) -> Violation | None:
    """The 429 LINE would answer when ``calls`` (this one included) go over ``endpoint``'s
    limit in the current window, with ``retry_after`` the seconds until the window frees."""
    limit = policy.rate_limit(endpoint)
    if limit.requests <= 0 or calls <= limit.requests:
        return None
    _, wait = rate_window(limit, now)
    return Violation(
        rule_id=f"line.rate.{endpoint}",
        platform="line",
        message=f"{RATE_LIMIT_MESSAGE} {endpoint} allows {limit.requests} calls per "
        f"{limit.per_seconds:g} s per channel ({policy.name}); retry in {wait:.3f} s",
        native_code=None,
        http_status=429,
        title=RATE_LIMIT_MESSAGE,
        details=RATE_LIMIT_MESSAGE,
        retry_after=wait,
    )


def check_follow(state: bytes | None) -> Violation | None:
    """A push to a user known to have blocked the account (§8).

    LINE accepts such a push with 200, drops it and does not count it; omnimsg says so
    before sending instead of letting a message vanish silently.
    """
    if state != b"blocked":
        return None
    return _violation(
        "line.follow.blocked",
        "this user blocked the account (an unfollow event): LINE would accept the push with "
        "200 and drop it without delivering or counting it",
        status=200,
    )


def check_multicast(to: Sequence[str], policy: LinePolicy) -> list[Violation]:
    """Multicast recipients: 1 to 500 user ids, no groups or rooms (§3)."""
    out: list[Violation] = []
    if not 1 <= len(to) <= policy.multicast_max:
        out.append(
            _detail(
                "line.limits.multicast",
                "multicast",
                "to",
                f"Size must be between 1 and {policy.multicast_max} (got {len(to)})",
            )
        )
    bad = [u for u in to if not isinstance(u, str) or recipient_kind(u) != "user"]
    if bad:
        # §3: user ids only; LINE answers the invalid-'to' 400 of §6, without details.
        out.append(
            _violation(
                "line.limits.multicast_users",
                f"multicast takes user ids only (U...), not {bad[0]!r}",
                title=BAD_TO_MESSAGE,
                details=BAD_TO_MESSAGE,
            )
        )
    return out


def check_loading_seconds(chat: str, seconds: int, policy: LinePolicy) -> list[Violation]:
    """The loading animation: a user (1:1 chats only), 5-60 seconds in steps of 5 (§7)."""
    out: list[Violation] = []
    if recipient_kind(chat) != "user":
        out.append(
            _detail("line.loading.chat", "loading animation", "chatId", "1:1 chats only (U...)")
        )
    if (
        type(seconds) is not int
        or not policy.loading_min <= seconds <= policy.loading_max
        or seconds % policy.loading_step
    ):
        out.append(
            _detail(
                "line.loading.seconds",
                "loading animation",
                "loadingSeconds",
                f"must be {policy.loading_min}-{policy.loading_max} in multiples of "
                f"{policy.loading_step} (got {seconds!r})",
            )
        )
    return out


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


class _Limits:
    """Collects the limit violations of one request's message objects (§3)."""

    def __init__(self, policy: LinePolicy) -> None:
        self.p = policy
        self.found: list[Violation] = []

    def text(self, prop: str, value: Any, limit: int, *, rule: str, units: bool = True) -> None:
        if not isinstance(value, str) or not value:
            self.found.append(_detail("line.limits.empty", "message", prop, "May not be empty"))
            return
        n = utf16_length(value) if units else len(value)
        if n > limit:
            what = "UTF-16 code units" if units else "characters"
            self.found.append(
                _detail(rule, "message", prop, f"Length must be between 0 and {limit} ({n} {what})")
            )

    def optional(self, prop: str, value: Any, limit: int, *, rule: str) -> None:
        if isinstance(value, str) and len(value) > limit:
            self.found.append(
                _detail(rule, "message", prop, f"Length must be between 0 and {limit}")
            )

    def required(self, prop: str, value: Any, rule: str, hint: str = "") -> None:
        if value in (None, ""):
            self.found.append(_detail(rule, "message", prop, "May not be empty" + hint))

    def https(self, prop: str, value: Any) -> None:
        # §3: media URLs are HTTPS (image: "HTTPS, ≤2000 chars"); an http:// one is a 400.
        if isinstance(value, str) and value and not value.startswith("https://"):
            self.found.append(
                _detail("line.limits.url", "message", prop, "Must be a valid HTTPS URL")
            )

    def count(self, prop: str, n: int, high: int, rule: str, low: int = 1) -> None:
        if not low <= n <= high:
            self.found.append(
                _detail(rule, "message", prop, f"Size must be between {low} and {high} (got {n})")
            )

    def action(self, prop: str, action: Any, *, label: bool = True) -> None:
        if not isinstance(action, dict):
            self.found.append(_detail("line.limits.action", "message", prop, "May not be empty"))
            return
        if label:
            self.optional(
                f"{prop}.label",
                action.get("label"),
                self.p.action_label_max,
                rule="line.limits.label",
            )
        if action.get("type") in ("postback", "datetimepicker", "richmenuswitch"):
            data = action.get("data")
            self.required(f"{prop}.data", data, "line.limits.postback_data")
            self.optional(
                f"{prop}.data", data, self.p.postback_data_max, rule="line.limits.postback_data"
            )

    def template(self, prop: str, t: Any) -> None:
        p = self.p
        if not isinstance(t, dict):
            self.found.append(_detail("line.limits.template", "message", prop, "May not be empty"))
            return
        kind = t.get("type")
        actions = _list(t.get("actions"))
        if kind == "buttons":
            self.count(
                f"{prop}.actions", len(actions), p.buttons_actions_max, "line.limits.buttons"
            )
            titled = bool(t.get("title") or t.get("thumbnailImageUrl"))
            limit = p.buttons_text_with_title_max if titled else p.buttons_text_max
            self.text(f"{prop}.text", t.get("text"), limit, rule="line.limits.template_text")
            self.optional(
                f"{prop}.title", t.get("title"), p.buttons_title_max, rule="line.limits.title"
            )
        elif kind == "confirm":
            self.count(f"{prop}.actions", len(actions), 2, "line.limits.confirm", low=2)
            # §3: confirm text ≤240 (legacy + 2nd), as the simulator holds it.
            self.text(f"{prop}.text", t.get("text"), 240, rule="line.limits.template_text")
        elif kind in ("carousel", "image_carousel"):
            columns = _list(t.get("columns"))
            self.count(
                f"{prop}.columns", len(columns), p.carousel_columns_max, "line.limits.carousel"
            )
            widths = set()
            for i, col in enumerate(columns):
                cp = f"{prop}.columns[{i}]"
                if not isinstance(col, dict):
                    continue
                if kind == "image_carousel":
                    self.action(f"{cp}.action", col.get("action"))
                    continue
                acts = _list(col.get("actions"))
                widths.add(len(acts))
                self.count(
                    f"{cp}.actions", len(acts), p.carousel_actions_max, "line.limits.carousel"
                )
                titled = bool(col.get("title") or col.get("thumbnailImageUrl"))
                limit = p.buttons_text_with_title_max if titled else p.carousel_text_max
                self.text(f"{cp}.text", col.get("text"), limit, rule="line.limits.template_text")
                for j, a in enumerate(acts):
                    self.action(f"{cp}.actions[{j}]", a)
            if len(widths) > 1:
                # research §2 (python#38): every column needs the same number of actions.
                self.found.append(
                    _detail(
                        "line.limits.carousel",
                        "message",
                        f"{prop}.columns",
                        "all columns must have the same number of actions",
                    )
                )
            return
        for j, a in enumerate(actions):
            self.action(f"{prop}.actions[{j}]", a)

    def message(self, i: int, m: Any) -> None:
        p = self.p
        prop = f"messages[{i}]"
        if not isinstance(m, dict) or not isinstance(m.get("type"), str):
            self.found.append(
                _detail("line.limits.type", "message", f"{prop}.type", "May not be empty")
            )
            return
        kind = m["type"]
        if kind in ("text", "textV2"):
            self.text(f"{prop}.text", m.get("text"), p.text_max, rule="line.limits.text")
        elif kind in ("image", "video"):
            self.required(
                f"{prop}.originalContentUrl", m.get("originalContentUrl"), "line.limits.url"
            )
            self.required(
                f"{prop}.previewImageUrl",
                m.get("previewImageUrl"),
                f"line.{kind}.preview",
                " (LINE needs a preview image: Video(url=..., preview_url=...))"
                if kind == "video"
                else "",
            )
            for key in ("originalContentUrl", "previewImageUrl"):
                self.optional(f"{prop}.{key}", m.get(key), p.url_max, rule="line.limits.url")
                self.https(f"{prop}.{key}", m.get(key))
        elif kind == "audio":
            self.required(
                f"{prop}.originalContentUrl", m.get("originalContentUrl"), "line.limits.url"
            )
            self.https(f"{prop}.originalContentUrl", m.get("originalContentUrl"))
            self.required(
                f"{prop}.duration",
                m.get("duration"),
                "line.audio.duration",
                " (LINE needs the length in ms: Audio(url=..., duration_ms=...))",
            )
        elif kind == "location":
            for key in ("title", "address"):
                self.text(
                    f"{prop}.{key}",
                    m.get(key),
                    p.location_text_max,
                    rule="line.limits.location",
                )
        elif kind == "sticker":
            self.required(f"{prop}.packageId", m.get("packageId"), "line.sticker.id")
            self.required(f"{prop}.stickerId", m.get("stickerId"), "line.sticker.id")
        elif kind == "template":
            self.text(
                f"{prop}.altText",
                m.get("altText"),
                p.alt_text_max,
                rule="line.limits.alt_text",
            )
            self.template(f"{prop}.template", m.get("template"))
        elif kind == "flex":
            self.text(
                f"{prop}.altText",
                m.get("altText"),
                p.flex_alt_text_max,
                rule="line.limits.alt_text",
            )
            contents = m.get("contents")
            if not isinstance(contents, dict) or contents.get("type") not in ("bubble", "carousel"):
                self.found.append(
                    _detail(
                        "line.limits.flex",
                        "message",
                        f"{prop}.contents",
                        "must be a bubble or a carousel",
                    )
                )
            elif contents.get("type") == "carousel":
                bubbles = _list(contents.get("contents"))
                self.count(
                    f"{prop}.contents.contents",
                    len(bubbles),
                    p.flex_carousel_max,
                    "line.limits.flex",
                )
        elif kind == "imagemap":
            self.required(f"{prop}.baseUrl", m.get("baseUrl"), "line.limits.url")
            self.https(f"{prop}.baseUrl", m.get("baseUrl"))
            self.text(
                f"{prop}.altText",
                m.get("altText"),
                p.alt_text_max,
                rule="line.limits.alt_text",
            )
        quick = m.get("quickReply")
        if isinstance(quick, dict):
            items = _list(quick.get("items"))
            self.count(
                f"{prop}.quickReply.items",
                len(items),
                p.quick_replies_max,
                "line.limits.quick_reply",
            )
            for j, item in enumerate(items):
                if isinstance(item, dict):
                    self.action(f"{prop}.quickReply.items[{j}].action", item.get("action"))


def check_messages(messages: Sequence[Any], policy: LinePolicy) -> list[Violation]:
    """Every limit the message objects of one request break (§3), in LINE's 400 terms."""
    check = _Limits(policy)
    n = len(messages)
    if not 1 <= n <= policy.messages_per_request:
        check.found.append(
            _detail(
                "line.limits.messages",
                "request",
                "messages",
                f"Size must be between 1 and {policy.messages_per_request} (got {n} message "
                "objects; a request carries at most 5)",
            )
        )
    for i, m in enumerate(messages):
        check.message(i, m)
    return check.found
