"""The simulated LINE Official Accounts' state: users, groups, tokens, quota, content.

Plain data, changed only by :class:`~omnimsg_sim.platforms.line.sim.LineSim` once a request
has passed every check (a refused request changes nothing, DESIGN §6).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

import attrs

from ...config import LINE_RATE_LIMITS, LineAccount

__all__ = [
    "JST",
    "Accepted",
    "Bot",
    "Content",
    "Group",
    "Narrowcast",
    "ReplyToken",
    "User",
    "day_of",
    "month_of",
]

JST = 9 * 3600.0
"""LINE counts months and days in Japan time, UTC+9 (spec §3 sent counts; §4 quotas)."""

Friendship = Literal["none", "friend", "blocked"]


def month_of(t: float) -> str:
    """The quota month of instant ``t``: ``YYYY-MM`` in JST."""
    return datetime.fromtimestamp(t + JST, UTC).strftime("%Y-%m")


def day_of(t: float) -> str:
    """The day of instant ``t`` as LINE's ``date`` parameters spell it: ``yyyyMMdd`` in JST."""
    return datetime.fromtimestamp(t + JST, UTC).strftime("%Y%m%d")


@attrs.define(slots=True)
class User:
    """One LINE user as one bot sees them (user ids are per provider, spec §8)."""

    user_id: str
    display_name: str = "Customer"
    picture_url: str | None = None
    status_message: str | None = None
    language: str | None = None
    friendship: Friendship = "none"
    ever_blocked: bool = False  # a follow after a block is ``isUnblocked`` (spec §2)

    def profile(self) -> dict[str, Any]:
        """``GET /v2/bot/profile/{userId}``'s answer (optional fields only when known)."""
        out: dict[str, Any] = {"displayName": self.display_name, "userId": self.user_id}
        for key, value in (
            ("pictureUrl", self.picture_url),
            ("statusMessage", self.status_message),
            ("language", self.language),
        ):
            if value is not None:
                out[key] = value
        return out


@attrs.define(slots=True)
class Group:
    """A group chat (``C…``) or a room (``R…``) with the bot in it (between join and leave)."""

    chat_id: str
    members: list[str] = attrs.field(factory=list)
    bot_in: bool = True

    @property
    def kind(self) -> Literal["group", "room"]:
        """``group`` or ``room``, as ``source.type`` says."""
        return "room" if self.chat_id.startswith("R") else "group"


@attrs.define(slots=True)
class ReplyToken:
    """A reply token handed out in a webhook: single use, valid until ``expires``."""

    chat: str  # the user, group or room a reply goes to
    expires: float
    user: str | None = None


@attrs.define(slots=True)
class Accepted:
    """A request accepted with an ``X-Line-Retry-Key``: what a repeat is answered with."""

    request_id: str
    at: float
    sent: tuple[dict[str, str], ...] = ()


@attrs.define(slots=True)
class Content:
    """What a customer sent as media: its bytes, served at ``/v2/bot/message/{id}/content``."""

    kind: str
    data: bytes
    mime_type: str
    ready_at: float  # video and audio are "processing" until then


@attrs.define(slots=True)
class Narrowcast:
    """An accepted narrowcast; its phase follows the virtual clock."""

    request_id: str
    accepted: float
    target: int
    sending_at: float
    done_at: float

    def progress(self, now: float) -> dict[str, Any]:
        """``GET /v2/bot/message/progress/narrowcast``'s answer at ``now``."""
        out: dict[str, Any] = {"acceptedTime": _iso(self.accepted)}
        if now < self.sending_at:
            out["phase"] = "waiting"
            return out
        out["targetCount"] = self.target
        if now < self.done_at:
            out.update(phase="sending", successCount=0, failureCount=0)
            return out
        out.update(
            phase="succeeded",
            successCount=self.target,
            failureCount=0,
            completedTime=_iso(self.done_at),
        )
        return out


