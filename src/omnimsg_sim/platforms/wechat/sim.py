"""The simulated WeChat Official Account API (spec/wechat.md), served at the real
``/cgi-bin/...`` paths of ``api.weixin.qq.com`` on the simulator's one port.

A request is checked in WeChat's order: the token endpoints first (:mod:`.tokens`, no
``access_token`` needed); then ``access_token`` (missing ``41001``, expired ``42001``,
replaced after its 5-minute grace or never issued ``40001``, malformed ``40014``), the IP
whitelist (``40164``, the caller's IP as :func:`.tokens.caller_ip` sees it; that it applies
to every API and not only the token fetch is UNVERIFIED), and only then the route. Every API
error is HTTP 200 with ``{"errcode", "errmsg"}`` (:mod:`.errors`); bodies are JSON whatever
the Content-Type (wechatpy sends none). Tags, QR codes, menus and user info are
:mod:`.tags`', :mod:`.qrcode`'s, :mod:`.menu`'s and :mod:`.users`'; this module serves the
customer-service API (the window of spec §5.1), media, template and subscribe messages, and
``/cgi-bin/clear_quota``. Successful template and customer-service sends count against the
account's daily quotas (§9: ``template_daily_limit``, ``custom_send_daily_limit``; a day in
Beijing time, UNVERIFIED), then ``45009``, checked after the body, the recipient and the
window (WeChat's order is UNVERIFIED); a repeated ``client_msg_id`` counts nothing.

Webhooks (§1-§3) are XML in the account's mode: ``signature``, ``timestamp``, ``nonce`` and
``openid`` in the query; in compatible and safe mode also ``encrypt_type=aes`` and
``msg_signature``, the body ``<xml><ToUserName/><Encrypt/></xml>`` (safe) or the plaintext
fields and ``<Encrypt>`` (compatible), made with the SDK's own pure functions
(:mod:`omnimsg.platforms.wechat.crypto`).

**The 5-second passive-reply timeout.** :class:`~omnimsg_sim.effects.DeliveryOutcome` has no
elapsed time, so the simulator measures the app's answer on the virtual clock: when an
attempt goes out is remembered (when it was built, or when a retry of it was scheduled), and
``answered`` compares it with the time the answer came. An app that takes longer (its handler
moved the clock, ``/_sim/clock/advance``, or the clock runs) has answered too late: the answer
counts as none, and WeChat sends the same XML again (the same MsgId and CreateTime) at once,
up to ``deliveries`` attempts in all. An answer that never came within ``[sim]
webhook_timeout`` of real time, or a non-2xx answer, is the core's failed delivery: it is
retried on the delivery's own ``retry_delays``, at once, up to ``deliveries`` attempts in all
too (Meta's platforms keep ``[sim] webhook_retry_delays``).

A passive reply (XML, encrypted in safe mode; either in compatible mode) is decoded in
``answered``: decrypted, its ``MsgSignature`` checked, its fields checked, and recorded in the
outbox as a message from the account to the customer (it needs no window). ``success`` or an
empty body means "no reply". Anything else WeChat could not show (bad XML, JSON, a wrong
signature, an empty text, news of 2+ articles answering a user message, unknown media) is
refused: the user would see "该公众号暂时无法提供服务,请稍后再试" (UNAVAILABLE); the control plane lists it
(``GET /_sim/state``: ``passive_replies.refused``).
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import attrs

from omnimsg.exceptions import ConfigurationError
from omnimsg.platforms.wechat import crypto

from ...config import WeChatAccount
from ...effects import Delivery, DeliveryOutcome, Pause, SimFlow, SimRequest, SimResponse
from ...faults import Faults
from ...world import OutboxEntry, World
from ..adapter import Deliverer
from .errors import WeChatRefusal, ok, wechat_error
from .inbound import MESSAGES, Action, Refused, parse
from .menu import Menu
from .qrcode import QrCodes
from .state import Account, Follower, Media, Refusal
from .tags import Tags
from .tokens import CHINA_OFFSET, Tokens, _not_whitelisted, _whitelisted, caller_ip, json_object
from .users import route as users_route
from .wire import BadXML, XmlValue, build_xml, check_custom, describe, parse_xml

__all__ = ["MEDIA_LIMITS", "WeChatDelivery", "WeChatSim"]

MEDIA_LIMITS = {
    "image": 10 << 20,  # 10 MB (the same page's summary says 2 MB: conflicting, §5.4)
    "voice": 2 << 20,
    "video": 10 << 20,
    "thumb": 64 << 10,
}
"""Temporary material limits by ``type`` (spec §5.4)."""

UNAVAILABLE = "该公众号暂时无法提供服务\uff0c请稍后再试"
"""What the user sees when a reply is invalid or none came in time (spec §3.4)."""

TYPING_SPAN = 15.0  # a typing state lasts 15 s (§5.3)
TYPING_NEEDS = 30.0  # ... and needs an exchange with the user in the last 30 s
EVENT_WINDOW = ("subscribe", "SCAN", "CLICK", "scancode_push", "scancode_waitmsg")
"""Events that open the short customer-service window (§5.1)."""
NO_REPLY_EVENTS = ("unsubscribe", "TEMPLATESENDJOBFINISH", "subscribe_msg_popup_event")
"""Events whose answer WeChat does not read: there is nobody, or nothing, to reply to."""
REPLY_TYPES = ("text", "image", "voice", "video", "music", "news", "transfer_customer_service")
_OPENID = re.compile(r"[0-9A-Za-z_-]{1,64}")
_TOKEN = re.compile(r"[0-9A-Za-z_-]{16,512}")
_ANSWERED_KEPT = 10_000


@attrs.frozen(kw_only=True)
class WeChatDelivery(Delivery):
    """A WeChat webhook: the customer it is about and what a passive reply may be.

    ``replyable``: WeChat reads a passive reply in the answer; ``to_message``: it answers a
    user message (a news reply then has one article at most, §3.5).
    """

    openid: str = ""
    replyable: bool = False
    to_message: bool = False


def _again(_now: float, delivery: Delivery) -> Delivery:
    return delivery


def _outbox_text(raw: bytes) -> str | None:
    return describe(json.loads(raw))


class WeChatSim:
    """Routes, state and webhooks of the simulated WeChat Official Accounts (a
    :class:`~omnimsg_sim.platforms.adapter.SimPlatform`)."""

    name = "wechat"
    operations: tuple[tuple[str, str], ...] = ()

    def __init__(self, accounts: Sequence[WeChatAccount], world: World, faults: Faults) -> None:
        self.world = world
        self.faults = faults
        self.officials: dict[str, Account] = {a.account_id: Account(a) for a in accounts}
        self.tokens = Tokens(accounts)
        self.tags: dict[str, Tags] = {a.account_id: Tags() for a in accounts}
        self.qrcodes: dict[str, QrCodes] = {a.account_id: QrCodes() for a in accounts}
        self.menus: dict[str, Menu] = {a.account_id: Menu() for a in accounts}
        # When each attempt went out, virtual time, by (delivery id, attempt).
        self._starts: dict[tuple[int, int], float] = {}
        self._answered: OrderedDict[tuple[int, int], None] = OrderedDict()
        self._msgid = int(world.digits(9))
        self._routes: dict[str, Callable[[SimRequest, Account], SimResponse]] = {
            "/cgi-bin/message/custom/send": self._custom_send,
            "/cgi-bin/message/custom/typing": self._typing,
            "/cgi-bin/media/upload": self._upload,
            "/cgi-bin/media/get": self._media_get,
            "/cgi-bin/message/template/send": self._template_send,
            "/cgi-bin/message/subscribe/bizsend": self._subscribe_send,
            "/cgi-bin/clear_quota": self._clear_quota,
        }

    # --- the seam ----------------------------------------------------------------------

    def accounts(self) -> list[str]:
        """The original ids (``gh_...``) served."""
        return sorted(self.officials)

    def error(self, status: int, message: str) -> SimResponse:
        """WeChat's envelope for an error the core answers (a body too large)."""
        errcode = 45002 if status == 413 else 47001
        answer = wechat_error(errcode, message)
        return attrs.evolve(answer, status=status)

    def control(
        self, req: SimRequest, operation: str, body: Any, deliver: Deliverer
    ) -> SimFlow[SimResponse] | None:
        """No control operations of its own: customer actions (QR scans, menu clicks,
        consents) go through ``/_sim/inbound``, the echostr handshake through
        ``/_sim/webhooks/verify``."""
        return None

    def state(self) -> dict[str, Any]:
        """A JSON snapshot for ``GET /_sim/state`` (token counts only, never a value)."""
        now = self.world.now()
        tokens = self.tokens.state().get("tokens", {})
        return {
            account_id: {
                **acct.to_json(now),
                "tokens": tokens.get(account_id, {}),
                "qrcodes": self.qrcodes[account_id].state(),
                "menu": self.menus[account_id].state(),
                "tags": self.tags[account_id].state(),
            }
            for account_id, acct in self.officials.items()
        }

    def _account(self, account: Any) -> Account | None:
        if account is None:
            return next(iter(self.officials.values())) if len(self.officials) == 1 else None
        return self.officials.get(account) if isinstance(account, str) else None

    # --- routing -----------------------------------------------------------------------

    def route(self, req: SimRequest) -> SimFlow[SimResponse] | None:
        """The flow answering a request on WeChat's paths, or ``None``."""
        if not req.path.startswith("/cgi-bin/"):
            return None
        return self._serve(req)

    def _serve(self, req: SimRequest) -> SimFlow[SimResponse]:
        now = self.world.now()
        flow = self.tokens.route(req, now)
        if flow is not None:
            return (yield from flow)
        who = self._authenticate(req, now)
        if isinstance(who, WeChatRefusal):
            return who.response()
        acct, cfg = who, who.cfg
        account_id = cfg.account_id
        for routed in (
            self.menus[account_id].route(req, cfg, now),
            self.qrcodes[account_id].route(req, cfg, now),
            self.tags[account_id].route(req, cfg, acct.followers, now),
            users_route(req, cfg, acct.followers, self.tags[account_id], now),
        ):
            if routed is not None:
                return (yield from routed)
        handler = self._routes.get(req.path)
        if handler is None:
            return wechat_error(48001)  # UNVERIFIED: what an unknown API answers
        op = req.path.removeprefix("/cgi-bin/").replace("/", ".")
        stop = yield from self._fault(op, account_id)
        if stop is not None:
            return stop
        try:
            return handler(req, acct)
        except WeChatRefusal as refusal:
            return refusal.response()

    def _authenticate(self, req: SimRequest, now: float) -> Account | WeChatRefusal:
        token = req.arg("access_token")
        if not token:
            return WeChatRefusal(41001)
        account_id = self.tokens.account_for(token, now)
        if account_id is None or account_id not in self.officials:
            code = self.tokens.why_invalid(token, now)
            if code in (0, 40001) and not _TOKEN.fullmatch(token):
                code = 40014  # not a token's shape at all
            return WeChatRefusal(code or 40001)
        acct = self.officials[account_id]
        ip = caller_ip(req)
        if not _whitelisted(ip, acct.cfg.ip_whitelist):
            return _not_whitelisted(ip)
        return acct

    def _fault(self, op: str, account_id: str) -> SimFlow[SimResponse | None]:
        fault = self.faults.take(self.name, f"wechat.{op}", account_id, None)
        if fault is None:
            return None
        if fault.latency_ms:
            yield Pause(fault.latency_ms / 1000.0)
        if fault.code is not None:
            return wechat_error(fault.code, fault.message)
        if fault.status is not None:
            return attrs.evolve(wechat_error(-1, fault.message), status=fault.status)
        return None

    # --- customer-service messages (§5) -----------------------------------------------------

    def _live(self, acct: Account) -> Callable[[str], Media | None]:
        now = self.world.now()
        return lambda media_id: acct.live_media(media_id, now)

    def _post(self, req: SimRequest) -> dict[str, Any]:
        if req.method.upper() != "POST":
            raise WeChatRefusal(43002)
        return json_object(req)

    def _follower(self, acct: Account, openid: Any) -> Follower:
        follower = acct.followers.get(openid) if isinstance(openid, str) else None
        if follower is None:
            raise WeChatRefusal(40003)
        if not follower.following:
            raise WeChatRefusal(43004)
        return follower

    def _custom_send(self, req: SimRequest, acct: Account) -> SimResponse:
        body = self._post(req)
        touser, msgtype = check_custom(body, acct, self._live(acct))
        follower = self._follower(acct, touser)
        now = self.world.now()
        window = follower.window_for(now)
        if window == "closed":
            raise WeChatRefusal(45015)
        if window == "spent":
            raise WeChatRefusal(45047)
        assert not isinstance(window, str)
        if acct.custom_quota.full(now):
            raise WeChatRefusal(45009)  # §9: 500,000 a day (after the window: UNVERIFIED order)
        # --- checked: from here on, state changes ---
        window.remaining -= 1
        follower.typing_until = float("-inf")  # sending a message cancels typing (§5.3)
        acct.cs_sent += 1
        acct.custom_quota.take(now)
        raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        self._sent(acct, touser, f"cs.{self.world.next_seq()}", msgtype, raw)
        return ok()

    def _sent(
        self,
        acct: Account,
        openid: str,
        message_id: str,
        kind: str,
        raw: bytes,
        text: str | Callable[[bytes], str | None] | None = _outbox_text,
    ) -> None:
        self.world.sent(
            OutboxEntry(
                seq=self.world.next_seq(),
                platform=self.name,
                account=acct.cfg.account_id,
                user=openid,
                message_id=message_id,
                type=kind,
                text=text,
                timestamp=self.world.now(),
                raw=raw,
            )
        )

    def _typing(self, req: SimRequest, acct: Account) -> SimResponse:
        body = self._post(req)
        follower = self._follower(acct, body.get("touser"))
        command = body.get("command")
        if command not in ("Typing", "CancelTyping"):
            raise WeChatRefusal(45072)
        now = self.world.now()
        if command == "CancelTyping":
            follower.typing_until = float("-inf")
            return ok()
        if now - follower.last_exchange > TYPING_NEEDS:
            raise WeChatRefusal(45080)
        if follower.typing_until > now:
            raise WeChatRefusal(45081)
        follower.typing_until = now + TYPING_SPAN
        return ok()

    # --- media (§5.4) -------------------------------------------------------------------

    def _upload(self, req: SimRequest, acct: Account) -> SimResponse:
        from ..whatsapp.media import parse_multipart

        if req.method.upper() != "POST":
            raise WeChatRefusal(43002)
        kind = req.arg("type")
        if kind not in MEDIA_LIMITS:
            raise WeChatRefusal(40004)
        _fields, files = parse_multipart(req.headers.get("content-type", ""), req.body)
        upload = files.get("media")
        if upload is None:
            raise WeChatRefusal(41005, "media data missing")
        filename, content_type, data = upload
        if not data:
            raise WeChatRefusal(41005, "media data missing")
        if len(data) > MEDIA_LIMITS[kind]:
            raise WeChatRefusal(45001)
        now = self.world.now()
        media_id = self.world.token(64)
        acct.media[media_id] = Media(
            media_id=media_id,
            type=kind,
            created_at=int(now),
            data=data,
            content_type=content_type,
            filename=filename,
        )
        key = "thumb_media_id" if kind == "thumb" else "media_id"  # WeChat's own quirk
        return _json({"type": kind, key: media_id, "created_at": int(now)})

    def _media_get(self, req: SimRequest, acct: Account) -> SimResponse:
        media_id = req.arg("media_id")
        if not media_id:
            raise WeChatRefusal(41006)
        media = acct.live_media(media_id, self.world.now())
        if media is None:
            raise WeChatRefusal(40007)
        disposition = f'attachment; filename="{media.filename or media.media_id}"'
        return SimResponse(
            status=200,
            body=media.data,
            content_type=media.content_type,
            headers=(("content-disposition", disposition.encode("ascii", "replace").decode()),),
        )

    # --- template and subscribe messages (§6) -------------------------------------------

    def _template_send(self, req: SimRequest, acct: Account) -> SimResponse:
        body = self._post(req)
        template = body.get("template_id")
        if not isinstance(template, str) or template not in acct.cfg.templates:
            raise WeChatRefusal(40037)
        touser = body.get("touser")
        follower = self._follower(acct, touser)
        data = body.get("data", {})
        if not isinstance(data, dict) or not all(
            isinstance(v, dict) and isinstance(v.get("value", ""), str) for v in data.values()
        ):
            raise WeChatRefusal(47001)
        for key in ("url",):
            if body.get(key) is not None and not isinstance(body[key], str):
                raise WeChatRefusal(47001)
        if body.get("miniprogram") is not None and not isinstance(body["miniprogram"], dict):
            raise WeChatRefusal(47001)
        client_msg_id = body.get("client_msg_id")
        if client_msg_id is not None and (not isinstance(client_msg_id, str) or not client_msg_id):
            raise WeChatRefusal(47001)
        if client_msg_id is not None and client_msg_id in acct.template_msgids:
            # A repeat of an accepted client_msg_id: the same msgid, nothing sent again
            # (how WeChat answers a repeat exactly is UNVERIFIED, spec §6.1, §10.4).
            return ok({"msgid": acct.template_msgids[client_msg_id]})
        now = self.world.now()
        if acct.template_quota.full(now):
            # §6.1, §9: 100,000 successful sends a day by default (a repeat above counts
            # nothing and is answered even when full; the order is UNVERIFIED).
            raise WeChatRefusal(45009)
        # --- checked: from here on, state changes ---
        self._msgid += 1
        msgid = self._msgid
        if client_msg_id is not None:
            acct.template_msgids[client_msg_id] = msgid
        acct.templates_sent += 1
        acct.template_quota.take(now)
        values = [str(v.get("value", "")) for v in data.values() if isinstance(v, dict)]
        raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        self._sent(acct, follower.openid, str(msgid), "template", raw, " ".join(values) or template)
        status = "failed:user block" if follower.blocks_templates else "success"
        due = self.world.now() + acct.cfg.template_finish_delay
        self.world.schedule(
            due, self._job_finished, acct.cfg.account_id, follower.openid, msgid, status
        )
        return ok({"msgid": msgid})

    def _job_finished(
        self, now: float, account_id: str, openid: str, msgid: int, status: str
    ) -> Delivery | None:
        acct = self.officials.get(account_id)
        if acct is None:  # pragma: no cover - built for a configured account
            return None
        fields: list[tuple[str, XmlValue]] = [
            ("ToUserName", account_id),
            ("FromUserName", openid),
            ("CreateTime", int(now)),
            ("MsgType", "event"),
            ("Event", "TEMPLATESENDJOBFINISH"),
            ("MsgID", msgid),
            ("Status", status),
        ]
        return self._webhook(acct, openid, "TEMPLATESENDJOBFINISH", fields, replyable=False)

    def _subscribe_send(self, req: SimRequest, acct: Account) -> SimResponse:
        body = self._post(req)
        template = body.get("template_id")
        if not isinstance(template, str) or not template:
            raise WeChatRefusal(40037)
        touser = body.get("touser")
        follower = acct.followers.get(touser) if isinstance(touser, str) else None
        if follower is None:
            raise WeChatRefusal(40003)
        data = body.get("data")
        if not isinstance(data, dict):
            raise WeChatRefusal(47001)
        for key in ("page",):
            if body.get(key) is not None and not isinstance(body[key], str):
                raise WeChatRefusal(47001)
        if follower.consents.get(template, 0) <= 0:
            raise WeChatRefusal(43101)
        # --- checked ---
        follower.consents[template] -= 1  # one consent, one send
        if not follower.consents[template]:
            del follower.consents[template]
        acct.subscribe_sent += 1
        values = [str(v.get("value", "")) for v in data.values() if isinstance(v, dict)]
        raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        self._sent(
            acct,
            follower.openid,
            f"sub.{self.world.next_seq()}",
            "subscribe",
            raw,
            " ".join(values) or template,
        )
        return ok()

    # --- quotas (§9) -------------------------------------------------------------------

    def _clear_quota(self, req: SimRequest, acct: Account) -> SimResponse:
        """``POST /cgi-bin/clear_quota`` ``{"appid"}``: the day's API counters start again
        (sends, tokens, the menu, QR codes), at most ``clear_quota_monthly_limit`` times a
        calendar month in Beijing time (48006 beyond; the month's bounds are UNVERIFIED)."""
        body = self._post(req)
        appid = body.get("appid")
        if not isinstance(appid, str) or not appid:
            raise WeChatRefusal(41002)
        if appid != acct.cfg.app_id:
            raise WeChatRefusal(40013)
        now = self.world.now()
        day = datetime.fromtimestamp(now + CHINA_OFFSET, tz=UTC)
        month = (day.year, day.month)
        if acct.quota_clears.get(month, 0) >= acct.cfg.clear_quota_monthly_limit:
            raise WeChatRefusal(48006)
        # --- checked ---
        acct.quota_clears = {month: acct.quota_clears.get(month, 0) + 1}
        acct.template_quota.clear()
        acct.custom_quota.clear()
        account_id = acct.cfg.account_id
        self.tokens.clear_quotas(account_id)
        self.menus[account_id].clear_quotas()
        self.qrcodes[account_id].clear_quotas()
        return ok()

    # --- webhooks (§1-§3) ---------------------------------------------------------------

    def _signed_url(self, acct: Account, url: str, params: dict[str, str]) -> str:
        return url + ("&" if "?" in url else "?") + urlencode(params)

    def _webhook(
        self,
        acct: Account,
        openid: str,
        kind: str,
        fields: list[tuple[str, XmlValue]],
        *,
        replyable: bool,
        to_message: bool = False,
    ) -> WeChatDelivery | None:
        cfg = acct.cfg
        url = self.world.webhook_url(self.name, cfg.account_id, cfg.webhook_url)
        if not url:
            return None
        plain = build_xml(fields)
        timestamp, nonce = str(int(self.world.now())), self.world.digits(10)
        params = {
            "signature": crypto.signature(cfg.token, timestamp, nonce),
            "timestamp": timestamp,
            "nonce": nonce,
            "openid": openid,
        }
        body = plain
        if cfg.mode != "plaintext":
            assert cfg.encoding_aes_key is not None
            encrypted = crypto.encrypt(
                cfg.encoding_aes_key, cfg.app_id, plain, self.world.token(16).encode()
            )
            params["encrypt_type"] = "aes"
            params["msg_signature"] = crypto.msg_signature(cfg.token, timestamp, nonce, encrypted)
            if cfg.mode == "safe":
                body = build_xml([("ToUserName", cfg.account_id), ("Encrypt", encrypted)])
            else:
                body = build_xml([*fields, ("Encrypt", encrypted)])
        delivery = WeChatDelivery(
            id=self.world.next_seq(),
            platform=self.name,
            account=cfg.account_id,
            kind=kind,
            url=self._signed_url(acct, url, params),
            body=body,
            headers=(("content-type", "text/xml"), ("user-agent", "Mozilla/4.0")),
            conversation=openid,
            openid=openid,
            replyable=replyable,
            to_message=to_message,
            # A failed or unanswered attempt is sent again at once, up to ``deliveries``
            # attempts in all (§3.4), not on Meta's back-off.
            retry_delays=(0.0,) * (cfg.deliveries - 1),
        )
        self._starts[(delivery.id, 1)] = self.world.now()
        return delivery

    def handshake(self, account: str | None, challenge: str) -> Delivery | str:
        """The server-configuration check: ``GET url?signature&timestamp&nonce&echostr``,
        answered with the raw ``echostr`` (plaintext in every mode, §1.2)."""
        acct = self._account(account)
        if acct is None:
            return "unknown or ambiguous 'account' (the original id, gh_...)"
        cfg = acct.cfg
        url = self.world.webhook_url(self.name, cfg.account_id, cfg.webhook_url)
        if not url:
            return "the account has no webhook_url"
        timestamp, nonce = str(int(self.world.now())), self.world.digits(10)
        params = {
            "signature": crypto.signature(cfg.token, timestamp, nonce),
            "echostr": challenge,
            "timestamp": timestamp,
            "nonce": nonce,
        }
        return Delivery(
            id=self.world.next_seq(),
            platform=self.name,
            account=cfg.account_id,
            kind="handshake",
            url=self._signed_url(acct, url, params),
            body=b"",
            method="GET",
            headers=(("user-agent", "Mozilla/4.0"),),
            echo=challenge.encode(),
        )

    # --- the answer: timeout, retries, passive replies ------------------------------------

    def answered(self, delivery: Delivery, outcome: DeliveryOutcome) -> None:
        """Read the app's answer to a webhook (see the module doc): late answers are retried,
        passive replies recorded or refused."""
        if not isinstance(delivery, WeChatDelivery):
            return
        acct = self.officials.get(delivery.account)
        if acct is None:  # pragma: no cover
            return
        key = (delivery.id, delivery.attempt)
        if key in self._answered:
            return  # the same attempt answered twice (a duplicate fault): read once
        self._answered[key] = None
        if len(self._answered) > _ANSWERED_KEPT:
            self._answered.popitem(last=False)
        now = self.world.now()
        start = self._starts.pop(key, now)
        cfg = acct.cfg
        if not outcome.ok:
            # The core retries a failed delivery on the delivery's own schedule (at once).
            delays = delivery.retry_delays or ()
            if delivery.attempt <= len(delays):
                self._starts[(delivery.id, delivery.attempt + 1)] = (
                    now + delays[delivery.attempt - 1]
                )
            return
        if now - start > cfg.reply_timeout:
            acct.late += 1
            if delivery.attempt < cfg.deliveries:
                # WeChat dropped the connection at the timeout and sends the same XML again.
                self._starts[(delivery.id, delivery.attempt + 1)] = now
                self.world.schedule(
                    now, _again, attrs.evolve(delivery, attempt=delivery.attempt + 1)
                )
            elif delivery.replyable:
                self._refuse(acct, delivery, f"no answer within {cfg.reply_timeout:g} s")
            return
        if delivery.replyable:
            self._read_reply(acct, delivery, outcome.body)

    def _refuse(self, acct: Account, delivery: WeChatDelivery, reason: str) -> None:
        acct.refused.append(
            Refusal(
                delivery_id=delivery.id, openid=delivery.openid, at=self.world.now(), reason=reason
            )
        )

    def _read_reply(self, acct: Account, delivery: WeChatDelivery, body: bytes) -> None:
        if not body.strip() or body.strip() == b"success":
            acct.no_replies += 1
            return
        try:
            reply = self._decode(acct, body)
            message = self._check_reply(acct, delivery, reply)
        except (BadXML, _BadReply) as exc:
            self._refuse(acct, delivery, str(exc))
            return
        if message is None:
            acct.no_replies += 1  # transfer_customer_service: handed to the legacy CS
            return
        acct.replies += 1
        raw = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()
        self._sent(acct, delivery.openid, f"reply.{delivery.id}", str(message["msgtype"]), raw)

    def _decode(self, acct: Account, body: bytes) -> dict[str, Any]:
        """The reply's plaintext fields (an encrypted reply decrypted and its signature
        checked)."""
        cfg = acct.cfg
        try:
            fields = parse_xml(body)
        except BadXML as exc:
            raise BadXML(f"not a WeChat XML reply: {exc}") from None
        if "Encrypt" not in fields:
            if cfg.mode == "safe":
                raise _BadReply("safe mode: the reply must be encrypted")
            return fields
        if cfg.mode == "plaintext":
            raise _BadReply("plaintext mode: an encrypted reply cannot be read")
        assert cfg.encoding_aes_key is not None
        encrypted, signature = fields.get("Encrypt"), fields.get("MsgSignature")
        timestamp, nonce = fields.get("TimeStamp"), fields.get("Nonce")
        if not all(isinstance(v, str) and v for v in (encrypted, signature, timestamp, nonce)):
            raise _BadReply("an encrypted reply needs Encrypt, MsgSignature, TimeStamp and Nonce")
        assert isinstance(encrypted, str)
        assert isinstance(timestamp, str)
        assert isinstance(nonce, str)
        expected = crypto.msg_signature(cfg.token, timestamp.strip(), nonce.strip(), encrypted)
        if signature != expected:
            raise _BadReply("MsgSignature does not match")
        try:
            plain = crypto.decrypt(cfg.encoding_aes_key, cfg.app_id, encrypted.strip())
        except (crypto.DecryptError, ConfigurationError) as exc:
            raise _BadReply(f"Encrypt does not decrypt: {exc}") from None
        try:
            inner = parse_xml(plain)
        except BadXML as exc:
            raise BadXML(f"the decrypted reply is not XML: {exc}") from None
        return inner

    def _check_reply(
        self, acct: Account, delivery: WeChatDelivery, reply: dict[str, Any]
    ) -> dict[str, Any] | None:
        """The reply as a customer-service-shaped message, or ``None`` (a transfer)."""

        def text(key: str, parent: dict[str, Any] = reply, *, required: bool = True) -> str:
            value = parent.get(key)
            if value is None and not required:
                return ""
            if not isinstance(value, str) or (required and not value.strip()):
                raise _BadReply(f"{key}: missing or empty")
            return value

        if text("ToUserName").strip() != delivery.openid:
            raise _BadReply("ToUserName is not the customer's OpenID")
        if text("FromUserName").strip() != acct.cfg.account_id:
            raise _BadReply("FromUserName is not the account's original id")
        created = reply.get("CreateTime")
        if not isinstance(created, str) or not created.strip().isdigit():
            raise _BadReply("CreateTime: missing or not a number")
        kind = text("MsgType").strip()
        if kind not in REPLY_TYPES:
            raise _BadReply(f"MsgType {kind!r} is not a reply type")
        live = self._live(acct)

        def media(parent: Any, key: str, *, required: bool = True) -> str:
            if not isinstance(parent, dict):
                raise _BadReply(f"{key}: missing")
            value = text(key, parent, required=required).strip()
            if value and live(value) is None:
                raise _BadReply(f"{key} {value!r}: unknown or expired media")
            return value

        if kind == "transfer_customer_service":
            return None
        if kind == "text":
            return {"msgtype": "text", "text": {"content": text("Content")}}
        if kind in ("image", "voice"):
            tag = kind.capitalize()
            return {"msgtype": kind, kind: {"media_id": media(reply.get(tag), "MediaId")}}
        if kind == "video":
            video = reply.get("Video")
            media_id = media(video, "MediaId")
            assert isinstance(video, dict)
            return {
                "msgtype": "video",
                "video": {
                    "media_id": media_id,
                    "title": text("Title", video, required=False),
                    "description": text("Description", video, required=False),
                },
            }
        if kind == "music":
            music = reply.get("Music")
            thumb = media(music, "ThumbMediaId", required=False)
            assert isinstance(music, dict)
            return {
                "msgtype": "music",
                "music": {
                    "title": text("Title", music, required=False),
                    "description": text("Description", music, required=False),
                    "musicurl": text("MusicUrl", music, required=False),
                    "hqmusicurl": text("HQMusicUrl", music, required=False),
                    "thumb_media_id": thumb,
                },
            }
        count = reply.get("ArticleCount")
        articles = reply.get("Articles")
        items = articles.get("item") if isinstance(articles, dict) else articles
        if isinstance(items, dict):
            items = [items]
        if not isinstance(count, str) or not count.strip().isdigit():
            raise _BadReply("ArticleCount: missing or not a number")
        if not isinstance(items, list) or not items or len(items) != int(count):
            raise _BadReply("Articles: missing, or not ArticleCount items")
        if len(items) > 8 or (delivery.to_message and len(items) > 1):
            raise _BadReply(
                f"news of {len(items)} articles: a reply to a user message has one (§3.5)"
            )
        out = []
        for item in items:
            if not isinstance(item, dict):
                raise _BadReply("Articles: an item is not an element")
            out.append(
                {
                    "title": text("Title", item, required=False),
                    "description": text("Description", item, required=False),
                    "url": text("Url", item, required=False),
                    "picurl": text("PicUrl", item, required=False),
                }
            )
        return {"msgtype": "news", "news": {"articles": out}}

    # --- the user's side (control plane) --------------------------------------------------

    def inbound(self, spec: dict[str, Any]) -> tuple[Delivery | None, dict[str, Any]] | str:
        """A user acts: the state it implies, and the webhook.

        Everything is checked before anything changes: a refused action changes nothing.
        """
        acct = self._account(spec.get("account"))
        if acct is None:
            return "unknown or ambiguous 'account' (the original id, gh_...)"
        openid = spec.get("user")
        if not isinstance(openid, str) or not _OPENID.fullmatch(openid):
            return "'user' (the customer's OpenID: letters, digits, '-' and '_') is required"
        try:
            action = parse(spec)
            plan = self._check(acct, openid, action)
        except Refused as exc:
            return str(exc)
        return self._apply(acct, openid, action, plan)

    def _check(self, acct: Account, openid: str, action: Action) -> dict[str, Any]:
        """What the action resolves to (a QR scene, a menu button), or :class:`Refused`."""
        follower = acct.followers.get(openid)
        following = follower is not None and follower.following
        kind, now = action.kind, self.world.now()
        account_id = acct.cfg.account_id
        if kind == "follow" and following:
            raise Refused("follow: the user already follows the account")
        if kind == "unfollow" and not following:
            raise Refused("unfollow: the user does not follow the account")
        if kind in (*MESSAGES, "click", "view", "report_location", "consent") and not following:
            raise Refused(f"{kind}: the user does not follow the account (follow first)")
        if kind == "scan":
            scene = self.qrcodes[account_id].scene_of(action.part["ticket"], now)
            if scene is None:
                raise Refused("scan: no such QR code ticket, or it expired")
            return {"scene": scene}
        if kind == "click":
            button = self.menus[account_id].button(action.part["key"])
            if button is None:
                raise Refused("click: no click or scancode button with that key in the menu")
            kind_of = button.get("type", "click")
            if kind_of not in ("click", "scancode_push", "scancode_waitmsg"):
                raise Refused(f"click: that button is a {kind_of} button")  # pragma: no cover
            return {"event": "CLICK" if kind_of == "click" else kind_of}
        if kind != "view":
            return {}
        if self.menus[account_id].url_button(action.part["url"]) is None:
            raise Refused("view: no view button with that url in the menu")
        return {}

    def _msgid_new(self) -> int:
        return self.world.rng.randint(10**18, 2**63 - 1)

    def _apply(
        self, acct: Account, openid: str, action: Action, plan: dict[str, Any]
    ) -> tuple[Delivery | None, dict[str, Any]]:
        now = self.world.now()
        cfg, kind = acct.cfg, action.kind
        follower = acct.followers.get(openid)
        if follower is None:
            follower = acct.followers[openid] = Follower(openid=openid, following=False)
        head: list[tuple[str, XmlValue]] = [
            ("ToUserName", cfg.account_id),
            ("FromUserName", openid),
            ("CreateTime", int(now)),
        ]
        body: list[tuple[str, XmlValue]]
        ident: str
        if kind in MESSAGES:
            msgid = self._msgid_new()
            ident = str(msgid)
            body = [("MsgType", kind), *self._message_fields(acct, action, now)]
            body.append(("MsgId", msgid))
            acct.open_window(follower, "message", now)
            follower.last_exchange = now
            event = kind
        else:
            event, extra = self._event_fields(follower, action, plan, now)
            body = [("MsgType", "event"), ("Event", event), *extra]
            ident = f"{event}.{self.world.next_seq()}"
            if event in EVENT_WINDOW:
                acct.open_window(follower, "event", now)
                follower.last_exchange = now
        fields = [*head, *body]
        replyable = event not in NO_REPLY_EVENTS
        delivery = self._webhook(
            acct, openid, event, fields, replyable=replyable, to_message=kind in MESSAGES
        )
        message = {
            "id": ident,
            "kind": event,
            "fields": {k: v if isinstance(v, str | int) else _jsonable(v) for k, v in fields},
        }
        return delivery, message

    def _message_fields(
        self, acct: Account, action: Action, now: float
    ) -> list[tuple[str, XmlValue]]:
        kind, part = action.kind, action.part
        if kind == "text":
            fields: list[tuple[str, XmlValue]] = [("Content", part["content"])]
            if "bizmsgmenuid" in part:
                fields.append(("bizmsgmenuid", part["bizmsgmenuid"]))
            return fields
        if kind == "location":
            return [
                ("Location_X", _decimal(part["latitude"])),
                ("Location_Y", _decimal(part["longitude"])),
                ("Scale", int(part["scale"])),
                ("Label", part["label"]),
            ]
        if kind == "link":
            return [
                ("Title", part["title"]),
                ("Description", part["description"]),
                ("Url", part["url"]),
            ]
        data, mime = action.upload or (b"", "image/jpeg" if kind == "image" else "video/mp4")
        media_id = self._store(
            acct,
            "image" if kind == "image" else "voice" if kind == "voice" else "video",
            data,
            mime,
            now,
        )
        if kind == "image":
            return [
                ("PicUrl", f"http://mmbiz.qpic.cn/mmbiz_jpg/{media_id}/0"),
                ("MediaId", media_id),
            ]
        if kind == "voice":
            fields = [("MediaId", media_id), ("Format", part["format"])]
            if "recognition" in part:
                fields.append(("Recognition", part["recognition"]))
            return fields
        thumb = self._store(acct, "thumb", b"", "image/jpeg", now)
        return [("MediaId", media_id), ("ThumbMediaId", thumb)]

    def _store(self, acct: Account, kind: str, data: bytes, mime: str, now: float) -> str:
        media_id = self.world.token(64)
        acct.media[media_id] = Media(
            media_id=media_id,
            type=kind,
            created_at=int(now),
            data=data,
            content_type=mime,
            filename=f"{kind}.bin",
        )
        return media_id

    def _event_fields(
        self, follower: Follower, action: Action, plan: dict[str, Any], now: float
    ) -> tuple[str, list[tuple[str, XmlValue]]]:
        kind, part = action.kind, action.part
        if kind == "follow":
            self._follows(follower, now, "ADD_SCENE_SEARCH")
            return "subscribe", [("EventKey", "")]
        if kind == "unfollow":
            follower.following = False
            follower.windows.clear()
            follower.typing_until = float("-inf")
            return "unsubscribe", [("EventKey", "")]
        if kind == "scan":
            scene, ticket = str(plan["scene"]), part["ticket"]
            if follower.following:
                return "SCAN", [("EventKey", scene), ("Ticket", ticket)]
            self._follows(follower, now, "ADD_SCENE_QR_CODE")
            if scene.isdigit():
                follower.qr_scene, follower.qr_scene_str = int(scene), ""
            else:
                follower.qr_scene, follower.qr_scene_str = 0, scene
            return "subscribe", [("EventKey", f"qrscene_{scene}"), ("Ticket", ticket)]
        if kind == "click":
            event = str(plan["event"])
            fields: list[tuple[str, XmlValue]] = [("EventKey", part["key"])]
            if event != "CLICK":
                fields.append(
                    (
                        "ScanCodeInfo",
                        [("ScanType", "qrcode"), ("ScanResult", part.get("scan_result", ""))],
                    )
                )
            return event, fields
        if kind == "view":
            return "VIEW", [("EventKey", part["url"])]
        if kind == "report_location":
            return "LOCATION", [
                ("Latitude", _decimal(part["latitude"])),
                ("Longitude", _decimal(part["longitude"])),
                ("Precision", _decimal(part["precision"])),
            ]
        template = part["template_id"]
        follower.consents[template] = follower.consents.get(template, 0) + 1
        return "subscribe_msg_popup_event", [
            (
                "SubscribeMsgPopupEvent",
                [
                    (
                        "List",
                        [
                            ("TemplateId", template),
                            ("SubscribeStatusString", "accept"),
                            ("PopupScene", "0"),
                        ],
                    )
                ],
            )
        ]

    @staticmethod
    def _follows(follower: Follower, now: float, scene: str) -> None:
        follower.following = True
        follower.subscribe_time = int(now)
        follower.subscribe_scene = scene


class _BadReply(ValueError):
    """A passive reply WeChat would not show; the message says why."""


def _decimal(value: float) -> str:
    return f"{value:.6f}"


def _jsonable(value: Any) -> Any:
    if isinstance(value, str | int):
        return value
    return {k: _jsonable(v) for k, v in value}


def _json(data: Any) -> SimResponse:
    return SimResponse(
        status=200,
        body=json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode(),
        content_type="application/json; encoding=utf-8",
    )
