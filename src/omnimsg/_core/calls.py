"""The one request loop: send, map errors, retry when safe, through the injected clock."""

from __future__ import annotations

from collections.abc import Callable

from ..exceptions import PlatformError, RateLimited, TransportError
from .effects import Flow, Request, Response, Sleep
from .retry import RetryPolicy


def call(
    request: Request,
    retry: RetryPolicy,
    map_error: Callable[[Response], PlatformError],
    *,
    failed: Callable[[Response], bool] | None = None,
    final: Callable[[PlatformError], bool] | None = None,
) -> Flow[Response]:
    """Yield ``request`` until it succeeds or the policy gives up; raise the typed error.

    A response fails when its status is 400 or more, or when ``failed`` says so (WeChat
    answers its errors with HTTP 200 and an ``errcode``). An error ``final`` accepts is raised
    at once, never waited out (LINE's monthly limit, a 409 "retry key accepted", a token
    the platform refused).
    """
    attempt = 1
    while True:
        try:
            response: Response = yield request
        except TransportError as exc:
            delay = retry.delay(
                attempt, status=None, idempotent=request.idempotent, connect_failed=exc.retryable
            )
            if delay is None:
                raise
        else:
            if response.status < 400 and (failed is None or not failed(response)):
                return response
            error = map_error(response)
            if final is not None and final(error):
                raise error
            delay = retry.delay(
                attempt,
                status=response.status,
                idempotent=request.idempotent,
                retry_after=error.retry_after if isinstance(error, RateLimited) else None,
                # Throttled, or a temporary failure the platform says it did not act on.
                rate_limited=isinstance(error, RateLimited) or error.retryable,
            )
            if delay is None:
                raise error
        yield Sleep(delay)
        attempt += 1
