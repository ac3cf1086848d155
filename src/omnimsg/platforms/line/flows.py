"""LINE sends as sans-I/O flows: reply or push, the rules before any I/O (spec/line.md §3,
§4, §8; research §1.2, §1.3).

A send to a chat uses the chat's reply token when the store holds a valid, unused one (the
webhook reader writes it, :mod:`.state`): ``POST /v2/bot/message/reply``, free. The token
is taken atomically (``DeleteIf``), so two workers never spend it twice; LINE's 400
``Invalid reply token`` (expired early, used elsewhere) falls back to a push, and any other
4xx of the reply (its body, the rate) gives the unspent token back. Otherwise
``POST /v2/bot/message/push`` with a fresh ``X-Line-Retry-Key``: retried (after a timeout
or a 5xx) with the *same* key, so it is idempotent, and a 409 with
``x-line-accepted-request-id`` means "already sent", a success. ``SendResult.status`` says
``"reply"`` or ``"push"``.

Pre-flight (``Client(preflight=True)``, the default; ``check`` reports the same):

* the message limits of :func:`omnimsg.rules.line.check_messages` (both routes);
* a push to a user known to have blocked the account (``follow_key`` holds ``blocked``):
  **refused** with ``line.follow.blocked``. LINE would answer 200, drop the message and not
  count it; omnimsg says so before instead, since a "successful" send that is never
  delivered is the worse surprise. Without pre-flight the push goes out as LINE takes it.
* the month's quota (a push counts one per recipient; a group or room push counts its
  unknown member count, so it is refused only once the month is used up, and not counted).
  The count is reserved in the store before the request (``Incr``, atomic across workers)
  and given back when LINE certainly did not act (a 4xx, a 429); a reply is never counted.
* the per-endpoint rate limits (§4; ``ch.policy.rate_limits``): every call takes one unit
  of its endpoint's bucket, a counter per fixed window in the store (``Incr`` on
  :func:`rate_key`, atomic across workers, the simulator's windows too). Over the limit the
  call is refused before I/O (``line.rate.<endpoint>``, LINE's 429, ``retry_after`` the
  seconds until the window frees) and its unit given back; so is the unit of a call LINE
  certainly did not act on (a 4xx). A send reads the reply and push buckets in the batch of
  its other reads (``check`` reports them without taking a unit) and takes its unit in the
  batch that spends the reply token or reserves the quota: no extra round trip. Retries of
  one request (same retry key) take no further unit.

Without pre-flight no rule is checked and no count is kept; the reply token is still read
and spent (it is how a reply is routed, not a rule).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlencode

import attrs

from ..._core.calls import call
from ..._core.effects import (
    NOW,
    Flow,
    Request,
    Response,
    StoreBatch,
    StoreIncr,
    StoreSet,
    new_request,
)
from ..._core.retry import RetryPolicy
from ..._types import JSON, JSONObject
from ...clock import to_datetime
from ...exceptions import (
    ConfigurationError,
    PlatformError,
    PolicyRejected,
    PolicyViolation,
    ServerError,
    TransportError,
)
from ...models.content import Content, Document, Image
from ...models.options import SendOptions
from ...models.refs import Address
from ...models.results import SendResult, Window
from ...rules import Violation
from ...rules import line as rules
from ...stores.ops import Add, DeleteIf, Get, Incr, Op
from .channel import Line
from .errors import map_error, sent_message_ids
from .messages import encode
from .state import (
    follow_key,
    friendship,
    pushed_key,
    reply_token_key,
    retry_key_key,
    unfollow_key,
)

__all__ = [
    "RETRY_KEY_TTL",
    "accepted",
    "check",
    "encode_for",
    "limited_call",
    "line_call",
    "push_request",
    "rate_key",
    "release",
    "request",
    "reserve",
    "send",
    "take",
    "window",
]

RETRY_KEY_TTL = 86_400.0
"""How long LINE remembers a retry key: 24 hours after the first request (research §2)."""
_PUSHED_TTL = 62 * 86_400.0  # a month's counter outlives the month
_ID = re.compile(r"[UCR][0-9a-f]{32}")


# --- requests and the request loop ---------------------------------------------------------


def request(
    ch: Line,
    method: str,
    url: str,
    body: JSON | bytes = None,
    *,
    operation: str,
    idempotent: bool = False,
    retry_key: str | None = None,
    content_type: str | None = None,
    auth: bool = True,
) -> Request:
    """A LINE request: JSON ``body`` (bytes as they are, of ``content_type``), the Bearer
    token unless ``auth`` is false (the token endpoints), ``X-Line-Retry-Key`` if given."""
    headers: tuple[tuple[str, str], ...] = ch.auth_headers() if auth else ()
    raw: bytes | None
    if isinstance(body, bytes):
        raw = body
        headers += (("content-type", content_type or "application/octet-stream"),)
    elif body is None:
        raw = None
    else:
        raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        headers += (("content-type", "application/json"),)
    if retry_key is not None:
        headers += (("x-line-retry-key", retry_key),)
    return new_request(
        method=method,
        url=url,
        headers=headers,
        body=raw,
        idempotent=idempotent,
        operation=operation,
    )


def form_request(ch: Line, path: str, fields: dict[str, str], *, operation: str) -> Request:
    """A form-encoded POST to a token endpoint (§5): no Bearer header."""
    return request(
        ch,
        "POST",
        ch.url(path),
        urlencode(fields).encode(),
        operation=operation,
        content_type="application/x-www-form-urlencoded",
        auth=False,
    )


def _secrets(ch: Line) -> tuple[str, ...]:
    return tuple(s for s in (ch.channel_access_token, ch.channel_secret) if s)


def _final(error: PlatformError) -> bool:
    # The monthly limit is a 429 that waiting does not cure; a 409 "retry key accepted"
    # means the message went (spec §3, §4).
    return isinstance(error, PolicyRejected) or error.code == "retry_key_accepted"


def line_call(
    req: Request,
    retry: RetryPolicy,
    ch: Line,
    mapper: Callable[[Response, Sequence[str]], PlatformError] = map_error,
    *,
    secrets: Sequence[str] = (),
) -> Flow[Response]:
    """:func:`omnimsg.platforms.call` for LINE: the monthly limit and a 409 "retry key
    accepted" are final at once. ``secrets`` (a token, an assertion the request carries) are
    scrubbed from error messages with the channel's."""
    scrub = _secrets(ch) + tuple(secrets)
    return call(req, retry, lambda response: mapper(response, scrub), final=_final)


