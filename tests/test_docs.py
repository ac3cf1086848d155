"""The documentation stays true to the code."""

from __future__ import annotations

import contextlib
import re
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from docsnippets import titled
from omnimsg_sim import InProcessSimulator, parse_config

ROOT = Path(__file__).resolve().parents[1]


def test_openapi_lists_exactly_the_control_endpoints() -> None:
    from omnimsg.testing import DEFAULT_MESSENGER, DEFAULT_WHATSAPP
    from omnimsg_sim import SimCore
    from omnimsg_sim.core import LEGACY_CONTROL

    core = (ROOT / "src" / "omnimsg_sim" / "core.py").read_text()
    served = set(re.findall(r'path == "(/_sim/[a-z/]+)"', core)) | set(LEGACY_CONTROL)
    every_platform = parse_config(
        {"whatsapp": [DEFAULT_WHATSAPP], "messenger": [DEFAULT_MESSENGER]}
    )
    platforms = SimCore(every_platform).platforms
    assert set(platforms) == {"whatsapp", "messenger"}
    served |= {f"/_sim/{p.name}/{op}" for p in platforms.values() for _, op in p.operations}
    documented = set(
        re.findall(
            r"^  (/_sim/[a-z/]+):$", (ROOT / "docs" / "simulator-openapi.yaml").read_text(), re.M
        )
    )
    assert served == documented


def test_simulator_page_names_every_config_field() -> None:
    config = (ROOT / "src" / "omnimsg_sim" / "config.py").read_text()
    page = (ROOT / "docs" / "simulator.md").read_text()
    fields = set(re.findall(r'f\.(?:text|number|integer|flag|choice)\("(\w+)"', config))
    fields |= set(re.findall(r'sf\.(?:text|number|integer|flag|choice)\("(\w+)"', config))
    assert fields
    missing = sorted(f for f in fields if f"{f} =" not in page)
    assert missing == []


def test_readme_has_exactly_two_setup_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Set up on a fresh machine", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```sh\n(.+?)\n```", section, re.S)
    assert commands == [
        'python -m pip install -e ".[sim]" && python examples/whatsapp_support_demo.py',
        'python -m pip install -e ".[test]" && python -m pytest',
    ]
    assert (
        'python -m pip install -e ".[test]" && python -m pytest'
        in (ROOT / ".ci" / "run").read_text()
    )


# --- the OpenAPI description declares what the simulator really answers --------------------

_JSON_TYPES = {
    type(None): "null",
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
}


