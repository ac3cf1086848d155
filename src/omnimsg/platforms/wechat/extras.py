"""WeChat-only operations (``client.wechat``) as sans-I/O flows (spec/wechat.md §5.3-§7,
§10; the exact requests wechatpy sends, research §1.4).

Every call carries the access token (:func:`.tokens.api`: fetched once across workers,
replaced once when refused). The limits of :mod:`omnimsg.rules.wechat` are checked before
any I/O when the client has pre-flight on (tags, batches, QR scenes, the menu).

* :func:`typing`: ``POST /cgi-bin/message/custom/typing`` ``{"touser", "command"}``.
* :func:`upload_media`: ``POST /cgi-bin/media/upload?type=`` (multipart field ``media``);
  the ``media_id`` (temporary material, 3 days).
* :func:`send_template`: ``POST /cgi-bin/message/template/send``; the ``msgid``. With a
  ``client_msg_id`` (WeChat's idempotency key) the request is retried after a 5xx, -1 or a
  timeout, carrying the same id; without one it is never retried once it may have gone out.
  With pre-flight on, the day's template quota (§6.1, §9: ``template_daily_limit``) is
  counted in the Store (:mod:`.quotas`) and refused before any I/O when used up
  (``wechat.quota.template``, 45009); a ``client_msg_id`` already sent is a repeat that
  WeChat does not send again, and is not counted again (:func:`.state.client_msg_key`).
* :func:`send_subscribe`: ``POST /cgi-bin/message/subscribe/bizsend`` (the customer must
  have consented: WeChat answers 43101 otherwise, which omnimsg cannot know before).
* :func:`clear_quota`: ``POST /cgi-bin/clear_quota`` ``{"appid"}`` (§9: 10 a month, 48006
  beyond), then the Store's counts of the day are forgotten too.
* Tags (§7), users (§10.2), parametric QR codes (§10.1), the custom menu (§10.3).
* :func:`passive_reply`: the answer inside the webhook response (the other half of
  :mod:`.replies`), with the clock's time, a fresh nonce and random prefix.
"""

from __future__ import annotations

import mimetypes
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

import attrs

from ..._core.effects import NOW, Flow, StoreAdd, StoreDelete
from ..._core.multipart import encode_multipart
from ..._core.retry import RetryPolicy
from ..._inbound import WebhookOutcome
from ..._types import JSON, JSONObject
from ...clock import to_datetime
from ...exceptions import (
    ConfigurationError,
    NotFound,
    PlatformError,
    PolicyViolation,
    ServerError,
    TransportError,
)
from ...models.content import Button, Content, LinkButton
from ...models.events import Event
from ...rules import Violation
from ...rules import wechat as rules
from . import quotas
from .channel import WeChat
from .state import CLIENT_MSG_TTL, client_msg_key
from .tokens import api

__all__ = [
    "QR_IMAGE_URL",
    "QRCode",
    "WeChatMenu",
    "WeChatTag",
    "WeChatUser",
    "clear_quota",
    "create_menu",
    "create_qr",
    "create_tag",
    "delete_menu",
    "delete_tag",
    "menu",
    "menu_button",
    "passive_reply",
    "rename_tag",
    "send_subscribe",
    "send_template",
    "tag_users",
    "tags",
    "typing",
    "untag_users",
    "upload_media",
    "user_info",
    "user_tags",
    "users_info",
]

QR_IMAGE_URL = "https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket="
"""Where a QR code's image is (the ticket URL-quoted after it, §10.1)."""

MediaKind = Literal["image", "voice", "video", "thumb"]
Lang = Literal["zh_CN", "zh_TW", "en"]
_DEFAULT_MIME = {
    "image": "image/jpeg",
    "voice": "audio/amr",
    "video": "video/mp4",
    "thumb": "image/jpeg",
}


# --- result models ----------------------------------------------------------------------------


@attrs.frozen(kw_only=True, slots=True)
class WeChatTag:
    """A user tag (§7): its id, name and how many followers carry it."""

    id: int
    name: str
    count: int = 0


