"""HTTP drivers: the small objects that actually talk to the network.

* :class:`HttpxDriver` - sync, the default of :class:`~omnimsg.Client`.
* :class:`AsyncHttpxDriver` - async, the default of :class:`~omnimsg.AsyncClient`.
* :class:`AiohttpDriver` - async on aiohttp, for high-throughput broadcasting (DESIGN §5:
  httpx's async client costs ~1-2 ms of CPU per request, aiohttp ~0.14 ms). Needs the
  ``omnimsg[aiohttp]`` extra.

Give a driver your own configured ``httpx.Client``/``aiohttp.ClientSession`` (proxies,
timeouts, an in-process transport...) or let it make one.

A failed request raises :class:`~omnimsg.TransportError` (or :class:`~omnimsg.Timeout`) with a
summary: the library's exception type and message, the method and the URL without its query.
The library's own exception is *not* chained (neither ``__cause__`` nor ``__context__``): it
holds the request, Authorization header included, and error reporters walk that chain.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import httpx

from ._core.effects import REDACTED, Request, Response, new_response, secrets_of
from .exceptions import Timeout, TransportError

if TYPE_CHECKING:
    import aiohttp

__all__ = ["AiohttpDriver", "AsyncHttpxDriver", "HttpxDriver"]

_DEFAULT_TIMEOUT = 30.0


def _summary(request: Request, exc: BaseException) -> str:
    """``"<method> <url without query> (<ExceptionType>: <message>)"``, credentials scrubbed."""
    where = f"{request.method} {request.url.split('?', 1)[0]}"
    message = str(exc)
    for secret in secrets_of(request):
        message = message.replace(secret, REDACTED)
    detail = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return f"{where} ({detail[:300]})"


def _httpx_error(request: Request, exc: httpx.TransportError) -> TransportError:
    summary = _summary(request, exc)
    if isinstance(exc, httpx.ConnectTimeout | httpx.ConnectError):
        # The connection never opened, so nothing reached the platform: safe to retry.
        return TransportError(f"could not connect for {summary}", retryable=True)
    if isinstance(exc, httpx.TimeoutException):
        return Timeout(f"timed out: {summary}")
    return TransportError(f"transport failed for {summary}")


class HttpxDriver:
    """Blocking HTTP over an ``httpx.Client`` (given, or one made and owned here)."""

    def __init__(
        self,
        client: httpx.Client | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = _DEFAULT_TIMEOUT,
    ) -> None:
        self._owned = client is None
        self.client = client or httpx.Client(transport=transport, timeout=timeout)

    def request(self, request: Request) -> Response:
        """Send ``request`` and return the answer."""
        try:
            r = self.client.request(
                request.method, request.url, headers=request.headers, content=request.body
            )
        except httpx.TransportError as exc:
            error = _httpx_error(request, exc)
        else:
            # httpx.Headers is already a case-insensitive mapping: no copy.
            return new_response(status=r.status_code, headers=r.headers, body=r.content)
        raise error  # outside the except block: httpx's exception is not the __context__

    def close(self) -> None:
        """Close the client if this driver made it."""
        if self._owned:
            self.client.close()


class AsyncHttpxDriver:
    """Async HTTP over an ``httpx.AsyncClient`` (given, or one made and owned here)."""

    def __init__(
        self,
        client: httpx.AsyncClient | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = _DEFAULT_TIMEOUT,
    ) -> None:
        self._owned = client is None
        self.client = client or httpx.AsyncClient(transport=transport, timeout=timeout)

    async def request(self, request: Request) -> Response:
        """Send ``request`` and return the answer."""
        try:
            r = await self.client.request(
                request.method, request.url, headers=request.headers, content=request.body
            )
        except httpx.TransportError as exc:
            error = _httpx_error(request, exc)
        else:
            return new_response(status=r.status_code, headers=r.headers, body=r.content)
        raise error  # outside the except block: httpx's exception is not the __context__

    async def aclose(self) -> None:
        """Close the client if this driver made it."""
        if self._owned:
            await self.client.aclose()


class AiohttpDriver:
    """Async HTTP over an ``aiohttp.ClientSession``: the fast path for broadcasts.

    The session is created lazily inside the running loop when not given.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession | None = None,
        *,
        timeout: float = _DEFAULT_TIMEOUT,
        limit: int = 100,
    ) -> None:
        try:
            import aiohttp
        except ImportError as exc:  # pragma: no cover - depends on the environment
            from .exceptions import ConfigurationError

            raise ConfigurationError("AiohttpDriver needs: pip install 'omnimsg[aiohttp]'") from exc
        self._aiohttp: Any = aiohttp
        self._owned = session is None
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._limit = limit

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = self._aiohttp.TCPConnector(limit=self._limit)
            self._session = self._aiohttp.ClientSession(
                connector=connector, timeout=self._timeout, auto_decompress=True
            )
        return self._session

    async def request(self, request: Request) -> Response:
        """Send ``request`` and return the answer."""
        session = self._get_session()
        aiohttp = self._aiohttp
        error: TransportError
        try:
            async with session.request(
                request.method, request.url, headers=request.headers, data=request.body
            ) as r:
                body = await r.read()
                # aiohttp's headers are a case-insensitive mapping: no copy.
                return new_response(status=r.status, headers=r.headers, body=body)
        except aiohttp.ClientConnectorError as exc:
            # The connection never opened, so nothing reached the platform: safe to retry.
            error = TransportError(
                f"could not connect for {_summary(request, exc)}", retryable=True
            )
        except TimeoutError as exc:
            error = Timeout(f"timed out: {_summary(request, exc)}")
        except aiohttp.ClientError as exc:
            # e.g. ClientResponseError: its request_info holds the request headers.
            error = TransportError(f"transport failed for {_summary(request, exc)}")
        except asyncio.CancelledError:
            raise
        raise error  # outside the except block: aiohttp's exception is not the __context__

    async def aclose(self) -> None:
        """Close the session if this driver made it."""
        if self._owned and self._session is not None:
            await self._session.close()
            self._session = None
