"""The simulated Messenger Platform's state: Pages, their customers, comments, attachments.

Plain data, changed only by :class:`~omnimsg_sim.platforms.messenger.sim.MessengerSim` once a
request has passed every check (a refused request changes nothing, DESIGN §6).
"""

from __future__ import annotations

from typing import Any, Literal

import attrs

from omnimsg.rules import messenger as rules

from ...config import MessengerAccount
from .policy import policy_for

__all__ = [
    "ATTACHMENT_TTL",
    "PAGE_INBOX",
    "Comment",
    "Customer",
    "Page",
    "StoredAttachment",
]

PAGE_INBOX = "263902037430900"
"""The Page Inbox app (Meta Business Suite's human inbox), a secondary receiver of every
Page (research §5.2 confirms the id on Meta's handover reference)."""

ATTACHMENT_TTL = 90 * 86_400.0
"""Reusable attachment ids expire after 90 days (spec §3.3, pitfall 10)."""


@attrs.define(slots=True)
class Customer:
    """One person's conversation with one Page (a PSID is page-scoped, spec §2.1)."""

    psid: str
    first_name: str
    last_name: str = ""
    profile_pic: str | None = None
    locale: str | None = None
    last_inbound: float | None = None  # the last message or postback (the window's start)
    last_sent: float | None = None  # the Page's last message (a read's default watermark)
    owner_app: str | None = None  # the thread's owner (§8.1); None: idle
    requested_by: str | None = None  # an app that asked for the thread (request_thread_control)
    last_action: str | None = None  # the last sender action (typing_on...)

    @property
    def name(self) -> str:
        """The full name, as the user profile's ``name``."""
        return f"{self.first_name} {self.last_name}".strip()

    def to_json(self, now: float, policy: rules.MessengerPolicy) -> dict[str, Any]:
        """The control plane's view."""
        return {
            "psid": self.psid,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "last_inbound": self.last_inbound,
            "window_open": rules.window_open(self.last_inbound, now, policy),
            "thread_owner": self.owner_app,
            "last_sender_action": self.last_action,
        }


@attrs.define(kw_only=True, slots=True)
class Comment:
    """A comment (or a visitor post) on the Page: what a private reply answers (§3.4)."""

    id: str
    post_id: str
    user: str
    message: str
    created: float
    item: str = "comment"
    replied: bool = False

    def to_json(self) -> dict[str, Any]:
        """The control plane's view."""
        return {
            "id": self.id,
            "post_id": self.post_id,
            "user": self.user,
            "item": self.item,
            "message": self.message,
            "created_time": int(self.created),
            "replied": self.replied,
        }


@attrs.define(kw_only=True, slots=True)
class StoredAttachment:
    """An uploaded (or customer-sent) attachment: a reusable id, its URL or its bytes."""

    id: str
    page: str
    type: str
    created: float
    url: str | None = None
    data: bytes | None = None
    mime_type: str = "application/octet-stream"


class Page:
    """One simulated Facebook Page, its settings and its conversations."""

    def __init__(self, cfg: MessengerAccount) -> None:
        self.cfg = cfg
        self.policy = policy_for(cfg)
        self.customers: dict[str, Customer] = {}
        self.comments: dict[str, Comment] = {}
        self.profile: dict[str, Any] = {}  # the Messenger Profile (research §5.1)
        # The Send API's budgets (§6), spent by accepted calls only; None: full.
        self.buckets: dict[str, rules.RateBucket | None] = {"text": None, "media": None}
        for c in cfg.customers:
            self.customers[c.psid] = Customer(
                psid=c.psid,
                first_name=c.first_name,
                last_name=c.last_name,
                profile_pic=c.profile_pic,
                locale=c.locale,
            )

    @property
    def apps(self) -> tuple[str, ...]:
        """Every app of the Page's handover: the app under test first, then the others."""
        others = [a for a in (PAGE_INBOX, *self.cfg.secondary_receivers) if a != self.cfg.app_id]
        return (self.cfg.app_id, *dict.fromkeys(others))

    def customer(self, psid: str, first_name: str = "Customer", last_name: str = "") -> Customer:
        """The customer of ``psid``, created on first sight."""
        found = self.customers.get(psid)
        if found is None:
            found = self.customers[psid] = Customer(
                psid=psid, first_name=first_name, last_name=last_name
            )
        return found

    def spend(self, kind: Literal["text", "media"], now: float) -> None:
        """One accepted Send API call of ``kind`` (the rules' token bucket, §6)."""
        self.buckets[kind] = rules.consume(self.buckets[kind], now, kind, self.policy)
