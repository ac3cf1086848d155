"""What omnimsg remembers of a LINE channel in the Store, and under which keys.

The webhook reader writes these (``state_ops``: a replyable event's reply token, a follow or
an unfollow), and the send flows read them back before any I/O: a reply while the token is
valid, else a push (spec/line.md §3 "Reply token"; §8 friendship); the month's pushes
counted per recipient against the plan (§4).
"""

from __future__ import annotations

__all__ = [
    "FOLLOW_TTL",
    "follow_key",
    "pushed_key",
    "reply_token_key",
    "retry_key_key",
    "unfollow_key",
]

FOLLOW_TTL = 400 * 86_400.0
"""How long a follow or unfollow is remembered (a friendship has no expiry; the key must)."""


def reply_token_key(account: str, chat: str) -> str:
    """The newest unused reply token of a chat (a user, a group or a room id).

    Value: JSON ``{"token": str, "at": unix seconds of the event}``; the TTL is the channel's
    ``reply_token_lifetime``. A send that uses it deletes it (single use, §3).
    """
    return f"omnimsg:line:reply:{account}:{chat}"


def follow_key(account: str, user: str) -> str:
    """When the user last followed the account (unix seconds, a ``SetMax``; §8).

    Follows and unfollows are kept apart, each as its newest time, so that a late or
    redelivered event never overwrites a newer one: the user has blocked the account when
    :func:`unfollow_key` holds a later time than this key (:func:`friendship`).
    """
    return f"omnimsg:line:follow:{account}:{user}"


def unfollow_key(account: str, user: str) -> str:
    """When the user last unfollowed (blocked) the account (unix seconds, a ``SetMax``)."""
    return f"omnimsg:line:unfollow:{account}:{user}"


def _time(raw: bytes | None) -> float | None:
    if raw is None:
        return None
    try:
        t = float(raw)
    except ValueError:
        return None
    return t if t == t else None  # NaN: as absent


def friendship(followed: bytes | None, unfollowed: bytes | None) -> bytes | None:
    """``b"friend"``, ``b"blocked"`` or ``None`` (never seen) from the two stored times."""
    follow_at, unfollow_at = _time(followed), _time(unfollowed)
    if unfollow_at is not None and (follow_at is None or unfollow_at > follow_at):
        return b"blocked"
    return None if follow_at is None else b"friend"


def pushed_key(account: str, month: str) -> str:
    """Messages counted against the quota in ``month`` (``"2026-12"``, in the plan's time
    zone): an ``Incr`` counter, per recipient (§4)."""
    return f"omnimsg:line:pushed:{account}:{month}"


def retry_key_key(account: str, key: str) -> str:
    """An ``X-Line-Retry-Key`` this client sent and LINE accepted (valid 24 h, research §2)."""
    return f"omnimsg:line:retry:{account}:{key}"