def decode(response: Response) -> dict[str, Any]:
    """A successful answer's JSON object (``{}`` when empty or not an object)."""
    try:
        data = json.loads(response.body) if response.body else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def accepted(req: Request, retry: RetryPolicy, ch: Line) -> Flow[tuple[dict[str, Any], str | None]]:
    """Send a request that carries a retry key: ``(body, request id)``.

    A 409 with ``x-line-accepted-request-id`` is the answer to a retry of a request LINE
    accepted already: a success, whose request id is the accepted one and whose body has
    the ``sentMessages`` when LINE includes them (research §1.3).
    """
    try:
        response = yield from line_call(req, retry, ch)
    except PlatformError as exc:
        if exc.code != "retry_key_accepted":
            raise
        try:
            body = json.loads(exc.raw) if exc.raw else {}
        except ValueError:
            body = {}
        return (body if isinstance(body, dict) else {}), exc.request_id
    return decode(response), response.headers.get("x-line-request-id")


# --- rate limits (§4) ------------------------------------------------------------------------

Slot = tuple[str, float]
"""A unit taken from a rate bucket: the window's store key and its TTL (to give it back)."""


def rate_key(account: str, endpoint: str, window: int) -> str:
    """The calls to ``endpoint`` in fixed window ``window`` (``now // per_seconds``): an
    ``Incr`` counter that expires after its window."""
    return f"omnimsg:line:rate:{account}:{endpoint}:{window}"


