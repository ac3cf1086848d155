"""WhatsApp operations as sans-I/O flows (spec/whatsapp.md §4, §6, §7)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, urlencode

from attrs import evolve

from ..._core.calls import call
from ..._core.effects import (
    Flow,
    Request,
    Response,
    StoreAdd,
    StoreDelete,
    StoreGet,
    StoreIncr,
    StoreSet,
    get_json,
    set_json,
)
from ..._core.multipart import encode_multipart
from ..._core.retry import RetryPolicy
from ..._types import JSON, JSONObject
from ...clock import to_datetime
from ...exceptions import PolicyViolation, WebhookParseError
from ...models.content import Content, Template
from ...models.events import (
    Event,
    MessageReceived,
    Postback,
    StatusUpdate,
    SystemNotice,
    TemplateStatusChanged,
)
from ...models.refs import Address
from ...models.results import MediaInfo, SendResult, TemplateInfo, Window
from ...rules import Violation
from ...rules import whatsapp as rules
from ...stores.ops import Op, new_set_max
from .._meta import MAX_DEPTH as MAX_DEPTH  # the depth parse_body allows (tests pin it)
from .._meta import graph_call, graph_request, parse_webhook, stored_time
from .channel import WhatsApp
from .errors import map_error
from .wire import MAX_TIMESTAMP, encode_message, parse_events, timestamp_in_range

_LAST_INBOUND_TTL = 30 * 86_400.0


def _request(
    ch: WhatsApp,
    method: str,
    path: str,
    body: JSON | bytes = None,
    *,
    operation: str,
    content_type: str | None = None,
    idempotent: bool = False,
    absolute: bool = False,
) -> Request:
    url = path if absolute else ch.url(path)
    return graph_request(
        method,
        url,
        ch.auth_headers(),
        body,
        operation=operation,
        idempotent=idempotent,
        content_type=content_type,
    )


def _call(request: Request, retry: RetryPolicy) -> Flow[dict[str, Any]]:
    return graph_call(request, retry, map_error)


# --- state keys ------------------------------------------------------------------------------


def last_inbound_key(account: str, user: str) -> str:
    """Store key of the customer's last inbound time."""
    return f"omnimsg:wa:in:{account}:{user}"


def _pair_key(account: str, user: str) -> str:
    return f"omnimsg:wa:pair:{account}:{user}"


def _portfolio(ch: WhatsApp) -> str:
    # §7.1: limits are per business portfolio; the WABA is the closest id we are given.
    return ch.waba_id or ch.phone_number_id


def _tier_user_key(ch: WhatsApp, user: str) -> str:
    return f"omnimsg:wa:tier:{_portfolio(ch)}:u:{user}"


def _tier_hour_key(ch: WhatsApp, hour: int) -> str:
    return f"omnimsg:wa:tier:{_portfolio(ch)}:h:{hour}"


def _template_key(waba: str, name: str, language: str) -> str:
    return f"omnimsg:wa:tpl:{waba}:{name}:{language}"


def _templates_known_key(waba: str) -> str:
    return f"omnimsg:wa:tpl:{waba}:*known"


def last_inbound(account: str, user: str) -> Flow[float | None]:
    """When the customer last wrote, from the store.

    A value that is not an in-range time counts as never (``_meta.stored_time``).
    """
    return stored_time((yield StoreGet(last_inbound_key(account, user))), timestamp_in_range)


def record_inbound(account: str, user: str, timestamp: float) -> Flow[None]:
    """Remember a customer message (keeps the newest time; webhooks may arrive out of order)."""
    previous = yield from last_inbound(account, user)
    if previous is None or timestamp > previous:
        yield StoreSet(last_inbound_key(account, user), repr(timestamp).encode(), _LAST_INBOUND_TTL)


def _spec_json(spec: rules.TemplateSpec) -> JSONObject:
    return {
        "name": spec.name,
        "language": spec.language,
        "status": spec.status,
        "category": spec.category,
        "parameter_format": spec.parameter_format,
        "body_params": list(spec.body_params),
        "header_format": spec.header_format,
        "header_params": spec.header_params,
        "buttons": list(spec.buttons),
    }


