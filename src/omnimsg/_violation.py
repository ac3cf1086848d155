"""A broken platform rule, as a value: the one thing the rules and the error tree share.

It lives in this leaf module (it imports nothing of omnimsg's but ``_types``) so that
``omnimsg.exceptions`` and ``omnimsg.rules`` import it, and each other, without a circle.
Users import it as ``omnimsg.Violation`` or ``omnimsg.rules.Violation``.
"""

from __future__ import annotations

from datetime import datetime

import attrs

from ._types import Platform

__all__ = ["Violation"]


@attrs.frozen(kw_only=True, slots=True)
class Violation:
    """One broken platform rule.

    Attributes:
        rule_id: stable id such as ``"whatsapp.window.customer_service"``.
        platform: the platform whose rule it is.
        message: a sentence for humans (never contains secrets).
        native_code: the error code the platform itself answers with.
        native_subcode: the platform's sub-code, where it has them (Graph's
            ``error_subcode``, e.g. Messenger's 10/2018278 outside the window).
        http_status: the HTTP status the platform answers with.
        title: the platform's short title for the code.
        details: the platform's longer explanation.
        closed_at: for window rules, when the window closed.
        retry_after: for rate rules, seconds until the call would be allowed.
    """

    rule_id: str
    platform: Platform
    message: str
    native_code: int | str | None
    native_subcode: int | None = None
    http_status: int = 400
    title: str | None = None
    details: str | None = None
    closed_at: datetime | None = None
    retry_after: float | None = None
