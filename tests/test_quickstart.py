"""docs/quickstart.md, run as a new user runs it: the simulator and the bot in processes of
their own, the page's curl commands in bash, and every answer the page shows compared."""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from docsnippets import ROOT, Block, mismatches, read_blocks, rewrite, titled

PAGE = ROOT / "docs" / "quickstart.md"
pytestmark = pytest.mark.slow


def _free_port() -> int:
    # The bot's port goes into sim.toml before either starts, so it is picked here (the
    # simulator itself binds port 0).
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _first_line(proc: subprocess.Popen[str], timeout: float) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    assert ready, "the simulator printed nothing"
    return proc.stdout.readline().strip()


def _wait_listening(port: int, proc: subprocess.Popen[str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"bot.py exited: {proc.communicate()[1]}"
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError("bot.py did not start listening")


def _stop(proc: subprocess.Popen[str]) -> str:
    """Stop a process, close its pipes, and return what it wrote to stderr."""
    proc.terminate()
    try:
        return proc.communicate(timeout=10)[1]
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.communicate(timeout=10)[1]


def _shell_steps(blocks: list[Block]) -> Iterator[tuple[Block, object | None]]:
    """Each curl block with the JSON answer the page shows right after it (if any)."""
    for i, block in enumerate(blocks):
        if block.lang == "sh" and block.code.lstrip().startswith("curl"):
            after = blocks[i + 1] if i + 1 < len(blocks) else None
            shown = json.loads(after.code) if after is not None and after.lang == "json" else None
            yield block, shown


def test_quickstart_end_to_end(tmp_path: Path) -> None:
    bot_port = _free_port()
    sim_toml = rewrite(titled(PAGE, "sim.toml"), app=f"127.0.0.1:{bot_port}")
    (tmp_path / "sim.toml").write_text(sim_toml, encoding="utf-8")
    blocks = read_blocks(PAGE)
    serve = next(b for b in blocks if b.lang == "sh" and "omnimsg-sim serve" in b.code).code.strip()
    assert serve == "omnimsg-sim serve --config sim.toml"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    bindir = Path(sys.executable).parent
    sim = subprocess.Popen(
        [str(bindir / "omnimsg-sim"), *serve.split()[1:], "--port", "0"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    bot: subprocess.Popen[str] | None = None
    try:
        line = _first_line(sim, 30)
        assert line.startswith("omnimsg-sim listening on http://127.0.0.1:"), line
        sim_url = line.rsplit(" ", 1)[1]
        sim_address = sim_url.removeprefix("http://")
        bot_code = rewrite(titled(PAGE, "bot.py"), sim=sim_address, app=f"127.0.0.1:{bot_port}")
        (tmp_path / "bot.py").write_text(bot_code, encoding="utf-8")
        run_bot = next(b for b in blocks if b.lang == "sh" and "bot.py" in b.code).code.strip()
        assert run_bot == "python bot.py"
        bot = subprocess.Popen(
            [sys.executable, "bot.py"],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        _wait_listening(bot_port, bot)

        answers = []
        for block, shown in _shell_steps(blocks):
            command = rewrite(block.code, sim=sim_address, app=f"127.0.0.1:{bot_port}")
            done = subprocess.run(
                ["bash", "-c", command],
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert done.returncode == 0, f"{block.where}: {done.stderr}"
            answer = json.loads(done.stdout)
            if shown is not None:
                assert mismatches(shown, answer) == [], f"{block.where}: the page shows otherwise"
            answers.append(answer)

        inbound, _outbox, _advance, follow_up = answers
        assert inbound["delivery"]["status"] == 200  # the bot answered the signed webhook
        assert follow_up["refused"] == "whatsapp.window.customer_service"
        outbox = httpx.get(f"{sim_url}/_sim/outbox", params={"raw": "false"}).json()["messages"]
        assert outbox[-1]["text"] == "Hi Ada, your order A-1001 is delivered."
        assert [
            m["status"] for m in outbox if m["status"] == "failed"
        ] == []  # refused before sending
        deliveries = httpx.get(f"{sim_url}/_sim/webhooks").json()["deliveries"]
        assert deliveries and all(d["status"] == 200 for d in deliveries)
        stopped, bot = bot, None
        assert "Traceback" not in _stop(stopped)
    finally:
        if bot is not None:
            _stop(bot)
        _stop(sim)
