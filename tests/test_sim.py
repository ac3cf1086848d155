"""The simulator's public contract (DESIGN §4): config, paths, control plane, delivery, faults."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from omnimsg import Address, ConfigurationError, ServerError, StatusUpdate, Text, TransportError
from omnimsg.testing import DEFAULT_WHATSAPP, ServerThread, SimHarness, whatsapp_sim_config
from omnimsg_sim import InProcessSimulator, load_config, parse_config

ADA = "15551230001"
TOKEN = DEFAULT_WHATSAPP["access_token"]
PNID = DEFAULT_WHATSAPP["phone_number_id"]


# --- config -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda a: a.pop("phone_number_id"), "whatsapp[0].phone_number_id: missing"),
        (lambda a: a.update(access_token=""), "whatsapp[0].access_token: must not be empty"),
        (lambda a: a.update(app_secret=5), "whatsapp[0].app_secret: expected a string, got int"),
        (
            lambda a: a.update(window_error="later"),
            "whatsapp[0].window_error: must be one of async, sync",
        ),
        (
            lambda a: a.update(webhook_url="ftp://x"),
            "whatsapp[0].webhook_url: must be an http(s) URL",
        ),
        (lambda a: a.update(colour="blue"), "whatsapp[0]: unknown field(s) colour"),
        (
            lambda a: a.update(tier_limit=True),
            "whatsapp[0].tier_limit: expected an integer, got a boolean",
        ),
        (lambda a: a["customers"].append({"name": "x"}), "whatsapp[0].customers[2].wa_id: missing"),
        (lambda a: a["templates"].append({"name": "x"}), "whatsapp[0].templates[3].body: missing"),
    ],
)
def test_config_errors_name_the_field(mutate: Any, message: str) -> None:
    account = json.loads(json.dumps(DEFAULT_WHATSAPP))
    mutate(account)
    with pytest.raises(
        ConfigurationError,
        match=message.replace("[", r"\[")
        .replace("]", r"\]")
        .replace("(", r"\(")
        .replace(")", r"\)"),
    ):
        parse_config({"whatsapp": [account]})


def test_config_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="not found"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[[whatsapp]\n")
    with pytest.raises(ConfigurationError, match="not valid TOML"):
        load_config(bad)
    empty = tmp_path / "empty.toml"
    empty.write_text("[sim]\nseed = 1\n")
    with pytest.raises(ConfigurationError, match="at least one platform account"):
        load_config(empty)
    with pytest.raises(ConfigurationError, match=r"sim\.start"):
        parse_config({"sim": {"start": "yesterday"}, "whatsapp": [DEFAULT_WHATSAPP]})


SIM_TOML = """
[sim]
seed = 3
start = "2026-03-02T09:00:00Z"

[[whatsapp]]
phone_number_id = "111"
waba_id = "222"
access_token = "tok"
app_secret = "sec"
verify_token = "vt"

[[whatsapp.customers]]
wa_id = "15550001"
name = "Ada"

