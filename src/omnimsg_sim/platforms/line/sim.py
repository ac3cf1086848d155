"""The simulated LINE Messaging API (spec/line.md), served at the real paths of ``api.line.me``
and ``api-data.line.me`` on the simulator's one port.

Every answer carries ``x-line-request-id``. A request is authenticated by its Bearer token
(the account's ``channel_access_token``, or one :mod:`.oauth` issued), checked (:mod:`.wire`
for message objects, then the retry key, the rate limit and the month's quota, in that order),
and only then applied to :mod:`.state`; every refusal is one of :mod:`.errors`. Rich menus are
:mod:`.richmenu`'s, channel access tokens :mod:`.oauth`'s. Webhooks are signed with
``x-line-signature`` (base64 HMAC-SHA256 of the exact bytes, §1) and a refused one is
redelivered with ``deliveryContext.isRedelivery: true`` and the same ``webhookEventId``.
"""

from __future__ import annotations

import hmac
import json
import re
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from omnimsg.signing import sign_line

from ...config import LineAccount
from ...effects import Delivery, DeliveryOutcome, Pause, SimFlow, SimRequest, SimResponse
from ...faults import Faults
from ...safejson import BadJSON, loads
from ...world import OutboxEntry, World
from ..adapter import Deliverer
from . import errors as e
from .errors import Detail, LineRefusal, body_errors, line_error
from .inbound import Action, Refused, parse
from .oauth import Tokens
from .richmenu import RichMenus
from .state import Accepted, Bot, Content, Group, Narrowcast, ReplyToken, User, day_of
from .wire import CHAT_ID, USER_ID, check_messages

__all__ = ["MAX_BODY", "LineDelivery", "LineSim", "encode", "sign"]

MAX_BODY = 2 * 1024 * 1024
"""LINE refuses a request body over 2 MB with 413 (spec §3, second-hand)."""

RETRY_KEY_OPS = ("push", "multicast", "narrowcast", "broadcast")
"""The only endpoints that take ``X-Line-Retry-Key`` (spec §3): elsewhere it is a 400."""
REPLYABLE = (
    "message",
    "follow",
    "join",
    "memberJoined",
    "postback",
    "videoPlayComplete",
    "beacon",
    "accountLink",
    "membership",
)
"""Event types that carry a reply token (spec §2's table; ``membership`` too: openapi
``webhook.yml`` lists ``replyToken`` in its ``required``, research §1.4)."""
NEEDS_REPLY_TOKEN = ("follow", "join", "memberJoined", "videoPlayComplete", "beacon", "membership")
"""Event types whose schema *requires* ``replyToken`` (spec §2's "yes (required)"; research
§1.4's table): without one line-bot-sdk's parser downgrades the event to ``UnknownEvent``, so
they carry one even in standby, where other events have none (that part is UNVERIFIED)."""
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_QUOTED = ("text", "image", "video", "sticker")  # message contents with a quoteToken
_DATE = re.compile(r"[0-9]{8}")
_FOLLOWERS_PAGE = 300  # the default page (UNVERIFIED); at most 1,000
_LOADING_DEFAULT = 20  # seconds (UNVERIFIED)


def encode(payload: Any) -> bytes:
    """A webhook body as LINE writes it: compact JSON, raw UTF-8 (research §5, TV3)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def sign(channel_secret: str, body: bytes) -> str:
    """``x-line-signature``: base64 of HMAC-SHA256(channel secret, exact body bytes) (§1),
    the SDK's own :func:`omnimsg.signing.sign_line`, which verifies it."""
    return sign_line(channel_secret, body)


@attrs.frozen(kw_only=True)
class LineDelivery(Delivery):
    """A LINE webhook: a retry (``attempt`` > 1) says ``isRedelivery: true``, re-signed.

    The core retries a refused delivery with ``attrs.evolve(delivery, attempt=n)``; this class
    rewrites the body of such a copy, keeping each event's ``webhookEventId`` (spec §2).
    """

    secret: str = attrs.field(default="", repr=False)

    def __attrs_post_init__(self) -> None:
        if self.attempt <= 1 or not self.secret:
            return
        payload = json.loads(self.body)
        for event in payload.get("events", ()):
            event["deliveryContext"] = {"isRedelivery": True}
        body = encode(payload)
        headers = tuple(
            (k, sign(self.secret, body) if k == "x-line-signature" else v) for k, v in self.headers
        )
        object.__setattr__(self, "body", body)
        object.__setattr__(self, "headers", headers)


def _text_of_raw(raw: bytes) -> str | None:
    """The outbox ``text`` of a sent message object: its text, else ``[type]``."""
    try:
        message = loads(raw)
    except BadJSON:  # cannot happen: the simulator wrote it
        return None
    if not isinstance(message, dict):
        return None
    if isinstance(message.get("text"), str):
        return str(message["text"])
    if isinstance(message.get("altText"), str):
        return str(message["altText"])
    return f"[{message.get('type')}]"


Handler = Callable[[SimRequest, Bot, str, Any, re.Match[str]], SimResponse]


