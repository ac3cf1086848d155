"""WeChat parametric QR codes (spec/wechat.md §10.1, §9; research §5): how a business starts
chats from a website or a shop.

One :class:`QrCodes` per Official Account answers ``POST /cgi-bin/qrcode/create``::

    {"expire_seconds": 604800, "action_name": "QR_SCENE",
     "action_info": {"scene": {"scene_id": 123}}}

-> ``{"ticket", "expire_seconds", "url"}`` for a temporary code (``QR_SCENE`` with a 32-bit
non-zero ``scene_id``, ``QR_STR_SCENE`` with a 1..64 character ``scene_str``), ``{"ticket",
"url"}`` for a permanent one (``QR_LIMIT_SCENE``, ``scene_id`` 1..100,000;
``QR_LIMIT_STR_SCENE``). ``expire_seconds`` defaults to 60 and is capped at 2,592,000 (30
days; that a larger value is capped rather than refused is UNVERIFIED). The ticket is
standard base64 (with ``+``, ``/`` and ``=``, as real ones: clients URL-encode it for
``showqrcode``) and the url ``http://weixin.qq.com/q/<22 characters>``.

Codes (the global code table as public SDKs quote it; not in spec §8): ``40052 invalid action
name``; ``40053 invalid action info`` for a missing or wrong scene. UNVERIFIED: ``47001`` for an
``expire_seconds`` that is not a positive integer; ``45029`` past :data:`PERMANENT_MAX`
permanent codes (int and str scenes counted together, UNVERIFIED too); ``45009`` past
:data:`DAILY_LIMIT` creations a day (§9).

A permanent code for a scene already made answers the same ticket again and counts once
(UNVERIFIED; real accounts report the same ticket). Tickets are deterministic given the call
order (a counter hashed with the account id).
"""

from __future__ import annotations

import base64
import hashlib
import struct
from typing import TYPE_CHECKING, Any

import attrs

from ...effects import SimFlow, SimRequest, SimResponse
from .errors import WeChatRefusal
from .tokens import Quota, answer, integer, json_object, post_only, reply

if TYPE_CHECKING:
    from omnimsg_sim.config import WeChatAccount

__all__ = [
    "ACTIONS",
    "DAILY_LIMIT",
    "DEFAULT_EXPIRE",
    "MAX_EXPIRE",
    "PERMANENT_MAX",
    "PERMANENT_SCENE_MAX",
    "SCENE_STR_MAX",
    "TEMP_SCENE_MAX",
    "QrCodes",
]

DEFAULT_EXPIRE = 60  # [doc-community] expire_seconds omitted: 60 s (an older mirror: 30)
MAX_EXPIRE = 2_592_000  # [doc] 30 days
TEMP_SCENE_MAX = 0xFFFF_FFFF  # [doc] "32-bit non-zero"; unsigned: UNVERIFIED
PERMANENT_SCENE_MAX = 100_000  # [doc]
SCENE_STR_MAX = 64  # [doc] 1..64 (characters; bytes or characters: UNVERIFIED)
PERMANENT_MAX = 100_000  # [doc] at most 100,000 permanent codes
DAILY_LIMIT = 100_000  # [doc §9] parametric QR: 100,000 a day
ACTIONS = ("QR_SCENE", "QR_STR_SCENE", "QR_LIMIT_SCENE", "QR_LIMIT_STR_SCENE")

_BAD_ACTION = "invalid action name"
_BAD_INFO = "invalid action info"
_TOO_MANY = "qrcode count out of limit"  # UNVERIFIED code and wording


@attrs.define
class _Code:
    ticket: str
    url: str
    scene: str
    permanent: bool
    created: float
    expires: float | None  # None: permanent


