"""The passive reply: the answer to a push inside its own HTTP response (spec/wechat.md §3.5,
§2.3), within WeChat's 5 seconds.

:func:`passive_reply` renders the reply XML (``ToUserName`` the customer, ``FromUserName``
the account: the push's two swapped; then ``CreateTime``, ``MsgType`` and the type's fields,
in the order of the official documentation) and, for a channel in ``"safe"`` or
``"compatible"`` mode, encrypts it into ``<xml><Encrypt/><MsgSignature/><TimeStamp/>
<Nonce/></xml>`` (that order, as Tencent's sample and wechatpy write it).

What a passive reply can be: text, image, voice, video (media by ``media_id``, uploaded
first), music and news. The unified content goes through WeChat's declared fallbacks first
(:mod:`.fallbacks`: ``Cards`` and ``UrlButton`` are news, ``ListMenu``, ``Location`` and
``Contacts`` text...), so a value is refused here exactly where a customer-service message
would be, and:

* **news** carries **one** article (the 2018 rule; WeChat would silently cut the rest, so
  2 or more are refused before anything is answered: :class:`~omnimsg.PolicyViolation`
  ``wechat.news.articles``);
* ``msgmenu`` (``Buttons``, ``QuickReplies``), ``mpnews``, ``miniprogrampage``, ``wxcard``
  exist only as customer-service messages: refused (``wechat.passive_reply.msgtype``),
  send them with ``client.send`` within the window;
* ``Raw`` is either a customer-service body (``{"msgtype": "music", "music": {...}}``, as
  :func:`omnimsg.platforms.wechat.messages.music` builds it) or the reply's own XML fields
  (``{"MsgType": "music", "Music": {"Title": ..., "MusicUrl": ...}}``), written as given
  after the four header fields;
* a reply to an unfollow, a template result or an ``Unknown`` push is refused
  (``wechat.passive_reply.event``): no customer is waiting for it.

Text a ``]]>`` in is split across two CDATA sections (any XML parser reads back the exact
text); characters XML cannot carry at all (NUL, other C0 controls, lone surrogates) are
refused (``wechat.passive_reply.characters``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..._inbound import WebhookOutcome
from ..._violation import Violation
from ...exceptions import ConfigurationError, PolicyViolation
from ...models.content import Content, Raw
from ...models.events import Event, FollowChanged, StatusUpdate, Unknown
from ...rules import wechat as rules
from . import xml as wxml
from .channel import WeChat
from .crypto import encrypt, msg_signature
from .fallbacks import CAPABILITIES, convert
from .messages import body_violations, content_violations, encode

__all__ = ["CONTENT_TYPE", "passive_reply"]

CONTENT_TYPE = "application/xml; charset=utf-8"
"""The content type of a passive reply."""

_PASSIVE = ("text", "image", "voice", "video", "music", "news")
_HEADER = frozenset({"ToUserName", "FromUserName", "CreateTime", "MsgType"})
_UNWRITABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _v(rule_id: str, message: str, code: int | None = None) -> Violation:
    return Violation(rule_id=rule_id, platform="wechat", message=message, native_code=code)


def _refuse(rule_id: str, message: str, code: int | None = None) -> PolicyViolation:
    return PolicyViolation([_v(rule_id, message, code)])


def _put(out: dict[str, Any], key: str, value: Any) -> None:
    """``out[key] = value`` for a non-empty string (optional elements are left out)."""
    if isinstance(value, str) and value:
        out[key] = value


def _from_body(msgtype: str, obj: Mapping[str, Any]) -> dict[str, Any]:
    """The reply's type fields of a customer-service body's object (§3.5 names, §5.2 keys)."""
    if msgtype == "text":
        return {"Content": obj.get("content", "")}
    if msgtype == "image" or msgtype == "voice":
        return {msgtype.capitalize(): {"MediaId": obj.get("media_id", "")}}
    if msgtype == "video":
        video: dict[str, Any] = {"MediaId": obj.get("media_id", "")}
        _put(video, "Title", obj.get("title"))
        _put(video, "Description", obj.get("description"))
        return {"Video": video}
    if msgtype == "music":
        music: dict[str, Any] = {}
        _put(music, "Title", obj.get("title"))
        _put(music, "Description", obj.get("description"))
        _put(music, "MusicUrl", obj.get("musicurl"))
        _put(music, "HQMusicUrl", obj.get("hqmusicurl"))
        _put(music, "ThumbMediaId", obj.get("thumb_media_id"))
        return {"Music": music}
    articles = obj.get("articles")
    items: list[dict[str, Any]] = []
    for a in articles if isinstance(articles, list) else ():
        item: dict[str, Any] = {}
        if isinstance(a, Mapping):
            _put(item, "Title", a.get("title"))
            _put(item, "Description", a.get("description"))
            _put(item, "PicUrl", a.get("picurl"))
            _put(item, "Url", a.get("url"))
        items.append(item)
    return {"ArticleCount": len(items), "Articles": {"item": items}}


def _type_fields(content: Content) -> tuple[str, dict[str, Any]]:
    """``(MsgType, its fields)`` of ``content``, or a refusal (see the module docstring)."""
    if isinstance(content, Raw) and "MsgType" in content.payload:
        payload = content.payload
        msgtype = payload.get("MsgType")
        if not isinstance(msgtype, str) or not msgtype:
            raise ConfigurationError("a Raw passive reply's MsgType must be a string")
        return msgtype, {k: v for k, v in payload.items() if k not in _HEADER}
    name = type(content).__name__
    if CAPABILITIES.get(name) not in ("native", "fallback"):
        raise _refuse(
            "wechat.capability",
            f"wechat cannot show {name}: it has no native form there and no declared "
            "fallback (see the platform's capability table)",
        )
    found = content_violations(content)
    if found:
        raise PolicyViolation(found)
    converted = convert(content)
    body = encode(converted, "")
    msgtype = body.get("msgtype")
    if not isinstance(msgtype, str) or msgtype not in _PASSIVE:
        raise _refuse(
            "wechat.passive_reply.msgtype",
            f"a passive reply is one of {', '.join(_PASSIVE)}, not {msgtype!r}: send it "
            "with client.send (a customer-service message) within the window instead",
        )
    found = body_violations(body, rules.latest())
    if found:
        raise PolicyViolation(found)
    obj = body.get(msgtype)
    return msgtype, _from_body(msgtype, obj if isinstance(obj, Mapping) else {})


def _writable(value: Any, where: str) -> None:
    """Refuse text XML cannot carry, anywhere in ``value``."""
    if isinstance(value, str):
        if _UNWRITABLE.search(value):
            raise _refuse(
                "wechat.passive_reply.characters",
                f"{where} holds a character XML cannot carry (a control character other "
                "than tab, CR and LF, a lone surrogate, U+FFFE or U+FFFF)",
            )
    elif isinstance(value, Mapping):
        for key, child in value.items():
            _writable(child, f"{where}.{key}")
    elif isinstance(value, list | tuple):
        for child in value:
            _writable(child, where)


def _customer(channel: WeChat, event: Event) -> str:
    """The OpenID a reply to ``event`` goes to, or a refusal."""
    if event.platform != "wechat":
        raise ConfigurationError(f"a WeChat passive reply answers a WeChat push, not {event!r}")
    if event.account != channel.account_id:
        raise ConfigurationError(
            f"the push came to {event.account!r}, not to this channel ({channel.account_id})"
        )
    if type(event) is Unknown or type(event) is StatusUpdate:
        raise _refuse(
            "wechat.passive_reply.event",
            f"nothing to reply to: a {type(event).__name__} is no customer action",
        )
    if type(event) is FollowChanged and not event.following:
        raise _refuse(
            "wechat.passive_reply.event",
            "the customer unfollowed the account: a reply would not reach them",
        )
    user = getattr(event, "user", None)
    if not isinstance(user, str) or not user:
        raise _refuse("wechat.passive_reply.event", "the push names no customer")
    return user


def passive_reply(
    channel: WeChat,
    event: Event,
    content: Content,
    *,
    now: float,
    nonce: str,
    random_prefix: bytes,
) -> WebhookOutcome:
    """The answer to ``event``'s push that replies ``content`` to the customer.

    ``now`` is the reply's ``CreateTime`` (and, encrypted, ``TimeStamp``; Unix seconds),
    ``nonce`` the encrypted reply's ``Nonce``, ``random_prefix`` the 16 random bytes its
    plaintext starts with (both drawn by the caller: ``client.wechat.passive_reply`` does).
    Answer the push with the outcome's ``status``, ``body`` and ``content_type``.

    Raises:
        PolicyViolation: WeChat would not show this as a passive reply (see the module
            docstring: news of 2+ articles, msgmenu..., an unfollow, unwritable text).
        ConfigurationError: the event is not a push to this channel, or a ``Raw`` reply's
            fields cannot be written as XML.
    """
    user = _customer(channel, event)
    msgtype, type_fields = _type_fields(content)
    _writable(type_fields, msgtype)
    fields: dict[str, Any] = {
        "ToUserName": user,
        "FromUserName": channel.account_id,
        "CreateTime": int(now),
        "MsgType": msgtype,
        **type_fields,
    }
    plain = wxml.render(fields)
    if channel.mode == "plaintext":
        return WebhookOutcome(status=200, body=plain, content_type=CONTENT_TYPE)
    if channel.encoding_aes_key is None or channel.token is None:  # the channel checks the key
        raise ConfigurationError(
            f"a {channel.mode}-mode WeChat channel needs token= and encoding_aes_key= to "
            "encrypt its passive replies"
        )
    ciphertext = encrypt(channel.encoding_aes_key, channel.app_id, plain, random_prefix)
    timestamp = str(int(now))
    envelope = {
        "Encrypt": ciphertext,
        "MsgSignature": msg_signature(channel.token, timestamp, nonce, ciphertext),
        "TimeStamp": int(now),
        "Nonce": nonce,
    }
    return WebhookOutcome(status=200, body=wxml.render(envelope), content_type=CONTENT_TYPE)
