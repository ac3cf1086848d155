"""WeChat access tokens and the one API call loop (spec/wechat.md §4, §8; research §1.3-1.5, §4).

Every API call carries ``?access_token=``. The token comes from:

* the channel's fixed ``access_token`` (a central token service of your own): used as it
  is, never fetched; when WeChat refuses it the error says so and nothing is retried;
* otherwise the Store (``state.access_token_key``), fetched **once across every worker
  sharing it** through :func:`omnimsg.platforms.credential` (an ``Add`` lock; the others
  wait through the clock and read what the winner stored), from ``POST /cgi-bin/stable_token``
  (``token_endpoint="stable"``, the default) or ``GET /cgi-bin/token`` (``"classic"``). It is
  kept until ``refresh_early`` seconds before ``expires_in`` ends (at least half its
  lifetime: a stable token may come with only 300 s left, research §4).

When an API answers 40001, 40014 or 42001 the token is dropped from the Store (only if it
still holds that token: a newer one another worker stored is kept) and the call is made
**once** more with a fresh token; a second refusal raises :class:`AuthenticationError`.
wechatpy retries without a bound and loops until ``RecursionError`` (research §1.5).

Other failures go through the client's :class:`RetryPolicy`: no answer at all (a connection
that never opened), a 5xx or errcode -1 for an idempotent request (reads; a template with a
``client_msg_id``), never for a send that may have gone out; 45011 (per minute) and 45009
(per day) are not waited for.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from ..._core.calls import call as shared_call
from ..._core.credentials import Refresh, credential
from ..._core.effects import Flow, Request, Response, StoreBatch, new_request
from ..._core.retry import RetryPolicy
from ..._types import JSON
from ...exceptions import (
    AuthenticationError,
    PlatformError,
    PolicyRejected,
    ServerError,
)
from ...stores.ops import DeleteIf
from .channel import WeChat
from .errors import TOKEN_CODES, errcode_of, map_error
from .state import access_token_key

__all__ = ["access_token", "api", "call", "fetch_token", "refused", "token_key"]


def token_key(ch: WeChat) -> str:
    """The Store key of the channel's cached token (per AppID and endpoint)."""
    return access_token_key(ch.app_id, ch.token_endpoint)


def _secrets(ch: WeChat, token: str | None = None) -> tuple[str, ...]:
    return tuple(s for s in (ch.app_secret, ch.access_token, token) if s)


def _decode(response: Response) -> dict[str, Any] | None:
    try:
        data = json.loads(response.body) if response.body else {}
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _failed(response: Response) -> bool:
    # WeChat answers its errors with HTTP 200 and a non-zero errcode (spec §8).
    data = _decode(response)
    return data is None or errcode_of(data) != 0


def _final(error: PlatformError) -> bool:
    # Token refusals are retried by :func:`api` with a new token, never waited out; a window,
    # a consent or a daily quota does not reopen by waiting either.
    return isinstance(error, AuthenticationError | PolicyRejected) or error.code == 45009


def call(req: Request, retry: RetryPolicy, secrets: Sequence[str]) -> Flow[dict[str, Any]]:
    """:func:`omnimsg.platforms.call` for WeChat: until WeChat answers errcode 0 or the policy
    gives up (module docstring); the decoded answer. A ``-1`` is retried only where the
    request is idempotent (its error is ``retryable`` then)."""
    response = yield from shared_call(
        req,
        retry,
        lambda answer: map_error(answer, secrets, idempotent=req.idempotent),
        failed=_failed,
        final=_final,
    )
    return _decode(response) or {}


