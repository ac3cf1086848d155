"""LINE-only operations (``client.line``) as sans-I/O flows (spec/line.md §3, §5, §7;
research §1.2 for the exact requests).

* Sends beyond one chat: :func:`multicast` (up to 500 users, counted per recipient before
  the request, like a push), :func:`broadcast` and :func:`narrowcast` (their reach is not
  known before LINE delivers, so they are not pre-counted; on a plan that cannot go over
  they are refused once the month is used up). Each carries a fresh ``X-Line-Retry-Key``,
  reused by its retries; a 409 with ``x-line-accepted-request-id`` is a success. They
  return the request id (``x-line-request-id``; a narrowcast's progress is asked with it).
* :func:`validate` asks LINE whether message objects are valid for a kind of send.
* :func:`quota`, :func:`consumption`, :func:`profile`, :func:`show_loading`,
  :func:`mark_as_read`, :func:`content`, :func:`content_status` (``api-data`` host).
* Rich menus: create, upload the image (``api-data``), set default, link, unlink, alias,
  delete, list.
* Channel access tokens (§5): :func:`issue_token` (stateless ``/oauth2/v3/token`` or
  short-lived ``/v2/oauth/accessToken``, with the channel id and secret; v2.1
  ``/oauth2/v2.1/token`` or stateless with a JWT assertion signed by the channel's Assertion
  Signing Key, :mod:`.jwt`), :func:`verify_token`, :func:`revoke_token` (v2 or v2.1),
  :func:`valid_key_ids`; form-encoded, OAuth error bodies.

Every call takes one unit of its endpoint's rate limit before any I/O when ``preflight`` is
on (:func:`.flows.limited_call`; §4: a different method or path is a different endpoint).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal, cast
from urllib.parse import quote, urlencode

import attrs

from ..._core.effects import NOW, Flow, Request, Response, StoreBatch
from ..._core.retry import RetryPolicy
from ..._types import JSON, JSONObject
from ...clock import to_datetime
from ...exceptions import ConfigurationError, InvalidRequest, PlatformError, PolicyViolation
from ...models.content import Content
from ...models.options import DEFAULT
from ...rules import Violation
from ...rules import line as rules
from ...stores.ops import Get
from . import jwt
from .channel import Line
from .errors import map_oauth_error
from .fallbacks import CAPABILITIES, convert
from .flows import (
    _content_violations,
    accepted,
    decode,
    encode_for,
    form_request,
    limited_call,
    release,
    request,
    reserve,
)
from .state import pushed_key

__all__ = [
    "ChannelToken",
    "LineProfile",
    "LineQuota",
    "LineValidation",
    "NarrowcastProgress",
    "RichMenu",
    "TokenInfo",
    "TokenKind",
    "VerifyKind",
    "broadcast",
    "consumption",
    "content",
    "content_status",
    "create_rich_menu",
    "create_rich_menu_alias",
    "delete_rich_menu",
    "issue_token",
    "link_rich_menu",
    "mark_as_read",
    "messages_of",
    "multicast",
    "narrowcast",
    "narrowcast_progress",
    "profile",
    "quota",
    "revoke_token",
    "rich_menus",
    "set_default_rich_menu",
    "show_loading",
    "unlink_rich_menu",
    "upload_rich_menu_image",
    "valid_key_ids",
    "validate",
    "verify_token",
]

Contents = Content | Sequence[Content]
"""One content value, or several sent in one request (up to 5 message objects)."""


# --- result models ----------------------------------------------------------------------------


@attrs.frozen(kw_only=True, slots=True)
class LineQuota:
    """``GET /v2/bot/message/quota``: ``limited`` with the month's ``value`` (free plus the
    additional messages allowed), or not limited (``value`` ``None``)."""

    limited: bool
    value: int | None


@attrs.frozen(kw_only=True, slots=True)
class LineProfile:
    """``GET /v2/bot/profile/{userId}``; ``language`` is absent without consent."""

    user_id: str
    display_name: str
    picture_url: str | None = None
    status_message: str | None = None
    language: str | None = None
    raw: JSON = attrs.field(eq=False, default=None, repr=False)


@attrs.frozen(kw_only=True, slots=True)
class NarrowcastProgress:
    """A narrowcast's progress: ``phase`` is waiting, sending, succeeded or failed."""

    phase: str
    success_count: int | None = None
    failure_count: int | None = None
    target_count: int | None = None
    failed_description: str | None = None
    error_code: int | None = None
    accepted_time: datetime | str | None = None
    completed_time: datetime | str | None = None
    raw: JSON = attrs.field(eq=False, default=None, repr=False)


