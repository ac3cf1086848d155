"""Outbound customer-service bodies: the unified content, after its fallback, as WeChat's JSON
(spec/wechat.md §5.2; the exact shapes wechatpy sends, research §1.4).

``{"touser": OPENID, "msgtype": T, T: {...}}``, keys in that order:

* ``Text``: ``{"text": {"content"}}``.
* ``Image`` / ``Audio`` (``voice``) / ``Video`` by ``media_id``: ``{"image": {"media_id"}}``,
  ``{"voice": {"media_id"}}``, ``{"video": {"media_id", "title"?}}`` (a video's caption is
  its title; wechatpy sends no ``thumb_media_id`` either). Media by ``url`` is refused
  before I/O: upload it first (``client.wechat.upload_media``) and send the ``media_id``.
  An image has no caption in WeChat: refused (send the caption as a ``Text``).
* ``Raw``: a customer-service body without ``touser`` (``{"msgtype": "music", "music":
  {...}}``, ``mpnews``, ``miniprogrampage``, ``wxcard``...), optionally with
  ``"customservice": {"kf_account": ...}`` to send as one agent.

The builders :func:`music`, :func:`mpnews`, :func:`miniprogram_page` and :func:`as_agent`
make the WeChat-only messages as :class:`~omnimsg.Raw` values any ``send`` accepts.
"""

from __future__ import annotations

from typing import Any

from ..._types import JSON, JSONObject
from ...models.content import Audio, Card, Cards, Content, Document, Image, Raw, Text, Video
from ...models.content import Button as _Button
from ...rules import Violation
from ...rules import wechat as rules

__all__ = [
    "as_agent",
    "body_violations",
    "content_violations",
    "encode",
    "miniprogram_page",
    "mpnews",
    "music",
]

_MSGTYPES = frozenset(rules.MSGTYPES)


def _v(rule_id: str, message: str, code: int | None = None) -> Violation:
    return Violation(rule_id=rule_id, platform="wechat", message=message, native_code=code)


def content_violations(content: Content) -> list[Violation]:
    """What the unified value lacks for WeChat, before its fallback (no I/O)."""
    if isinstance(content, Image | Audio | Video) and content.media_id is None:
        kind = "voice" if isinstance(content, Audio) else type(content).__name__.lower()
        return [
            _v(
                f"wechat.{kind}.url",
                f"WeChat sends {kind} messages by media_id only: upload the file first with "
                f"client.wechat.upload_media({kind!r}, data) and send "
                f"{type(content).__name__}(media_id=...), not url=",
            )
        ]
    if isinstance(content, Image) and content.caption:
        return [
            _v(
                "wechat.image.caption",
                "a WeChat image message has no caption: send the caption as a Text of its own",
            )
        ]
    if isinstance(content, Document) and content.url is None:
        return [
            _v(
                "wechat.document.media_id",
                "the WeChat customer-service API sends no files: give the document as url= "
                "(it goes as a text with the link)",
            )
        ]
    if isinstance(content, Cards):
        found = []
        for c in content.cards:
            if any(isinstance(b, _Button) for b in c.buttons):
                found.append(_card_buttons(c))
        return found
    return []


def _card_buttons(c: Card) -> Violation:
    return _v(
        "wechat.cards.buttons",
        f"card {c.title!r}: a WeChat news article has no reply buttons (a link button or the "
        "card's url is its link); send the choices as Buttons (a msgmenu) of their own",
    )


def body_violations(body: JSONObject, policy: rules.WeChatPolicy) -> list[Violation]:
    """The rules of one customer-service body, as it goes out (also for ``Raw``)."""
    msgtype = body.get("msgtype")
    if not isinstance(msgtype, str) or msgtype not in _MSGTYPES:
        return [
            _v(
                "wechat.msgtype",
                f"invalid message type {msgtype!r}: a customer-service message is one of "
                f"{sorted(_MSGTYPES)}",
                40008,
            )
        ]
    obj = body.get(msgtype)
    if not isinstance(obj, dict):
        return [_v("wechat.msgtype", f"the {msgtype!r} message needs its {msgtype!r} object")]
    if msgtype == "news":
        articles = obj.get("articles")
        return rules.check_news(len(articles) if isinstance(articles, list) else 0, policy)
    if msgtype == "text":
        content = obj.get("content")
        # WeChat's 44004 "empty content" (the global table; the simulator's answer).
        if not (isinstance(content, str) and content):
            return [_v("wechat.text.empty", "a text message needs a non-empty content", 44004)]
        size = len(content.encode("utf-8", "surrogatepass"))
        if size > policy.text_max_bytes:  # §5.2: measured 2048 bytes (UNVERIFIED)
            return [
                _v(
                    "wechat.text.length",
                    f"content size out of limit: a customer-service text is at most "
                    f"{policy.text_max_bytes} bytes of UTF-8 (a Chinese character is 3), this "
                    f"one {size}; split it",
                    45002,
                )
            ]
    if msgtype == "msgmenu":
        return _msgmenu(obj, policy)
    return []


