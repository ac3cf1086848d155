"""The WeChat Official Account API's native errors, as data (spec/wechat.md §8).

Every API error is **HTTP 200** with ``{"errcode": N, "errmsg": "..."}`` (errcode 0 is
success); real errmsg strings end in `` rid: xxxxxxxx-xxxxxxxx-xxxxxxxx`` (older ones in
`` hint: [...]``), which clients must not parse. The strings below are WeChat's own where one
is known (§8's table, research §4); the others are marked UNVERIFIED.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from typing import Any

import attrs

from ...effects import SimResponse

__all__ = ["ERRMSG", "WeChatRefusal", "ok", "rid_of", "wechat_error"]

ERRMSG: dict[int, str] = {
    -1: "system error",
    0: "ok",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40003: "invalid openid",
    40004: "invalid media type",
    40007: "invalid media_id",
    40008: "invalid message type",  # UNVERIFIED wording
    40013: "invalid appid",
    40014: "invalid access_token",
    40037: "invalid template_id",
    40125: "invalid appsecret",
    40164: "invalid ip {ip}, not in whitelist",
    41001: "access_token missing",
    41002: "appid missing",
    41004: "appsecret missing",
    41006: "media_id missing",
    42001: "access_token expired",
    43002: "require POST method",
    43004: "require subscribe",
    43101: "user refuse to accept the msg",
    44002: "empty post data",
    44003: "empty news data",  # UNVERIFIED wording
    45001: "media size out of limit",  # UNVERIFIED wording
    45002: "content size out of limit",
    45008: "article size out of limit",
    45009: "reach max api daily quota limit",
    45015: "response out of time limit or subscription is canceled",
    45047: "out of response count limit",
    45072: "command field is invalid",  # UNVERIFIED wording
    45080: "has not sent message to the user in 30 seconds",  # UNVERIFIED wording
    45081: "you are already typing",  # UNVERIFIED wording
    46003: "menu no exist",
    47001: "data format error",
    48001: "api unauthorized",
    48006: "forbid to clear quota because of reaching the limit",  # §8
}
"""errcode -> errmsg (without the rid suffix)."""

_RIDS = itertools.count(1)


def rid_of(n: int) -> str:
    """A request id in WeChat's shape (three groups of 8 hex digits) from a number."""
    h = hashlib.sha256(f"omnimsg-sim:wechat-rid:{n}".encode()).hexdigest()
    return f"{h[:8]}-{h[8:16]}-{h[16:24]}"


@attrs.frozen
class WeChatRefusal(Exception):
    """A WeChat error about to be answered; raised while a request is checked (nothing has
    changed yet) and rendered once by the route."""

    errcode: int
    errmsg: str | None = None

    def response(self, rid: str | None = None) -> SimResponse:
        """The answer (HTTP 200 and the errcode)."""
        return wechat_error(self.errcode, self.errmsg, rid=rid)


def wechat_error(errcode: int, errmsg: str | None = None, *, rid: str | None = None) -> SimResponse:
    """A WeChat API error: HTTP 200, ``{"errcode", "errmsg"}`` with the `` rid: ...`` suffix.

    ``errmsg`` defaults to :data:`ERRMSG`'s; ``rid`` to a fresh one.
    """
    message = errmsg if errmsg is not None else ERRMSG.get(errcode, "system error")
    suffix = rid if rid is not None else rid_of(next(_RIDS))
    body = {"errcode": errcode, "errmsg": f"{message} rid: {suffix}"}
    return SimResponse(
        status=200,
        body=json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode(),
        content_type="application/json; encoding=utf-8",
    )


def ok(extra: dict[str, Any] | None = None) -> SimResponse:
    """A success answer: ``{"errcode": 0, "errmsg": "ok", ...extra}``."""
    body: dict[str, Any] = {"errcode": 0, "errmsg": "ok", **(extra or {})}
    return SimResponse(
        status=200,
        body=json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode(),
        content_type="application/json; encoding=utf-8",
    )
