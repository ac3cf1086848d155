"""The vocabulary of the rules: violations and dated policy profiles."""

from __future__ import annotations

from datetime import date

import attrs

from .._types import Platform
from .._violation import Violation

__all__ = ["PolicyProfile", "Violation"]


@attrs.frozen(kw_only=True, slots=True)
class PolicyProfile:
    """Base for the per-platform rule sets, each with the date it took effect.

    Platforms change their rules (tags retired, tiers resized). Profiles are values: pick
    one by name or date, or derive your own with :func:`attrs.evolve`.
    """

    platform: Platform
    name: str
    effective: date