def fetch_token(ch: WeChat, retry: RetryPolicy) -> Flow[tuple[str, float]]:
    """Fetch a token from the channel's endpoint: ``(token, seconds to keep it)``.

    ``POST /cgi-bin/stable_token`` with ``{"grant_type": "client_credential", "appid",
    "secret", "force_refresh": false}``, or ``GET /cgi-bin/token?grant_type=client_credential
    &appid=&secret=`` (§4). 40164 (IP whitelist), 89503 (risky IP), 40243 (AppSecret frozen),
    40125 (wrong AppSecret) are raised with an explanation.
    """
    secret = ch.app_secret or ""
    if ch.token_endpoint == "stable":
        body = {
            "grant_type": "client_credential",
            "appid": ch.app_id,
            "secret": secret,
            "force_refresh": False,
        }
        req = new_request(
            method="POST",
            url=ch.url("/cgi-bin/stable_token"),
            headers=(("content-type", "application/json"),),
            body=json.dumps(body, separators=(",", ":")).encode(),
            idempotent=True,  # returns the same token while it is valid
            operation="wechat.token.stable",
        )
    else:
        query = urlencode({"grant_type": "client_credential", "appid": ch.app_id, "secret": secret})
        req = new_request(
            method="GET",
            url=ch.url("/cgi-bin/token") + "?" + query,
            headers=(),
            body=None,
            # A repeat invalidates the previous token only after 5 minutes (§4.1).
            idempotent=True,
            operation="wechat.token.classic",
        )
    data = yield from call(req, retry, _secrets(ch))
    token, expires_in = data.get("access_token"), data.get("expires_in", 7200)
    if not isinstance(token, str) or not token:
        raise ServerError(
            "WeChat answered the token request without an access_token",
            platform="wechat",
            http_status=200,
        )
    lifetime = float(expires_in) if type(expires_in) in (int, float) else 7200.0
    # credential() keeps it lifetime - margin; never less than half its lifetime.
    keep = max(lifetime - ch.refresh_early, lifetime / 2)
    return token, keep + ch.refresh_early


def access_token(ch: WeChat, retry: RetryPolicy) -> Flow[str]:
    """The token to call with: the fixed one, or the Store's (fetched once across workers)."""
    if ch.access_token is not None:
        return ch.access_token
    return (
        yield from credential(
            token_key(ch), lambda: fetch_token(ch, retry), Refresh(margin=ch.refresh_early)
        )
    )


def refused(ch: WeChat, token: str) -> Flow[None]:
    """Drop ``token`` from the Store after WeChat refused it, unless another worker stored a
    newer one meanwhile (a compare-and-delete, so a fresh token is never thrown away)."""
    yield StoreBatch((DeleteIf(token_key(ch), token.encode()),))


def _fixed_refused(exc: PlatformError) -> AuthenticationError:
    return AuthenticationError(
        f"{exc} (the channel's access_token= is fixed, so omnimsg fetches no other: give it "
        "the current token from your central token service)",
        platform="wechat",
        code=exc.code,
        http_status=exc.http_status,
        request_id=exc.request_id,
        details=exc.details,
        raw=exc.raw,
    )


def api(
    ch: WeChat,
    method: str,
    path: str,
    *,
    retry: RetryPolicy,
    operation: str,
    query: Sequence[tuple[str, str]] = (),
    body: JSON = None,
    data: bytes | None = None,
    content_type: str | None = None,
    idempotent: bool = False,
) -> Flow[dict[str, Any]]:
    """Call a WeChat API with the access token; the decoded answer (errcode 0).

    ``body`` is sent as UTF-8 JSON (Chinese as it is, like wechatpy), ``data`` as raw bytes
    of ``content_type`` (a multipart upload). A refused token is replaced once.
    """
    raw: bytes | None
    headers: tuple[tuple[str, str], ...]
    if data is not None:
        raw, headers = data, (("content-type", content_type or "application/octet-stream"),)
    elif body is not None:
        raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        headers = (("content-type", "application/json"),)
    else:
        raw, headers = None, ()
    fresh = False
    while True:
        token = yield from access_token(ch, retry)
        url = ch.url(path) + "?" + urlencode([*query, ("access_token", token)])
        req = new_request(
            method=method,
            url=url,
            headers=headers,
            body=raw,
            idempotent=idempotent,
            operation=operation,
        )
        try:
            return (yield from call(req, retry, _secrets(ch, token)))
        except AuthenticationError as exc:
            if exc.code not in TOKEN_CODES:
                raise
            if ch.access_token is not None:
                raise _fixed_refused(exc) from None
            if fresh:
                raise
            fresh = True
            yield from refused(ch, token)
