"""What omnimsg remembers of a WeChat Official Account in the Store, and under which keys.

The webhook reader writes the customer's interactions (``state_ops``): a message opens the
customer-service window for 48 hours and 5 messages; a follow, a QR-code scan or a menu
click opens a shorter one, 3 messages for 1 minute (spec/wechat.md §5.1). The send flows
read them back before any I/O and count what they send in each window.
"""

from __future__ import annotations

__all__ = [
    "CLIENT_MSG_TTL",
    "FOLLOW_TTL",
    "QUOTA_TTL",
    "access_token_key",
    "client_msg_key",
    "follow_key",
    "interaction_key",
    "quota_key",
    "sent_key",
    "unfollow_key",
]

FOLLOW_TTL = 400 * 86_400.0
"""How long a follow or unfollow is remembered (a follow has no expiry; the key must)."""


QUOTA_TTL = 2 * 86_400.0
"""How long a day's quota counter is kept (its day is in the key; this only frees it)."""

CLIENT_MSG_TTL = 30 * 86_400.0
"""How long a template's ``client_msg_id`` is remembered as sent (how long WeChat does is
UNVERIFIED; the simulator remembers every one)."""


def interaction_key(account: str, openid: str, kind: str) -> str:
    """The newest time (unix seconds, a ``SetMax``) of the customer's interaction of ``kind``:
    ``"message"`` (a message: the 48-hour window) or ``"event"`` (a follow, a scan, a menu
    click: the 1-minute window)."""
    return f"omnimsg:wechat:seen:{kind}:{account}:{openid}"


def sent_key(account: str, openid: str, kind: str, opened: float) -> str:
    """How many customer-service messages went out in the window of ``kind`` opened at
    ``opened`` (an ``Incr`` counter; a new interaction opens a new window)."""
    return f"omnimsg:wechat:sent:{kind}:{account}:{openid}:{opened!r}"


def follow_key(account: str, openid: str) -> str:
    """When the customer last followed the account (a ``SetMax``; see :func:`unfollow_key`)."""
    return f"omnimsg:wechat:follow:{account}:{openid}"


def unfollow_key(account: str, openid: str) -> str:
    """When the customer last unfollowed the account: not following when this is the later
    time (sends then fail with 43004, spec §8)."""
    return f"omnimsg:wechat:unfollow:{account}:{openid}"


def access_token_key(app_id: str, endpoint: str) -> str:
    """The cached access token of ``app_id`` from ``endpoint`` (``"stable"`` or ``"classic"``:
    their tokens are isolated, spec §4.2), for ``omnimsg.platforms.credential``."""
    return f"omnimsg:wechat:token:{endpoint}:{app_id}"


def quota_key(app_id: str, name: str, day: int) -> str:
    """How many sends of ``name`` (``"template"``, ``"custom_send"``) the account made on the
    quota ``day`` (:func:`omnimsg.rules.wechat.quota_day`: Beijing time), an ``Incr``."""
    return f"omnimsg:wechat:quota:{name}:{app_id}:{day}"


def client_msg_key(app_id: str, client_msg_id: str) -> str:
    """A template's ``client_msg_id`` that went (or may have gone) out: a repeat of it sends
    nothing and is not counted again (an ``Add``)."""
    return f"omnimsg:wechat:client_msg:{app_id}:{client_msg_id}"