@attrs.frozen(kw_only=True, slots=True)
class LineValidation:
    """What ``POST /v2/bot/message/validate/{kind}`` said: ``valid``, else LINE's message
    and its ``(property, message)`` details."""

    valid: bool
    message: str | None = None
    details: tuple[tuple[str | None, str | None], ...] = ()


@attrs.frozen(kw_only=True, slots=True)
class RichMenu:
    """A rich menu as LINE lists it (``areas`` as LINE's JSON)."""

    id: str
    name: str | None = None
    chat_bar_text: str | None = None
    selected: bool = False
    width: int | None = None
    height: int | None = None
    areas: JSON = attrs.field(eq=False, default=None, repr=False)


@attrs.frozen(kw_only=True, slots=True)
class ChannelToken:
    """An issued channel access token (hidden from repr) and its lifetime in seconds."""

    access_token: str = attrs.field(repr=False)
    expires_in: int
    token_type: str = "Bearer"
    key_id: str | None = None


@attrs.frozen(kw_only=True, slots=True)
class TokenInfo:
    """What ``verify_token`` says of a token: its channel, seconds left, scope."""

    client_id: str
    expires_in: int
    scope: str | None = None


# --- helpers ------------------------------------------------------------------------------------


def messages_of(ch: Line, contents: Contents) -> list[JSONObject]:
    """The message objects of ``contents`` (each through its fallback), or a
    :class:`PolicyViolation` for a type LINE refuses or a content LINE cannot take."""
    items: list[Content] = (
        list(cast(Sequence[Content], contents))
        if isinstance(contents, list | tuple)
        else [cast(Content, contents)]
    )
    found: list[Violation] = []
    messages: list[JSONObject] = []
    for item in items:
        name = type(item).__name__
        if CAPABILITIES.get(name) not in ("native", "fallback"):
            found.append(
                Violation(
                    rule_id="line.capability",
                    platform="line",
                    message=f"line cannot show {name}: it has no native form there and no "
                    "declared fallback (see the platform's capability table)",
                    native_code=None,
                )
            )
            continue
        converted = convert(item)
        found += _content_violations(converted)
        messages += encode_for(converted, DEFAULT)
    if found:
        raise PolicyViolation(found)
    return messages


def _preflight(ch: Line, messages: list[JSONObject], extra: list[Violation]) -> None:
    found = extra + rules.check_messages(messages, ch.policy)
    if found:
        raise PolicyViolation(found)


def _month_used(ch: Line) -> Flow[tuple[str, int]]:
    now: float = yield NOW
    month = rules.quota_month(now, ch.policy)
    raw = (yield StoreBatch((Get(pushed_key(ch.account, month)),)))[0]
    try:
        used = max(0, int(raw)) if raw is not None else 0
    except ValueError:
        used = 0
    return month, used


def _int(v: Any) -> int | None:
    return v if type(v) is int else None


def _str(v: Any) -> str | None:
    return v if isinstance(v, str) else None


def _path(value: str) -> str:
    return quote(value, safe="")


def _send_many(
    ch: Line,
    path: str,
    body: JSONObject,
    *,
    operation: str,
    retry: RetryPolicy,
    month: str | None,
    counted: int,
    endpoint: str | None,
) -> Flow[str | None]:
    """A send with a retry key (multicast, broadcast, narrowcast): its request id. With
    ``endpoint`` (pre-flight on), one unit of its rate limit is taken with the quota's
    reservation, in one batch."""
    now: float = yield NOW
    counted = counted if month is not None else 0
    slot = yield from reserve(ch, month or "", counted, endpoint=endpoint, now=now)
    req = request(
        ch,
        "POST",
        ch.url(path),
        body,
        operation=operation,
        idempotent=True,
        retry_key=str(uuid.uuid4()),
    )
    try:
        _, request_id = yield from accepted(req, retry, ch)
    except Exception as exc:
        if counted or slot is not None:
            yield from release(ch, month or "", counted, exc, slot)
        raise
    return request_id


