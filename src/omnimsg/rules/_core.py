"""The vocabulary of the rules: violations and dated policy profiles."""

from __future__ import annotations

from datetime import date, datetime

import attrs

from .._types import Platform

__all__ = ["PolicyProfile", "Violation"]


@attrs.frozen(kw_only=True, slots=True)
class Violation:
    """One broken platform rule.

    Attributes:
        rule_id: stable id such as ``"whatsapp.window.customer_service"``.
        platform: the platform whose rule it is.
        message: a sentence for humans (never contains secrets).
        native_code: the error code the platform itself answers with.
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
    http_status: int = 400
    title: str | None = None
    details: str | None = None
    closed_at: datetime | None = None
    retry_after: float | None = None


@attrs.frozen(kw_only=True, slots=True)
class PolicyProfile:
    """Base for the per-platform rule sets, each with the date it took effect.

    Platforms change their rules (tags retired, tiers resized). Profiles are values: pick
    one by name or date, or derive your own with :func:`attrs.evolve`.
    """

    platform: Platform
    name: str
    effective: date
