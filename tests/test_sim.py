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


# --- templates list: summary, filters, symmetric cursors (spec §6.1) ---------------------------

WABA = DEFAULT_WHATSAPP["waba_id"]
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def list_templates(http: httpx.Client, **params: Any) -> dict[str, Any]:
    r = http.get(f"/v21.0/{WABA}/message_templates", params=params, headers=AUTH)
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_template_list_summary_answers_the_fields_asked_for() -> None:
    _, http = raw_sim()
    assert "summary" not in list_templates(http)
    assert list_templates(http, summary="true")["summary"] == {"total_count": 3}
    summary = list_templates(
        http,
        status="APPROVED",
        summary="total_count,message_template_count,message_template_limit,are_translations_complete",
    )["summary"]
    assert summary == {
        "total_count": 2,
        "message_template_count": 3,
        "message_template_limit": 250,
        "are_translations_complete": True,
    }


def test_template_list_filters_by_category_language_status_lists() -> None:
    _, http = raw_sim()

    def names(**params: Any) -> list[str]:
        return sorted(t["name"] for t in list_templates(http, **params)["data"])

    assert names(category="MARKETING") == ["spring_sale"]
    assert names(category="MARKETING,UTILITY") == ["follow_up", "order_update", "spring_sale"]
    assert names(language="es") == []
    assert names(language="es,en_US") == ["follow_up", "order_update", "spring_sale"]
    assert names(status="PENDING,APPROVED", category="UTILITY") == ["follow_up", "order_update"]


def test_template_cursors_are_symmetric() -> None:
    _, http = raw_sim()
    every = [t["id"] for t in list_templates(http)["data"]]
    first = list_templates(http, limit=1)
    assert [t["id"] for t in first["data"]] == every[:1]
    assert "previous" not in first["paging"]
    second = list_templates(http, limit=1, after=first["paging"]["cursors"]["after"])
    assert [t["id"] for t in second["data"]] == every[1:2]
    third = list_templates(http, limit=1, after=second["paging"]["cursors"]["after"])
    assert [t["id"] for t in third["data"]] == every[2:]
    assert "next" not in third["paging"] and "previous" in third["paging"]
    back = list_templates(http, limit=1, before=third["paging"]["cursors"]["before"])
    assert back["data"] == second["data"]
    assert back["paging"]["cursors"] == second["paging"]["cursors"]
    two_back = list_templates(http, limit=2, before=third["paging"]["cursors"]["before"])
    assert [t["id"] for t in two_back["data"]] == every[:2]
    # Following the links gives the same pages, with the request's own base URL.
    nxt = first["paging"]["next"]
    assert nxt.startswith(f"{InProcessSimulator.base_url}/v21.0/{WABA}/message_templates?")
    assert http.get(nxt, headers=AUTH).json()["data"] == second["data"]
    prev = third["paging"]["previous"]
    assert prev.startswith(f"{InProcessSimulator.base_url}/v21.0/{WABA}/message_templates?")
    assert http.get(prev, headers=AUTH).json()["data"] == second["data"]


def test_template_list_refuses_a_bad_cursor_or_limit() -> None:
    _, http = raw_sim()
    for params in ({"after": "not-a-cursor"}, {"before": "%%%"}, {"limit": "ten"}):
        r = http.get(f"/v21.0/{WABA}/message_templates", params=params, headers=AUTH)
        assert r.status_code == 400, params
        assert r.json()["error"]["code"] == 100


def test_seeded_templates_carry_examples_for_their_parameters() -> None:
    # §6.3: a parameter needs example values; Graph answers them with the template.
    _, http = raw_sim()
    by_name = {t["name"]: t for t in list_templates(http)["data"]}
    (body,) = by_name["order_update"]["components"]
    assert body["text"] == "Hi {{1}}, your order {{2}} is {{3}}."
    assert len(body["example"]["body_text"][0]) == 3
    (named,) = by_name["follow_up"]["components"]
    assert [p["param_name"] for p in named["example"]["body_text_named_params"]] == ["customer"]


# --- recipients are normalised as WhatsApp does (spec §4.1, §4.3) -----------------------------


