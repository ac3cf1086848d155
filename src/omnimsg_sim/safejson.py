"""JSON request bodies, read defensively: every simulator route parses its body here.

Python's :func:`json.loads` is more lenient than the platforms' parsers and has limits of its
own, so hostile bodies used to get past it or crash the simulator (DESIGN §6):

* ``NaN``, ``Infinity`` and ``-Infinity`` are not JSON (RFC 8259 §6), yet Python accepts them;
  ``1e400`` overflows to infinity. Both are refused: no simulated platform sends or takes them.
* A body nested 1,000 deep raises :class:`RecursionError` (not a ``ValueError``) while
  parsing, and shallower ones can still exhaust the stack when the simulator serialises them
  again (webhooks, the outbox). Real payloads nest a handful of levels, so a modest bound
  refuses them all alike.
* ``"\\ud800"`` (a lone UTF-16 surrogate, RFC 8259 §8.2) decodes to a string that cannot be
  encoded as UTF-8, so it cannot go out in a webhook; strict parsers refuse it too (PHP's
  ``json_decode``, which Graph descends from, answers "Single unpaired UTF-16 surrogate").

:func:`loads` returns the decoded value or raises :class:`BadJSON`, a ``ValueError`` whose
message says what was wrong; each route renders it in its own platform's error envelope.
"""

from __future__ import annotations

import json
import math
from typing import Any, NoReturn

__all__ = ["MAX_DEPTH", "BadJSON", "loads", "problem"]

MAX_DEPTH = 64
"""How deep arrays and objects may nest in a request body (real payloads use fewer than 10)."""


class BadJSON(ValueError):
    """A request body the simulator refuses; the message names the problem."""


def _no_constant(name: str) -> NoReturn:
    raise BadJSON(f"{name} is not a JSON number")


def loads(body: bytes | str) -> Any:
    """Decode a request body, refusing what strict JSON parsers refuse (see the module doc)."""
    try:
        value = json.loads(body, parse_constant=_no_constant)
    except BadJSON:
        raise
    except RecursionError:
        raise BadJSON(f"the JSON nests deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, the int digit limit
        raise BadJSON(f"the body is not valid JSON: {exc}") from None
    found = problem(value)
    if found is not None:
        raise BadJSON(found)
    return value


def problem(value: Any) -> str | None:
    """What makes an already-decoded value unacceptable, or ``None``.

    Walks the value iteratively (no recursion, so any depth is safe to inspect).
    """
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth >= MAX_DEPTH:
                return f"the JSON nests deeper than {MAX_DEPTH} levels"
            if isinstance(item, dict):
                for key, child in item.items():
                    if not _encodable(key):
                        return "the JSON holds a lone UTF-16 surrogate (not valid Unicode)"
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            if not _encodable(item):
                return "the JSON holds a lone UTF-16 surrogate (not valid Unicode)"
        elif isinstance(item, float) and not math.isfinite(item):
            return "the JSON holds a number too large to represent"
    return None


def _encodable(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