# --- sends beyond one chat ----------------------------------------------------------------------


def multicast(
    ch: Line,
    users: Sequence[str],
    contents: Contents,
    *,
    notification_disabled: bool,
    preflight: bool,
    retry: RetryPolicy,
) -> Flow[str | None]:
    """``POST /v2/bot/message/multicast`` to up to 500 user ids; the request id.

    Counted per distinct recipient before the request (LINE does not count users who
    blocked the account; omnimsg cannot tell which, so it counts them: the store's count
    errs high, never low). Refused before I/O when a plan without additional messages
    would go over.
    """
    messages = messages_of(ch, contents)
    to = list(users)
    month: str | None = None
    if preflight:
        _preflight(ch, messages, rules.check_multicast(to, ch.policy))
        month, used = yield from _month_used(ch)
        refused = rules.check_quota(used, len(set(to)), ch.policy)
        if refused is not None:
            raise PolicyViolation([refused])
    body: JSONObject = {
        "to": list(to),
        "messages": list(messages),
        "notificationDisabled": notification_disabled,
    }
    return (
        yield from _send_many(
            ch,
            "/v2/bot/message/multicast",
            body,
            operation="line.multicast",
            retry=retry,
            month=month,
            counted=len(set(to)),
            endpoint="multicast" if preflight else None,
        )
    )


def _unknown_reach(ch: Line, messages: list[JSONObject]) -> Flow[None]:
    _preflight(ch, messages, [])
    _, used = yield from _month_used(ch)
    refused = rules.check_quota(used, 0, ch.policy, unknown_reach=True)
    if refused is not None:
        raise PolicyViolation([refused])


def broadcast(
    ch: Line,
    contents: Contents,
    *,
    notification_disabled: bool,
    preflight: bool,
    retry: RetryPolicy,
) -> Flow[str | None]:
    """``POST /v2/bot/message/broadcast`` to every friend; the request id.

    Not pre-counted: the number of friends it reaches is LINE's to know. LINE counts it
    (``consumption()`` shows it); a free plan's broadcast is refused before I/O only once
    the month is used up.
    """
    messages = messages_of(ch, contents)
    if preflight:
        yield from _unknown_reach(ch, messages)
    body: JSONObject = {"messages": list(messages), "notificationDisabled": notification_disabled}
    return (
        yield from _send_many(
            ch,
            "/v2/bot/message/broadcast",
            body,
            operation="line.broadcast",
            retry=retry,
            month=None,
            counted=0,
            endpoint="broadcast" if preflight else None,
        )
    )


def narrowcast(
    ch: Line,
    contents: Contents,
    *,
    recipient: Mapping[str, Any] | None,
    filter: Mapping[str, Any] | None,
    limit: Mapping[str, Any] | None,
    notification_disabled: bool,
    preflight: bool,
    retry: RetryPolicy,
) -> Flow[str | None]:
    """``POST /v2/bot/message/narrowcast`` (202): the request id for
    :func:`narrowcast_progress`. Not pre-counted, like :func:`broadcast`."""
    messages = messages_of(ch, contents)
    if preflight:
        yield from _unknown_reach(ch, messages)
    body: JSONObject = {"messages": list(messages), "notificationDisabled": notification_disabled}
    if recipient is not None:
        body["recipient"] = dict(recipient)
    if filter is not None:
        body["filter"] = dict(filter)
    if limit is not None:
        body["limit"] = dict(limit)
    return (
        yield from _send_many(
            ch,
            "/v2/bot/message/narrowcast",
            body,
            operation="line.narrowcast",
            retry=retry,
            month=None,
            counted=0,
            endpoint="narrowcast" if preflight else None,
        )
    )


def _time(v: Any) -> datetime | str | None:
    if type(v) is int:
        return to_datetime(v / 1000)
    if isinstance(v, str):
        try:
            return datetime.fromisoformat(v.replace("Z", "+00:00"))
        except ValueError:
            return v
    return None


