"""Server mode over real sockets on 127.0.0.1: the plugin fixture, the running clock, latency."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from omnimsg import Address, Client, Template, Timeout, WhatsApp
from omnimsg.testing import DEFAULT_WHATSAPP, ServerThread, whatsapp_channel, whatsapp_sim_config

pytestmark = pytest.mark.slow
ADA = "15551230001"


@pytest.fixture
def omnimsg_sim_config() -> Any:
    # Overriding the plugin's config fixture is how a suite picks its accounts.
    return whatsapp_sim_config(webhook_url=None, display_phone_number="15550009999")


def test_plugin_server_fixture(omnimsg_sim_server: str) -> None:
    assert omnimsg_sim_server.startswith("http://127.0.0.1:")
    info = httpx.get(
        f"{omnimsg_sim_server}/v23.0/{DEFAULT_WHATSAPP['phone_number_id']}",
        headers={"Authorization": f"Bearer {DEFAULT_WHATSAPP['access_token']}"},
    ).json()
    assert info["display_phone_number"] == "15550009999"


def test_latency_fault_makes_a_client_time_out() -> None:
    config = whatsapp_sim_config(webhook_url=None)
    with ServerThread(config) as url:
        httpx.post(
            f"{url}/_sim/faults",
            json={"operation": "whatsapp.send", "latency_ms": 1500, "times": 1},
        )
        with Client(
            [whatsapp_channel(config, url)], http_client=httpx.Client(timeout=0.2)
        ) as client:
            with pytest.raises(Timeout):
                client.send(
                    Address("whatsapp", ADA), Template("order_update", params=["a", "b", "c"])
                )
        # The fault is spent: the next call goes through.
        with Client([whatsapp_channel(config, url)]) as client:
            assert client.send(
                Address("whatsapp", ADA), Template("order_update", params=["a", "b", "c"])
            ).message_id


def test_running_clock_delivers_due_webhooks_without_advance() -> None:
    received: list[str] = []
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class App(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(self.rfile.read(int(self.headers["Content-Length"])).decode())
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return None

    app = ThreadingHTTPServer(("127.0.0.1", 0), App)
    thread = threading.Thread(target=app.serve_forever, daemon=True)
    thread.start()
    try:
        config = whatsapp_sim_config(
            webhook_url=f"http://127.0.0.1:{app.server_address[1]}/wh",
            deliver_after=0.2,
            read_after=0.4,
            sim={"clock": "running"},
        )
        with ServerThread(config) as url:
            channel = whatsapp_channel(config, url)
            with Client([channel]) as client:
                client.send(
                    Address("whatsapp", ADA), Template("order_update", params=["a", "b", "c"])
                )
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not any('"read"' in body for body in received):
                time.sleep(0.05)
        statuses = [
            s
            for s in ("sent", "delivered", "read")
            if any(f'"status":"{s}"' in b for b in received)
        ]
        assert statuses == ["sent", "delivered", "read"]
    finally:
        app.shutdown()
        app.server_close()


def test_secrets_never_appear_in_reprs_or_errors() -> None:
    from omnimsg import AuthenticationError

    secret_token, secret_app = "EAAG-super-secret-token", "app-secret-value"
    ch = WhatsApp(
        phone_number_id="106540352242922",
        access_token=secret_token,
        app_secret=secret_app,
        verify_token="vt-secret",
    )
    config = whatsapp_sim_config(webhook_url=None)
    assert (
        secret_token not in repr(ch) and secret_app not in repr(ch) and "vt-secret" not in repr(ch)
    )
    assert DEFAULT_WHATSAPP["access_token"] not in repr(config)
    with ServerThread(config) as url:
        with Client(
            [WhatsApp(phone_number_id="106540352242922", access_token=secret_token, base_url=url)]
        ) as client:
            assert secret_token not in repr(client)
            with pytest.raises(AuthenticationError) as caught:
                client.send(
                    Address("whatsapp", ADA), Template("order_update", params=["a", "b", "c"])
                )
        err = caught.value
        assert secret_token not in str(err) and secret_token not in repr(err)
        assert secret_token.encode() not in err.raw
