"""WeChat errcodes mapped into the omnimsg error tree (spec/wechat.md §8; research §1.5, §4).

WeChat answers API errors with **HTTP 200** and ``{"errcode": N, "errmsg": "..."}`` (0 is
success). ``PlatformError.code`` is the errcode (an int), the message is WeChat's ``errmsg``
as it came (its `` rid: ...`` or `` hint: [...]`` suffix kept), followed by omnimsg's
explanation where one helps; ``request_id`` is the ``rid`` (or the ``hint``).

* 40001 / 40014 / 42001 / 41001: :class:`AuthenticationError` (the token is refused: the
  calls forget it and retry once with a fresh one); 40013 / 40125 / 40243 likewise (the
  AppID or AppSecret is wrong or frozen).
* 40164 (IP not in the whitelist) and 89503 (a risky IP waiting for the administrator):
  :class:`PermissionDenied` explaining where to change it and which IP WeChat saw.
* 48001 / 40200 / 48004 / 48005: :class:`PermissionDenied` (the account lacks the API).
* 45015 / 45047 / 43004 / 45008 / 43101 / 45080: :class:`PolicyRejected` with the rule id of
  :mod:`omnimsg.rules.wechat`.
* 45009 (daily quota) and 45011 (minute quota): :class:`RateLimited` (45011 with a
  ``retry_after`` of 60 s; neither is retried by the default policy).
* 40003 (invalid openid), 40007 (invalid media_id), 40037 (invalid template_id),
  46003 (no menu), 46004 (no user): :class:`NotFound`.
* -1 (system error): :class:`ServerError`, ``retryable`` only for a request that is
  idempotent (a read, or a template carrying ``client_msg_id``): a send may have gone out
  (research pitfall 6).
* Any other errcode: :class:`InvalidRequest`; HTTP 5xx: :class:`ServerError`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from ..._core.effects import Response
from ...exceptions import (
    AuthenticationError,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    PlatformError,
    PolicyRejected,
    RateLimited,
    ServerError,
)

__all__ = [
    "AUTH_CODES",
    "RULE_IDS",
    "TOKEN_CODES",
    "errcode_of",
    "map_errcode",
    "map_error",
    "request_id_of",
    "scrub",
    "seen_ip",
]

TOKEN_CODES = frozenset({40001, 40014, 42001})
"""The access token was refused (invalid, not the latest, expired): forget it, retry once."""
AUTH_CODES = frozenset({40001, 40014, 42001, 41001, 40013, 40125, 40243, 40002})
RULE_IDS: Mapping[int, str] = MappingProxyType(
    {
        45015: "wechat.window.closed",
        45047: "wechat.window.count",
        43004: "wechat.follow.unsubscribed",
        45008: "wechat.news.articles",
        43101: "wechat.subscribe.consent",
        45080: "wechat.typing.window",
        45081: "wechat.typing.already",
        45056: "wechat.tags.count",
        45058: "wechat.tags.reserved",
        45157: "wechat.tags.name",
        45158: "wechat.tags.name_length",
        45057: "wechat.tags.too_many_fans",
        45059: "wechat.tags.per_user",
        40032: "wechat.tags.batch",
        40018: "wechat.menu.name",
    }
)
"""The omnimsg rule each platform-policy errcode matches."""
_NOT_FOUND = frozenset({40003, 40007, 40037, 46003, 46004, 40008, 9001001})
_DENIED = frozenset({48001, 40200, 48004, 48005, 50001, 50002, 61023})
_RID = re.compile(r"\brid:\s*([0-9A-Za-z-]+)")
_HINT = re.compile(r"\bhint:\s*\[([^\]]+)\]")
_IP = re.compile(r"invalid ip\s+([0-9A-Fa-f.:]+)")

_EXPLAIN: Mapping[int, str] = MappingProxyType(
    {
        40001: "the access token is invalid or not the latest: another service fetched a new "
        "one (share one Store between every process and service of this AppID), or the "
        "AppSecret is wrong",
        40014: "the access token is malformed or expired",
        42001: "the access token expired",
        41001: "no access token was sent",
        40013: "the AppID is wrong (app_id=)",
        40125: "the AppSecret is wrong (app_secret=; reset it in Settings > Basic configuration)",
        40243: "the AppSecret is frozen: unfreeze or reset it in the Official Accounts "
        "Platform, Settings > Basic configuration (then update app_secret=)",
        48001: "the account has no permission for this API (a verified Service Account is "
        "needed, or the API is not enabled)",
        40200: "the account type cannot use this (msgmenu is refused on test accounts)",
        45015: "outside the customer-service window: WeChat accepts these messages only within "
        "48 hours of the customer's last message (1 minute after a follow, scan or menu "
        "click); send a template message instead",
        45047: "the customer-service window's message count is used up (5 per customer "
        "message, 3 per follow, scan or click)",
        43004: "the customer does not follow the account",
        43101: "the customer has not consented to this subscribe message (or used it up)",
        45008: "a news message carries one article",
        45009: "the API's daily quota is used up (the MP backend shows it; clear_quota resets)",
        45011: "the API's per-minute quota is used up: wait a minute",
        48006: "clear_quota was called 10 times this month already",
        -1: "WeChat had a system error; the request may or may not have been acted on",
    }
)


def scrub(text: str, secrets: Sequence[str]) -> str:
    """``text`` with every secret (8 characters or more) replaced by ``<redacted>``."""
    for s in secrets:
        if s and len(s) >= 8:
            text = text.replace(s, "<redacted>")
    return text


def _body(raw: bytes) -> dict[str, Any]:
    try:
        decoded = json.loads(raw) if raw else None
    except ValueError:
        return {}
    return decoded if isinstance(decoded, dict) else {}


def errcode_of(data: Mapping[str, Any]) -> int:
    """The errcode of a decoded answer (0 when absent: a success carries none, or 0)."""
    code = data.get("errcode", 0)
    if isinstance(code, bool):
        return 0
    if isinstance(code, int):
        return code
    try:
        return int(code)  # some gateways send it as a string
    except (TypeError, ValueError):
        return 0


def request_id_of(errmsg: str) -> str | None:
    """The ``rid`` (or the older ``hint``) WeChat appends to an errmsg."""
    m = _RID.search(errmsg) or _HINT.search(errmsg)
    return m.group(1) if m else None


def seen_ip(errmsg: str) -> str | None:
    """The caller IP WeChat names in a 40164 errmsg (``invalid ip 1.2.3.4 ipv6 ...``)."""
    m = _IP.search(errmsg)
    return m.group(1).rstrip(",") if m else None


def _whitelist(code: int, errmsg: str) -> str:
    ip = seen_ip(errmsg)
    where = f"the IP WeChat saw is {ip}" if ip else "WeChat did not say which IP it saw"
    if code == 40164:
        return (
            f"this server's IP is not in the account's IP whitelist ({where}): add it in the "
            "Official Accounts Platform, Settings > Basic configuration > IP whitelist "
            "(设置与开发 > 基本配置 > IP白名单); with changing egress IPs, fetch tokens from one "
            "fixed host and share them through the Store"
        )
    return (
        f"WeChat holds this IP as risky until the account's administrator confirms it ({where}):"
        " the administrator gets a prompt in WeChat; a refusal blocks the IP for an hour"
    )


def map_errcode(
    data: Mapping[str, Any],
    *,
    raw: bytes = b"",
    http_status: int = 200,
    secrets: Sequence[str] = (),
    idempotent: bool = False,
) -> PlatformError:
    """The typed error for a decoded answer whose errcode is not 0."""
    code = errcode_of(data)
    errmsg_value = data.get("errmsg")
    errmsg = scrub(errmsg_value if isinstance(errmsg_value, str) else "", secrets)
    if code in (40164, 89503):
        explanation: str | None = _whitelist(code, errmsg)
    else:
        explanation = _EXPLAIN.get(code)
    head = f"WeChat errcode {code}: {errmsg}" if errmsg else f"WeChat errcode {code}"
    text = f"{head} ({explanation})" if explanation else head
    common: dict[str, Any] = {
        "platform": "wechat",
        "code": code,
        "http_status": http_status,
        "request_id": request_id_of(errmsg),
        "details": explanation,
        "raw": raw,
    }
    if code in AUTH_CODES:
        return AuthenticationError(text, **common)
    if code in (40164, 89503) or code in _DENIED:
        return PermissionDenied(text, **common)
    if code in RULE_IDS and code not in (40032, 40018):
        return PolicyRejected(text, rule_id=RULE_IDS[code], **common)
    if code == 45009:
        return RateLimited(text, retry_after=None, **common)
    if code == 45011:
        return RateLimited(text, retry_after=60.0, **common)
    if code in _NOT_FOUND:
        return NotFound(text, **common)
    if code == -1:
        return ServerError(text, retryable=idempotent, **common)
    return InvalidRequest(text, **common)


def map_error(
    response: Response, secrets: Sequence[str] = (), *, idempotent: bool = False
) -> PlatformError:
    """The typed error for an answer that failed: an errcode (HTTP 200), or an HTTP error."""
    data = _body(response.body)
    if errcode_of(data) != 0:
        return map_errcode(
            data,
            raw=response.body,
            http_status=response.status,
            secrets=secrets,
            idempotent=idempotent,
        )
    status = response.status
    common: dict[str, Any] = {
        "platform": "wechat",
        "code": None,
        "http_status": status,
        "raw": response.body,
    }
    if status >= 500 or status == 200:  # 200 here: a body that is not WeChat's JSON
        return ServerError(f"WeChat answered HTTP {status} without an errcode", **common)
    if status == 429:
        return RateLimited(f"WeChat answered HTTP {status}", **common)
    if status == 404:
        return NotFound(f"WeChat answered HTTP {status} (is base_url right?)", **common)
    return InvalidRequest(f"WeChat answered HTTP {status}", **common)