def _spec_from_json(data: JSON) -> rules.TemplateSpec | None:
    if not isinstance(data, dict):
        return None
    try:
        return rules.TemplateSpec(
            name=str(data["name"]),
            language=str(data["language"]),
            status=str(data["status"]),
            category=str(data["category"]),
            parameter_format="NAMED" if data.get("parameter_format") == "NAMED" else "POSITIONAL",
            body_params=tuple(str(p) for p in data.get("body_params") or []),  # type: ignore[union-attr]
            header_format=None if data.get("header_format") is None else str(data["header_format"]),
            header_params=int(data.get("header_params") or 0),  # type: ignore[arg-type]
            buttons=tuple(str(b) for b in data.get("buttons") or []),  # type: ignore[union-attr]
        )
    except (KeyError, TypeError, ValueError):
        return None


def remember_template(waba: str, spec: rules.TemplateSpec) -> Flow[None]:
    """Cache what pre-flight needs to know about a template."""
    yield from set_json(_template_key(waba, spec.name, spec.language), _spec_json(spec))


def _template_status_changed(event: TemplateStatusChanged) -> Flow[None]:
    key = _template_key(event.account, event.name, event.language)
    cached = _spec_from_json((yield from get_json(key)))
    if cached is not None:
        yield from set_json(key, _spec_json(evolve(cached, status=event.status.upper())))


# --- pre-flight -------------------------------------------------------------------------------


def _tier_used(ch: WhatsApp, now: float) -> Flow[int]:
    total = 0
    for h in rules.tier_hours(now, ch.policy):
        raw = yield StoreGet(_tier_hour_key(ch, h))
        if raw is not None:
            total += int(raw)
    return total


def _pair_from(raw: bytes | None) -> rules.PairBucket | None:
    if raw is None:
        return None
    try:
        tokens, updated = raw.split(b",")
        return rules.PairBucket(float(tokens), float(updated))
    except ValueError:
        return None  # unreadable: treat as a full bucket


def send_state(ch: WhatsApp, user: str, content: Content, now: float) -> Flow[rules.SendState]:
    """Everything the rules need, read from the store."""
    last = yield from last_inbound(ch.account, user)
    pair = _pair_from((yield StoreGet(_pair_key(ch.account, user))))
    template, known = None, False
    if isinstance(content, Template) and ch.waba_id:
        template = _spec_from_json(
            (yield from get_json(_template_key(ch.waba_id, content.name, content.language)))
        )
        known = (yield StoreGet(_templates_known_key(ch.waba_id))) is not None
    tier_used, tier_counted = 0, False
    if rules.counts_toward_tier(content, rules.window_open(last, now, ch.policy)):
        tier_counted = (yield StoreGet(_tier_user_key(ch, user))) is not None
        tier_used = yield from _tier_used(ch, now)
    return rules.SendState(
        now=now,
        last_inbound_at=last,
        template=template,
        templates_known=known,
        pair=pair,
        tier_used=tier_used,
        tier_counted=tier_counted,
    )


def check(ch: WhatsApp, user: str, content: Content, now: float) -> Flow[tuple[Violation, ...]]:
    """Every rule this message would break now."""
    state = yield from send_state(ch, rules.wa_id(user), content, now)
    return rules.check_send(content, state, ch.policy)


def _record_send(ch: WhatsApp, user: str, state: rules.SendState, content: Content) -> Flow[None]:
    bucket = rules.consume_pair(state.pair, state.now, ch.policy)
    ttl = ch.policy.pair_burst * ch.policy.pair_interval_seconds
    yield StoreSet(
        _pair_key(ch.account, user), f"{bucket.tokens!r},{bucket.updated!r}".encode(), ttl
    )
    is_open = rules.window_open(state.last_inbound_at, state.now, ch.policy)
    if rules.counts_toward_tier(content, is_open):
        window = ch.policy.tier_window_seconds
        first = yield StoreAdd(_tier_user_key(ch, user), b"1", window)
        if first:
            hour = rules.tier_hour(state.now)
            yield StoreIncr(_tier_hour_key(ch, hour), 1, window + 3600)


# --- operations -------------------------------------------------------------------------------