def narrowcast_progress(
    ch: Line, request_id: str, *, retry: RetryPolicy, preflight: bool = True
) -> Flow[NarrowcastProgress]:
    """``GET /v2/bot/message/progress/narrowcast?requestId=``."""
    url = ch.url("/v2/bot/message/progress/narrowcast?" + urlencode({"requestId": request_id}))
    req = request(ch, "GET", url, operation="line.narrowcast_progress", idempotent=True)
    d = decode((yield from _limited(req, retry, ch, "narrowcast_progress", preflight)))
    return NarrowcastProgress(
        phase=_str(d.get("phase")) or "",
        success_count=_int(d.get("successCount")),
        failure_count=_int(d.get("failureCount")),
        target_count=_int(d.get("targetCount")),
        failed_description=_str(d.get("failedDescription")),
        error_code=_int(d.get("errorCode")),
        accepted_time=_time(d.get("acceptedTime")),
        completed_time=_time(d.get("completedTime")),
        raw=d,
    )


ValidateKind = Literal["reply", "push", "multicast", "narrowcast", "broadcast"]


def validate(
    ch: Line, kind: ValidateKind, contents: Contents, *, retry: RetryPolicy, preflight: bool = True
) -> Flow[LineValidation]:
    """``POST /v2/bot/message/validate/{kind}`` with ``{"messages": [...]}``: LINE's own
    verdict (nothing is sent, nothing counted; omnimsg's rules are not applied first)."""
    if kind not in ("reply", "push", "multicast", "narrowcast", "broadcast"):
        raise ConfigurationError(
            f"validate kind must be reply, push, multicast, narrowcast or broadcast, not {kind!r}"
        )
    messages = messages_of(ch, contents)
    body: JSONObject = {"messages": list(messages)}
    req = request(
        ch, "POST", ch.url(f"/v2/bot/message/validate/{kind}"), body, operation="line.validate"
    )
    try:
        yield from _limited(req, retry, ch, f"validate_{kind}", preflight)
    except InvalidRequest as exc:
        if exc.http_status != 400:
            raise
        from .errors import error_body

        err = error_body(exc.raw)
        details = tuple(
            (_str(d.get("property")), _str(d.get("message")))
            for d in (err.get("details") or [])
            if isinstance(d, dict)
        )
        return LineValidation(valid=False, message=_str(err.get("message")), details=details)
    return LineValidation(valid=True)


# --- account, users, content ----------------------------------------------------------------------


def _limited(
    req: Request, retry: RetryPolicy, ch: Line, endpoint: str, preflight: bool, **kw: Any
) -> Flow[Response]:
    return (yield from limited_call(req, retry, ch, endpoint if preflight else None, **kw))


def _get(
    ch: Line, url: str, operation: str, retry: RetryPolicy, endpoint: str, preflight: bool
) -> Flow[dict[str, Any]]:
    req = request(ch, "GET", url, operation=operation, idempotent=True)
    return decode((yield from _limited(req, retry, ch, endpoint, preflight)))


def quota(ch: Line, *, retry: RetryPolicy, preflight: bool = True) -> Flow[LineQuota]:
    """``GET /v2/bot/message/quota``."""
    url = ch.url("/v2/bot/message/quota")
    d = yield from _get(ch, url, "line.quota", retry, "quota", preflight)
    return LineQuota(limited=d.get("type") == "limited", value=_int(d.get("value")))


def consumption(ch: Line, *, retry: RetryPolicy, preflight: bool = True) -> Flow[int]:
    """``GET /v2/bot/message/quota/consumption``: the month's ``totalUsage``."""
    url = ch.url("/v2/bot/message/quota/consumption")
    d = yield from _get(ch, url, "line.consumption", retry, "quota_consumption", preflight)
    return _int(d.get("totalUsage")) or 0


def profile(
    ch: Line, user: str, *, retry: RetryPolicy, preflight: bool = True
) -> Flow[LineProfile]:
    """``GET /v2/bot/profile/{userId}`` (404 for a user who is not a friend, blocked the
    account or does not exist: :class:`~omnimsg.NotFound`)."""
    url = ch.url(f"/v2/bot/profile/{_path(user)}")
    d = yield from _get(ch, url, "line.profile", retry, "profile", preflight)
    return LineProfile(
        user_id=_str(d.get("userId")) or user,
        display_name=_str(d.get("displayName")) or "",
        picture_url=_str(d.get("pictureUrl")),
        status_message=_str(d.get("statusMessage")),
        language=_str(d.get("language")),
        raw=d,
    )


