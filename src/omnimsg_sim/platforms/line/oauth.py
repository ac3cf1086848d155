"""LINE channel access tokens (spec/line.md §5; research §1.2): issue, verify, revoke.

The token endpoints take ``application/x-www-form-urlencoded`` bodies and answer OAuth-style
errors, ``{"error": "invalid_request"|"invalid_client"|"invalid_grant", "error_description"}``
with 400, not the Messaging API's ``{message}`` (spec §5). Four kinds of token, each on the
virtual clock:

========== ============================ =========================== =====================
kind       issued by                    lifetime                    per channel
========== ============================ =========================== =====================
stateless  ``POST /oauth2/v3/token``    15 min (``expires_in`` 900) unlimited, no revoking
short      ``POST /v2/oauth/accessToken`` 30 days                   30 valid at once
v2.1       ``POST /oauth2/v2.1/token``  the JWT's ``token_exp``     30 valid at once
                                        (at most 30 days)
long       the account's configured     no expiry                   1
           ``channel_access_token``
========== ============================ =========================== =====================

Verification: ``POST /v2/oauth/verify`` (form ``access_token``) and ``GET /oauth2/v2.1/verify
?access_token=`` answer ``{client_id, expires_in (seconds left), scope}``; revocation:
``POST /v2/oauth/revoke`` and ``POST /oauth2/v2.1/revoke`` (with the channel's id and secret);
``GET /oauth2/v2.1/tokens/kid`` lists the key ids of a channel's valid v2.1 tokens.

JWT assertions are read, not verified: the header and claims are decoded and ``iss`` (and
``sub``, when given) must be a configured channel id, but the RS256 signature made with the
Assertion Signing Key is **not** checked (the simulator holds no public keys), and neither is
the assertion's own ``exp`` (it is real time, the simulator's clock is virtual). UNVERIFIED:
the claims LINE requires and the errors it gives for each.

Tokens are deterministic given the order of calls (a counter, hashed), never derived from the
channel secret, and :meth:`Tokens.bot_for` is how the Messaging API routes authenticate one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qs

import attrs

from ... import safejson
from ...answers import json_response
from ...effects import SimFlow, SimRequest, SimResponse

if TYPE_CHECKING:
    from ...config import LineAccount

__all__ = [
    "JWT_BEARER",
    "LONG_LIVED_EXPIRES_IN",
    "MAX_VALID",
    "SHORT_LIVED_TTL",
    "STATELESS_TTL",
    "V21_MAX_TTL",
    "TokenKind",
    "Tokens",
]

TokenKind = Literal["stateless", "short", "v2.1", "long"]

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
STATELESS_TTL = 900
"""15 minutes [doc]; LINE's own example answers 899 (a second already gone)."""
SHORT_LIVED_TTL = 2_592_000
"""30 days [spec]."""
V21_MAX_TTL = 2_592_000
"""The longest ``token_exp`` a v2.1 token may ask for: 30 days [doc]."""
MAX_VALID = 30
"""Valid short-lived (and, separately, v2.1) tokens a channel may hold at once [doc]."""
LONG_LIVED_EXPIRES_IN = 3_138_007_490
"""``expires_in`` of a long-lived token (the openapi example's value: it never expires)."""
_FIELD_MAX = 8192  # longest form value read (a JWT is well under 2 KB)
_SCOPE = "profile chat_message.write"  # openapi v2.1 verify example; the v2 example: "P CM"

# --- OAuth errors (wording UNVERIFIED unless said otherwise) ---------------------------------

_EXPIRED = "access token expired"  # [doc] LINE Login's /oauth2/v2.1/verify, 400 invalid_request
_INVALID_TOKEN = "invalid access token"
_PARAMS = "some parameters missed or invalid"  # [spec] /v2/oauth/accessToken's example


class _Refused(Exception):
    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description

    def answer(self) -> SimResponse:
        return json_response({"error": self.error, "error_description": self.description}, 400)


def _request(description: str) -> _Refused:
    return _Refused("invalid_request", description)


