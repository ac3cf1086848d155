"""Public test helpers: a fake clock, a ready simulator config, and harnesses that wire an
omnimsg client to the in-process simulator (no socket) with webhooks flowing back.

::

    from omnimsg.testing import SimHarness

    with SimHarness() as h:
        event = h.customer_says("15550001111", "where is my order?")
        h.client.send(event.sender, Text("On its way!"))
        h.advance(hours=25)
        h.client.window(event.sender).open    # False

The same helpers back the ``omnimsg_sim`` pytest plugin's fixtures.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import attrs
import httpx

from .async_client import AsyncClient
from .client import Client
from .clock import Clock, FakeClock, SystemClock, to_datetime
from .exceptions import TransportError
from .models.events import Event
from .platforms.whatsapp import WhatsApp
from .rules.whatsapp import latest

if TYPE_CHECKING:
    from omnimsg_sim import InProcessSimulator, SimConfig

    from .platforms import Channel
    from .rules.line import LinePolicy
    from .rules.wechat import WeChatPolicy

__all__ = [
    "DEFAULT_LINE",
    "DEFAULT_MESSENGER",
    "DEFAULT_WECHAT",
    "DEFAULT_WHATSAPP",
    "AsyncSimHarness",
    "FakeClock",
    "ServerThread",
    "SimHarness",
    "SimulatorClock",
    "line_channel",
    "line_policy",
    "line_sim_config",
    "messenger_channel",
    "messenger_sim_config",
    "wechat_channel",
    "wechat_policy",
    "wechat_sim_config",
    "whatsapp_channel",
    "whatsapp_sim_config",
]

DEFAULT_WHATSAPP: dict[str, Any] = {
    "phone_number_id": "106540352242922",
    "waba_id": "102290129340398",
    "access_token": "sim-whatsapp-token",
    "app_secret": "sim-whatsapp-app-secret",
    "verify_token": "sim-verify-token",
    "webhook_url": "http://app.test/webhooks/whatsapp",
    "display_phone_number": "15550783881",
    "customers": [
        {"wa_id": "15551230001", "name": "Ada Lovelace"},
        {"wa_id": "15551230002", "name": "Alan Turing", "user_id": "US.13491208655302741918"},
    ],
    "templates": [
        {
            "name": "order_update",
            "category": "UTILITY",
            "body": "Hi {{1}}, your order {{2}} is {{3}}.",
        },
        {
            "name": "follow_up",
            "category": "UTILITY",
            "parameter_format": "NAMED",
            "body": "Hello {{customer}}, can we help with anything else?",
        },
        {
            "name": "spring_sale",
            "category": "MARKETING",
            "status": "PENDING",
            "body": "20% off until {{1}}!",
        },
    ],
}
"""The default simulated WhatsApp account (fake credentials, never real ones)."""


def whatsapp_sim_config(**overrides: Any) -> SimConfig:
    """A simulator config with one WhatsApp account; ``overrides`` replace account fields.

    The ``sim`` table can be overridden with ``sim={...}``; the clock starts frozen at
    2026-03-02T09:00:00Z so tests are deterministic.
    """
    from omnimsg_sim import parse_config

    sim = {"seed": 1, "start": "2026-03-02T09:00:00Z", **overrides.pop("sim", {})}
    return parse_config(
        {"sim": sim, "whatsapp": [{**DEFAULT_WHATSAPP, **overrides}]}, source="test config"
    )


def whatsapp_channel(config: SimConfig, base_url: str, index: int = 0) -> WhatsApp:
    """The omnimsg channel matching simulated WhatsApp account ``index``."""
    a = config.whatsapp[index]
    # The messaging tier is the business's own (spec §7.1): the SDK learns it from its config.
    policy = attrs.evolve(latest(), tier_limit=a.tier_limit)
    return WhatsApp(
        phone_number_id=a.phone_number_id,
        access_token=a.access_token,
        app_secret=a.app_secret,
        verify_token=a.verify_token or None,
        waba_id=a.waba_id,
        base_url=base_url,
        policy=policy,
    )


DEFAULT_MESSENGER: dict[str, Any] = {
    "page_id": "102938475610293",
    "page_name": "omnimsg Support",
    "page_access_token": "sim-messenger-page-token",
    "app_secret": "sim-messenger-app-secret",
    "verify_token": "sim-verify-token",
    "app_id": "909090909090909",
    "webhook_url": "http://app.test/webhooks/messenger",
    "customers": [
        {"psid": "6254798417866420", "first_name": "Ada", "last_name": "Lovelace"},
        {"psid": "7192838475610293", "first_name": "Alan", "last_name": "Turing"},
    ],
}
"""The default simulated Facebook Page (fake credentials, never real ones)."""


def messenger_sim_config(**overrides: Any) -> SimConfig:
    """A simulator config with one Messenger Page; ``overrides`` replace account fields.

    As :func:`whatsapp_sim_config`: ``sim={...}`` overrides the ``sim`` table, and the clock
    starts frozen at 2026-03-02T09:00:00Z.
    """
    from omnimsg_sim import parse_config

    sim = {"seed": 1, "start": "2026-03-02T09:00:00Z", **overrides.pop("sim", {})}
    return parse_config(
        {"sim": sim, "messenger": [{**DEFAULT_MESSENGER, **overrides}]}, source="test config"
    )


def messenger_channel(config: SimConfig, base_url: str, index: int = 0) -> Channel:
    """The omnimsg ``Messenger`` channel matching simulated Page ``index``.

    Its policy is the Page's: the same tag profile and Send API rates the simulator enforces,
    so the SDK's pre-flight and the simulator agree.
    """
    # Imported here: the Messenger adapter is optional to this module's other helpers.
    from omnimsg_sim.platforms.messenger.policy import policy_for

    from .platforms.messenger import Messenger

    a = config.messenger[index]
    channel: Channel = Messenger(
        page_id=a.page_id,
        page_access_token=a.page_access_token,
        app_secret=a.app_secret,
        verify_token=a.verify_token or None,
        app_id=a.app_id,
        base_url=base_url,
        policy=policy_for(a),
    )
    return channel


DEFAULT_LINE: dict[str, Any] = {
    "bot_user_id": "U5f3b0c4e2a1d9f8e7c6b5a4d3e2f1a0b",
    "channel_id": "2001234567",
    "channel_secret": "sim-line-channel-secret",
    "channel_access_token": "sim-line-channel-access-token",
    "webhook_url": "http://app.test/webhooks/line",
    "display_name": "omnimsg Support",
    "plan": "jp-communication",
    "customers": [
        {
            "user_id": "U1a2b3c4d5e6f708192a3b4c5d6e7f809",
            "display_name": "Ada Lovelace",
            "language": "en",
        },
        {
            "user_id": "U2b3c4d5e6f708192a3b4c5d6e7f8091a",
            "display_name": "Alan Turing",
            "picture_url": "https://profile.line-scdn.net/alan",
            "status_message": "Computing",
        },
        {
            "user_id": "U3c4d5e6f708192a3b4c5d6e7f8091a2b",
            "display_name": "Grace Hopper",
            "friend": False,
        },
    ],
}
"""The default simulated LINE Official Account (fake credentials, never real ones): two
friends and a user who blocked the account."""


def line_sim_config(**overrides: Any) -> SimConfig:
    """A simulator config with one LINE Official Account; ``overrides`` replace account fields.

    As :func:`whatsapp_sim_config`: ``sim={...}`` overrides the ``sim`` table, and the clock
    starts frozen at 2026-03-02T09:00:00Z.
    """
    from omnimsg_sim import parse_config

    sim = {"seed": 1, "start": "2026-03-02T09:00:00Z", **overrides.pop("sim", {})}
    return parse_config({"sim": sim, "line": [{**DEFAULT_LINE, **overrides}]}, source="test config")


def line_channel(config: SimConfig, base_url: str, index: int = 0) -> Channel:
    """The omnimsg ``Line`` channel matching simulated LINE account ``index`` (its api and
    api-data hosts both the simulator, its reply-token lifetime the account's)."""
    # Imported here: the LINE adapter is optional to this module's other helpers.
    from .platforms.line.channel import Line

    a = config.line[index]
    channel: Channel = Line(  # type: ignore[assignment, unused-ignore]
        bot_user_id=a.bot_user_id,
        channel_access_token=a.channel_access_token,
        channel_secret=a.channel_secret,
        channel_id=a.channel_id,
        base_url=base_url,
        reply_token_lifetime=a.reply_token_ttl,
        policy=line_policy(config, index),
    )
    return channel


def line_policy(config: SimConfig, index: int = 0) -> LinePolicy:
    """The SDK's rule profile for simulated LINE account ``index``: its country's newest
    profile with the account's plan in force (``jp-standard`` is Japan's ``standard``) and its
    cap on additional messages (``extra_limit``), so that the pre-flight counts the month as
    the simulator does (spec/line.md §4), and its rate limits (``[line.rate_limits]``: the
    calls per period of ``LINE_RATE_LIMITS``, 0 for none), so that both refuse the same call."""
    from omnimsg_sim.config import LINE_RATE_LIMITS

    from .rules import line as line_rules

    a = config.line[index]
    plan = a.quota_plan
    policy = line_rules.latest(plan.region).with_plan(plan.name.partition("-")[2])
    if a.extra_limit is not None:
        policy = attrs.evolve(policy, plan=attrs.evolve(policy.plan, extra_limit=a.extra_limit))
    return policy.with_rate_limits(
        {
            name: (calls, LINE_RATE_LIMITS[name][1])
            for name, calls in a.rate_limits.items()
            if name in LINE_RATE_LIMITS
        }
    )


DEFAULT_WECHAT: dict[str, Any] = {
    "account_id": "gh_0a1b2c3d4e5f",
    "app_id": "wx5f3b0c4e2a1d9f8e",
    "app_secret": "sim-wechat-app-secret",
    "token": "sim-wechat-token",
    "encoding_aes_key": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
    "mode": "safe",
    "webhook_url": "http://app.test/webhooks/wechat",
    "templates": ["order-shipped-tpl", "appointment-reminder-tpl"],
    "customers": [
        {"openid": "oAda0000000000000000000000001", "remark": "Ada Lovelace"},
        {"openid": "oAlan000000000000000000000002", "language": "en"},
        {"openid": "oGrace00000000000000000000003", "following": False},
        {"openid": "oKatherine0000000000000000004", "blocks_templates": True},
    ],
}
"""The default simulated WeChat Official Account (fake credentials, never real ones; the
EncodingAESKey is the one of Tencent's public sample): safe mode, two followers, a user who
unfollowed and one who blocks template messages."""


def wechat_sim_config(**overrides: Any) -> SimConfig:
    """A simulator config with one WeChat Official Account; ``overrides`` replace account
    fields (``mode="plaintext"``...).

    As :func:`whatsapp_sim_config`: ``sim={...}`` overrides the ``sim`` table, and the clock
    starts frozen at 2026-03-02T09:00:00Z.
    """
    from omnimsg_sim import parse_config

    sim = {"seed": 1, "start": "2026-03-02T09:00:00Z", **overrides.pop("sim", {})}
    return parse_config(
        {"sim": sim, "wechat": [{**DEFAULT_WECHAT, **overrides}]}, source="test config"
    )


def wechat_channel(config: SimConfig, base_url: str, index: int = 0) -> Channel:
    """The omnimsg ``WeChat`` channel matching simulated WeChat account ``index`` (its API
    host the simulator; its Token, EncodingAESKey and mode the account's)."""
    # Imported here: the WeChat adapter is optional to this module's other helpers.
    from .platforms.wechat.channel import WeChat

    a = config.wechat[index]
    channel: Channel = WeChat(  # type: ignore[assignment, unused-ignore]
        account_id=a.account_id,
        app_id=a.app_id,
        app_secret=a.app_secret,
        token=a.token,
        encoding_aes_key=a.encoding_aes_key,
        mode=a.mode,
        base_url=base_url,
        policy=wechat_policy(config, index),
    )
    return channel


def wechat_policy(config: SimConfig, index: int = 0) -> WeChatPolicy:
    """The SDK's rule profile for simulated WeChat account ``index``: the newest profile
    with the account's customer-service windows (``cs_message_count`` sends for
    ``cs_message_window`` seconds after a message, ``cs_event_*`` after an event, spec §5.1)
    its text limit (``text_limit`` bytes, §5.2) and its daily send quotas
    (``template_daily_limit``, ``custom_send_daily_limit``, §9), so that both refuse the same
    send."""
    from .rules import wechat as wechat_rules

    a = config.wechat[index]
    base = wechat_rules.latest()
    return attrs.evolve(
        base,
        message_window=attrs.evolve(
            base.message_window, messages=a.cs_message_count, seconds=a.cs_message_window
        ),
        event_window=attrs.evolve(
            base.event_window, messages=a.cs_event_count, seconds=a.cs_event_window
        ),
        text_max_bytes=a.text_limit,
        template_daily_limit=a.template_daily_limit,
        custom_send_daily_limit=a.custom_send_daily_limit,
    )


# One read per operation, on loopback: a fresh connection costs little, and none is left open
# to leak when an event loop (asyncio.run in a test) ends without closing the client.
_NO_KEEPALIVE = httpx.Limits(max_keepalive_connections=0)


class SimulatorClock:
    """The virtual clock of a simulator running in another process, followed over HTTP.

    Give it to the app under test (``Client(..., clock=SimulatorClock(url))``) when the
    simulator is a separate server (``omnimsg-sim serve``). At the start of every operation
    (``send``, ``check``, ``window``, ``webhooks.handle``) omnimsg asks the simulator for its
    time (``GET /_sim/clock``), so after ``/_sim/clock/advance`` the app's pre-flight and the
    simulator agree to the second. Between two reads the time stands still when the
    simulator's clock is frozen, and flows with the wall clock when it is running.

    An in-process simulator needs none of this: share its clock (``InProcessSimulator.clock``).

    Args:
        url: the simulator's base URL, e.g. ``"http://127.0.0.1:8080"``.
        timeout: seconds to wait for the simulator's answer.
        base: the clock that measures time between reads, and sleeps (default: the system's).
        transport: an httpx transport for the sync reads (tests).
        async_transport: an httpx transport for the async reads (tests).

    Raises:
        TransportError: (from the operation) the simulator did not answer, or not with a clock.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 5.0,
        base: Clock | None = None,
        transport: httpx.BaseTransport | None = None,
        async_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self._timeout = timeout
        self._base = base or SystemClock()
        self._transport = transport
        self._async_transport = async_transport
        self._http: httpx.Client | None = None
        # One async client per event loop: a client cannot outlive the loop it was used on.
        self._ahttp: tuple[asyncio.AbstractEventLoop, httpx.AsyncClient] | None = None
        self._virtual: float | None = None
        self._read_at = 0.0
        self._running = False

    def _take(self, response: httpx.Response) -> None:
        try:
            data = response.json()
            virtual, mode = float(data["timestamp"]), data["mode"]
        except (ValueError, KeyError, TypeError) as exc:
            raise TransportError(
                f"{self.url}/_sim/clock did not answer with a clock ({response.status_code})"
            ) from exc
        self._virtual, self._read_at = virtual, self._base.time()
        self._running = mode == "running"

    def refresh(self) -> None:
        """Read the simulator's time now (blocking)."""
        if self._http is None:
            self._http = httpx.Client(
                transport=self._transport, timeout=self._timeout, limits=_NO_KEEPALIVE
            )
        try:
            response = self._http.get(f"{self.url}/_sim/clock")
        except httpx.HTTPError as exc:
            raise TransportError(f"cannot read the simulator's clock at {self.url}: {exc}") from exc
        self._take(response)

    async def arefresh(self) -> None:
        """Read the simulator's time now, without blocking the event loop."""
        loop = asyncio.get_running_loop()
        if self._ahttp is None or self._ahttp[0] is not loop:
            client = httpx.AsyncClient(
                transport=self._async_transport, timeout=self._timeout, limits=_NO_KEEPALIVE
            )
            self._ahttp = (loop, client)
        try:
            response = await self._ahttp[1].get(f"{self.url}/_sim/clock")
        except httpx.HTTPError as exc:
            raise TransportError(f"cannot read the simulator's clock at {self.url}: {exc}") from exc
        self._take(response)

    def time(self) -> float:
        """The simulator's time as of the last read (read now if never read)."""
        if self._virtual is None:
            self.refresh()
        assert self._virtual is not None
        if self._running:
            return self._virtual + (self._base.time() - self._read_at)
        return self._virtual

    def now(self) -> datetime:
        """:meth:`time` as an aware UTC datetime."""
        return to_datetime(self.time())

    def sleep(self, seconds: float) -> None:
        """Block for ``seconds`` of real time (retry back-offs)."""
        self._base.sleep(seconds)

    async def asleep(self, seconds: float) -> None:
        """Wait for ``seconds`` of real time."""
        await self._base.asleep(seconds)

    def close(self) -> None:
        """Close the sync HTTP client."""
        if self._http is not None:
            self._http.close()
            self._http = None

    async def aclose(self) -> None:
        """Close both HTTP clients (call it on the loop the async face ran on)."""
        self.close()
        if self._ahttp is not None:
            await self._ahttp[1].aclose()
            self._ahttp = None

    def __repr__(self) -> str:
        return f"SimulatorClock({self.url!r})"


class _Base:
    sim: InProcessSimulator

    def control(self, method: str, path: str, body: Any = None) -> Any:
        """Call the ``/_sim`` control plane."""
        return self.sim.control(method, path, body)

    def advance(self, seconds: float = 0, *, minutes: float = 0, hours: float = 0) -> Any:
        """Move the simulator's (and the client's) clock; due webhooks are delivered."""
        total = seconds + 60 * minutes + 3600 * hours
        return self.control("POST", "/_sim/clock/advance", {"seconds": total})

    def outbox(self, **filters: str) -> list[dict[str, Any]]:
        """What the business sent (``user=``, ``account=`` filters)."""
        query = "&".join(f"{k}={v}" for k, v in filters.items())
        return list(
            self.control("GET", "/_sim/outbox" + (f"?{query}" if query else ""))["messages"]
        )


class SimHarness(_Base):
    """A sync :class:`~omnimsg.Client` wired to an in-process simulator.

    Webhooks from the simulator go to ``client.webhooks.handle`` (or to ``on_webhook`` if
    given); new events are appended to :attr:`events`.
    """

    def __init__(
        self, config: SimConfig | None = None, *, preflight: bool = True, **client_kwargs: Any
    ) -> None:
        from omnimsg_sim import InProcessSimulator

        self.config = config or whatsapp_sim_config()
        self.events: list[Event] = []
        self.sim = InProcessSimulator(
            self.config, webhook_transport=httpx.MockTransport(self._webhook)
        )
        self.clock = self.sim.core.world.clock
        self.client = Client(
            [whatsapp_channel(self.config, self.sim.base_url)],
            transport=self.sim.transport(),
            clock=self.clock,
            preflight=preflight,
            **client_kwargs,
        )
        self.on_event: Callable[[Event], None] | None = None

    def _webhook(self, request: httpx.Request) -> httpx.Response:
        outcome = self.client.webhooks.handle(
            "whatsapp", request.method, str(request.url), request.headers, request.read()
        )
        self.events.extend(outcome.events)
        if self.on_event is not None:
            for event in outcome.events:
                self.on_event(event)
        return httpx.Response(outcome.status, content=outcome.body)

    def customer_says(self, user: str, text: str | None = None, **message: Any) -> Event:
        """A customer sends a message; returns the event the app received."""
        before = len(self.events)
        spec: dict[str, Any] = {"platform": "whatsapp", "user": user, **message}
        if text is not None:
            spec["text"] = text
        result = self.control("POST", "/_sim/inbound", spec)
        if "error" in result:
            raise AssertionError(result["error"]["message"])
        mine = [
            e
            for e in self.events[before:]
            if getattr(e, "message_id", None) == result["message_id"]
        ]
        if not mine:
            raise AssertionError(f"the app did not receive the message: {result.get('delivery')}")
        return mine[0]

    def close(self) -> None:
        """Close the client and the simulator."""
        self.client.close()
        self.sim.close()

    def __enter__(self) -> SimHarness:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncSimHarness(_Base):
    """An :class:`~omnimsg.AsyncClient` wired to an in-process simulator."""

    def __init__(
        self, config: SimConfig | None = None, *, preflight: bool = True, **client_kwargs: Any
    ) -> None:
        from omnimsg_sim import InProcessSimulator

        self.config = config or whatsapp_sim_config()
        self.events: list[Event] = []
        self.sim = InProcessSimulator(
            self.config, async_webhook_transport=httpx.MockTransport(self._webhook)
        )
        self.clock = self.sim.core.world.clock
        self.client = AsyncClient(
            [whatsapp_channel(self.config, self.sim.base_url)],
            transport=self.sim.async_transport(),
            clock=self.clock,
            preflight=preflight,
            **client_kwargs,
        )

    async def _webhook(self, request: httpx.Request) -> httpx.Response:
        outcome = await self.client.webhooks.handle(
            "whatsapp", request.method, str(request.url), request.headers, await request.aread()
        )
        self.events.extend(outcome.events)
        return httpx.Response(outcome.status, content=outcome.body)

    async def acontrol(self, method: str, path: str, body: Any = None) -> Any:
        """Call the control plane through the async path (webhooks reach the async client)."""
        return await self.sim.acontrol(method, path, body)

    async def customer_says(self, user: str, text: str | None = None, **message: Any) -> Event:
        """A customer sends a message; returns the event the app received."""
        spec: dict[str, Any] = {"platform": "whatsapp", "user": user, **message}
        if text is not None:
            spec["text"] = text
        result = await self.acontrol("POST", "/_sim/inbound", spec)
        mine = [
            e for e in self.events if getattr(e, "message_id", None) == result.get("message_id")
        ]
        if not mine:
            raise AssertionError(f"the app did not receive the message: {result}")
        return mine[0]

    async def aadvance(self, seconds: float = 0, *, minutes: float = 0, hours: float = 0) -> Any:
        """Move the clock through the async path."""
        total = seconds + 60 * minutes + 3600 * hours
        return await self.acontrol("POST", "/_sim/clock/advance", {"seconds": total})

    async def aclose(self) -> None:
        """Close the client and the simulator."""
        await self.client.aclose()
        await self.sim.aclose()


class ServerThread:
    """The simulator server (aiohttp, real socket on 127.0.0.1, port 0) in a background thread.

    Works from sync and async tests alike: ``with ServerThread(config) as url: ...``.
    """

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.url = ""
        self._ready = threading.Event()
        self._stop: Callable[[], None] | None = None
        self._thread = threading.Thread(target=self._run, name="omnimsg-sim", daemon=True)
        self.simulator: Any = None
        self._error: BaseException | None = None

    def _run(self) -> None:
        import asyncio

        from omnimsg_sim.app import Simulator

        async def main() -> None:
            self.simulator = Simulator(self.config)
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()

            def request_stop() -> None:
                loop.call_soon_threadsafe(stop.set)

            self._stop = request_stop
            try:
                self.url = await self.simulator.start()
            except BaseException as exc:
                self._error = exc
                self._ready.set()
                raise
            self._ready.set()
            await stop.wait()
            await self.simulator.stop()

        asyncio.run(main())

    def __enter__(self) -> str:
        self._thread.start()
        if not self._ready.wait(timeout=30):
            raise TimeoutError("the simulator did not start within 30 s")
        if self._error is not None:
            raise self._error
        return self.url

    def __exit__(self, *exc: object) -> None:
        if self._stop is not None:
            self._stop()
        self._thread.join(timeout=30)
