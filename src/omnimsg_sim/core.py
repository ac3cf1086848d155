"""The simulator's sans-I/O core: every request in, a flow out; drivers do the I/O.

The same core serves the aiohttp server (``omnimsg-sim serve``) and the in-process httpx
transport (no socket), so both modes behave identically.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from omnimsg.clock import FakeClock
from omnimsg.exceptions import ConfigurationError

from .answers import control_error, json_response, require_strings
from .config import SimConfig, check_webhook_url
from .dispatch import Batch, Lanes, delivery_result, settle
from .effects import (
    Deliver,
    DeliverBatch,
    Delivery,
    DeliveryOutcome,
    SimFlow,
    SimRequest,
    SimResponse,
)
from .faults import Faults
from .platforms import BUILTIN, GraphTenant, SimAdapter, SimPlatform
from .platforms.graph import GraphHost
from .safejson import BadJSON, loads
from .sink import is_sink
from .world import OutboxEntry, World

__all__ = ["DEFAULT_PLATFORM", "LEGACY_CONTROL", "MAX_ADVANCE", "SimCore"]

DEFAULT_PLATFORM = "whatsapp"
"""The ``platform`` of a control-plane body that names none (the contract before it had one),
when that platform is served; else the only platform served."""

LEGACY_CONTROL = {
    "/_sim/templates": ("whatsapp", "templates"),
    "/_sim/templates/status": ("whatsapp", "templates/status"),
}
"""Control paths that name no platform, from before ``/_sim/<platform>/...``: still served."""

MAX_ADVANCE = 10 * 365.25 * 86_400.0
"""The longest single ``/_sim/clock/advance``: ten years (every rule lives within days)."""
# The clock must stay a date: datetime cannot show years past 9999.
_CLOCK_END = datetime(9999, 1, 1, tzinfo=UTC).timestamp()


class SimCore:
    """All simulated platforms behind one ``handle(request)``, on one port.

    ``adapters`` add platforms to the shipped ones (:data:`omnimsg_sim.platforms.BUILTIN`), or
    replace one of the same name; each is built from the config and the world now and again
    on every reset.
    """

    def __init__(
        self,
        config: SimConfig,
        *,
        world: World | None = None,
        adapters: Iterable[SimAdapter] = (),
    ) -> None:
        self.config = config
        self.world = world or World(config)
        self.faults = Faults()
        registry = {a.name: a for a in BUILTIN}
        registry.update({a.name: a for a in adapters})
        # A platform the config gives nothing to (no accounts) is not served at all.
        self.adapters: tuple[SimAdapter, ...] = tuple(
            a for a in registry.values() if a.serves(config)
        )
        self._unserved = sorted(n for n, a in registry.items() if not a.serves(config))
        self.platforms: dict[str, SimPlatform] = {}
        self.graph = GraphHost((), self._trace)
        self._build()
        self.lanes = Lanes()
        self._drains = 0  # drains running (nested or concurrent): pump() leaves work to them

    def _build(self) -> None:
        """The platforms of the registry, on the current world."""
        self.platforms = {
            a.name: a.build(self.config, self.world, self.faults) for a in self.adapters
        }
        tenants = [p for p in self.platforms.values() if isinstance(p, GraphTenant)]
        self.graph = GraphHost(tenants, self._trace)

    def _trace(self) -> str:
        return "A" + self.world.token(22)

    @property
    def whatsapp(self) -> Any:
        """The simulated WhatsApp (``core.platforms["whatsapp"]``), for tests that reach in."""
        return self.platforms["whatsapp"]

    def reset(self) -> None:
        """Forget everything that happened; back to the config's initial state and time."""
        start = self.world.start
        clock = self.world.clock
        if isinstance(clock, FakeClock):
            clock.rewind(start)  # a frozen clock goes back to where it started
        targets = self.world.targets
        self.world = World(self.config, clock=clock)
        self.world.start = start
        # Where the app listens is deployment, not state: run-time targets survive a reset.
        self.world.targets = targets
        self.faults.clear()
        self._build()
        self.lanes = Lanes()  # batches of the old world stop at their next take()

    # --- entry point ---

    def handle(self, req: SimRequest) -> SimFlow[SimResponse]:
        """Answer one HTTP request (effects: deliveries, pauses)."""
        self.world.origin = req.base_url
        if len(req.body) > self.config.sim.max_body_bytes:
            return self.too_large(req.path)
        if req.path.startswith("/_sim/") or req.path == "/_sim":
            return (yield from self._control(req))
        for platform in self.platforms.values():
            flow = platform.route(req)
            if flow is not None:
                return (yield from flow)
        if self.graph.tenants:
            flow = self.graph.route(req)
            if flow is not None:
                return (yield from flow)
        return control_error(
            404,
            f"omnimsg-sim does not serve {req.method} {req.path}; see /_sim/health for what it does",
        )

    def too_large(self, path: str) -> SimResponse:
        """The 413 answer to a body over ``max_body_bytes``, in the envelope of ``path``."""
        message = f"request body is larger than {self.config.sim.max_body_bytes} bytes"
        owner = self._owner(path)
        if owner is None:
            return control_error(413, message)
        # Platform paths answer in the platform's envelope, which clients parse for its code.
        return owner.error(413, message)

    def _owner(self, path: str) -> SimPlatform | None:
        """The platform whose paths ``path`` is on (for errors answered before routing)."""
        if path.startswith("/_sim"):
            return None
        req = SimRequest(method="GET", path=path)
        for platform in self.platforms.values():
            if platform.route(req) is not None:
                return platform
        graph = self.graph.owner(path)
        if graph is not None:
            return graph
        # An unknown path on a server of one platform is that platform's.
        return next(iter(self.platforms.values())) if len(self.platforms) == 1 else None

    # --- webhook pumping ---
    #
    # Deliveries go out concurrently, conversation by conversation in order: see
    # omnimsg_sim.dispatch for the guarantees and how they are kept.

    def wants_pump(self, path: str) -> bool:
        """Should a driver pump after answering a request for ``path``?

        After a platform request, when something fell due (status webhooks fall due as soon
        as a send is answered); after any request, when a lane was left with deliveries
        waiting behind a direct delivery (``/_sim/inbound``, template updates).
        """
        if self.lanes.orphans:
            return True
        return not path.startswith("/_sim") and self.has_due()

    def has_due(self) -> bool:
        """Is anything due by now (a scheduled webhook, or a lane left waiting)?"""
        if self.lanes.orphans:
            return True
        due = self.world.next_due()
        return due is not None and due <= self.world.now()

    def pump(self, *, collect: bool = True) -> SimFlow[list[dict[str, Any]]]:
        """Deliver everything due by now, lanes in order; returns what was delivered.

        ``collect=False`` keeps no results (a background pump that runs for a whole load).
        """
        if self._drains:
            # A drain is running (this is the app's handler calling back into the simulator,
            # or a concurrent request): it takes what falls due meanwhile.
            return []
        self._drains += 1
        try:
            return (yield from self._drain(collect=collect))
        finally:
            self._drains -= 1

    def _drain(self, *, collect: bool = True) -> SimFlow[list[dict[str, Any]]]:
        batch = Batch(self, collect=collect)
        try:
            yield DeliverBatch(batch)
        finally:
            batch.close()
        return batch.results()

    def deliver(self, delivery: Delivery) -> SimFlow[dict[str, Any]]:
        """One delivery attempt now, logged, retried later when the app did not take it.

        Its conversation's lane is held while it is in flight (when free: a direct delivery
        never waits), so queued deliveries of that conversation do not overtake it.
        """
        lanes, key = self.lanes, delivery.lane
        held = key is not None and lanes.acquire(key)
        try:
            fault = self.faults.take(
                delivery.platform, f"{delivery.platform}.webhook", delivery.account, None
            )
            outcomes = [(yield from self._attempt(delivery))]
            if fault is not None and fault.action == "duplicate":
                outcomes.append((yield from self._attempt(delivery)))
        finally:
            if held:
                assert key is not None
                following = lanes.release(key)
                if following is not None:
                    lanes.orphan(key, following)  # the next batch delivers it
        retry_at = self.settle(delivery, outcomes)
        return delivery_result(delivery, outcomes[0], retry_at)

    def _attempt(self, delivery: Delivery) -> SimFlow[DeliveryOutcome]:
        if is_sink(delivery.url):
            return self.world.sink.receive(delivery, self.world.now())  # in process, no HTTP
        outcome: DeliveryOutcome = yield Deliver(delivery)
        return outcome

    def settle(self, delivery: Delivery, outcomes: list[DeliveryOutcome]) -> float | None:
        """The app answered a delivery (``outcomes``: each attempt): its platform reads the
        answers (a passive reply inside one), then they are logged and a failure is retried
        later. Returns when, or ``None``."""
        platform = self.platforms.get(delivery.platform)
        if platform is not None:
            for outcome in outcomes:
                platform.answered(delivery, outcome)
        return settle(self.world, delivery, outcomes)

    def advance(self, seconds: float) -> SimFlow[list[dict[str, Any]]]:
        """Move the clock, stopping at each due item so webhooks go out at their own time.

        At each instant something falls due, one batch delivers everything due then
        (concurrently across conversations, in order within each) before the clock moves
        on, so no webhook goes out before its time or after a later one's instant.
        """
        clock = self.world.clock
        target = clock.time() + seconds
        done: list[dict[str, Any]] = []
        self._drains += 1  # nested pumps (from the app's replies) leave the work to this loop
        try:
            while True:
                due = self.world.next_due()
                if due is None or due > target:
                    break
                if due > clock.time():
                    clock.advance(due - clock.time())
                # Each batch pops everything due by now, so the loop always ends.
                done.extend((yield from self._drain()))
            if target > clock.time():
                clock.advance(target - clock.time())
            done.extend((yield from self._drain()))
        finally:
            self._drains -= 1
        return done

    # --- control plane (/_sim) ---

    def _json(self, req: SimRequest) -> Any:
        if not req.body:
            return {}
        try:
            return loads(req.body)
        except BadJSON as exc:
            raise ConfigurationError(str(exc)) from None

    def _control(self, req: SimRequest) -> SimFlow[SimResponse]:
        try:
            return (yield from self._control_inner(req))
        except ConfigurationError as exc:
            return control_error(400, str(exc))

    def _platform(self, body: dict[str, Any]) -> SimPlatform:
        """The platform a control-plane body names (see :data:`DEFAULT_PLATFORM`).

        Raises:
            ConfigurationError: when it names none that is served (or none, ambiguously).
        """
        require_strings(body, "platform")
        name = body.get("platform")
        if name is None:
            if DEFAULT_PLATFORM in self.platforms:
                name = DEFAULT_PLATFORM
            elif len(self.platforms) == 1:
                name = next(iter(self.platforms))
            else:
                raise ConfigurationError(f"'platform' is required: one of {sorted(self.platforms)}")
        platform = self.platforms.get(name)
        if platform is None and name in self._unserved:
            raise ConfigurationError(
                f"platform {name!r} has no account in this config (it serves "
                f"{sorted(self.platforms)})"
            )
        if platform is None:
            raise ConfigurationError(
                f"platform {name!r} is not simulated yet (this one serves {sorted(self.platforms)})"
            )
        return platform

    def _control_inner(self, req: SimRequest) -> SimFlow[SimResponse]:
        path, method = req.path.rstrip("/"), req.method.upper()
        w = self.world
        # Read once; a body that is not sound JSON is refused on every POST route alike.
        body = self._json(req) if method == "POST" else {}
        if path == "/_sim/health" and method == "GET":
            return json_response(
                {
                    "status": "ok",
                    "platforms": {n: list(p.accounts()) for n, p in self.platforms.items()},
                    "now": w.now(),
                    "pending": w.pending(),
                    "outbox": w.outbox_stats(),
                }
            )
        if path == "/_sim/reset" and method == "POST":
            self.reset()
            return json_response({"status": "reset", "now": self.world.now()})
        if path == "/_sim/clock" and method == "GET":
            return json_response(self._clock_json())
        if path == "/_sim/clock/advance" and method == "POST":
            seconds = self._seconds(body)
            delivered = yield from self.advance(seconds)
            return json_response({**self._clock_json(), "delivered": delivered})
        if path == "/_sim/inbound" and method == "POST":
            return (yield from self._inbound(body))
        if path == "/_sim/outbox" and method == "GET":
            return json_response({"messages": self._outbox(req)})
        if path == "/_sim/outbox" and method == "DELETE":
            w.outbox.clear()
            return json_response({"status": "cleared"})
        if path == "/_sim/webhooks" and method == "GET":
            return json_response({"deliveries": [d.to_json() for d in w.deliveries]})
        if path == "/_sim/webhooks/target" and method == "POST":
            return self._target(body)
        if path == "/_sim/sink" and method == "GET":
            return json_response({"requests": w.sink.to_json()})
        if path == "/_sim/sink" and method == "DELETE":
            w.sink.clear()
            return json_response({"status": "cleared"})
        if path == "/_sim/webhooks/verify" and method == "POST":
            return (yield from self._verify(body))
        if path == "/_sim/deliver" and method == "POST":
            return json_response({"delivered": (yield from self.pump())})
        if path == "/_sim/faults":
            if method == "GET":
                return json_response({"faults": [f.to_json() for f in self.faults.rules]})
            if method == "POST":
                return json_response(self.faults.add(body).to_json(), 201)
            if method == "DELETE":
                self.faults.clear()
                return json_response({"status": "cleared"})
        if path == "/_sim/state" and method == "GET":
            return json_response(
                {**{n: p.state() for n, p in self.platforms.items()}, "now": w.now()}
            )
        flow = self._platform_control(req, path, body)
        if flow is not None:
            return (yield from flow)
        return control_error(404, f"no control endpoint {method} {path}")

    def _platform_control(
        self, req: SimRequest, path: str, body: Any
    ) -> SimFlow[SimResponse] | None:
        """``/_sim/<platform>/<operation>``: the platform's own control plane."""
        legacy = LEGACY_CONTROL.get(path)
        if legacy is not None:
            name, operation = legacy
        else:
            name, _, operation = path.removeprefix("/_sim/").partition("/")
        platform = self.platforms.get(name)
        if platform is None or not operation:
            return None
        return platform.control(req, operation, body, self.deliver)

    def _seconds(self, body: Any) -> float:
        """The ``seconds`` of an advance: finite, at least 0, at most :data:`MAX_ADVANCE`."""
        seconds = body.get("seconds") if isinstance(body, dict) else None
        if not isinstance(seconds, int | float) or isinstance(seconds, bool):
            raise ConfigurationError("'seconds' must be a non-negative number")
        # Chained comparisons are exact for huge integers and false for NaN.
        if not 0 <= seconds <= MAX_ADVANCE:
            raise ConfigurationError(
                f"'seconds' must be between 0 and {MAX_ADVANCE:.0f} (ten years)"
            )
        if self.world.now() + seconds >= _CLOCK_END:
            raise ConfigurationError("the clock cannot go past the year 9999")
        return float(seconds)

    def _clock_json(self) -> dict[str, Any]:
        from omnimsg.clock import to_datetime

        now = self.world.now()
        return {
            "now": to_datetime(now).isoformat(),
            "timestamp": now,
            "mode": self.config.sim.clock,
            "pending": self.world.pending(),
        }

    def _outbox(self, req: SimRequest) -> list[dict[str, Any]]:
        entries: Iterable[OutboxEntry] = self.world.outbox
        for key in ("platform", "account", "user"):
            want = req.arg(key)
            if want:
                entries = [e for e in entries if getattr(e, key) == want]
        include_raw = req.arg("raw") != "false"
        return [e.to_json(include_raw=include_raw) for e in entries]

    def _inbound(self, body: Any) -> SimFlow[SimResponse]:
        if not isinstance(body, dict):
            return control_error(400, "the body must be a JSON object")
        require_strings(body, "account", "user", "name", "user_id")
        made = self._platform(body).inbound(body)
        if isinstance(made, str):
            return control_error(400, made)
        delivery, message = made
        result: dict[str, Any] = {"message_id": message.get("id"), "message": message}
        if delivery is None:
            result["delivery"] = None
            result["note"] = "the account has no webhook_url: nothing was delivered"
        else:
            result["delivery"] = yield from self.deliver(delivery)
        # Anything the app's handler caused (status webhooks of its replies) goes out too.
        result["then"] = yield from self.pump()
        return json_response(result)

    def _target(self, body: Any) -> SimResponse:
        """Point an account's webhooks at ``url`` (the app started after the simulator)."""
        if not isinstance(body, dict):
            return control_error(400, "the body must be a JSON object")
        require_strings(body, "account", "url")
        platform, url = self._platform(body), body.get("url")
        if not isinstance(url, str):
            return control_error(400, "'url' is required: an http(s) URL or /_sim/sink")
        check_webhook_url(url, "url")
        accounts = list(platform.accounts())
        account = body.get("account")
        if account is None and len(accounts) == 1:
            account = accounts[0]
        if account not in accounts:
            return control_error(400, "unknown or ambiguous 'account'")
        self.world.targets[(platform.name, account)] = url
        return json_response({"platform": platform.name, "account": account, "url": url})

    def _verify(self, body: Any) -> SimFlow[SimResponse]:
        if not isinstance(body, dict):
            return control_error(400, "the body must be a JSON object")
        require_strings(body, "account")
        platform = self._platform(body)
        challenge = str(body.get("challenge") or self.world.digits(10))
        made = platform.handshake(body.get("account"), challenge)
        if isinstance(made, str):
            return control_error(400, made)
        outcome = yield from self.deliver(made)
        verified = (
            outcome["status"] == 200
            and made.echo is not None
            and (outcome["body"] == made.echo.decode("utf-8", "replace"))
        )
        return json_response({"verified": verified, "challenge": challenge, "delivery": outcome})
