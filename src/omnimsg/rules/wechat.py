"""WeChat Official Account rules, pure: given state and ``now``, return violations.

Shared by the SDK's pre-flight (raise before any I/O) and the simulator (answer WeChat's own
errcode). Facts: ``spec/wechat.md`` (sections cited as §N) and the research notes of issue 9
(cited as "research §N"). Every number is a field of :class:`WeChatPolicy`, so a profile can
change it with :func:`attrs.evolve`; the UNVERIFIED ones say so.

The customer-service window (§5.1, research §5), the current official table, dated
2023-06-12 (the older "20 messages per 48 h" is superseded and not used):

* a customer's **message** opens a window of **5** messages for **48 hours**;
* a **follow**, a parametric **QR scan** or a **menu click** (``click``, ``scancode_push``,
  ``scancode_waitmsg``) opens one of **3** messages for **1 minute**.

Each new interaction opens a new window of its kind (the count starts again: research §5,
INFERRED, what community SDKs assume). A send counts in one open window: the one that
closes first among those with messages left (decision: the short event window is spent
before it lapses, the 48-hour count is kept for later; WeChat's own choice is UNVERIFIED).
Outside every window WeChat answers **45015**; inside one whose count is used up **45047**;
to a customer who unfollowed **43004**. Template and subscribe messages are not bound to
the window (§6): templates need an approved ``template_id``, subscribe messages the
customer's consent (43101, known only to WeChat).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from types import MappingProxyType
from typing import Any, Literal

import attrs

from ..clock import to_datetime
from ._core import PolicyProfile, Violation

__all__ = [
    "DAILY_QUOTAS",
    "ERRMSG",
    "MENU_KEY_TYPES",
    "MSGTYPES",
    "PROFILES",
    "QUOTA_DAY_OFFSET",
    "SEND_QUOTAS",
    "WINDOW_CLICK_EVENTS",
    "WeChatPolicy",
    "WindowRule",
    "WindowState",
    "check_daily_quota",
    "check_menu",
    "check_news",
    "check_qr",
    "check_send_quota",
    "check_tag_batch",
    "check_tag_create",
    "check_tag_id",
    "check_tag_name",
    "check_users_batch",
    "latest",
    "profile",
    "quota_day",
    "quota_day_ends",
    "send_quota_limit",
    "window_state",
]

_HOUR = 3600.0

ERRMSG: Mapping[int, str] = MappingProxyType(
    {
        # §8, research §5: WeChat's errmsg for the codes the rules answer with.
        40032: "invalid openid list size",
        40018: "invalid button name size",
        # The global code table (as public SDKs quote it; §8 lists a few): what the
        # simulator answers too (tests/test_contract_wechat.py).
        44003: "empty news data",
        44004: "empty content",
        45002: "content size out of limit",
        47001: "data format error",
        40020: "invalid button url size",
        40022: "invalid sub menu level",
        40024: "invalid sub button type",
        40025: "invalid sub button name size",
        40026: "invalid sub button key size",
        43004: "require subscribe",
        45008: "article size out of limit",
        45009: "reach max api daily quota limit",
        45015: "response out of time limit or subscription is canceled",
        45047: "out of response count limit",
        45056: "too many tags now",
        45058: "can't modify sys tag",
        45157: "invalid tag name",
        45158: "tag name too long",
        45159: "invalid tag id",
        40027: "invalid sub button url size",
        40017: "invalid button type",
        40016: "invalid button size",
        40019: "invalid button key size",
        40023: "invalid sub button size",
        40054: "invalid sub button url domain",
        40055: "invalid button url domain",
        40053: "invalid action info",
        40008: "invalid message type",
    }
)
"""The errmsg WeChat answers with each code the rules use (the simulator answers these)."""

WINDOW_CLICK_EVENTS = frozenset({"click", "scancode_push", "scancode_waitmsg"})
"""The menu events that open the 1-minute window (§5.1); a ``view`` does not."""


@attrs.frozen(kw_only=True, slots=True)
class WindowRule:
    """One kind of customer-service window: ``messages`` sends within ``seconds`` (§5.1)."""

    kind: Literal["message", "event"]
    messages: int
    seconds: float


DAILY_QUOTAS: Mapping[str, int] = MappingProxyType(
    {
        # §9: default daily limits per account (new registrations); WeChat answers 45009
        # beyond them. Test accounts are about 10x lower (§9). The account backend's value
        # wins where it differs (user info: 500,000 vs 5,000,000).
        "token": 2_000,
        "menu_create": 1_000,
        "menu_get": 10_000,
        "menu_delete": 1_000,
        "custom_send": 500_000,
        "mass_send": 100,
        "qrcode_create": 100_000,
        "user_get": 500,
        "user_info": 5_000_000,
        "media_upload": 100_000,
        "media_get": 200_000,
        "user_remark": 10_000,
        "template_send": 100_000,
        "stable_token": 500_000,
    }
)
"""The daily API quotas of §9, by omnimsg's name for the API. Data, except the two sends the
SDK counts (:data:`SEND_QUOTAS`, with :class:`WeChatPolicy`'s ``template_daily_limit`` and
``custom_send_daily_limit``): WeChat counts every caller of the account, the Store only the
applications sharing it."""

SEND_QUOTAS: Mapping[str, str] = MappingProxyType(
    {"template": "template_send", "custom_send": "custom_send"}
)
"""The quotas the SDK enforces before any I/O, by rule name (``wechat.quota.<name>``), and
the :data:`DAILY_QUOTAS` entry each defaults from."""

QUOTA_DAY_OFFSET = 8 * _HOUR
"""The daily quotas count by day in Beijing time, UTC+8 (§9 says "per day"; the reset at
Beijing midnight is UNVERIFIED)."""


@attrs.frozen(kw_only=True, slots=True)
class WeChatPolicy(PolicyProfile):
    """The WeChat numbers omnimsg enforces (fields, so a profile can change them).

    Attributes mirror ``spec/wechat.md``: the customer-service windows (§5.1), news (§5.2),
    tags (§7, research §5), users (§10.2), QR codes (§10.1), the custom menu (§10.3, with
    research §5's newer byte limits) and the daily quotas (§9).
    """

    platform: Literal["wechat"] = "wechat"
    message_window: WindowRule = WindowRule(kind="message", messages=5, seconds=48 * _HOUR)
    event_window: WindowRule = WindowRule(kind="event", messages=3, seconds=60.0)
    news_articles_max: int = 1  # §5.2: news in a customer-service message (45008)
    # §5.2: "measured ≈2048 bytes" (UNVERIFIED officially), the simulator's text_limit (45002)
    text_max_bytes: int = 2048
    # §5.2 gives msgmenu's shape only: 1-10 choices, ids <= 64 bytes and unique, texts <= 1024
    # bytes are UNVERIFIED (the simulator's limits, 47001 beyond)
    msgmenu_items_max: int = 10
    msgmenu_id_max_bytes: int = 64
    msgmenu_content_max_bytes: int = 1024
    tags_max: int = 100  # §7: per account (45056)
    tags_per_user_max: int = 20  # §7, research §5 (WeChat's errcode for it is UNVERIFIED)
    tag_name_max_bytes: int = 30  # §7 (45158)
    reserved_tag_ids: tuple[int, ...] = (0, 1, 2)  # §7: system tags (45058)
    tag_batch_max: int = 50  # §7: openid_list of batch (un)tagging (40032)
    users_info_batch_max: int = 100  # §10.2: user_list of batchget
    qr_expire_max: int = 2_592_000  # §10.1: 30 days for temporary codes
    qr_expire_default: int = 60  # §10.1: when omitted (an older mirror says 30 s)
    qr_permanent_scene_max: int = 100_000  # §10.1: permanent scene_id 1..100000
    qr_temporary_scene_max: int = 2**32 - 1  # §10.1: a 32-bit non-zero integer
    qr_scene_str_max: int = 64  # §10.1: scene_str 1..64 characters
    menu_buttons_max: int = 3  # §10.3: 1-3 top buttons
    menu_sub_buttons_max: int = 5  # §10.3: 1-5 sub-buttons
    menu_name_max_bytes: int = 16  # §10.3: a top button's name
    # research §5: the current doc reportedly says 60 bytes (old docs and §10.3: 40).
    menu_sub_name_max_bytes: int = 60
    menu_key_max_bytes: int = 128  # §10.3
    menu_url_max_bytes: int = 1024  # research §5 (old docs: 256)
    daily_quotas: Mapping[str, int] = DAILY_QUOTAS
    # §9 (§6.1: the template quota is raised at 100k/1M/10M followers; test accounts ~10x
    # lower): successful sends a day per account, 45009 beyond, counted by the SDK.
    template_daily_limit: int = DAILY_QUOTAS["template_send"]
    custom_send_daily_limit: int = DAILY_QUOTAS["custom_send"]


PROFILES: Mapping[str, WeChatPolicy] = MappingProxyType(
    {
        # The 2023-06-12 customer-service quota change (research §5): 5 messages / 48 h.
        "2023-06": WeChatPolicy(name="2023-06", effective=date(2023, 6, 12)),
    }
)
"""The dated WeChat profiles by name."""


def latest() -> WeChatPolicy:
    """The profile in force now (the newest)."""
    return max(PROFILES.values(), key=lambda p: p.effective)


def profile(name: str) -> WeChatPolicy:
    """The profile called ``name`` (a ``KeyError`` names the known ones)."""
    try:
        return PROFILES[name]
    except KeyError:
        raise KeyError(f"unknown WeChat profile {name!r}; known: {sorted(PROFILES)}") from None


def _violation(rule_id: str, code: int | None, message: str, **kw: Any) -> Violation:
    title = ERRMSG.get(code) if code is not None else None
    return Violation(
        rule_id=rule_id,
        platform="wechat",
        message=message,
        native_code=code,
        http_status=200,  # WeChat answers every error with HTTP 200 and an errcode (§8)
        title=title,
        **kw,
    )


# --- the customer-service window -------------------------------------------------------------


@attrs.frozen(kw_only=True, slots=True)
class WindowState:
    """The customer-service windows with one customer at ``now``.

    Attributes:
        kind: the window a send now counts in (``None``: no send is allowed).
        opened: when that window opened (the interaction's time: its ``sent_key``).
        closes_at: when sending ends: the latest close of the windows with messages left
            (when none is usable, of the newest window); ``None`` when there never was one.
        last_interaction: the customer's newest interaction of either kind.
        refusal: why a send is refused now (45015, 45047 or 43004), else ``None``.
    """

    kind: Literal["message", "event"] | None
    opened: float | None
    closes_at: float | None
    last_interaction: float | None
    refusal: Violation | None

    @property
    def open(self) -> bool:
        """A customer-service message may be sent now."""
        return self.refusal is None


def _unfollowed(follow_at: float | None, unfollow_at: float | None) -> bool:
    return unfollow_at is not None and (follow_at is None or unfollow_at > follow_at)


def window_state(
    policy: WeChatPolicy,
    now: float,
    *,
    message_at: float | None,
    event_at: float | None,
    message_sent: int = 0,
    event_sent: int = 0,
    follow_at: float | None = None,
    unfollow_at: float | None = None,
) -> WindowState:
    """Where a customer-service message to one customer stands at ``now`` (module docstring).

    ``message_at`` / ``event_at`` are the newest interactions of each kind (the webhook
    reader's ``interaction_key``), ``*_sent`` the sends counted in the windows they opened,
    ``follow_at`` / ``unfollow_at`` the newest follow and unfollow.
    """
    last = max((t for t in (message_at, event_at) if t is not None), default=None)
    if unfollow_at is not None and not _unfollowed(follow_at, unfollow_at):
        # Followed again: an unfollow ends the windows opened before it (§10.4: the
        # window is per follower; 45015 "or subscription is canceled", §5.1), as the
        # simulator clears them. The re-follow itself (at or after the unfollow) counts.
        if message_at is not None and message_at <= unfollow_at:
            message_at = None
        if event_at is not None and event_at < unfollow_at:
            event_at = None
    if _unfollowed(follow_at, unfollow_at):
        return WindowState(
            kind=None,
            opened=None,
            closes_at=None,
            last_interaction=last,
            refusal=_violation(
                "wechat.follow.unsubscribed",
                43004,
                "require subscribe: the customer unfollowed the account, and WeChat delivers "
                "customer-service messages only to followers (43004)",
            ),
        )
    candidates: list[tuple[float, WindowRule, float, int]] = []
    for rule, at, sent in (
        (policy.message_window, message_at, message_sent),
        (policy.event_window, event_at, event_sent),
    ):
        if at is not None:
            candidates.append((at + rule.seconds, rule, at, sent))
    live = [c for c in candidates if now - c[2] < c[1].seconds]
    usable = sorted((c for c in live if c[3] < c[1].messages), key=lambda c: c[0])
    if usable:
        _, rule, at, _ = usable[0]
        closes = max(c[0] for c in usable)
        return WindowState(
            kind=rule.kind, opened=at, closes_at=closes, last_interaction=last, refusal=None
        )
    if live:
        closes = max(c[0] for c in live)
        counts = ", ".join(f"{c[1].messages} after a {c[1].kind}" for c in live)
        refusal = _violation(
            "wechat.window.count",
            45047,
            f"out of response count limit: the customer-service window allows {counts}, all "
            "sent; wait for the customer's next message, or send a template message "
            "(client.wechat.send_template)",
            closed_at=to_datetime(closes),
        )
        return WindowState(
            kind=None, opened=None, closes_at=closes, last_interaction=last, refusal=refusal
        )
    closed = max((c[0] for c in candidates), default=None)
    hours = policy.message_window.seconds / _HOUR
    refusal = _violation(
        "wechat.window.closed",
        45015,
        "response out of time limit: customer-service messages go only within "
        f"{hours:g} hours of the customer's last message (or 1 minute of a follow, QR scan "
        "or menu click); "
        + ("the window has closed" if closed is not None else "the customer never wrote")
        + "; send a template message (client.wechat.send_template) or a subscribe message",
        closed_at=None if closed is None else to_datetime(closed),
    )
    return WindowState(
        kind=None, opened=None, closes_at=closed, last_interaction=last, refusal=refusal
    )


# --- message contents -------------------------------------------------------------------------


def check_news(articles: int, policy: WeChatPolicy) -> list[Violation]:
    """A news message's article count (§5.2: one article, 45008 beyond; none is WeChat's
    ``44003 empty news data``, as the simulator answers)."""
    if 1 <= articles <= policy.news_articles_max:
        return []
    if articles < 1:
        return [
            _violation(
                "wechat.news.empty", 44003, "empty news data: a news message needs an article"
            )
        ]
    return [
        _violation(
            "wechat.news.articles",
            45008,
            f"article size out of limit: a news message carries {policy.news_articles_max} "
            f"article (WeChat refuses more since 2018), not {articles}; send one card per "
            "message",
        )
    ]


# --- tags (§7) -----------------------------------------------------------------------------


def _bytes(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def check_tag_name(name: str, policy: WeChatPolicy) -> list[Violation]:
    """A tag's name: 1 to 30 bytes of UTF-8 (45158 beyond, 45157 when empty, blank or with
    control characters; in the simulator's order: the length is checked first)."""
    bad = _violation(
        "wechat.tags.name",
        45157,
        "invalid tag name: give a non-empty name without control characters",
    )
    if not isinstance(name, str) or not name:
        return [bad]
    if _bytes(name) > policy.tag_name_max_bytes:
        return [
            _violation(
                "wechat.tags.name_length",
                45158,
                f"tag name too long: at most {policy.tag_name_max_bytes} bytes of UTF-8 "
                f"(a Chinese character is 3), {name!r} has {_bytes(name)}",
            )
        ]
    if not name.strip() or any(ord(ch) < 0x20 for ch in name):
        return [bad]
    return []


def check_tag_create(name: str, existing: int | None, policy: WeChatPolicy) -> list[Violation]:
    """Creating a tag: its name, and the account's 100 tags (``existing`` when known)."""
    found = check_tag_name(name, policy)
    if existing is not None and existing >= policy.tags_max:
        found.append(
            _violation(
                "wechat.tags.count",
                45056,
                f"too many tags now: an account has at most {policy.tags_max} tags; delete one",
            )
        )
    return found


def check_tag_id(tag_id: int, policy: WeChatPolicy) -> list[Violation]:
    """A tag id that may be renamed, deleted or given: not one of the system tags 0, 1, 2."""
    if type(tag_id) is not int or tag_id < 0:
        return [_violation("wechat.tags.id", 45159, f"invalid tag id: {tag_id!r}")]
    if tag_id in policy.reserved_tag_ids:
        return [
            _violation(
                "wechat.tags.reserved",
                45058,
                f"can't modify sys tag: tag ids {list(policy.reserved_tag_ids)} belong to WeChat",
            )
        ]
    return []


def check_tag_batch(tag_id: int, openids: Sequence[str], policy: WeChatPolicy) -> list[Violation]:
    """Batch (un)tagging: a taggable id and 1 to 50 openids (40032 otherwise)."""
    found = check_tag_id(tag_id, policy)
    if not 1 <= len(openids) <= policy.tag_batch_max:
        found.append(
            _violation(
                "wechat.tags.batch",
                40032,
                f"invalid openid list size: 1 to {policy.tag_batch_max} openids per call, not "
                f"{len(openids)} (split the list)",
            )
        )
    return found


def check_users_batch(openids: Sequence[str], policy: WeChatPolicy) -> list[Violation]:
    """``user/info/batchget``: 1 to 100 openids."""
    if 1 <= len(openids) <= policy.users_info_batch_max:
        return []
    return [
        _violation(
            "wechat.users.batch",
            40032,
            f"invalid openid list size: 1 to {policy.users_info_batch_max} openids per call, "
            f"not {len(openids)}",
        )
    ]


# --- QR codes (§10.1) -----------------------------------------------------------------------


def check_qr(scene: int | str, expire_seconds: int | None, policy: WeChatPolicy) -> list[Violation]:
    """A parametric QR code: temporary when ``expire_seconds`` is given, permanent otherwise;
    an integer scene (temporary: 32-bit non-zero, permanent: 1..100000) or a string of 1 to
    64 characters (§10.1). A wrong scene is ``40053 invalid action info`` and an
    ``expire_seconds`` that is not a positive integer ``47001``, as the simulator answers;
    one above 30 days is not refused: WeChat caps it (§10.1 "max 2,592,000"; the answer's
    ``expire_seconds`` says so)."""
    found: list[Violation] = []
    permanent = expire_seconds is None
    if isinstance(scene, bool) or not isinstance(scene, int | str):
        found.append(_violation("wechat.qr.scene", 40053, "the scene is an int or a str"))
    elif isinstance(scene, int):
        top = policy.qr_permanent_scene_max if permanent else policy.qr_temporary_scene_max
        if not 1 <= scene <= top:
            kind = "permanent" if permanent else "temporary"
            found.append(
                _violation(
                    "wechat.qr.scene",
                    40053,
                    f"invalid action info: a {kind} QR code's scene_id is 1 to {top}, not "
                    f"{scene}" + (" (use a string scene for more)" if permanent else ""),
                )
            )
    elif not 1 <= len(scene) <= policy.qr_scene_str_max or any(
        ord(ch) < 0x20 or 0xD800 <= ord(ch) <= 0xDFFF for ch in scene
    ):
        found.append(
            _violation(
                "wechat.qr.scene",
                40053,
                f"invalid action info: a scene_str is 1 to {policy.qr_scene_str_max} "
                f"characters without control characters, not {len(scene)}",
            )
        )
    if not permanent and (type(expire_seconds) is not int or expire_seconds < 1):
        found.append(
            _violation(
                "wechat.qr.expire",
                47001,
                "data format error: a temporary QR code's expire_seconds is a positive "
                f"integer (up to {policy.qr_expire_max}, 30 days), not {expire_seconds!r}",
            )
        )
    return found


MSGTYPES: tuple[str, ...] = (
    "text",
    "image",
    "voice",
    "video",
    "music",
    "news",
    "mpnews",
    "mpnewsarticle",
    "msgmenu",
    "wxcard",
    "miniprogrampage",
)
"""The customer-service ``msgtype`` values (§5.2): the SDK checks a ``Raw`` body's, the
simulator the ones it serves."""


# --- the custom menu (§10.3) -------------------------------------------------------------------

MENU_KEY_TYPES: tuple[str, ...] = (
    "click",
    "scancode_push",
    "scancode_waitmsg",
    "pic_sysphoto",
    "pic_photo_or_album",
    "pic_weixin",
    "location_select",
)
"""The menu button types that carry a ``key`` and come back as events naming it (§10.3)."""
_KEYED = frozenset(MENU_KEY_TYPES)
# §10.3's button types (the simulator's too; the newer article_id types are not in the spec).
_MENU_TYPES = frozenset({*_KEYED, "view", "media_id", "view_limited", "miniprogram"})

# (top, sub) codes and wordings of the global code table, as the simulator answers them
# (only 40018 is in spec §8; tests/test_contract_wechat.py).
_SIZE = ((40016, "invalid button size"), (40023, "invalid sub button size"))
_TYPE = ((40017, "invalid button type"), (40024, "invalid sub button type"))
_NAME = ((40018, "invalid button name size"), (40025, "invalid sub button name size"))
_KEY = ((40019, "invalid button key size"), (40026, "invalid sub button key size"))
_URL = ((40020, "invalid button url size"), (40027, "invalid sub button url size"))
_DOMAIN = ((40055, "invalid button url domain"), (40054, "invalid sub button url domain"))


class _MenuError(Exception):
    def __init__(self, violation: Violation) -> None:
        self.violation = violation


def _menu_refusal(rule: str, code: int, message: str) -> _MenuError:
    return _MenuError(_violation(f"wechat.menu.{rule}", code, message))


def _pair(
    rule: str, pair: tuple[tuple[int, str], tuple[int, str]], sub: bool, detail: str
) -> _MenuError:
    code, title = pair[1] if sub else pair[0]
    return _menu_refusal(rule, code, f"{title}: {detail}")


def _name_of(b: Mapping[str, Any], sub: bool, policy: WeChatPolicy, where: str) -> None:
    name = b.get("name")
    limit = policy.menu_sub_name_max_bytes if sub else policy.menu_name_max_bytes
    if not isinstance(name, str) or not name or _bytes(name) > limit:
        raise _pair("name", _NAME, sub, f"{where}'s name is 1 to {limit} bytes, got {name!r}")


def _leaf(b: Any, sub: bool, policy: WeChatPolicy, where: str) -> None:
    if not isinstance(b, Mapping):
        raise _menu_refusal("button", 47001, f"data format error: {where} is no object")
    if sub and b.get("sub_button"):
        raise _menu_refusal("level", 40022, f"invalid sub menu level: {where} has sub-buttons")
    _name_of(b, sub, policy, where)
    kind = b.get("type")
    if not isinstance(kind, str) or kind not in _MENU_TYPES:
        raise _pair("type", _TYPE, sub, f"{where} has {kind!r}")
    if kind in _KEYED:
        key = b.get("key")
        if not isinstance(key, str) or not key or _bytes(key) > policy.menu_key_max_bytes:
            raise _pair(
                "key", _KEY, sub, f"{where}'s key is 1 to {policy.menu_key_max_bytes} bytes"
            )
    elif kind in ("view", "miniprogram"):
        url = b.get("url")
        if not isinstance(url, str) or not url or _bytes(url) > policy.menu_url_max_bytes:
            raise _pair(
                "url", _URL, sub, f"{where}'s url is 1 to {policy.menu_url_max_bytes} bytes"
            )
        if not url.lower().startswith(("http://", "https://")) or any(
            ch.isspace() or ord(ch) < 0x20 for ch in url
        ):
            raise _pair("url", _DOMAIN, sub, f"{where}'s url is an http(s) URL, got {url!r}")
        if kind == "miniprogram":
            if not isinstance(b.get("appid"), str) or not b["appid"]:
                raise _menu_refusal("appid", 40013, f"invalid appid: {where} needs its appid")
            if not isinstance(b.get("pagepath"), str) or not b["pagepath"]:
                raise _menu_refusal("pagepath", 47001, f"data format error: {where}'s pagepath")
    else:  # media_id, view_limited
        if not isinstance(b.get("media_id"), str) or not b["media_id"]:
            raise _menu_refusal("media_id", 40007, f"invalid media_id: {where} needs a media_id")


def _top(b: Any, policy: WeChatPolicy, where: str) -> None:
    if not isinstance(b, Mapping):
        raise _menu_refusal("button", 47001, f"data format error: {where} is no object")
    subs = b.get("sub_button")
    if subs is not None and not isinstance(subs, list | tuple):
        raise _menu_refusal("button", 47001, f"data format error: {where}'s sub_button")
    if not subs:
        _leaf(b, False, policy, where)
        return
    _name_of(b, False, policy, where)
    if len(subs) > policy.menu_sub_buttons_max:
        raise _pair(
            "sub_buttons",
            _SIZE,
            True,
            f"{where} has 1 to {policy.menu_sub_buttons_max} sub-buttons, not {len(subs)}",
        )
    for j, sub in enumerate(subs):
        _leaf(sub, True, policy, f"{where}.sub_button[{j}]")


def check_menu(buttons: Sequence[Any], policy: WeChatPolicy) -> list[Violation]:
    """A custom menu's ``button`` list (§10.3): 1-3 top buttons, each with 1-5 sub-buttons or
    an action of its own; name, key and url byte limits. The first refusal, with the code
    of the global table the simulator answers (a top button's and a sub-button's differ)."""
    if not isinstance(buttons, list | tuple) or not 1 <= len(buttons) <= policy.menu_buttons_max:
        count = len(buttons) if isinstance(buttons, list | tuple) else buttons
        return [
            _violation(
                "wechat.menu.buttons",
                40016,
                f"invalid button size: a menu has 1 to {policy.menu_buttons_max} top buttons, "
                f"not {count}",
            )
        ]
    try:
        for i, b in enumerate(buttons):
            _top(b, policy, f"button[{i}]")
    except _MenuError as exc:
        return [exc.violation]
    return []


# --- daily quotas (§9) -------------------------------------------------------------------------


def quota_day(now: float) -> int:
    """The quota day of ``now`` (unix seconds): days since the epoch in Beijing time."""
    return int((now + QUOTA_DAY_OFFSET) // 86_400)


def quota_day_ends(now: float) -> float:
    """When the quota day of ``now`` ends (the next Beijing midnight, unix seconds)."""
    return (quota_day(now) + 1) * 86_400.0 - QUOTA_DAY_OFFSET


def _daily_limit(api: str, policy: WeChatPolicy) -> int | None:
    if api in ("template_send", "template"):
        return policy.template_daily_limit
    if api == "custom_send":
        return policy.custom_send_daily_limit
    return policy.daily_quotas.get(api)


def send_quota_limit(name: str, policy: WeChatPolicy) -> int:
    """The daily limit of a counted send (a :data:`SEND_QUOTAS` name)."""
    if name not in SEND_QUOTAS:
        raise KeyError(f"unknown WeChat send quota {name!r}; known: {sorted(SEND_QUOTAS)}")
    limit = _daily_limit(name, policy)
    assert limit is not None
    return limit


def _quota_violation(name: str, api: str, limit: int, now: float | None) -> Violation:
    what = {"template": "template messages", "custom_send": "customer-service messages"}
    return _violation(
        f"wechat.quota.{name}",
        45009,
        f"reach max api daily quota limit: {what.get(name, api)} are {limit:,} a day (§9), "
        "all used today (a day in Beijing time); the MP backend shows the usage, and "
        "client.wechat.clear_quota() resets it (10 times a month)",
        retry_after=None if now is None else max(0.0, quota_day_ends(now) - now),
    )


def check_send_quota(
    name: str, used: int, policy: WeChatPolicy, now: float | None = None
) -> list[Violation]:
    """Whether one more send of ``name`` (``"template"`` or ``"custom_send"``) fits today,
    given ``used`` successful sends today; the refusal (``wechat.quota.<name>``, 45009) says
    when the day ends (``retry_after``) when ``now`` is given."""
    limit = send_quota_limit(name, policy)
    if used < limit:
        return []
    return [_quota_violation(name, SEND_QUOTAS[name], limit, now)]


def check_daily_quota(api: str, used: int, policy: WeChatPolicy) -> list[Violation]:
    """Whether one more call of ``api`` (a :data:`DAILY_QUOTAS` name) fits today's quota,
    given ``used`` calls today (the SDK counts only the sends of :data:`SEND_QUOTAS`, with
    :func:`check_send_quota`; the others are data)."""
    limit = _daily_limit(api, policy)
    if limit is None or used < limit:
        return []
    names = {v: k for k, v in SEND_QUOTAS.items()}
    if api in names:
        return [_quota_violation(names[api], api, limit, None)]
    return [
        _violation(
            f"wechat.quota.{api}",
            45009,
            f"reach max api daily quota limit: {api} allows {limit} calls a day (§9); the MP "
            "backend shows the usage, and clear_quota resets it (10 times a month)",
        )
    ]
