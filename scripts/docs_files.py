#!/usr/bin/env python
"""Write the Python files the docs show whole (``title="x.py"`` blocks) into a directory.

    python scripts/docs_files.py OUTDIR

CI type-checks and lints them (``mypy --strict``, ``ruff``) like the package: a page that
teaches how to write an adapter shows code that passes the project's own checks.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = ("docs/concepts/adding-a-platform.md",)  # whole modules, importing only omnimsg


def main(out: Path) -> int:
    """Write each titled Python block of :data:`PAGES` to ``out``; print their names."""
    sys.path.insert(0, str(ROOT / "tests"))
    from docsnippets import titled_files  # the same reader the docs tests use

    out.mkdir(parents=True, exist_ok=True)
    for page in PAGES:
        for name, text in titled_files(ROOT / page, suffix=".py"):
            (out / name).write_text(text, encoding="utf-8")
            print(out / name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(Path(sys.argv[1])))
