"""``examples/messenger_support.py`` runs against the in-process simulator and exits 0.

docs/platforms/messenger.md ("Try it against the simulator") tells readers to run it; this is
the test that runs that command.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_messenger_support_example() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "messenger_support.py")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "webhook handshake verified: True" in out
    assert "bot < Hi Ada! How can we help? ['Shipping times', 'Returns', 'Talk to a person']" in out
    assert "customer > (taps) Shipping times" in out
    assert "We ship within 2 working days" in out
    assert "handed over to the Page Inbox: True" in out
    assert "(standby: a person in the Page Inbox answers this one)" in out
    assert "the bot owns the thread again: True" in out
    assert "window open: False; tags allowed: ('CUSTOMER_FEEDBACK', 'HUMAN_AGENT')" in out
    assert (
        "automated follow-up REFUSED before sending: [10/2018278] messenger.window.standard" in out
    )
    assert "human agent follow-up (HUMAN_AGENT) accepted: True" in out
    assert "'Hi Ada, Sam here: your replacement pair ships today.'" in out
    assert ", 0 refused" in out
    assert result.stderr == ""
