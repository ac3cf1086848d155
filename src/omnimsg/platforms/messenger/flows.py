"""Messenger operations as sans-I/O flows (spec/messenger.md §3, §4, §6, §7, §8).

State kept in the Store, all under ``omnimsg:fb:``:

* ``in:{page}:{psid}``: when the customer last wrote or tapped (the standard window, §4),
  moved by the webhooks' ``state_ops`` (newest time kept);
* ``cm:{page}:{comment}``: when a comment was made (from feed webhooks), and
  ``pr:{page}:{comment}``: its one private reply (§3.4), reserved before sending;
* ``rate:{page}:{text|media}``: the Page's Send API buckets (§6);
* ``own:{page}:{psid}`` and ``lost:{page}:{psid}``: when this app last gained the thread and
  when another app last did (§8.1), each its newest time, from this app's own successful
  ``pass_thread_control``/``take_thread_control`` and the ``messaging_handovers`` webhooks;
  ``ownlast:{page}:{psid}`` says which came last when both times are equal
  (:func:`owned_elsewhere`);
* ``badge:...``: the conversation log of the "Very responsive" badge (§7): per customer the
  open conversation, per day a counter and one record per conversation (its start and the
  Page's first reply), written once per new event (``apply_rest``) and by omnimsg's own sends.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal
from urllib.parse import quote, urlencode

import orjson

from ..._core.effects import (
    NOW,
    Flow,
    Request,
    Response,
    StoreAdd,
    StoreBatch,
    StoreDelete,
    StoreGet,
    StoreIncr,
    StoreSet,
)
from ..._core.retry import RetryPolicy
from ..._types import JSON, JSONObject
from ...clock import to_datetime
from ...exceptions import ConfigurationError, PlatformError, PolicyViolation, WebhookParseError
from ...models.content import Button, Content, LinkButton
from ...models.events import (
    CommentReceived,
    Event,
    MessageEcho,
    MessageReceived,
    Postback,
    ReferralReceived,
    ThreadControlChanged,
)
from ...models.options import SendOptions
from ...models.refs import Address
from ...models.results import AppInfo, MessengerProfile, SendResult, UserProfile, Window
from ...rules import Violation
from ...rules import messenger as rules
from ...stores.ops import Get, Op, Set, new_get, new_set, new_set_max
from .._meta import MAX_DEPTH, graph_call, graph_request, parse_webhook, stored_time
from . import wire
from .channel import Messenger
from .errors import map_error

__all__ = [
    "MAX_DEPTH",
    "PROFILE_FIELDS",
    "apply_rest",
    "badge",
    "check",
    "dedup_key",
    "parse_body",
    "send",
    "state_ops",
    "window",
]

_DAY = 86_400.0
_LAST_INBOUND_TTL = 30 * _DAY
# How long a comment is remembered for its private reply (§3.4: within 7 days). Forgetting it
# lets a late or second reply through to the platform (10903, 10900), so it is kept as long
# as a customer's last message (the contract test found 8 days too short).
_COMMENT_TTL = _LAST_INBOUND_TTL
_RATE_TTL = 60.0
# How long who owns a thread is remembered: a thread stays with the Page Inbox until someone
# passes it back, so as long as a LINE follow (a key must expire; forgetting only lets a send
# through to the platform, which refuses it, 10 / 2018300).
_OWNER_TTL = 400 * _DAY
_READ_CHUNK = 500  # badge records read per store round trip

PROFILE_FIELDS = (
    "get_started",
    "greeting",
    "ice_breakers",
    "persistent_menu",
    "whitelisted_domains",
    "account_linking_url",
    "commands",
)
"""The Messenger Profile properties ``delete``/``get`` accept (research §5.1)."""

SenderAction = Literal["typing_on", "typing_off", "mark_seen"]


# --- requests -------------------------------------------------------------------------------


def _request(
    ch: Messenger,
    method: str,
    path: str,
    body: JSON = None,
    *,
    operation: str,
    params: Mapping[str, str] | None = None,
    idempotent: bool = False,
) -> Request:
    """A Graph request with the Page token (Bearer) and ``appsecret_proof`` (§3.1)."""
    query = dict(params or {})
    proof = ch.appsecret_proof()
    if proof is not None:
        query["appsecret_proof"] = proof
    url = ch.url(path) + ("?" + urlencode(query) if query else "")
    return graph_request(
        method, url, ch.auth_headers(), body, operation=operation, idempotent=idempotent
    )


def _call(request: Request, retry: RetryPolicy) -> Flow[dict[str, Any]]:
    return graph_call(request, retry, map_error)


# --- state keys -----------------------------------------------------------------------------


def last_inbound_key(page: str, user: str) -> str:
    """Store key of the customer's last message (or tap) time."""
    return f"omnimsg:fb:in:{page}:{user}"


def _comment_key(page: str, comment_id: str) -> str:
    return f"omnimsg:fb:cm:{page}:{comment_id}"