def show_loading(
    ch: Line, chat: str, seconds: int, *, retry: RetryPolicy, preflight: bool = True
) -> Flow[None]:
    """``POST /v2/bot/chat/loading/start`` (202): 1:1 chats only, 5-60 seconds in steps of
    5, checked before I/O. Showing it again replaces the time left, so it may be retried."""
    refused = rules.check_loading_seconds(chat, seconds, ch.policy)
    if refused:
        raise PolicyViolation(refused)
    body: JSONObject = {"chatId": chat, "loadingSeconds": seconds}
    req = request(
        ch,
        "POST",
        ch.url("/v2/bot/chat/loading/start"),
        body,
        operation="line.loading",
        idempotent=True,
    )
    yield from _limited(req, retry, ch, "loading", preflight)


def mark_as_read(ch: Line, token: str, *, retry: RetryPolicy, preflight: bool = True) -> Flow[None]:
    """``POST /v2/bot/chat/markAsRead`` with a message's ``markAsReadToken`` (it and every
    earlier message of the chat are marked read; the token never expires)."""
    body: JSONObject = {"markAsReadToken": token}
    req = request(
        ch,
        "POST",
        ch.url("/v2/bot/chat/markAsRead"),
        body,
        operation="line.mark_as_read",
        idempotent=True,
    )
    yield from _limited(req, retry, ch, "mark_as_read", preflight)


def content(
    ch: Line, message_id: str, *, retry: RetryPolicy, preflight: bool = True
) -> Flow[bytes]:
    """``GET api-data /v2/bot/message/{messageId}/content``: the bytes a user sent. For
    video and audio ask :func:`content_status` first: it fails while transcoding."""
    req = request(
        ch,
        "GET",
        ch.data(f"/v2/bot/message/{_path(message_id)}/content"),
        operation="line.content",
        idempotent=True,
    )
    return (yield from _limited(req, retry, ch, "content", preflight)).body


def content_status(
    ch: Line, message_id: str, *, retry: RetryPolicy, preflight: bool = True
) -> Flow[str]:
    """``GET api-data …/content/transcoding``: ``"processing"``, ``"succeeded"`` or
    ``"failed"``."""
    url = ch.data(f"/v2/bot/message/{_path(message_id)}/content/transcoding")
    d = yield from _get(ch, url, "line.content_status", retry, "content_transcoding", preflight)
    return _str(d.get("status")) or ""


# --- rich menus ---------------------------------------------------------------------------------


def _call(ch: Line, method: str, url: str, operation: str, retry: RetryPolicy,
          body: JSON | bytes = None, *, content_type: str | None = None,
          idempotent: bool = False, preflight: bool = True) -> Flow[dict[str, Any]]:  # fmt: skip
    # The rate endpoint is the operation's name: "line.richmenu.create" -> "rich_menu_create".
    endpoint = operation.removeprefix("line.").replace("richmenu.", "rich_menu_")
    req = request(
        ch, method, url, body, operation=operation, idempotent=idempotent, content_type=content_type
    )
    return decode((yield from _limited(req, retry, ch, endpoint, preflight)))


def create_rich_menu(
    ch: Line, menu: Mapping[str, Any], *, retry: RetryPolicy, preflight: bool = True
) -> Flow[str]:
    """``POST /v2/bot/richmenu`` with the menu object (size, selected, name, chatBarText,
    areas); the ``richMenuId``."""
    d = yield from _call(
        ch,
        "POST",
        ch.url("/v2/bot/richmenu"),
        "line.richmenu.create",
        retry,
        dict(menu),
        preflight=preflight,
    )
    rich_menu_id = _str(d.get("richMenuId"))
    if rich_menu_id is None:
        raise InvalidRequest("LINE answered no richMenuId", platform="line", http_status=502)
    return rich_menu_id


