"""docs/any-language.md runs as written: its shell recipes, in page order, against a real
``omnimsg-sim serve`` subprocess started with the quickstart's sim.toml, print the answers the
page shows.

Conventions of that page (on top of those of ``docsnippets.py``):

* A ```` ```json ```` block right after a shell block (only blank lines between) is that
  block's answer: the command's output, parsed as JSON (one or more documents), must equal it.
  A string ``"..."`` matches any value; a string ending in ``...`` matches any string that
  starts with what comes before it. Numbers must match in type too (``1.0`` is not ``1``).
* A ```` ```text ```` block right after a shell block is its output as text (stdout and
  stderr together, line ends trimmed); ``...`` matches any run of characters.
* A block that runs ``omnimsg-sim serve`` itself (the "start it" recipes) runs as is, in its
  own process group, stopped afterwards; every other block talks to the test's simulator,
  which the page calls by its documented address (``docsnippets.docs_addresses``).
* A ```` ```js ```` block marked ``run-by`` runs with Node (where Node is installed); a block
  that needs ``jq`` or ``openssl`` runs where that tool is installed.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from docsnippets import ROOT, Block, docs_addresses, read_blocks, rewrite, titled

PAGE = ROOT / "docs" / "any-language.md"
QUICKSTART = ROOT / "docs" / "quickstart.md"
SHELL = {"sh", "bash", "shell", "console"}
NODE = {"js", "javascript", "mjs"}
ANSWERS = {"json", "text"}
OPTIONAL_TOOLS = ("jq", "openssl")
TIMEOUT = 30.0  # seconds, for the server's first line and for each block

pytestmark = pytest.mark.slow


@attrs.frozen
class Recipe:
    """A runnable block of the page and the answer shown right after it, if any."""

    block: Block
    answer: Block | None


def recipes() -> list[Recipe]:
    """The page's shell (and Node) blocks, each with the answer block that follows it."""
    lines = PAGE.read_text(encoding="utf-8").splitlines()
    blocks = read_blocks(PAGE)
    found = []
    for i, block in enumerate(blocks):
        if block.lang not in SHELL | NODE:
            continue
        answer = None
        following = blocks[i + 1] if i + 1 < len(blocks) else None
        if following is not None and following.lang in ANSWERS and following.marker is None:
            closing = block.line + block.code.count("\n")  # 0-based index of the closing fence
            if all(not line.strip() for line in lines[closing + 1 : following.line - 1]):
                answer = following
        found.append(Recipe(block, answer))
    return found


# --- comparing what was printed with what the page shows ---------------------------------


def _documents(text: str) -> list[Any]:
    """The JSON documents of ``text``, one after the other (``}{`` or one per line)."""
    decoder = json.JSONDecoder()
    docs, i, text = [], 0, text.strip()
    while i < len(text):
        doc, i = decoder.raw_decode(text, i)
        docs.append(doc)
        while i < len(text) and text[i].isspace():
            i += 1
    return docs


def _differences(want: Any, got: Any, where: str = "$") -> list[str]:
    """Where ``got`` differs from ``want`` (``"..."`` wildcards allowed in ``want``)."""
    if want == "...":
        return []
    if isinstance(want, str) and want.endswith("..."):
        if isinstance(got, str) and got.startswith(want[:-3]):
            return []
        return [f"{where}: expected a string starting with {want[:-3]!r}, got {got!r}"]
    if isinstance(want, dict) and isinstance(got, dict):
        out = [f"{where}: missing key {k!r}" for k in want if k not in got]
        out += [f"{where}: unexpected key {k!r} = {got[k]!r}" for k in got if k not in want]
        for key in want.keys() & got.keys():
            out += _differences(want[key], got[key], f"{where}.{key}")
        return out
    if isinstance(want, list) and isinstance(got, list):
        if len(want) != len(got):
            return [f"{where}: expected {len(want)} items, got {len(got)}: {got!r}"]
        out = []
        for i, (w, g) in enumerate(zip(want, got, strict=True)):
            out += _differences(w, g, f"{where}[{i}]")
        return out
    if type(want) is not type(got) or want != got:
        return [f"{where}: expected {want!r}, got {got!r}"]
    return []


def _text_matches(want: str, got: str) -> bool:
    pattern = ".*?".join(re.escape(part) for part in want.split("..."))
    return re.fullmatch(pattern, got, re.S) is not None


