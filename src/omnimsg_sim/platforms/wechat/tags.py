"""WeChat user tags (spec/wechat.md §7; research §1.4, §5): the only way to organise contacts.

One :class:`Tags` per Official Account answers:

* ``POST /cgi-bin/tags/create`` ``{"tag":{"name"}}`` -> ``{"tag":{"id","name"}}``;
* ``GET /cgi-bin/tags/get`` -> ``{"tags":[{"id","name","count"}]}`` (the system tag
  ``{"id":2,"name":"星标组"}`` first, as in the official example);
* ``POST /cgi-bin/tags/update`` ``{"tag":{"id","name"}}``, ``POST /cgi-bin/tags/delete``
  ``{"tag":{"id"}}`` -> ``{"errcode":0,"errmsg":"ok"}``;
* ``POST /cgi-bin/tags/members/batchtagging`` and ``…/batchuntagging``
  ``{"openid_list":[...], "tagid"}`` -> ok;
* ``POST /cgi-bin/tags/getidlist`` ``{"openid"}`` -> ``{"tagid_list":[...]}``;
* ``POST /cgi-bin/user/tag/get`` ``{"tagid","next_openid"?}`` -> ``{"count","data":{"openid"},
  "next_openid"}`` (10,000 a page; an empty page has no ``data``, as the real API).

These are the keys wechatpy's result processors require (``tag``, ``tags``, ``tagid_list``).
Limits and codes (§7, errmsgs of the global code table as public SDKs quote it): at most
:data:`MAX_TAGS` (100) tags, ``45056 too many tag now, no need to add new``; the system tags
0/1/2 cannot be renamed or deleted, ``45058 can't modify sys tag``; a name is 1..30 UTF-8
bytes, ``45158 tag name too long``; an empty or duplicate name (the system tag names too)
``45157 invalid tag name``; an unknown tag ``45159 invalid tag id``; 1..50 OpenIDs per batch,
``40032 invalid openid list size``; an OpenID that is not the account's ``40003``; a user
carries at most 20 tags, ``45059 can not tagging one user too much`` (the code and wording
come from the global table; that this route answers it is UNVERIFIED). A tag with more than
100,000 members cannot be deleted: ``45057``.

A refusal changes nothing: each request is checked whole before any state moves. Tag ids are
100, 101, ... in creation order (real accounts start at 100; UNVERIFIED that ids are never
reused: here they are not).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ...effects import SimFlow, SimRequest, SimResponse
from .errors import WeChatRefusal, ok
from .tokens import answer, integer, json_object, post_only, reply

if TYPE_CHECKING:
    from omnimsg_sim.config import WeChatAccount

__all__ = [
    "BATCH_MAX",
    "FIRST_ID",
    "MAX_TAGS",
    "NAME_MAX_BYTES",
    "PAGE",
    "SYSTEM_TAGS",
    "TAGS_PER_USER",
    "Tags",
]

MAX_TAGS = 100  # [doc] an account creates at most 100 tags
NAME_MAX_BYTES = 30  # [doc] a tag name is at most 30 bytes
BATCH_MAX = 50  # [doc] batchtagging: at most 50 OpenIDs
TAGS_PER_USER = 20  # [doc] "at most 20 tags per user"
PAGE = 10_000  # [doc] user/tag/get: 10,000 OpenIDs a page
DELETE_MAX_MEMBERS = 100_000  # [doc] a tag with more fans cannot be deleted (45057)
FIRST_ID = 100  # real accounts' first tag id (UNVERIFIED that it is always 100)
SYSTEM_TAGS: dict[int, str] = {0: "未分组", 1: "黑名单", 2: "星标组"}
"""The reserved tags (ids 0/1/2). Only 2 (星标组, "starred") is listed by tags/get and can be
put on users (the official getidlist example answers ``[134, 2]``); 0 and 1 cannot (45159,
UNVERIFIED)."""
_TAGGABLE_SYSTEM = frozenset({2})
_LISTED_SYSTEM = (2,)

_TOO_MANY_TAGS = "too many tag now, no need to add new"
_TOO_MANY_FANS = "can't delete the tag that has too many fans"
_SYSTEM = "can't modify sys tag"
_USER_FULL = "can not tagging one user too much"
_BAD_NAME = "invalid tag name"
_LONG_NAME = "tag name too long"
_BAD_ID = "invalid tag id"
_LIST_SIZE = "invalid openid list size"


def _refused(errcode: int, errmsg: str | None = None) -> WeChatRefusal:
    return WeChatRefusal(errcode, errmsg)


class Tags:
    """One account's tags and which users carry them."""

    def __init__(self) -> None:
        self._tags: dict[int, str] = {}
        self._members: dict[int, list[str]] = {2: []}  # tag -> OpenIDs, in tagging order
        self._next = FIRST_ID

    # --- the contract's views --------------------------------------------------------------

    def tags_of(self, openid: str) -> list[int]:
        """The tag ids ``openid`` carries, in the order they were put on."""
        return [tag for tag, members in self._members.items() if openid in members]

    def state(self) -> dict[str, Any]:
        """A JSON snapshot: the tags with their members."""
        return {
            "tags": [
                {"id": tag, "name": self._name(tag), "openids": list(self._members.get(tag, []))}
                for tag in (*_LISTED_SYSTEM, *self._tags)
            ]
        }

    def forget(self, openid: str) -> None:
        """Take every tag off ``openid`` (for a user the simulator removes)."""
        for members in self._members.values():
            if openid in members:
                members.remove(openid)

    # --- routing ---------------------------------------------------------------------------

    def route(
        self, req: SimRequest, account: WeChatAccount, users: Mapping[str, Any], now: float
    ) -> SimFlow[SimResponse] | None:
        """The flow answering ``req`` if it is a tag path, else ``None``.

        ``users``: the account's users by OpenID (only the keys are read).
        """
        method = req.method.upper()
        if method not in ("GET", "POST"):
            return None
        posts: dict[str, Callable[[dict[str, Any]], SimResponse]] = {
            "/cgi-bin/tags/create": self._create,
            "/cgi-bin/tags/update": self._update,
            "/cgi-bin/tags/delete": self._delete,
            "/cgi-bin/tags/members/batchtagging": lambda b: self._batch(b, users, tag=True),
            "/cgi-bin/tags/members/batchuntagging": lambda b: self._batch(b, users, tag=False),
            "/cgi-bin/tags/getidlist": lambda b: self._idlist(b, users),
            "/cgi-bin/user/tag/get": lambda b: self._members_page(b, users),
        }
        if req.path == "/cgi-bin/tags/get":
            return answer(self._list)  # UNVERIFIED: POST answered too (wechatpy sends GET)
        handler = posts.get(req.path)
        if handler is None:
            return None

        def run() -> SimResponse:
            post_only(req)
            return handler(json_object(req))

        return answer(run)

    # --- helpers ---------------------------------------------------------------------------

    def _name(self, tag: int) -> str:
        return SYSTEM_TAGS[tag] if tag in SYSTEM_TAGS else self._tags[tag]

    def _count(self, tag: int) -> int:
        return len(self._members.get(tag, []))

    @staticmethod
    def _tag_object(body: dict[str, Any]) -> dict[str, Any]:
        tag = body.get("tag")
        if tag is None:
            raise _refused(44002)  # [doc-mirror] "empty post data" for a missing tag
        if not isinstance(tag, dict):
            raise _refused(47001)
        return tag

    def _check_name(self, name: Any, keep: int | None = None) -> str:
        if name is None or name == "":
            raise _refused(45157, _BAD_NAME)
        if not isinstance(name, str):
            raise _refused(47001)  # UNVERIFIED: a name that is not a string
        if len(name.encode("utf-8")) > NAME_MAX_BYTES:
            raise _refused(45158, _LONG_NAME)
        if not name.strip() or any(ord(ch) < 0x20 for ch in name):
            raise _refused(45157, _BAD_NAME)  # UNVERIFIED: blank or control characters
        taken = [t for t in (*SYSTEM_TAGS, *self._tags) if t != keep]
        if any(self._name(t) == name for t in taken):
            raise _refused(45157, _BAD_NAME)
        return name

    @staticmethod
    def _tag_id(value: Any) -> int:
        if value is None:
            raise _refused(44002)
        tag = integer(value)
        if tag is None:
            raise _refused(47001)  # UNVERIFIED: a tag id that is not an integer
        return tag

    def _custom(self, value: Any) -> int:
        """A tag that may be renamed or deleted."""
        tag = self._tag_id(value)
        if tag in SYSTEM_TAGS:
            raise _refused(45058, _SYSTEM)
        if tag not in self._tags:
            raise _refused(45159, _BAD_ID)
        return tag

    def _taggable(self, value: Any) -> int:
        """A tag that may be put on (or taken off) users."""
        tag = self._tag_id(value)
        if tag in _TAGGABLE_SYSTEM or tag in self._tags:
            return tag
        raise _refused(45159, _BAD_ID)

    @staticmethod
    def _openid(value: Any, users: Mapping[str, Any]) -> str:
        if value is None or value == "":
            raise _refused(40003)
        if not isinstance(value, str) or value not in users:
            raise _refused(40003)
        return value

    # --- the routes ------------------------------------------------------------------------

    def _create(self, body: dict[str, Any]) -> SimResponse:
        tag = self._tag_object(body)
        name = self._check_name(tag.get("name"))
        if len(self._tags) >= MAX_TAGS:
            raise _refused(45056, _TOO_MANY_TAGS)
        tag_id = self._next
        self._next += 1
        self._tags[tag_id] = name
        self._members[tag_id] = []
        return reply({"tag": {"id": tag_id, "name": name}})

    def _list(self) -> SimResponse:
        return reply(
            {
                "tags": [
                    {"id": tag, "name": self._name(tag), "count": self._count(tag)}
                    for tag in (*_LISTED_SYSTEM, *self._tags)
                ]
            }
        )

    def _update(self, body: dict[str, Any]) -> SimResponse:
        tag = self._tag_object(body)
        tag_id = self._custom(tag.get("id"))
        name = self._check_name(tag.get("name"), keep=tag_id)
        self._tags[tag_id] = name
        return ok()

    def _delete(self, body: dict[str, Any]) -> SimResponse:
        tag = self._tag_object(body)
        tag_id = self._custom(tag.get("id"))
        if self._count(tag_id) > DELETE_MAX_MEMBERS:  # pragma: no cover - 100k members
            raise _refused(45057, _TOO_MANY_FANS)
        del self._tags[tag_id]
        del self._members[tag_id]
        return ok()

    def _openid_list(self, body: dict[str, Any], users: Mapping[str, Any]) -> list[str]:
        openids = body.get("openid_list")
        if openids is None:
            raise _refused(40032, _LIST_SIZE)  # UNVERIFIED: a missing list
        if not isinstance(openids, list):
            raise _refused(47001)
        if not 1 <= len(openids) <= BATCH_MAX:
            raise _refused(40032, _LIST_SIZE)
        unique: list[str] = []
        for value in openids:
            openid = self._openid(value, users)
            if openid not in unique:
                unique.append(openid)
        return unique

    def _batch(self, body: dict[str, Any], users: Mapping[str, Any], *, tag: bool) -> SimResponse:
        openids = self._openid_list(body, users)
        tag_id = self._taggable(body.get("tagid"))
        members = self._members.setdefault(tag_id, [])
        if tag:
            for openid in openids:
                if openid not in members and len(self.tags_of(openid)) >= TAGS_PER_USER:
                    raise _refused(45059, _USER_FULL)
            members.extend(o for o in openids if o not in members)
        else:
            kept = [o for o in members if o not in openids]
            members[:] = kept
        return ok()

    def _idlist(self, body: dict[str, Any], users: Mapping[str, Any]) -> SimResponse:
        openid = self._openid(body.get("openid"), users)
        return reply({"tagid_list": self.tags_of(openid)})

    def _members_page(self, body: dict[str, Any], users: Mapping[str, Any]) -> SimResponse:
        tag_id = self._taggable(body.get("tagid"))
        after = body.get("next_openid")
        if after is not None and not isinstance(after, str):
            raise _refused(47001)
        members = self._members.get(tag_id, [])
        start = 0
        if after:
            if after not in members:
                raise _refused(40003)  # UNVERIFIED: a next_openid that is not a member
            start = members.index(after) + 1
        page = members[start : start + PAGE]
        if not page:
            return reply({"count": 0, "next_openid": ""})
        return reply({"count": len(page), "data": {"openid": page}, "next_openid": page[-1]})
