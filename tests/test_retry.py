"""The pure retry policy: only safe retries, bounded, honouring Retry-After; and what a
transport failure tells the caller (nothing secret)."""

from __future__ import annotations

import random

import httpx
import pytest

from omnimsg import (
    Address,
    AsyncClient,
    Client,
    ConfigurationError,
    OmniMsgError,
    RetryPolicy,
    Text,
    Timeout,
    TransportError,
    WhatsApp,
)
from omnimsg.clock import FakeClock


def policy(**kw: object) -> RetryPolicy:
    return RetryPolicy(rng=random.Random(7), **kw)  # type: ignore[arg-type]


def test_sends_are_not_retried_after_a_5xx_or_timeout() -> None:
    p = policy()
    assert p.delay(1, status=500, idempotent=False) is None
    assert p.delay(1, status=None, idempotent=False) is None  # timeout: it may have been sent


def test_safe_cases_are_retried() -> None:
    p = policy()
    assert p.delay(1, status=None, idempotent=False, connect_failed=True) is not None
    assert p.delay(1, status=429, idempotent=False) is not None
    assert p.delay(1, status=400, idempotent=False, rate_limited=True) is not None
    assert p.delay(1, status=503, idempotent=True) is not None
    assert p.delay(1, status=400, idempotent=True) is None


def test_bounded_and_jittered_exponential_backoff() -> None:
    p = policy(max_attempts=4, base_delay=1.0, max_delay=3.0)
    delays = [p.delay(a, status=429, idempotent=False) for a in (1, 2, 3)]
    assert all(d is not None for d in delays)
    assert delays[0] <= 1.0 and delays[1] <= 2.0 and delays[2] <= 3.0  # type: ignore[operator]
    assert p.delay(4, status=429, idempotent=False) is None


def test_retry_after_is_honoured_up_to_the_cap() -> None:
    p = policy(max_delay=30)
    assert p.delay(1, status=429, idempotent=False, retry_after=12) == 12
    assert p.delay(1, status=429, idempotent=False, retry_after=300) is None


def test_never_and_validation() -> None:
    assert RetryPolicy.never().delay(1, status=429, idempotent=True) is None
    with pytest.raises(ConfigurationError):
        RetryPolicy(max_attempts=0)


# --- no secret in a transport error (issue #6, section 3, item 10) ---------------------------

TOKEN = "EAAGm0PX4ZCpsBA-very-secret-token"


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or any(e is s for s in seen):
            continue
        seen.append(e)
        todo += [e.__cause__, e.__context__]
    return seen


def assert_no_secret(exc: BaseException) -> None:
    chain = _chain(exc)
    assert all(isinstance(e, OmniMsgError) for e in chain), chain  # no httpx/aiohttp object
    for e in chain:
        for text in (repr(e), str(e), repr(vars(e)), repr(e.args)):
            assert TOKEN not in text, text


def _raising(exc_type: type[httpx.TransportError]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == f"Bearer {TOKEN}"  # it was really sent
        # A library message may quote what it sent: omnimsg must scrub it from its summary.
        auth = request.headers["authorization"]
        raise exc_type(f"boom while sending to {request.url} with {auth}", request=request)

    return httpx.MockTransport(handler)


def _client(transport: httpx.MockTransport) -> Client:
    channel = WhatsApp(phone_number_id="1001", access_token=TOKEN)
    return Client([channel], transport=transport, clock=FakeClock(), preflight=False)


@pytest.mark.parametrize(
    ("exc_type", "error_type"),
    [
        (httpx.ReadTimeout, Timeout),
        (httpx.ConnectError, TransportError),
        (httpx.RemoteProtocolError, TransportError),
    ],
)
def test_a_transport_error_carries_no_token_sync(
    exc_type: type[httpx.TransportError], error_type: type[TransportError]
) -> None:
    with _client(_raising(exc_type)) as client:
        with pytest.raises(error_type) as caught:
            client.send(Address("whatsapp", "15550001"), Text("hi"))
        assert exc_type.__name__ in str(caught.value)  # a useful summary is kept
        assert "graph.facebook.com" in str(caught.value)
        assert_no_secret(caught.value)
        with pytest.raises(error_type) as caught:
            client.whatsapp.media_info("m1")  # idempotent: retried, then the same error
        assert_no_secret(caught.value)


@pytest.mark.anyio
@pytest.mark.parametrize("exc_type", [httpx.ReadTimeout, httpx.ConnectError])
async def test_a_transport_error_carries_no_token_async(
    exc_type: type[httpx.TransportError],
) -> None:
    channel = WhatsApp(phone_number_id="1001", access_token=TOKEN)
    async with AsyncClient(
        [channel], transport=_raising(exc_type), clock=FakeClock(), preflight=False
    ) as client:
        with pytest.raises(TransportError) as caught:
            await client.send(Address("whatsapp", "15550001"), Text("hi"))
        assert exc_type.__name__ in str(caught.value)
        assert_no_secret(caught.value)


def test_request_repr_hides_credentials() -> None:
    from omnimsg._core.effects import Request

    request = Request(
        "GET",
        f"https://api.example/cgi-bin/x?access_token={TOKEN}&media_id=1",
        headers=(("Authorization", f"Bearer {TOKEN}"), ("content-type", "application/json")),
        body=b'{"to":"15550001"}',
    )
    shown = repr(request)
    assert TOKEN not in shown
    assert "media_id=1" in shown and "application/json" in shown
    assert request.headers[0][1] == f"Bearer {TOKEN}"  # only the repr is redacted


def test_a_signed_assertion_in_the_query_is_redacted_too() -> None:
    from omnimsg._core.effects import Request

    """LINE's ``GET /oauth2/v2.1/tokens/kid`` carries a signed JWT in the query: a credential
    for its 30 minutes, so it never reaches a log through a request's repr."""
    assertion = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiIxNjU3In0.c2lnbmF0dXJl"
    request = Request(
        "GET",
        "https://api.line.me/oauth2/v2.1/tokens/kid?client_assertion_type=urn%3Ajwt"
        f"&client_assertion={assertion}",
    )
    shown = repr(request)
    assert assertion not in shown and "client_assertion_type=urn%3Ajwt" in shown
