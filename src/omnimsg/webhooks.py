"""Framework-agnostic webhook handling: handshake, signature, parsing, de-duplication, state.

Give it what your web framework received (method, URL, headers, raw body bytes) and answer
with what it returns::

    result = client.webhooks.handle("whatsapp", request.method, str(request.url),
                                    request.headers, await request.body())
    for event in result.events:
        ...
    return Response(result.body, status=result.status, media_type=result.content_type)

Bad input never raises here: a bad signature, an oversized, malformed or too deeply nested
body all come back as a :class:`~omnimsg.WebhookOutcome` with the right status and ``error``
set to the typed exception, and a refused body changes no state (no event of it is marked
seen, no window moves). Use :meth:`Webhooks.parse` when you want exceptions instead.

``headers`` may be any of what frameworks hand over: a ``dict``, a case-insensitive map
(``httpx.Headers``, Starlette's ``request.headers``, aiohttp's ``CIMultiDictProxy``, werkzeug's
``EnvironHeaders``, Django's ``request.headers``), or a sequence of ``(name, value)`` pairs of
``str`` or of ``bytes`` (ASGI's ``request.scope["headers"]``). ``body`` is the raw body bytes
(``bytes``, ``bytearray`` or ``memoryview``).

Arguments of the wrong *type* are the caller's mistake, not bad input from the network: they
raise :class:`~omnimsg.ConfigurationError` saying what to pass (e.g. a ``str`` body, which
can no longer be checked against the signature over the raw bytes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ._core.effects import NOW, Flow, StoreBatch
from ._fast import fast_constructor
from ._inbound import Headers, WebhookConfig, WebhookOutcome, raw_body
from ._types import Platform
from .claims import DONE, Claim, claim_ops, read_claims, settle_ops
from .exceptions import ConfigurationError, SignatureError, WebhookParseError
from .models.events import Event
from .platforms.adapter import Adapter, AppliesBodies, Channel, WebhookReader
from .stores.ops import Op, new_add

__all__ = ["Headers", "Receiver", "WebhookConfig", "WebhookOutcome"]

# The answer to every accepted delivery, built on the hot path (see omnimsg/_fast.py).
_new_outcome = fast_constructor(WebhookOutcome)


class Receiver:
    """Webhook handling for a fixed set of channels, one reader per platform, prepared once."""

    def __init__(
        self, channels: Sequence[Channel], config: WebhookConfig, adapters: Mapping[str, Adapter]
    ) -> None:
        self.config = config
        by_platform: dict[str, list[Channel]] = {}
        for channel in channels:
            by_platform.setdefault(channel.platform, []).append(channel)
        self._readers: dict[str, WebhookReader] = {
            name: adapters[name].webhooks(group, config) for name, group in by_platform.items()
        }
        self._known = frozenset(adapters)
        # Readers that take a body's new events at once (checked once, not per delivery).
        self._by_body: dict[str, AppliesBodies] = {
            name: reader
            for name, reader in self._readers.items()
            if isinstance(reader, AppliesBodies)
        }

    def reader(self, platform: Platform) -> WebhookReader:
        """The configured platform's reader.

        Raises:
            ConfigurationError: no channel of ``platform`` is configured, or no adapter knows it.
        """
        found = self._readers.get(platform)
        if found is None:
            if platform in self._known:
                raise ConfigurationError(f"no {platform} channel is configured")
            raise ConfigurationError(f"webhooks for {platform!r} are not supported: no adapter")
        return found

    def _apply(
        self, platform: Platform, reader: WebhookReader, fresh: Sequence[Event]
    ) -> Flow[None]:
        """The read-first state of a body's new events: per body, or per event."""
        by_body = self._by_body.get(platform)
        if by_body is not None:
            if fresh:
                yield from by_body.apply_fresh(fresh)
            return
        apply_rest = reader.apply_rest
        for event in fresh:
            yield from apply_rest(event)

    def parse(
        self, platform: Platform, headers: Headers, body: bytes, *, url: str = ""
    ) -> list[Event]:
        """Verify and parse a POST body; raises typed errors (no state, no de-duplication).

        ``url`` carries the signature where the platform puts it in the query (WeChat)."""
        return self.reader(platform).read(url, headers, raw_body(body))

    def _verified(
        self,
        platform: Platform,
        method: str,
        url: str,
        headers: Headers,
        body: bytes,
    ) -> WebhookOutcome | tuple[WebhookReader, list[Event]]:
        """The reader and events of a verified POST, or the outcome that answers anything else.

        Raises:
            ConfigurationError: an argument has the wrong type (a ``str`` body, ``None``
                headers...); everything the network can send gives an outcome instead.
        """
        try:
            reader = self.reader(platform)
        except ConfigurationError as exc:
            return WebhookOutcome(status=404, body=b"Not Found", error=exc)
        if type(method) is not str:
            raise ConfigurationError(
                f"method must be the HTTP method (str), not {type(method).__name__}: "
                "pass e.g. request.method"
            )
        verb = method.upper()
        shake = reader.handshake(verb, url)
        if shake is not None:
            return shake
        if verb != "POST":
            error = WebhookParseError(f"method {method} is not used for webhooks")
            return WebhookOutcome(status=405, body=b"Method Not Allowed", error=error)
        # Argument types first, outside the try: a wrong type raises, it is no outcome.
        if type(body) is not bytes:
            body = raw_body(body)
        missing = reader.signature_missing(url, headers)
        try:
            events = reader.read(url, headers, body)
        except SignatureError as exc:
            return WebhookOutcome(status=401 if missing else 403, body=b"Forbidden", error=exc)
        except WebhookParseError as exc:
            too_big = len(body) > self.config.max_body_bytes
            return WebhookOutcome(status=413 if too_big else 400, body=b"Bad Request", error=exc)
        except ConfigurationError as exc:
            return WebhookOutcome(status=500, body=b"Server Error", error=exc)
        return reader, events

    def handle(
        self,
        platform: Platform,
        method: str,
        url: str,
        headers: Headers,
        body: bytes,
    ) -> Flow[WebhookOutcome]:
        """The whole webhook exchange, at most once: each new event is marked seen at once.

        One store round trip for the body: every dedup key and every state update together.
        """
        got = self._verified(platform, method, url, headers, body)
        if isinstance(got, WebhookOutcome):
            return got
        reader, events = got
        yield NOW  # a following clock syncs before the store measures TTLs on it
        ttl = self.config.dedup_ttl
        dedup_key, state_ops = reader.dedup_key, reader.state_ops
        ops: list[Op] = [new_add(key=dedup_key(event), value=DONE, ttl=ttl) for event in events]
        for event in events:
            ops += state_ops(event)  # idempotent: applied to re-deliveries too
        results = yield StoreBatch(tuple(ops))
        fresh = tuple([event for event, first in zip(events, results, strict=False) if first])
        by_body = self._by_body.get(platform)
        if by_body is not None:  # inlined, not self._apply(): a hot path (DESIGN §5)
            if fresh:
                yield from by_body.apply_fresh(fresh)
        else:
            apply_rest = reader.apply_rest
            for event in fresh:
                yield from apply_rest(event)
        return reader.answer(
            _new_outcome(
                status=200,
                body=b"OK",
                content_type="text/plain",
                events=fresh,
                duplicates=len(events) - len(fresh),
                error=None,
            )
        )

    def claim(
        self,
        platform: Platform,
        method: str,
        url: str,
        headers: Headers,
        body: bytes,
        *,
        token: bytes,
        lease: float | None = None,
    ) -> Flow[tuple[WebhookOutcome, Claim]]:
        """Claim the new events of a delivery for ``lease`` seconds (``omnimsg.claims``).

        The outcome answers ``503`` while another delivery holds one of the events, so that
        the platform comes back when that one has finished or failed.
        """
        got = self._verified(platform, method, url, headers, body)
        if isinstance(got, WebhookOutcome):
            return got, Claim()
        reader, events = got
        yield NOW
        keys = [reader.dedup_key(event) for event in events]
        ops = claim_ops(keys, token, self.config.lease if lease is None else lease)
        for event in events:
            ops.extend(reader.state_ops(event))
        results = yield StoreBatch(tuple(ops))
        claim = read_claims(events, keys, token, results)
        yield from self._apply(platform, reader, claim.events)
        busy = claim.busy > 0
        outcome = WebhookOutcome(
            status=503 if busy else 200,
            body=b"Busy: retry later" if busy else b"OK",
            events=claim.events,
            duplicates=claim.duplicates,
        )
        return (outcome if busy else reader.answer(outcome)), claim

    def settle(self, claim: Claim, keys: Sequence[str], *, handled: bool) -> Flow[None]:
        """Mark claimed events done (``handled``) or give them back for a redelivery."""
        if keys:
            ops = settle_ops(keys, claim.token, handled=handled, ttl=self.config.dedup_ttl)
            yield StoreBatch(tuple(ops))