def send(
    ch: WhatsApp,
    to: Address,
    content: Content,
    *,
    now: float,
    retry: RetryPolicy,
    preflight: bool,
    reply_to: str | None = None,
    callback_data: str | None = None,
) -> Flow[SendResult]:
    """Send one message: pre-flight, POST, record the rate and tier state."""
    # The number goes out as given (WhatsApp echoes it in contacts[].input); the state is the
    # customer's, whichever way the number was written.
    body = encode_message(to.user, content, reply_to=reply_to, callback_data=callback_data)
    user = rules.wa_id(to.user)
    # Without pre-flight no rule is checked, so no rate or tier state is read or kept either:
    # the send costs what a raw client's does (DESIGN §5).
    state = (yield from send_state(ch, user, content, now)) if preflight else None
    if state is not None:
        violations = rules.check_send(content, state, ch.policy)
        if violations:
            raise PolicyViolation(violations)
    request = _request(
        ch, "POST", f"{ch.phone_number_id}/messages", body, operation="whatsapp.send"
    )
    data = yield from _call(request, retry)
    if state is not None:
        yield from _record_send(ch, user, state, content)
    messages = data.get("messages")
    first: dict[str, Any] = (
        messages[0]
        if isinstance(messages, list) and messages and isinstance(messages[0], dict)
        else {}
    )
    contacts = data.get("contacts")
    contact: dict[str, Any] = (
        contacts[0]
        if isinstance(contacts, list) and contacts and isinstance(contacts[0], dict)
        else {}
    )
    return SendResult(
        platform="whatsapp",
        to=Address("whatsapp", to.user, ch.account),
        message_id=first.get("id"),
        status=first.get("message_status"),
        user_id=contact.get("wa_id") or contact.get("user_id"),
        raw=data,
    )


def window(ch: WhatsApp, to: Address, now: float) -> Flow[Window]:
    """The customer-service window with ``to`` (§5.1)."""
    user = rules.wa_id(to.user)
    last = yield from last_inbound(ch.account, user)
    closes = rules.window_closes_at(last, ch.policy)
    return Window(
        platform="whatsapp",
        to=Address("whatsapp", user, ch.account),
        open=rules.window_open(last, now, ch.policy),
        last_inbound_at=None if last is None else to_datetime(last),
        closes_at=None if closes is None else to_datetime(closes),
        allowed_when_closed=("template",),
    )


def mark_read(ch: WhatsApp, message_id: str, *, typing: bool, retry: RetryPolicy) -> Flow[bool]:
    """Mark an inbound message read, optionally showing the typing indicator (§4.4)."""
    body: JSONObject = {"messaging_product": "whatsapp", "status": "read", "message_id": message_id}
    if typing:
        body["typing_indicator"] = {"type": "text"}
    # Marking read twice is harmless, so it may be retried.
    request = _request(
        ch,
        "POST",
        f"{ch.phone_number_id}/messages",
        body,
        operation="whatsapp.mark_read",
        idempotent=True,
    )
    data = yield from _call(request, retry)
    return bool(data.get("success"))


def upload_media(
    ch: WhatsApp, data: bytes, mime_type: str, filename: str, *, retry: RetryPolicy
) -> Flow[str]:
    """Upload media (multipart, §7.3); returns the media id."""
    body, content_type = encode_multipart(
        {"messaging_product": "whatsapp", "type": mime_type}, "file", filename, data, mime_type
    )
    request = _request(
        ch,
        "POST",
        f"{ch.phone_number_id}/media",
        body,
        content_type=content_type,
        operation="whatsapp.upload_media",
    )
    result = yield from _call(request, retry)
    return str(result.get("id", ""))


def media_info(ch: WhatsApp, media_id: str, *, retry: RetryPolicy) -> Flow[MediaInfo]:
    """The short-lived download URL and metadata of a media id (§7.3)."""
    request = _request(
        ch, "GET", quote(media_id, safe=""), operation="whatsapp.media_info", idempotent=True
    )
    d = yield from _call(request, retry)
    size = d.get("file_size")
    return MediaInfo(
        id=str(d.get("id", media_id)),
        url=d.get("url") if isinstance(d.get("url"), str) else None,
        mime_type=d.get("mime_type") if isinstance(d.get("mime_type"), str) else None,
        sha256=d.get("sha256") if isinstance(d.get("sha256"), str) else None,
        file_size=int(size) if isinstance(size, int | str) and str(size).isdigit() else None,
    )