@pytest.mark.parametrize("to", ["+15551230001", "+1 555-123-0001", "+1 (555) 123 0001"])
def test_a_formatted_number_is_the_same_customer(omnimsg_sim: SimHarness, to: str) -> None:
    h = omnimsg_sim
    h.customer_says(ADA, "hi")
    with httpx.Client(transport=h.sim.transport(), base_url=h.sim.base_url) as http:
        r = http.post(
            f"/v21.0/{PNID}/messages",
            headers=AUTH,
            json={
                "messaging_product": "whatsapp",
                "to": to,
                "type": "text",
                "text": {"body": "yo"},
            },
        ).json()
    assert r["contacts"] == [{"input": to, "wa_id": ADA}]
    assert [m["user"] for m in h.outbox()] == [ADA]
    assert h.outbox()[0]["status"] == "sent"  # the open window: no 131047
    customers = h.control("GET", "/_sim/state")["whatsapp"][PNID]["customers"]
    assert [c["wa_id"] for c in customers] == [ADA, "15551230002"]


def test_inbound_from_a_formatted_number_is_the_same_customer(omnimsg_sim: SimHarness) -> None:
    h = omnimsg_sim
    result = h.control("POST", "/_sim/inbound", {"user": "+1 555-123-0001", "text": "hi"})
    assert result["message"]["from"] == ADA
    customers = h.control("GET", "/_sim/state")["whatsapp"][PNID]["customers"]
    assert [c["wa_id"] for c in customers] == [ADA, "15551230002"]


# --- inbound message objects are checked against their type (spec §2, DESIGN §4) ---------------


def snapshot(sim: InProcessSimulator) -> tuple[Any, ...]:
    """Everything a refused request must leave as it was."""
    return (
        sim.control("GET", "/_sim/state"),
        sim.control("GET", "/_sim/outbox"),
        sim.control("GET", "/_sim/webhooks"),
        sim.control("GET", "/_sim/sink"),
        sorted(sim.core.whatsapp.media),
        sim.control("GET", "/_sim/clock"),
    )


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"message": {"type": "text", "text": "hello"}}, "message.text: expected an object"),
        ({"message": {"type": "text"}}, "message.text: missing"),
        ({"message": {"type": "text", "text": {}}}, "message.text.body: missing"),
        (
            {"message": {"type": "text", "text": {"body": 5}}},
            "message.text.body: expected a string",
        ),
        ({"message": {"type": "image", "image": {}}}, "message.image: give id or data_base64"),
        (
            {"message": {"type": "image", "image": {"data_base64": "%%%"}}},
            "message.image.data_base64: not valid base64",
        ),
        (
            {"message": {"type": "image", "image": {"id": "123"}}},
            "message.image.sha256: missing (the id is not of media the simulator stores; "
            "give data_base64 instead)",
        ),
        (
            {"message": {"type": "audio", "audio": {"data_base64": "AA==", "voice": "yes"}}},
            "message.audio.voice: expected true or false",
        ),
        ({"message": {"type": "location", "location": {}}}, "message.location.latitude: missing"),
        (
            {"message": {"type": "location", "location": {"latitude": 95, "longitude": 0}}},
            "message.location.latitude: must be between -90 and 90",
        ),
        ({"message": {"type": "interactive"}}, "message.interactive: missing"),
        (
            {"message": {"type": "interactive", "interactive": {"type": "button_reply"}}},
            "message.interactive.button_reply: missing",
        ),
        (
            {
                "message": {
                    "type": "interactive",
                    "interactive": {"type": "list_reply", "list_reply": {"id": "x"}},
                }
            },
            "message.interactive.list_reply.title: missing",
        ),
        ({"button_reply": {"title": "Track"}}, "button_reply.id: missing"),
        ({"list_reply": {"id": 1, "title": "x"}}, "list_reply.id: expected a string"),
        (
            {"message": {"type": "reaction", "reaction": "👍"}},
            "message.reaction: expected an object",
        ),
        (
            {"message": {"type": "reaction", "reaction": {"emoji": "👍"}}},
            "message.reaction.message_id: missing",
        ),
        ({"message": {"type": "contacts", "contacts": []}}, "message.contacts: must not be empty"),
        (
            {"message": {"type": "contacts", "contacts": [{"name": {}}]}},
            "message.contacts[0].name.formatted_name: missing",
        ),
        (
            {"message": {"type": "button", "button": {"text": "Yes"}}},
            "message.button.payload: missing",
        ),
        (
            {"message": {"type": "order", "order": {"catalog_id": "c"}}},
            "message.order.product_items: missing",
        ),
        ({"message": {"type": "system", "system": {}}}, "message.system.type: missing"),
        ({"message": {"type": "unsupported", "errors": []}}, "message.errors: must not be empty"),
        ({"message": {"type": 7}}, "message.type: expected a string"),
        (
            {"message": {"type": "text", "text": {"body": "x"}, "context": "x"}},
            "message.context: expected an object",
        ),
        ({"text": "hi", "context": {"id": 5}}, "context.id: expected a string"),
        (
            {"message": {"type": "text", "text": {"body": "x"}, "timestamp": 5}},
            "message.timestamp: expected a string",
        ),
    ],
)
def test_inbound_refuses_a_known_type_with_a_wrong_shape(spec: dict[str, Any], field: str) -> None:
    seen: list[bytes] = []
    sim = InProcessSimulator.with_handler(
        whatsapp_sim_config(), lambda r: seen.append(r.read()) or httpx.Response(200)
    )
    before = snapshot(sim)

    r = sim.handle(sim._request("POST", "/_sim/inbound", {"user": "15559990000", **spec}))

    assert r.status == 400
    assert json.loads(r.body)["error"]["message"] == field
    assert snapshot(sim) == before  # no customer, no window, no media, nothing logged
    assert seen == []  # and no webhook


