"""The asynchronous face: :class:`AsyncClient` (same method names as :class:`Client`)."""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import TypeVar

import httpx

from ._core.drive import AsyncDriver, run_async
from ._core.effects import Flow
from ._core.retry import RetryPolicy
from ._engine import Channel, Engine
from ._types import JSONObject, Platform
from .clock import Clock, SystemClock
from .drivers import AsyncHttpxDriver
from .models.content import Content
from .models.events import Event
from .models.refs import Address
from .models.results import MediaInfo, SendResult, TemplateInfo, Window
from .rules import Violation
from .stores import AsyncStore, MemoryStore, Store
from .webhooks import WebhookConfig, WebhookOutcome

__all__ = ["AsyncClient"]

T = TypeVar("T")


class AsyncClient:
    """Send and receive on every configured platform, asynchronously.

    Args:
        channels: the platform accounts, e.g. ``[WhatsApp(phone_number_id=..., ...)]``.
        store: where conversation state lives: an :class:`AsyncStore`, or a non-blocking store
            such as :class:`MemoryStore` (the default).
        clock: the time source (default: :class:`SystemClock`; tests pass a ``FakeClock``).
        driver: the HTTP driver (default: :class:`AsyncHttpxDriver`; :class:`AiohttpDriver` is faster).
        http_client: an ``httpx.AsyncClient`` for the default driver (proxies, timeouts...).
        transport: an ``httpx`` transport for the default driver (e.g. the in-process
            simulator from :mod:`omnimsg.testing`).
        retry: the retry policy (default: 3 attempts, only when safe).
        preflight: check the platform's rules before sending (default ``True``).
        webhooks: webhook settings (de-duplication TTL, body size limit).

    The same methods as :class:`Client`, awaited; close with ``await client.aclose()`` or
    ``async with``. For high-throughput broadcasts pass ``driver=AiohttpDriver()``.
    """

    def __init__(
        self,
        channels: Sequence[Channel],
        *,
        store: Store | AsyncStore | None = None,
        clock: Clock | None = None,
        driver: AsyncDriver | None = None,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
        preflight: bool = True,
        webhooks: WebhookConfig | None = None,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self.store: Store | AsyncStore = (
            store if store is not None else MemoryStore(clock=self.clock)
        )
        self._driver = driver or AsyncHttpxDriver(http_client, transport=transport)
        self._engine = Engine(
            channels,
            clock=self.clock,
            retry=retry or RetryPolicy(),
            preflight=preflight,
            webhook_config=webhooks or WebhookConfig(),
        )
        self.webhooks = AsyncWebhooks(self)
        """Webhook handling: :meth:`AsyncWebhooks.handle` and :meth:`AsyncWebhooks.parse`."""
        self.whatsapp = AsyncWhatsAppAPI(self)
        """WhatsApp-only operations: read receipts, media, templates."""

    async def _run(self, flow: Flow[T]) -> T:
        return await run_async(flow, self._driver, self.store, self.clock)

    async def send(
        self,
        to: Address,
        content: Content,
        *,
        reply_to: str | None = None,
        callback_data: str | None = None,
    ) -> SendResult:
        """Send ``content`` to ``to``; the same call on every platform.

        The platform's rules are checked first: a message the platform would refuse raises
        :class:`~omnimsg.PolicyViolation` before any request is made.

        Args:
            to: the customer.
            content: what to send (``Text``, ``Image``, ``Buttons``, ``Template``...).
            reply_to: quote this earlier message id.
            callback_data: your own string, echoed back in status webhooks.

        Raises:
            PolicyViolation: the rules forbid it now (e.g. the window is closed).
            PlatformError: the platform refused it (a subclass names why).
            TransportError: no answer from the platform.
        """
        return await self._run(self._engine.send(to, content, reply_to, callback_data))

    async def check(self, to: Address, content: Content) -> tuple[Violation, ...]:
        """The rules ``content`` would break if sent to ``to`` now (empty: it may be sent)."""
        return await self._run(self._engine.check(to, content))

    async def window(self, to: Address) -> Window:
        """The messaging window with ``to``: open or not, until when, what is allowed after."""
        return await self._run(self._engine.window(to))

    async def aclose(self) -> None:
        """Release HTTP connections this client opened."""
        await self._driver.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"AsyncClient(channels={list(self._engine.channels)!r})"


class AsyncWebhooks:
    """Inbound HTTP from the platforms: verify, parse, de-duplicate, update state."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def handle(
        self,
        platform: Platform,
        method: str,
        url: str,
        headers: Mapping[str, str] | Sequence[tuple[str, str]],
        body: bytes,
    ) -> WebhookOutcome:
        """Answer one webhook request (GET handshake or signed POST).

        Never raises for bad input: the outcome carries the status to answer with and, when
        the request was refused, the typed ``error``. New events are in ``events``;
        re-deliveries are dropped and counted in ``duplicates``.
        """
        return await self._client._run(
            self._client._engine.handle_webhook(platform, method, url, headers, body)
        )

    def parse(
        self,
        platform: Platform,
        headers: Mapping[str, str] | Sequence[tuple[str, str]],
        body: bytes,
    ) -> builtins.list[Event]:
        """Verify the signature and parse a POST body; no de-duplication, no state.

        Raises:
            SignatureError: the signature is missing or wrong.
            WebhookParseError: the body is too large or not the platform's envelope.
        """
        return self._client._engine.parse_webhook(platform, headers, body)


class AsyncWhatsAppAPI:
    """WhatsApp-only operations (``client.whatsapp``)."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client
        self.templates = AsyncWhatsAppTemplates(client)
        """Template management."""

    async def mark_read(
        self, message_id: str, *, typing: bool = False, account: str | None = None
    ) -> bool:
        """Mark an inbound message (and earlier ones) read; ``typing`` also shows the indicator."""
        return await self._client._run(
            self._client._engine.wa_mark_read(message_id, typing, account)
        )

    async def upload_media(
        self, data: bytes, *, mime_type: str, filename: str = "file", account: str | None = None
    ) -> str:
        """Upload media and return its id (valid 30 days)."""
        return await self._client._run(
            self._client._engine.wa_upload(data, mime_type, filename, account)
        )

    async def media_info(self, media_id: str, *, account: str | None = None) -> MediaInfo:
        """The download URL (short-lived, needs the token) and metadata of a media id."""
        return await self._client._run(self._client._engine.wa_media_info(media_id, account))

    async def download_media(self, media_id: str, *, account: str | None = None) -> bytes:
        """The bytes of a media id (inbound or uploaded)."""
        return await self._client._run(self._client._engine.wa_download(media_id, account))

    async def delete_media(self, media_id: str, *, account: str | None = None) -> bool:
        """Delete uploaded media."""
        return await self._client._run(self._client._engine.wa_delete_media(media_id, account))


class AsyncWhatsAppTemplates:
    """WhatsApp message templates (``client.whatsapp.templates``)."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def create(
        self,
        name: str,
        *,
        language: str,
        category: str,
        components: Sequence[JSONObject],
        parameter_format: str | None = None,
        account: str | None = None,
    ) -> TemplateInfo:
        """Submit a template for review; it starts ``PENDING``."""
        return await self._client._run(
            self._client._engine.wa_create_template(
                name, language, category, components, parameter_format, account
            )
        )

    async def list(
        self, *, status: str | None = None, account: str | None = None
    ) -> builtins.list[TemplateInfo]:
        """All templates (optionally only those with ``status``); refreshes pre-flight's cache."""
        return await self._client._run(self._client._engine.wa_list_templates(status, account))

    async def delete(
        self, name: str, *, template_id: str | None = None, account: str | None = None
    ) -> bool:
        """Delete a template by name (all languages), or one language by ``template_id``."""
        return await self._client._run(
            self._client._engine.wa_delete_template(name, template_id, account)
        )
