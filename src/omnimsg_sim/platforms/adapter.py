"""The simulator's side of the platform seam: what one simulated platform provides.

:class:`~omnimsg_sim.core.SimCore` holds a registry of :class:`SimPlatform` objects, built
from :class:`SimAdapter` factories (the shipped ones are :data:`omnimsg_sim.platforms.BUILTIN`;
``SimCore(config, adapters=[...])`` adds more). It serves every platform on one port and asks
none of them which one it is:

* a request on a platform's own paths goes to the first platform whose ``route`` takes it;
* a request on a host that several platforms share (Graph: ``/v23.0/{object-id}/{edge}``,
  where WhatsApp phone-number and WABA ids live beside Messenger page ids) goes to the
  platform that registered the object, as Graph resolves an id to the object it names
  (:mod:`omnimsg_sim.platforms.graph`); ``/v23.0/me/...`` names whatever the access token
  belongs to, so a tenant that issues such tokens (Messenger's Page tokens) resolves it
  (:class:`MeTenant`);
* the generic control plane (``/_sim/inbound``, ``/_sim/webhooks/verify``,
  ``/_sim/webhooks/target``, ``/_sim/state``, ``/_sim/health``...) takes a ``platform`` and
  calls the same methods of every platform;
* ``/_sim/<platform>/<operation>`` is the platform's own control plane (``control``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import attrs

from ..effects import Delivery, DeliveryOutcome, SimFlow, SimRequest, SimResponse

if TYPE_CHECKING:
    from ..config import SimConfig
    from ..faults import Faults
    from ..world import World

__all__ = ["Deliverer", "GraphTenant", "Inbound", "MeTenant", "SimAdapter", "SimPlatform"]

Deliverer = Callable[[Delivery], SimFlow[dict[str, Any]]]
"""Delivers one webhook now (logged, retried later if refused); returns the attempt's record."""

Inbound = tuple[Delivery | None, dict[str, Any]]
"""What a customer action built: its webhook (``None`` without a webhook URL) and the
platform's message object (its ``id`` is the answer's ``message_id``)."""


@runtime_checkable
class SimPlatform(Protocol):
    """One simulated platform: its state, routes, native errors and webhooks."""

    @property
    def name(self) -> str:
        """The platform's name, as ``Address.platform`` and ``/_sim`` bodies spell it."""
        ...

    @property
    def operations(self) -> tuple[tuple[str, str], ...]:
        """Its own control plane: the ``(method, operation)`` pairs ``control`` answers,
        served at ``/_sim/<name>/<operation>``."""
        ...

    def accounts(self) -> Sequence[str]:
        """The business accounts it serves (the ``account`` of control-plane bodies)."""
        ...

    def route(self, req: SimRequest) -> SimFlow[SimResponse] | None:
        """The flow answering a request on the platform's own paths, or ``None``."""
        ...

    def error(self, status: int, message: str) -> SimResponse:
        """An error in the platform's native envelope (a body too large, a bad request)."""
        ...

    def inbound(self, spec: dict[str, Any]) -> Inbound | str:
        """A customer acts (``POST /_sim/inbound``): the webhook to send, or why not.

        Everything is checked before anything changes: a refused action changes nothing.
        """
        ...

    def handshake(self, account: str | None, challenge: str) -> Delivery | str:
        """The verification request the platform sends to a new webhook URL, or why not.

        Its :attr:`~omnimsg_sim.effects.Delivery.echo` is what a receiver that passes answers.
        """
        ...

    def answered(self, delivery: Delivery, outcome: DeliveryOutcome) -> None:
        """The app answered a webhook: a platform whose reply travels in the answer (WeChat's
        passive reply) reads it here; the others ignore it."""
        ...

    def control(
        self, req: SimRequest, operation: str, body: Any, deliver: Deliverer
    ) -> SimFlow[SimResponse] | None:
        """A platform-only control operation (``/_sim/<name>/<operation>``), or ``None``.

        ``body`` is the decoded JSON of a POST (``{}`` otherwise); a webhook the operation
        causes goes out through ``deliver``.
        """
        ...

    def state(self) -> dict[str, Any]:
        """A JSON snapshot for ``GET /_sim/state`` (keyed by account)."""
        ...


@runtime_checkable
class GraphTenant(SimPlatform, Protocol):
    """A platform whose objects live on the shared Graph host (spec/whatsapp.md §0)."""

    def owns(self, object_id: str) -> bool:
        """Is ``object_id`` (a phone-number id, a WABA id, a media id...) one of its objects?"""
        ...

    def graph(self, req: SimRequest, object_id: str, edge: str | None) -> SimFlow[SimResponse]:
        """Answer ``/{version}/{object_id}[/{edge}]`` for an object it owns."""
        ...


@runtime_checkable
class MeTenant(GraphTenant, Protocol):
    """A Graph tenant whose tokens stand for an object: ``/{version}/me/...`` is that object.

    Graph answers ``/me`` for whoever the access token belongs to; a Page access token makes
    ``/me/messages`` the Page's ``/{page-id}/messages`` (spec/messenger.md §3.1).
    """

    def me(self, req: SimRequest) -> str | None:
        """The id of the object this request's access token stands for, or ``None``."""
        ...


def _always(config: SimConfig) -> bool:
    return True


@attrs.frozen
class SimAdapter:
    """How to build a simulated platform for a config and a world (at start and on reset).

    ``serves`` says whether a config gives the platform anything to serve (WhatsApp without
    ``[[whatsapp]]`` accounts is not served: not listed, not routed); by default always.
    """

    name: str
    build: Callable[[SimConfig, World, Faults], SimPlatform] = attrs.field(repr=False)
    serves: Callable[[SimConfig], bool] = attrs.field(default=_always, repr=False)
