"""Small shared type aliases (private; re-exported where public)."""

from __future__ import annotations

from typing import Literal, TypeAlias

Platform: TypeAlias = Literal["whatsapp", "line", "messenger", "wechat"]
"""The four platforms omnimsg speaks, by their stable lower-case names."""

JSON: TypeAlias = "dict[str, JSON] | list[JSON] | str | int | float | bool | None"
"""A JSON value as decoded by :mod:`json`."""

JSONObject: TypeAlias = "dict[str, JSON]"
"""A decoded JSON object."""

PLATFORMS: tuple[Platform, ...] = ("whatsapp", "line", "messenger", "wechat")