@attrs.frozen(kw_only=True, slots=True)
class WeChatUser:
    """``GET /cgi-bin/user/info`` (§10.2). Since 2021-12-27 WeChat returns no nickname or
    picture; ``subscribed`` false means the user does not follow (little else is returned).
    """

    openid: str
    subscribed: bool
    subscribed_at: datetime | None = None
    unionid: str | None = None
    remark: str | None = None
    tag_ids: tuple[int, ...] = ()
    subscribe_scene: str | None = None
    qr_scene: int | None = None
    qr_scene_str: str | None = None
    language: str | None = None
    raw: JSON = attrs.field(eq=False, default=None, repr=False)


@attrs.frozen(kw_only=True, slots=True)
class QRCode:
    """A parametric QR code (§10.1): ``ticket``, the ``url`` it encodes, the ``image_url``
    to show it, and ``expire_seconds`` (``None``: permanent)."""

    ticket: str
    url: str
    image_url: str
    expire_seconds: int | None = None


@attrs.frozen(kw_only=True, slots=True)
class WeChatMenu:
    """The custom menu (``GET /cgi-bin/menu/get``): the default menu's buttons and the
    conditional menus, as WeChat's JSON."""

    buttons: JSON = attrs.field(eq=False, factory=list)
    conditional: JSON = attrs.field(eq=False, factory=list)
    raw: JSON = attrs.field(eq=False, default=None, repr=False)


# --- helpers ------------------------------------------------------------------------------------


def _refuse(found: list[Violation], preflight: bool) -> None:
    if preflight and found:
        raise PolicyViolation(found)


def _int(v: Any) -> int | None:
    return v if type(v) is int else None


def _str(v: Any) -> str | None:
    return v if isinstance(v, str) else None


def _lang(lang: str | None) -> None:
    if lang is not None and lang not in ("zh_CN", "zh_TW", "en"):
        raise ConfigurationError(f"lang must be 'zh_CN', 'zh_TW' or 'en', not {lang!r}")


def _template_data(data: Mapping[str, Any]) -> JSONObject:
    """``{"keyword1": "text"}`` or WeChat's ``{"keyword1": {"value": "text"}}``."""
    if not isinstance(data, Mapping):
        raise ConfigurationError("template data is a mapping of field name to value")
    out: JSONObject = {}
    for k, v in data.items():
        out[str(k)] = dict(v) if isinstance(v, Mapping) else {"value": str(v)}
    return out


# --- messages ------------------------------------------------------------------------------------


def typing(ch: WeChat, openid: str, on: bool, *, retry: RetryPolicy) -> Flow[None]:
    """Show (``on``) or cancel the typing indicator (§5.3: within 30 s of an exchange with the
    customer, 45080 otherwise; lasts 15 s; 45081 while already typing)."""
    body: JSONObject = {"touser": openid, "command": "Typing" if on else "CancelTyping"}
    yield from api(
        ch,
        "POST",
        "/cgi-bin/message/custom/typing",
        body=body,
        retry=retry,
        operation="wechat.typing",
    )


def upload_media(
    ch: WeChat,
    kind: MediaKind,
    data: bytes,
    *,
    filename: str | None,
    mime_type: str | None,
    retry: RetryPolicy,
) -> Flow[str]:
    """``POST /cgi-bin/media/upload?type=`` with the file in the multipart field ``media``;
    the ``media_id`` (§5.4)."""
    if kind not in _DEFAULT_MIME:
        raise ConfigurationError(f"media kind must be image, voice, video or thumb, not {kind!r}")
    if not isinstance(data, bytes | bytearray) or not data:
        raise ConfigurationError("upload_media needs the file's bytes")
    name = filename or "media"
    mime = mime_type or mimetypes.guess_type(name)[0] or _DEFAULT_MIME[kind]
    raw, content_type = encode_multipart({}, "media", name, bytes(data), mime)
    d = yield from api(
        ch,
        "POST",
        "/cgi-bin/media/upload",
        query=[("type", kind)],
        data=raw,
        content_type=content_type,
        retry=retry,
        operation="wechat.media.upload",
        idempotent=True,  # a repeat makes another media id, harmless
    )
    media_id = _str(d.get("media_id")) or _str(d.get("thumb_media_id"))
    if media_id is None:
        raise ServerError("WeChat answered no media_id", platform="wechat", http_status=200)
    return media_id