@attrs.define
class _Token:
    kind: TokenKind
    channel_id: str
    issued: float
    expires: float | None  # None: never
    key_id: str | None = None

    def valid(self, now: float) -> bool:
        return self.expires is None or now < self.expires

    def left(self, now: float) -> int:
        if self.expires is None:
            return LONG_LIVED_EXPIRES_IN
        return max(0, int(self.expires - now))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(part: str) -> bytes:
    if not part or len(part) > _FIELD_MAX or not part.isascii():
        raise ValueError("bad segment")
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _claims(assertion: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and claims of a compact JWT (signature not verified: see the module doc)."""
    parts = assertion.split(".")
    if len(parts) != 3:
        raise _Refused("invalid_grant", "invalid client_assertion: not a JWT")
    try:
        header = safejson.loads(_unb64url(parts[0]))
        claims = safejson.loads(_unb64url(parts[1]))
    except (ValueError, binascii.Error):
        raise _Refused("invalid_grant", "invalid client_assertion: not a JWT") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise _Refused("invalid_grant", "invalid client_assertion: not a JWT")
    alg = header.get("alg")
    if alg is not None and alg != "RS256":
        raise _Refused("invalid_grant", "invalid client_assertion: alg must be RS256")
    return header, claims


class Tokens:
    """The channel access tokens of every configured LINE account."""

    def __init__(self, accounts: Sequence[LineAccount]) -> None:
        self._accounts: dict[str, LineAccount] = {a.channel_id: a for a in accounts}
        self._tokens: dict[str, _Token] = {}
        self._long: dict[str, str] = {a.channel_access_token: a.channel_id for a in accounts}
        self._revoked_long: set[str] = set()
        self._made = 0

    # --- the contract's views --------------------------------------------------------------

    def bot_for(self, token: str, now: float) -> str | None:
        """The bot user id of the account ``token`` belongs to; ``None`` if the simulator did
        not issue it (nor is it a configured long-lived token), or it expired or was revoked."""
        channel = self._channel_of(token, now)
        return None if channel is None else self._accounts[channel].bot_user_id

    def state(self) -> dict[str, Any]:
        """A JSON snapshot: how many tokens of each kind each channel holds (no token values)."""
        out: dict[str, dict[str, int]] = {}
        for channel in self._accounts:
            out[channel] = {"stateless": 0, "short": 0, "v2.1": 0}
        for record in self._tokens.values():
            out.setdefault(record.channel_id, {})
            out[record.channel_id][record.kind] = out[record.channel_id].get(record.kind, 0) + 1
        return {"tokens": out, "revoked_long_lived": sorted(self._revoked_long_channels())}

    def _revoked_long_channels(self) -> list[str]:
        return [self._long[t] for t in self._revoked_long]

    # --- routing ---------------------------------------------------------------------------

    def route(self, req: SimRequest, now: float) -> SimFlow[SimResponse] | None:
        """The flow answering ``req`` if it is a token endpoint, else ``None``."""
        method = req.method.upper()
        handlers: dict[tuple[str, str], Callable[[SimRequest, float], SimResponse]] = {
            ("POST", "/oauth2/v3/token"): self._stateless,
            ("POST", "/v2/oauth/accessToken"): self._short,
            ("POST", "/oauth2/v2.1/token"): self._v21,
            ("POST", "/v2/oauth/verify"): self._verify_v2,
            ("GET", "/oauth2/v2.1/verify"): self._verify_v21,
            ("POST", "/v2/oauth/revoke"): self._revoke_v2,
            ("POST", "/oauth2/v2.1/revoke"): self._revoke_v21,
            ("GET", "/oauth2/v2.1/tokens/kid"): self._kids,
        }
        handler = handlers.get((method, req.path))
        if handler is None:
            return None
        return self._flow(handler, req, now)

    def _flow(
        self, handler: Callable[[SimRequest, float], SimResponse], req: SimRequest, now: float
    ) -> SimFlow[SimResponse]:
        yield from ()  # a flow that needs no effect
        try:
            answer = handler(req, now)
        except _Refused as refused:
            return refused.answer()
        return answer

    # --- reading requests ------------------------------------------------------------------

    @staticmethod
    def _form(req: SimRequest) -> dict[str, str]:
        """The form fields of a POST (each at most once), or the query's of a GET."""
        if req.method.upper() == "GET":
            fields = req.query
        else:
            kind = req.headers.get("content-type", "").split(";")[0].strip().lower()
            if kind != "application/x-www-form-urlencoded":
                # UNVERIFIED: LINE's answer to another Content-Type
                raise _request("Content-Type must be application/x-www-form-urlencoded")
            try:
                text = req.body.decode("utf-8")
                fields = parse_qs(text, keep_blank_values=True, errors="strict", max_num_fields=32)
            except (UnicodeError, ValueError):
                raise _request(_PARAMS) from None
        out: dict[str, str] = {}
        for key, values in fields.items():
            if len(values) != 1:
                raise _request(f"{key} must be given once")  # RFC 6749 §3.2
            value = values[0]
            if len(value) > _FIELD_MAX or not _encodable(value) or not _encodable(key):
                raise _request(_PARAMS)
            out[key] = value
        return out

    @staticmethod
    def _required(form: dict[str, str], *names: str) -> list[str]:
        missing = [n for n in names if not form.get(n)]
        if missing:
            raise _request(f"{', '.join(missing)} required")
        return [form[n] for n in names]

    def _grant(self, form: dict[str, str]) -> None:
        (grant,) = self._required(form, "grant_type")
        if grant != "client_credentials":
            raise _request("unsupported grant_type")  # UNVERIFIED (RFC: unsupported_grant_type)

    def _client(self, form: dict[str, str]) -> str:
        """The channel a ``client_id`` + ``client_secret`` pair names."""
        client_id, secret = self._required(form, "client_id", "client_secret")
        account = self._accounts.get(client_id)
        if account is None or not _same(secret, account.channel_secret):
            raise _Refused("invalid_client", "invalid client_id or client_secret")
        return client_id

    def _assertion(self, form: dict[str, str]) -> tuple[str, dict[str, Any]]:
        """The channel a JWT assertion names (``iss``), and its claims."""
        kind, assertion = self._required(form, "client_assertion_type", "client_assertion")
        if kind != JWT_BEARER:
            raise _request("invalid client_assertion_type")
        _, claims = _claims(assertion)
        issuer = claims.get("iss")
        subject = claims.get("sub", issuer)
        if not isinstance(issuer, str) or issuer not in self._accounts or subject != issuer:
            raise _Refused("invalid_client", "invalid client_assertion: iss must be the channel id")
        audience = claims.get("aud")
        if audience is not None and audience not in (
            "https://api.line.me/",
            ["https://api.line.me/"],
        ):
            raise _Refused("invalid_grant", "invalid client_assertion: aud")
        return issuer, claims

    # --- issuing ---------------------------------------------------------------------------

    def _new(self, kind: TokenKind, channel: str, now: float, ttl: float) -> str:
        self._prune(now)
        while True:
            self._made += 1
            seed = f"omnimsg-sim:line-token:{kind}:{channel}:{self._made}".encode()
            digest = hashlib.sha512(seed).digest()
            token = _b64url(digest) + _b64url(hashlib.sha256(digest).digest())
            if token not in self._tokens and token not in self._long:
                break
        key_id = _b64url(hashlib.sha256(b"kid:" + digest).digest()[:16]) if kind == "v2.1" else None
        self._tokens[token] = _Token(kind, channel, now, now + ttl, key_id)
        return token

    def _prune(self, now: float) -> None:
        """Forget tokens expired a day ago or more (every 256th issue: cheap, bounded)."""
        if self._made % 256:
            return
        for token in [
            t
            for t, r in self._tokens.items()
            if r.expires is not None and r.expires + 86_400 <= now
        ]:
            del self._tokens[token]

    def _valid_count(self, kind: TokenKind, channel: str, now: float) -> int:
        return sum(
            1
            for r in self._tokens.values()
            if r.kind == kind and r.channel_id == channel and r.valid(now)
        )

    def _stateless(self, req: SimRequest, now: float) -> SimResponse:
        form = self._form(req)
        self._grant(form)
        if "client_assertion" in form or "client_assertion_type" in form:
            channel, _ = self._assertion(form)
        else:
            channel = self._client(form)
        token = self._new("stateless", channel, now, STATELESS_TTL)
        return json_response(
            {"access_token": token, "expires_in": STATELESS_TTL, "token_type": "Bearer"}
        )

    def _short(self, req: SimRequest, now: float) -> SimResponse:
        form = self._form(req)
        self._grant(form)
        channel = self._client(form)
        if self._valid_count("short", channel, now) >= MAX_VALID:
            # [doc] the limit; the wording: UNVERIFIED
            raise _request(
                "The number of valid short-lived channel access tokens exceeds the limit"
            )
        token = self._new("short", channel, now, SHORT_LIVED_TTL)
        return json_response(
            {"access_token": token, "expires_in": SHORT_LIVED_TTL, "token_type": "Bearer"}
        )

    def _v21(self, req: SimRequest, now: float) -> SimResponse:
        form = self._form(req)
        self._grant(form)
        channel, claims = self._assertion(form)
        ttl = claims.get("token_exp", V21_MAX_TTL)  # UNVERIFIED: a missing token_exp = 30 days
        if isinstance(ttl, bool) or not isinstance(ttl, int) or not 1 <= ttl <= V21_MAX_TTL:
            raise _Refused("invalid_grant", f"invalid token_exp: at most {V21_MAX_TTL} seconds")
        if self._valid_count("v2.1", channel, now) >= MAX_VALID:
            raise _request("The number of valid channel access tokens v2.1 exceeds the limit")
        token = self._new("v2.1", channel, now, ttl)
        key_id = self._tokens[token].key_id
        return json_response(
            {"access_token": token, "token_type": "Bearer", "expires_in": ttl, "key_id": key_id}
        )

    # --- verifying and revoking ------------------------------------------------------------

    def _channel_of(self, token: str, now: float) -> str | None:
        channel = self._long.get(token)
        if channel is not None:
            return None if token in self._revoked_long else channel
        record = self._tokens.get(token)
        if record is None or not record.valid(now):
            return None
        return record.channel_id

    def _verify(self, form: dict[str, str], now: float) -> SimResponse:
        # UNVERIFIED: each verify endpoint is documented for its own kinds (v2: short and long;
        # v2.1: v2.1); the simulator's verify every kind at both.
        (token,) = self._required(form, "access_token")
        if token in self._long and token not in self._revoked_long:
            channel, left = self._long[token], LONG_LIVED_EXPIRES_IN
        else:
            record = self._tokens.get(token)
            if record is None:
                raise _request(_INVALID_TOKEN)
            if not record.valid(now):
                raise _request(_EXPIRED)
            channel, left = record.channel_id, record.left(now)
        return json_response({"client_id": channel, "expires_in": left, "scope": _SCOPE})

    def _verify_v2(self, req: SimRequest, now: float) -> SimResponse:
        return self._verify(self._form(req), now)

    def _verify_v21(self, req: SimRequest, now: float) -> SimResponse:
        return self._verify(self._form(req), now)

    def _revoke(self, token: str, channel: str | None) -> None:
        """Revoke ``token`` (of ``channel`` when given). Revoking a token the simulator does
        not know, or one already gone, changes nothing and is no error (RFC 7009 §2.2;
        UNVERIFIED for LINE). Stateless tokens cannot be revoked [spec]: they stay valid."""
        if token in self._long:
            if channel is None or self._long[token] == channel:
                self._revoked_long.add(token)
            return
        record = self._tokens.get(token)
        if record is None or record.kind == "stateless":
            return
        if channel is None or record.channel_id == channel:
            del self._tokens[token]

    def _revoke_v2(self, req: SimRequest, now: float) -> SimResponse:
        form = self._form(req)
        (token,) = self._required(form, "access_token")
        self._revoke(token, None)
        return json_response({})

    def _revoke_v21(self, req: SimRequest, now: float) -> SimResponse:
        form = self._form(req)
        (token,) = self._required(form, "access_token")
        channel = self._client(form)
        self._revoke(token, channel)
        return json_response({})

    def _kids(self, req: SimRequest, now: float) -> SimResponse:
        channel, _ = self._assertion(self._form(req))
        kids = [
            r.key_id
            for r in self._tokens.values()
            if r.kind == "v2.1" and r.channel_id == channel and r.valid(now) and r.key_id
        ]
        return json_response({"kids": kids})


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
