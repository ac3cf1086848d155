"""LINE's webhook side: ``x-line-signature`` over the raw bytes, the body's events, and the
state they imply (a chat's reply token, a user's friendship) for the send flows.

Facts: spec/line.md §1 (signature), §2 (body, events, redelivery), §8 (friendship), Pitfalls
1 and 3; research/line.md §1.4 and §3. LINE has no verification handshake: the console's
"Verify" is a signed POST with an empty ``events`` list, answered 200 with no events.
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from ..._core.effects import Flow
from ..._inbound import Headers, WebhookConfig, WebhookOutcome, header
from ...exceptions import ConfigurationError, SignatureError, WebhookParseError
from ...models.events import (
    AccountLinked,
    BeaconDetected,
    Event,
    FollowChanged,
    MembershipChanged,
    MessageReceived,
    Postback,
    VideoWatched,
)
from ...signing import LineSignatureVerifier
from ...stores.ops import Op, new_set, new_set_max
from .._meta import parse_webhook
from . import wire
from .channel import Line
from .state import FOLLOW_TTL, follow_key, reply_token_key, unfollow_key

__all__ = ["LineWebhooks"]

_SIGNATURE = "x-line-signature"
_SIGNATURE_CANONICAL = "X-Line-Signature"
# What LINE gives a reply token (spec §2), as parsed by wire.py.
_REPLYABLE = (
    MessageReceived,
    Postback,
    FollowChanged,
    MembershipChanged,
    VideoWatched,
    BeaconDetected,
    AccountLinked,
)


def _nothing() -> Flow[None]:
    yield from ()


# One finished flow, shared: no LINE event needs state read first (a hot path, DESIGN §5).
_NOTHING = _nothing()
_NOTHING.close()


class LineWebhooks:
    """The webhook side for the configured LINE channels (one endpoint may serve several:
    a body is taken when any of their channel secrets signed it)."""

    def __init__(self, channels: Sequence[Line], config: WebhookConfig) -> None:
        self.config = config
        # Keyed once: verifying is on the hot path of every webhook (DESIGN §5).
        secrets = dict.fromkeys(c.channel_secret for c in channels if c.channel_secret)
        self._verifiers = tuple(LineSignatureVerifier(secret) for secret in secrets)
        self._lifetimes = {c.bot_user_id: c.reply_token_lifetime for c in channels}

    def handshake(self, method: str, url: str) -> WebhookOutcome | None:
        """LINE has no verification handshake: never one."""
        return None

    def signature(self, headers: Headers) -> str | None:
        """The ``x-line-signature`` value of any header shape."""
        if type(headers) is dict:  # the hot path: a plain dict
            found = headers.get(_SIGNATURE)
            if type(found) is str:
                return found
        return header(headers, _SIGNATURE, _SIGNATURE_CANONICAL)

    def signature_missing(self, url: str, headers: Headers) -> bool:
        """A missing ``x-line-signature`` is 401 (LINE's node middleware: "no signature"),
        a wrong one 403."""
        return self.signature(headers) is None

    def read(self, url: str, headers: Headers, body: bytes) -> list[Event]:
        """The size limit, then ``x-line-signature`` over the raw bytes (spec §1: decoding
        first would break it, Pitfalls 1), then every event of the body.

        Raises:
            ConfigurationError: no LINE channel has a ``channel_secret``.
            SignatureError: the signature is missing or signs something else.
            WebhookParseError: the body is too large, not JSON, nested too deeply, or not
                LINE's envelope.
        """
        if len(body) > self.config.max_body_bytes:
            raise WebhookParseError(
                f"webhook body is larger than {self.config.max_body_bytes} bytes"
            )
        verifiers = self._verifiers
        if not verifiers:  # said before any header is read
            raise ConfigurationError("set channel_secret= on the Line channel to verify webhooks")
        signature = self.signature(headers)
        for verifier in verifiers:
            if verifier.matches(body, signature):
                break
        else:
            if signature is None:
                raise SignatureError("missing x-line-signature header")
            raise SignatureError("x-line-signature does not match the body")
        payload = parse_webhook(body, "LINE")
        try:
            return wire.parse_events(payload)
        except ValueError as exc:
            raise WebhookParseError(str(exc)) from None

    def dedup_key(self, event: Event) -> str:
        """The event's ``webhookEventId`` (kept on a redelivery, spec §2)."""
        return wire.dedup_key(event)

    def state_ops(self, event: Event) -> list[Op]:
        """The chat's newest reply token, and follows and unfollows (spec §3, §8).

        A reply token is kept under :func:`~omnimsg.platforms.line.state.reply_token_key` for
        the channel's ``reply_token_lifetime``, except on a redelivery (it has most likely
        expired; research §3), in standby (another channel answers that chat), for the
        console's dummy tokens, and for a destination no configured channel has. A message
        says nothing about friendship (a user may chat without being a friend): only follow
        and unfollow set it. ``Unknown`` events imply nothing.
        """
        if not isinstance(event, _REPLYABLE):  # Unknown, unsend: nothing
            return []
        account = event.account
        lifetime = self._lifetimes.get(account)
        if lifetime is None:  # not one of ours (the console's "xxxxxxxxxx")
            return []
        ops: list[Op] = []
        raw = event.raw
        if isinstance(event, FollowChanged):
            # The newest time of each, so a late or redelivered event never wins (state.py).
            key = follow_key if event.following else unfollow_key
            ops.append(
                new_set_max(
                    key=key(account, event.user),
                    value=event.timestamp,
                    ttl=FOLLOW_TTL,
                    ceiling=wire.MAX_TIMESTAMP,
                )
            )
            if raw.get("mode") == "standby":  # the class has no standby flag; the event has
                return ops
        elif event.standby:  # another channel answers this chat
            return ops
        token = raw.get("replyToken")
        if type(token) is not str or not token or len(token) > 256 or not token.isascii():
            return ops
        context = raw.get("deliveryContext")
        if type(context) is dict and context.get("isRedelivery") is True:
            return ops  # most likely expired already (research §3)
        first = token[0]
        if (first == "0" or first == "f") and token.count(first) == len(token):
            return ops  # the console's dummy token (spec Pitfalls 3)
        ops.append(
            new_set(
                key=reply_token_key(account, event.user),
                value=orjson.dumps({"token": token, "at": event.timestamp}),
                ttl=lifetime,
            )
        )
        return ops

    def apply_rest(self, event: Event) -> Flow[None]:
        """Nothing: every LINE state is written without reading first."""
        return _NOTHING

    def answer(self, outcome: WebhookOutcome) -> WebhookOutcome:
        """LINE wants a bare 200 at once (spec §2): the outcome as it is."""
        return outcome
