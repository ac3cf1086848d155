"""The JWT assertion LINE takes for channel access tokens v2.1 and stateless (spec/line.md §5).

A channel's **Assertion Signing Key** is an RSA key pair made by the developer; the public key
is registered in the LINE Developers Console, which answers its ``kid``. A token request then
carries a JWT signed RS256 with the private key:

* header ``{"alg": "RS256", "typ": "JWT", "kid": kid}``;
* claims ``iss`` = ``sub`` = the channel id, ``aud`` = ``https://api.line.me/``, ``exp`` =
  now + 30 minutes at most (the injected clock's now), and for v2.1 ``token_exp``: the token's
  lifetime in seconds, at most 30 days.

The claims are LINE's documented ones, but the spec marks them UNVERIFIED (§5): they are
constants here. The private key is accepted as PEM text (``-----BEGIN PRIVATE KEY-----``), a
JWK (the dict or its JSON text, as LINE's key tool gives it; its ``kid``, if any, is used when
none is given) or a ``cryptography`` RSA key object. Key material never appears in a message.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any, TypeAlias

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ...exceptions import ConfigurationError

__all__ = [
    "ASSERTION_LIFETIME",
    "AUDIENCE",
    "JWT_BEARER",
    "TOKEN_EXP_MAX",
    "PrivateKey",
    "assertion",
    "load_private_key",
]

AUDIENCE = "https://api.line.me/"
"""The ``aud`` claim (§5)."""
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
"""The form's ``client_assertion_type`` (§5)."""
ASSERTION_LIFETIME = 1800
"""Seconds the assertion is valid: LINE allows at most 30 minutes (§5)."""
TOKEN_EXP_MAX = 2_592_000
"""The longest v2.1 token: 30 days (§5)."""

PrivateKey: TypeAlias = "str | bytes | Mapping[str, Any] | rsa.RSAPrivateKey"
"""An Assertion Signing Key's private half: PEM, a JWK (dict or JSON text) or a key object."""

_BAD_KEY = (
    "the LINE assertion signing key must be an RSA private key: PEM text, a JWK (a dict or "
    "its JSON text, as the console's key tool gives it) or a cryptography RSAPrivateKey"
)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _jwk_int(jwk: Mapping[str, Any], name: str) -> int:
    value = jwk.get(name)
    if not isinstance(value, str) or not value:
        raise ValueError(name)
    raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    return int.from_bytes(raw, "big")


def _from_jwk(jwk: Mapping[str, Any]) -> rsa.RSAPrivateKey:
    if jwk.get("kty") != "RSA":
        raise ValueError("kty")
    n, e, d = _jwk_int(jwk, "n"), _jwk_int(jwk, "e"), _jwk_int(jwk, "d")
    if all(k in jwk for k in ("p", "q")):
        p, q = _jwk_int(jwk, "p"), _jwk_int(jwk, "q")
    else:
        p, q = rsa.rsa_recover_prime_factors(n, e, d)
    dp = _jwk_int(jwk, "dp") if "dp" in jwk else rsa.rsa_crt_dmp1(d, p)
    dq = _jwk_int(jwk, "dq") if "dq" in jwk else rsa.rsa_crt_dmq1(d, q)
    qi = _jwk_int(jwk, "qi") if "qi" in jwk else rsa.rsa_crt_iqmp(p, q)
    public = rsa.RSAPublicNumbers(e, n)
    return rsa.RSAPrivateNumbers(p, q, d, dp, dq, qi, public).private_key()


def load_private_key(key: PrivateKey) -> tuple[rsa.RSAPrivateKey, str | None]:
    """The RSA private key, and the ``kid`` a JWK names (``None`` otherwise).

    Raises :class:`~omnimsg.ConfigurationError` for anything else (the message never holds
    the key).
    """
    if isinstance(key, rsa.RSAPrivateKey):
        return key, None
    try:
        if isinstance(key, bytes | str):
            text = key.decode("utf-8") if isinstance(key, bytes) else key
            if text.lstrip().startswith("{"):
                key = json.loads(text)
            else:
                loaded = serialization.load_pem_private_key(text.encode(), password=None)
                if not isinstance(loaded, rsa.RSAPrivateKey):
                    raise ValueError("not RSA")
                return loaded, None
        if isinstance(key, Mapping):
            kid = key.get("kid")
            return _from_jwk(key), kid if isinstance(kid, str) and kid else None
    except (ValueError, TypeError, UnicodeError):
        pass
    raise ConfigurationError(_BAD_KEY) from None


def assertion(
    channel_id: str,
    private_key: PrivateKey,
    *,
    now: float,
    kid: str | None = None,
    token_exp: int | None = None,
    lifetime: int = ASSERTION_LIFETIME,
) -> str:
    """The signed JWT (compact form) for ``channel_id``'s token request at ``now``.

    ``token_exp`` (v2.1 only): the token's lifetime in seconds, 1 to 30 days. ``lifetime``:
    the assertion's own, at most 30 minutes. ``kid``: the key id the console gave for the
    public key (else the JWK's own ``kid``).
    """
    key, jwk_kid = load_private_key(private_key)
    kid = kid or jwk_kid
    if not isinstance(kid, str) or not kid:
        raise ConfigurationError(
            "a LINE JWT assertion needs kid=: the key id the LINE Developers Console shows "
            "for the registered public key"
        )
    if type(lifetime) is not int or not 1 <= lifetime <= ASSERTION_LIFETIME:
        raise ConfigurationError(
            f"the assertion's lifetime must be 1 to {ASSERTION_LIFETIME} seconds, got {lifetime!r}"
        )
    if token_exp is not None and (
        type(token_exp) is not int or not 1 <= token_exp <= TOKEN_EXP_MAX
    ):
        raise ConfigurationError(
            f"token_exp must be 1 to {TOKEN_EXP_MAX} seconds (30 days), got {token_exp!r}"
        )
    header = {"alg": "RS256", "typ": "JWT", "kid": kid}
    claims: dict[str, Any] = {
        "iss": channel_id,
        "sub": channel_id,
        "aud": AUDIENCE,
        "exp": int(now) + lifetime,
    }
    if token_exp is not None:
        claims["token_exp"] = token_exp
    signing_input = ".".join(
        _b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
    )
    signature = key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64url(signature)}"
