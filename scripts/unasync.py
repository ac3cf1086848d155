"""Generate src/omnimsg/async_client.py from src/omnimsg/client.py.

The async face is the sync face with ``async``/``await`` and async names: written once, so the
two cannot drift. ``--check`` exits 1 if the committed file is stale (run by the tests).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "src" / "omnimsg" / "client.py"
TARGET = ROOT / "src" / "omnimsg" / "async_client.py"

# Plain text replacements, applied in order.
REPLACEMENTS = [
    (
        '"""The synchronous face: :class:`Client`."""',
        '"""The asynchronous face: :class:`AsyncClient` (same method names as :class:`Client`)."""',
    ),
    (
        "from ._core.drive import SyncDriver, run_sync",
        "from ._core.drive import AsyncDriver, run_async",
    ),
    ("from .drivers import HttpxDriver", "from .drivers import AsyncHttpxDriver"),
    (
        "from .stores import MemoryStore, Store",
        "from .stores import AsyncStore, MemoryStore, Store",
    ),
    ("check_store(self.store, async_face=False)", "check_store(self.store, async_face=True)"),
    ("class Client:", "class AsyncClient:"),
    (
        "on every configured platform, synchronously.",
        "on every configured platform, asynchronously.",
    ),
    (
        "The same methods exist on :class:`AsyncClient`, awaited.",
        "The same methods as :class:`Client`, awaited; close with ``await client.aclose()`` or\n"
        "    ``async with``. For high-throughput broadcasts pass ``driver=AiohttpDriver()``.",
    ),
    (
        "store: where conversation state lives (default: a fresh :class:`MemoryStore`).",
        "store: where conversation state lives: an :class:`AsyncStore`, or a non-blocking store\n"
        "            such as :class:`MemoryStore` (the default).",
    ),
    (
        "driver: the HTTP driver (default: :class:`HttpxDriver`).",
        "driver: the HTTP driver (default: :class:`AsyncHttpxDriver`; :class:`AiohttpDriver` is faster).",
    ),
    ("http_client: an ``httpx.Client``", "http_client: an ``httpx.AsyncClient``"),
    ("store: Store | None = None", "store: Store | AsyncStore | None = None"),
    ("driver: SyncDriver | None = None", "driver: AsyncDriver | None = None"),
    ("http_client: httpx.Client | None = None", "http_client: httpx.AsyncClient | None = None"),
    (
        "transport: httpx.BaseTransport | None = None",
        "transport: httpx.AsyncBaseTransport | None = None",
    ),
    ("self.store: Store = store", "self.store: Store | AsyncStore = store"),
    ("self._driver = driver or HttpxDriver(", "self._driver = driver or AsyncHttpxDriver("),
    (
        "    def _run(self, flow: Flow[T]) -> T:\n        return run_sync(flow, self._driver, self.store, self.clock)",
        "    async def _run(self, flow: Flow[T]) -> T:\n        return await run_async(flow, self._driver, self.store, self.clock)",
    ),
    (
        "        self._driver.close()\n"
        '        release = getattr(self.clock, "close", None)\n'
        "        if release is not None:\n"
        "            release()",
        "        await self._driver.aclose()\n"
        '        release = getattr(self.clock, "aclose", None)\n'
        "        if release is not None:\n"
        "            await release()",
    ),
    ("    def close(self) -> None:", "    async def aclose(self) -> None:"),
    ("    def __enter__(self) -> Client:", "    async def __aenter__(self) -> AsyncClient:"),
    ("    def __exit__(", "    async def __aexit__("),
    ("        self.close()", "        await self.aclose()"),
    ('return f"Client(', 'return f"AsyncClient('),
    ("client: Client", "client: AsyncClient"),
    ("class Webhooks:", "class AsyncWebhooks:"),
    ("self.webhooks = Webhooks(self)", "self.webhooks = AsyncWebhooks(self)"),
    (
        ":meth:`Webhooks.receive` (exactly once)",
        ":meth:`AsyncWebhooks.receive` (exactly once)",
    ),
    ("class WhatsAppAPI:", "class AsyncWhatsAppAPI:"),
    ("self.whatsapp = WhatsAppAPI(self)", "self.whatsapp = AsyncWhatsAppAPI(self)"),
    ("class WhatsAppTemplates:", "class AsyncWhatsAppTemplates:"),
    (
        "self.templates = WhatsAppTemplates(client)",
        "self.templates = AsyncWhatsAppTemplates(client)",
    ),
    ("class MessengerAPI:", "class AsyncMessengerAPI:"),
    ("self.messenger = MessengerAPI(self)", "self.messenger = AsyncMessengerAPI(self)"),
    ("class LineAPI:", "class AsyncLineAPI:"),
    ("self.line = LineAPI(self)", "self.line = AsyncLineAPI(self)"),
    ("class WeChatAPI:", "class AsyncWeChatAPI:"),
    ("self.wechat = WeChatAPI(self)", "self.wechat = AsyncWeChatAPI(self)"),
    ("class MessengerProfileAPI:", "class AsyncMessengerProfileAPI:"),
    (
        "self.profile = MessengerProfileAPI(client)",
        "self.profile = AsyncMessengerProfileAPI(client)",
    ),
    ("return self._client._run(", "return await self._client._run("),
    ("return self.settle(", "return await self.settle("),
    (
        '__all__ = ["Client", "Receipt", "Receiving"]',
        '__all__ = ["AsyncClient", "AsyncReceipt", "AsyncReceiving"]',
    ),
    ("class Receipt:", "class AsyncReceipt:"),
    ("class Receiving:", "class AsyncReceiving:"),
    ("-> Receiving:", "-> AsyncReceiving:"),
    ("return Receiving(self,", "return AsyncReceiving(self,"),
    ("    ) -> Receipt:", "    ) -> AsyncReceipt:"),
    ("return Receipt(self._client,", "return AsyncReceipt(self._client,"),
    ("self._receipt: Receipt | None", "self._receipt: AsyncReceipt | None"),
    ("webhooks: Webhooks,", "webhooks: AsyncWebhooks,"),
    ("    def __enter__(self) -> Receipt:", "    async def __aenter__(self) -> AsyncReceipt:"),
    ("self._receipt = self._webhooks.claim(", "self._receipt = await self._webhooks.claim("),
    ("            self._receipt.ack()", "            await self._receipt.ack()"),
    ("            self._receipt.release()", "            await self._receipt.release()"),
    ("outcome, claim = self._client._run(", "outcome, claim = await self._client._run("),
    ("with client.webhooks.receive(...) as r:", "async with client.webhooks.receive(...) as r:"),
    (":meth:`Webhooks.receive`", ":meth:`AsyncWebhooks.receive`"),
    (":meth:`Receipt.ack`", ":meth:`AsyncReceipt.ack`"),
    ("a :class:`Receipt`.", "an :class:`AsyncReceipt`."),
    ("return self._run(", "return await self._run("),
]
# Methods that stay plain functions on the async face (no I/O, or already handled above).
SYNC_ONLY = {
    "__init__",
    "parse",
    "__repr__",
    "_run",
    "__aenter__",
    "__aexit__",
    "aclose",
    # Receipt's properties and helpers, and receive(): it returns the async context manager.
    "events",
    "status",
    "body",
    "content_type",
    "busy",
    "pending",
    "_take",
    "receive",
}


def generate() -> str:
    """The async module's source, formatted with ruff."""
    text = SOURCE.read_text(encoding="utf-8")
    for old, new in REPLACEMENTS:
        if old not in text:
            raise SystemExit(f"unasync: pattern not found in client.py: {old[:60]!r}")
        text = text.replace(old, new)
    text = re.sub(
        r"(\n    )def (\w+)\(",
        lambda m: (
            m.group(1) + ("def " if m.group(2) in SYNC_ONLY else "async def ") + m.group(2) + "("
        ),
        text,
    )
    header = (
        "# Generated by scripts/unasync.py from client.py: edit client.py, then run the script.\n"
    )
    formatted = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--stdin-filename", str(TARGET), "-"],
        input=header + text,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return formatted.stdout


def main() -> int:
    """Write the async face, or with ``--check`` report whether it is current."""
    fresh = generate()
    if "--check" in sys.argv[1:]:
        if TARGET.read_text(encoding="utf-8") != fresh:
            print("src/omnimsg/async_client.py is stale: run python scripts/unasync.py")
            return 1
        print("async_client.py is current")
        return 0
    TARGET.write_text(fresh, encoding="utf-8")
    print(f"wrote {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
