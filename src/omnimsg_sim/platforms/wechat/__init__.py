"""The simulated WeChat Official Account API (spec/wechat.md), split as the LINE one is.

* :mod:`.state`: the accounts, their followers, windows, media and replies (plain data);
* :mod:`.sim`: the routes at the real ``/cgi-bin/...`` paths, webhooks, passive replies;
* :mod:`.wire`: customer-service bodies checked as WeChat checks them, and the XML;
* :mod:`.errors`: WeChat's errcodes, as data;
* :mod:`.inbound`: what a user may do through ``/_sim/inbound``, checked;
* :mod:`.tokens`, :mod:`.tags`, :mod:`.qrcode`, :mod:`.menu`, :mod:`.users`: access
  tokens, user tags, parametric QR codes, the custom menu and user info.
"""

from __future__ import annotations

from ..adapter import SimAdapter
from .sim import WeChatSim

__all__ = ["ADAPTER", "WeChatSim"]

ADAPTER = SimAdapter(
    "wechat",
    lambda config, world, faults: WeChatSim(config.wechat, world, faults),
    serves=lambda config: bool(config.wechat),
)
"""WeChat's entry in :data:`omnimsg_sim.platforms.BUILTIN`."""
