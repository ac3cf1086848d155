"""WeChat's wire forms: customer-service message bodies, checked as WeChat checks them
(spec/wechat.md §5.2), and the XML of webhooks and passive replies (§3).

Customer-service bodies are ``{"touser", "msgtype", "<msgtype>": {...}}``; wechatpy sends
them with no Content-Type and raw UTF-8 (research §1.4), which is all the same here.
Passive replies are parsed by the SDK's hardened parser (a document type declaration is
refused outright, so no entity is ever declared, let alone expanded).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from omnimsg.exceptions import WebhookParseError
from omnimsg.platforms.wechat import xml as wechat_xml
from omnimsg.rules.wechat import MSGTYPES

from .errors import WeChatRefusal
from .state import Account, Media

__all__ = [
    "MSGTYPES",
    "BadXML",
    "build_xml",
    "check_custom",
    "describe",
    "parse_xml",
]


MAX_REPLY_BYTES = 1 << 20
"""The largest passive reply read (the driver keeps 64 KB of an answer anyway)."""

XmlValue = str | int | Sequence[tuple[str, Any]]

LiveMedia = Callable[[str], Media | None]


def _cdata(value: str) -> str:
    # "]]>" cannot appear inside CDATA: split it across two sections.
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _element(name: str, value: XmlValue) -> str:
    if isinstance(value, bool):
        raise TypeError(name)
    if isinstance(value, int):
        return f"<{name}>{value}</{name}>"
    if isinstance(value, str):
        return f"<{name}>{_cdata(value)}</{name}>"
    inner = "".join(_element(k, v) for k, v in value)
    return f"<{name}>{inner}</{name}>"


def build_xml(fields: Sequence[tuple[str, XmlValue]]) -> bytes:
    """``<xml>...</xml>`` as WeChat writes it: strings in CDATA, integers bare, one element
    per line (spec §2.4 vector A's layout)."""
    lines = "\n".join(_element(k, v) for k, v in fields)
    return f"<xml>{lines}\n</xml>".encode()


class BadXML(ValueError):
    """A body that is not the XML WeChat reads; the message says why."""


def parse_xml(body: bytes) -> dict[str, Any]:
    """A ``<xml>`` document as a dict of its elements (``item`` elements as lists), read by
    the SDK's hardened parser (:func:`omnimsg.platforms.wechat.xml.parse`: no DTD, no
    entity, bounded depth and size).

    Raises:
        BadXML: not well-formed, another root, a DTD, or too large.
    """
    try:
        return wechat_xml.parse(body, max_bytes=MAX_REPLY_BYTES)
    except WebhookParseError as exc:
        raise BadXML(str(exc)) from None


# --- customer-service messages ------------------------------------------------------------


def _obj(body: dict[str, Any], key: str) -> dict[str, Any]:
    value = body.get(key)
    if not isinstance(value, dict):
        raise WeChatRefusal(47001)
    return value


def _string(obj: dict[str, Any], key: str, *, required: bool = True, code: int = 47001) -> str:
    value = obj.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise WeChatRefusal(code)
    return value


def _media_id(obj: dict[str, Any], key: str, live: LiveMedia, *kinds: str) -> str:
    value = obj.get(key)
    if value is None or value == "":
        raise WeChatRefusal(41006)
    if not isinstance(value, str):
        raise WeChatRefusal(47001)
    media = live(value)
    if media is None or (kinds and media.type not in kinds):
        raise WeChatRefusal(40007)  # unknown, expired (3 days), or of another type
    return value


def check_custom(body: dict[str, Any], account: Account, live: LiveMedia) -> tuple[str, str]:
    """Check a ``/cgi-bin/message/custom/send`` body: ``(touser, msgtype)``.

    Raises:
        WeChatRefusal: the first errcode WeChat would answer (nothing has changed).
    """
    touser = body.get("touser")
    if not isinstance(touser, str) or not touser:
        raise WeChatRefusal(40003)
    msgtype = body.get("msgtype")
    if not isinstance(msgtype, str) or msgtype not in MSGTYPES:
        raise WeChatRefusal(40008)
    obj = _obj(body, msgtype)
    if msgtype == "text":
        content = obj.get("content")
        if not isinstance(content, str):
            raise WeChatRefusal(47001)
        if not content:
            raise WeChatRefusal(44004, "empty content")
        if len(content.encode("utf-8")) > account.cfg.text_limit:
            raise WeChatRefusal(45002)
    elif msgtype in ("image", "voice"):
        _media_id(obj, "media_id", live, msgtype)
    elif msgtype == "video":
        _media_id(obj, "media_id", live, "video")
        if obj.get("thumb_media_id") is not None:
            _media_id(obj, "thumb_media_id", live, "thumb", "image")
        for key in ("title", "description"):
            _string(obj, key, required=False)
    elif msgtype == "music":
        _media_id(obj, "thumb_media_id", live, "thumb", "image")
        for key in ("title", "description", "musicurl", "hqmusicurl"):
            _string(obj, key, required=False)
    elif msgtype == "news":
        articles = obj.get("articles")
        if not isinstance(articles, list) or not articles:
            raise WeChatRefusal(44003)
        if len(articles) != 1:
            raise WeChatRefusal(45008)  # one article since 2018 (§5.2)
        article = articles[0]
        if not isinstance(article, dict):
            raise WeChatRefusal(47001)
        for key in ("title", "description", "url", "picurl"):
            _string(article, key, required=False)
    elif msgtype == "mpnews":
        _string(obj, "media_id", code=40007)  # permanent material: not modelled
    elif msgtype == "mpnewsarticle":
        _string(obj, "article_id")
    elif msgtype == "msgmenu":
        _string(obj, "head_content", required=False)
        _string(obj, "tail_content", required=False)
        items = obj.get("list")
        if not isinstance(items, list) or not 1 <= len(items) <= 10:
            raise WeChatRefusal(47001)
        seen = set()
        for item in items:
            if not isinstance(item, dict):
                raise WeChatRefusal(47001)
            ident, content = _string(item, "id"), _string(item, "content")
            if ident in seen or len(ident.encode()) > 64 or len(content.encode()) > 1024:
                raise WeChatRefusal(47001)
            seen.add(ident)
    elif msgtype == "wxcard":
        _string(obj, "card_id")
    else:  # miniprogrampage: appid optional (research §1.4)
        _string(obj, "title", required=False)
        _string(obj, "appid", required=False)
        _string(obj, "pagepath")
        _media_id(obj, "thumb_media_id", live, "thumb", "image")
    service = body.get("customservice")
    if service is not None and (
        not isinstance(service, dict) or not isinstance(service.get("kf_account"), str)
    ):
        raise WeChatRefusal(47001)
    return touser, msgtype


def describe(message: Any) -> str | None:
    """The outbox ``text`` of a message (a CS body, or a passive reply's JSON form)."""
    if not isinstance(message, dict):
        return None
    kind = message.get("msgtype")
    obj = message.get(kind) if isinstance(kind, str) else None
    if isinstance(obj, dict):
        if isinstance(obj.get("content"), str):
            return str(obj["content"])
        if kind == "msgmenu":
            items = [i.get("content", "") for i in obj.get("list", []) if isinstance(i, dict)]
            head = obj.get("head_content") or ""
            return " / ".join(str(x) for x in [head, *items] if x)
        articles = obj.get("articles")
        if isinstance(articles, list) and articles and isinstance(articles[0], dict):
            return str(articles[0].get("title") or f"[{kind}]")
        if isinstance(obj.get("title"), str) and obj["title"]:
            return str(obj["title"])
    return f"[{kind}]"