def _slot(ch: Line, endpoint: str, now: float) -> Slot | None:
    """The bucket key of ``endpoint`` at ``now``, or ``None`` when it has no limit."""
    limit = ch.policy.rate_limit(endpoint)
    if limit.requests <= 0:
        return None
    index, _ = rules.rate_window(limit, now)
    return rate_key(ch.account, endpoint, index), limit.per_seconds + 1.0


def _calls(raw: Any) -> int:
    try:
        return int(raw)
    except (TypeError, ValueError):
        return 0


def take(ch: Line, endpoint: str, now: float) -> Flow[Slot | None]:
    """Take one unit of ``endpoint``'s bucket (atomic ``Incr``): the slot to give back, or a
    :class:`PolicyViolation` (``line.rate.<endpoint>``) after giving it back."""
    slot = _slot(ch, endpoint, now)
    if slot is None:
        return None
    calls = _calls((yield StoreIncr(slot[0], 1, slot[1])))
    refused = rules.check_rate(endpoint, calls, now, ch.policy)
    if refused is not None:
        yield StoreIncr(slot[0], -1, slot[1])
        raise PolicyViolation([refused])
    return slot


def _certainly_refused(error: BaseException) -> bool:
    """LINE answered and did not act (a 4xx): its count is given back. A 5xx after the last
    retry, or no answer at all, may have been acted on: kept."""
    return not isinstance(error, ServerError | TransportError)


def _give_back(slot: Slot | None) -> tuple[Op, ...]:
    return () if slot is None else (Incr(slot[0], -1, slot[1]),)


def limited_call(
    req: Request,
    retry: RetryPolicy,
    ch: Line,
    endpoint: str | None,
    mapper: Callable[[Response, Sequence[str]], PlatformError] = map_error,
    *,
    secrets: Sequence[str] = (),
) -> Flow[Response]:
    """:func:`line_call` after taking a unit of ``endpoint``'s rate limit (``None``: no
    limit, pre-flight off); the unit is given back when LINE refused the call."""
    slot: Slot | None = None
    if endpoint is not None:
        now: float = yield NOW
        slot = yield from take(ch, endpoint, now)
    try:
        return (yield from line_call(req, retry, ch, mapper, secrets=secrets))
    except (PlatformError, TransportError) as exc:
        if slot is not None and _certainly_refused(exc):
            yield StoreBatch(_give_back(slot))
        raise


# --- quota reservations ---------------------------------------------------------------------


def reserve(
    ch: Line, month: str, recipients: int, *, endpoint: str | None = None, now: float = 0.0
) -> Flow[Slot | None]:
    """Count ``recipients`` messages against the month before sending, and take one unit of
    ``endpoint``'s rate limit at ``now`` (one batch of atomic ``Incr``; the slot taken).

    Raises :class:`PolicyViolation` (``line.quota.monthly``, ``line.rate.<endpoint>``) when
    the count would go over a plan that allows no more, or the call over the rate limit,
    after giving both back.
    """
    key = pushed_key(ch.account, month)
    slot = None if endpoint is None else _slot(ch, endpoint, now)
    ops: list[Op] = []
    if recipients:
        ops.append(Incr(key, recipients, _PUSHED_TTL))
    if slot is not None:
        ops.append(Incr(slot[0], 1, slot[1]))
    if not ops:
        return None
    found = yield StoreBatch(tuple(ops))
    refused: list[Violation] = []
    if recipients:
        total = _calls(found[0])
        quota = rules.check_quota(total - recipients, recipients, ch.policy)
        if quota is not None:
            refused.append(quota)
    if slot is not None and endpoint is not None:
        rate = rules.check_rate(endpoint, _calls(found[-1]), now, ch.policy)
        if rate is not None:
            refused.append(rate)
    if refused:
        back = _give_back(slot)
        if recipients:
            back += (Incr(key, -recipients, _PUSHED_TTL),)
        yield StoreBatch(back)
        raise PolicyViolation(refused)
    return slot


