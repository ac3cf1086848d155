"""WeChat customer-service sends as sans-I/O flows, the window rules before any I/O
(spec/wechat.md §5; research §1.4, §5).

``send`` is ``POST /cgi-bin/message/custom/send?access_token=`` with the body of
:mod:`.messages`. Pre-flight (``Client(preflight=True)``, the default; ``check`` reports the
same) reads what the webhook reader stored (:mod:`.state`): the customer's newest message
and event, the newest follow and unfollow, and the sends counted in the windows they
opened, then applies :func:`omnimsg.rules.wechat.window_state`: 43004 to a customer who
unfollowed, 45015 outside every window, 45047 when the count is used up; and the message
rules (one news article, 45008; a media id rather than a url).

Each send is counted in its window before the request (an atomic ``Incr`` of ``sent_key``:
two workers never both take the last message; the loser tries the other window, else is
refused) and given back when WeChat certainly did not act (an errcode other than -1). A 5xx,
errcode -1 or no answer may have been delivered: kept counted, and not retried (a
customer-service send is not idempotent, research pitfall 6).

The daily quota of customer-service sends (§9: 500,000, ``custom_send_daily_limit``) is
counted the same way (:mod:`.quotas`): refused before any I/O with ``wechat.quota.custom_send``
(45009) once the day's sends are used, a unit given back when WeChat certainly did not act.

Without pre-flight no rule is checked and nothing is counted.
"""

from __future__ import annotations

from typing import Any

import attrs

from ..._core.effects import Flow, StoreBatch, StoreIncr
from ..._core.retry import RetryPolicy
from ...clock import to_datetime
from ...exceptions import (
    ConfigurationError,
    PlatformError,
    PolicyViolation,
    ServerError,
    TransportError,
)
from ...models.content import Content
from ...models.options import SendOptions
from ...models.refs import Address
from ...models.results import SendResult, Window
from ...rules import Violation
from ...rules import wechat as rules
from ...stores.ops import Get, number
from . import quotas
from .channel import WeChat
from .fallbacks import convert
from .messages import body_violations, content_violations, encode
from .state import follow_key, interaction_key, sent_key, unfollow_key
from .tokens import api

__all__ = [
    "ALLOWED_WHEN_CLOSED",
    "check",
    "prepare",
    "read_window",
    "release",
    "send",
    "window",
]

ALLOWED_WHEN_CLOSED = ("template", "subscribe")
"""What may still go out when the customer-service window is closed (§6)."""


def _options(options: SendOptions) -> None:
    if options.tag is not None:
        raise ConfigurationError("WeChat has no message tags: send without tag=")
    if options.callback_data is not None:
        raise ConfigurationError("WeChat echoes no callback data: send without callback_data=")
    if options.reply_to is not None:
        raise ConfigurationError(
            "WeChat customer-service messages cannot quote a message: send without reply_to= "
            "(the answer inside the webhook response is client.wechat.passive_reply)"
        )


def _count(raw: bytes | None) -> int:
    try:
        return max(0, int(raw)) if raw is not None else 0
    except ValueError:
        return 0


@attrs.frozen(kw_only=True, slots=True)
class _Seen:
    message_at: float | None
    event_at: float | None
    message_sent: int
    event_sent: int
    follow_at: float | None
    unfollow_at: float | None

    def state(self, policy: rules.WeChatPolicy, now: float) -> rules.WindowState:
        return rules.window_state(
            policy,
            now,
            message_at=self.message_at,
            event_at=self.event_at,
            message_sent=self.message_sent,
            event_sent=self.event_sent,
            follow_at=self.follow_at,
            unfollow_at=self.unfollow_at,
        )


def read_window(ch: WeChat, openid: str) -> Flow[_Seen]:
    """What the Store knows of the windows with ``openid`` (two round trips)."""
    acct = ch.account
    found = yield StoreBatch(
        (
            Get(interaction_key(acct, openid, "message")),
            Get(interaction_key(acct, openid, "event")),
            Get(follow_key(acct, openid)),
            Get(unfollow_key(acct, openid)),
        )
    )
    message_at, event_at = number(found[0]), number(found[1])
    reads = []
    if message_at is not None:
        reads.append(Get(sent_key(acct, openid, "message", message_at)))
    if event_at is not None:
        reads.append(Get(sent_key(acct, openid, "event", event_at)))
    counts = list((yield StoreBatch(tuple(reads)))) if reads else []
    message_sent = _count(counts.pop(0)) if message_at is not None else 0
    event_sent = _count(counts.pop(0)) if event_at is not None else 0
    return _Seen(
        message_at=message_at,
        event_at=event_at,
        message_sent=message_sent,
        event_sent=event_sent,
        follow_at=number(found[2]),
        unfollow_at=number(found[3]),
    )


