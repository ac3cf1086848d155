"""pytest fixtures for testing apps against the simulator (installed as the ``omnimsg_sim`` plugin).

* ``omnimsg_sim_config`` - the config (override this fixture to change accounts).
* ``omnimsg_sim`` - a :class:`omnimsg.testing.SimHarness`: sync client + in-process simulator.
* ``omnimsg_sim_server`` - the real server on 127.0.0.1 and a free port; yields its URL.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from omnimsg.testing import SimHarness

    from .config import SimConfig


@pytest.fixture
def omnimsg_sim_config() -> SimConfig:
    """The simulator config used by the other fixtures (one WhatsApp account)."""
    from omnimsg.testing import whatsapp_sim_config

    return whatsapp_sim_config()


@pytest.fixture
def omnimsg_sim(omnimsg_sim_config: SimConfig) -> Iterator[SimHarness]:
    """A sync omnimsg client wired to an in-process simulator; webhooks flow back to it."""
    from omnimsg.testing import SimHarness

    with SimHarness(omnimsg_sim_config) as harness:
        yield harness


@pytest.fixture
def omnimsg_sim_server(omnimsg_sim_config: SimConfig) -> Iterator[str]:
    """The simulator server on 127.0.0.1 (free port); yields its base URL."""
    from omnimsg.testing import ServerThread

    with ServerThread(omnimsg_sim_config) as url:
        yield url