def send_template(
    ch: WeChat,
    openid: str,
    template_id: str,
    data: Mapping[str, Any],
    *,
    url: str | None,
    miniprogram: Mapping[str, Any] | None,
    client_msg_id: str | None,
    preflight: bool,
    retry: RetryPolicy,
) -> Flow[int | None]:
    """``POST /cgi-bin/message/template/send`` (§6.1); the ``msgid``. Not bound to the
    customer-service window. ``client_msg_id`` makes it safe to retry (the same id goes
    again). With ``preflight`` the day's quota is counted first (module docstring)."""
    if not isinstance(template_id, str) or not template_id:
        raise ConfigurationError("send_template needs the approved template's template_id")
    if client_msg_id is not None and (not isinstance(client_msg_id, str) or not client_msg_id):
        raise ConfigurationError("client_msg_id is a non-empty string (or None)")
    body: JSONObject = {"touser": openid, "template_id": template_id}
    if url is not None:
        body["url"] = url
    if miniprogram is not None:
        body["miniprogram"] = dict(miniprogram)
    if client_msg_id is not None:
        body["client_msg_id"] = client_msg_id
    body["data"] = _template_data(data)
    day: int | None = None
    marker: str | None = None
    if preflight:
        now: float = yield NOW
        if client_msg_id is not None:
            key = client_msg_key(ch.app_id, client_msg_id)
            if (yield StoreAdd(key, b"1", CLIENT_MSG_TTL)):
                marker = key  # a first send of this id (a repeat sends nothing: not counted)
        if client_msg_id is None or marker is not None:
            try:
                day = yield from quotas.reserve(ch, "template", now)
            except PolicyViolation:
                if marker is not None:
                    yield StoreDelete(marker)
                raise
    try:
        d = yield from api(
            ch,
            "POST",
            "/cgi-bin/message/template/send",
            body=body,
            retry=retry,
            operation="wechat.template.send",
            idempotent=client_msg_id is not None,
        )
    except (PlatformError, TransportError) as exc:
        if day is not None:
            yield from quotas.settle(ch, "template", day, exc)
        if marker is not None and not isinstance(exc, ServerError | TransportError):
            yield StoreDelete(marker)  # WeChat did not send it: the id may go again
        raise
    return _int(d.get("msgid"))


def send_subscribe(
    ch: WeChat,
    openid: str,
    template_id: str,
    data: Mapping[str, Any],
    *,
    page: str | None,
    miniprogram: Mapping[str, Any] | None,
    retry: RetryPolicy,
) -> Flow[None]:
    """``POST /cgi-bin/message/subscribe/bizsend`` (§6.2): needs the customer's consent
    (43101 otherwise, as :class:`~omnimsg.PolicyRejected`). One consent is one send; the
    consent is WeChat's to know (it may come from a popup this application never saw), so
    nothing is checked or counted before the request."""
    if not isinstance(template_id, str) or not template_id:
        raise ConfigurationError("send_subscribe needs the subscribe template's template_id")
    body: JSONObject = {
        "touser": openid,
        "template_id": template_id,
        "data": _template_data(data),
    }
    if page is not None:
        body["page"] = page
    if miniprogram is not None:
        body["miniprogram"] = dict(miniprogram)
    yield from api(
        ch,
        "POST",
        "/cgi-bin/message/subscribe/bizsend",
        body=body,
        retry=retry,
        operation="wechat.subscribe.send",
    )


def clear_quota(ch: WeChat, *, retry: RetryPolicy) -> Flow[None]:
    """``POST /cgi-bin/clear_quota`` ``{"appid"}`` (§9): WeChat's daily API counters of the
    account start again, at most 10 times a month (48006 beyond, a
    :class:`~omnimsg.InvalidRequest`); then the Store's counts of the day are forgotten.
    Not retried once it may have gone out (each call spends one of the 10)."""
    yield from api(
        ch,
        "POST",
        "/cgi-bin/clear_quota",
        body={"appid": ch.app_id},
        retry=retry,
        operation="wechat.clear_quota",
    )
    now: float = yield NOW
    yield from quotas.clear(ch, now)


# --- tags (§7) -------------------------------------------------------------------------------