def _replied_key(page: str, comment_id: str) -> str:
    return f"omnimsg:fb:pr:{page}:{comment_id}"


def _rate_key(page: str, kind: str) -> str:
    return f"omnimsg:fb:rate:{page}:{kind}"


def _badge_user_key(page: str, user: str) -> str:
    return f"omnimsg:fb:badge:{page}:u:{user}"


def _badge_count_key(page: str, day: int) -> str:
    return f"omnimsg:fb:badge:{page}:d:{day}"


def _badge_record_key(page: str, day: int, n: int) -> str:
    return f"omnimsg:fb:badge:{page}:d:{day}:{n}"


def owned_key(page: str, user: str) -> str:
    """Store key of when this app last gained the thread (a ``SetMax``, §8.1)."""
    return f"omnimsg:fb:own:{page}:{user}"


def lost_key(page: str, user: str) -> str:
    """Store key of when another app last gained the thread (a ``SetMax``, §8.1)."""
    return f"omnimsg:fb:lost:{page}:{user}"


def _owner_last_key(page: str, user: str) -> str:
    return f"omnimsg:fb:ownlast:{page}:{user}"


def owner_ops(page: str, user: str, ours: bool, t: float) -> list[Op]:
    """The thread went to this app (``ours``) or to another one at ``t`` (unix seconds).

    Each side keeps its newest time (``SetMax``), so a late or redelivered webhook never
    undoes a newer change; the last word (``ownlast``) settles a tie of the two times (a
    pass and a pass back in the same millisecond, a frozen test clock).
    """
    side = "own" if ours else "lost"
    return [
        new_set_max(
            key=owned_key(page, user) if ours else lost_key(page, user),
            value=t,
            ttl=_OWNER_TTL,
            ceiling=wire.MAX_TIMESTAMP,
        ),
        new_set(key=_owner_last_key(page, user), value=f"{side} {t!r}".encode(), ttl=_OWNER_TTL),
    ]


def owned_elsewhere(own: bytes | None, lost: bytes | None, last: bytes | None) -> bool:
    """Whether another app owns the thread, from the three stored values of :func:`owner_ops`.

    Never seen handed over, or last gained by this app: ``False`` (an idle thread is anyone's).
    """
    gained, gone = _time(own), _time(lost)
    if gone is None:
        return False
    if gained is None or gone > gained:
        return True
    if gained > gone:
        return False
    side, _, at = (last or b"").decode("ascii", "replace").partition(" ")
    try:
        return side == "lost" and float(at) == gone
    except ValueError:
        return False


def _ms(t: float) -> float:
    """``t`` at the platform's precision (webhook times are milliseconds)."""
    return math.floor(t * 1000) / 1000


def _time(raw: bytes | None) -> float | None:
    """A stored time, or ``None`` when absent or not an in-range time (counts as never)."""
    return stored_time(raw, wire.timestamp_in_range)


def last_inbound(page: str, user: str) -> Flow[float | None]:
    """When the customer last wrote, from the store."""
    return _time((yield StoreGet(last_inbound_key(page, user))))


def _bucket(raw: bytes | None) -> rules.RateBucket | None:
    if raw is None:
        return None
    try:
        tokens, updated = raw.split(b",")
        bucket = rules.RateBucket(float(tokens), float(updated))
    except ValueError:
        return None  # unreadable: a full bucket
    return bucket if math.isfinite(bucket.tokens) and math.isfinite(bucket.updated) else None


# --- pre-flight -----------------------------------------------------------------------------


def send_state(
    ch: Messenger,
    user: str,
    content: Content,
    now: float,
    options: SendOptions,
    *,
    comment_id: str | None = None,
    owner: list[bool] | None = None,
) -> Flow[rules.SendState]:
    """Everything the rules need, read from the store in one round trip.

    With ``owner`` (a list), whether another app owns the thread is read too and appended
    to it (only for a channel with its ``app_id``).
    """
    page = ch.page_id
    kind = rules.rate_kind(content)
    ops: list[Op] = [Get(_rate_key(page, kind))]
    if comment_id is None:
        ops.append(Get(last_inbound_key(page, user)))
    else:
        ops += [Get(_comment_key(page, comment_id)), Get(_replied_key(page, comment_id))]
    thread = owner is not None and ch.app_id is not None
    if thread:
        ops += [
            Get(owned_key(page, user)),
            Get(lost_key(page, user)),
            Get(_owner_last_key(page, user)),
        ]
    found = yield StoreBatch(tuple(ops))
    if owner is not None and thread:
        owner.append(owned_elsewhere(*found[-3:]))
    bucket = _bucket(found[0])
    last = created = None
    replied = False
    if comment_id is None:
        last = _time(found[1])
    else:
        created, replied = _time(found[1]), found[2] is not None
    return rules.SendState(
        now=now,
        last_inbound_at=last,
        tag=options.tag,
        human=options.human,
        comment_id=comment_id,
        comment_created_at=created,
        comment_replied=replied,
        metadata=options.callback_data,
        text_bucket=bucket if kind == "text" else None,
        media_bucket=bucket if kind == "media" else None,
    )


