"""Answers every part of the simulator gives: JSON bodies and the control plane's errors."""

from __future__ import annotations

import json
from typing import Any

from omnimsg.exceptions import ConfigurationError

from .effects import SimResponse

__all__ = ["control_error", "json_response", "require_strings"]


def json_response(data: Any, status: int = 200) -> SimResponse:
    """A JSON answer."""
    return SimResponse(status=status, body=json.dumps(data, separators=(",", ":")).encode())


def control_error(status: int, message: str) -> SimResponse:
    """A ``/_sim`` error: ``{"error": {"message": ...}}`` (platform paths use their own)."""
    return json_response({"error": {"message": message}}, status)


def require_strings(body: dict[str, Any], *keys: str) -> None:
    """Refuse a control-plane body whose named fields are present but not strings.

    Raises:
        ConfigurationError: naming the field (answered 400 by the control plane).
    """
    for key in keys:
        if body.get(key) is not None and not isinstance(body[key], str):
            raise ConfigurationError(f"'{key}' must be a string")