def release(
    ch: Line, month: str, recipients: int, error: BaseException, slot: Slot | None = None
) -> Flow[None]:
    """Give a reservation (and the rate unit ``slot``) back when LINE certainly did not act
    on the request.

    A 5xx after the last retry, or no answer at all, may have been delivered: kept counted.
    """
    if not _certainly_refused(error):
        return
    back = _give_back(slot)
    if recipients:
        back += (Incr(pushed_key(ch.account, month), -recipients, _PUSHED_TTL),)
    if back:
        yield StoreBatch(back)


def _used(raw: bytes | None) -> int:
    try:
        return max(0, int(raw)) if raw is not None else 0
    except ValueError:
        return 0


# --- content ------------------------------------------------------------------------------


def _content_violations(content: Content) -> list[Violation]:
    """What the unified value lacks for LINE, before it is encoded."""
    if isinstance(content, Image | Document) and content.url is None:
        kind = type(content).__name__.lower()
        return [
            Violation(
                rule_id=f"line.{kind}.url",
                platform="line",
                message=f"LINE sends media by HTTPS URL only: give the {kind} as url=, not "
                "media_id= (LINE has no upload endpoint for outbound media)",
                native_code=None,
            )
        ]
    return []


def encode_for(content: Content, options: SendOptions) -> list[JSONObject]:
    """The message objects of one send (``content`` already through its fallback)."""
    if options.tag is not None:
        raise ConfigurationError("LINE has no message tags: send without tag=")
    if options.callback_data is not None:
        raise ConfigurationError("LINE echoes no callback data: send without callback_data=")
    return encode(content, quote_token=options.reply_to)


