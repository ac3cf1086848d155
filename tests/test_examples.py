"""The examples run against the simulator and exit 0, saying what the docs say they say.

README.md's first command runs the WhatsApp demo; docs/platforms/messenger.md,
docs/platforms/line.md and docs/platforms/wechat.md ("Try it against the simulator") tell
readers to run the Messenger, LINE and WeChat bots.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

EXPECTED = {
    "whatsapp_support_demo.py": [
        "webhook handshake verified: True",
        "free-form reply REFUSED before sending: [131047]",
        "window closed at 2026-03-03T09:00:00+00:00",
        "approved template accepted: accepted",
        "Hi Ada, your order A-1001 is delivered.",
        ", 0 refused",
    ],
    "line_support.py": [
        "webhook URL verified (an empty events list answered 200): True",
        "is every friend's default",
        "bot < Hi Ada! Tap Help below for shipping and returns.   [reply]",
        "customer > (taps the menu) SHIPPING",
        "bot < Order A-1001 left our warehouse today. Anything else?   [push]",
        "quota this month: 200 (limited: True); pushes used: 1",
        "chat open: False",
        "push REFUSED before sending: line.follow.blocked",
        "the simulator's outbox holds 4 messages",
        ", 0 refused",
    ],
    "wechat_support.py": [
        "server configuration verified (echostr answered): True",
        "QR code for the counter: https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket=",
        "bot < Welcome to Shoe Shop! Tap Help below.   [passive reply]",
        "bot < What can we help with? [Shipping, Returns]   [msgmenu]",
        "customer > (taps) Shipping",
        "(WeChat sends it again: no answer came within 5 s; dropped)",
        "free-form follow-up REFUSED before sending: [45015] wechat.window.closed",
        "template message accepted: True",
        ": delivered)",
        "the simulator's outbox holds 5 messages",
        ", 0 refused",
    ],
    "messenger_support.py": [
        "webhook handshake verified: True",
        "bot < Hi Ada! How can we help? ['Shipping times', 'Returns', 'Talk to a person']",
        "customer > (taps) Shipping times",
        "We ship within 2 working days",
        "handed over to the Page Inbox: True",
        "(standby: a person in the Page Inbox answers this one)",
        "the bot owns the thread again: True",
        "window open: False; tags allowed: ('CUSTOMER_FEEDBACK', 'HUMAN_AGENT')",
        "automated follow-up REFUSED before sending: [10/2018278] messenger.window.standard",
        "human agent follow-up (HUMAN_AGENT) accepted: True",
        "'Hi Ada, Sam here: your replacement pair ships today.'",
        ", 0 refused",
    ],
}


@pytest.mark.slow
@pytest.mark.parametrize("example", sorted(EXPECTED))
def test_example(example: str) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / example)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    missing = [line for line in EXPECTED[example] if line not in result.stdout]
    assert missing == [], result.stdout
    assert result.stderr == ""