def check(
    ch: Messenger, user: str, content: Content, now: float, options: SendOptions
) -> Flow[tuple[Violation, ...]]:
    """Every rule this message would break now."""
    _, violations = yield from _preflight(ch, user, content, now, options)
    return violations


def _preflight(
    ch: Messenger, user: str, content: Content, now: float, options: SendOptions
) -> Flow[tuple[rules.SendState, tuple[Violation, ...]]]:
    """The state and the violations of a send: the thread's owner first (§8.1), then the
    shared rules. Messenger refuses every send into a thread another app owns, so nothing
    is exempt (the simulator refuses sender actions there too; they have no pre-flight)."""
    owner: list[bool] = []
    state = yield from send_state(ch, user, content, now, options, owner=owner)
    violations = rules.check_send(content, state, ch.policy)
    if owner and owner[0]:
        violations = (rules.not_thread_owner(ch.policy), *violations)
    return state, violations


def _record_send(
    ch: Messenger, user: str | None, state: rules.SendState, content: Content
) -> Flow[None]:
    kind = rules.rate_kind(content)
    bucket = state.media_bucket if kind == "media" else state.text_bucket
    spent = rules.consume(bucket, state.now, kind, ch.policy)
    yield StoreSet(
        _rate_key(ch.page_id, kind), f"{spent.tokens!r},{spent.updated!r}".encode(), _RATE_TTL
    )
    if user is not None and ch.badge_log:
        yield from note_reply(ch.page_id, user, state.now, ch.policy)


def _messaging_type(
    state: rules.SendState | None, ch: Messenger, tag: str | None
) -> wire.MessagingType:
    """§3.1: MESSAGE_TAG with a tag; RESPONSE inside the window; UPDATE outside it.

    A tag always goes with MESSAGE_TAG, pre-flight or not: the Send API refuses any other
    messaging type beside a tag, "(#100) Messaging type should be MESSAGE_TAG for tagged
    messages" (research §1.2; spec §3.1: ``tag`` goes with ``messaging_type=MESSAGE_TAG``).
    Without pre-flight nothing is read, so the window is not known: RESPONSE, what the Send
    API assumes when the field is missing (research §6, chatwoot#14329).
    """
    if tag is not None:
        return "MESSAGE_TAG"
    if state is None:
        return "RESPONSE"
    return (
        "RESPONSE" if rules.window_open(state.last_inbound_at, state.now, ch.policy) else "UPDATE"
    )


def _result(ch: Messenger, user: str, data: dict[str, Any]) -> SendResult:
    message_id = data.get("message_id")
    recipient = data.get("recipient_id")
    return SendResult(
        platform="messenger",
        to=Address("messenger", user, ch.page_id),
        message_id=message_id if isinstance(message_id, str) else None,
        user_id=recipient if isinstance(recipient, str) else None,
        raw=data,
    )


def send(
    ch: Messenger,
    to: Address,
    content: Content,
    *,
    now: float,
    retry: RetryPolicy,
    preflight: bool,
    options: SendOptions,
) -> Flow[SendResult]:
    """Send one message: pre-flight, POST, record the rate bucket and the badge's reply."""
    user = to.user
    # Without pre-flight no rule is checked and no state is read or kept: the send costs
    # what a raw client's does (DESIGN §5). Echoes still record the reply for the badge.
    state = None
    if preflight:
        state, violations = yield from _preflight(ch, user, content, now, options)
        if violations:
            raise PolicyViolation(violations)
    body = wire.encode_send(
        {"id": user},
        content,
        messaging_type=_messaging_type(state, ch, options.tag),
        tag=options.tag,
        metadata=options.callback_data,
        reply_to=options.reply_to,
    )
    request = _request(ch, "POST", f"{ch.page_id}/messages", body, operation="messenger.send")
    data = yield from _call(request, retry)
    if state is not None:
        yield from _record_send(ch, user, state, content)
    return _result(ch, user, data)


def window(ch: Messenger, to: Address, now: float) -> Flow[Window]:
    """The standard window with ``to``, and the tags that still allow a message (§4)."""
    last = yield from last_inbound(ch.page_id, to.user)
    closes = rules.window_closes_at(last, ch.policy)
    return Window(
        platform="messenger",
        to=Address("messenger", to.user, ch.page_id),
        open=rules.window_open(last, now, ch.policy),
        last_inbound_at=None if last is None else to_datetime(last),
        closes_at=None if closes is None else to_datetime(closes),
        allowed_when_closed=rules.allowed_when_closed(last, now, ch.policy),
    )


# --- private replies (§3.4) -----------------------------------------------------------------