def _tag(d: Any) -> WeChatTag | None:
    if not isinstance(d, dict) or _int(d.get("id")) is None:
        return None
    return WeChatTag(id=d["id"], name=_str(d.get("name")) or "", count=_int(d.get("count")) or 0)


def create_tag(ch: WeChat, name: str, *, preflight: bool, retry: RetryPolicy) -> Flow[WeChatTag]:
    """``POST /cgi-bin/tags/create`` ``{"tag": {"name"}}``; the new tag (name 1-30 bytes
    checked before I/O; the account's 100 tags are WeChat's to count: 45056)."""
    _refuse(rules.check_tag_name(name, ch.policy), preflight)
    body: JSONObject = {"tag": {"name": name}}
    d = yield from api(
        ch, "POST", "/cgi-bin/tags/create", body=body, retry=retry, operation="wechat.tags.create"
    )
    tag = _tag(d.get("tag"))
    if tag is None:
        raise ServerError("WeChat answered no tag", platform="wechat", http_status=200)
    return tag


def tags(ch: WeChat, *, retry: RetryPolicy) -> Flow[list[WeChatTag]]:
    """``GET /cgi-bin/tags/get``: every tag of the account (0, 1, 2 are WeChat's own)."""
    d = yield from api(
        ch, "GET", "/cgi-bin/tags/get", retry=retry, operation="wechat.tags.get", idempotent=True
    )
    found = d.get("tags")
    return [t for t in (_tag(x) for x in (found if isinstance(found, list) else [])) if t]


def rename_tag(
    ch: WeChat, tag_id: int, name: str, *, preflight: bool, retry: RetryPolicy
) -> Flow[None]:
    """``POST /cgi-bin/tags/update`` ``{"tag": {"id", "name"}}``."""
    _refuse(
        rules.check_tag_id(tag_id, ch.policy) + rules.check_tag_name(name, ch.policy), preflight
    )
    body: JSONObject = {"tag": {"id": tag_id, "name": name}}
    yield from api(
        ch,
        "POST",
        "/cgi-bin/tags/update",
        body=body,
        retry=retry,
        operation="wechat.tags.update",
        idempotent=True,
    )


def delete_tag(ch: WeChat, tag_id: int, *, preflight: bool, retry: RetryPolicy) -> Flow[None]:
    """``POST /cgi-bin/tags/delete`` ``{"tag": {"id"}}`` (a tag with more than 100,000
    followers is refused: 45057, untag them first)."""
    _refuse(rules.check_tag_id(tag_id, ch.policy), preflight)
    body: JSONObject = {"tag": {"id": tag_id}}
    yield from api(
        ch,
        "POST",
        "/cgi-bin/tags/delete",
        body=body,
        retry=retry,
        operation="wechat.tags.delete",
        idempotent=True,
    )


def _batch(
    ch: WeChat,
    path: str,
    tag_id: int,
    openids: Sequence[str],
    *,
    operation: str,
    preflight: bool,
    retry: RetryPolicy,
) -> Flow[None]:
    if isinstance(openids, str):
        openids = [openids]
    _refuse(rules.check_tag_batch(tag_id, list(openids), ch.policy), preflight)
    body: JSONObject = {"tagid": tag_id, "openid_list": list(openids)}
    yield from api(ch, "POST", path, body=body, retry=retry, operation=operation, idempotent=True)


def tag_users(
    ch: WeChat, tag_id: int, openids: Sequence[str], *, preflight: bool, retry: RetryPolicy
) -> Flow[None]:
    """``POST /cgi-bin/tags/members/batchtagging`` ``{"tagid", "openid_list"}`` (1-50
    openids; a user carries at most 20 tags, WeChat's to count)."""
    return (
        yield from _batch(
            ch,
            "/cgi-bin/tags/members/batchtagging",
            tag_id,
            openids,
            operation="wechat.tags.tag",
            preflight=preflight,
            retry=retry,
        )
    )


def untag_users(
    ch: WeChat, tag_id: int, openids: Sequence[str], *, preflight: bool, retry: RetryPolicy
) -> Flow[None]:
    """``POST /cgi-bin/tags/members/batchuntagging`` (same shape as tagging)."""
    return (
        yield from _batch(
            ch,
            "/cgi-bin/tags/members/batchuntagging",
            tag_id,
            openids,
            operation="wechat.tags.untag",
            preflight=preflight,
            retry=retry,
        )
    )