def _iso(t: float) -> str:
    """ISO-8601 with milliseconds and ``Z`` (``2020-12-03T10:15:30.121Z``, research §1.2)."""
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Bot:
    """One simulated LINE Official Account: its users, chats, tokens and counters."""

    def __init__(self, cfg: LineAccount) -> None:
        self.cfg = cfg
        self.users: dict[str, User] = {}
        self.groups: dict[str, Group] = {}
        self.reply_tokens: dict[str, ReplyToken] = {}
        self.retry_keys: dict[str, Accepted] = {}
        self.usage: dict[str, int] = {}  # quota month -> messages counted
        self.sent_by_day: dict[tuple[str, str], int] = {}  # (kind, yyyyMMdd) -> messages
        self.dropped = 0  # messages to users who are not friends (200, not delivered)
        self.contents: dict[str, Content] = {}
        self.read_tokens: dict[str, tuple[str, str]] = {}  # markAsReadToken -> (chat, id)
        self.read_up_to: dict[str, str] = {}  # chat -> the last message id marked read
        self.narrowcasts: dict[str, Narrowcast] = {}
        self.loading: dict[str, float] = {}  # user -> until when the animation shows
        # Rate windows per endpoint: (window index, calls in it).
        self.windows: dict[str, tuple[int, int]] = {}
        self._next_sweep = float("-inf")
        for c in cfg.customers:
            self.users[c.user_id] = User(
                user_id=c.user_id,
                display_name=c.display_name,
                picture_url=c.picture_url,
                status_message=c.status_message,
                language=c.language,
                friendship="friend" if c.friend else "blocked",
                ever_blocked=not c.friend,
            )

    # --- quota (spec §4) ---

    def used(self, now: float) -> int:
        """Messages counted this month (JST)."""
        return self.usage.get(month_of(now), 0)

    def room_for(self, count: int, now: float) -> bool:
        """May ``count`` more messages be counted this month?"""
        limit = self.cfg.monthly_limit
        return limit is None or self.used(now) + count <= limit

    def count(self, kind: str, count: int, now: float) -> None:
        """``count`` messages delivered by ``kind`` (push, multicast...): the quota and the
        day's sent count (replies are counted by day only: they are free)."""
        if kind != "reply":
            month = month_of(now)
            self.usage[month] = self.usage.get(month, 0) + count
        key = (kind, day_of(now))
        self.sent_by_day[key] = self.sent_by_day.get(key, 0) + count

    # --- rate limits (spec §4) ---

    def rate_ok(self, endpoint: str, now: float) -> bool:
        """Is one more call to ``endpoint`` within its limit (fixed windows, virtual clock)?"""
        calls = self.cfg.rate_limits.get(endpoint, 0)
        if calls <= 0:
            return True
        period = LINE_RATE_LIMITS[endpoint][1]
        index = int(now // period)
        window, used = self.windows.get(endpoint, (index, 0))
        return window != index or used < calls

    def spend(self, endpoint: str, now: float) -> None:
        """One accepted call to ``endpoint``."""
        if self.cfg.rate_limits.get(endpoint, 0) <= 0:
            return
        period = LINE_RATE_LIMITS[endpoint][1]
        index = int(now // period)
        window, used = self.windows.get(endpoint, (index, 0))
        self.windows[endpoint] = (index, used + 1 if window == index else 1)

    # --- tokens ---

    def live_reply_tokens(self, now: float) -> int:
        """Reply tokens still usable."""
        return sum(1 for t in self.reply_tokens.values() if t.expires > now)

    def forget_expired(self, now: float) -> None:
        """Drop expired reply tokens and retry keys (bounded memory on a long run).

        At most once a virtual second: nothing expires while the clock stands still, and a
        token is checked for expiry when it is used anyway.
        """
        if now < self._next_sweep:
            return
        self._next_sweep = now + 1.0
        for token in [k for k, t in self.reply_tokens.items() if t.expires <= now]:
            del self.reply_tokens[token]
        ttl = self.cfg.retry_key_ttl
        for key in [k for k, a in self.retry_keys.items() if a.at + ttl <= now]:
            del self.retry_keys[key]

    def friends(self) -> list[str]:
        """The user ids of every friend, in the order they became known."""
        return [u.user_id for u in self.users.values() if u.friendship == "friend"]

    def to_json(self, now: float) -> dict[str, Any]:
        """The control plane's view (``GET /_sim/state``)."""
        limit = self.cfg.monthly_limit
        return {
            "plan": self.cfg.plan,
            "quota": {
                "month": month_of(now),
                "limit": limit,
                "used": self.used(now),
                "remaining": None if limit is None else max(0, limit - self.used(now)),
            },
            "friends": self.friends(),
            "users": [
                {
                    "user_id": u.user_id,
                    "display_name": u.display_name,
                    "friendship": u.friendship,
                }
                for u in self.users.values()
            ],
            "groups": [
                {"chat_id": g.chat_id, "members": list(g.members), "bot_in": g.bot_in}
                for g in self.groups.values()
            ],
            "reply_tokens": self.live_reply_tokens(now),
            "retry_keys": sorted(
                k for k, a in self.retry_keys.items() if a.at + self.cfg.retry_key_ttl > now
            ),
            "dropped": self.dropped,
            "contents": len(self.contents),
            "narrowcasts": sorted(self.narrowcasts),
            "loading": {u: until for u, until in self.loading.items() if until > now},
        }
