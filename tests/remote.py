"""A simulator server driven over HTTP, and a bot's webhook endpoint, for the tests that run a
client we did not write (``test_third_party_*.py``), written once.

* :class:`Remote` is one platform's side of the control plane (``/_sim/...``): ``control``
  (GET without a body, POST with one), ``reset``, ``target``, ``customer`` and ``advance``.
  Its bound methods stand in each test file under the names the tests call.
* :class:`Receiver` is the bot's webhook endpoint: a plain HTTP server on 127.0.0.1, port 0,
  in a thread, handing each request to the bot's ``serve``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

Serve = Callable[[BaseHTTPRequestHandler, bytes], tuple[int, bytes]]
"""What a bot does with one request (the handler, for its method, path and headers, and the
body read): the status and the body of its answer."""


def control(url: str, path: str, body: Any = None) -> Any:
    """A control-plane call: a GET without ``body``, a POST of it as JSON with one."""
    if body is None:
        return httpx.get(f"{url}{path}", timeout=10).json()
    return httpx.post(f"{url}{path}", json=body, timeout=10).json()


def advance(url: str, seconds: float) -> Any:
    """The simulator's clock moves on ``seconds``; its answer."""
    return control(url, "/_sim/clock/advance", {"seconds": seconds})


class Remote:
    """One platform on a simulator server: ``customer`` acts as ``user`` unless told another,
    and with ``delivered`` every webhook its action sends must have been answered 200."""

    control = staticmethod(control)
    advance = staticmethod(advance)

    def __init__(self, platform: str, user: str, *, delivered: bool = False) -> None:
        self.platform = platform
        self.user = user
        self.delivered = delivered

    def target(self, url: str, webhook: str) -> None:
        """The platform's webhooks go to ``webhook`` (a URL, or a path on the simulator)."""
        answer = control(url, "/_sim/webhooks/target", {"platform": self.platform, "url": webhook})
        assert "error" not in answer, answer

    def reset(self, url: str) -> str:
        """The simulator as it started, its webhooks to its own sink; ``url``."""
        httpx.post(f"{url}/_sim/reset", timeout=10)
        self.target(url, "/_sim/sink")
        return url

    def customer(self, url: str, user: str | None = None, **action: Any) -> dict[str, Any]:
        """A customer acts (``/_sim/inbound``); the simulator's answer."""
        answer: dict[str, Any] = control(
            url,
            "/_sim/inbound",
            {"platform": self.platform, "user": self.user if user is None else user, **action},
        )
        assert "error" not in answer, answer
        if self.delivered and answer.get("delivery") is not None:
            assert answer["delivery"]["status"] == 200, answer
        return answer


class Receiver:
    """The bot's webhook endpoint: a plain HTTP server on 127.0.0.1, port 0, whose ``url``
    ends in ``path``. Each request of ``methods`` goes to ``serve`` (which may be set after
    the server starts, once the bot can be built); its answer goes back with
    ``content_type`` when one is given."""

    def __init__(
        self,
        serve: Serve | None,
        path: str,
        *,
        content_type: str | None = None,
        methods: Sequence[str] = ("POST",),
    ) -> None:
        self.serve = serve
        receiver = self

        def answer(handler: BaseHTTPRequestHandler) -> None:
            body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
            assert receiver.serve is not None
            status, payload = receiver.serve(handler, body)
            handler.send_response(status)
            if content_type is not None:
                handler.send_header("Content-Type", content_type)
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

        for method in methods:
            setattr(Handler, f"do_{method}", answer)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{path}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)
