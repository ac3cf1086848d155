"""An mkdocs hook that keeps the ``omnimsg`` reference page complete.

``docs/reference/omnimsg.md`` lists the top-level exports by topic. Any name in
``omnimsg.__all__`` that the page does not mention (as ``::: omnimsg.NAME`` or as a link to
``omnimsg.<module>.NAME``) is appended under "Other exports" at build time, so a newly exported
name is documented even before someone files it under the right heading.
"""

from __future__ import annotations

import ast
import logging
import re
from pathlib import Path
from typing import Any

log = logging.getLogger("mkdocs.hooks.reference")

_PAGE = "reference/omnimsg.md"


def _exports(init: Path) -> list[str]:
    tree = ast.parse(init.read_text(encoding="utf-8"))
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            return [str(v) for v in ast.literal_eval(node.value)]
    return []


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if Path(page.file.src_path).as_posix() != _PAGE:
        return markdown
    init = Path(config["config_file_path"]).parent / "src" / "omnimsg" / "__init__.py"
    try:
        names = _exports(init)
    except (OSError, SyntaxError, ValueError) as exc:
        log.warning("cannot read omnimsg.__all__ from %s: %s", init, exc)
        return markdown
    missing = [
        name
        for name in names
        if not name.startswith("_")
        and not re.search(rf"\bomnimsg(?:\.\w+)*\.{re.escape(name)}\b", markdown)
    ]
    if not missing:
        return markdown
    log.info("reference: documenting new omnimsg exports under 'Other exports': %s", missing)
    extra = ["", "## Other exports", ""]
    for name in missing:
        extra += [f"::: omnimsg.{name}", ""]
    return markdown.rstrip("\n") + "\n" + "\n".join(extra)
