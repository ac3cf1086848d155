"""WeChat access tokens (spec/wechat.md §4, §8, §9; research §1.3, §4), on the virtual clock.

:class:`Tokens` answers both token endpoints of every configured Official Account:

* ``GET /cgi-bin/token?grant_type=client_credential&appid=&secret=`` (the classic token):
  every fetch issues a new token and **replaces** the previous one, which keeps working for
  ``token_grace`` seconds (5 minutes) and is then ``40001``; the one before it stops at once.
  At most ``token_daily_limit`` (2,000) fetches a day, then ``45009``.
* ``POST /cgi-bin/stable_token`` with the JSON ``{"grant_type", "appid", "secret",
  "force_refresh"}``: in normal mode the **same** token while it is valid, with the
  remaining lifetime as ``expires_in`` (always >= 300); within ``token_grace`` of its expiry
  a new one is issued and the old one keeps working until it expires. ``force_refresh`` issues
  a new one at once (the previous keeps ``token_grace``, the one before it stops), at most
  20 a day and 30 s apart: a second force within 30 s "does not refresh" (research §4) and
  answers the current token.

The two spaces are isolated: a classic fetch never invalidates a stable token, nor the other
way round. Tokens are ~130 characters of ``[A-Za-z0-9_-]`` (real ones are 130-160), made
from a counter hashed with the app id: deterministic given the call order, never derived
from the secret.

The caller's IP (for the whitelist, ``40164 invalid ip X ipv6 ::ffff:X, not in whitelist``)
is not in :class:`~omnimsg_sim.effects.SimRequest`, which carries no peer address: it is the
first ``X-Forwarded-For`` entry, else ``X-Real-IP``, else ``127.0.0.1`` (an in-process
simulator has no peer; a test names its IP with the header). An unparsable header is ignored.

Quotas count by day in China Standard Time (UTC+8): that the counters reset at Beijing
midnight is UNVERIFIED (the docs say "per day").

This module also holds the few helpers the other WeChat route modules share
(:func:`answer`, :func:`json_object`, :func:`integer`, :class:`Quota`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal

import attrs

from omnimsg.rules.wechat import QUOTA_DAY_OFFSET

from ... import safejson
from ...effects import SimFlow, SimRequest, SimResponse
from .errors import WeChatRefusal

if TYPE_CHECKING:
    from omnimsg_sim.config import WeChatAccount

__all__ = [
    "BAD_SECRET",
    "FORCE_GAP",
    "FORCE_PER_DAY",
    "STABLE_PER_DAY",
    "STABLE_PER_MINUTE",
    "Quota",
    "Tokens",
    "answer",
    "caller_ip",
    "integer",
    "is_whitelisted",
    "json_object",
    "not_whitelisted",
    "post_only",
    "reply",
    "text_ok",
]

Space = Literal["classic", "stable"]

BAD_SECRET = 40125
"""A wrong AppSecret: ``40125 invalid appsecret`` (not in spec §8, whose 40001 row says "bad
AppSecret" for old behaviour; seen live in ghwmx/WeiXinPost#2 and
other-blowsnow/n8n-nodes-wechat-offiaccount#2: ``invalid appsecret rid: ...``)."""

FORCE_PER_DAY = 20  # [doc] stable_token force_refresh: 20 a day
FORCE_GAP = 30.0  # [doc] ... at least 30 s apart, "otherwise it will not refresh"
STABLE_PER_DAY = 500_000  # [doc] stable_token: 500,000 a day
STABLE_PER_MINUTE = 10_000  # [doc] ... and 10,000 a minute
DAY = 86_400.0
CHINA_OFFSET = QUOTA_DAY_OFFSET  # UNVERIFIED: quotas reset at Beijing midnight (UTC+8)
_HISTORY = 86_400.0  # tokens expired this long ago are forgotten (then 40001, not 42001)
_FIELD_MAX = 512

# --- shared by the WeChat route modules ------------------------------------------------------


def answer(handler: Callable[[], SimResponse]) -> SimFlow[SimResponse]:
    """A flow that needs no effect: ``handler``'s answer, or its refusal rendered."""
    yield from ()
    try:
        return handler()
    except WeChatRefusal as refused:
        return refused.response()


def reply(data: dict[str, Any]) -> SimResponse:
    """A success answer holding only ``data`` (WeChat's data answers carry no errcode), as
    :func:`~omnimsg_sim.platforms.wechat.errors.ok` renders: UTF-8, not ASCII-escaped."""
    return SimResponse(
        status=200,
        body=json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode(),
        content_type="application/json; encoding=utf-8",
    )


def json_object(req: SimRequest) -> dict[str, Any]:
    """The request body, a JSON object, whatever the Content-Type (wechatpy sends none).

    Raises:
        WeChatRefusal: 44002 for an empty body, 47001 for one that is not a JSON object
            (bad JSON, NaN, 1e400, lone surrogates, too deep: :mod:`omnimsg_sim.safejson`).
    """
    if not req.body.strip():
        raise WeChatRefusal(44002)
    try:
        value = safejson.loads(req.body)
    except safejson.BadJSON:
        raise WeChatRefusal(47001) from None
    if not isinstance(value, dict):
        raise WeChatRefusal(47001)
    return value


def integer(value: Any) -> int | None:
    """A JSON integer (not a bool, not a float), or ``None``."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def post_only(req: SimRequest) -> None:
    """Refuse anything but POST: ``43002 require POST method`` (spec §8)."""
    if req.method.upper() != "POST":
        raise WeChatRefusal(43002)


def text_ok(value: str) -> bool:
    """Encodable as UTF-8 (no lone surrogates: query values may hold them)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@attrs.define
class Quota:
    """A call counter per window (a day in UTC+8 by default): ``limit`` calls, then full."""

    limit: int
    span: float = DAY
    offset: float = CHINA_OFFSET
    window: int = -1
    used: int = 0

    def _window(self, now: float) -> int:
        if not math.isfinite(now):  # pragma: no cover - the clock is finite
            return self.window
        return int((now + self.offset) // self.span)

    def full(self, now: float) -> bool:
        """Is the window of ``now`` used up?"""
        return self.count(now) >= self.limit

    def count(self, now: float) -> int:
        """Calls taken in the window of ``now``."""
        return self.used if self._window(now) == self.window else 0

    def take(self, now: float) -> None:
        """Count one call."""
        window = self._window(now)
        if window != self.window:
            self.window, self.used = window, 0
        self.used += 1

    def clear(self) -> None:
        """Forget the calls counted so far (``/cgi-bin/clear_quota``)."""
        self.used = 0


def caller_ip(req: SimRequest) -> str:
    """The caller's IP as the simulator sees it (see the module doc)."""
    candidates = [
        req.headers.get("x-forwarded-for", "").split(",")[0],
        req.headers.get("x-real-ip", ""),
    ]
    for value in candidates:
        value = value.strip()
        if not value or len(value) > 64:
            continue
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            continue
    return "127.0.0.1"


def is_whitelisted(ip: str, whitelist: Sequence[str]) -> bool:
    """Is ``ip`` allowed by ``whitelist`` (empty: any caller; IPv4-mapped IPv6 matches)?"""
    if not whitelist:
        return True
    try:
        seen = ipaddress.ip_address(ip)
    except ValueError:
        return ip in whitelist
    plain = seen.ipv4_mapped if isinstance(seen, ipaddress.IPv6Address) else None
    for entry in whitelist:
        try:
            allowed = ipaddress.ip_address(entry.strip())
        except ValueError:
            if entry.strip() == ip:
                return True
            continue
        if allowed in (seen, plain):
            return True
    return False


def not_whitelisted(ip: str) -> WeChatRefusal:
    """[community] ``invalid ip 1.2.3.4 ipv6 ::ffff:1.2.3.4, not in whitelist`` (research §4)."""
    shown = f"{ip} ipv6 ::ffff:{ip}" if "." in ip and ":" not in ip else ip
    return WeChatRefusal(40164, f"invalid ip {shown}, not in whitelist")


_whitelisted = is_whitelisted  # the names sim.py first imported
_not_whitelisted = not_whitelisted


# --- the tokens ------------------------------------------------------------------------------


@attrs.define
class _Token:
    value: str
    account_id: str
    space: Space
    issued: float
    expires: float
    replaced: float | None = None  # when a newer token of its space replaced it


@attrs.define
class _Space:
    """One account's tokens of one space: the newest and the one it replaced."""

    current: _Token | None = None
    previous: _Token | None = None
    fetches: int = 0  # successful calls since the start
    issued: int = 0  # tokens made
    forced: int = 0  # stable: force refreshes that rotated
    last_force: float | None = None


@attrs.define
class _Account:
    account: WeChatAccount
    classic: _Space
    stable: _Space
    classic_quota: Quota
    stable_quota: Quota
    stable_minute: Quota
    force_quota: Quota

    def space(self, which: Space) -> _Space:
        return self.classic if which == "classic" else self.stable


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(
        given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )


class Tokens:
    """The access tokens of every configured WeChat account (both spaces)."""

    def __init__(self, accounts: Sequence[WeChatAccount]) -> None:
        self._accounts: dict[str, _Account] = {}
        self._by_app: dict[str, str] = {}
        for account in accounts:
            self._accounts[account.account_id] = _Account(
                account=account,
                classic=_Space(),
                stable=_Space(),
                classic_quota=Quota(account.token_daily_limit),
                stable_quota=Quota(STABLE_PER_DAY),
                stable_minute=Quota(STABLE_PER_MINUTE, span=60.0, offset=0.0),
                force_quota=Quota(FORCE_PER_DAY),
            )
            self._by_app.setdefault(account.app_id, account.account_id)
        self._tokens: dict[str, _Token] = {}
        self._made = 0
        self._now = -math.inf

    def clear_quotas(self, account_id: str) -> None:
        """``/cgi-bin/clear_quota``: the day's fetch counters of ``account_id`` start again
        (the per-minute one and the 20 forced refreshes are left: UNVERIFIED either way)."""
        entry = self._accounts.get(account_id)
        if entry is not None:
            entry.classic_quota.clear()
            entry.stable_quota.clear()

    # --- the contract's views --------------------------------------------------------------

    def account_for(self, access_token: str, now: float) -> str | None:
        """The account_id ``access_token`` belongs to, if it is valid at ``now``."""
        record = self._tokens.get(access_token) if isinstance(access_token, str) else None
        if record is None or self._problem(record, now) is not None:
            return None
        return record.account_id

    def why_invalid(self, access_token: str, now: float) -> int:
        """The errcode for a token :meth:`account_for` refuses: ``41001`` none given,
        ``42001`` expired, ``40001`` replaced by a newer fetch or never issued (``0``: it
        is valid)."""
        if not isinstance(access_token, str) or not access_token:
            return 41001
        record = self._tokens.get(access_token)
        if record is None:
            return 40001
        return self._problem(record, now) or 0

    def fetches(self, account_id: str) -> int:
        """Successful token calls of ``account_id`` since the start, both spaces (a stable
        call that answers the same token counts too). Counted from the start rather than
        per day so that a test spanning midnight (virtual) can prove "one fetch per token
        lifetime"; today's counts are in :meth:`state`."""
        entry = self._accounts.get(account_id)
        if entry is None:
            return 0
        return entry.classic.fetches + entry.stable.fetches

    def state(self) -> dict[str, Any]:
        """A JSON snapshot of counts per account (never a token value)."""
        now = self._now
        out: dict[str, Any] = {}
        for account_id, entry in self._accounts.items():
            out[account_id] = {
                "classic": {
                    "fetches": entry.classic.fetches,
                    "today": entry.classic_quota.count(now),
                    "daily_limit": entry.classic_quota.limit,
                    "valid": self._valid_count(entry.classic, now),
                },
                "stable": {
                    "calls": entry.stable.fetches,
                    "issued": entry.stable.issued,
                    "today": entry.stable_quota.count(now),
                    "forced_today": entry.force_quota.count(now),
                    "valid": self._valid_count(entry.stable, now),
                },
            }
        return {"tokens": out}

    # --- routing ---------------------------------------------------------------------------

    def route(self, req: SimRequest, now: float) -> SimFlow[SimResponse] | None:
        """The flow answering ``req`` if it is a token endpoint, else ``None``."""
        method = req.method.upper()
        if req.path == "/cgi-bin/token":
            if method == "GET":
                return answer(lambda: self._classic(req, now))
            if method == "POST":
                # UNVERIFIED: 43001 "require GET method" (global table, not in spec §8)
                return answer(lambda: _refuse(43001, "require GET method"))
            return None
        if req.path == "/cgi-bin/stable_token":
            if method in ("GET", "POST"):
                return answer(lambda: self._stable(req, now))
            return None
        return None

    # --- checking a fetch ------------------------------------------------------------------

    def _credentials(
        self, req: SimRequest, grant: Any, appid: Any, secret: Any, *, body: bool
    ) -> _Account:
        """The account a fetch names; refusals in WeChat's order (UNVERIFIED order: grant
        type, app id, secret, caller IP)."""
        if grant is None or grant == "":
            raise WeChatRefusal(40002)
        if not isinstance(grant, str) or grant != "client_credential":
            raise WeChatRefusal(40002)
        if appid is None or appid == "":
            raise WeChatRefusal(41002)
        if not isinstance(appid, str) or len(appid) > _FIELD_MAX:
            raise WeChatRefusal(47001 if body else 40013)
        account_id = self._by_app.get(appid)
        if account_id is None:
            raise WeChatRefusal(40013)
        entry = self._accounts[account_id]
        if secret is None or secret == "":
            raise WeChatRefusal(41004)
        if not isinstance(secret, str) or len(secret) > _FIELD_MAX:
            raise WeChatRefusal(47001 if body else BAD_SECRET)
        if not _same(secret, entry.account.app_secret):
            raise WeChatRefusal(BAD_SECRET)
        ip = caller_ip(req)
        if not is_whitelisted(ip, entry.account.ip_whitelist):
            raise not_whitelisted(ip)
        return entry

    def _classic(self, req: SimRequest, now: float) -> SimResponse:
        self._see(now)
        entry = self._credentials(
            req, req.arg("grant_type"), req.arg("appid"), req.arg("secret"), body=False
        )
        if entry.classic_quota.full(now):
            raise WeChatRefusal(45009)
        entry.classic_quota.take(now)
        space = entry.classic
        space.fetches += 1
        token = self._issue(entry, "classic", now)
        return reply({"access_token": token.value, "expires_in": int(entry.account.token_ttl)})

    def _stable(self, req: SimRequest, now: float) -> SimResponse:
        self._see(now)
        post_only(req)
        body = json_object(req)
        entry = self._credentials(
            req, body.get("grant_type"), body.get("appid"), body.get("secret"), body=True
        )
        force = body.get("force_refresh", False)
        if force is None:
            force = False
        if not isinstance(force, bool):
            raise WeChatRefusal(47001)  # UNVERIFIED: a non-boolean force_refresh
        if entry.stable_quota.full(now):
            raise WeChatRefusal(45009)
        if entry.stable_minute.full(now):
            raise WeChatRefusal(45011, "api minute-quota reach limit")
        space = entry.stable
        current = space.current
        # [doc] a force within 30 s of the last one "will not refresh": the current token
        forcing = force and (space.last_force is None or now - space.last_force >= FORCE_GAP)
        if forcing and entry.force_quota.full(now):
            raise WeChatRefusal(45009)  # UNVERIFIED: the code past 20 forces a day
        rotate = (
            forcing
            or current is None
            or now >= current.expires - entry.account.token_grace  # [doc] renewed 5 min early
        )
        # every check passed: count and answer
        entry.stable_quota.take(now)
        entry.stable_minute.take(now)
        space.fetches += 1
        if forcing:
            entry.force_quota.take(now)
            space.forced += 1
            space.last_force = now
        token = self._issue(entry, "stable", now) if rotate else current
        assert token is not None
        left = max(0, math.floor(token.expires - now))
        return reply({"access_token": token.value, "expires_in": left})

    # --- issuing and validity --------------------------------------------------------------

    def _see(self, now: float) -> None:
        if math.isfinite(now) and now > self._now:
            self._now = now

    def _issue(self, entry: _Account, which: Space, now: float) -> _Token:
        self._prune(now)
        account = entry.account
        while True:
            self._made += 1
            seed = f"omnimsg-sim:wechat-token:{which}:{account.app_id}:{self._made}".encode()
            digest = hashlib.sha512(seed).digest()
            tail = hashlib.sha256(b"tail:" + digest).digest()
            value = "90_" + _b64(digest) + _b64(tail)
            if value not in self._tokens:
                break
        token = _Token(value, account.account_id, which, now, now + account.token_ttl)
        space = entry.space(which)
        old = space.current
        if old is not None:
            old.replaced = now
        # the one before the previous stops at once (it stays known: 40001, not unknown)
        space.previous, space.current = old, token
        space.issued += 1
        self._tokens[value] = token
        return token

    def _problem(self, record: _Token, now: float) -> int | None:
        """``None`` if ``record`` is valid at ``now``, else 42001 (expired) or 40001."""
        entry = self._accounts.get(record.account_id)
        if entry is None:  # pragma: no cover - tokens are only issued for accounts
            return 40001
        if now >= record.expires:
            return 42001
        space = entry.space(record.space)
        if record is space.current:
            return None
        replaced = record.replaced
        if record is space.previous and replaced is not None:
            return None if now < replaced + entry.account.token_grace else 40001
        return 40001

    def _valid_count(self, space: _Space, now: float) -> int:
        return sum(
            1
            for record in (space.current, space.previous)
            if record is not None and self._problem(record, now) is None
        )

    def _prune(self, now: float) -> None:
        """Forget tokens long expired (every 256th issue: cheap, bounded)."""
        if self._made % 256:
            return
        for value in [v for v, r in self._tokens.items() if r.expires + _HISTORY <= now]:
            record = self._tokens[value]
            space = self._accounts[record.account_id].space(record.space)
            if record is not space.current and record is not space.previous:
                del self._tokens[value]


def _refuse(errcode: int, errmsg: str | None = None) -> SimResponse:
    raise WeChatRefusal(errcode, errmsg)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
