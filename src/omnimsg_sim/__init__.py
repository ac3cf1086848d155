"""omnimsg-sim: a local simulator of WhatsApp and Messenger (and soon LINE and WeChat).

* Server: ``omnimsg-sim serve --config sim.toml`` or :class:`Simulator` (async, port 0).
* In process: :class:`InProcessSimulator` (an httpx transport, no socket).
* pytest: the ``omnimsg_sim`` plugin's fixtures (see ``docs/simulator.md``).
"""

from .config import SimConfig, load_config, parse_config
from .core import SimCore
from .transport import InProcessSimulator

__all__ = [
    "InProcessSimulator",
    "SimConfig",
    "SimCore",
    "Simulator",
    "create_app",
    "load_config",
    "parse_config",
]


def __getattr__(name: str) -> object:
    # The server needs aiohttp (the `sim` extra); the in-process mode does not.
    if name in ("Simulator", "create_app"):
        try:
            from . import app
        except ModuleNotFoundError as exc:
            if exc.name != "aiohttp":
                raise
            raise ModuleNotFoundError(
                f"omnimsg_sim.{name} needs aiohttp: install the sim extra "
                '(in your omnimsg checkout: python -m pip install -e ".[sim]"); '
                "InProcessSimulator works without it",
                name="aiohttp",
            ) from None
        return getattr(app, name)
    raise AttributeError(name)