class LineSim:
    """Routes, state and webhooks of the simulated LINE Messaging API (a
    :class:`~omnimsg_sim.platforms.adapter.SimPlatform`)."""

    name = "line"
    operations: tuple[tuple[str, str], ...] = ()

    def __init__(self, accounts: Sequence[LineAccount], world: World, faults: Faults) -> None:
        self.world = world
        self.faults = faults
        self.bots: dict[str, Bot] = {a.bot_user_id: Bot(a) for a in accounts}
        self.menus: dict[str, RichMenus] = {a.bot_user_id: RichMenus() for a in accounts}
        self.tokens = Tokens(accounts)
        # (method, pattern, operation, handler, JSON body?)
        self._routes: list[tuple[str, re.Pattern[str], str, Handler, bool]] = [
            ("POST", re.compile(r"/v2/bot/message/push"), "push", self._push, True),
            ("POST", re.compile(r"/v2/bot/message/reply"), "reply", self._reply, True),
            ("POST", re.compile(r"/v2/bot/message/multicast"), "multicast", self._multicast, True),
            ("POST", re.compile(r"/v2/bot/message/broadcast"), "broadcast", self._broadcast, True),
            (
                "POST",
                re.compile(r"/v2/bot/message/narrowcast"),
                "narrowcast",
                self._narrowcast,
                True,
            ),
            (
                "POST",
                re.compile(r"/v2/bot/message/validate/([A-Za-z]+)"),
                "validate",
                self._validate,
                True,
            ),
            (
                "GET",
                re.compile(r"/v2/bot/message/progress/narrowcast"),
                "progress",
                self._progress,
                False,
            ),
            ("GET", re.compile(r"/v2/bot/message/quota"), "quota", self._quota, False),
            (
                "GET",
                re.compile(r"/v2/bot/message/quota/consumption"),
                "quota",
                self._consumption,
                False,
            ),
            (
                "GET",
                re.compile(r"/v2/bot/message/delivery/([A-Za-z]+)"),
                "delivery",
                self._sent_count,
                False,
            ),
            ("GET", re.compile(r"/v2/bot/profile/([^/]+)"), "profile", self._profile, False),
            (
                "GET",
                re.compile(r"/v2/bot/(group|room)/([^/]+)/member/([^/]+)"),
                "profile",
                self._member,
                False,
            ),
            (
                "POST",
                re.compile(r"/v2/bot/(group|room)/([^/]+)/leave"),
                "leave",
                self._leave,
                False,
            ),
            ("GET", re.compile(r"/v2/bot/followers/ids"), "followers", self._followers, False),
            ("GET", re.compile(r"/v2/bot/info"), "info", self._info, False),
            ("POST", re.compile(r"/v2/bot/chat/loading/start"), "loading", self._loading, True),
            ("POST", re.compile(r"/v2/bot/chat/markAsRead"), "read", self._mark_read, True),
            (
                "GET",
                re.compile(r"/v2/bot/message/([^/]+)/content(/preview|/transcoding)?"),
                "content",
                self._content,
                False,
            ),
        ]

    # --- ids ---------------------------------------------------------------------------

    def _request_id(self) -> str:
        return str(uuid.UUID(int=self.world.rng.getrandbits(128), version=4))

    def _message_id(self) -> str:
        return self.world.digits(18)

    def _quote_token(self) -> str:
        return self.world.token(64)

    def _event_id(self) -> str:
        """A ULID (26 Crockford base32 characters): the virtual time, then seeded randomness."""
        ms = int(self.world.now() * 1000)
        stamp = "".join(_CROCKFORD[(ms >> (5 * i)) & 31] for i in range(9, -1, -1))
        return stamp + "".join(self.world.rng.choice(_CROCKFORD) for _ in range(16))

    def _reply_token(self) -> str:
        return f"{self.world.rng.getrandbits(128):032x}"

    # --- the seam ----------------------------------------------------------------------

    def accounts(self) -> list[str]:
        """The bot user ids served."""
        return sorted(self.bots)

    def error(self, status: int, message: str) -> SimResponse:
        """LINE's envelope for an error the core answers (a body too large)."""
        return line_error(status, message, headers=(("x-line-request-id", self._request_id()),))

    def answered(self, delivery: Delivery, outcome: DeliveryOutcome) -> None:
        """LINE reads nothing from the app's answer but its status."""

    def control(
        self, req: SimRequest, operation: str, body: Any, deliver: Deliverer
    ) -> SimFlow[SimResponse] | None:
        """LINE has no control operations of its own: customer actions (rich-menu taps
        included) go through ``/_sim/inbound``, the console's verify through
        ``/_sim/webhooks/verify``."""
        return None

    def state(self) -> dict[str, Any]:
        """A JSON snapshot for ``GET /_sim/state``."""
        now = self.world.now()
        return {
            bot_id: {**bot.to_json(now), "rich_menus": self.menus[bot_id].state()}
            for bot_id, bot in self.bots.items()
        }

    def _bot(self, account: Any) -> Bot | None:
        if account is None:
            return next(iter(self.bots.values())) if len(self.bots) == 1 else None
        return self.bots.get(account) if isinstance(account, str) else None

    # --- routing -----------------------------------------------------------------------

    def route(self, req: SimRequest) -> SimFlow[SimResponse] | None:
        """The flow answering a request on LINE's paths, or ``None``."""
        path = req.path
        if path.startswith(("/oauth2/", "/v2/oauth/")):
            return self._oauth(req)
        if not path.startswith("/v2/bot/"):
            return None
        return self._serve(req)

    def _oauth(self, req: SimRequest) -> SimFlow[SimResponse]:
        flow = self.tokens.route(req, self.world.now())
        if flow is None:
            return self._with_id(line_error(404, e.NOT_FOUND), self._request_id())
        answer = yield from flow
        return self._with_id(answer, self._request_id())

    @staticmethod
    def _with_id(answer: SimResponse, request_id: str) -> SimResponse:
        if any(k.lower() == "x-line-request-id" for k, _ in answer.headers):
            return answer
        return attrs.evolve(answer, headers=(*answer.headers, ("x-line-request-id", request_id)))

    def _authenticate(self, req: SimRequest) -> Bot | str:
        header = req.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return e.AUTH_REQUIRED
        given = token.strip().encode("utf-8", "surrogatepass")
        for bot in self.bots.values():
            if hmac.compare_digest(given, bot.cfg.channel_access_token.encode()):
                return bot
        owner = self.tokens.bot_for(token.strip(), self.world.now())
        if owner is not None and owner in self.bots:
            return self.bots[owner]
        return e.AUTH_FAILED

    def _serve(self, req: SimRequest) -> SimFlow[SimResponse]:
        rid = self._request_id()
        if len(req.body) > MAX_BODY:
            return line_error(413, e.TOO_LARGE, headers=(("x-line-request-id", rid),))
        who = self._authenticate(req)
        if isinstance(who, str):
            return line_error(401, who, headers=(("x-line-request-id", rid),))
        bot = who
        now = self.world.now()
        bot.forget_expired(now)
        method = req.method.upper()
        menus = self.menus[bot.cfg.bot_user_id]
        flow = menus.route(
            req,
            bot.cfg.bot_user_id,
            lambda u: (x := bot.users.get(u)) is not None and x.friendship == "friend",
            now,
        )
        if flow is not None:
            return self._with_id((yield from flow), rid)
        for verb, pattern, op, handler, has_body in self._routes:
            match = pattern.fullmatch(req.path)
            if match is None:
                continue
            if verb != method:
                continue
            stop = yield from self._fault(op, bot)
            if stop is not None:
                return self._with_id(stop, rid)
            try:
                self._check_retry_key(req, op, bot)
                body = self._body(req) if has_body else None
                answer = handler(req, bot, rid, body, match)
            except LineRefusal as refusal:
                return refusal.response(rid)
            return self._with_id(answer, rid)
        return line_error(404, e.NOT_FOUND, headers=(("x-line-request-id", rid),))

    def _fault(self, op: str, bot: Bot) -> SimFlow[SimResponse | None]:
        fault = self.faults.take(self.name, f"line.{op}", bot.cfg.bot_user_id, None)
        if fault is None:
            return None
        if fault.latency_ms:
            yield Pause(fault.latency_ms / 1000.0)
        status = fault.status or (500 if fault.code is not None else None)
        if status is None:
            return None
        return line_error(status, fault.message or "Internal server error")

    @staticmethod
    def _body(req: SimRequest) -> dict[str, Any]:
        try:
            body = loads(req.body)
        except BadJSON:
            line, column = "-", "-"
            try:
                json.loads(req.body)
            except json.JSONDecodeError as exc:
                line, column = str(exc.lineno), str(exc.colno)
            except (ValueError, RecursionError):
                pass
            raise LineRefusal(400, e.BAD_JSON.format(line=line, column=column)) from None
        if not isinstance(body, dict):
            raise LineRefusal(400, e.BAD_JSON.format(line=1, column=1))
        return body

    def _check_retry_key(self, req: SimRequest, op: str, bot: Bot) -> None:
        key = req.headers.get("x-line-retry-key")
        if key is None:
            return
        if op not in RETRY_KEY_OPS:
            raise LineRefusal(400, e.RETRY_KEY_NOT_SUPPORTED)
        if not _UUID.fullmatch(key):
            raise LineRefusal(400, e.RETRY_KEY_INVALID)
        accepted = bot.retry_keys.get(key.lower())
        if accepted is not None and accepted.at + bot.cfg.retry_key_ttl > self.world.now():
            raise _Conflict(
                409, e.RETRY_KEY_ACCEPTED, accepted_id=accepted.request_id, sent=accepted.sent
            )

    # --- sending (spec §3, §4, §8) -------------------------------------------------------

    def _rate(self, bot: Bot, endpoint: str) -> None:
        if not bot.rate_ok(endpoint, self.world.now()):
            raise LineRefusal(429, bot.cfg.rate_limit_message)

    def _deliver(
        self,
        req: SimRequest,
        bot: Bot,
        rid: str,
        op: str,
        body: dict[str, Any],
        chats: Sequence[str],
        counted: int,
        *,
        ids: bool,
    ) -> list[dict[str, str]]:
        """Everything checked: spend, count, keep in the outbox; the ``sentMessages``."""
        now = self.world.now()
        bot.spend(op, now)
        bot.count(op, counted, now)
        messages = body["messages"]
        raws = [json.dumps(m, separators=(",", ":")).encode() for m in messages]
        sent = [
            {"id": self._message_id(), "quoteToken": self._quote_token()} if ids else {}
            for _ in messages
        ]
        for chat in chats:
            bot.loading.pop(chat, None)  # a message from the OA ends the animation
            for i, (message, raw) in enumerate(zip(messages, raws, strict=True)):
                mid = sent[i]["id"] if ids and len(chats) == 1 else self._message_id()
                self.world.sent(
                    OutboxEntry(
                        seq=self.world.next_seq(),
                        platform=self.name,
                        account=bot.cfg.bot_user_id,
                        user=chat,
                        message_id=mid,
                        type=str(message.get("type")),
                        text=_text_of_raw,
                        timestamp=now,
                        raw=raw,
                        status="sent",
                    )
                )
        key = req.headers.get("x-line-retry-key")
        if key is not None:
            bot.retry_keys[key.lower()] = Accepted(
                request_id=rid, at=now, sent=tuple(sent) if ids else ()
            )
        return sent

    def _messages_checked(self, body: dict[str, Any], first: Sequence[Detail] = ()) -> None:
        details = [*first, *check_messages(body)]
        if details:
            raise body_errors(details)

    def _recipients(self, bot: Bot, to: str) -> tuple[list[str], int]:
        """Where a push to ``to`` goes and how many it counts: a friend (1), a group the bot
        is in (one per member), nobody for a user who blocked or never added the account."""
        if to.startswith("U"):
            user = bot.users.get(to)
            if user is None:
                raise LineRefusal(400, e.FAILED_TO_SEND)  # never issued by this provider
            if user.friendship != "friend":
                return [], 0  # §8: 200, dropped, not counted
            return [to], 1
        group = bot.groups.get(to)
        if group is None or not group.bot_in:
            raise LineRefusal(400, e.FAILED_TO_SEND)  # UNVERIFIED for groups
        return [to], max(1, len(group.members))

    def _push(
        self, req: SimRequest, bot: Bot, rid: str, body: Any, match: re.Match[str]
    ) -> SimResponse:
        to = body.get("to")
        if to is None:
            self._messages_checked(body, [Detail("must be specified", "to")])
        if not isinstance(to, str) or not CHAT_ID.fullmatch(to):
            raise LineRefusal(400, e.BAD_TO)
        self._messages_checked(body)
        self._rate(bot, "push")
        chats, counted = self._recipients(bot, to)
        self._quota_room(bot, counted)
        if not chats:
            bot.dropped += len(body["messages"])
        sent = self._deliver(req, bot, rid, "push", body, chats, counted, ids=True)
        return _json({"sentMessages": sent})

    def _quota_room(self, bot: Bot, counted: int) -> None:
        if counted and not bot.room_for(counted, self.world.now()):
            raise LineRefusal(429, e.MONTHLY_LIMIT)  # nothing is sent to anybody (§4)

    def _reply(
        self, req: SimRequest, bot: Bot, rid: str, body: Any, match: re.Match[str]
    ) -> SimResponse:
        token = body.get("replyToken")
        if not isinstance(token, str) or not token:
            self._messages_checked(body, [Detail("May not be empty", "replyToken")])
            raise LineRefusal(400, e.INVALID_REPLY_TOKEN)
        self._messages_checked(body)
        now = self.world.now()
        found = bot.reply_tokens.get(token)
        if found is None or found.expires <= now:
            raise LineRefusal(400, e.INVALID_REPLY_TOKEN)
        self._rate(bot, "reply")
        del bot.reply_tokens[token]  # single use (§3)
        chat = found.chat
        user = bot.users.get(chat)
        chats = [chat] if user is None or user.friendship == "friend" else []
        sent = self._deliver(req, bot, rid, "reply", body, chats, len(chats), ids=True)
        return _json({"sentMessages": sent})

    def _multicast(
        self, req: SimRequest, bot: Bot, rid: str, body: Any, match: re.Match[str]
    ) -> SimResponse:
        to = body.get("to")
        first: list[Detail] = []
        if not isinstance(to, list):
            first.append(Detail("must be specified" if to is None else "Must be an array", "to"))
        elif not 1 <= len(to) <= 500:
            first.append(Detail("Size must be between 1 and 500", "to"))
        if first:
            self._messages_checked(body, first)
        assert isinstance(to, list)
        if not all(isinstance(u, str) and USER_ID.fullmatch(u) for u in to):
            raise LineRefusal(400, e.BAD_TO)  # user ids only: no groups, no rooms (§3)
        self._messages_checked(body)
        self._rate(bot, "multicast")
        targets = list(dict.fromkeys(to))
        chats = [u for u in targets if u in bot.users and bot.users[u].friendship == "friend"]
        self._quota_room(bot, len(chats))
        bot.dropped += (len(targets) - len(chats)) * len(body["messages"])
        self._deliver(req, bot, rid, "multicast", body, chats, len(chats), ids=False)
        return _json({})

    def _broadcast(
        self, req: SimRequest, bot: Bot, rid: str, body: Any, match: re.Match[str]
    ) -> SimResponse:
        self._messages_checked(body)
        self._rate(bot, "broadcast")
        chats = bot.friends()
        self._quota_room(bot, len(chats))
        self._deliver(req, bot, rid, "broadcast", body, chats, len(chats), ids=False)
        return _json({})

    def _narrowcast(
        self, req: SimRequest, bot: Bot, rid: str, body: Any, match: re.Match[str]
    ) -> SimResponse:
        first: list[Detail] = []
        for key in ("recipient", "filter"):
            if body.get(key) is not None and not isinstance(body[key], dict):
                first.append(Detail("Must be an object", key))
        limit = body.get("limit")
        cap: int | None = None
        up_to_quota = False
        if limit is not None:
            if not isinstance(limit, dict):
                first.append(Detail("Must be an object", "limit"))
            else:
                most = limit.get("max")
                if most is not None:
                    if isinstance(most, bool) or not isinstance(most, int) or most < 1:
                        first.append(Detail("Must be greater than or equal to 1", "limit.max"))
                    else:
                        cap = most
                for flag in ("upToRemainingQuota", "forbidPartialDelivery"):
                    if limit.get(flag) is not None and not isinstance(limit[flag], bool):
                        first.append(Detail("Must be a boolean", f"limit.{flag}"))
                up_to_quota = limit.get("upToRemainingQuota") is True
        self._messages_checked(body, first)
        self._rate(bot, "narrowcast")
        now = self.world.now()
        # Audiences and demographic filters are not simulated: every friend is a target.
        chats = bot.friends()
        if cap is not None:
            chats = chats[:cap]
        limit_now = bot.cfg.monthly_limit
        if up_to_quota and limit_now is not None:
            chats = chats[: max(0, limit_now - bot.used(now))]
        self._quota_room(bot, len(chats))
        self._deliver(req, bot, rid, "narrowcast", body, chats, len(chats), ids=False)
        cfg = bot.cfg
        bot.narrowcasts[rid] = Narrowcast(
            request_id=rid,
            accepted=now,
            target=len(chats),
            sending_at=now + cfg.narrowcast_wait,
            done_at=now + cfg.narrowcast_wait + cfg.narrowcast_send,
        )
        return _json({}, 202)

    def _validate(
        self, req: SimRequest, bot: Bot, rid: str, body: Any, match: re.Match[str]
    ) -> SimResponse:
        if match.group(1) not in ("reply", "push", "multicast", "narrowcast", "broadcast"):
            raise LineRefusal(404, e.NOT_FOUND)
        self._messages_checked(body)
        return _json({})

    # --- reading -------------------------------------------------------------------------

    def _progress(
        self, req: SimRequest, bot: Bot, rid: str, body: Any, match: re.Match[str]
    ) -> SimResponse:
        request_id = req.arg("requestId")
        if not request_id:
            raise body_errors([Detail("must be specified", "requestId")])
        found = bot.narrowcasts.get(request_id)
        if found is None:
            raise LineRefusal(404, e.NOT_FOUND)
        return _json(found.progress(self.world.now()))

    def _quota(
        self, req: SimRequest, bot: Bot, rid: str, body: Any, match: re.Match[str]
    ) -> SimResponse:
        limit = bot.cfg.monthly_limit
        return _json({"type": "none"} if limit is None else {"type": "limited", "value": limit})

    def _consumption(
        self, req: SimRequest, bot: Bot, rid: str, body: Any, match: re.Match[str]
    ) -> SimResponse:
        return _json({"totalUsage": bot.used(self.world.now())})

    def _sent_count(
        self, req: SimRequest, bot: Bot, rid: str, body: Any, match: re.Match[str]
    ) -> SimResponse:
        kind = match.group(1)
        if kind not in ("reply", "push", "multicast", "broadcast"):
            raise LineRefusal(404, e.NOT_FOUND)
        date = req.arg("date")
        if date is None or not _DATE.fullmatch(date):
            raise body_errors([Detail("Must be a date in the format yyyyMMdd (UTC+9)", "date")])
        if date >= day_of(self.world.now()):
            return _json({"status": "unready"})
        return _json({"status": "ready", "success": bot.sent_by_day.get((kind, date), 0)})

    def _profile(
        self, req: SimRequest, bot: Bot, rid: str, body: Any, match: re.Match[str]
    ) -> SimResponse:
        user = bot.users.get(match.group(1))
        if user is None or user.friendship != "friend":
            raise LineRefusal(404, e.NOT_FOUND)  # unknown, never added, or blocked (§6)
        return _json(user.profile())

    def _member(
        self, req: SimRequest, bot: Bot, rid: str, body: Any, match: re.Match[str]
    ) -> SimResponse:
        group = bot.groups.get(match.group(2))
        user = bot.users.get(match.group(3))
        if (
            group is None
            or not group.bot_in
            or group.kind != match.group(1)
            or user is None
            or user.user_id not in group.members
        ):
            raise LineRefusal(404, e.NOT_FOUND)
        profile = user.profile()
        profile.pop("statusMessage", None)
        profile.pop("language", None)
        return _json(profile)

    def _leave(
        self, req: SimRequest, bot: Bot, rid: str, body: Any, match: re.Match[str]
    ) -> SimResponse:
        group = bot.groups.get(match.group(2))
        if group is None or not group.bot_in or group.kind != match.group(1):
            raise LineRefusal(404, e.NOT_FOUND)
        group.bot_in = False
        return _json({})

    def _followers(
        self, req: SimRequest, bot: Bot, rid: str, body: Any, match: re.Match[str]
    ) -> SimResponse:
        raw_limit = req.arg("limit")
        start = req.arg("start") or "0"
        details = []
        limit = _FOLLOWERS_PAGE
        if raw_limit is not None:
            if (
                not raw_limit.isascii()
                or not raw_limit.isdigit()
                or not 1 <= int(raw_limit) <= 1000
            ):
                details.append(Detail("Must be between 1 and 1000", "limit"))
            else:
                limit = int(raw_limit)
        if not start.isascii() or not start.isdigit() or len(start) > 9:
            details.append(Detail("Invalid continuation token", "start"))  # UNVERIFIED
        if details:
            raise body_errors(details)
        friends = bot.friends()
        offset = int(start)
        page: dict[str, Any] = {"userIds": friends[offset : offset + limit]}
        if offset + limit < len(friends):
            page["next"] = str(offset + limit)
        return _json(page)

    def _info(
        self, req: SimRequest, bot: Bot, rid: str, body: Any, match: re.Match[str]
    ) -> SimResponse:
        cfg = bot.cfg
        return _json(
            {
                "userId": cfg.bot_user_id,
                "basicId": cfg.basic_id,
                "displayName": cfg.display_name,
                "chatMode": cfg.chat_mode,
                "markAsReadMode": cfg.mark_as_read_mode,
            }
        )

    def _loading(
        self, req: SimRequest, bot: Bot, rid: str, body: Any, match: re.Match[str]
    ) -> SimResponse:
        chat = body.get("chatId")
        seconds = body.get("loadingSeconds", _LOADING_DEFAULT)
        details = []
        if not isinstance(chat, str) or not chat:
            details.append(Detail("May not be empty", "chatId"))
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, int)
            or not 5 <= seconds <= 60
            or seconds % 5
        ):
            # 5 to 60 in steps of 5 (spec §7; the wording UNVERIFIED).
            details.append(Detail("Must be a multiple of 5 between 5 and 60", "loadingSeconds"))
        if details:
            raise body_errors(details)
        user = bot.users.get(chat) if isinstance(chat, str) else None
        if user is None or user.friendship != "friend":
            # 1:1 chats with a friend only (spec §7): a group, a room or a stranger is a 400.
            raise body_errors([Detail("Invalid chatId", "chatId")])  # UNVERIFIED wording
        self._rate(bot, "loading")
        now = self.world.now()
        bot.spend("loading", now)
        bot.loading[user.user_id] = now + float(seconds)  # a second call replaces the time
        return _json({}, 202)

    def _mark_read(
        self, req: SimRequest, bot: Bot, rid: str, body: Any, match: re.Match[str]
    ) -> SimResponse:
        token = body.get("markAsReadToken")
        if not isinstance(token, str) or not token:
            raise body_errors([Detail("May not be empty", "markAsReadToken")])
        found = bot.read_tokens.get(token)
        if found is None:
            raise LineRefusal(400, "Invalid markAsReadToken")  # UNVERIFIED wording
        chat, message_id = found
        bot.read_up_to[chat] = message_id  # that message and every earlier one (§7)
        return _json({})

    def _content(
        self, req: SimRequest, bot: Bot, rid: str, body: Any, match: re.Match[str]
    ) -> SimResponse:
        content = bot.contents.get(match.group(1))
        if content is None:
            raise LineRefusal(404, e.NOT_FOUND)
        ready = self.world.now() >= content.ready_at
        which = match.group(2)
        if which == "/transcoding":
            return _json({"status": "succeeded" if ready else "processing"})
        if which == "/preview" and content.kind not in ("image", "video"):
            raise LineRefusal(404, e.NOT_FOUND)
        if not ready:
            raise LineRefusal(404, e.NOT_FOUND)  # still transcoding (UNVERIFIED answer)
        return SimResponse(status=200, body=content.data, content_type=content.mime_type)

    # --- webhooks (spec §1, §2) ----------------------------------------------------------

    def _delivery(
        self, bot: Bot, kind: str, events: list[dict[str, Any]], chat: str | None
    ) -> Delivery | None:
        cfg = bot.cfg
        url = self.world.webhook_url(self.name, cfg.bot_user_id, cfg.webhook_url)
        if not url:
            return None
        body = encode({"destination": cfg.bot_user_id, "events": events})
        return LineDelivery(
            id=self.world.next_seq(),
            platform=self.name,
            account=cfg.bot_user_id,
            kind=kind,
            url=url,
            body=body,
            headers=(
                ("content-type", "application/json; charset=utf-8"),
                ("user-agent", "LineBotWebhook/2.0"),
                ("x-line-signature", sign(cfg.channel_secret, body)),
            ),
            conversation=chat,
            secret=cfg.channel_secret,
        )

    def _event(
        self,
        bot: Bot,
        kind: str,
        source: dict[str, Any],
        chat: str,
        user: str | None,
        *,
        standby: bool,
        extra: dict[str, Any],
        reply: bool | None = None,
    ) -> dict[str, Any]:
        now = self.world.now()
        event: dict[str, Any] = {"type": kind, **extra}
        event.update(
            mode="standby" if standby else "active",
            timestamp=int(now * 1000),
            source=source,
            webhookEventId=self._event_id(),
            deliveryContext={"isRedelivery": False},
        )
        wants = (kind in REPLYABLE) if reply is None else reply
        if kind == "accountLink" and isinstance(extra.get("link"), dict):
            wants = wants and extra["link"].get("result") != "failed"  # absent then (spec §2)
        if wants and (not standby or kind in NEEDS_REPLY_TOKEN) and "replyToken" not in event:
            token = self._reply_token()
            bot.reply_tokens[token] = ReplyToken(
                chat=chat, expires=now + bot.cfg.reply_token_ttl, user=user
            )
            event["replyToken"] = token
        return event

    def handshake(self, account: str | None, challenge: str) -> Delivery | str:
        """The console's Verify: a signed POST with no events, which the app answers 200
        (spec §2; research §3). A receiver that passes answers ``OK``, as the SDK samples do."""
        bot = self._bot(account)
        if bot is None:
            return "unknown or ambiguous 'account' (the bot user id)"
        delivery = self._delivery(bot, "handshake", [], None)
        if delivery is None:
            return "the account has no webhook_url"
        return attrs.evolve(delivery, echo=b"OK")

    # --- the user's side (control plane) --------------------------------------------------

    def inbound(self, spec: dict[str, Any]) -> tuple[Delivery | None, dict[str, Any]] | str:
        """A user acts: the state it implies, and the signed webhook.

        Everything is checked before anything changes: a refused action changes nothing.
        """
        bot = self._bot(spec.get("account"))
        if bot is None:
            return "unknown or ambiguous 'account' (the bot user id)"
        user_id = spec.get("user")
        if not isinstance(user_id, str) or not USER_ID.fullmatch(user_id):
            return "'user' (the LINE user id, 'U' and 32 hex digits) is required"
        if user_id == bot.cfg.bot_user_id:
            return "'user' is the bot itself"
        try:
            action = parse(spec)
            action = self._resolve_menu(bot, user_id, action)
            self._check(bot, user_id, action)
        except Refused as exc:
            return str(exc)
        # --- checked: from here on, state changes ---
        user = bot.users.get(user_id)
        if user is None:
            name = spec.get("name")
            user = bot.users[user_id] = User(
                user_id=user_id, display_name=str(name) if name else "Customer"
            )
            if action.kind in ("message", "postback", "unsend", "event") and action.group is None:
                user.friendship = "friend"  # a 1:1 chat means the user added the account
        return self._apply(bot, user, action)

    def _resolve_menu(self, bot: Bot, user_id: str, action: Action) -> Action:
        """A rich-menu tap: the area's action as the event LINE sends for it."""
        if action.kind != "richmenu":
            return action
        menus = self.menus[bot.cfg.bot_user_id]
        menu = menus.menu_of(user_id)
        if menu is None:
            raise Refused("richmenu: the user has no rich menu (link one, or set a default)")
        assert action.area is not None
        tapped = menus.action_at(menu, action.area)
        if tapped is None:
            raise Refused(f"richmenu.area: menu {menu} has no area {action.area}")
        kind = tapped.get("type")
        group, standby = action.group, action.standby
        if kind == "message" and isinstance(tapped.get("text"), str):
            part = {"type": "text", "text": tapped["text"]}
            return Action(kind="message", part=part, group=group, standby=standby)
        if kind in ("postback", "datetimepicker", "richmenuswitch"):
            postback: dict[str, Any] = {"data": str(tapped.get("data", ""))}
            if kind == "datetimepicker":
                mode = str(tapped.get("mode", "datetime"))
                default = {"date": "2026-01-01", "time": "00:00", "datetime": "2026-01-01T00:00"}
                postback["params"] = {mode: str(tapped.get("initial") or default.get(mode, ""))}
            if kind == "richmenuswitch":
                alias = str(tapped.get("richMenuAliasId", ""))
                postback["params"] = {"newRichMenuAliasId": alias, "status": "SUCCESS"}
            return Action(kind="postback", part=postback, group=group, standby=standby)
        raise Refused(
            f"richmenu.area: area {action.area} is a {kind} action: LINE sends no webhook"
        )

    def _check(self, bot: Bot, user_id: str, action: Action) -> None:
        user = bot.users.get(user_id)
        kind, chat = action.kind, action.group
        friendship = "none" if user is None else user.friendship
        if kind == "follow" and friendship == "friend":
            raise Refused("follow: the user is already a friend")
        if kind == "unfollow" and friendship != "friend":
            raise Refused("unfollow: the user is not a friend (nothing to block)")
        group = bot.groups.get(chat) if chat is not None else None
        if kind == "join" and group is not None and group.bot_in:
            raise Refused("join.group: the bot is already in it")
        if kind in ("leave", "memberJoined", "memberLeft") and (group is None or not group.bot_in):
            raise Refused(f"{kind}: the bot is not in that group")
        if kind == "memberJoined" and group is not None and user_id in group.members:
            raise Refused("member_joined: the user is already a member")
        if kind == "memberLeft" and group is not None and user_id not in group.members:
            raise Refused("member_left: the user is not a member")
        if kind in ("message", "postback", "unsend", "event"):
            if chat is None and friendship == "blocked":
                raise Refused("the user blocked the account: they cannot message it (follow first)")
            if chat is not None and (group is None or not group.bot_in):
                raise Refused("group: the bot is not in that group (join first)")
            if chat is not None and group is not None and user_id not in group.members:
                raise Refused("group: the user is not a member (member_joined first)")

    def _source(self, user_id: str, chat: str | None, *, with_user: bool) -> dict[str, Any]:
        if chat is None:
            return {"type": "user", "userId": user_id}
        kind = "room" if chat.startswith("R") else "group"
        source: dict[str, Any] = {"type": kind, f"{kind}Id": chat}
        if with_user:
            source["userId"] = user_id
        return source

    def _apply(
        self, bot: Bot, user: User, action: Action
    ) -> tuple[Delivery | None, dict[str, Any]]:
        now = self.world.now()
        kind, part, chat = action.kind, dict(action.part), action.group
        uid = user.user_id
        where = chat or uid
        ident: str
        extra: dict[str, Any]
        if kind == "message":
            ident = self._message_id()
            message: dict[str, Any] = {"id": ident, **part}
            if message["type"] in _QUOTED:
                message["quoteToken"] = self._quote_token()
            token = self.world.token(40)
            bot.read_tokens[token] = (where, ident)
            message["markAsReadToken"] = token
            if action.upload is not None:
                data, mime = action.upload
                slow = message["type"] in ("video", "audio")
                bot.contents[ident] = Content(
                    kind=message["type"],
                    data=data,
                    mime_type=mime,
                    ready_at=now + (bot.cfg.transcoding_time if slow else 0.0),
                )
            extra = {"message": message}
        elif kind == "postback":
            ident = f"postback.{self.world.next_seq()}"
            extra = {"postback": part}
        elif kind == "follow":
            ident = f"follow.{self.world.next_seq()}"
            extra = {"follow": {"isUnblocked": user.friendship == "blocked"}}
            user.friendship = "friend"
        elif kind == "unfollow":
            ident = f"unfollow.{self.world.next_seq()}"
            extra = {}
            user.friendship = "blocked"
            user.ever_blocked = True
        elif kind in ("join", "leave", "memberJoined", "memberLeft"):
            assert chat is not None
            ident = f"{kind}.{self.world.next_seq()}"
            extra = {}
            group = bot.groups.get(chat)
            if kind == "join":
                if group is None:
                    group = bot.groups[chat] = Group(chat_id=chat)
                group.bot_in = True
                if uid not in group.members:
                    group.members.append(uid)  # the user who invited the bot
            elif kind == "leave":
                assert group is not None
                group.bot_in = False
            elif kind == "memberJoined":
                assert group is not None
                group.members.append(uid)
                extra = {"joined": {"members": [{"type": "user", "userId": uid}]}}
            else:
                assert group is not None
                group.members.remove(uid)
                extra = {"left": {"members": [{"type": "user", "userId": uid}]}}
        elif kind == "unsend":
            ident = part["messageId"]
            extra = {"unsend": part}
        else:
            kind = str(part.pop("type"))
            ident = f"{kind}.{self.world.next_seq()}"
            extra = part
        with_user = kind not in ("join", "leave", "memberJoined", "memberLeft")
        source = self._source(uid, chat, with_user=with_user)
        event = self._event(bot, kind, source, where, uid, standby=action.standby, extra=extra)
        delivery = self._delivery(bot, kind, [event], where)
        return delivery, {"id": ident, "kind": kind, "standby": action.standby, "event": event}


@attrs.frozen
class _Conflict(LineRefusal):
    """409 on a repeated retry key: the accepted request's id and its ``sentMessages``."""

    accepted_id: str = ""
    sent: tuple[dict[str, str], ...] = ()

    def response(self, request_id: str) -> SimResponse:
        """The 409, ``x-line-accepted-request-id`` naming the request that was accepted."""
        return line_error(
            409,
            self.message,
            headers=(
                ("x-line-request-id", request_id),
                ("x-line-accepted-request-id", self.accepted_id),
            ),
            extra={"sentMessages": list(self.sent)} if self.sent else None,
        )


def _json(data: Any, status: int = 200) -> SimResponse:
    return SimResponse(status=status, body=json.dumps(data, separators=(",", ":")).encode())