def _replied_ttl(p: rules.MessengerPolicy) -> float:
    # A reply is remembered at least as long as its comment: else a second reply, late, would
    # be judged "expired" here and "already replied to" (10900) by the platform.
    return max(_COMMENT_TTL, p.private_reply_seconds + _DAY)


def reply_to_comment(
    ch: Messenger,
    comment_id: str,
    content: Content,
    *,
    now: float,
    retry: RetryPolicy,
    preflight: bool,
    metadata: str | None = None,
) -> Flow[SendResult]:
    """The one private reply to a comment: ``recipient.comment_id``, within 7 days.

    With pre-flight the reply is reserved in the store first (``Add``), so two workers
    answering the same comment send it once; a failed send gives the reservation back.
    """
    if not isinstance(comment_id, str) or not comment_id:
        raise ConfigurationError("reply_to_comment needs the comment's id (a non-empty str)")
    options = SendOptions(callback_data=metadata)
    key = _replied_key(ch.page_id, comment_id)
    state = None
    if preflight:
        state = yield from send_state(ch, "", content, now, options, comment_id=comment_id)
        violations = rules.check_send(content, state, ch.policy)
        if violations:
            raise PolicyViolation(violations)
        ttl = _replied_ttl(ch.policy)
        if not (yield StoreAdd(key, b"sending", ttl)):
            taken = rules.SendState(now=now, comment_id=comment_id, comment_replied=True)
            raise PolicyViolation(rules.check_send(content, taken, ch.policy))
    body = wire.encode_send(
        {"comment_id": comment_id}, content, messaging_type="RESPONSE", metadata=metadata
    )
    request = _request(
        ch, "POST", f"{ch.page_id}/messages", body, operation="messenger.private_reply"
    )
    try:
        data = yield from _call(request, retry)
    except PlatformError as exc:
        if state is not None and exc.code != ch.policy.private_reply_used_code:
            yield StoreDelete(key)  # not sent: the comment may still get its reply
        raise
    if state is not None:
        yield StoreSet(key, b"sent", _replied_ttl(ch.policy))
        yield from _record_send(ch, None, state, content)
    recipient = data.get("recipient_id")
    result = _result(ch, recipient if isinstance(recipient, str) else "", data)
    return result


# --- sender actions, profiles, attachments ----------------------------------------------------


def sender_action(
    ch: Messenger, user: str, action: SenderAction, *, retry: RetryPolicy
) -> Flow[None]:
    """``typing_on``, ``typing_off`` or ``mark_seen``: its own request, never with a
    message (§3.1). Showing it twice is harmless, so it may be retried."""
    body: JSONObject = {"recipient": {"id": user}, "sender_action": action}
    request = _request(
        ch,
        "POST",
        f"{ch.page_id}/messages",
        body,
        operation=f"messenger.{action}",
        idempotent=True,
    )
    yield from _call(request, retry)


def _opt_str(d: Mapping[str, Any], key: str) -> str | None:
    v = d.get(key)
    return v if isinstance(v, str) else None


def user_profile(
    ch: Messenger, user: str, fields: Sequence[str], *, retry: RetryPolicy
) -> Flow[UserProfile]:
    """``GET /{psid}?fields=...`` (§8.2)."""
    request = _request(
        ch,
        "GET",
        quote(user, safe=""),
        operation="messenger.user_profile",
        params={"fields": ",".join(fields)},
        idempotent=True,
    )
    d = yield from _call(request, retry)
    tz = d.get("timezone")
    return UserProfile(
        id=_opt_str(d, "id") or user,
        name=_opt_str(d, "name"),
        first_name=_opt_str(d, "first_name"),
        last_name=_opt_str(d, "last_name"),
        profile_pic=_opt_str(d, "profile_pic"),
        locale=_opt_str(d, "locale"),
        timezone=float(tz) if isinstance(tz, int | float) and math.isfinite(tz) else None,
        gender=_opt_str(d, "gender"),
        raw=d,
    )


def upload_attachment(
    ch: Messenger,
    url: str,
    kind: Literal["image", "video", "audio", "file"],
    *,
    reusable: bool,
    retry: RetryPolicy,
) -> Flow[str]:
    """``POST /{page-id}/message_attachments`` by URL; the ``attachment_id`` (§3.3).

    Reusable ids expire after 90 days (Pitfalls 10).
    """
    if kind not in ("image", "video", "audio", "file"):
        raise ConfigurationError(f"attachment kind must be image, video, audio or file: {kind!r}")
    body: JSONObject = {
        "message": {"attachment": {"type": kind, "payload": {"url": url, "is_reusable": reusable}}}
    }
    request = _request(
        ch, "POST", f"{ch.page_id}/message_attachments", body, operation="messenger.upload"
    )
    d = yield from _call(request, retry)
    found = wire._id(d.get("attachment_id"))
    if found is None:
        raise map_error(Response(502, {}, b'{"error":{"message":"no attachment_id","code":1}}'))
    return found


# --- Messenger Profile API (research §5.1) ----------------------------------------------------


