"""The documentation stays true to the code."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_openapi_lists_exactly_the_control_endpoints() -> None:
    core = (ROOT / "src" / "omnimsg_sim" / "core.py").read_text()
    served = set(re.findall(r'path == "(/_sim/[a-z/]+)"', core))
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
