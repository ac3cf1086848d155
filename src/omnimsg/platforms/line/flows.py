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

from ..._core.effects import (
    Flow,
    Request,
    Response,
    Sleep,
    StoreAdd,
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
    RateLimited,
    ServerError,
    TransportError,
)
from ...models.content import Content, Document, Image
from ...models.options import SendOptions
from ...models.refs import Address
from ...models.results import SendResult, Window
from ...rules import Violation
from ...rules import line as rules
from ...stores.ops import DeleteIf, Get
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
    "line_call",
    "push_request",
    "release",
    "request",
    "reserve",
    "send",
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


def line_call(
    req: Request,
    retry: RetryPolicy,
    ch: Line,
    mapper: Callable[[Response, Sequence[str]], PlatformError] = map_error,
) -> Flow[Response]:
    """Yield ``req`` until it succeeds or the policy gives up; raise the typed error.

    Like :func:`omnimsg.platforms.call`, but the monthly limit (a 429 that waiting does not
    cure) and a 409 "retry key accepted" are final at once.
    """
    secrets = _secrets(ch)
    attempt = 1
    while True:
        try:
            response: Response = yield req
        except TransportError as exc:
            delay = retry.delay(
                attempt, status=None, idempotent=req.idempotent, connect_failed=exc.retryable
            )
            if delay is None:
                raise
        else:
            if response.status < 400:
                return response
            error = mapper(response, secrets)
            if isinstance(error, PolicyRejected) or error.code == "retry_key_accepted":
                raise error
            delay = retry.delay(
                attempt,
                status=response.status,
                idempotent=req.idempotent,
                retry_after=error.retry_after if isinstance(error, RateLimited) else None,
                rate_limited=isinstance(error, RateLimited),
            )
            if delay is None:
                raise error
        yield Sleep(delay)
        attempt += 1


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


# --- quota reservations ---------------------------------------------------------------------


def reserve(ch: Line, month: str, recipients: int) -> Flow[None]:
    """Count ``recipients`` messages against the month before sending (atomic ``Incr``).

    Raises :class:`PolicyViolation` (``line.quota.monthly``) when the count would go over
    a plan that allows no more, after giving the reservation back.
    """
    key = pushed_key(ch.account, month)
    total = int((yield StoreIncr(key, recipients, _PUSHED_TTL)))
    refused = rules.check_quota(total - recipients, recipients, ch.policy)
    if refused is not None:
        yield StoreIncr(key, -recipients, _PUSHED_TTL)
        raise PolicyViolation([refused])


def release(ch: Line, month: str, recipients: int, error: BaseException) -> Flow[None]:
    """Give a reservation back when LINE certainly did not act on the request.

    A 5xx after the last retry, or no answer at all, may have been delivered: kept counted.
    """
    if isinstance(error, ServerError | TransportError):
        return
    yield StoreIncr(pushed_key(ch.account, month), -recipients, _PUSHED_TTL)


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


def _read(ch: Line, chat: str, month: str) -> Flow[tuple[bytes | None, bytes | None, int]]:
    found = yield StoreBatch(
        (
            Get(reply_token_key(ch.account, chat)),
            Get(follow_key(ch.account, chat)),
            Get(unfollow_key(ch.account, chat)),
            Get(pushed_key(ch.account, month)),
        )
    )
    return found[0], friendship(found[1], found[2]), _used(found[3])


def check(
    ch: Line, to: Address, content: Content, now: float, options: SendOptions
) -> Flow[tuple[Violation, ...]]:
    """Every rule this send would break now, on the route it would take (reply or push)."""
    found = _content_violations(content)
    messages = encode_for(content, options)
    month = rules.quota_month(now, ch.policy)
    token_raw, follow, used = yield from _read(ch, to.user, month)
    found += rules.check_messages(messages, ch.policy)
    if _token(token_raw, now, ch) is None:
        found += _push_violations(ch, to.user, follow, used)
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
    follow: bytes | None = None
    used = 0
    if preflight:
        token_raw, follow, used = yield from _read(ch, chat, month)
    else:
        token_raw = (yield StoreBatch((Get(token_key),)))[0]
    token = _token(token_raw, now, ch)
    if preflight:
        violations = _content_violations(content) + rules.check_messages(messages, ch.policy)
        if token is None:
            violations += _push_violations(ch, chat, follow, used)
        if violations:
            raise PolicyViolation(violations)
    if token is not None and (yield StoreBatch((DeleteIf(token_key, token_raw or b""),)))[0]:
        body: JSONObject = {
            "replyToken": token[0],
            "messages": list(messages),
            "notificationDisabled": False,
        }
        reply = request(ch, "POST", ch.url("/v2/bot/message/reply"), body, operation="line.reply")
        try:
            response = yield from line_call(reply, retry, ch)
        except PlatformError as exc:
            if exc.code != "invalid_reply_token":
                status = exc.http_status or 0
                left = ch.reply_token_lifetime - (now - token[1])
                if 400 <= status < 500 and left > 0 and token_raw is not None:
                    # LINE refused the request, not the token: it is still unused (spec §3:
                    # single use means one *accepted* reply), so the next send may reply.
                    # Add, not Set: a newer token from a webhook meanwhile wins.
                    yield StoreAdd(token_key, token_raw, left)
                raise
        else:
            return _result(ch, chat, decode(response), "reply")
        if preflight:  # the reply was refused: the push has rules of its own
            violations = _push_violations(ch, chat, follow, used)
            if violations:
                raise PolicyViolation(violations)
    return (yield from _push(ch, chat, messages, month, preflight, retry))


def _push(
    ch: Line,
    chat: str,
    messages: list[JSONObject],
    month: str,
    preflight: bool,
    retry: RetryPolicy,
) -> Flow[SendResult]:
    counted = preflight and rules.recipient_kind(chat) == "user"
    if counted:
        yield from reserve(ch, month, 1)
    key = str(uuid.uuid4())
    try:
        data, request_id = yield from accepted(push_request(ch, chat, messages, key), retry, ch)
    except (PlatformError, TransportError) as exc:
        if counted:
            yield from release(ch, month, 1, exc)
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