def upload_rich_menu_image(
    ch: Line,
    rich_menu_id: str,
    data: bytes,
    content_type: str,
    *,
    retry: RetryPolicy,
    preflight: bool = True,
) -> Flow[None]:
    """``POST api-data /v2/bot/richmenu/{id}/content``: the menu's JPEG or PNG image."""
    url = ch.data(f"/v2/bot/richmenu/{_path(rich_menu_id)}/content")
    yield from _call(
        ch,
        "POST",
        url,
        "line.richmenu.image",
        retry,
        data,
        content_type=content_type,
        preflight=preflight,
    )


def set_default_rich_menu(
    ch: Line, rich_menu_id: str, *, retry: RetryPolicy, preflight: bool = True
) -> Flow[None]:
    """``POST /v2/bot/user/all/richmenu/{id}``: the menu every user sees by default."""
    url = ch.url(f"/v2/bot/user/all/richmenu/{_path(rich_menu_id)}")
    yield from _call(
        ch, "POST", url, "line.richmenu.default", retry, idempotent=True, preflight=preflight
    )


def link_rich_menu(
    ch: Line, user: str, rich_menu_id: str, *, retry: RetryPolicy, preflight: bool = True
) -> Flow[None]:
    """``POST /v2/bot/user/{userId}/richmenu/{id}``: this user's menu."""
    url = ch.url(f"/v2/bot/user/{_path(user)}/richmenu/{_path(rich_menu_id)}")
    yield from _call(
        ch, "POST", url, "line.richmenu.link", retry, idempotent=True, preflight=preflight
    )


def unlink_rich_menu(
    ch: Line, user: str, *, retry: RetryPolicy, preflight: bool = True
) -> Flow[None]:
    """``DELETE /v2/bot/user/{userId}/richmenu``: back to the default menu."""
    url = ch.url(f"/v2/bot/user/{_path(user)}/richmenu")
    yield from _call(
        ch, "DELETE", url, "line.richmenu.unlink", retry, idempotent=True, preflight=preflight
    )


def create_rich_menu_alias(
    ch: Line, alias: str, rich_menu_id: str, *, retry: RetryPolicy, preflight: bool = True
) -> Flow[None]:
    """``POST /v2/bot/richmenu/alias`` (alias ``^[a-z0-9_-]{1,32}$``), for
    ``richmenuswitch`` actions."""
    body: JSONObject = {"richMenuAliasId": alias, "richMenuId": rich_menu_id}
    yield from _call(
        ch,
        "POST",
        ch.url("/v2/bot/richmenu/alias"),
        "line.richmenu.alias",
        retry,
        body,
        preflight=preflight,
    )


def delete_rich_menu(
    ch: Line, rich_menu_id: str, *, retry: RetryPolicy, preflight: bool = True
) -> Flow[None]:
    """``DELETE /v2/bot/richmenu/{id}``."""
    url = ch.url(f"/v2/bot/richmenu/{_path(rich_menu_id)}")
    yield from _call(
        ch, "DELETE", url, "line.richmenu.delete", retry, idempotent=True, preflight=preflight
    )


def rich_menus(ch: Line, *, retry: RetryPolicy, preflight: bool = True) -> Flow[list[RichMenu]]:
    """``GET /v2/bot/richmenu/list``: the channel's rich menus."""
    url = ch.url("/v2/bot/richmenu/list")
    d = yield from _get(ch, url, "line.richmenu.list", retry, "rich_menu_list", preflight)
    out = []
    for m in d.get("richmenus") or []:
        if not isinstance(m, dict) or not isinstance(m.get("richMenuId"), str):
            continue
        raw_size = m.get("size")
        size: dict[str, Any] = raw_size if isinstance(raw_size, dict) else {}
        out.append(
            RichMenu(
                id=m["richMenuId"],
                name=_str(m.get("name")),
                chat_bar_text=_str(m.get("chatBarText")),
                selected=m.get("selected") is True,
                width=_int(size.get("width")),
                height=_int(size.get("height")),
                areas=m.get("areas"),
            )
        )
    return out


# --- channel access tokens (§5) -------------------------------------------------------------------

TokenKind = Literal["stateless", "short_lived", "v2.1"]
"""The channel access tokens omnimsg issues (§5): ``stateless`` (15 minutes, cannot be
revoked; by the channel id and secret or by a JWT assertion), ``short_lived`` (30 days, at most
30; by id and secret), ``v2.1`` (up to 30 days, at most 30; by a JWT assertion)."""
VerifyKind = Literal["short_lived", "long_lived", "v2.1"]
"""Which verify and revoke endpoints a token goes to: ``/v2/oauth/...`` for short- and
long-lived tokens, ``/oauth2/v2.1/...`` for v2.1 ones."""


