"""WeChat's webhook side: the ``echostr`` handshake, ``signature`` and ``msg_signature`` in
the query string, safe-mode decryption, the XML push, and the state it implies.

Facts: spec/wechat.md §1 (handshake, signatures), §2 (modes, encryption), §3 (pushes,
retries, ``success``), §5.1 (which interactions open which customer-service window);
research/wechat.md §2-§3.

* **Handshake**: a GET with ``signature``, ``timestamp``, ``nonce`` and ``echostr`` is
  answered 200 with the ``echostr`` as it came when ``signature`` is right for one of the
  channels' tokens (the echostr is plaintext and checked with ``signature`` in every mode:
  Official Accounts are not WeCom, spec Pitfalls 2), 401 without a signature, 403 with a
  wrong one.
* **A push** (POST): ``signature`` over (token, timestamp, nonce) always; with
  ``encrypt_type=aes`` (compatible and safe modes) also ``msg_signature`` over the body's
  ``Encrypt``, which is then decrypted (padding, length and AppID checked,
  :func:`~omnimsg.platforms.wechat.crypto.decrypt`) and its XML read; a compatible-mode
  body's plaintext copy is ignored then. Several channels may share the endpoint: the push
  is theirs whose token (and, encrypted, whose key and AppID) verify it.
* **Decisions** the spec leaves open: ``signature`` covers no byte of the body, so a
  channel in ``mode="safe"`` takes encrypted pushes only (a plaintext body with a replayed
  signature is refused, 403), while ``plaintext`` and ``compatible`` channels take both.
  A push that does not decrypt for the channel (wrong EncodingAESKey, wrong AppID) is a
  :class:`~omnimsg.platforms.wechat.crypto.DecryptError`, a ``SignatureError``: 403,
  nothing stored. A verified push whose ``ToUserName`` is not the verifying channel's
  ``account_id`` is kept as :class:`~omnimsg.Unknown` saying so (nothing stored: most
  likely the channel's ``account_id`` is set wrong).
* **The answer**: WeChat re-sends a push after 5 s without an answer (three deliveries in
  all); a handled push with no passive reply is answered ``success`` (spec §3.4). A passive
  reply is built by :func:`~omnimsg.platforms.wechat.replies.passive_reply`.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote_plus

from ..._core.effects import Flow
from ..._fast import fast_constructor
from ..._inbound import Headers, WebhookConfig, WebhookOutcome, url_text
from ...exceptions import ConfigurationError, OmniMsgError, SignatureError, WebhookParseError
from ...models.events import Event, FollowChanged, Unknown
from ...stores.ops import Delete, Op, new_set_max
from . import wire
from . import xml as wxml
from .channel import WeChat
from .crypto import DecryptError, decrypt, msg_signature, signature
from .state import FOLLOW_TTL, follow_key, interaction_key, sent_key, unfollow_key

__all__ = ["INTERACTION_TTL", "WeChatWebhooks"]

INTERACTION_TTL = 30 * 86_400.0
"""How long a customer's newest interaction time is kept (the windows it opens are far
shorter; the send flows compare the time itself)."""

_SUCCESS = b"success"
_new_outcome = fast_constructor(WebhookOutcome)


def _nothing() -> Flow[None]:
    yield from ()


# One finished flow, shared: no WeChat event needs state read first (a hot path, DESIGN §5).
_NOTHING = _nothing()
_NOTHING.close()


def _query(url: str) -> dict[str, str]:
    """The query parameters of ``url``, the first value of each (blank values kept).

    What ``parse_qsl(urlsplit(url).query, keep_blank_values=True)`` gives, without its
    cost on every push (DESIGN §5): WeChat's parameters are plain digits and hex, so
    ``%`` and ``+`` are rare and only then unquoted (invalid escapes replaced, as there).
    """
    query = url_text(url).partition("#")[0].partition("?")[2]
    found: dict[str, str] = {}
    for pair in query.split("&"):
        if not pair:
            continue
        key, _, value = pair.partition("=")
        if "%" in key or "+" in key:
            key = unquote_plus(key)
        if "%" in value or "+" in value:
            value = unquote_plus(value)
        found.setdefault(key, value)
    return found


def _same(expected: str, given: str) -> bool:
    """Constant-time comparison of a computed hex digest with a received value."""
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "surrogatepass"))


def _aes(query: dict[str, str]) -> bool:
    return query.get("encrypt_type", "").lower() == "aes"


class WeChatWebhooks:
    """The webhook side for the configured WeChat channels (one endpoint may serve several:
    a push is taken when one of their tokens signed it)."""

    def __init__(self, channels: Sequence[WeChat], config: WebhookConfig) -> None:
        self.config = config
        by_token: dict[str, list[WeChat]] = {}
        for channel in channels:
            if channel.token:
                by_token.setdefault(channel.token, []).append(channel)
        # Keyed once (the hot path of every push, DESIGN §5).
        self._tokens: tuple[tuple[str, tuple[WeChat, ...]], ...] = tuple(
            (token, tuple(group)) for token, group in by_token.items()
        )
        self._accounts = frozenset(c.account_id for c in channels)

    # --- verification -------------------------------------------------------------------------

    def _signed_by(self, query: dict[str, str]) -> list[WeChat]:
        """The channels whose token makes the query's ``signature``."""
        given = query.get("signature")
        if not given:
            return []
        timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
        found: list[WeChat] = []
        for token, group in self._tokens:
            if _same(signature(token, timestamp, nonce), given):
                found.extend(group)
        return found

    def handshake(self, method: str, url: str) -> WebhookOutcome | None:
        """The answer to the server-configuration check (a GET), or ``None`` for a POST."""
        if method != "GET":
            return None
        if not self._tokens:
            error: OmniMsgError = ConfigurationError(
                "set token= on the WeChat channel to answer the server-configuration check"
            )
            return WebhookOutcome(status=403, body=b"Forbidden", error=error)
        query = _query(url)
        if not query.get("signature"):
            error = SignatureError("missing signature query parameter")
            return WebhookOutcome(status=401, body=b"Unauthorized", error=error)
        if not self._signed_by(query):
            error = SignatureError("signature does not match any configured token")
            return WebhookOutcome(status=403, body=b"Forbidden", error=error)
        echostr = query.get("echostr")
        if echostr is None:
            error = WebhookParseError("a signed GET without echostr")
            return WebhookOutcome(status=400, body=b"Bad Request", error=error)
        return WebhookOutcome(status=200, body=echostr.encode("utf-8"), content_type="text/plain")

    def signature_missing(self, url: str, headers: Headers) -> bool:
        """No ``signature`` (or, encrypted, no ``msg_signature``) in the query: 401."""
        query = _query(url)
        return not query.get("signature") or (_aes(query) and not query.get("msg_signature"))

    def read(self, url: str, headers: Headers, body: bytes) -> list[Event]:
        """The size limit, ``signature``, and (``encrypt_type=aes``) ``msg_signature`` and
        decryption, then the push's events (one; two for a follow through a QR code).

        Raises:
            ConfigurationError: no WeChat channel has a ``token``, or an encrypted push came
                for channels without ``encoding_aes_key``.
            SignatureError: a signature is missing or wrong, a safe-mode channel got a
                plaintext push, or the push does not decrypt for the channel
                (:class:`~omnimsg.platforms.wechat.crypto.DecryptError`).
            WebhookParseError: the body is too large, not WeChat's XML (see
                :func:`~omnimsg.platforms.wechat.xml.parse`), or has no ``Encrypt``.
        """
        limit = self.config.max_body_bytes
        if len(body) > limit:
            raise WebhookParseError(f"webhook body is larger than {limit} bytes")
        if not self._tokens:
            raise ConfigurationError("set token= on the WeChat channel to verify webhooks")
        query = _query(url)
        if not query.get("signature"):
            raise SignatureError("missing signature query parameter")
        candidates = self._signed_by(query)
        if not candidates:
            raise SignatureError("signature does not match any configured token")
        outer = wxml.parse(body, max_bytes=limit)
        channel: WeChat | None
        if _aes(query):
            fields, channel = self._decrypted(query, outer, candidates)
        else:
            plain = [c for c in candidates if c.mode != "safe"]
            if not plain:
                raise SignatureError(
                    "the account is in safe mode: a push must be encrypted (encrypt_type=aes)"
                )
            fields, channel = outer, plain[0] if len(plain) == 1 else None
            to = fields.get("ToUserName")
            for candidate in plain:
                if candidate.account_id == to:
                    channel = candidate
                    break
        return self._events(fields, channel, candidates)

    def _decrypted(
        self, query: dict[str, str], outer: dict[str, Any], candidates: list[WeChat]
    ) -> tuple[dict[str, Any], WeChat]:
        """The inner push of an encrypted body, and the channel it decrypted for."""
        given = query.get("msg_signature")
        if not given:
            raise SignatureError("missing msg_signature query parameter (encrypt_type=aes)")
        encrypted = outer.get("Encrypt")
        if type(encrypted) is not str or not encrypted:
            raise WebhookParseError("an encrypted push (encrypt_type=aes) without Encrypt")
        timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
        signed = [
            c
            for c in candidates
            if c.token and _same(msg_signature(c.token, timestamp, nonce, encrypted), given)
        ]
        if not signed:
            raise SignatureError("msg_signature does not match the Encrypt of the body")
        keyed = [c for c in signed if c.encoding_aes_key]
        if not keyed:
            raise ConfigurationError(
                "set encoding_aes_key= on the WeChat channel to read encrypted pushes"
            )
        # The outer ToUserName (unauthenticated) only says which channel to try first.
        to = outer.get("ToUserName")
        keyed.sort(key=lambda c: c.account_id != to)
        failure: DecryptError | None = None
        for channel in keyed:
            try:
                plain = decrypt(channel.encoding_aes_key or "", channel.app_id, encrypted)
            except DecryptError as exc:
                failure = failure if failure is not None and exc.reason != "appid" else exc
                continue
            return wxml.parse(plain, max_bytes=self.config.max_body_bytes), channel
        assert failure is not None
        raise failure

    def _events(
        self, fields: dict[str, Any], channel: WeChat | None, candidates: list[WeChat]
    ) -> list[Event]:
        """The push's events; a ``ToUserName`` the verifying channel does not have is kept
        as ``Unknown`` (``channel`` is the one whose ``account_id`` it is, when any is)."""
        to = fields.get("ToUserName")
        if type(to) is str and to and (channel is None or to != channel.account_id):
            verified = ", ".join(sorted({c.account_id for c in candidates}))
            return [
                Unknown(
                    platform="wechat",
                    account=to,
                    reason=f"ToUserName {to[:40]!r} is not the account whose token verified "
                    f"the push ({verified}): check the channel's account_id",
                    raw=fields,
                )
            ]
        return wire.parse_events(fields, channel.account_id if channel is not None else None)

    # --- de-duplication and state -------------------------------------------------------------

    def dedup_key(self, event: Event) -> str:
        """``MsgId`` for a message, ``FromUserName`` + ``CreateTime`` + ``Event`` for an
        event (spec §3.4; :func:`~omnimsg.platforms.wechat.wire.dedup_key`)."""
        return wire.dedup_key(event)

    def state_ops(self, event: Event) -> list[Op]:
        """The customer's newest interaction of its kind, and follows and unfollows.

        A customer's message (a msgmenu tap too) sets the ``"message"`` interaction (the
        48-hour window); a follow, a QR-code scan and a click on a ``click``,
        ``scancode_push`` or ``scancode_waitmsg`` menu item the ``"event"`` one (the
        1-minute window). VIEW, LOCATION, the other menu events and template results open
        no window (spec §5.1: only those). ``subscribe`` and ``unsubscribe`` set the
        newest follow or unfollow time. ``Unknown`` and accounts no channel has: nothing.
        """
        account = event.account
        if account is None or account not in self._accounts or type(event) is Unknown:
            return []
        user = getattr(event, "user", None)
        ts = getattr(event, "timestamp", None)
        if type(user) is not str or type(ts) is not float:
            return []
        ops: list[Op] = []
        kind = wire.interaction(event)
        if kind is not None:
            ops.append(
                new_set_max(
                    key=interaction_key(account, user, kind),
                    value=ts,
                    ttl=INTERACTION_TTL,
                    ceiling=wire.MAX_TIMESTAMP,
                )
            )
            # A new interaction opens a new window with its count full (research §5), even
            # in the same second as the last one (CreateTime has whole seconds): the
            # simulator re-opens it too (tests/test_contract_wechat.py).
            ops.append(Delete(sent_key(account, user, kind, ts)))
        if type(event) is FollowChanged:
            key = follow_key if event.following else unfollow_key
            ops.append(
                new_set_max(
                    key=key(account, user), value=ts, ttl=FOLLOW_TTL, ceiling=wire.MAX_TIMESTAMP
                )
            )
        return ops

    def apply_rest(self, event: Event) -> Flow[None]:
        """Nothing: every WeChat state is written without reading first."""
        return _NOTHING

    def answer(self, outcome: WebhookOutcome) -> WebhookOutcome:
        """``success``, the answer WeChat takes as "handled, no reply" (spec §3.4)."""
        if outcome.status != 200 or outcome.body != b"OK":
            return outcome
        return _new_outcome(
            status=200,
            body=_SUCCESS,
            content_type="text/plain",
            events=outcome.events,
            duplicates=outcome.duplicates,
            error=None,
        )