def test_inbound_passes_unknown_types_through() -> None:
    sim = InProcessSimulator.with_handler(whatsapp_sim_config(), lambda r: httpx.Response(200))
    message = {"type": "hologram", "hologram": "anything goes", "extra": [1, {"a": None}]}
    result = sim.control("POST", "/_sim/inbound", {"user": ADA, "message": message})
    assert result["delivery"]["ok"]
    assert result["message"]["hologram"] == "anything goes"
    unknown_kind = {"type": "interactive", "interactive": {"type": "carousel_reply", "x": 1}}
    assert sim.control("POST", "/_sim/inbound", {"user": ADA, "message": unknown_kind})["delivery"]


def test_inbound_media_by_id_takes_the_stored_media() -> None:
    sim = InProcessSimulator.with_handler(whatsapp_sim_config(), lambda r: httpx.Response(200))
    first = sim.control(
        "POST",
        "/_sim/inbound",
        {"user": ADA, "message": {"type": "image", "image": {"data_base64": "iVBORw=="}}},
    )
    media_id = first["message"]["image"]["id"]
    again = sim.control(
        "POST",
        "/_sim/inbound",
        {"user": ADA, "message": {"type": "image", "image": {"id": media_id}}},
    )
    assert again["message"]["image"] == first["message"]["image"]


# --- interactive replies carry their context (spec §2) ----------------------------------------


def test_button_replies_quote_the_last_interactive_message(omnimsg_sim: SimHarness) -> None:
    from omnimsg import Button, Buttons, Postback

    h = omnimsg_sim
    display = DEFAULT_WHATSAPP["display_phone_number"]
    h.customer_says(ADA, "hi")
    no_menu = h.control(
        "POST", "/_sim/inbound", {"user": ADA, "button_reply": {"id": "a", "title": "A"}}
    )
    generated = no_menu["message"]["context"]
    assert generated["from"] == display and generated["id"].startswith("wamid.")
    sent = h.client.send(Address("whatsapp", ADA), Buttons("Pick", [Button("t", "Track")]))
    h.client.send(Address("whatsapp", ADA), Text("not interactive"))
    tap = h.customer_says(ADA, button_reply={"id": "t", "title": "Track"})
    assert isinstance(tap, Postback)
    result = h.control(
        "POST", "/_sim/inbound", {"user": ADA, "list_reply": {"id": "t", "title": "T"}}
    )
    assert result["message"]["context"] == {"from": display, "id": sent.message_id}
    given = h.control(
        "POST",
        "/_sim/inbound",
        {"user": ADA, "button_reply": {"id": "t", "title": "T"}, "context": {"id": "wamid.Q"}},
    )
    assert given["message"]["context"] == {"from": display, "id": "wamid.Q"}


# --- Graph-level errors, as Graph words them (spec §0, §5.2) ----------------------------------


