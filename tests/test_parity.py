"""Client and AsyncClient have the same methods, arguments and docs; the async face is the
sync face with awaits (scripts/unasync.py regenerates it, and this test checks it is current)."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import omnimsg

PAIRS = [
    (omnimsg.Client, omnimsg.AsyncClient),
    (omnimsg.Webhooks, omnimsg.AsyncWebhooks),
    (omnimsg.WhatsAppAPI, omnimsg.AsyncWhatsAppAPI),
    (omnimsg.WhatsAppTemplates, omnimsg.AsyncWhatsAppTemplates),
    (omnimsg.MessengerAPI, omnimsg.AsyncMessengerAPI),
    (omnimsg.LineAPI, omnimsg.AsyncLineAPI),
    (omnimsg.WeChatAPI, omnimsg.AsyncWeChatAPI),
    (omnimsg.MessengerProfileAPI, omnimsg.AsyncMessengerProfileAPI),
    (omnimsg.Receipt, omnimsg.AsyncReceipt),
    (omnimsg.Receiving, omnimsg.AsyncReceiving),
]
LIFECYCLE = {"close": "aclose", "__enter__": "__aenter__", "__exit__": "__aexit__"}
# No I/O: the same plain method on both faces (receive returns the face's context manager).
PURE = {"parse", "receive"}


def _same_face(text: str) -> str:
    """Signatures and docs name their own face's types: ``AsyncReceipt`` is ``Receipt``."""
    return text.replace("async with", "with").replace("Async", "")


def _public(cls: type) -> dict[str, object]:
    keep = set(LIFECYCLE) | set(LIFECYCLE.values())
    return {
        n: m for n, m in vars(cls).items() if callable(m) and (not n.startswith("_") or n in keep)
    }


@pytest.mark.parametrize(("sync", "async_"), PAIRS)
def test_same_methods_signatures_and_docs(sync: type, async_: type) -> None:
    sync_methods, async_methods = _public(sync), _public(async_)
    expected = {LIFECYCLE.get(n, n) for n in sync_methods}
    assert expected == set(async_methods)
    for name, method in sync_methods.items():
        twin = async_methods[LIFECYCLE.get(name, name)]
        if name in LIFECYCLE:
            continue
        sig, twin_sig = inspect.signature(method), inspect.signature(twin)  # type: ignore[arg-type]
        assert str(sig) == _same_face(str(twin_sig)), name
        assert inspect.getdoc(method) == _same_face(inspect.getdoc(twin) or ""), name
        assert inspect.iscoroutinefunction(twin) == (name not in PURE), name


def test_async_face_is_generated_from_the_sync_face() -> None:
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, str(root / "scripts" / "unasync.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
