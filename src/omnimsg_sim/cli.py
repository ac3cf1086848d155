"""``omnimsg-sim serve --config sim.toml [--host 127.0.0.1] [--port 8080]``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from omnimsg.exceptions import ConfigurationError

from .config import load_config

if TYPE_CHECKING:
    from .app import Simulator

__all__ = ["DEFAULT_PORT", "main"]

DEFAULT_PORT = 8080
"""Where ``omnimsg-sim serve`` listens without ``--port`` (the docs' simulator)."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="omnimsg-sim", description="Local simulator of WhatsApp, LINE, Messenger and WeChat."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the simulated platforms on one port")
    serve.add_argument("--config", required=True, help="the TOML config file")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port (0 picks a free one; default {DEFAULT_PORT})",
    )
    check = sub.add_parser("check", help="check a config file and exit")
    check.add_argument("--config", required=True)
    return parser


async def _serve(sim: Simulator) -> None:
    url = await sim.start()
    # The first line is a contract: CI scripts read the URL from it.
    print(f"omnimsg-sim listening on {url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # Windows has no signal handlers
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await sim.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``omnimsg-sim`` command."""
    args = _parser().parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigurationError as exc:
        print(f"omnimsg-sim: {exc}", file=sys.stderr)
        return 2
    if args.command == "check":
        print(f"omnimsg-sim: {args.config} is valid ({config.describe()})")
        return 0
    try:
        # The server needs aiohttp (the `sim` extra); `check` and the in-process mode do not.
        from .app import Simulator
    except ModuleNotFoundError as exc:
        if exc.name != "aiohttp":
            raise
        print(
            "omnimsg-sim: the simulator server needs aiohttp, which is not installed.\n"
            '  install the sim extra, in your omnimsg checkout: python -m pip install -e ".[sim]"',
            file=sys.stderr,
        )
        return 2
    try:
        asyncio.run(_serve(Simulator(config, host=args.host, port=args.port)))
    except OSError as exc:
        print(f"omnimsg-sim: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    return 0