def test_graph_level_errors_are_worded_as_graph_words_them() -> None:
    _, http = raw_sim()
    body = {"messaging_product": "whatsapp", "to": ADA, "type": "text", "text": {"body": "x"}}
    wrong = http.post(f"/v21.0/{PNID}/messages", headers={"Authorization": "Bearer no"}, json=body)
    assert (
        wrong.json()["error"]["message"] == "Invalid OAuth access token - Cannot parse access token"
    )
    missing = http.post(f"/v21.0/{PNID}/messages", json=body).json()["error"]
    assert missing["message"] == (
        "An active access token must be used to query information about the current user."
    )
    assert missing["type"] == "OAuthException"
    unknown = http.get("/v21.0/999999/messages", headers=AUTH).json()["error"]
    assert unknown["message"] == (
        "Unsupported get request. Object with ID '999999' does not exist, cannot be loaded due "
        "to missing permissions, or does not support this operation. Please read the Graph API "
        "documentation at https://developers.facebook.com/docs/graph-api"
    )
    assert (unknown["code"], unknown["error_subcode"], unknown["type"]) == (
        100,
        33,
        "GraphMethodException",
    )
    edge = http.delete(f"/v21.0/{PNID}", headers=AUTH).json()["error"]
    assert edge["message"].startswith(f"Unsupported delete request. Object with ID '{PNID}'")
    # WhatsApp's own codes keep their (#code) prefix.
    bad = http.post(f"/v21.0/{PNID}/messages", headers=AUTH, json={"messaging_product": "x"})
    assert bad.json()["error"]["message"].startswith("(#100) ")


# --- media URLs: the lookaside form, on the simulator's own host (spec §7.3) -------------------


def test_media_urls_have_the_lookaside_form_on_the_requests_host(omnimsg_sim: SimHarness) -> None:
    h = omnimsg_sim
    media_id = h.client.whatsapp.upload_media(b"%PDF", mime_type="application/pdf")
    url = h.client.whatsapp.media_info(media_id).url
    assert url is not None
    assert url.startswith(f"{h.sim.base_url}/whatsapp_business/attachments/?mid={media_id}&ext=")
    assert "&hash=" in url
    assert h.client.whatsapp.download_media(media_id) == b"%PDF"  # the SDK GETs that URL


@pytest.mark.slow
def test_media_download_over_http_stays_on_the_simulator() -> None:
    from omnimsg import Client
    from omnimsg.testing import whatsapp_channel

    config = whatsapp_sim_config(webhook_url=None)
    with ServerThread(config) as url:
        with Client([whatsapp_channel(config, url)]) as client:
            media_id = client.whatsapp.upload_media(b"OggS", mime_type="audio/ogg")
            info = client.whatsapp.media_info(media_id)
            assert info.url is not None
            assert info.url.startswith(f"{url}/whatsapp_business/attachments/?mid={media_id}")
            assert client.whatsapp.download_media(media_id) == b"OggS"
        # Behind a TLS proxy, the links keep the scheme and host the client used.
        proxied = httpx.get(
            f"{url}/v21.0/{media_id}",
            headers={**AUTH, "X-Forwarded-Proto": "https", "X-Forwarded-Host": "sim.example:8443"},
        ).json()
        assert proxied["url"].startswith("https://sim.example:8443/whatsapp_business/attachments/")
        page = httpx.get(
            f"{url}/v21.0/{WABA}/message_templates?limit=1",
            headers={**AUTH, "X-Forwarded-Proto": "https", "X-Forwarded-Host": "sim.example"},
        ).json()
        assert page["paging"]["next"].startswith(
            f"https://sim.example/v21.0/{WABA}/message_templates?limit=1&after="
        )
        direct = httpx.get(f"{url}/v21.0/{WABA}/message_templates?limit=1", headers=AUTH).json()
        assert direct["paging"]["next"].startswith(f"{url}/v21.0/{WABA}/message_templates?")


def test_an_inbound_message_with_an_integer_beyond_64_bits_is_delivered_whole() -> None:
    """The fast encoder refuses such integers; the body then goes out through the stdlib."""
    from omnimsg.testing import whatsapp_sim_config
    from omnimsg_sim import InProcessSimulator

    sim = InProcessSimulator(whatsapp_sim_config(webhook_url="/_sim/sink"))
    big = 10**31
    message = {"type": "text", "text": {"body": "hi", "n": big}}
    answer = sim.control("POST", "/_sim/inbound", {"user": "15551230001", "message": message})
    assert answer["delivery"]["status"] == 200
    (request,) = sim.control("GET", "/_sim/sink")["requests"]
    assert f'"n":{big}' in request["body"]
    sim.close()
