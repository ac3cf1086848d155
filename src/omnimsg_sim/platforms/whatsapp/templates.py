"""Template listing (spec/whatsapp.md §6.1) and the example values of seeded templates (§6.3).

Pure functions over :class:`~omnimsg_sim.platforms.whatsapp.state.StoredTemplate` lists: the
filters, Graph's cursor pages with ``previous``/``next`` links, the ``summary`` fields.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlencode

from ...effects import SimRequest
from .state import PLACEHOLDER, StoredTemplate

__all__ = ["filter_templates", "page", "paging", "summary", "with_examples"]

# §6.1: 250 templates per WABA while the business is unverified (up to 6,000 once verified).
TEMPLATE_LIMIT = 250


def _choices(req: SimRequest, key: str, *, upper: bool) -> set[str] | None:
    """A comma-separated filter (pywa sends ``category=MARKETING,UTILITY``), or ``None``."""
    raw = req.arg(key)
    if not raw:
        return None
    return {v.strip().upper() if upper else v.strip() for v in raw.split(",") if v.strip()}


def filter_templates(items: list[StoredTemplate], req: SimRequest) -> list[StoredTemplate]:
    """The templates matching the list's filters: status, category, language, name, content."""
    statuses = _choices(req, "status", upper=True)
    categories = _choices(req, "category", upper=True)
    languages = _choices(req, "language", upper=False)
    name = req.arg("name") or None
    content = req.arg("content") or None
    either = req.arg("name_or_content") or None
    return [
        t
        for t in items
        if (statuses is None or t.status in statuses)
        and (categories is None or t.category in categories)
        and (languages is None or t.language in languages)
        and (name is None or name in t.name)
        and t.matches(content)
        and (either is None or either in t.name or t.matches(either))
    ]


def _cursor(template_id: str) -> str:
    """An opaque cursor that points at one template, as Graph's cursors point at items."""
    return base64.urlsafe_b64encode(template_id.encode()).decode()


def _position(items: list[StoredTemplate], cursor: str, which: str) -> int:
    """Where the template a cursor points at stands in the (filtered) list."""
    try:
        wanted = base64.urlsafe_b64decode(cursor.encode("utf-8", "surrogatepass")).decode()
    except (binascii.Error, ValueError):
        wanted = None
    for i, t in enumerate(items):
        if t.id == wanted:
            return i
    # Graph: a cursor is invalidated when its item is deleted (or no longer matches).
    raise ValueError(f"the {which} cursor is not valid")


def page(items: list[StoredTemplate], req: SimRequest) -> tuple[int, int]:
    """The ``[start, end)`` slice asked for: ``after`` the item it names, or ``before`` it."""
    try:
        limit = int(req.arg("limit") or 25)
    except ValueError:
        raise ValueError("limit must be an integer") from None
    limit = max(1, min(limit, 1000))
    after, before = req.arg("after"), req.arg("before")
    if after:
        start = _position(items, after, "after") + 1
        return start, start + limit
    if before:
        end = _position(items, before, "before")
        return max(0, end - limit), end
    return 0, limit


def _link(req: SimRequest, **cursor: str) -> str:
    """The request's own URL (scheme, host, path, filters) with another cursor."""
    query = [(k, v) for k, vs in req.query.items() if k not in ("after", "before") for v in vs]
    query.extend(cursor.items())
    return f"{req.base_url}{req.path}?{urlencode(query, errors='replace')}"


def paging(
    req: SimRequest, page: Sequence[StoredTemplate], *, more_before: bool, more_after: bool
) -> dict[str, Any]:
    """Graph's ``paging``: both cursors on every page; ``previous`` and ``next`` when there are."""
    cursors = {"before": _cursor(page[0].id), "after": _cursor(page[-1].id)}
    out: dict[str, Any] = {"cursors": cursors}
    if more_after:
        out["next"] = _link(req, after=cursors["after"])
    if more_before:
        out["previous"] = _link(req, before=cursors["before"])
    return out


def summary(asked: str | None, *, matched: int, owned: int) -> dict[str, Any]:
    """The ``summary`` fields asked for (``summary=true`` asks for ``total_count``).

    ``total_count`` counts what the filters matched (as Graph's edge summaries do; UNVERIFIED
    for this edge), ``message_template_count`` the whole WABA.
    """
    if not asked:
        return {}
    fields = {f.strip() for f in asked.split(",")}
    if asked.strip().lower() in ("true", "1"):
        fields = {"total_count"}
    values = {
        "total_count": matched,
        "message_template_count": owned,
        "message_template_limit": TEMPLATE_LIMIT,
        "are_translations_complete": True,
    }
    return {k: v for k, v in values.items() if k in fields}


def with_examples(components: Iterable[dict[str, Any]], *, named: bool) -> list[dict[str, Any]]:
    """Components whose parameters all have example values (spec §6.3), stand-ins added."""
    return [_component_example(dict(c), named=named) for c in components]


def _component_example(component: dict[str, Any], *, named: bool) -> dict[str, Any]:
    ctype = str(component.get("type", "")).upper()
    text = component.get("text")
    if ctype in ("HEADER", "BODY") and isinstance(text, str) and "example" not in component:
        names = list(dict.fromkeys(PLACEHOLDER.findall(text)))
        if names and not named and all(n.isdigit() for n in names):
            names.sort(key=int)
        key = "header_text" if ctype == "HEADER" else "body_text"
        if names and named:
            examples = [{"param_name": n, "example": f"example {n}"} for n in names]
            component["example"] = {f"{key}_named_params": examples}
        elif names:
            values = [f"example {n}" for n in names]
            component["example"] = {key: values if ctype == "HEADER" else [values]}
    if ctype == "BUTTONS" and isinstance(component.get("buttons"), list):
        component["buttons"] = [_button_example(b) for b in component["buttons"]]
    return component


def _button_example(button: Any) -> Any:
    """A URL button with a parameter gets an example URL (§6.3)."""
    if not isinstance(button, dict) or "example" in button:
        return button
    url = button.get("url")
    if str(button.get("type", "")).upper() == "URL" and isinstance(url, str) and "{{" in url:
        return {**button, "example": [PLACEHOLDER.sub("example", url)]}
    return button
