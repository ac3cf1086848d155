"""Read the code blocks of the Markdown docs, so that the tests can run every one of them.

Conventions (written in the docs as HTML comments, invisible on the site):

* A fenced ``python`` block is executed, in page order, in one namespace per page.
* ``<!-- docs: fragment -->`` on the line before a block: a deliberate fragment, only compiled.
* ``<!-- docs: not-run: <reason> -->`` before a shell block: shown, not executed (say why).
* A block with a title (```` ```python title="bot.py" ````) is a file: it is compiled here and
  run by the page's own test (see ``RUN_ELSEWHERE`` in ``test_docs_snippets.py``).
* ``<!-- docs: setup`` ... ``-->``: hidden Python executed before the next block (it builds
  what a fragment-free example needs, e.g. a real signed webhook to handle).
* The docs' simulator listens where ``omnimsg-sim serve`` does without ``--port``, and the app
  where the quickstart's ``sim.toml`` sends webhooks (:func:`docs_addresses`); the tests bind
  their servers to free ports and rewrite both addresses to them.
"""

from __future__ import annotations

import functools
import re
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import attrs

from omnimsg_sim.cli import DEFAULT_PORT

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "docs" / "quickstart.md"

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^\n`]*)$")
_MARKER = re.compile(r"^\s*<!--\s*docs:\s*(?P<kind>[\w-]+)\s*(?::\s*(?P<arg>.*?))?\s*-->\s*$")
_SETUP = re.compile(r"<!--\s*docs:\s*setup\s*\n(?P<code>.*?)\n\s*-->", re.S)
_TITLE = re.compile(r'title="(?P<title>[^"]+)"')


@attrs.frozen(kw_only=True)
class Block:
    """One fenced code block of a Markdown page."""

    page: Path
    line: int  # 1-based line of the opening fence
    lang: str
    title: str | None
    code: str
    marker: str | None = None  # "fragment", "not-run", "setup"
    reason: str | None = None

    @property
    def where(self) -> str:
        """``docs/page.md:LINE``, for failure messages."""
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def pages() -> list[Path]:
    """README.md and every page under docs/."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def read_blocks(page: Path) -> list[Block]:
    """The page's code blocks (hidden setup blocks included, as ``lang="python"``), in order."""
    text = page.read_text(encoding="utf-8")
    lines = text.splitlines()
    found: list[Block] = []
    for match in _SETUP.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        found.append(
            Block(
                page=page, line=line, lang="python", title=None, code=match["code"], marker="setup"
            )
        )
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if not opening or not opening["info"].strip():
            i += 1
            continue
        indent, fence, info = opening["indent"], opening["fence"], opening["info"].strip()
        body: list[str] = []
        j = i + 1
        while j < len(lines) and lines[j].strip() != fence:
            body.append(lines[j][len(indent) :] if lines[j].startswith(indent) else lines[j])
            j += 1
        marker = reason = None
        k = i - 1
        while k >= 0 and not lines[k].strip():
            k -= 1
        if k >= 0 and (m := _MARKER.match(lines[k])):
            marker, reason = m["kind"], m["arg"]
        title = _TITLE.search(info)
        found.append(
            Block(
                page=page,
                line=i + 1,
                lang=info.split()[0].lower(),
                title=title["title"] if title else None,
                code="\n".join(body) + "\n",
                marker=marker,
                reason=reason,
            )
        )
        i = j + 1
    return sorted(found, key=lambda b: b.line)


def titled(page: Path, title: str) -> str:
    """The code of the block titled ``title`` on ``page`` (a file the page asks users to write)."""
    for block in read_blocks(page):
        if block.title == title:
            return block.code
    raise LookupError(f"{page.relative_to(ROOT)} has no block titled {title!r}")


def titled_files(page: Path, *, suffix: str) -> list[tuple[str, str]]:
    """Every ``(title, code)`` of the blocks on ``page`` whose title ends with ``suffix``."""
    return [
        (block.title, block.code)
        for block in read_blocks(page)
        if block.title is not None and block.title.endswith(suffix)
    ]


@functools.cache
def docs_addresses() -> tuple[str, str]:
    """``host:port`` of the docs' simulator and of the docs' app, as the pages write them."""
    config = tomllib.loads(titled(QUICKSTART, "sim.toml"))
    app = urlsplit(config["whatsapp"][0]["webhook_url"]).netloc
    return f"127.0.0.1:{DEFAULT_PORT}", app


def mentions_simulator(code: str) -> bool:
    """Whether ``code`` talks to the docs' simulator."""
    sim, _ = docs_addresses()
    port = sim.rsplit(":", 1)[1]
    return sim in code or f"localhost:{port}" in code or "SIM_URL" in code


def rewrite(code: str, sim: str | None = None, app: str | None = None) -> str:
    """Point the docs' addresses at the servers a test started (``host:port``)."""
    for ours, theirs in zip(docs_addresses(), (sim, app), strict=True):
        if theirs is None:
            continue
        port = ours.rsplit(":", 1)[1]
        code = code.replace(ours, theirs).replace(f"localhost:{port}", theirs)
        code = re.sub(rf"\bport={port}\b", f"port={theirs.rsplit(':', 1)[1]}", code)
    return code


def mismatches(shown: object, actual: object, path: str = "$") -> list[str]:
    """Where ``actual`` (an answer) differs from ``shown`` (the JSON a page prints).

    A shown string ending in ``...`` stands for any string with that prefix (ids drawn at run
    time, such as ``"wamid.HBgL..."``); ``"..."`` alone stands for any value.
    """
    if shown == "...":
        return []
    if isinstance(shown, str) and shown.endswith("..."):
        ok = isinstance(actual, str) and actual.startswith(shown[:-3])
        return [] if ok else [f"{path}: {actual!r} does not start with {shown[:-3]!r}"]
    if isinstance(shown, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected an object, got {actual!r}"]
        out = (
            [f"{path}: keys differ: shown {sorted(shown)}, got {sorted(actual)}"]
            if set(shown) != set(actual)
            else []
        )
        for key in shown.keys() & actual.keys():
            out += mismatches(shown[key], actual[key], f"{path}.{key}")
        return out
    if isinstance(shown, list):
        if not isinstance(actual, list) or len(actual) != len(shown):
            return [f"{path}: expected {len(shown)} items, got {actual!r}"]
        return [
            m
            for i, (s, a) in enumerate(zip(shown, actual, strict=True))
            for m in mismatches(s, a, f"{path}[{i}]")
        ]
    return [] if shown == actual else [f"{path}: shown {shown!r}, got {actual!r}"]