def prepare(ch: WeChat, to: Address, content: Content) -> tuple[dict[str, Any], list[Violation]]:
    """The body of a send (``content`` through its fallback) and its message violations."""
    body = encode(convert(content), to.user)
    return body, content_violations(content) + body_violations(body, ch.policy)


def check(
    ch: WeChat, to: Address, content: Content, now: float, options: SendOptions
) -> Flow[tuple[Violation, ...]]:
    """Every rule this send would break now."""
    _options(options)
    _, found = prepare(ch, to, content)
    seen = yield from read_window(ch, to.user)
    refusal = seen.state(ch.policy, now).refusal
    found += [refusal] if refusal is not None else []
    found += yield from quotas.check(ch, "custom_send", now)
    return tuple(found)


def _rule(policy: rules.WeChatPolicy, kind: str) -> rules.WindowRule:
    return policy.message_window if kind == "message" else policy.event_window


def _reserve(ch: WeChat, openid: str, seen: _Seen, now: float) -> Flow[tuple[str, float]]:
    """Count one send in the window it goes in; ``(kind, opened)``, or a PolicyViolation."""
    for _ in range(2):
        state = seen.state(ch.policy, now)
        if state.refusal is not None:
            raise PolicyViolation([state.refusal])
        assert state.kind is not None
        assert state.opened is not None
        rule = _rule(ch.policy, state.kind)
        key = sent_key(ch.account, openid, state.kind, state.opened)
        total = int((yield StoreIncr(key, 1, rule.seconds + 60.0)))
        if total <= rule.messages:
            return state.kind, state.opened
        # Another worker took the last message of this window meanwhile: give it back and
        # look at the other window.
        yield StoreIncr(key, -1, rule.seconds + 60.0)
        field = "message_sent" if state.kind == "message" else "event_sent"
        seen = attrs.evolve(seen, **{field: rule.messages})
    state = seen.state(ch.policy, now)
    raise PolicyViolation([state.refusal] if state.refusal else [])


def release(ch: WeChat, openid: str, kind: str, opened: float, error: BaseException) -> Flow[None]:
    """Give a counted send back when WeChat certainly did not act on it (module docstring)."""
    if isinstance(error, ServerError | TransportError):
        return
    rule = _rule(ch.policy, kind)
    yield StoreIncr(sent_key(ch.account, openid, kind, opened), -1, rule.seconds + 60.0)


def send(
    ch: WeChat,
    to: Address,
    content: Content,
    *,
    now: float,
    retry: RetryPolicy,
    preflight: bool,
    options: SendOptions,
) -> Flow[SendResult]:
    """A customer-service message, the window's rules first (module docstring)."""
    _options(options)
    openid = to.user
    body, violations = prepare(ch, to, content)
    counted: tuple[str, float] | None = None
    day: int | None = None
    if preflight:
        seen = yield from read_window(ch, openid)
        refusal = seen.state(ch.policy, now).refusal
        if refusal is not None:
            violations.append(refusal)
        violations += yield from quotas.check(ch, "custom_send", now)
        if violations:
            raise PolicyViolation(violations)
        counted = yield from _reserve(ch, openid, seen, now)
        try:
            day = yield from quotas.reserve(ch, "custom_send", now)
        except PolicyViolation as exc:  # another worker took the day's last send
            yield from release(ch, openid, counted[0], counted[1], exc)
            raise
    try:
        data = yield from api(
            ch,
            "POST",
            "/cgi-bin/message/custom/send",
            body=body,
            retry=retry,
            operation="wechat.send",
        )
    except (PlatformError, TransportError) as exc:
        if counted is not None:
            yield from release(ch, openid, counted[0], counted[1], exc)
        if day is not None:
            yield from quotas.settle(ch, "custom_send", day, exc)
        raise
    msgid = data.get("msgid")
    return SendResult(
        platform="wechat",
        to=Address("wechat", openid, ch.account),
        message_id=None if msgid is None or isinstance(msgid, bool) else str(msgid),
        status="sent",
        user_id=openid,
        raw=data,
    )


def window(ch: WeChat, to: Address, now: float) -> Flow[Window]:
    """The customer-service window with ``to``: open, until when, what goes after (§5.1)."""
    seen = yield from read_window(ch, to.user)
    state = seen.state(ch.policy, now)
    return Window(
        platform="wechat",
        to=Address("wechat", to.user, ch.account),
        open=state.open,
        last_inbound_at=None
        if state.last_interaction is None
        else to_datetime(state.last_interaction),
        closes_at=None if state.closes_at is None else to_datetime(state.closes_at),
        allowed_when_closed=ALLOWED_WHEN_CLOSED,
    )
