"""Shared fixtures. The simulator fixtures (omnimsg_sim, omnimsg_sim_server) come from the
package's own pytest plugin, exactly as users get them."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


pytest_plugins = ["pytester"]  # runs the test files the docs show (test_docs_testing.py)
