"""Scripted faults: make the next N matching calls fail, slow down, or duplicate webhooks."""

from __future__ import annotations

from typing import Any

import attrs

from omnimsg.exceptions import ConfigurationError

__all__ = ["Fault", "Faults"]


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
        allowed = {
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
        unknown = set(spec) - allowed
        if unknown:
            raise ConfigurationError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
        for key in ("platform", "operation", "account", "user", "message", "action"):
            if key in spec and spec[key] is not None and not isinstance(spec[key], str):
                raise ConfigurationError(f"fault.{key} must be a string")
        for key in ("times", "status", "code"):
            if (
                key in spec
                and spec[key] is not None
                and (not isinstance(spec[key], int) or isinstance(spec[key], bool))
            ):
                raise ConfigurationError(f"fault.{key} must be an integer")
        if "latency_ms" in spec and (
            not isinstance(spec["latency_ms"], int | float) or spec["latency_ms"] < 0
        ):
            raise ConfigurationError("fault.latency_ms must be a non-negative number")
        action = spec.get("action", "fail")
        if action not in ("fail", "duplicate"):
            raise ConfigurationError("fault.action must be 'fail' or 'duplicate'")
        if (
            action == "fail"
            and spec.get("status") is None
            and spec.get("code") is None
            and not spec.get("latency_ms")
        ):
            raise ConfigurationError(
                "a fault needs status, code or latency_ms (or action='duplicate')"
            )
        if spec.get("times", 1) is not None and spec.get("times", 1) < 1:
            raise ConfigurationError("fault.times must be at least 1 (or null for always)")
        fault = Fault(id=self._next, **spec)
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