def _trimmed(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def check_answer(recipe: Recipe, output: str) -> None:
    """The output of ``recipe`` is the answer the page shows after it."""
    answer = recipe.answer
    if answer is None:
        return
    if answer.lang == "text":
        want, got = _trimmed(answer.code), _trimmed(output)
        assert _text_matches(want, got), (
            f"{answer.where}: the page shows\n{want}\n--- but the block printed ---\n{got}"
        )
        return
    want_docs = _documents(answer.code)  # a page error, not a simulator one
    try:
        got_docs = _documents(output)
    except ValueError as exc:
        raise AssertionError(
            f"{recipe.block.where}: the output is not JSON ({exc}):\n{output}"
        ) from None
    problems = _differences(want_docs, got_docs)
    assert not problems, (
        f"{answer.where}: the answer differs from what the block printed:\n  "
        + "\n  ".join(problems)
        + "\n--- printed ---\n"
        + output
    )


# --- running the blocks ------------------------------------------------------------------


def _first_line(proc: subprocess.Popen[str], timeout: float) -> str:
    """The first line the process prints, or a failure after ``timeout`` seconds."""
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    stdout = proc.stdout
    threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        raise AssertionError(f"omnimsg-sim printed nothing within {timeout} s") from None


@contextlib.contextmanager
def serve(config: Path) -> Iterator[str]:
    """``omnimsg-sim serve --config CONFIG --port 0`` as a subprocess; yields its URL."""
    log = config.with_name("server.stderr")
    with log.open("w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "omnimsg_sim", "serve", "--config", str(config), "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            cwd=config.parent,
        )
    try:
        first = _first_line(proc, TIMEOUT).strip()
        match = re.fullmatch(r"omnimsg-sim listening on (http://127\.0\.0\.1:\d+)", first)
        assert match, f"unexpected first line {first!r}; stderr: {log.read_text()}"
        yield match[1]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def _stop_group(pgid: int) -> None:
    """Stop what a block left running in its own process group (a simulator it started)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            os.killpg(pgid, 0)  # raises ProcessLookupError once the group is gone
            time.sleep(0.05)
        os.killpg(pgid, signal.SIGKILL)


def run_block(block: Block, cwd: Path, env: dict[str, str], sim: str) -> str:
    """Run one block as a user would (bash, or node); returns stdout and stderr together."""
    code = rewrite(block.code, sim=sim.removeprefix("http://"))
    command = ["bash", "-c", code] if block.lang in SHELL else ["node", "--input-type=module"]
    proc = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # whatever it starts in the background is stopped below
    )
    try:
        output, _ = proc.communicate(None if block.lang in SHELL else code, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        _stop_group(proc.pid)
        output, _ = proc.communicate(timeout=10)
        raise AssertionError(f"{block.where}: still running after {TIMEOUT} s:\n{output}") from None
    finally:
        if "omnimsg-sim" in code and "serve" in code:
            _stop_group(proc.pid)
    assert proc.returncode == 0, f"{block.where}: exit status {proc.returncode}:\n{output}"
    return output


def _missing_tool(block: Block) -> str | None:
    needed = [t for t in OPTIONAL_TOOLS if re.search(rf"\b{t}\b", block.code)]
    if block.lang in NODE:
        needed.append("node")
    return next((t for t in needed if shutil.which(t) is None), None)


def _shim(bin_dir: Path) -> None:
    """``omnimsg-sim`` on PATH runs this checkout's simulator with this interpreter."""
    bin_dir.mkdir()
    script = bin_dir / "omnimsg-sim"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m omnimsg_sim "$@"\n')
    script.chmod(0o755)


# --- the tests ---------------------------------------------------------------------------


def test_every_recipe_runs_and_answers_as_shown(tmp_path: Path) -> None:
    # Recipes run where a user stands: a folder holding the quickstart's sim.toml.
    config = tmp_path / "sim.toml"
    config.write_text(titled(QUICKSTART, "sim.toml"), encoding="utf-8")
    _shim(tmp_path / "bin")
    env = {**os.environ, "PATH": f"{tmp_path / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
    skipped = []
    with serve(config) as sim:
        for recipe in recipes():
            block = recipe.block
            if block.marker == "not-run":
                continue
            missing = _missing_tool(block)
            if missing is not None:
                skipped.append(f"{block.where} (needs {missing})")
                continue
            check_answer(recipe, run_block(block, tmp_path, env, sim))
    if skipped:  # every other recipe ran and answered as shown
        message = f"not run, a tool is missing: {', '.join(skipped)}"
        if os.environ.get("CI"):  # .ci/run installs them: in CI a missing tool is a failure
            pytest.fail(message)
        pytest.skip(message)


def test_every_block_is_a_recipe_or_its_answer() -> None:
    """Every shell block is run by this test (or says why not); every answer has its block."""
    runs = recipes()
    answers = {r.answer.line for r in runs if r.answer is not None}
    for block in read_blocks(PAGE):
        if block.lang in SHELL | NODE and block.marker != "not-run":
            assert block.marker == "run-by" and block.reason == "test_docs_any_language.py", (
                f"{block.where}: mark it <!-- docs: run-by: test_docs_any_language.py -->"
            )
        if block.lang in SHELL and block.marker == "not-run":
            assert block.reason, f"{block.where}: say why the block is not run"
        if block.lang in ANSWERS and block.marker is None:
            assert block.line in answers, (
                f"{block.where}: an answer must come right after the block that prints it"
            )
        if block.lang == "json" and block.marker is None:
            _documents(block.code)  # valid JSON (wildcards are strings)
    # The recipes that talk to "the simulator of the docs" use its one address.
    for recipe in runs:
        code = recipe.block.code
        address = docs_addresses()[0]
        local = "localhost:" + address.rsplit(":", 1)[1]
        assert local not in code, f"{recipe.block.where}: write {address}"


def test_wildcards() -> None:
    assert _differences({"id": "wamid.HBgL...", "n": "..."}, {"id": "wamid.HBgLx", "n": 3}) == []
    assert _differences({"id": "wamid...."}, {"id": "x"}) != []
    assert _differences({"a": 1.0}, {"a": 1}) != []
    assert _differences([1, 2], [1]) != []
    assert _differences({"a": 1}, {"a": 1, "b": 2}) != []
    assert _text_matches("port ...\nexit 2", "port 4100\nexit 2")
    assert not _text_matches("exit 2", "exit 1")
    assert _documents('{"a": 1}{"b": 2}\n{"c": 3}') == [{"a": 1}, {"b": 2}, {"c": 3}]