def _credentials(ch: Line) -> tuple[str, str]:
    if not ch.channel_id or not ch.channel_secret:
        raise ConfigurationError(
            "issuing a LINE token needs channel_id= and channel_secret= on the channel"
        )
    return ch.channel_id, ch.channel_secret


def _channel_id(ch: Line) -> str:
    if not ch.channel_id:
        raise ConfigurationError(
            "a LINE JWT assertion needs channel_id= on the channel (its iss and sub)"
        )
    return ch.channel_id


def _form(
    ch: Line,
    path: str,
    fields: dict[str, str],
    operation: str,
    retry: RetryPolicy,
    endpoint: str,
    preflight: bool,
    secrets: Sequence[str] = (),
) -> Flow[dict[str, Any]]:
    req = form_request(ch, path, fields, operation=operation)
    return decode(
        (yield from _limited(req, retry, ch, endpoint, preflight, mapper=map_oauth_error,
                             secrets=secrets))
    )  # fmt: skip


def _assertion_fields(
    ch: Line, private_key: jwt.PrivateKey, kid: str | None, token_exp: int | None, now: float
) -> dict[str, str]:
    signed = jwt.assertion(_channel_id(ch), private_key, now=now, kid=kid, token_exp=token_exp)
    return {"client_assertion_type": jwt.JWT_BEARER, "client_assertion": signed}


def issue_token(
    ch: Line,
    kind: TokenKind = "stateless",
    *,
    private_key: jwt.PrivateKey | None = None,
    kid: str | None = None,
    token_exp: int | None = None,
    retry: RetryPolicy,
    preflight: bool = True,
) -> Flow[ChannelToken]:
    """Issue a channel access token (§5).

    ``"stateless"``: ``POST /oauth2/v3/token``, 15 minutes, unlimited, cannot be revoked;
    with the channel id and secret, or with a JWT assertion when ``private_key`` is given.
    ``"short_lived"``: ``POST /v2/oauth/accessToken``, 30 days, at most 30 per channel, with
    the channel id and secret. ``"v2.1"``: ``POST /oauth2/v2.1/token`` with a JWT assertion
    signed by ``private_key`` (the Assertion Signing Key: PEM or JWK) under ``kid``; the token
    lives ``token_exp`` seconds (default and most: 30 days); the answer has its ``key_id``.
    """
    if kind not in ("stateless", "short_lived", "v2.1"):
        raise ConfigurationError(
            f"token kind must be 'stateless', 'short_lived' or 'v2.1', not {kind!r}"
        )
    if kind != "v2.1" and token_exp is not None:
        raise ConfigurationError("token_exp= is for v2.1 tokens (a stateless one lives 15 min)")
    if kind == "short_lived" and private_key is not None:
        raise ConfigurationError(
            "short-lived tokens are issued with the channel id and secret, not a JWT: "
            "use kind='v2.1' or 'stateless' with private_key="
        )
    fields = {"grant_type": "client_credentials"}
    secrets: tuple[str, ...] = ()
    if kind == "v2.1" or private_key is not None:
        if private_key is None:
            raise ConfigurationError(
                "a v2.1 channel access token needs private_key= (the Assertion Signing Key) "
                "and kid="
            )
        now: float = yield NOW
        exp = token_exp if kind != "v2.1" or token_exp is not None else jwt.TOKEN_EXP_MAX
        fields |= _assertion_fields(ch, private_key, kid, exp, now)
        secrets = (fields["client_assertion"],)
    else:
        client_id, secret = _credentials(ch)
        fields |= {"client_id": client_id, "client_secret": secret}
    path = {
        "stateless": "/oauth2/v3/token",
        "short_lived": "/v2/oauth/accessToken",
        "v2.1": "/oauth2/v2.1/token",
    }[kind]
    endpoint = {
        "stateless": "stateless_token",
        "short_lived": "token_short_lived",
        "v2.1": "token_v2_1",
    }
    d = yield from _form(
        ch, path, fields, f"line.token.{kind}", retry, endpoint[kind], preflight, secrets
    )
    token = _str(d.get("access_token"))
    if token is None:
        raise PlatformError("LINE answered no access_token", platform="line", http_status=502)
    return ChannelToken(
        access_token=token,
        expires_in=_int(d.get("expires_in")) or 0,
        token_type=_str(d.get("token_type")) or "Bearer",
        key_id=_str(d.get("key_id")),
    )