def download_media(ch: WhatsApp, media_id: str, *, retry: RetryPolicy) -> Flow[bytes]:
    """Fetch the media bytes: resolve the URL, then GET it with the same token (§7.3)."""
    info = yield from media_info(ch, media_id, retry=retry)
    if not info.url:
        raise map_error(Response(404, {}, b'{"error":{"message":"media has no url","code":100}}'))
    request = _request(
        ch, "GET", info.url, operation="whatsapp.download_media", idempotent=True, absolute=True
    )
    response = yield from call(request, retry, map_error)
    return response.body


def delete_media(ch: WhatsApp, media_id: str, *, retry: RetryPolicy) -> Flow[bool]:
    """Delete uploaded media."""
    request = _request(
        ch, "DELETE", quote(media_id, safe=""), operation="whatsapp.delete_media", idempotent=True
    )
    return bool((yield from _call(request, retry)).get("success"))


def _template_info(d: dict[str, Any], *, name: str = "", language: str = "") -> TemplateInfo:
    return TemplateInfo(
        id=str(d.get("id", "")),
        name=str(d.get("name", name)),
        language=str(d.get("language", language)),
        status=str(d.get("status", "PENDING")),
        category=d.get("category") if isinstance(d.get("category"), str) else None,
        parameter_format=d.get("parameter_format")
        if isinstance(d.get("parameter_format"), str)
        else None,
        components=d.get("components"),
    )


def create_template(
    ch: WhatsApp,
    *,
    name: str,
    language: str,
    category: str,
    components: Sequence[JSONObject],
    parameter_format: str | None,
    retry: RetryPolicy,
) -> Flow[TemplateInfo]:
    """Submit a template for review (§6.1); it starts ``PENDING``."""
    waba = ch.require_waba()
    body: JSONObject = {
        "name": name,
        "language": language,
        "category": category,
        "components": list(components),
    }
    if parameter_format:
        body["parameter_format"] = parameter_format
    violations = rules.check_template_definition(
        name=name,
        language=language,
        category=category,
        components=body["components"],
        parameter_format=parameter_format,
        policy=ch.policy,
    )
    if violations:
        raise PolicyViolation(violations)
    request = _request(
        ch, "POST", f"{waba}/message_templates", body, operation="whatsapp.create_template"
    )
    d = yield from _call(request, retry)
    status = str(d.get("status", "PENDING"))
    spec = rules.template_spec(
        name=name,
        language=language,
        status=status,
        category=str(d.get("category", category)),
        components=body["components"],
        parameter_format=parameter_format,
    )
    yield from remember_template(waba, spec)
    return TemplateInfo(
        id=str(d.get("id", "")),
        name=name,
        language=language,
        status=status,
        category=str(d.get("category", category)),
        parameter_format=parameter_format,
        components=body["components"],
    )


def list_templates(
    ch: WhatsApp, *, status: str | None, retry: RetryPolicy, limit: int = 100
) -> Flow[list[TemplateInfo]]:
    """Every template of the WABA (follows cursor pages); refreshes the pre-flight cache."""
    waba = ch.require_waba()
    params: dict[str, str | int] = {"limit": limit}
    if status:
        params["status"] = status
    url: str | None = ch.url(f"{waba}/message_templates") + "?" + urlencode(params)
    out: list[TemplateInfo] = []
    while url:
        request = _request(
            ch, "GET", url, operation="whatsapp.list_templates", idempotent=True, absolute=True
        )
        d = yield from _call(request, retry)
        for item in d.get("data") or []:
            if isinstance(item, dict):
                info = _template_info(item)
                out.append(info)
                spec = rules.template_spec(
                    name=info.name,
                    language=info.language,
                    status=info.status,
                    category=info.category,
                    components=info.components,
                    parameter_format=info.parameter_format,
                )
                yield from remember_template(waba, spec)
        paging = d.get("paging")
        nxt = paging.get("next") if isinstance(paging, dict) else None
        url = nxt if isinstance(nxt, str) and nxt else None
    if status is None:
        # The full list is now cached: pre-flight may treat a missing template as an error.
        yield from set_json(_templates_known_key(waba), True)
    return out