def _menu_item(b: Button | LinkButton) -> JSONObject:
    if isinstance(b, LinkButton):
        return {"type": "web_url", "title": b.title, "url": b.url}
    return {"type": "postback", "title": b.title, "payload": b.id}


def _greetings(greeting: str | Mapping[str, str] | None) -> list[tuple[str, str]] | None:
    if greeting is None:
        return None
    if isinstance(greeting, str):
        return [("default", greeting)]
    return [(str(locale), str(text)) for locale, text in greeting.items()]


def set_profile(
    ch: Messenger,
    *,
    greeting: str | Mapping[str, str] | None,
    get_started: str | None,
    persistent_menu: Sequence[Button | LinkButton] | None,
    composer_input_disabled: bool,
    ice_breakers: Sequence[Button] | None,
    retry: RetryPolicy,
) -> Flow[bool]:
    """``POST /{page-id}/messenger_profile`` with the given properties (checked first)."""
    greetings = _greetings(greeting)
    violations = rules.check_profile(
        greeting=greetings,
        persistent_menu=persistent_menu,
        ice_breakers=ice_breakers,
        policy=ch.policy,
    )
    if violations:
        raise PolicyViolation(violations)
    body: JSONObject = {}
    if get_started is not None:
        body["get_started"] = {"payload": get_started}
    if greetings is not None:
        body["greeting"] = [{"locale": loc, "text": text} for loc, text in greetings]
    if persistent_menu is not None:
        body["persistent_menu"] = [
            {
                "locale": "default",
                "composer_input_disabled": composer_input_disabled,
                "call_to_actions": [_menu_item(b) for b in persistent_menu],
            }
        ]
    if ice_breakers is not None:
        body["ice_breakers"] = [
            {
                "locale": "default",
                "call_to_actions": [{"question": b.title, "payload": b.id} for b in ice_breakers],
            }
        ]
    if not body:
        raise ConfigurationError("profile.set: give at least one property to set")
    request = _request(
        ch,
        "POST",
        f"{ch.page_id}/messenger_profile",
        body,
        operation="messenger.profile.set",
        idempotent=True,  # writing the same properties twice leaves the same profile
    )
    d = yield from _call(request, retry)
    return d.get("result") == "success"


def _profile_fields(fields: Sequence[str]) -> list[str]:
    chosen = list(fields)
    unknown = [f for f in chosen if f not in PROFILE_FIELDS]
    if unknown or not chosen:
        raise ConfigurationError(
            f"Messenger Profile fields must be some of {list(PROFILE_FIELDS)}, got {chosen!r}"
        )
    return chosen


def _button_from(item: Any) -> Button | LinkButton | None:
    if not isinstance(item, dict):
        return None
    title = _opt_str(item, "title")
    if title is None:
        return None
    if item.get("type") == "web_url" and isinstance(item.get("url"), str):
        return LinkButton(title, item["url"])
    payload = _opt_str(item, "payload")
    return None if payload is None else Button(payload, title)


