"""Webhook signatures, one place for all platforms.

The SDK uses ``verify_*`` on what it receives; the simulator uses ``sign_*`` on what it sends,
so both always agree. Everything is computed over the **raw body bytes** (re-serialised JSON
does not match: Meta escapes characters differently, spec/whatsapp.md "Pitfalls" 1) and
compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac

from .exceptions import SignatureError

__all__ = ["sign_hub_sha256", "verify_hub_sha256"]

_PREFIX = "sha256="


def sign_hub_sha256(app_secret: str | bytes, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value Meta sends: ``sha256=<hex HMAC-SHA256(body)>``.

    Used by WhatsApp and Messenger (spec/whatsapp.md §1.2).
    """
    key = app_secret.encode() if isinstance(app_secret, str) else app_secret
    return _PREFIX + hmac.new(key, body, hashlib.sha256).hexdigest()


def verify_hub_sha256(app_secret: str | bytes, body: bytes, header: str | None) -> None:
    """Raise :class:`SignatureError` unless ``header`` signs ``body`` with ``app_secret``."""
    if not header:
        raise SignatureError("missing X-Hub-Signature-256 header")
    if not header.startswith(_PREFIX):
        raise SignatureError("X-Hub-Signature-256 must start with 'sha256='")
    expected = sign_hub_sha256(app_secret, body)
    if not hmac.compare_digest(expected.encode(), header.strip().lower().encode()):
        raise SignatureError("X-Hub-Signature-256 does not match the body")
