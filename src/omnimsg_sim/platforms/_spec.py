"""Checks shared by every platform's control-plane customer actions (``/_sim/inbound``).

Each platform's ``inbound`` module reads its own action bodies; what they all check the same
way lives here, so that a wrong body is refused with the same words on every platform and
changes nothing (DESIGN §6).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["Refused", "as_object", "http_url", "known", "one_action"]


class Refused(Exception):
    """An inbound body in the wrong shape; the message names the field."""


def as_object(value: Any, where: str) -> dict[str, Any]:
    """``value`` as a JSON object, or a refusal naming ``where``."""
    if not isinstance(value, dict):
        raise Refused(f"{where}: expected an object")
    return value


def known(obj: dict[str, Any], where: str, keys: Iterable[str]) -> None:
    """Refuse fields of ``obj`` that are not among ``keys``."""
    unknown = sorted(set(obj) - set(keys))
    if unknown:
        raise Refused(f"{where}: unknown field(s) {', '.join(unknown)}")


def http_url(url: str, where: str) -> str:
    """``url`` when it is an http(s) URL without white space or control characters."""
    if not url.startswith(("http://", "https://")) or any(
        ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url
    ):
        raise Refused(f"{where}: expected an http(s) URL")
    return url


def one_action(spec: dict[str, Any], actions: Sequence[str], given: list[str] | None = None) -> str:
    """The one action key ``spec`` names among ``actions`` (``given``: those already found)."""
    if given is None:
        given = [k for k in actions if spec.get(k) is not None]
    if len(given) != 1:
        raise Refused(
            "give exactly one of " + ", ".join(f"'{a}'" for a in actions)
            if not given
            else f"give one action, not {' and '.join(repr(g) for g in given)}"
        )
    return given[0]