def _msgmenu(obj: JSONObject, policy: rules.WeChatPolicy) -> list[Violation]:
    """§5.2 gives only the shape: ``list`` of ``{"id", "content"}``; the numbers are the
    simulator's (UNVERIFIED): 1-10 choices, unique ids of <= 64 bytes, texts <= 1024 bytes;
    WeChat's ``47001 data format error`` otherwise."""

    def bad(why: str) -> list[Violation]:
        return [_v("wechat.msgmenu.list", f"data format error: {why}", 47001)]

    for key in ("head_content", "tail_content"):
        if obj.get(key) is not None and not isinstance(obj[key], str):
            return bad(f"the msgmenu's {key} is a string")
    items = obj.get("list")
    if not isinstance(items, list) or not 1 <= len(items) <= policy.msgmenu_items_max:
        return bad(f"a msgmenu has 1 to {policy.msgmenu_items_max} choices")
    seen: set[str] = set()
    for item in items:
        ident = item.get("id") if isinstance(item, dict) else None
        content = item.get("content") if isinstance(item, dict) else None
        if not (isinstance(ident, str) and ident and isinstance(content, str) and content):
            return bad("each msgmenu choice has a non-empty id and content")
        if ident in seen:
            return bad(f"the msgmenu choice id {ident!r} is given twice")
        if len(ident.encode("utf-8", "surrogatepass")) > policy.msgmenu_id_max_bytes:
            return bad(f"a msgmenu choice id is at most {policy.msgmenu_id_max_bytes} bytes")
        if len(content.encode("utf-8", "surrogatepass")) > policy.msgmenu_content_max_bytes:
            return bad(
                f"a msgmenu choice is at most {policy.msgmenu_content_max_bytes} bytes of text"
            )
        seen.add(ident)
    return []


def _one(content: Content) -> tuple[str, JSONObject, JSON]:
    """``(msgtype, object, customservice)`` of a content value after its fallback."""
    if isinstance(content, Text):
        return "text", {"content": content.body}, None
    if isinstance(content, Image):
        return "image", {"media_id": content.media_id or ""}, None
    if isinstance(content, Audio):
        return "voice", {"media_id": content.media_id or ""}, None
    if isinstance(content, Video):
        video: JSONObject = {"media_id": content.media_id or ""}
        if content.caption:
            video["title"] = content.caption
        return "video", video, None
    if isinstance(content, Document):  # by media_id: refused by the rules
        return "text", {"content": ""}, None
    if isinstance(content, Raw):
        p = content.payload
        msgtype = p.get("msgtype")
        t = msgtype if isinstance(msgtype, str) else ""
        inner = p.get(t)
        return t, (dict(inner) if isinstance(inner, dict) else {}), p.get("customservice")
    raise TypeError(f"WeChat has no message form for {type(content).__name__}")  # the table


def encode(content: Content, touser: str) -> JSONObject:
    """The ``POST /cgi-bin/message/custom/send`` body (``content`` after its fallback)."""
    msgtype, obj, agent = _one(content)
    body: JSONObject = {"touser": touser, "msgtype": msgtype, msgtype: obj}
    if agent is not None:
        body["customservice"] = agent
    return body


# --- builders of WeChat-only messages (each a Raw) --------------------------------------------


def music(
    url: str,
    hq_url: str,
    thumb_media_id: str,
    *,
    title: str | None = None,
    description: str | None = None,
) -> Raw:
    """A music message (wechatpy's key order: musicurl, hqmusicurl, thumb_media_id, title,
    description)."""
    m: JSONObject = {"musicurl": url, "hqmusicurl": hq_url, "thumb_media_id": thumb_media_id}
    if title is not None:
        m["title"] = title
    if description is not None:
        m["description"] = description
    return Raw({"msgtype": "music", "music": m})


def mpnews(media_id: str) -> Raw:
    """A legacy material article (``mpnews``) by its media id."""
    return Raw({"msgtype": "mpnews", "mpnews": {"media_id": media_id}})


def miniprogram_page(
    title: str, pagepath: str, thumb_media_id: str, *, appid: str | None = None
) -> Raw:
    """A mini-program card (the mini program must be linked to the account)."""
    page: JSONObject = {"title": title}
    if appid is not None:
        page["appid"] = appid
    page.update({"pagepath": pagepath, "thumb_media_id": thumb_media_id})
    return Raw({"msgtype": "miniprogrampage", "miniprogrampage": page})


def as_agent(content: Raw, kf_account: str) -> Raw:
    """``content`` (a Raw body) sent as one customer-service agent (``kf1@account``)."""
    payload: dict[str, Any] = dict(content.payload)
    payload["customservice"] = {"kf_account": kf_account}
    return Raw(payload)