class QrCodes:
    """One account's QR codes."""

    def __init__(self, *, permanent_max: int = PERMANENT_MAX, daily_limit: int = DAILY_LIMIT):
        self.permanent_max = permanent_max
        self._codes: dict[str, _Code] = {}  # by ticket
        self._permanent: dict[tuple[bool, str], str] = {}  # (is str scene, scene) -> ticket
        self._quota = Quota(daily_limit)
        self._made = 0

    def clear_quotas(self) -> None:
        """``/cgi-bin/clear_quota``: the day's QR-code count starts again."""
        self._quota.clear()

    # --- the contract's views --------------------------------------------------------------

    def scene_of(self, ticket: str, now: float) -> str | None:
        """The scene (``scene_id`` as text, or ``scene_str``) of ``ticket``; ``None`` if the
        simulator did not make it or it is a temporary code past its expiry."""
        code = self._codes.get(ticket) if isinstance(ticket, str) else None
        if code is None or (code.expires is not None and now >= code.expires):
            return None
        return code.scene

    def is_permanent(self, ticket: str) -> bool | None:
        """Whether ``ticket`` is a permanent code (``None``: not one the simulator made)."""
        code = self._codes.get(ticket) if isinstance(ticket, str) else None
        return None if code is None else code.permanent

    def state(self) -> dict[str, Any]:
        """A JSON snapshot: counts, and the codes (their scenes and expiry)."""
        return {
            "permanent": len(self._permanent),
            "temporary": len(self._codes) - len(self._permanent),
            "codes": [
                {
                    "ticket": c.ticket,
                    "scene": c.scene,
                    "permanent": c.permanent,
                    "expires": c.expires,
                }
                for c in self._codes.values()
            ],
        }

    # --- routing ---------------------------------------------------------------------------

    def route(
        self, req: SimRequest, account: WeChatAccount, now: float
    ) -> SimFlow[SimResponse] | None:
        """The flow answering ``req`` if it is ``/cgi-bin/qrcode/create``, else ``None``."""
        if req.path != "/cgi-bin/qrcode/create" or req.method.upper() not in ("GET", "POST"):
            return None

        def run() -> SimResponse:
            post_only(req)
            return self._create(json_object(req), account, now)

        return answer(run)

    # --- creating --------------------------------------------------------------------------

    def _create(self, body: dict[str, Any], account: WeChatAccount, now: float) -> SimResponse:
        action = body.get("action_name")
        if not isinstance(action, str) or action not in ACTIONS:
            raise WeChatRefusal(40052, _BAD_ACTION)
        permanent = action.startswith("QR_LIMIT_")
        by_str = action.endswith("STR_SCENE")
        info = body.get("action_info")
        scene_obj = info.get("scene") if isinstance(info, dict) else None
        if not isinstance(scene_obj, dict):
            raise WeChatRefusal(40053, _BAD_INFO)
        scene = self._scene(scene_obj, by_str=by_str, permanent=permanent)
        expire = None if permanent else self._expire(body.get("expire_seconds"))
        if self._quota.full(now):
            raise WeChatRefusal(45009)
        if permanent:
            known = self._permanent.get((by_str, scene))
            if known is not None:
                self._quota.take(now)
                code = self._codes[known]
                return reply({"ticket": code.ticket, "url": code.url})
            if len(self._permanent) >= self.permanent_max:
                raise WeChatRefusal(45029, _TOO_MANY)
        self._quota.take(now)
        code = self._new(account, scene, permanent, now, expire)
        if permanent:
            self._permanent[(by_str, scene)] = code.ticket
            return reply({"ticket": code.ticket, "url": code.url})
        return reply({"ticket": code.ticket, "expire_seconds": expire, "url": code.url})

    @staticmethod
    def _scene(scene: dict[str, Any], *, by_str: bool, permanent: bool) -> str:
        if by_str:
            value = scene.get("scene_str")
            if not isinstance(value, str) or not 1 <= len(value) <= SCENE_STR_MAX:
                raise WeChatRefusal(40053, _BAD_INFO)
            if any(ord(ch) < 0x20 or 0xD800 <= ord(ch) <= 0xDFFF for ch in value):
                raise WeChatRefusal(40053, _BAD_INFO)  # UNVERIFIED: control characters
            return value
        number = integer(scene.get("scene_id"))
        top = PERMANENT_SCENE_MAX if permanent else TEMP_SCENE_MAX
        if number is None or not 1 <= number <= top:
            raise WeChatRefusal(40053, _BAD_INFO)
        return str(number)

    @staticmethod
    def _expire(value: Any) -> int:
        if value is None:
            return DEFAULT_EXPIRE
        seconds = integer(value)
        if seconds is None or seconds < 1:
            raise WeChatRefusal(47001)  # UNVERIFIED
        return min(seconds, MAX_EXPIRE)

    def _new(
        self,
        account: WeChatAccount,
        scene: str,
        permanent: bool,
        now: float,
        expire: int | None,
    ) -> _Code:
        self._prune(now)
        while True:
            self._made += 1
            seed = f"omnimsg-sim:wechat-qr:{account.account_id}:{self._made}".encode()
            digest = hashlib.sha256(seed).digest()
            path = base64.urlsafe_b64encode(digest).decode()[:22]
            url = f"http://weixin.qq.com/q/{path}"
            # The shape of a real ticket: a header, the url, the creation time and lifetime.
            created = int(now) & 0xFFFF_FFFF
            lifetime = 0 if expire is None else expire
            raw = (
                b"\x81\x01"
                + digest[:6]
                + b"\x00\x00\x00\x00\x00\x00\x00\x01,"
                + url.encode()
                + b"\x00\x02\x04"
                + struct.pack("<I", created)
                + b"\x03\x04"
                + struct.pack("<I", lifetime)
            )
            ticket = base64.b64encode(raw).decode()
            if ticket not in self._codes:
                break
        code = _Code(
            ticket=ticket,
            url=url,
            scene=scene,
            permanent=permanent,
            created=now,
            expires=None if expire is None else now + expire,
        )
        self._codes[ticket] = code
        return code

    def _prune(self, now: float) -> None:
        """Forget temporary codes expired a day ago (every 256th code: cheap, bounded)."""
        if self._made % 256:
            return
        for ticket in [
            t for t, c in self._codes.items() if c.expires is not None and c.expires + 86_400 <= now
        ]:
            del self._codes[ticket]
