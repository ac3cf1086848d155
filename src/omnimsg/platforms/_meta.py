"""What Meta's platforms (WhatsApp, Messenger) share on the inbound side: the ``hub.*``
verification handshake (spec/whatsapp.md §1.1, spec/messenger.md §1.1)."""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from urllib.parse import parse_qs, urlsplit

from .._inbound import WebhookOutcome, url_text
from ..exceptions import ConfigurationError, SignatureError

__all__ = ["hub_handshake"]


def hub_handshake(tokens: Sequence[bytes], method: str, url: str) -> WebhookOutcome | None:
    """The answer to Meta's GET handshake, or ``None`` for any other method.

    200 with ``hub.challenge`` as the plain-text body when ``hub.mode`` is ``subscribe`` and
    ``hub.verify_token`` is one of ``tokens`` (compared in constant time); otherwise 403.
    """
    if method != "GET":
        return None
    query = parse_qs(urlsplit(url_text(url)).query)
    mode = (query.get("hub.mode") or [""])[0]
    token = (query.get("hub.verify_token") or [""])[0].encode()
    challenge = (query.get("hub.challenge") or [""])[0]
    if not tokens:
        error = ConfigurationError("set verify_token= on the channel to answer the handshake")
        return WebhookOutcome(status=403, body=b"Forbidden", error=error)
    matched = False
    for t in tokens:  # every token compared: no early exit that times which one matched
        matched |= hmac.compare_digest(t, token)
    if mode != "subscribe" or not matched:
        return WebhookOutcome(
            status=403,
            body=b"Forbidden",
            error=SignatureError("webhook verify_token does not match"),
        )
    return WebhookOutcome(status=200, body=challenge.encode())