def delete_template(
    ch: WhatsApp, *, name: str, template_id: str | None, retry: RetryPolicy
) -> Flow[bool]:
    """Delete a template by name (all languages), or one language by ``template_id`` (§6.1)."""
    waba = ch.require_waba()
    params = {"name": name}
    if template_id:
        params["hsm_id"] = template_id
    url = ch.url(f"{waba}/message_templates") + "?" + urlencode(params)
    request = _request(
        ch, "DELETE", url, operation="whatsapp.delete_template", idempotent=True, absolute=True
    )
    ok = bool((yield from _call(request, retry)).get("success"))
    # The cache is keyed by language; forget the known-list flag so the next list reloads it.
    yield StoreDelete(_templates_known_key(waba))
    return ok


# --- webhooks -------------------------------------------------------------------------------


def parse_body(body: bytes) -> list[Event]:
    """Decode a (verified) webhook body into events.

    Raises :class:`WebhookParseError` for a body that is not JSON or is nested deeper than
    :data:`MAX_DEPTH` (``_meta.parse_webhook``), before any event is made, so a
    refused body changes no state.
    """
    payload = parse_webhook(body, "WhatsApp")
    try:
        return parse_events(payload)
    except ValueError as exc:
        raise WebhookParseError(str(exc)) from None


# The events a customer sends, as a tuple built once: ``isinstance(x, A | B)`` builds the
# union on every call, and these checks run for every event of every body (DESIGN §5).
_FROM_CUSTOMER = (MessageReceived, Postback)


def dedup_key(event: Event) -> str:
    """The at-least-once de-duplication key of one event (§1.3, Pitfalls 3)."""
    if isinstance(event, _FROM_CUSTOMER):
        return f"omnimsg:wa:seen:m:{event.message_id}"
    if isinstance(event, SystemNotice):
        return f"omnimsg:wa:seen:m:{event.message_id}"
    if isinstance(event, StatusUpdate):
        return f"omnimsg:wa:seen:s:{event.message_id}:{event.status}"
    if isinstance(event, TemplateStatusChanged):
        return f"omnimsg:wa:seen:t:{event.template_id}:{event.status}:{event.timestamp}"
    digest = hashlib.sha256(json.dumps(event.raw, sort_keys=True, default=str).encode()).hexdigest()
    return f"omnimsg:wa:seen:u:{digest[:32]}"


def state_ops(event: Event) -> list[Op]:
    """The state an event implies, as store operations that may travel in one batch.

    A customer's message (or button tap) moves the window: the newest time is kept, so
    re-deliveries and out-of-order webhooks never move it back, and applying an event twice
    changes nothing. Both of the customer's ids, phone and BSUID, share the window (§8).
    """
    if not isinstance(event, _FROM_CUSTOMER):
        return []
    account, user, timestamp = event.account, event.user, event.timestamp
    # The fast constructor: two ops per message of every body (DESIGN §5).
    first = new_set_max(
        key=last_inbound_key(account, user),
        value=timestamp,
        ttl=_LAST_INBOUND_TTL,
        ceiling=MAX_TIMESTAMP,
    )
    other = event.raw.get("from_user_id")
    if isinstance(other, str) and other != user:
        second = new_set_max(
            key=last_inbound_key(account, other),
            value=timestamp,
            ttl=_LAST_INBOUND_TTL,
            ceiling=MAX_TIMESTAMP,
        )
        return [first, second]
    return [first]


def apply_rest(event: Event) -> Flow[None]:
    """State that needs reading first (the template cache); nothing for most events."""
    if isinstance(event, TemplateStatusChanged):
        yield from _template_status_changed(event)


def apply(event: Event) -> Flow[None]:
    """Update conversation state from a new event: windows and the template cache."""
    if isinstance(event, MessageReceived | Postback):
        yield from record_inbound(event.account, event.user, event.timestamp)
        other = event.raw.get("from_user_id")
        if isinstance(other, str) and other != event.user:
            # Keep the phone and the BSUID in step: either may be used to reply (§8).
            yield from record_inbound(event.account, other, event.timestamp)
    elif isinstance(event, TemplateStatusChanged):
        yield from _template_status_changed(event)
