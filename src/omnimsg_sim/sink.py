"""The built-in webhook receiver: ``webhook_url = "/_sim/sink"`` needs no server at all.

A CI suite that only sends, or that wants to check signatures itself, points an account's
webhook at the simulator's own sink. Deliveries are then answered in process, without HTTP: a
handshake gets its challenge back (Meta's ``hub.challenge``), a POST gets ``200 OK``; each request is kept,
headers and exact body included, and listed by ``GET /_sim/sink``.
"""

from __future__ import annotations

import json
from collections import deque
from typing import Any

import attrs

from .effects import Delivery, DeliveryOutcome

__all__ = ["SINK_PATH", "Sink", "SinkRequest", "is_sink"]

SINK_PATH = "/_sim/sink"


def is_sink(url: str) -> bool:
    """Whether ``url`` names the built-in sink (``/_sim/sink`` or a path below it)."""
    return url == SINK_PATH or url.startswith((SINK_PATH + "/", SINK_PATH + "?"))


@attrs.frozen(kw_only=True)
class SinkRequest:
    """One webhook request the sink received."""

    seq: int
    at: float
    platform: str
    account: str
    kind: str
    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def to_json(self) -> dict[str, Any]:
        """The control plane's view: the body as text and, when it is JSON, decoded."""
        text = self.body.decode("utf-8", "replace")
        try:
            payload: Any = json.loads(self.body) if self.body else None
        except ValueError:
            payload = None
        return {
            "seq": self.seq,
            "at": self.at,
            "platform": self.platform,
            "account": self.account,
            "kind": self.kind,
            "method": self.method,
            "url": self.url,
            "headers": dict(self.headers),
            "body": text,
            "payload": payload,
        }


class Sink:
    """Receives deliveries addressed to ``/_sim/sink``; keeps the newest ``limit`` requests."""

    def __init__(self, limit: int) -> None:
        self.requests: deque[SinkRequest] = deque(maxlen=max(1, limit))
        self._seq = 0

    def receive(self, delivery: Delivery, at: float) -> DeliveryOutcome:
        """Take one delivery and answer it as a well-behaved app would."""
        self._seq += 1
        self.requests.append(
            SinkRequest(
                seq=self._seq,
                at=at,
                platform=delivery.platform,
                account=delivery.account,
                kind=delivery.kind,
                method=delivery.method,
                url=delivery.url,
                headers=delivery.headers,
                body=delivery.body,
            )
        )
        if delivery.echo is not None:
            # A handshake (Meta's hub.challenge, WeChat's echostr): answer what passes it.
            return DeliveryOutcome(status=200, body=delivery.echo)
        return DeliveryOutcome(status=200, body=b"OK")

    def to_json(self) -> list[dict[str, Any]]:
        """Every kept request, oldest first."""
        return [r.to_json() for r in self.requests]

    def clear(self) -> None:
        """Forget what was received."""
        self.requests.clear()