[[whatsapp.templates]]
name = "hello"
body = "Hello {{1}}"
"""


def test_cli_serves_on_a_free_port_and_reports_the_url_first(tmp_path: Path) -> None:
    cfg = tmp_path / "sim.toml"
    cfg.write_text(SIM_TOML)
    with subprocess.Popen(
        [sys.executable, "-m", "omnimsg_sim", "serve", "--config", str(cfg), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None
            first = proc.stdout.readline().strip()
            assert first.startswith("omnimsg-sim listening on http://127.0.0.1:")
            url = first.rsplit(" ", 1)[1]
            health = httpx.get(f"{url}/_sim/health", timeout=10).json()
            assert health["status"] == "ok"
            assert health["platforms"] == {"whatsapp": ["111"]}
            r = httpx.post(
                f"{url}/v21.0/111/messages",
                headers={"Authorization": "Bearer tok"},
                json={
                    "messaging_product": "whatsapp",
                    "to": "15550001",
                    "type": "template",
                    "template": {
                        "name": "hello",
                        "language": {"code": "en_US"},
                        "components": [
                            {"type": "body", "parameters": [{"type": "text", "text": "Ada"}]}
                        ],
                    },
                },
                timeout=10,
            )
            assert r.status_code == 200, r.text
            assert r.json()["messages"][0]["message_status"] == "accepted"
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def test_cli_rejects_a_bad_config_before_starting(tmp_path: Path) -> None:
    cfg = tmp_path / "sim.toml"
    cfg.write_text(SIM_TOML.replace('app_secret = "sec"\n', ""))
    result = subprocess.run(
        [sys.executable, "-m", "omnimsg_sim", "serve", "--config", str(cfg), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "whatsapp[0].app_secret: missing" in result.stderr
    ok = tmp_path / "ok.toml"
    ok.write_text(SIM_TOML)
    check = subprocess.run(
        [sys.executable, "-m", "omnimsg_sim", "check", "--config", str(ok)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert check.returncode == 0 and "is valid" in check.stdout


# --- paths, auth, errors -----------------------------------------------------------------------


def raw_sim(**overrides: Any) -> tuple[InProcessSimulator, httpx.Client]:
    sim = InProcessSimulator(whatsapp_sim_config(webhook_url=None, **overrides))
    return sim, httpx.Client(transport=sim.transport(), base_url=sim.base_url)


@pytest.mark.parametrize("version", ["v17.0", "v21.0", "v26.0"])
def test_any_graph_version_prefix(version: str) -> None:
    _, http = raw_sim()
    r = http.get(f"/{version}/{PNID}", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200
    assert r.json()["id"] == PNID


def test_auth_errors_are_graphs_own() -> None:
    _, http = raw_sim()
    body = {"messaging_product": "whatsapp", "to": ADA, "type": "text", "text": {"body": "x"}}
    wrong = http.post(
        f"/v21.0/{PNID}/messages", headers={"Authorization": "Bearer nope"}, json=body
    )
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == 190
    assert wrong.json()["error"]["type"] == "OAuthException"
    missing = http.post(f"/v21.0/{PNID}/messages", json=body)
    assert missing.status_code == 400
    assert missing.json()["error"]["code"] == 2500


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{nope", 100),
        ({"messaging_product": "sms", "to": ADA, "type": "text", "text": {"body": "x"}}, 100),
        ({"messaging_product": "whatsapp", "type": "text", "text": {"body": "x"}}, 131008),
        ({"messaging_product": "whatsapp", "to": ADA, "type": "text"}, 131008),
        ({"messaging_product": "whatsapp", "to": ADA, "type": "hologram"}, 100),
        ({"messaging_product": "whatsapp", "to": ADA, "type": "image", "image": {}}, 131008),
    ],
)
def test_malformed_sends_get_native_codes(body: Any, code: int) -> None:
    _, http = raw_sim()
    kwargs: dict[str, Any] = {"content": body} if isinstance(body, bytes) else {"json": body}
    r = http.post(f"/v21.0/{PNID}/messages", headers={"Authorization": f"Bearer {TOKEN}"}, **kwargs)
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["code"] == code
    assert error["message"].startswith(f"(#{code}) ")
    assert error["fbtrace_id"]


def test_unknown_objects_and_paths_fail_loudly() -> None:
    _, http = raw_sim()
    r = http.get("/v21.0/999999/messages", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 400
    assert r.json()["error"]["error_subcode"] == 33
    other = http.get("/nothing/here")
    assert other.status_code == 404
    assert "does not serve" in other.json()["error"]["message"]
    assert http.get("/_sim/nothing").status_code == 404


def test_body_size_limit() -> None:
    _sim, http = raw_sim(sim={"max_body_bytes": 1000})
    r = http.post(f"/v21.0/{PNID}/messages", content=b"x" * 2000)
    assert r.status_code == 413


# --- control plane -----------------------------------------------------------------------------


def test_clock_outbox_filters_reset_and_state(omnimsg_sim: SimHarness) -> None:
    h = omnimsg_sim
    clock = h.control("GET", "/_sim/clock")
    assert clock["now"] == "2026-03-02T09:00:00+00:00"
    assert clock["mode"] == "frozen"
    h.customer_says(ADA, "hi")
    h.client.send(Address("whatsapp", ADA), Text("hello"))
    assert h.outbox(user="nobody") == []
    assert h.outbox(user=ADA)[0]["text"] == "hello"
    assert "raw" not in h.control("GET", "/_sim/outbox?raw=false")["messages"][0]
    state = h.control("GET", "/_sim/state")["whatsapp"][PNID]
    assert any(c["wa_id"] == ADA and c["window_open"] for c in state["customers"])
    assert h.advance(hours=2)["now"] == "2026-03-02T11:00:00+00:00"
    assert h.control("POST", "/_sim/reset")["status"] == "reset"
    assert h.control("GET", "/_sim/clock")["now"] == "2026-03-02T09:00:00+00:00"
    assert h.outbox() == []
    assert h.control("GET", "/_sim/outbox", None)["messages"] == []


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/_sim/clock/advance", {"seconds": -1}, 400),
        ("/_sim/clock/advance", {"seconds": "soon"}, 400),
        ("/_sim/inbound", {"user": ADA}, 400),
        ("/_sim/inbound", {"platform": "fax", "user": ADA, "text": "x"}, 400),
        ("/_sim/inbound", {"text": "x"}, 400),
        ("/_sim/templates/status", {"name": "nope", "status": "APPROVED"}, 404),
        ("/_sim/faults", {"operation": "whatsapp.send"}, 400),
        ("/_sim/faults", {"times": "often", "status": 500}, 400),
        ("/_sim/faults", {"volume": 11}, 400),
    ],
)
def test_control_plane_rejects_bad_requests(path: str, body: Any, status: int) -> None:
    _sim, http = raw_sim()
    r = http.post(path, json=body)
    assert r.status_code == status, r.text
    assert r.json()["error"]["message"]


def test_control_plane_rejects_non_json() -> None:
    _, http = raw_sim()
    r = http.post("/_sim/inbound", content=b"{broken")
    assert r.status_code == 400
    assert "not valid JSON" in r.json()["error"]["message"]


# --- faults ------------------------------------------------------------------------------------


def test_fault_fails_the_next_n_matching_calls(omnimsg_sim: SimHarness) -> None:
    h = omnimsg_sim
    event = h.customer_says(ADA, "hi")
    fault = h.control(
        "POST",
        "/_sim/faults",
        {"operation": "whatsapp.send", "code": 131000, "status": 500, "times": 2},
    )
    assert fault["id"] == 1
    with pytest.raises(ServerError) as caught:
        h.client.send(
            event.sender, Text("x")
        )  # a send is not retried after a 5xx: it may have gone out
    assert caught.value.code == 131000
    with pytest.raises(ServerError):
        h.client.send(event.sender, Text("x"))  # the second hit
    assert h.control("GET", "/_sim/faults")["faults"][0]["hits"] == 2
    assert h.client.send(event.sender, Text("x")).message_id
    h.control("DELETE", "/_sim/faults")
    assert h.control("GET", "/_sim/faults")["faults"] == []


def test_fault_rate_limit_is_retried_when_safe(omnimsg_sim: SimHarness) -> None:
    h = omnimsg_sim
    event = h.customer_says(ADA, "hi")
    h.control(
        "POST",
        "/_sim/faults",
        {"operation": "whatsapp.send", "code": 130429, "status": 429, "times": 1},
    )
    result = h.client.send(event.sender, Text("after a throttle"))
    assert result.message_id
    assert len(h.outbox()) == 1  # retried once, sent once


def test_fault_filters_by_user(omnimsg_sim: SimHarness) -> None:
    h = omnimsg_sim
    h.customer_says(ADA, "hi")
    h.customer_says("15551230002", "hi")
    h.control(
        "POST",
        "/_sim/faults",
        {"operation": "*", "user": "15551230002", "code": 131026, "status": 400, "times": None},
    )
    assert h.client.send(Address("whatsapp", ADA), Text("ok")).message_id
    with pytest.raises(Exception, match="131026"):
        h.client.send(Address("whatsapp", "15551230002"), Text("no"))


def test_duplicate_webhook_fault_is_absorbed_by_dedup(omnimsg_sim: SimHarness) -> None:
    h = omnimsg_sim
    h.control(
        "POST", "/_sim/faults", {"operation": "whatsapp.webhook", "action": "duplicate", "times": 1}
    )
    result = h.control("POST", "/_sim/inbound", {"user": ADA, "text": "once"})
    assert result["delivery"]["status"] == 200
    log = h.control("GET", "/_sim/webhooks")["deliveries"]
    assert len([d for d in log if d["kind"] == "message"]) == 2  # delivered twice...
    assert [getattr(e, "message_id", None) for e in h.events].count(
        result["message_id"]
    ) == 1  # ...handled once


# --- webhook delivery --------------------------------------------------------------------------


def test_failed_deliveries_are_retried_on_the_virtual_clock() -> None:
    answers = iter([500, 503, 200])
    seen: list[bytes] = []

    def flaky_app(request: httpx.Request) -> httpx.Response:
        seen.append(request.read())
        return httpx.Response(next(answers))

    sim = InProcessSimulator.with_handler(
        whatsapp_sim_config(sim={"webhook_retry_delays": [10, 30]}), flaky_app
    )
    result = sim.control("POST", "/_sim/inbound", {"user": ADA, "text": "hello?"})
    assert result["delivery"]["status"] == 500
    assert result["delivery"]["retry_at"] == pytest.approx(
        result["message"]["timestamp"] and float(result["message"]["timestamp"]) + 10
    )
    assert sim.control("POST", "/_sim/clock/advance", {"seconds": 9})["delivered"] == []
    assert [
        d["status"] for d in sim.control("POST", "/_sim/clock/advance", {"seconds": 1})["delivered"]
    ] == [503]
    assert [
        d["status"]
        for d in sim.control("POST", "/_sim/clock/advance", {"seconds": 30})["delivered"]
    ] == [200]
    assert len(set(seen)) == 1  # the same signed body every time
    log = sim.control("GET", "/_sim/webhooks")["deliveries"]
    assert [d["attempt"] for d in log] == [1, 2, 3]


def test_delivery_gives_up_after_the_schedule() -> None:
    sim = InProcessSimulator.with_handler(
        whatsapp_sim_config(sim={"webhook_retry_delays": [1]}), lambda r: httpx.Response(500)
    )
    first = sim.control("POST", "/_sim/inbound", {"user": ADA, "text": "x"})
    assert first["delivery"]["retry_at"] is not None
    (retry,) = sim.control("POST", "/_sim/clock/advance", {"seconds": 5})["delivered"]
    assert retry["retry_at"] is None
    assert sim.control("GET", "/_sim/health")["pending"] == 0


def test_unreachable_app_is_reported_not_raised() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    sim = InProcessSimulator.with_handler(whatsapp_sim_config(), down)
    result = sim.control("POST", "/_sim/inbound", {"user": ADA, "text": "x"})
    assert result["delivery"]["status"] is None
    assert "ConnectError" in result["delivery"]["error"]


def test_statuses_follow_sent_delivered_read_on_the_clock(omnimsg_sim: SimHarness) -> None:
    h = omnimsg_sim
    event = h.customer_says(ADA, "hi")
    sent = h.client.send(event.sender, Text("x"))

    def statuses() -> list[str]:
        return [
            e.status
            for e in h.events
            if isinstance(e, StatusUpdate) and e.message_id == sent.message_id
        ]

    assert statuses() == ["sent"]
    h.advance(seconds=1)
    assert statuses() == ["sent", "delivered"]
    h.advance(seconds=1)
    assert statuses() == ["sent", "delivered", "read"]


def test_read_at_the_same_time_as_delivered_sends_only_read() -> None:
    with SimHarness(whatsapp_sim_config(read_after=1.0, deliver_after=1.0)) as h:
        event = h.customer_says(ADA, "hi")
        sent = h.client.send(event.sender, Text("x"))
        h.advance(seconds=3)
        assert [
            e.status
            for e in h.events
            if isinstance(e, StatusUpdate) and e.message_id == sent.message_id
        ] == ["sent", "read"]


def test_handshake_failure_is_reported() -> None:
    sim = InProcessSimulator.with_handler(
        whatsapp_sim_config(), lambda r: httpx.Response(403, text="Forbidden")
    )
    result = sim.control("POST", "/_sim/webhooks/verify", {"challenge": "42"})
    assert result["verified"] is False
    assert result["delivery"]["status"] == 403


# --- server mode -------------------------------------------------------------------------------


@pytest.mark.slow
def test_server_mode_end_to_end_with_the_sdk(omnimsg_sim_config: Any) -> None:
    from omnimsg import Client, Template
    from omnimsg.testing import whatsapp_channel

    config = whatsapp_sim_config(webhook_url=None)
    with ServerThread(config) as url:
        assert httpx.get(f"{url}/_sim/health").json()["status"] == "ok"
        with Client([whatsapp_channel(config, url)]) as client:
            result = client.send(
                Address("whatsapp", ADA), Template("order_update", params=["a", "b", "c"])
            )
        outbox = httpx.get(f"{url}/_sim/outbox").json()["messages"]
        assert [m["message_id"] for m in outbox] == [result.message_id]


def test_transport_errors_are_typed() -> None:
    from omnimsg import Client, WhatsApp

    ch = WhatsApp(phone_number_id="1", access_token="t", base_url="http://127.0.0.1:9")
    with Client([ch], preflight=False) as c:
        with pytest.raises(TransportError) as caught:
            c.send(Address("whatsapp", ADA), Text("x"))
        assert caught.value.retryable


# --- without the sim extra ----------------------------------------------------------------------

_NO_AIOHTTP = """
import sys
sys.modules["aiohttp"] = None  # as if the sim extra were not installed
from omnimsg_sim.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_cli_without_aiohttp_checks_and_explains(tmp_path: Path) -> None:
    config = tmp_path / "sim.toml"
    config.write_text(
        '[[whatsapp]]\nphone_number_id = "1"\nwaba_id = "2"\naccess_token = "t"\napp_secret = "s"\n'
    )

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", _NO_AIOHTTP, *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    checked = run("check", "--config", str(config))
    assert checked.returncode == 0, checked.stderr
    assert "is valid" in checked.stdout
    served = run("serve", "--config", str(config), "--port", "0")
    assert served.returncode == 2
    assert "Traceback" not in served.stderr
    assert "needs aiohttp" in served.stderr and 'pip install -e ".[sim]"' in served.stderr


def test_simulator_without_aiohttp_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import omnimsg_sim

    monkeypatch.setitem(sys.modules, "aiohttp", None)
    monkeypatch.delitem(sys.modules, "omnimsg_sim.app", raising=False)
    monkeypatch.delattr(omnimsg_sim, "app", raising=False)  # as if never imported
    with pytest.raises(ModuleNotFoundError, match="InProcessSimulator works without it"):
        omnimsg_sim.Simulator  # noqa: B018
