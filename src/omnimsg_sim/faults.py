"""Scripted faults: make the next N matching calls fail, slow down, or duplicate webhooks."""

from __future__ import annotations

from typing import Any

import attrs

from omnimsg.exceptions import ConfigurationError

__all__ = ["MAX_LATENCY_MS", "Fault", "Faults"]

MAX_LATENCY_MS = 60_000.0
"""The longest injected latency: a minute outlasts any client timeout worth testing, and
a longer pause would hold the answer (and in-process callers) past any sane test run."""


@attrs.define(kw_only=True)
class Fault:
    """One fault rule.

    Matching: ``platform`` and ``operation`` (``"whatsapp.send"``, ``"whatsapp.webhook"``,
    ``"*"``), optionally ``account`` and ``user``. Effect: answer ``status`` (with the
    platform's error envelope for native ``code``), add ``latency_ms`` first, or for
    webhooks ``action="duplicate"`` (deliver twice). ``times`` is how many calls it hits
    (``None``: until removed).
    """

    id: int
    platform: str = "*"
    operation: str = "*"
    account: str | None = None
    user: str | None = None
    times: int | None = 1
    status: int | None = None
    code: int | None = None
    message: str | None = None
    latency_ms: float = 0.0
    action: str = "fail"
    hits: int = 0

    def matches(self, platform: str, operation: str, account: str | None, user: str | None) -> bool:
        """Does this rule apply to that call?"""
        return (
            self.platform in ("*", platform)
            and self.operation in ("*", operation)
            and (self.account is None or self.account == account)
            and (self.user is None or self.user == user)
            and (self.times is None or self.hits < self.times)
        )

    def to_json(self) -> dict[str, Any]:
        """The control plane's view."""
        return attrs.asdict(self)


class Faults:
    """The active fault rules, first added first matched."""

    def __init__(self) -> None:
        self.rules: list[Fault] = []
        self._next = 1

    def add(self, spec: Any) -> Fault:
        """Add a rule from its JSON description (``ConfigurationError`` names a bad field)."""
        if not isinstance(spec, dict):
            raise ConfigurationError("a fault must be a JSON object")
        _check_fields(spec)
        latency, action = _check_effect(spec)
        fault = Fault(
            id=self._next,
            platform=spec.get("platform", "*"),
            operation=spec.get("operation", "*"),
            account=spec.get("account"),
            user=spec.get("user"),
            times=spec.get("times", 1),
            status=spec.get("status"),
            code=spec.get("code"),
            message=spec.get("message"),
            latency_ms=latency,
            action=action,
        )
        self._next += 1
        self.rules.append(fault)
        return fault

    def take(
        self, platform: str, operation: str, account: str | None, user: str | None
    ) -> Fault | None:
        """The first matching rule, counting the hit (``None`` if none applies)."""
        for fault in self.rules:
            if fault.matches(platform, operation, account, user):
                fault.hits += 1
                return fault
        return None

    def clear(self) -> None:
        """Remove every rule."""
        self.rules.clear()


_FIELDS = frozenset(
    {
        "platform",
        "operation",
        "account",
        "user",
        "times",
        "status",
        "code",
        "message",
        "latency_ms",
        "action",
    }
)


def _check_fields(spec: dict[str, Any]) -> None:
    """Known fields only, each of its type (``null`` allowed where the default is)."""
    unknown = set(spec) - _FIELDS
    if unknown:
        raise ConfigurationError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
    for key in ("platform", "operation", "account", "user", "message", "action"):
        if key in spec and spec[key] is not None and not isinstance(spec[key], str):
            raise ConfigurationError(f"fault.{key} must be a string")
    for key in ("times", "status", "code"):
        value = spec.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise ConfigurationError(f"fault.{key} must be an integer")
    if spec.get("times", 1) is not None and spec.get("times", 1) < 1:
        raise ConfigurationError("fault.times must be at least 1 (or null for always)")
    if spec.get("status") is not None and not 400 <= spec["status"] <= 599:
        raise ConfigurationError("fault.status must be an HTTP error status (400-599)")


def _check_effect(spec: dict[str, Any]) -> tuple[float, str]:
    """The rule's ``(latency_ms, action)``; a fault must do something, for a bounded time."""
    latency = spec.get("latency_ms", 0)
    # Chained comparisons are false for NaN and exact for huge integers: NaN, Infinity and
    # 1e300 are refused here, not left to make the matching call wait forever.
    if (
        not isinstance(latency, int | float)
        or isinstance(latency, bool)
        or not 0 <= latency <= MAX_LATENCY_MS
    ):
        raise ConfigurationError(
            f"fault.latency_ms must be a number from 0 to {MAX_LATENCY_MS:.0f}"
        )
    action = spec.get("action", "fail")
    if action not in ("fail", "duplicate"):
        raise ConfigurationError("fault.action must be 'fail' or 'duplicate'")
    if action == "fail" and spec.get("status") is None and spec.get("code") is None and not latency:
        raise ConfigurationError("a fault needs status, code or latency_ms (or action='duplicate')")
    return float(latency), str(action)
