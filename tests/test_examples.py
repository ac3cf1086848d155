"""The examples run against the simulator and exit 0 (README.md's first command runs the demo)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_whatsapp_support_demo() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "whatsapp_support_demo.py")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "webhook handshake verified: True" in out
    assert "free-form reply REFUSED before sending: [131047]" in out
    assert "window closed at 2026-03-03T09:00:00+00:00" in out
    assert "approved template accepted: accepted" in out
    assert "Hi Ada, your order A-1001 is delivered." in out
    assert ", 0 refused" in out