def user_tags(ch: WeChat, openid: str, *, retry: RetryPolicy) -> Flow[list[int]]:
    """``POST /cgi-bin/tags/getidlist`` ``{"openid"}``: the tag ids one user carries."""
    d = yield from api(
        ch,
        "POST",
        "/cgi-bin/tags/getidlist",
        body={"openid": openid},
        retry=retry,
        operation="wechat.tags.user",
        idempotent=True,
    )
    ids = d.get("tagid_list")
    return [i for i in (ids if isinstance(ids, list) else []) if type(i) is int]


# --- users (§10.2) --------------------------------------------------------------------------------


def _user(d: Any, openid: str) -> WeChatUser:
    if not isinstance(d, dict):
        d = {}
    at = _int(d.get("subscribe_time"))
    tag_ids = d.get("tagid_list")
    return WeChatUser(
        openid=_str(d.get("openid")) or openid,
        subscribed=d.get("subscribe") == 1,
        subscribed_at=None if at is None else to_datetime(at),
        unionid=_str(d.get("unionid")),
        remark=_str(d.get("remark")) or None,
        tag_ids=tuple(i for i in (tag_ids if isinstance(tag_ids, list) else []) if type(i) is int),
        subscribe_scene=_str(d.get("subscribe_scene")) or None,
        qr_scene=_int(d.get("qr_scene")) or None,
        qr_scene_str=_str(d.get("qr_scene_str")) or None,
        language=_str(d.get("language")) or None,
        raw=d,
    )


def user_info(ch: WeChat, openid: str, lang: str | None, *, retry: RetryPolicy) -> Flow[WeChatUser]:
    """``GET /cgi-bin/user/info?openid=&lang=``."""
    _lang(lang)
    query = [("openid", openid)] + ([("lang", lang)] if lang else [])
    d = yield from api(
        ch,
        "GET",
        "/cgi-bin/user/info",
        query=query,
        retry=retry,
        operation="wechat.user.info",
        idempotent=True,
    )
    return _user(d, openid)


def users_info(
    ch: WeChat, openids: Sequence[str], lang: str | None, *, preflight: bool, retry: RetryPolicy
) -> Flow[list[WeChatUser]]:
    """``POST /cgi-bin/user/info/batchget`` ``{"user_list": [{"openid"}]}`` (1-100)."""
    _lang(lang)
    ids = [openids] if isinstance(openids, str) else list(openids)
    _refuse(rules.check_users_batch(ids, ch.policy), preflight)
    items: list[JSON] = [{"openid": o, **({"lang": lang} if lang else {})} for o in ids]
    d = yield from api(
        ch,
        "POST",
        "/cgi-bin/user/info/batchget",
        body={"user_list": items},
        retry=retry,
        operation="wechat.user.batchget",
        idempotent=True,
    )
    found = d.get("user_info_list")
    return [_user(u, "") for u in (found if isinstance(found, list) else [])]


# --- QR codes (§10.1) ----------------------------------------------------------------------------


def create_qr(
    ch: WeChat,
    scene: int | str,
    *,
    expire_seconds: int | None,
    preflight: bool,
    retry: RetryPolicy,
) -> Flow[QRCode]:
    """``POST /cgi-bin/qrcode/create``: temporary when ``expire_seconds`` is given
    (``QR_SCENE`` / ``QR_STR_SCENE``), permanent otherwise (``QR_LIMIT_SCENE`` /
    ``QR_LIMIT_STR_SCENE``, at most 100,000 per account)."""
    found = rules.check_qr(scene, expire_seconds, ch.policy)
    if found and (preflight or isinstance(scene, bool) or not isinstance(scene, int | str)):
        raise PolicyViolation(found)
    by_id = isinstance(scene, int)
    permanent = expire_seconds is None
    action = ("QR_LIMIT_" if permanent else "QR_") + ("SCENE" if by_id else "STR_SCENE")
    body: JSONObject = {}
    if not permanent:
        body["expire_seconds"] = expire_seconds
    body["action_name"] = action
    body["action_info"] = {"scene": {"scene_id": scene} if by_id else {"scene_str": scene}}
    d = yield from api(
        ch,
        "POST",
        "/cgi-bin/qrcode/create",
        body=body,
        retry=retry,
        operation="wechat.qrcode.create",
        idempotent=not permanent,  # a repeat of a temporary code costs nothing
    )
    ticket = _str(d.get("ticket"))
    if not ticket:
        raise ServerError("WeChat answered no QR ticket", platform="wechat", http_status=200)
    return QRCode(
        ticket=ticket,
        url=_str(d.get("url")) or "",
        image_url=QR_IMAGE_URL + quote(ticket),
        expire_seconds=None if permanent else (_int(d.get("expire_seconds")) or expire_seconds),
    )