def _token(raw: bytes | None, now: float, ch: Line) -> tuple[str, float] | None:
    """The stored reply token and its event time, if still within the lifetime."""
    if raw is None:
        return None
    try:
        d = json.loads(raw)
        token, at = d["token"], d["at"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(token, str) or not token or type(at) not in (int, float):
        return None
    return (token, float(at)) if 0 <= now - at < ch.reply_token_lifetime else None


def _push_violations(ch: Line, chat: str, follow: bytes | None, used: int) -> list[Violation]:
    out: list[Violation] = []
    if not _ID.fullmatch(chat):
        out.append(
            Violation(
                rule_id="line.recipient",
                platform="line",
                message="The property, 'to', in the request body is invalid: a LINE user, "
                f"group or room id is U, C or R and 32 hex digits, not {chat!r}",
                native_code=None,
                http_status=400,  # LINE's own answer (spec §6)
                title=rules.BAD_TO_MESSAGE,
                details=rules.BAD_TO_MESSAGE,
            )
        )
        return out
    kind = rules.recipient_kind(chat)
    if kind == "user":
        blocked = rules.check_follow(follow)
        if blocked is not None:
            return [blocked]
    quota = rules.check_quota(used, 1, ch.policy, unknown_reach=kind != "user")
    if quota is not None:
        out.append(quota)
    return out


@attrs.frozen(slots=True)
class _Read:
    """What a send reads before any I/O, in one batch."""

    token_raw: bytes | None
    follow: bytes | None
    used: int
    reply_calls: int  # the calls in the reply and push buckets' current windows
    push_calls: int


def _read(ch: Line, chat: str, month: str, now: float) -> Flow[_Read]:
    reply, push = _slot(ch, "reply", now), _slot(ch, "push", now)
    ops: list[Op] = [
        Get(reply_token_key(ch.account, chat)),
        Get(follow_key(ch.account, chat)),
        Get(unfollow_key(ch.account, chat)),
        Get(pushed_key(ch.account, month)),
    ]
    ops += [Get(slot[0]) for slot in (reply, push) if slot is not None]
    found = list((yield StoreBatch(tuple(ops))))
    reply_raw = found.pop(4) if reply is not None else None
    push_raw = found.pop(4) if push is not None else None
    return _Read(
        token_raw=found[0],
        follow=friendship(found[1], found[2]),
        used=_used(found[3]),
        reply_calls=_calls(reply_raw),
        push_calls=_calls(push_raw),
    )


def _rate_violations(ch: Line, endpoint: str, calls: int, now: float) -> list[Violation]:
    """The rate rule of one more call, from a count read (nothing taken)."""
    refused = rules.check_rate(endpoint, calls + 1, now, ch.policy)
    return [] if refused is None else [refused]


def check(
    ch: Line, to: Address, content: Content, now: float, options: SendOptions
) -> Flow[tuple[Violation, ...]]:
    """Every rule this send would break now, on the route it would take (reply or push)."""
    found = _content_violations(content)
    messages = encode_for(content, options)
    month = rules.quota_month(now, ch.policy)
    read = yield from _read(ch, to.user, month, now)
    found += rules.check_messages(messages, ch.policy)
    if _token(read.token_raw, now, ch) is None:
        found += _push_violations(ch, to.user, read.follow, read.used)
        found += _rate_violations(ch, "push", read.push_calls, now)
    else:
        found += _rate_violations(ch, "reply", read.reply_calls, now)
    return tuple(found)


def _result(ch: Line, chat: str, data: dict[str, Any], status: str) -> SendResult:
    ids = sent_message_ids(data)
    return SendResult(
        platform="line",
        to=Address("line", chat, ch.account),
        message_id=ids[0] if ids else None,
        status=status,
        user_id=chat,
        raw=data,
    )


def push_request(ch: Line, chat: str, messages: list[JSONObject], key: str) -> Request:
    """``POST /v2/bot/message/push`` with ``key`` as its retry key (idempotent: retried
    with the same key, research §1.3)."""
    body: JSONObject = {"to": chat, "messages": list(messages), "notificationDisabled": False}
    return request(
        ch,
        "POST",
        ch.url("/v2/bot/message/push"),
        body,
        operation="line.push",
        idempotent=True,
        retry_key=key,
    )


def send(
    ch: Line,
    to: Address,
    content: Content,
    *,
    now: float,
    retry: RetryPolicy,
    preflight: bool,
    options: SendOptions,
) -> Flow[SendResult]:
    """Reply with the chat's reply token when it is valid, else push (module docstring)."""
    chat = to.user
    messages = encode_for(content, options)
    month = rules.quota_month(now, ch.policy)
    token_key = reply_token_key(ch.account, chat)
    read: _Read | None = None
    if preflight:
        read = yield from _read(ch, chat, month, now)
        token_raw = read.token_raw
    else:
        token_raw = (yield StoreBatch((Get(token_key),)))[0]
    token = _token(token_raw, now, ch)
    if read is not None:
        violations = _content_violations(content) + rules.check_messages(messages, ch.policy)
        if token is None:
            violations += _push_violations(ch, chat, read.follow, read.used)
            violations += _rate_violations(ch, "push", read.push_calls, now)
        else:
            violations += _rate_violations(ch, "reply", read.reply_calls, now)
        if violations:
            raise PolicyViolation(violations)
    if token is not None and token_raw is not None:
        slot = _slot(ch, "reply", now) if preflight else None
        ops: tuple[Op, ...] = (DeleteIf(token_key, token_raw),)
        if slot is not None:
            ops += (Incr(slot[0], 1, slot[1]),)
        spent = yield StoreBatch(ops)
        left = ch.reply_token_lifetime - (now - token[1])
        if not spent[0]:  # another worker spent the token meanwhile: push
            if slot is not None:
                yield StoreBatch(_give_back(slot))
        else:
            refused = (
                None
                if slot is None
                else rules.check_rate("reply", _calls(spent[1]), now, ch.policy)
            )
            if refused is not None:
                # Add, not Set: a newer token from a webhook meanwhile wins.
                back = _give_back(slot) + ((Add(token_key, token_raw, left),) if left > 0 else ())
                yield StoreBatch(back)
                raise PolicyViolation([refused])
            replied = yield from _reply(ch, chat, messages, token, token_raw, left, slot, retry)
            if replied is not None:
                return replied
    if read is not None and token is not None:  # the reply was refused: the push's rules
        violations = _push_violations(ch, chat, read.follow, read.used)
        if violations:
            raise PolicyViolation(violations)
    return (yield from _push(ch, chat, messages, month, preflight, retry, now))


def _reply(
    ch: Line,
    chat: str,
    messages: list[JSONObject],
    token: tuple[str, float],
    token_raw: bytes,
    left: float,
    slot: Slot | None,
    retry: RetryPolicy,
) -> Flow[SendResult | None]:
    """``POST /v2/bot/message/reply`` with the token taken: the result, or ``None`` when
    LINE said the token is invalid (the caller pushes)."""
    token_key = reply_token_key(ch.account, chat)
    body: JSONObject = {
        "replyToken": token[0],
        "messages": list(messages),
        "notificationDisabled": False,
    }
    reply = request(ch, "POST", ch.url("/v2/bot/message/reply"), body, operation="line.reply")
    try:
        response = yield from line_call(reply, retry, ch)
    except PlatformError as exc:
        status = exc.http_status or 0
        back: tuple[Op, ...] = _give_back(slot) if 400 <= status < 500 else ()
        if exc.code != "invalid_reply_token" and 400 <= status < 500 and left > 0:
            # LINE refused the request, not the token: it is still unused (spec §3: single
            # use means one *accepted* reply), so the next send may reply. Add, not Set: a
            # newer token from a webhook meanwhile wins.
            back += (Add(token_key, token_raw, left),)
        if back:
            yield StoreBatch(back)
        if exc.code != "invalid_reply_token":
            raise
        return None
    return _result(ch, chat, decode(response), "reply")


def _push(
    ch: Line,
    chat: str,
    messages: list[JSONObject],
    month: str,
    preflight: bool,
    retry: RetryPolicy,
    now: float,
) -> Flow[SendResult]:
    counted = preflight and rules.recipient_kind(chat) == "user"
    slot: Slot | None = None
    if preflight:
        slot = yield from reserve(ch, month, 1 if counted else 0, endpoint="push", now=now)
    key = str(uuid.uuid4())
    try:
        data, request_id = yield from accepted(push_request(ch, chat, messages, key), retry, ch)
    except (PlatformError, TransportError) as exc:
        if counted or slot is not None:
            yield from release(ch, month, 1 if counted else 0, exc, slot)
        raise
    if preflight:
        yield StoreSet(retry_key_key(ch.account, key), (request_id or "").encode(), RETRY_KEY_TTL)
    return _result(ch, chat, data, "push")


def window(ch: Line, to: Address, now: float) -> Flow[Window]:
    """LINE has no messaging window (§3): open for any chat but a user who blocked the
    account. ``last_inbound_at`` is the time of the chat's last replyable event while its
    reply token is still valid (a reply is then free); ``closes_at`` is ``None``."""
    found = yield StoreBatch(
        (
            Get(reply_token_key(ch.account, to.user)),
            Get(follow_key(ch.account, to.user)),
            Get(unfollow_key(ch.account, to.user)),
        )
    )
    token = _token(found[0], now, ch)
    return Window(
        platform="line",
        to=Address("line", to.user, ch.account),
        open=friendship(found[1], found[2]) != b"blocked",
        last_inbound_at=None if token is None else to_datetime(token[1]),
        closes_at=None,
        allowed_when_closed=(),
    )
