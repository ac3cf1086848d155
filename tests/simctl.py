"""The simulator driven from its tests, written once.

* :class:`Harness`: one platform's account on the in-process simulator over raw HTTP
  (``test_sim_line.py``, ``test_sim_messenger.py``): the simulator, a client on its
  transport and the control plane; each test file's ``Sim`` adds its platform's requests,
  webhooks and state.
* :func:`run`: a route's flow driven to its answer, for the tests that call one platform
  module as ``sim.py`` does (``test_sim_line_oauth.py``, ``test_sim_line_richmenu.py``,
  ``test_sim_wechat_tokens.py``, ``test_sim_wechat_tags.py``, ``test_sim_wechat_qr_menu.py``).
"""

from __future__ import annotations

from typing import Any

import httpx

from omnimsg_sim import InProcessSimulator, SimConfig
from omnimsg_sim.effects import SimFlow, SimResponse


def run(flow: SimFlow[SimResponse] | None) -> SimResponse:
    """Drive a flow that needs no effect to its answer."""
    assert flow is not None
    try:
        effect = next(flow)
    except StopIteration as stop:
        answer: SimResponse = stop.value
        return answer
    raise AssertionError(f"unexpected effect {effect!r}")


class Harness:
    """An in-process simulator of ``config`` (its webhooks through ``app`` when one is given)
    and raw HTTP to it; ``act`` is a customer of ``platform`` acting, ``user`` unless told."""

    def __init__(
        self, platform: str, user: str, config: SimConfig, app: httpx.BaseTransport | None = None
    ) -> None:
        self.platform = platform
        self.user = user
        self.config = config
        self.sim = InProcessSimulator(config, webhook_transport=app)
        self.http = httpx.Client(transport=self.sim.transport(), base_url=self.sim.base_url)

    def control(self, method: str, path: str, body: Any = None) -> Any:
        return self.sim.control(method, path, body)

    def act(self, user: str | None = None, **action: Any) -> Any:
        """A customer acts (``text="hi"`` by default); the answer of ``/_sim/inbound``."""
        spec = {
            "platform": self.platform,
            "user": self.user if user is None else user,
            **(action or {"text": "hi"}),
        }
        answer = self.control("POST", "/_sim/inbound", spec)
        assert "error" not in answer, answer
        return answer

    def advance(self, seconds: float) -> list[dict[str, Any]]:
        """The virtual clock moves on ``seconds``; the webhooks delivered meanwhile."""
        return list(self.control("POST", "/_sim/clock/advance", {"seconds": seconds})["delivered"])

    def close(self) -> None:
        self.http.close()
        self.sim.close()