def _default_locale(items: Any) -> dict[str, Any] | None:
    """The ``default`` locale's entry of a localized list (else the first)."""
    entries = [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []
    for entry in entries:
        if entry.get("locale") == "default":
            return entry
    return entries[0] if entries else None


def _profile_from(data: dict[str, Any]) -> MessengerProfile:
    merged: dict[str, Any] = {}
    for part in data.get("data") or []:  # one object per property, or one for all
        if isinstance(part, dict):
            merged.update(part)
    greeting = tuple(
        (str(g.get("locale", "default")), g["text"])
        for g in merged.get("greeting") or []
        if isinstance(g, dict) and isinstance(g.get("text"), str)
    )
    started = merged.get("get_started")
    menu = _default_locale(merged.get("persistent_menu"))
    menu_items = tuple(
        b for b in (_button_from(i) for i in (menu or {}).get("call_to_actions") or []) if b
    )
    breakers_raw = merged.get("ice_breakers") or []
    default = _default_locale(breakers_raw)
    questions = (
        default.get("call_to_actions") or []
        if default is not None and "call_to_actions" in default
        else breakers_raw  # the old format: [{"question", "payload"}]
    )
    breakers = tuple(
        Button(q["payload"], q["question"])
        for q in questions
        if isinstance(q, dict)
        and isinstance(q.get("payload"), str)
        and isinstance(q.get("question"), str)
    )
    return MessengerProfile(
        greeting=greeting,
        get_started=_opt_str(started, "payload") if isinstance(started, dict) else None,
        persistent_menu=menu_items,
        composer_input_disabled=bool((menu or {}).get("composer_input_disabled", False)),
        ice_breakers=breakers,
        raw=data,
    )


def get_profile(
    ch: Messenger, fields: Sequence[str], *, retry: RetryPolicy
) -> Flow[MessengerProfile]:
    """``GET /{page-id}/messenger_profile?fields=...``."""
    request = _request(
        ch,
        "GET",
        f"{ch.page_id}/messenger_profile",
        operation="messenger.profile.get",
        params={"fields": ",".join(_profile_fields(fields))},
        idempotent=True,
    )
    return _profile_from((yield from _call(request, retry)))


def delete_profile(ch: Messenger, fields: Sequence[str], *, retry: RetryPolicy) -> Flow[bool]:
    """``DELETE /{page-id}/messenger_profile`` with ``{"fields": [...]}``."""
    body: JSONObject = {"fields": list(_profile_fields(fields))}
    request = _request(
        ch,
        "DELETE",
        f"{ch.page_id}/messenger_profile",
        body,
        operation="messenger.profile.delete",
        idempotent=True,
    )
    d = yield from _call(request, retry)
    return d.get("result") == "success"


# --- hand-over (§8.1; research §5.2) ---------------------------------------------------------


def _app_id(value: str) -> JSON:
    # Meta's samples send the app id as a number (research §5.2).
    return int(value) if value.isdigit() else value


def thread_control(
    ch: Messenger,
    action: Literal["pass", "take", "request"],
    user: str,
    *,
    target_app_id: str | None,
    metadata: str | None,
    retry: RetryPolicy,
) -> Flow[bool]:
    """``POST /{page-id}/{pass,take,request}_thread_control``.

    A successful pass or take is remembered (:func:`owner_ops`, at the clock's now): after a
    pass to another app, the pre-flight refuses sends into the thread until it comes back.
    """
    body: JSONObject = {"recipient": {"id": user}}
    if action == "pass":
        if not target_app_id:
            raise ConfigurationError("pass_thread_control needs target_app_id")
        body["target_app_id"] = _app_id(target_app_id)
    if metadata is not None:
        body["metadata"] = metadata
    request = _request(
        ch,
        "POST",
        f"{ch.page_id}/{action}_thread_control",
        body,
        operation=f"messenger.{action}_thread_control",
    )
    d = yield from _call(request, retry)
    # {"success": true}, or the newer conversation-control answer {"data": [...]}
    done = d.get("success") is True if "success" in d else isinstance(d.get("data"), list)
    if done and action != "request" and ch.app_id is not None:
        now: float = yield NOW
        ours = action == "take" or target_app_id == ch.app_id
        yield StoreBatch(tuple(owner_ops(ch.page_id, user, ours, _ms(now))))
    return done


def thread_owner(ch: Messenger, user: str, *, retry: RetryPolicy) -> Flow[str | None]:
    """``GET /{page-id}/thread_owner?recipient=PSID``: the owning app's id (``None``: idle)."""
    request = _request(
        ch,
        "GET",
        f"{ch.page_id}/thread_owner",
        operation="messenger.thread_owner",
        params={"recipient": user},
        idempotent=True,
    )
    d = yield from _call(request, retry)
    for item in d.get("data") or []:
        owner = item.get("thread_owner") if isinstance(item, dict) else None
        if isinstance(owner, dict):
            return wire._id(owner.get("app_id"))
    return None


def secondary_receivers(ch: Messenger, *, retry: RetryPolicy) -> Flow[list[AppInfo]]:
    """``GET /{page-id}/secondary_receivers?fields=id,name`` (primary receiver only)."""
    request = _request(
        ch,
        "GET",
        f"{ch.page_id}/secondary_receivers",
        operation="messenger.secondary_receivers",
        params={"fields": "id,name"},
        idempotent=True,
    )
    d = yield from _call(request, retry)
    out = []
    for item in d.get("data") or []:
        app = wire._id(item.get("id")) if isinstance(item, dict) else None
        if app is not None:
            out.append(AppInfo(id=app, name=_opt_str(item, "name")))
    return out


# --- the badge's conversation log (§7) -------------------------------------------------------


def _badge_user(raw: bytes | None) -> tuple[float | None, float | None, str | None]:
    """``(awaiting since, last conversation start, open record)`` of one customer."""
    if raw is None:
        return None, None, None
    try:
        d = orjson.loads(raw)
        waiting, started, record = d.get("a"), d.get("s"), d.get("k")
    except (ValueError, AttributeError):
        return None, None, None
    return _stored_time(waiting), _stored_time(started), record if type(record) is str else None


def _stored_time(v: Any) -> float | None:
    return float(v) if type(v) in (int, float) and wire.timestamp_in_range(v) else None


def _badge_ttls(p: rules.MessengerPolicy) -> tuple[float, float]:
    record = p.badge_window_seconds + p.badge_answer_within_seconds + _DAY
    user = max(p.badge_conversation_gap_seconds, p.badge_answer_within_seconds) + _DAY
    return record, user


def note_customer(page: str, user: str, t: float, p: rules.MessengerPolicy) -> Flow[None]:
    """A customer message at ``t``: a new conversation for the badge, or part of one.

    Run once per new event; running it again for the same message changes nothing (it is
    then part of the conversation it started).
    """
    key = _badge_user_key(page, user)
    waiting, started, _ = _badge_user((yield StoreGet(key)))
    if not rules.starts_conversation(waiting, started, t, p):
        return
    record_ttl, user_ttl = _badge_ttls(p)
    day = math.floor(t / _DAY)
    n = yield StoreIncr(_badge_count_key(page, day), 1, record_ttl)
    record = orjson.dumps({"u": user, "s": t})
    state = orjson.dumps({"a": t, "s": t, "k": f"{day}:{n}"})
    yield StoreBatch(
        (Set(_badge_record_key(page, day, n), record, record_ttl), Set(key, state, user_ttl))
    )


def note_reply(page: str, user: str, t: float, p: rules.MessengerPolicy) -> Flow[None]:
    """The Page answered ``user`` at ``t`` (an echo, or omnimsg's own send): the first
    reply of an open conversation is its response."""
    key = _badge_user_key(page, user)
    waiting, started, record = _badge_user((yield StoreGet(key)))
    if waiting is None or record is None or t < waiting:
        return
    day, _, n = record.partition(":")
    record_ttl, user_ttl = _badge_ttls(p)
    entry = orjson.dumps({"u": user, "s": waiting, "r": t})
    state = orjson.dumps({"a": None, "s": started, "k": None})
    yield StoreBatch(
        (
            Set(_badge_record_key(page, int(day), int(n)), entry, record_ttl),
            Set(key, state, user_ttl),
        )
    )


def badge(ch: Messenger, now: float) -> Flow[rules.BadgeReport]:
    """The badge's figures from the conversation log in the store (§7)."""
    if not ch.badge_log:
        raise ConfigurationError(
            "this Messenger channel keeps no conversation log: set badge_log=True on it"
        )
    p = ch.policy
    first = math.floor((now - p.badge_window_seconds) / _DAY)
    days = list(range(first, math.floor(now / _DAY) + 1))
    counts = yield StoreBatch(tuple(Get(_badge_count_key(ch.page_id, d)) for d in days))
    keys: list[str] = []
    for day, count in zip(days, counts, strict=True):
        try:
            total = int(count) if count is not None else 0
        except ValueError:
            total = 0
        keys += [_badge_record_key(ch.page_id, day, n) for n in range(1, total + 1)]
    log: list[rules.Exchange] = []
    for start in range(0, len(keys), _READ_CHUNK):
        chunk = keys[start : start + _READ_CHUNK]
        for raw in (yield StoreBatch(tuple(Get(k) for k in chunk))):
            exchange = _exchange(raw)
            if exchange is not None:
                log.append(exchange)
    return rules.badge(log, now, p)


def _exchange(raw: bytes | None) -> rules.Exchange | None:
    if raw is None:
        return None
    try:
        d = orjson.loads(raw)
        user, started, replied = d["u"], d["s"], d.get("r")
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(user, str) or type(started) not in (int, float):
        return None
    return rules.Exchange(
        user=user,
        started_at=float(started),
        replied_at=float(replied) if type(replied) in (int, float) else None,
    )


# --- webhooks -------------------------------------------------------------------------------


def parse_body(body: bytes) -> list[Event]:
    """Decode a (verified) webhook body into events.

    Raises :class:`WebhookParseError` for a body that is not JSON or is nested deeper than
    :data:`MAX_DEPTH` (``_meta.parse_webhook``), before any event is made, so a
    refused body changes no state.
    """
    payload = parse_webhook(body, "Messenger")
    try:
        return wire.parse_events(payload)
    except ValueError as exc:
        raise WebhookParseError(str(exc)) from None


dedup_key = wire.dedup_key

# A customer's own actions: they move the window (§4) and, but for referrals, the badge.
_MOVES_WINDOW = (MessageReceived, Postback, ReferralReceived)
_CONVERSES = (MessageReceived, Postback)
_LOGGED = (MessageReceived, Postback, MessageEcho)  # what the badge's log reads


def state_ops(event: Event, apps: Mapping[str, str] | None = None) -> list[Op]:
    """The state an event implies, as idempotent store operations (one batch per body).

    A customer's message, tap or referral moves the window (newest time kept, so a
    re-delivery or an out-of-order webhook never moves it back); standby events too, as
    the window is the Page's, whichever app answers. A new comment is remembered for its
    private reply (§3.4). Echoes move nothing (Pitfalls 4). A hand-over (a pass or a take)
    says who owns the thread now (§8.1; newest time kept, :func:`owner_ops`), for the Pages
    whose app id is in ``apps`` (Page id -> this app's id).
    """
    if isinstance(event, _MOVES_WINDOW):
        return [
            new_set_max(
                key=last_inbound_key(event.account, event.user),
                value=event.timestamp,
                ttl=_LAST_INBOUND_TTL,
                ceiling=wire.MAX_TIMESTAMP,
            )
        ]
    if isinstance(event, CommentReceived) and event.verb in ("add", "edited"):
        return [
            new_set_max(
                key=_comment_key(event.account, event.comment_id),
                value=event.timestamp,
                ttl=_COMMENT_TTL,
                ceiling=wire.MAX_TIMESTAMP,
            )
        ]
    if isinstance(event, ThreadControlChanged) and apps:
        app = apps.get(event.account)
        if (
            app is None
            or event.user is None
            or event.action not in ("pass", "take")
            or event.new_owner is None
        ):
            return []
        return owner_ops(event.account, event.user, event.new_owner == app, event.timestamp)
    return []


def apply_rest(event: Event, policy: rules.MessengerPolicy) -> Flow[None]:
    """The badge's conversation log for one event: a customer message or a Page reply."""
    if isinstance(event, _CONVERSES):
        yield from note_customer(event.account, event.user, event.timestamp, policy)
    elif isinstance(event, MessageEcho):
        yield from note_reply(event.account, event.user, event.timestamp, policy)


class _Open:
    """A conversation opened in this body, numbered once the day's counter is read."""

    __slots__ = ("day", "n", "replied", "start", "user")

    def __init__(self, user: str, day: int, start: float) -> None:
        self.user, self.day, self.start = user, day, start
        self.n = 0
        self.replied: float | None = None


def apply_fresh(
    events: Sequence[Event], policies: Mapping[str, rules.MessengerPolicy]
) -> Flow[None]:
    """The badge's conversation log for all the new events of one body, in order.

    The same bookkeeping as :func:`note_customer` and :func:`note_reply`, in at most three
    store round trips per body instead of up to three per event: read every customer's open
    conversation, number the new ones (one ``Incr`` per day), write what changed.
    """
    logged = [e for e in events if isinstance(e, _LOGGED) and e.account in policies]
    if not logged:
        return
    ekeys = [_badge_user_key(e.account, e.user) for e in logged]
    keys = list(dict.fromkeys(ekeys))
    found = yield StoreBatch(tuple([new_get(key=k) for k in keys]))
    # Per customer: (awaiting since, last start, open record: a stored "day:n" or an _Open).
    state: dict[str, tuple[float | None, float | None, str | _Open | None]] = {
        k: _badge_user(raw) for k, raw in zip(keys, found, strict=True)
    }
    changed: dict[str, str] = {}  # customer key -> page
    opened: list[tuple[str, _Open]] = []  # (page, conversation), in order
    replied: list[tuple[str, str, str, float, float]] = []  # page, user, "day:n", start, reply
    for e, key in zip(logged, ekeys, strict=True):
        waiting, started, record = state[key]
        t = e.timestamp
        if isinstance(e, MessageEcho):
            if waiting is None or record is None or t < waiting:
                continue
            if isinstance(record, _Open):
                record.replied = t
            else:
                replied.append((e.account, e.user, record, waiting, t))
            state[key] = (None, started, None)
        elif rules.starts_conversation(waiting, started, t, policies[e.account]):
            conversation = _Open(e.user, math.floor(t / _DAY), t)
            opened.append((e.account, conversation))
            state[key] = (t, t, conversation)
        else:
            continue
        changed[key] = e.account
    if not changed:
        return
    ttls = {page: _badge_ttls(policies[page]) for page in set(changed.values())}
    if opened:
        per_day: dict[tuple[str, int], list[_Open]] = {}
        for page, conversation in opened:
            per_day.setdefault((page, conversation.day), []).append(conversation)
        days = list(per_day)
        ends = yield StoreBatch(
            tuple(
                StoreIncr(_badge_count_key(page, day), len(per_day[(page, day)]), ttls[page][0])
                for page, day in days
            )
        )
        for d, end in zip(days, ends, strict=True):
            group = per_day[d]
            first = int(end) - len(group) + 1
            for i, conversation in enumerate(group):
                conversation.n = first + i
    writes: list[Op] = []
    for page, conversation in opened:
        entry: dict[str, object] = {"u": conversation.user, "s": conversation.start}
        if conversation.replied is not None:
            entry["r"] = conversation.replied
        writes.append(
            new_set(
                key=_badge_record_key(page, conversation.day, conversation.n),
                value=orjson.dumps(entry),
                ttl=ttls[page][0],
            )
        )
    for page, user, record, start, reply in replied:
        day, _, n = record.partition(":")
        writes.append(
            new_set(
                key=_badge_record_key(page, int(day), int(n)),
                value=orjson.dumps({"u": user, "s": start, "r": reply}),
                ttl=ttls[page][0],
            )
        )
    for key, page in changed.items():
        waiting, started, record = state[key]
        if isinstance(record, _Open):
            record = f"{record.day}:{record.n}"
        value = orjson.dumps({"a": waiting, "s": started, "k": record})
        writes.append(new_set(key=key, value=value, ttl=ttls[page][1]))
    yield StoreBatch(tuple(writes))
