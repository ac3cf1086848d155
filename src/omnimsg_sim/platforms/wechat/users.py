"""WeChat user info and the follower list (spec/wechat.md §10.2; research §1.4).

:func:`route` answers, for one Official Account:

* ``GET /cgi-bin/user/info?openid=&lang=`` -> a follower's ``{"subscribe":1, "openid",
  "language", "subscribe_time", "unionid"? (only when bound), "remark", "groupid",
  "tagid_list", "subscribe_scene", "qr_scene", "qr_scene_str"}``; a user who does not follow
  (any more) -> ``{"subscribe":0, "openid"}``. No ``nickname``/``headimgurl``/``sex``/``city``:
  WeChat stopped returning them on 2021-12-27. ``lang`` is ``zh_CN`` (the default),
  ``zh_TW`` or ``en``.
* ``POST /cgi-bin/user/info/batchget`` ``{"user_list":[{"openid","lang"?}]}`` (1..100) ->
  ``{"user_info_list":[...]}`` (the key wechatpy requires), one entry per item, in order.
* ``GET /cgi-bin/user/get?next_openid=`` -> ``{"total","count","data":{"openid":[...]},
  "next_openid"}``, followers only, 10,000 a page; the page after the last has no ``data``
  and ``"next_openid":""`` (as the real API: clients stop on it).

Codes: an OpenID that is not the account's ``40003 invalid openid``; UNVERIFIED (the global
code table, not spec §8): ``41009 missing openid``, ``40032 invalid openid list size`` for
``user_list``, ``40035 invalid args`` for another ``lang``; ``47001`` for values of the wrong
JSON type (UNVERIFIED).

The user records are the sim's own (``users`` maps OpenID -> record): they are read through
:class:`UserRecord`, attribute by attribute, each with a default when missing or of the wrong
type, so a record of any class (config's ``WeChatCustomer``, state's ``Follower``) will do.
Daily quotas (§9: user info 5,000,000, follower list 500) are not counted here: this module
holds no state.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from ...effects import SimFlow, SimRequest, SimResponse
from .errors import WeChatRefusal
from .tags import Tags
from .tokens import answer, json_object, post_only, reply, text_ok

if TYPE_CHECKING:
    from omnimsg_sim.config import WeChatAccount

__all__ = ["BATCH_MAX", "LANGS", "PAGE", "UserRecord", "route", "user_info"]

LANGS = ("zh_CN", "zh_TW", "en")  # [doc] and wechatpy's assert
BATCH_MAX = 100  # [doc] batchget: at most 100
PAGE = 10_000  # [doc] user/get: 10,000 OpenIDs a page


class UserRecord(Protocol):
    """What this module reads from a user record (each attribute optional, defaults below).

    ``openid: str``; ``following: bool`` (True); ``subscribe_time: int`` (Unix seconds, 0);
    ``unionid: str | None`` (None: not bound to an Open Platform account); ``remark: str``
    (""); ``language: str`` ("zh_CN"); ``subscribe_scene: str`` ("ADD_SCENE_OTHERS");
    ``qr_scene: int`` (0); ``qr_scene_str: str`` ("").
    """

    @property
    def openid(self) -> str: ...
    @property
    def following(self) -> bool: ...
    @property
    def subscribe_time(self) -> int: ...
    @property
    def unionid(self) -> str | None: ...
    @property
    def remark(self) -> str: ...
    @property
    def language(self) -> str: ...
    @property
    def subscribe_scene(self) -> str: ...
    @property
    def qr_scene(self) -> int: ...
    @property
    def qr_scene_str(self) -> str: ...


def _text(record: Any, name: str, default: str) -> str:
    value = getattr(record, name, default)
    return value if isinstance(value, str) and text_ok(value) else default


def _int(record: Any, name: str) -> int:
    value = getattr(record, name, 0)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    try:
        return int(value)
    except (OverflowError, ValueError):  # inf, nan
        return 0


def _following(record: Any) -> bool:
    value = getattr(record, "following", True)
    return value if isinstance(value, bool) else True


def user_info(openid: str, record: Any, tags: Tags) -> dict[str, Any]:
    """The user/info answer for ``record`` (a :class:`UserRecord`)."""
    if not _following(record):
        return {"subscribe": 0, "openid": openid}
    info: dict[str, Any] = {
        "subscribe": 1,
        "openid": openid,
        "language": _text(record, "language", "zh_CN"),
        "subscribe_time": _int(record, "subscribe_time"),
    }
    unionid = getattr(record, "unionid", None)
    if isinstance(unionid, str) and unionid and text_ok(unionid):
        info["unionid"] = unionid
    info.update(
        {
            "remark": _text(record, "remark", ""),
            "groupid": 0,  # the old groups API; 0 ("未分组") for everyone (UNVERIFIED)
            "tagid_list": tags.tags_of(openid),
            "subscribe_scene": _text(record, "subscribe_scene", "ADD_SCENE_OTHERS"),
            "qr_scene": _int(record, "qr_scene"),
            "qr_scene_str": _text(record, "qr_scene_str", ""),
        }
    )
    return info


def _lang(value: Any) -> str:
    if value is None or value == "":
        return "zh_CN"
    if not isinstance(value, str) or value not in LANGS:
        raise WeChatRefusal(40035, "invalid args")  # UNVERIFIED
    return value


def _openid(value: Any, users: Mapping[str, Any]) -> str:
    if value is None or value == "":
        raise WeChatRefusal(41009, "missing openid")  # UNVERIFIED
    if not isinstance(value, str) or value not in users:
        raise WeChatRefusal(40003)
    return value


def route(
    req: SimRequest,
    account: WeChatAccount,
    users: Mapping[str, Any],
    tags: Tags,
    now: float,
) -> SimFlow[SimResponse] | None:
    """The flow answering ``req`` if it is a user path, else ``None``.

    ``users``: the account's users by OpenID (records read as :class:`UserRecord`);
    ``tags``: the account's :class:`~omnimsg_sim.platforms.wechat.tags.Tags`.
    """
    if req.method.upper() not in ("GET", "POST"):
        return None
    if req.path == "/cgi-bin/user/info":
        # UNVERIFIED: POST answered too (wechatpy and the docs use GET)
        return answer(lambda: _info(req, users, tags))
    if req.path == "/cgi-bin/user/info/batchget":
        return answer(lambda: _batch(req, users, tags))
    if req.path == "/cgi-bin/user/get":
        return answer(lambda: _followers(req, users))
    return None


def _info(req: SimRequest, users: Mapping[str, Any], tags: Tags) -> SimResponse:
    openid = _openid(req.arg("openid"), users)
    _lang(req.arg("lang"))
    return reply(user_info(openid, users[openid], tags))


def _batch(req: SimRequest, users: Mapping[str, Any], tags: Tags) -> SimResponse:
    post_only(req)
    body = json_object(req)
    items = body.get("user_list")
    if items is None:
        raise WeChatRefusal(44002)  # UNVERIFIED: a body without user_list
    if not isinstance(items, list):
        raise WeChatRefusal(47001)
    if not 1 <= len(items) <= BATCH_MAX:
        raise WeChatRefusal(40032, "invalid openid list size")  # UNVERIFIED
    found: list[dict[str, Any]] = []
    for item in items:
        if not isinstance(item, dict):
            raise WeChatRefusal(47001)
        openid = _openid(item.get("openid"), users)
        _lang(item.get("lang"))
        found.append(user_info(openid, users[openid], tags))
    return reply({"user_info_list": found})


def _followers(req: SimRequest, users: Mapping[str, Any]) -> SimResponse:
    following = [o for o, record in users.items() if isinstance(o, str) and _following(record)]
    after = req.arg("next_openid")
    start = 0
    if after:
        if after not in following:
            raise WeChatRefusal(40003)  # UNVERIFIED: a next_openid that is not a follower
        start = following.index(after) + 1
    page = following[start : start + PAGE]
    if not page:
        return reply({"total": len(following), "count": 0, "next_openid": ""})
    return reply(
        {
            "total": len(following),
            "count": len(page),
            "data": {"openid": page},
            "next_openid": page[-1],
        }
    )
