"""Webhook signatures, one place for all platforms.

The SDK uses ``verify_*`` on what it receives; the simulator uses ``sign_*`` on what it sends,
so both always agree. Everything is computed over the **raw body bytes** (re-serialised JSON
does not match: Meta escapes characters differently, spec/whatsapp.md "Pitfalls" 1; LINE
sends emoji unescaped, spec/line.md "Pitfalls" 1) and compared in constant time.

* Meta (WhatsApp, Messenger): ``X-Hub-Signature-256``, ``sha256=`` + hex HMAC-SHA256.
* LINE: ``x-line-signature``, Base64 HMAC-SHA256 keyed by the channel secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from .exceptions import SignatureError

__all__ = [
    "HubSignatureVerifier",
    "LineSignatureVerifier",
    "sign_hub_sha256",
    "sign_line",
    "verify_hub_sha256",
    "verify_line",
]

_PREFIX = "sha256="


def sign_hub_sha256(app_secret: str | bytes, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value Meta sends: ``sha256=<hex HMAC-SHA256(body)>``.

    Used by WhatsApp and Messenger (spec/whatsapp.md §1.2).
    """
    key = app_secret.encode() if isinstance(app_secret, str) else app_secret
    return _PREFIX + hmac.new(key, body, hashlib.sha256).hexdigest()


class HubSignatureVerifier:
    """Verifies ``X-Hub-Signature-256`` for one app secret, prepared once.

    The HMAC key schedule is computed here, once; each request copies the keyed state, which
    is about twice as fast as ``hmac.new`` per request (webhook ingest is a hot path).
    The secret is not kept in a readable attribute and never appears in ``repr``.
    """

    __slots__ = ("_keyed",)

    def __init__(self, app_secret: str | bytes) -> None:
        key = app_secret.encode() if isinstance(app_secret, str) else app_secret
        self._keyed = hmac.new(key, digestmod=hashlib.sha256)

    def matches(self, body: bytes, header: str | None) -> bool:
        """True when ``header`` is the signature of ``body``; never raises."""
        if not header or not header.startswith(_PREFIX):
            return False
        mac = self._keyed.copy()
        mac.update(body)
        expected = mac.hexdigest()
        given = header[7:]
        if given.isascii() and hmac.compare_digest(expected, given):
            return True
        # Tolerate upper-case hex or stray white space, still in constant time.
        given = given.strip().lower()
        return given.isascii() and hmac.compare_digest(expected, given)

    def verify(self, body: bytes, header: str | None) -> None:
        """Raise :class:`SignatureError` unless ``header`` signs ``body``."""
        if self.matches(body, header):
            return
        if not header:
            raise SignatureError("missing X-Hub-Signature-256 header")
        if not header.startswith(_PREFIX):
            raise SignatureError("X-Hub-Signature-256 must start with 'sha256='")
        raise SignatureError("X-Hub-Signature-256 does not match the body")

    def __repr__(self) -> str:
        return "HubSignatureVerifier(<secret>)"


def verify_hub_sha256(app_secret: str | bytes, body: bytes, header: str | None) -> None:
    """Raise :class:`SignatureError` unless ``header`` signs ``body`` with ``app_secret``."""
    HubSignatureVerifier(app_secret).verify(body, header)


def sign_line(channel_secret: str | bytes, body: bytes) -> str:
    """The ``x-line-signature`` value LINE sends: Base64 (standard alphabet, padded) of
    HMAC-SHA256 of the raw body, keyed by the channel secret (spec/line.md §1)."""
    key = channel_secret.encode() if isinstance(channel_secret, str) else channel_secret
    return base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode("ascii")


class LineSignatureVerifier:
    """Verifies ``x-line-signature`` for one channel secret, prepared once.

    Keyed once, as :class:`HubSignatureVerifier`. The comparison is exact, in constant time,
    as LINE's own SDKs do it (line-bot-sdk-python ``SignatureValidator``): no case or white
    space tolerance, since Base64 is case-sensitive. The secret never appears in ``repr``.
    """

    __slots__ = ("_keyed",)

    def __init__(self, channel_secret: str | bytes) -> None:
        key = channel_secret.encode() if isinstance(channel_secret, str) else channel_secret
        self._keyed = hmac.new(key, digestmod=hashlib.sha256)

    def matches(self, body: bytes, header: str | None) -> bool:
        """True when ``header`` is the signature of ``body``; never raises."""
        if not header or not header.isascii():
            return False
        mac = self._keyed.copy()
        mac.update(body)
        return hmac.compare_digest(base64.b64encode(mac.digest()), header.encode("ascii"))

    def verify(self, body: bytes, header: str | None) -> None:
        """Raise :class:`SignatureError` unless ``header`` signs ``body``."""
        if self.matches(body, header):
            return
        if not header:
            raise SignatureError("missing x-line-signature header")
        raise SignatureError("x-line-signature does not match the body")

    def __repr__(self) -> str:
        return "LineSignatureVerifier(<secret>)"


def verify_line(channel_secret: str | bytes, body: bytes, header: str | None) -> None:
    """Raise :class:`SignatureError` unless ``header`` signs ``body`` with ``channel_secret``."""
    LineSignatureVerifier(channel_secret).verify(body, header)
