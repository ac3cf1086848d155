"""HTTP drivers: the small objects that actually talk to the network.

* :class:`HttpxDriver` - sync, the default of :class:`~omnimsg.Client`.
* :class:`AsyncHttpxDriver` - async, the default of :class:`~omnimsg.AsyncClient`.
* :class:`AiohttpDriver` - async on aiohttp, for high-throughput broadcasting (DESIGN §5:
  httpx's async client costs ~1-2 ms of CPU per request, aiohttp ~0.14 ms). Needs the
  ``omnimsg[aiohttp]`` extra.

Give a driver your own configured ``httpx.Client``/``aiohttp.ClientSession`` (proxies,
timeouts, an in-process transport...) or let it make one.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import httpx

from ._core.effects import Request, Response, new_response
from .exceptions import Timeout, TransportError

if TYPE_CHECKING:
    import aiohttp

__all__ = ["AiohttpDriver", "AsyncHttpxDriver", "HttpxDriver"]

_DEFAULT_TIMEOUT = 30.0


def _httpx_error(request: Request, exc: httpx.TransportError) -> TransportError:
    where = f"{request.method} {request.url.split('?', 1)[0]}"
    if isinstance(exc, httpx.ConnectTimeout | httpx.ConnectError):
        # The connection never opened, so nothing reached the platform: safe to retry.
        return TransportError(f"could not connect for {where}: {exc}", retryable=True)
    if isinstance(exc, httpx.TimeoutException):
        return Timeout(f"timed out: {where}")
    return TransportError(f"transport failed for {where}: {type(exc).__name__}")


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
            raise _httpx_error(request, exc) from None
        # httpx.Headers is already a case-insensitive mapping: no copy.
        return new_response(status=r.status_code, headers=r.headers, body=r.content)

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
            raise _httpx_error(request, exc) from None
        return new_response(status=r.status_code, headers=r.headers, body=r.content)

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
        try:
            async with session.request(
                request.method, request.url, headers=request.headers, data=request.body
            ) as r:
                body = await r.read()
                # aiohttp's headers are a case-insensitive mapping: no copy.
                return new_response(status=r.status, headers=r.headers, body=body)
        except aiohttp.ClientConnectorError as exc:
            raise TransportError(
                f"could not connect for {request.method}: {exc}", retryable=True
            ) from None
        except TimeoutError:
            raise Timeout(f"timed out: {request.method} {request.url.split('?', 1)[0]}") from None
        except aiohttp.ClientError as exc:
            raise TransportError(f"transport failed: {type(exc).__name__}") from None
        except asyncio.CancelledError:
            raise

    async def aclose(self) -> None:
        """Close the session if this driver made it."""
        if self._owned and self._session is not None:
            await self._session.close()
            self._session = None
