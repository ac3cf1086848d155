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
from .enforcement import graph_error, json_response
from .faults import Faults
from .platforms.whatsapp import WhatsAppSim
from .safejson import BadJSON, loads
from .sink import is_sink
from .world import OutboxEntry, World

__all__ = ["MAX_ADVANCE", "SimCore"]

MAX_ADVANCE = 10 * 365.25 * 86_400.0
"""The longest single ``/_sim/clock/advance``: ten years (every rule lives within days)."""
# The clock must stay a date: datetime cannot show years past 9999.
_CLOCK_END = datetime(9999, 1, 1, tzinfo=UTC).timestamp()


def _error(status: int, message: str) -> SimResponse:
    return json_response({"error": {"message": message}}, status)


def _strings(body: dict[str, Any], *keys: str) -> None:
    """Refuse a control-plane body whose named fields are present but not strings."""
    for key in keys:
        if body.get(key) is not None and not isinstance(body[key], str):
            raise ConfigurationError(f"'{key}' must be a string")


class SimCore:
    """All simulated platforms behind one ``handle(request)``."""

    def __init__(self, config: SimConfig, *, world: World | None = None) -> None:
        self.config = config
        self.world = world or World(config)
        self.faults = Faults()
        self.whatsapp = WhatsAppSim(config.whatsapp, self.world, self.faults)
        self.lanes = Lanes()
        self._drains = 0  # drains running (nested or concurrent): pump() leaves work to them

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
        self.whatsapp = WhatsAppSim(self.config.whatsapp, self.world, self.faults)
        self.lanes = Lanes()  # batches of the old world stop at their next take()

    # --- entry point ---

    def handle(self, req: SimRequest) -> SimFlow[SimResponse]:
        """Answer one HTTP request (effects: deliveries, pauses)."""
        if len(req.body) > self.config.sim.max_body_bytes:
            return self.too_large(req.path)
        if req.path.startswith("/_sim/") or req.path == "/_sim":
            return (yield from self._control(req))
        flow = self.whatsapp.route(req)
        if flow is not None:
            return (yield from flow)
        unknown = self.whatsapp.unknown_object(req)
        if unknown is not None:
            return unknown
        return _error(
            404,
            f"omnimsg-sim does not serve {req.method} {req.path}; see /_sim/health for what it does",
        )

    def too_large(self, path: str) -> SimResponse:
        """The 413 answer to a body over ``max_body_bytes``, in the envelope of ``path``."""
        message = f"request body is larger than {self.config.sim.max_body_bytes} bytes"
        if path.startswith("/_sim"):
            return _error(413, message)
        # Platform paths answer in the platform's envelope, which clients parse for its code.
        return graph_error(100, "Invalid parameter", details=message, status=413)

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
        retry_at = settle(self.world, delivery, outcomes)
        return delivery_result(delivery, outcomes[0], retry_at)

    def _attempt(self, delivery: Delivery) -> SimFlow[DeliveryOutcome]:
        if is_sink(delivery.url):
            return self.world.sink.receive(delivery, self.world.now())  # in process, no HTTP
        outcome: DeliveryOutcome = yield Deliver(delivery)
        return outcome

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
            return _error(400, str(exc))

    def _control_inner(self, req: SimRequest) -> SimFlow[SimResponse]:
        path, method = req.path.rstrip("/"), req.method.upper()
        w = self.world
        # Read once; a body that is not sound JSON is refused on every POST route alike.
        body = self._json(req) if method == "POST" else {}
        if path == "/_sim/health" and method == "GET":
            return json_response(
                {
                    "status": "ok",
                    "platforms": {"whatsapp": sorted(self.whatsapp.numbers)},
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
        if path == "/_sim/templates" and method == "GET":
            return json_response(
                {
                    "templates": [
                        {
                            **t.to_json(),
                            "waba_id": self.whatsapp._waba_of.get(t.id),
                            "platform": "whatsapp",
                        }
                        for t in self.whatsapp.templates.values()
                    ]
                }
            )
        if path == "/_sim/templates/status" and method == "POST":
            return (yield from self._template_status(body))
        if path == "/_sim/faults":
            if method == "GET":
                return json_response({"faults": [f.to_json() for f in self.faults.rules]})
            if method == "POST":
                return json_response(self.faults.add(body).to_json(), 201)
            if method == "DELETE":
                self.faults.clear()
                return json_response({"status": "cleared"})
        if path == "/_sim/state" and method == "GET":
            return json_response({"whatsapp": self.whatsapp.state(), "now": w.now()})
        return _error(404, f"no control endpoint {method} {path}")

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
            return _error(400, "the body must be a JSON object")
        _strings(body, "platform", "account", "user", "name", "user_id")
        platform = body.get("platform", "whatsapp")
        if platform != "whatsapp":
            return _error(400, f"platform {platform!r} is not simulated yet")
        made = self.whatsapp.inbound(body)
        if isinstance(made, str):
            return _error(400, made)
        delivery, message = made
        result: dict[str, Any] = {"message_id": message["id"], "message": message}
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
            return _error(400, "the body must be a JSON object")
        _strings(body, "platform", "account", "url")
        platform, url = body.get("platform", "whatsapp"), body.get("url")
        if platform != "whatsapp":
            return _error(400, f"platform {platform!r} is not simulated yet")
        if not isinstance(url, str):
            return _error(400, "'url' is required: an http(s) URL or /_sim/sink")
        check_webhook_url(url, "url")
        numbers = self.whatsapp.numbers
        account = body.get("account")
        if account is None and len(numbers) == 1:
            account = next(iter(numbers))
        if account not in numbers:
            return _error(400, "unknown or ambiguous 'account'")
        self.world.targets[(platform, account)] = url
        return json_response({"platform": platform, "account": account, "url": url})

    def _verify(self, body: Any) -> SimFlow[SimResponse]:
        if not isinstance(body, dict):
            return _error(400, "the body must be a JSON object")
        _strings(body, "account")
        challenge = str(body.get("challenge") or self.world.digits(10))
        made = self.whatsapp.handshake(body.get("account"), challenge)
        if isinstance(made, str):
            return _error(400, made)
        outcome = yield from self.deliver(made)
        verified = outcome["status"] == 200 and outcome["body"] == challenge
        return json_response({"verified": verified, "challenge": challenge, "delivery": outcome})

    def _template_status(self, body: Any) -> SimFlow[SimResponse]:
        if not isinstance(body, dict):
            return _error(400, "the body must be a JSON object")
        _strings(body, "waba_id", "reason")
        name, language, status = body.get("name"), body.get("language", "en_US"), body.get("status")
        if (
            not isinstance(name, str)
            or not isinstance(status, str)
            or not isinstance(language, str)
        ):
            return _error(400, "'name' and 'status' (and optional 'language') are required strings")
        changed = self.whatsapp.set_template_status(
            body.get("waba_id"), name, language, status, body.get("reason")
        )
        if changed is None:
            return _error(404, f"no template {name!r} in {language!r} (or ambiguous waba_id)")
        stored, delivery = changed
        outcome = None if delivery is None else (yield from self.deliver(delivery))
        return json_response({"template": stored.to_json(), "delivery": outcome})
