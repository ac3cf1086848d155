"""WeChat's daily send quotas counted in the Store (spec/wechat.md §6.1, §9).

Template messages (``template_daily_limit``, 100,000 by default) and customer-service
messages (``custom_send_daily_limit``, 500,000) are counted per account and per quota day
(Beijing time, :func:`omnimsg.rules.wechat.quota_day`; the reset at Beijing midnight is
UNVERIFIED) under :func:`.state.quota_key`, with pre-flight on only:

* :func:`reserve` takes one unit before the request with an atomic ``Incr``: two workers
  never both take the last one (the loser gives it back and is refused with
  ``wechat.quota.<name>``, 45009, before any I/O);
* :func:`settle` gives it back when WeChat certainly did not act (an errcode other than -1),
  keeps it when it may have (a 5xx, -1, no answer), and marks the day full when WeChat itself
  answered 45009 (other callers of the account count too: the Store knows only its own);
* :func:`clear` forgets the day's counts after ``/cgi-bin/clear_quota``.
"""

from __future__ import annotations

from ..._core.effects import Flow, StoreDelete, StoreGet, StoreIncr, StoreSet
from ...exceptions import PolicyViolation, RateLimited, ServerError, TransportError
from ...rules import Violation
from ...rules import wechat as rules
from .channel import WeChat
from .state import QUOTA_TTL, quota_key

__all__ = ["check", "clear", "reserve", "settle"]


def _count(raw: bytes | None) -> int:
    try:
        return max(0, int(raw)) if raw is not None else 0
    except ValueError:
        return 0


def check(ch: WeChat, name: str, now: float) -> Flow[list[Violation]]:
    """The quota violation one more send of ``name`` would make now (one read)."""
    raw = yield StoreGet(quota_key(ch.app_id, name, rules.quota_day(now)))
    return rules.check_send_quota(name, _count(raw), ch.policy, now)


def reserve(ch: WeChat, name: str, now: float) -> Flow[int]:
    """Count one send of ``name`` today; the quota day, or a :class:`PolicyViolation`."""
    day = rules.quota_day(now)
    key = quota_key(ch.app_id, name, day)
    total = int((yield StoreIncr(key, 1, QUOTA_TTL)))
    if total <= rules.send_quota_limit(name, ch.policy):
        return day
    yield StoreIncr(key, -1, QUOTA_TTL)
    raise PolicyViolation(rules.check_send_quota(name, total - 1, ch.policy, now))


def settle(ch: WeChat, name: str, day: int, error: BaseException) -> Flow[None]:
    """After a counted send failed with ``error`` (module docstring)."""
    if isinstance(error, ServerError | TransportError):
        return  # it may have gone out: kept counted
    key = quota_key(ch.app_id, name, day)
    if isinstance(error, RateLimited) and error.code == 45009:
        limit = rules.send_quota_limit(name, ch.policy)
        yield StoreSet(key, str(limit).encode(), QUOTA_TTL)
        return
    yield StoreIncr(key, -1, QUOTA_TTL)


def clear(ch: WeChat, now: float) -> Flow[None]:
    """Forget today's counted sends (after WeChat's ``clear_quota`` succeeded)."""
    day = rules.quota_day(now)
    for name in rules.SEND_QUOTAS:
        yield StoreDelete(quota_key(ch.app_id, name, day))
