"""The simulated WeChat Official Accounts' state: followers, windows, media, templates.

Plain data, changed only by :class:`~omnimsg_sim.platforms.wechat.sim.WeChatSim` once a
request or a customer action has passed every check (a refused one changes nothing).

The customer-service window (spec/wechat.md §5.1): a message opens (or renews) a window of
``cs_message_count`` sends for ``cs_message_window`` seconds; a follow, a QR-code scan or a
menu click (click, scancode_push, scancode_waitmsg) one of ``cs_event_count`` for
``cs_event_window``. Each kind keeps its own window; a send is taken from the open window
that closes first. The spec does not say how the two combine (UNVERIFIED), nor whether a new
message resets the count (research §5: the simulator resets it, as SDKs assume).
"""

from __future__ import annotations

from collections import deque
from typing import Any, Literal

import attrs

from ...config import WeChatAccount
from .tokens import Quota

__all__ = ["Account", "Follower", "Media", "Refusal", "Window"]

WindowKind = Literal["message", "event"]


@attrs.define(slots=True)
class Window:
    """One customer-service window: open until ``expires``, ``remaining`` sends left."""

    kind: WindowKind
    opened: float
    expires: float
    remaining: int

    def open(self, now: float) -> bool:
        """Is it still open?"""
        return now < self.expires


@attrs.define(slots=True)
class Follower:
    """One WeChat user as one account sees them (an OpenID is per account)."""

    openid: str
    following: bool = True
    unionid: str | None = None
    remark: str = ""
    language: str = "zh_CN"
    blocks_templates: bool = False
    subscribe_time: int = 0
    subscribe_scene: str = "ADD_SCENE_OTHERS"
    qr_scene: int = 0
    qr_scene_str: str = ""
    windows: dict[str, Window] = attrs.field(factory=dict)
    last_exchange: float = float("-inf")  # a message either way (typing needs one in 30 s)
    typing_until: float = float("-inf")
    consents: dict[str, int] = attrs.field(factory=dict)  # subscribe template id -> sends

    def window_for(self, now: float) -> Window | str:
        """The window a send is taken from, or the errcode-worthy reason: ``"closed"``
        (none open: 45015) or ``"spent"`` (open ones used up: 45047)."""
        live = [w for w in self.windows.values() if w.open(now)]
        if not live:
            return "closed"
        usable = sorted((w for w in live if w.remaining > 0), key=lambda w: w.expires)
        return usable[0] if usable else "spent"


@attrs.define(slots=True)
class Media:
    """An uploaded temporary material: served by ``/cgi-bin/media/get`` until it expires."""

    media_id: str
    type: str
    created_at: int
    data: bytes
    content_type: str
    filename: str


@attrs.define(slots=True)
class Refusal:
    """A passive reply WeChat would not show: the user sees "service unavailable"."""

    delivery_id: int
    openid: str
    at: float
    reason: str

    def to_json(self) -> dict[str, Any]:
        """The control plane's view."""
        return {
            "delivery_id": self.delivery_id,
            "openid": self.openid,
            "at": self.at,
            "reason": self.reason,
        }


class Account:
    """One simulated Official Account: its followers, media, templates and replies."""

    def __init__(self, cfg: WeChatAccount) -> None:
        self.cfg = cfg
        self.followers: dict[str, Follower] = {}
        self.media: dict[str, Media] = {}
        self.template_msgids: dict[str, int] = {}  # client_msg_id -> msgid
        self.templates_sent = 0
        self.subscribe_sent = 0
        self.cs_sent = 0
        # §9: successful sends a day (Beijing time), 45009 beyond; clear_quota resets them,
        # at most clear_quota_monthly_limit times a calendar month (Beijing time: 48006).
        self.template_quota = Quota(cfg.template_daily_limit)
        self.custom_quota = Quota(cfg.custom_send_daily_limit)
        self.quota_clears: dict[tuple[int, int], int] = {}
        self.replies = 0  # passive replies recorded in the outbox
        self.no_replies = 0  # answers that said "no reply" (success, or an empty body)
        self.late = 0  # answers after reply_timeout: counted as no answer
        self.refused: deque[Refusal] = deque(maxlen=1000)
        for c in cfg.customers:
            self.followers[c.openid] = Follower(
                openid=c.openid,
                following=c.following,
                unionid=c.unionid,
                remark=c.remark,
                language=c.language,
                blocks_templates=c.blocks_templates,
            )

    def open_window(self, follower: Follower, kind: WindowKind, now: float) -> None:
        """A qualifying interaction: (re)open ``kind``'s window, its count full again."""
        cfg = self.cfg
        span, count = (
            (cfg.cs_message_window, cfg.cs_message_count)
            if kind == "message"
            else (cfg.cs_event_window, cfg.cs_event_count)
        )
        follower.windows[kind] = Window(kind=kind, opened=now, expires=now + span, remaining=count)

    def live_media(self, media_id: str, now: float) -> Media | None:
        """The media of that id, unless unknown or expired (3 days)."""
        media = self.media.get(media_id)
        if media is None or media.created_at + self.cfg.media_ttl <= now:
            return None
        return media

    def to_json(self, now: float) -> dict[str, Any]:
        """The control plane's view (``GET /_sim/state``)."""
        windows: dict[str, list[dict[str, Any]]] = {}
        for f in self.followers.values():
            live = [
                {
                    "kind": w.kind,
                    "opened": w.opened,
                    "expires": w.expires,
                    "remaining": w.remaining,
                }
                for w in f.windows.values()
                if w.open(now)
            ]
            if live:
                windows[f.openid] = live
        return {
            "app_id": self.cfg.app_id,
            "mode": self.cfg.mode,
            "followers": [f.openid for f in self.followers.values() if f.following],
            "users": [
                {
                    "openid": f.openid,
                    "following": f.following,
                    "subscribe_scene": f.subscribe_scene,
                    "consents": dict(f.consents),
                }
                for f in self.followers.values()
            ],
            "windows": windows,
            "media": sum(1 for m in self.media if self.live_media(m, now) is not None),
            "sent": {
                "custom": self.cs_sent,
                "template": self.templates_sent,
                "subscribe": self.subscribe_sent,
            },
            "quotas": {
                "template": {
                    "today": self.template_quota.count(now),
                    "daily_limit": self.template_quota.limit,
                },
                "custom_send": {
                    "today": self.custom_quota.count(now),
                    "daily_limit": self.custom_quota.limit,
                },
            },
            "passive_replies": {
                "recorded": self.replies,
                "no_reply": self.no_replies,
                "late": self.late,
                "refused": [r.to_json() for r in self.refused],
            },
        }
