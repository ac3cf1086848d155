"""Every code block a user can copy from README.md and docs/ runs (conventions: docsnippets.py).

Python blocks run in page order, in one namespace per page, against a real simulator server
when they talk to the docs' simulator. Fragments and files are compiled. Files and shell blocks
are run by the test that their ``<!-- docs: run-by: test_x.py -->`` marker names (that test
must name the page), or carry a ``not-run`` marker that says why.
"""

from __future__ import annotations

import contextlib
import io
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from docsnippets import ROOT, Block, mentions_simulator, pages, read_blocks, rewrite, titled
from omnimsg import Client
from omnimsg.testing import ServerThread, SimulatorClock
from omnimsg_sim import parse_config

QUICKSTART = ROOT / "docs" / "quickstart.md"

SHELL = {"sh", "bash", "shell", "console"}


def _rel(page: Path) -> str:
    return str(page.relative_to(ROOT))


def _all_blocks() -> list[Block]:
    return [b for page in pages() for b in read_blocks(page)]


def docs_sim_config() -> Any:
    """The quickstart's sim.toml, the one simulator every page talks to."""
    return parse_config(tomllib.loads(titled(QUICKSTART, "sim.toml")), source="quickstart sim.toml")


@contextlib.contextmanager
def docs_simulator() -> Iterator[str]:
    """The docs' simulator on a free port; webhooks go to its sink (no app listens)."""
    with ServerThread(docs_sim_config()) as url:
        httpx.post(f"{url}/_sim/webhooks/target", json={"url": "/_sim/sink"}).raise_for_status()
        yield url


def _runnable(block: Block) -> bool:
    return (
        block.lang in {"python", "py", "pycon"} and block.marker != "fragment" and not block.title
    )


def _python_pages() -> list[Path]:
    return [p for p in pages() if any(_runnable(b) for b in read_blocks(p))]


@pytest.mark.parametrize("page", _python_pages(), ids=_rel)
def test_python_blocks_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Blocks run where a user would stand: a folder holding the quickstart's sim.toml.
    (tmp_path / "sim.toml").write_text(titled(QUICKSTART, "sim.toml"), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    blocks = [b for b in read_blocks(page) if _runnable(b)]
    needs_sim = any(mentions_simulator(b.code) for b in blocks)
    namespace: dict[str, Any] = {"__name__": f"docs_{page.stem}"}
    with contextlib.ExitStack() as stack:
        sim = stack.enter_context(docs_simulator()) if needs_sim else None
        namespace["SIM_URL"] = sim  # hidden setup blocks may use it
        for block in blocks:
            code = rewrite(block.code, sim=sim.removeprefix("http://") if sim else None)
            out = io.StringIO()
            try:
                with contextlib.redirect_stdout(out):
                    exec(compile(code, block.where, "exec"), namespace)
            except Exception as exc:
                raise AssertionError(
                    f"{block.where}: the block raised {type(exc).__name__}: {exc}\n"
                    f"--- its output ---\n{out.getvalue()}"
                ) from exc
        for value in namespace.values():  # what a script's exit would release
            if isinstance(value, Client | SimulatorClock):
                value.close()


@pytest.mark.parametrize(
    "block",
    [b for b in _all_blocks() if b.lang in {"python", "py"} and not _runnable(b)],
    ids=lambda b: b.where,
)
def test_fragments_and_files_compile(block: Block) -> None:
    compile(block.code, block.where, "exec")
    if block.title:
        _check_run_by(block)


def _check_run_by(block: Block) -> None:
    """A ``run-by`` marker names an existing test file that mentions the page."""
    assert block.marker == "run-by" and block.reason, (
        f"{block.where}: no test runs this block: mark it <!-- docs: run-by: test_x.py --> "
        "(and write that test) or <!-- docs: not-run: why -->"
    )
    test = ROOT / "tests" / block.reason.split()[0].split("::")[0]
    assert test.exists(), f"{block.where}: {test.name} does not exist"
    assert _rel(block.page).removeprefix("docs/") in test.read_text(encoding="utf-8"), (
        f"{block.where}: {test.name} does not mention {_rel(block.page)}"
    )


def test_toml_blocks_parse() -> None:
    for block in _all_blocks():
        if block.lang == "toml" and block.marker != "fragment":
            try:
                tomllib.loads(block.code)
            except tomllib.TOMLDecodeError as exc:
                raise AssertionError(f"{block.where}: {exc}") from exc


def test_every_shell_block_is_run_or_says_why_not() -> None:
    for block in _all_blocks():
        if block.lang not in SHELL:
            continue
        if block.marker == "not-run":
            assert block.reason, f"{block.where}: say why the block is not run"
        else:
            _check_run_by(block)


def test_relative_links_resolve() -> None:
    """A link between pages that points nowhere fails here, not in a reader's browser."""
    import re

    broken = []
    for page in pages():
        text = page.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if "://" in target or target.startswith("mailto:"):
                continue
            if not (page.parent / target).exists():
                broken.append(f"{_rel(page)} -> {target}")
    assert broken == []