# --- the custom menu (§10.3) ---------------------------------------------------------------------

MenuItem = Mapping[str, Any] | Button | LinkButton


def menu_button(item: MenuItem) -> JSONObject:
    """One menu button as WeChat's JSON: a :class:`~omnimsg.Button` is a ``click`` (its id
    the ``key``, its title the ``name``), a :class:`~omnimsg.LinkButton` a ``view``; a
    mapping is WeChat's own (its ``sub_button`` items may be either)."""
    if isinstance(item, Button):
        return {"type": "click", "name": item.title, "key": item.id}
    if isinstance(item, LinkButton):
        return {"type": "view", "name": item.title, "url": item.url}
    if not isinstance(item, Mapping):
        raise ConfigurationError(f"a menu button is a Button, a LinkButton or a mapping: {item!r}")
    out: JSONObject = dict(item)
    subs: Any = item.get("sub_button")
    if isinstance(subs, list | tuple):
        out["sub_button"] = [menu_button(s) for s in subs]
    return out


def create_menu(
    ch: WeChat, buttons: Sequence[MenuItem], *, preflight: bool, retry: RetryPolicy
) -> Flow[None]:
    """``POST /cgi-bin/menu/create`` ``{"button": [...]}`` (1-3 buttons, 1-5 sub-buttons,
    name byte limits: checked before I/O)."""
    if not isinstance(buttons, list | tuple):
        raise ConfigurationError("create_menu takes a list of buttons")
    items = [menu_button(b) for b in buttons]
    _refuse(rules.check_menu(items, ch.policy), preflight)
    yield from api(
        ch,
        "POST",
        "/cgi-bin/menu/create",
        body={"button": list(items)},
        retry=retry,
        operation="wechat.menu.create",
        idempotent=True,
    )


def menu(ch: WeChat, *, retry: RetryPolicy) -> Flow[WeChatMenu | None]:
    """``GET /cgi-bin/menu/get``; ``None`` when there is no menu (46003)."""
    try:
        d = yield from api(
            ch,
            "GET",
            "/cgi-bin/menu/get",
            retry=retry,
            operation="wechat.menu.get",
            idempotent=True,
        )
    except NotFound as exc:
        if exc.code == 46003:
            return None
        raise
    m = d.get("menu")
    buttons = m.get("button") if isinstance(m, dict) else None
    conditional = d.get("conditionalmenu")
    return WeChatMenu(
        buttons=buttons if isinstance(buttons, list) else [],
        conditional=conditional if isinstance(conditional, list) else [],
        raw=d,
    )


def delete_menu(ch: WeChat, *, retry: RetryPolicy) -> Flow[None]:
    """``GET /cgi-bin/menu/delete``: the menu and its conditional menus."""
    yield from api(
        ch,
        "GET",
        "/cgi-bin/menu/delete",
        retry=retry,
        operation="wechat.menu.delete",
        idempotent=True,
    )


# --- the passive reply ---------------------------------------------------------------------------


def passive_reply(ch: WeChat, event: Event, content: Content) -> Flow[WebhookOutcome]:
    """The webhook answer that replies to ``event`` (``replies.passive_reply``): the clock's
    time, a fresh nonce and a fresh 16-byte random prefix (safe mode)."""
    from .replies import passive_reply as render

    now: float = yield NOW
    nonce = str(secrets.randbelow(10**10))
    return render(ch, event, content, now=now, nonce=nonce, random_prefix=secrets.token_bytes(16))
