"""Small shared type aliases (private; re-exported where public)."""

from __future__ import annotations

from typing import Literal, TypeAlias

Platform: TypeAlias = str
"""A platform's stable lower-case name: one of :data:`PLATFORMS`, or the name of an adapter
given to ``Client(..., adapters=[...])`` (any platform plugs into the same seam, so the name
is any string; which ones a client speaks is its registry's business, checked at run time)."""

BuiltinPlatform: TypeAlias = Literal["whatsapp", "line", "messenger", "wechat"]
"""The four platforms omnimsg ships."""

JSON: TypeAlias = "dict[str, JSON] | list[JSON] | str | int | float | bool | None"
"""A JSON value as decoded by :mod:`json`."""

JSONObject: TypeAlias = "dict[str, JSON]"
"""A decoded JSON object."""

PLATFORMS: tuple[BuiltinPlatform, ...] = ("whatsapp", "line", "messenger", "wechat")
"""The names of the platforms omnimsg ships."""