def _resolve(spec: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        target: Any = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _merged(spec: dict[str, Any], node: Any) -> dict[str, Any]:
    """The schema ``node`` (``$ref`` followed) with its ``allOf`` parts folded in."""
    schema: dict[str, Any] = dict(_resolve(spec, node))
    for part in schema.pop("allOf", []):
        part = _merged(spec, part)
        schema["properties"] = {**part.get("properties", {}), **schema.get("properties", {})}
        schema["required"] = [*part.get("required", []), *schema.get("required", [])]
        for key in ("type", "additionalProperties"):
            if key in part:
                schema.setdefault(key, part[key])
    return schema


def _undeclared(spec: dict[str, Any], value: Any, schema: Any, where: str) -> list[str]:
    """How ``value`` strays from ``schema``: wrong types, missing required fields, and any
    field of an object whose schema lists properties but not that one (our rule for this
    document: every field the simulator answers is declared)."""
    schema = _merged(spec, schema)
    for key in ("oneOf", "anyOf"):
        if key in schema:
            branches = [_undeclared(spec, value, s, where) for s in schema[key]]
            if all(branches):
                return [f"{where}: matches no {key} branch: {branches}"]
    if "const" in schema and value != schema["const"]:
        return [f"{where}: expected {schema['const']!r}, got {value!r}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{where}: {value!r} is not one of {schema['enum']}"]
    kinds = schema.get("type")
    if kinds is not None:
        kinds = [kinds] if isinstance(kinds, str) else kinds
        kind = _JSON_TYPES[type(value)]
        if kind not in kinds and not (kind == "integer" and "number" in kinds):
            return [f"{where}: {value!r} is a JSON {kind}, the schema says {kinds}"]
    problems = []
    if isinstance(value, dict):
        declared = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        problems += [
            f"{where}: missing {k!r}" for k in schema.get("required", []) if k not in value
        ]
        for key, item in value.items():
            if key in declared:
                problems += _undeclared(spec, item, declared[key], f"{where}.{key}")
            elif isinstance(extra, dict):
                problems += _undeclared(spec, item, extra, f"{where}.{key}")
            elif declared and extra is not True:
                problems.append(f"{where}: {key!r} is not declared")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            problems += _undeclared(spec, item, schema["items"], f"{where}[{i}]")
    return problems


def test_openapi_schemas_declare_every_field_the_simulator_answers() -> None:
    """Every documented response of every /_sim operation is exercised once, on the docs'
    sim.toml, and its real JSON matches the YAML's schema; each carries X-Omnimsg-Sim-Time."""
    import yaml  # the test extra brings PyYAML

    spec = yaml.safe_load((ROOT / "docs" / "simulator-openapi.yaml").read_text())
    raw_config = tomllib.loads(titled(ROOT / "docs" / "quickstart.md", "sim.toml"))
    seen: set[tuple[str, str, int]] = set()

    def exercise(raw: dict[str, Any], stack: contextlib.ExitStack) -> Any:
        sim = InProcessSimulator(parse_config(raw))
        stack.callback(sim.close)
        http = stack.enter_context(httpx.Client(transport=sim.transport(), base_url=sim.base_url))

        def call(method: str, target: str, body: Any = None, status: int = 200) -> Any:
            answer = http.request(method, target, json=body)
            path = urlsplit(target).path
            assert answer.status_code == status, (method, target, answer.text)
            documented = spec["paths"][path][method.lower()]["responses"]
            assert str(status) in documented, f"{method} {path}: {status} is not documented"
            response = _resolve(spec, documented[str(status)])
            assert "X-Omnimsg-Sim-Time" in response.get("headers", {}), (method, path, status)
            assert float(answer.headers["x-omnimsg-sim-time"]) == sim.now()
            schema = response["content"]["application/json"]["schema"]
            assert _undeclared(spec, answer.json(), schema, f"{method} {target}") == []
            seen.add((path, method.lower(), status))
            return answer.json()

        def send(text: str) -> None:
            http.post(
                "/v23.0/106540352242922/messages",
                headers={"Authorization": "Bearer sim-token"},
                json={"messaging_product": "whatsapp", "to": "15551230001", "type": "text"}
                | {"text": {"body": text}},
            ).raise_for_status()

        def messenger(path: str, body: Any) -> Any:
            answer = http.post(f"/v25.0/{path}", params={"access_token": page_token}, json=body)
            assert answer.status_code == 200, answer.text
            return answer.json()

        return call, send, messenger

    from omnimsg.testing import DEFAULT_MESSENGER

    page_token = DEFAULT_MESSENGER["page_access_token"]
    with contextlib.ExitStack() as stack:
        call, send, _ = exercise(raw_config, stack)
        call("GET", "/_sim/health")
        call("POST", "/_sim/webhooks/target", {"url": "/_sim/sink"})
        call("POST", "/_sim/webhooks/target", {"url": "ftp://nowhere"}, 400)
        call("GET", "/_sim/clock")
        call("POST", "/_sim/inbound", {"user": "15551230001", "text": "Where is my order?"})
        call("POST", "/_sim/inbound", {"text": "no user"}, 400)
        send("Thanks!")
        assert "raw" in call("GET", "/_sim/outbox")["messages"][0]  # included by default
        assert "raw" not in call("GET", "/_sim/outbox?raw=false&user=15551230001")["messages"][0]
        call("POST", "/_sim/clock/advance", {"seconds": 90000})
        call("POST", "/_sim/clock/advance", {"seconds": -1}, 400)
        send("Any news?")  # outside the window: accepted, then `failed` (131047)
        assert call("GET", "/_sim/outbox")["messages"][-1]["status"] == "failed"
        call("POST", "/_sim/deliver")
        call("POST", "/_sim/webhooks/verify", {})
        call("POST", "/_sim/webhooks/verify", {"account": "nope"}, 400)
        call("GET", "/_sim/webhooks")
        call("GET", "/_sim/sink")
        for templates in ("/_sim/whatsapp/templates", "/_sim/templates"):  # the old path too
            call("GET", templates)
            review = f"{templates}/status"
            call("POST", review, {"name": "order_update", "status": "PAUSED"})
            call("POST", review, {"name": "nope", "status": "PAUSED"}, 404)
            call("POST", review, {"name": 1}, 400)
        call("POST", "/_sim/faults", {"operation": "whatsapp.send", "status": 500}, 201)
        call("POST", "/_sim/faults", {"bogus": True}, 400)
        call("GET", "/_sim/faults")
        call("DELETE", "/_sim/faults")
        call("GET", "/_sim/state")
        call("DELETE", "/_sim/outbox")
        call("DELETE", "/_sim/sink")
        call("POST", "/_sim/reset")
    # An account without webhook_url: nothing is delivered, and the answers say so.
    del raw_config["whatsapp"][0]["webhook_url"]
    with contextlib.ExitStack() as stack:
        call, _, _ = exercise(raw_config, stack)
        assert call("POST", "/_sim/inbound", {"user": "15551230001", "text": "Hi"})["note"]
        status = {"name": "order_update", "status": "REJECTED"}
        assert call("POST", "/_sim/whatsapp/templates/status", status)["delivery"] is None

    # Messenger beside WhatsApp: its inbound shapes, its webhook kinds, its own control plane.
    raw_config["messenger"] = [{**DEFAULT_MESSENGER, "webhook_url": "/_sim/sink"}]
    ada = DEFAULT_MESSENGER["customers"][0]["psid"]
    with contextlib.ExitStack() as stack:
        call, _, messenger = exercise(raw_config, stack)
        call("POST", "/_sim/inbound", {"platform": "messenger", "user": ada, "text": "Hi"})
        call(
            "POST",
            "/_sim/inbound",
            {"platform": "messenger", "user": ada, "comment": {"message": "?"}},
        )
        call("POST", "/_sim/inbound", {"platform": "messenger", "user": ada, "read": True})
        call("POST", "/_sim/inbound", {"platform": "messenger", "user": ada, "postback": {}}, 400)
        messenger("me/messages", {"recipient": {"id": ada}, "message": {"text": "Hello"}})
        messenger("me/messages", {"recipient": {"id": ada}, "sender_action": "typing_on"})
        messenger("me/messenger_profile", {"get_started": {"payload": "START"}})
        call("POST", "/_sim/clock/advance", {"seconds": 5})
        call("GET", "/_sim/outbox")
        call("GET", "/_sim/webhooks")
        call("GET", "/_sim/sink")
        call("GET", "/_sim/health")
        call("GET", "/_sim/messenger/threads")
        call("POST", "/_sim/messenger/handover", {"user": ada, "action": "take"})
        call("POST", "/_sim/messenger/handover", {"user": ada, "action": "pass"})
        call("POST", "/_sim/messenger/handover", {"user": ada, "action": "fly"}, 400)
        call(
            "POST",
            "/_sim/inbound",
            {"platform": "messenger", "user": ada, "reaction": {"mid": "m_1"}},
        )
        call("GET", "/_sim/state")
        call("POST", "/_sim/webhooks/verify", {"platform": "messenger"})
        call("POST", "/_sim/webhooks/target", {"platform": "messenger", "url": "/_sim/sink"})

    documented = {
        (path, method, int(status))
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        for status in operation["responses"]
    }
    assert documented - seen == set(), "documented but not exercised here"
