"""The WeChat custom menu (spec/wechat.md §10.3, §9; research §1.4, §5): CLICK and VIEW
events come from it.

One :class:`Menu` per Official Account answers:

* ``POST /cgi-bin/menu/create`` ``{"button":[...]}`` -> ``{"errcode":0,"errmsg":"ok"}``:
  1..3 top buttons, each either a button of one of :data:`TYPES` or a parent of 1..5
  ``sub_button`` (a parent fires no event; its ``type`` is dropped);
* ``GET /cgi-bin/menu/get`` -> ``{"menu":{"button":[...]}}`` in the real shape (every leaf
  with ``"sub_button":[]``); without a menu ``46003 menu no exist`` (wechatpy's
  ``menu.get()`` turns that into ``None``);
* ``GET /cgi-bin/menu/delete`` -> ok (with or without a menu: UNVERIFIED).

Limits, configurable because the sources disagree (research §5): a top button's name
<= 16 UTF-8 bytes, a sub-button's <= 60 (current doc; old docs 40), ``key`` <= 128 bytes,
``url`` <= 1,024 bytes (old docs 256). Codes (the global code table as public SDKs quote it;
only 40018 is in spec §8): ``40016 invalid button size``, ``40017 invalid button type``,
``40018 invalid button name size``, ``40019 invalid button key size``, ``40020 invalid button
url size``, ``40023 invalid sub button size``, ``40024 invalid sub button type``, ``40025
invalid sub button name size``, ``40026 invalid sub button key size``, ``40027 invalid sub
button url size``; a url that is not http(s) ``40055 invalid button url domain`` / ``40054
invalid sub button url domain`` (that these answer a scheme, not a domain: UNVERIFIED).
UNVERIFIED too: ``40007`` for a missing ``media_id``; ``40013`` for a miniprogram button
without ``appid``, ``47001`` without ``pagepath``; ``47001`` for values of the wrong JSON
type. Daily quotas (§9): create 1,000, get 10,000, delete 1,000 -> ``45009``.

A refusal changes nothing: the menu is checked whole before it replaces the old one.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from omnimsg.rules.wechat import MENU_KEY_TYPES

from ...effects import SimFlow, SimRequest, SimResponse
from .errors import WeChatRefusal, ok
from .tokens import Quota, answer, json_object, post_only, reply

if TYPE_CHECKING:
    from omnimsg_sim.config import WeChatAccount

__all__ = [
    "KEY_MAX",
    "KEY_TYPES",
    "SUB_MAX",
    "SUB_NAME_MAX",
    "TOP_MAX",
    "TOP_NAME_MAX",
    "TYPES",
    "URL_MAX",
    "Menu",
]

TOP_MAX = 3  # [doc] 1..3 top buttons
SUB_MAX = 5  # [doc] 1..5 sub-buttons
TOP_NAME_MAX = 16  # [doc] bytes
SUB_NAME_MAX = 60  # [community] current doc; spec §10.3 (older text): 40
KEY_MAX = 128  # [doc] bytes
URL_MAX = 1024  # [community] current doc; older docs: 256
KEY_TYPES = MENU_KEY_TYPES
"""The types that carry a ``key`` (and come back as events naming it)."""
TYPES = (*KEY_TYPES, "view", "media_id", "view_limited", "miniprogram")
CREATE_PER_DAY, GET_PER_DAY, DELETE_PER_DAY = 1000, 10_000, 1000  # [doc §9]

# (top, sub) codes and wordings
_SIZE = ((40016, "invalid button size"), (40023, "invalid sub button size"))
_TYPE = ((40017, "invalid button type"), (40024, "invalid sub button type"))
_NAME = ((40018, "invalid button name size"), (40025, "invalid sub button name size"))
_KEY = ((40019, "invalid button key size"), (40026, "invalid sub button key size"))
_URL = ((40020, "invalid button url size"), (40027, "invalid sub button url size"))
_DOMAIN = ((40055, "invalid button url domain"), (40054, "invalid sub button url domain"))


def _refuse(pair: tuple[tuple[int, str], tuple[int, str]], sub: bool) -> WeChatRefusal:
    errcode, errmsg = pair[1] if sub else pair[0]
    return WeChatRefusal(errcode, errmsg)


def _size(value: str) -> int:
    return len(value.encode("utf-8", "surrogatepass"))


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class Menu:
    """One account's custom menu."""

    def __init__(
        self,
        *,
        top_name_max: int = TOP_NAME_MAX,
        sub_name_max: int = SUB_NAME_MAX,
        key_max: int = KEY_MAX,
        url_max: int = URL_MAX,
    ) -> None:
        self.top_name_max = top_name_max
        self.sub_name_max = sub_name_max
        self.key_max = key_max
        self.url_max = url_max
        self._buttons: list[dict[str, Any]] | None = None
        self._quotas = {
            "create": Quota(CREATE_PER_DAY),
            "get": Quota(GET_PER_DAY),
            "delete": Quota(DELETE_PER_DAY),
        }

    def clear_quotas(self) -> None:
        """``/cgi-bin/clear_quota``: the day's create, get and delete counts start again."""
        for quota in self._quotas.values():
            quota.clear()

    # --- the contract's views --------------------------------------------------------------

    def _leaves(self) -> list[dict[str, Any]]:
        leaves: list[dict[str, Any]] = []
        for top in self._buttons or []:
            subs = top.get("sub_button") or []
            leaves.extend(subs if subs else [top])
        return [b for b in leaves if "type" in b]

    def button(self, key: str) -> dict[str, Any] | None:
        """A copy of the current menu's button of a :data:`KEY_TYPES` type with ``key``."""
        for leaf in self._leaves():
            if leaf["type"] in KEY_TYPES and leaf.get("key") == key:
                return copy.deepcopy(leaf)
        return None

    def url_button(self, url: str) -> dict[str, Any] | None:
        """A copy of the current menu's ``view`` button opening ``url``."""
        for leaf in self._leaves():
            if leaf["type"] == "view" and leaf.get("url") == url:
                return copy.deepcopy(leaf)
        return None

    def state(self) -> dict[str, Any]:
        """A JSON snapshot: the menu (``None`` without one)."""
        return {"menu": None if self._buttons is None else {"button": copy.deepcopy(self._buttons)}}

    # --- routing ---------------------------------------------------------------------------

    def route(
        self, req: SimRequest, account: WeChatAccount, now: float
    ) -> SimFlow[SimResponse] | None:
        """The flow answering ``req`` if it is a menu path, else ``None``."""
        if req.method.upper() not in ("GET", "POST"):
            return None
        if req.path == "/cgi-bin/menu/create":

            def create() -> SimResponse:
                post_only(req)
                return self._create(json_object(req), now)

            return answer(create)
        # UNVERIFIED: get and delete answer POST too (wechatpy sends GET)
        if req.path == "/cgi-bin/menu/get":
            return answer(lambda: self._get(now))
        if req.path == "/cgi-bin/menu/delete":
            return answer(lambda: self._delete(now))
        return None

    def _take(self, which: str, now: float) -> None:
        quota = self._quotas[which]
        if quota.full(now):
            raise WeChatRefusal(45009)
        quota.take(now)

    def _get(self, now: float) -> SimResponse:
        if self._quotas["get"].full(now):
            raise WeChatRefusal(45009)
        if self._buttons is None:
            raise WeChatRefusal(46003)
        self._take("get", now)
        return reply({"menu": {"button": copy.deepcopy(self._buttons)}})

    def _delete(self, now: float) -> SimResponse:
        self._take("delete", now)
        self._buttons = None
        return ok()

    def _create(self, body: dict[str, Any], now: float) -> SimResponse:
        buttons = body.get("button")
        if buttons is None:
            raise WeChatRefusal(44002)  # UNVERIFIED: a body without "button"
        if not isinstance(buttons, list):
            raise WeChatRefusal(47001)
        if not 1 <= len(buttons) <= TOP_MAX:
            raise _refuse(_SIZE, sub=False)
        kept = [self._top(b) for b in buttons]
        if self._quotas["create"].full(now):
            raise WeChatRefusal(45009)
        self._quotas["create"].take(now)
        self._buttons = kept
        return ok()

    # --- checking buttons ------------------------------------------------------------------

    def _top(self, button: Any) -> dict[str, Any]:
        if not isinstance(button, dict):
            raise WeChatRefusal(47001)
        subs = button.get("sub_button")
        if subs is not None and not isinstance(subs, list):
            raise WeChatRefusal(47001)
        if not subs:
            return self._leaf(button, sub=False)
        name = self._name(button, sub=False)
        if len(subs) > SUB_MAX:
            raise _refuse(_SIZE, sub=True)
        kept = [self._leaf(s, sub=True) for s in subs]
        return {"name": name, "sub_button": kept}

    def _name(self, button: dict[str, Any], sub: bool) -> str:
        name = button.get("name")
        most = self.sub_name_max if sub else self.top_name_max
        if not isinstance(name, str) or not name or not _encodable(name) or _size(name) > most:
            raise _refuse(_NAME, sub)
        return name

    def _leaf(self, button: Any, sub: bool) -> dict[str, Any]:
        if not isinstance(button, dict):
            raise WeChatRefusal(47001)
        if sub and button.get("sub_button"):
            raise WeChatRefusal(40022, "invalid sub menu level")  # UNVERIFIED: 3 levels
        name = self._name(button, sub)
        kind = button.get("type")
        if not isinstance(kind, str) or kind not in TYPES:
            raise _refuse(_TYPE, sub)
        kept: dict[str, Any] = {"type": kind, "name": name}
        if kind in KEY_TYPES:
            key = button.get("key")
            if not isinstance(key, str) or not key or not _encodable(key):
                raise _refuse(_KEY, sub)
            if _size(key) > self.key_max:
                raise _refuse(_KEY, sub)
            kept["key"] = key
        elif kind in ("view", "miniprogram"):
            kept["url"] = self._url(button.get("url"), sub)
            if kind == "miniprogram":
                appid = button.get("appid")
                if not isinstance(appid, str) or not appid or not _encodable(appid):
                    raise WeChatRefusal(40013)
                page = button.get("pagepath")
                if not isinstance(page, str) or not page or not _encodable(page):
                    raise WeChatRefusal(47001)
                kept["appid"], kept["pagepath"] = appid, page
        else:  # media_id, view_limited
            media = button.get("media_id")
            if not isinstance(media, str) or not media or not _encodable(media):
                raise WeChatRefusal(40007)
            kept["media_id"] = media
        kept["sub_button"] = []
        return kept

    def _url(self, url: Any, sub: bool) -> str:
        if not isinstance(url, str) or not url or not _encodable(url):
            raise _refuse(_URL, sub)
        if _size(url) > self.url_max:
            raise _refuse(_URL, sub)
        lowered = url.lower()
        if not lowered.startswith(("http://", "https://")) or any(
            ch.isspace() or ord(ch) < 0x20 for ch in url
        ):
            raise _refuse(_DOMAIN, sub)
        return url