def _verify_kind(kind: str) -> bool:
    """Whether ``kind`` names the v2.1 endpoints (else the v2 ones)."""
    if kind not in ("short_lived", "long_lived", "v2.1"):
        raise ConfigurationError(
            f"token kind must be 'short_lived', 'long_lived' or 'v2.1', not {kind!r} "
            "(stateless tokens can be neither verified nor revoked)"
        )
    return kind == "v2.1"


def verify_token(
    ch: Line,
    token: str,
    *,
    kind: VerifyKind = "short_lived",
    retry: RetryPolicy,
    preflight: bool = True,
) -> Flow[TokenInfo]:
    """A token's channel, seconds left and scope: ``POST /v2/oauth/verify`` (form
    ``access_token``) for short- and long-lived tokens, ``GET /oauth2/v2.1/verify
    ?access_token=`` for v2.1 ones."""
    if _verify_kind(kind):
        url = ch.url("/oauth2/v2.1/verify?" + urlencode({"access_token": token}))
        req = request(ch, "GET", url, operation="line.token.verify_v2_1", idempotent=True,
                      auth=False)  # fmt: skip
        response = yield from _limited(
            req, retry, ch, "token_verify_v2_1", preflight, mapper=map_oauth_error,
            secrets=(token,),
        )  # fmt: skip
        d = decode(response)
    else:
        d = yield from _form(
            ch, "/v2/oauth/verify", {"access_token": token}, "line.token.verify", retry,
            "token_verify", preflight, (token,),
        )  # fmt: skip
    return TokenInfo(
        client_id=_str(d.get("client_id")) or "",
        expires_in=_int(d.get("expires_in")) or 0,
        scope=_str(d.get("scope")),
    )


def revoke_token(
    ch: Line,
    token: str,
    *,
    kind: VerifyKind = "short_lived",
    retry: RetryPolicy,
    preflight: bool = True,
) -> Flow[None]:
    """Revoke a token: ``POST /v2/oauth/revoke`` (form ``access_token``) for short- and
    long-lived ones, ``POST /oauth2/v2.1/revoke`` (with the channel id and secret) for v2.1
    ones. Stateless tokens cannot be revoked."""
    if _verify_kind(kind):
        client_id, secret = _credentials(ch)
        fields = {"client_id": client_id, "client_secret": secret, "access_token": token}
        yield from _form(
            ch, "/oauth2/v2.1/revoke", fields, "line.token.revoke_v2_1", retry,
            "token_revoke_v2_1", preflight, (token,),
        )  # fmt: skip
        return
    yield from _form(
        ch, "/v2/oauth/revoke", {"access_token": token}, "line.token.revoke", retry,
        "token_revoke", preflight, (token,),
    )  # fmt: skip


def valid_key_ids(
    ch: Line,
    private_key: jwt.PrivateKey,
    *,
    kid: str | None = None,
    retry: RetryPolicy,
    preflight: bool = True,
) -> Flow[list[str]]:
    """``GET /oauth2/v2.1/tokens/kid`` with a JWT assertion: the key ids of the channel's
    valid v2.1 tokens (the ``key_id`` each was issued with)."""
    now: float = yield NOW
    fields = _assertion_fields(ch, private_key, kid, None, now)
    url = ch.url("/oauth2/v2.1/tokens/kid?" + urlencode(fields))
    req = request(ch, "GET", url, operation="line.token.key_ids", idempotent=True, auth=False)
    response = yield from _limited(
        req, retry, ch, "token_key_ids", preflight, mapper=map_oauth_error,
        secrets=(fields["client_assertion"],),
    )  # fmt: skip
    kids = decode(response).get("kids")
    return [k for k in kids if isinstance(k, str)] if isinstance(kids, list) else []
