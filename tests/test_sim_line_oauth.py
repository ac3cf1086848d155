"""The simulated LINE channel access tokens (spec/line.md §5; research §1.2), on the virtual
clock: issue, verify, revoke and expire each kind, through :class:`Tokens` with hand-built
``SimRequest``s, answers checked against the official ``line-bot-sdk`` v3 OAuth models. A
hypothesis fuzz sends hostile forms: every refusal is a 400 in the OAuth shape
(``{"error", "error_description"}``) and changes nothing.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omnimsg.testing import DEFAULT_LINE, line_sim_config
from omnimsg_sim import InProcessSimulator
from omnimsg_sim.config import LineAccount
from omnimsg_sim.effects import SimRequest, SimResponse
from omnimsg_sim.platforms.line import oauth
from omnimsg_sim.platforms.line.oauth import JWT_BEARER, Tokens
from simctl import run
from test_sim_line_richmenu import ServerThread

BOT_A, BOT_B = "U" + "a" * 32, "U" + "b" * 32
A = LineAccount(
    bot_user_id=BOT_A, channel_id="1001", channel_secret="secret-a", channel_access_token="long-a"
)
B = LineAccount(
    bot_user_id=BOT_B, channel_id="1002", channel_secret="secret-b", channel_access_token="long-b"
)
FORM = "application/x-www-form-urlencoded"
DAY = 86_400


def jwt(claims: dict[str, Any], header: dict[str, Any] | None = None) -> str:
    """An assertion as LINE's docs build one (the signature is junk: it is not checked)."""

    def part(value: Any) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    head = header or {"alg": "RS256", "typ": "JWT", "kid": "kid-1"}
    return f"{part(head)}.{part(claims)}.c2lnbmF0dXJl"


def claims(channel: str = "1001", **more: Any) -> dict[str, Any]:
    return {
        "iss": channel,
        "sub": channel,
        "aud": "https://api.line.me/",
        "exp": 1_900_000_000,
        "token_exp": 86_400,
        **more,
    }


class Clock:
    """The tokens and a virtual clock (seconds)."""

    def __init__(self) -> None:
        self.tokens = Tokens([A, B])
        self.now = 1_772_442_000.0

    def raw(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        *,
        kind: str | None = FORM,
        query: dict[str, list[str]] | None = None,
    ) -> SimResponse:
        headers = {} if kind is None else {"content-type": kind}
        req = SimRequest(method=method, path=path, body=body, headers=headers, query=query or {})
        return run(self.tokens.route(req, self.now))

    def post(self, path: str, **fields: str) -> tuple[int, Any]:
        r = self.raw("POST", path, urlencode(fields).encode())
        return r.status, json.loads(r.body)

    def get(self, path: str, **fields: str) -> tuple[int, Any]:
        r = self.raw("GET", path, kind=None, query={k: [v] for k, v in fields.items()})
        return r.status, json.loads(r.body)

    def short(self, client_id: str = "1001", secret: str = "secret-a") -> str:
        status, body = self.post(
            "/v2/oauth/accessToken",
            grant_type="client_credentials",
            client_id=client_id,
            client_secret=secret,
        )
        assert status == 200, body
        token: str = body["access_token"]
        return token

    def verify(self, token: str) -> tuple[int, Any]:
        return self.post("/v2/oauth/verify", access_token=token)


def oauth_error(body: dict[str, Any], error: str) -> None:
    assert set(body) == {"error", "error_description"}, body
    assert body["error"] == error and isinstance(body["error_description"], str)


# --- each kind --------------------------------------------------------------------------------


def test_stateless_by_secret_and_by_jwt_expire_after_15_minutes() -> None:
    from linebot.v3.oauth.models import IssueStatelessChannelAccessTokenResponse

    c = Clock()
    status, body = c.post(
        "/oauth2/v3/token",
        grant_type="client_credentials",
        client_id="1001",
        client_secret="secret-a",
    )
    assert status == 200
    parsed = IssueStatelessChannelAccessTokenResponse.from_dict(body)
    assert (parsed.expires_in, parsed.token_type) == (900, "Bearer")
    by_secret = parsed.access_token
    status, body = c.post(
        "/oauth2/v3/token",
        grant_type="client_credentials",
        client_assertion_type=JWT_BEARER,
        client_assertion=jwt(claims("1002")),
    )
    assert status == 200
    by_jwt = body["access_token"]
    assert by_secret != by_jwt
    assert "secret-a" not in by_secret and "secret-b" not in by_jwt
    assert c.tokens.bot_for(by_secret, c.now) == BOT_A
    assert c.tokens.bot_for(by_jwt, c.now) == BOT_B

    # stateless tokens cannot be revoked: the call changes nothing
    assert c.post("/v2/oauth/revoke", access_token=by_secret) == (200, {})
    assert c.tokens.bot_for(by_secret, c.now) == BOT_A

    c.now += 899
    assert c.tokens.bot_for(by_secret, c.now) == BOT_A
    c.now += 1
    assert c.tokens.bot_for(by_secret, c.now) is None
    assert c.tokens.bot_for(by_jwt, c.now) is None
    status, body = c.verify(by_secret)
    assert status == 400 and body == {
        "error": "invalid_request",
        "error_description": "access token expired",
    }


def test_short_lived_issue_verify_revoke_and_30_days() -> None:
    from linebot.v3.oauth.models import (
        IssueShortLivedChannelAccessTokenResponse,
        VerifyChannelAccessTokenResponse,
    )

    c = Clock()
    status, body = c.post(
        "/v2/oauth/accessToken",
        grant_type="client_credentials",
        client_id="1001",
        client_secret="secret-a",
    )
    parsed = IssueShortLivedChannelAccessTokenResponse.from_dict(body)
    assert (status, parsed.expires_in, parsed.token_type) == (200, 2_592_000, "Bearer")
    token = parsed.access_token
    status, body = c.verify(token)
    verified = VerifyChannelAccessTokenResponse.from_dict(body)
    assert (status, verified.client_id, verified.expires_in) == (200, "1001", 2_592_000)
    c.now += 10 * DAY + 0.5
    assert c.verify(token)[1]["expires_in"] == 20 * DAY - 1  # seconds left, rounded down
    c.now += 20 * DAY - 1
    assert c.tokens.bot_for(token, c.now) == BOT_A
    c.now += 1
    assert c.tokens.bot_for(token, c.now) is None
    assert c.verify(token)[1]["error_description"] == "access token expired"

    other = c.short()
    assert c.post("/v2/oauth/revoke", access_token=other) == (200, {})
    assert c.tokens.bot_for(other, c.now) is None
    status, body = c.verify(other)
    oauth_error(body, "invalid_request")
    # revoking again, or a token never issued: no error (RFC 7009), nothing changes
    assert c.post("/v2/oauth/revoke", access_token=other) == (200, {})
    assert c.post("/v2/oauth/revoke", access_token="never-issued") == (200, {})


def test_at_most_30_valid_short_lived_tokens_per_channel() -> None:
    c = Clock()
    first = [c.short() for _ in range(30)]
    assert len(set(first)) == 30
    status, body = c.post(
        "/v2/oauth/accessToken",
        grant_type="client_credentials",
        client_id="1001",
        client_secret="secret-a",
    )
    assert status == 400
    oauth_error(body, "invalid_request")
    c.short("1002", "secret-b")  # each channel has its own count
    # a revoked token frees its place; so does an expired one
    c.post("/v2/oauth/revoke", access_token=first[0])
    c.short()
    assert (
        c.post(
            "/v2/oauth/accessToken",
            grant_type="client_credentials",
            client_id="1001",
            client_secret="secret-a",
        )[0]
        == 400
    )
    c.now += 30 * DAY
    assert all(c.tokens.bot_for(t, c.now) is None for t in first)
    c.short()


def test_v21_token_by_jwt_with_its_own_lifetime_and_key_id() -> None:
    from linebot.v3.oauth.models import (
        ChannelAccessTokenKeyIdsResponse,
        IssueChannelAccessTokenResponse,
        VerifyChannelAccessTokenResponse,
    )

    c = Clock()
    status, body = c.post(
        "/oauth2/v2.1/token",
        grant_type="client_credentials",
        client_assertion_type=JWT_BEARER,
        client_assertion=jwt(claims(token_exp=3600)),
    )
    parsed = IssueChannelAccessTokenResponse.from_dict(body)
    assert (status, parsed.expires_in, parsed.token_type) == (200, 3600, "Bearer")
    token, kid = parsed.access_token, parsed.key_id
    assert kid

    status, body = c.get("/oauth2/v2.1/verify", access_token=token)
    verified = VerifyChannelAccessTokenResponse.from_dict(body)
    assert (status, verified.client_id, verified.expires_in) == (200, "1001", 3600)
    assert c.tokens.bot_for(token, c.now) == BOT_A

    assertion = {"client_assertion_type": JWT_BEARER, "client_assertion": jwt(claims())}
    status, body = c.get("/oauth2/v2.1/tokens/kid", **assertion)
    assert ChannelAccessTokenKeyIdsResponse.from_dict(body).kids == [kid]
    assert c.get(
        "/oauth2/v2.1/tokens/kid",
        client_assertion_type=JWT_BEARER,
        client_assertion=jwt(claims("1002")),
    ) == (200, {"kids": []})

    # revoking needs the channel's own id and secret
    status, body = c.post(
        "/oauth2/v2.1/revoke", client_id="1001", client_secret="wrong", access_token=token
    )
    oauth_error(body, "invalid_client")
    assert c.post(
        "/oauth2/v2.1/revoke", client_id="1002", client_secret="secret-b", access_token=token
    ) == (200, {})
    assert c.tokens.bot_for(token, c.now) == BOT_A  # another channel's token: not revoked
    assert c.post(
        "/oauth2/v2.1/revoke", client_id="1001", client_secret="secret-a", access_token=token
    ) == (200, {})
    assert c.tokens.bot_for(token, c.now) is None
    assert c.get("/oauth2/v2.1/tokens/kid", **assertion) == (200, {"kids": []})

    status, body = c.post(
        "/oauth2/v2.1/token",
        grant_type="client_credentials",
        client_assertion_type=JWT_BEARER,
        client_assertion=jwt(claims(token_exp=60)),
    )
    c.now += 60
    assert c.tokens.bot_for(body["access_token"], c.now) is None


@pytest.mark.parametrize(
    ("claim", "error"),
    [
        ({"token_exp": 30 * DAY + 1}, "invalid_grant"),
        ({"token_exp": 0}, "invalid_grant"),
        ({"token_exp": 10**40}, "invalid_grant"),
        ({"token_exp": "3600"}, "invalid_grant"),
        ({"token_exp": True}, "invalid_grant"),
        ({"iss": "9999", "sub": "9999"}, "invalid_client"),
        ({"iss": 1001}, "invalid_client"),
        ({"sub": "1002"}, "invalid_client"),
        ({"aud": "https://evil.example/"}, "invalid_grant"),
    ],
)
def test_v21_refusals(claim: dict[str, Any], error: str) -> None:
    c = Clock()
    status, body = c.post(
        "/oauth2/v2.1/token",
        grant_type="client_credentials",
        client_assertion_type=JWT_BEARER,
        client_assertion=jwt(claims(**claim)),
    )
    assert status == 400
    oauth_error(body, error)
    assert c.tokens.state()["tokens"]["1001"]["v2.1"] == 0


def test_at_most_30_valid_v21_tokens_and_30_days_is_the_longest() -> None:
    c = Clock()
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": JWT_BEARER,
        "client_assertion": jwt(claims(token_exp=30 * DAY)),
    }
    for _ in range(30):
        assert c.post("/oauth2/v2.1/token", **form)[0] == 200
    status, body = c.post("/oauth2/v2.1/token", **form)
    assert status == 400
    oauth_error(body, "invalid_request")


def test_the_configured_long_lived_token() -> None:
    c = Clock()
    assert c.tokens.bot_for("long-a", c.now) == BOT_A
    assert c.tokens.bot_for("long-b", c.now + 10**9) == BOT_B
    status, body = c.verify("long-a")
    assert status == 200 and body["client_id"] == "1001"
    assert body["expires_in"] == oauth.LONG_LIVED_EXPIRES_IN
    assert c.post("/v2/oauth/revoke", access_token="long-a") == (200, {})
    assert c.tokens.bot_for("long-a", c.now) is None
    assert c.verify("long-a")[0] == 400
    assert c.tokens.bot_for("long-b", c.now) == BOT_B
    assert c.tokens.state()["revoked_long_lived"] == ["1001"]


def test_tokens_are_deterministic_and_unknown_ones_are_not_anyones() -> None:
    a, b = Clock(), Clock()
    assert [a.short() for _ in range(3)] == [b.short() for _ in range(3)]
    assert a.tokens.bot_for("", a.now) is None
    assert a.tokens.bot_for("secret-a", a.now) is None
    assert a.tokens.bot_for("\ud800", a.now) is None


# --- refusals -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "fields", "error"),
    [
        ("/v2/oauth/accessToken", {}, "invalid_request"),
        (
            "/v2/oauth/accessToken",
            {"grant_type": "client_credentials", "client_id": "1001"},
            "invalid_request",
        ),
        (
            "/v2/oauth/accessToken",
            {"grant_type": "password", "client_id": "1001", "client_secret": "secret-a"},
            "invalid_request",
        ),
        (
            "/v2/oauth/accessToken",
            {"grant_type": "client_credentials", "client_id": "1001", "client_secret": "secret-b"},
            "invalid_client",
        ),
        (
            "/v2/oauth/accessToken",
            {"grant_type": "client_credentials", "client_id": "9", "client_secret": "secret-a"},
            "invalid_client",
        ),
        ("/oauth2/v3/token", {"grant_type": "client_credentials"}, "invalid_request"),
        (
            "/oauth2/v3/token",
            {
                "grant_type": "client_credentials",
                "client_assertion_type": "x",
                "client_assertion": "a.b.c",
            },
            "invalid_request",
        ),
        (
            "/oauth2/v3/token",
            {
                "grant_type": "client_credentials",
                "client_assertion_type": JWT_BEARER,
                "client_assertion": "not-a-jwt",
            },
            "invalid_grant",
        ),
        (
            "/oauth2/v3/token",
            {
                "grant_type": "client_credentials",
                "client_assertion_type": JWT_BEARER,
                "client_assertion": "a.b.c",
            },
            "invalid_grant",
        ),
        (
            "/oauth2/v3/token",
            {
                "grant_type": "client_credentials",
                "client_assertion_type": JWT_BEARER,
                "client_assertion": jwt(claims(), {"alg": "none"}),
            },
            "invalid_grant",
        ),
        (
            "/oauth2/v3/token",
            {
                "grant_type": "client_credentials",
                "client_assertion_type": JWT_BEARER,
                "client_assertion": jwt([1]),
            },
            "invalid_grant",
        ),  # type: ignore[arg-type]
        ("/oauth2/v2.1/token", {"grant_type": "client_credentials"}, "invalid_request"),
        ("/v2/oauth/verify", {}, "invalid_request"),
        ("/v2/oauth/verify", {"access_token": "never-issued"}, "invalid_request"),
        ("/v2/oauth/revoke", {}, "invalid_request"),
        ("/oauth2/v2.1/revoke", {"access_token": "x"}, "invalid_request"),
    ],
)
def test_form_refusals(path: str, fields: dict[str, str], error: str) -> None:
    c = Clock()
    before = c.tokens.state()
    status, body = c.post(path, **fields)
    assert status == 400
    oauth_error(body, error)
    assert c.tokens.state() == before


def test_bodies_that_are_not_forms() -> None:
    c = Clock()
    good = urlencode(
        {"grant_type": "client_credentials", "client_id": "1001", "client_secret": "secret-a"}
    )
    for body, kind in [
        (good.encode(), "application/json"),
        (good.encode(), None),
        (b'{"grant_type": "client_credentials"}', "application/json"),
        (good.encode() + b"&client_id=1002", FORM),  # a field twice
        (b"grant_type=client_credentials&client_id=1001&client_secret=%ff", FORM),
        (b"grant_type=client_credentials&client_id=1001&client_secret=\xff", FORM),
        (b"grant_type=client_credentials&client_id=%ED%A0%80&client_secret=x", FORM),
        (
            b"client_secret=" + b"x" * 10_000 + b"&grant_type=client_credentials&client_id=1001",
            FORM,
        ),
        (b"&".join([b"a%d=1" % i for i in range(100)]), FORM),
    ]:
        r = c.raw("POST", "/v2/oauth/accessToken", body, kind=kind)
        assert r.status == 400, body[:60]
        oauth_error(json.loads(r.body), "invalid_request")
    r = c.raw("POST", "/v2/oauth/accessToken", good.encode(), kind=FORM + "; charset=UTF-8")
    assert r.status == 200
    assert c.get("/oauth2/v2.1/verify")[0] == 400
    r = c.raw("GET", "/oauth2/v2.1/verify", kind=None, query={"access_token": ["a", "b"]})
    assert r.status == 400


def test_other_paths_are_not_token_paths() -> None:
    tokens = Tokens([A])
    for method, path in [
        ("GET", "/oauth2/v3/token"),
        ("POST", "/oauth2/v2.1/verify"),
        ("GET", "/v2/oauth/verify"),
        ("POST", "/oauth2/v2.1/authorize"),
        ("POST", "/v2/bot/message/push"),
        ("POST", "/v2/oauth/accessToken/"),
    ]:
        assert tokens.route(SimRequest(method=method, path=path), 0.0) is None


# --- hostile forms ----------------------------------------------------------------------------------

PATHS = [
    "/oauth2/v3/token",
    "/v2/oauth/accessToken",
    "/oauth2/v2.1/token",
    "/v2/oauth/verify",
    "/v2/oauth/revoke",
    "/oauth2/v2.1/revoke",
]
HOSTILE = st.one_of(
    st.text(alphabet="\\$^.*+?()[]{}|\r\n\t\x00ab1é=&%+", max_size=20),
    st.sampled_from(["%ff", "%ED%A0%80", "%00", "1e400", "NaN", "10" + "0" * 40, "", "&&&", "=="]),
    st.integers(min_value=20, max_value=400).map(lambda n: "[" * n),
)


@settings(max_examples=200, deadline=None)
@given(
    path=st.sampled_from(PATHS),
    fields=st.dictionaries(
        st.sampled_from(
            [
                "grant_type",
                "client_id",
                "client_secret",
                "client_assertion_type",
                "client_assertion",
                "access_token",
                "x",
            ]
        ),
        HOSTILE,
        max_size=6,
    ),
    junk=st.binary(max_size=8),
)
def test_fuzz_hostile_forms_are_refused_without_change(
    path: str, fields: dict[str, str], junk: bytes
) -> None:
    c = Clock()
    live = c.short()
    before = c.tokens.state()
    body = "&".join(f"{k}={v}" for k, v in fields.items()).encode("utf-8", "surrogatepass") + junk
    r = c.raw("POST", path, body)
    assert r.status in (200, 400), r
    answer = json.loads(r.body)
    if r.status == 400:
        oauth_error(answer, answer.get("error", "?"))
        assert answer["error"] in ("invalid_request", "invalid_client", "invalid_grant")
        assert c.tokens.state() == before
    assert c.tokens.bot_for(live, c.now) == BOT_A or path.endswith("revoke")


# --- through the simulator: raw HTTP on the virtual clock, and the official line-bot-sdk ------

SIM_CHANNEL = DEFAULT_LINE["channel_id"]
SIM_SECRET = DEFAULT_LINE["channel_secret"]
SIM_BOT = DEFAULT_LINE["bot_user_id"]


@pytest.fixture
def sim() -> Iterator[tuple[InProcessSimulator, httpx.Client]]:
    running = InProcessSimulator(line_sim_config(webhook_url="/_sim/sink"))
    client = httpx.Client(transport=running.transport(), base_url=running.base_url)
    yield running, client
    client.close()
    running.close()


def test_http_issued_tokens_authenticate_until_they_expire(
    sim: tuple[InProcessSimulator, httpx.Client],
) -> None:
    running, client = sim
    credentials = {
        "grant_type": "client_credentials",
        "client_id": SIM_CHANNEL,
        "client_secret": SIM_SECRET,
    }
    stateless = client.post("/oauth2/v3/token", data=credentials).json()["access_token"]
    short = client.post("/v2/oauth/accessToken", data=credentials).json()["access_token"]

    def info(token: str) -> int:
        r = client.get("/v2/bot/info", headers={"Authorization": f"Bearer {token}"})
        if r.status_code == 200:
            assert r.json()["userId"] == SIM_BOT
        return r.status_code

    assert info(stateless) == info(short) == 200
    running.control("POST", "/_sim/clock/advance", {"seconds": 900})
    assert info(stateless) == 401
    assert info(short) == 200
    r = client.post("/v2/oauth/verify", data={"access_token": short})
    assert r.json()["expires_in"] == 2_592_000 - 900
    assert client.post("/v2/oauth/revoke", data={"access_token": short}).status_code == 200
    assert info(short) == 401
    r = client.post("/v2/oauth/accessToken", data={**credentials, "client_secret": "nope"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_client"
    assert r.headers["x-line-request-id"]


def test_line_bot_sdk_channel_access_tokens_unchanged_but_for_its_host() -> None:
    from linebot.v3.messaging import ApiClient, ApiException, Configuration, MessagingApi
    from linebot.v3.oauth import ApiClient as OAuthClient
    from linebot.v3.oauth import ApiException as OAuthError
    from linebot.v3.oauth import ChannelAccessToken
    from linebot.v3.oauth import Configuration as OAuthConfiguration

    server = ServerThread()
    try:
        with OAuthClient(OAuthConfiguration(host=server.url)) as client:
            api = ChannelAccessToken(client)
            short = api.issue_channel_token("client_credentials", SIM_CHANNEL, SIM_SECRET)
            assert short.expires_in == 2_592_000
            verified = api.verify_channel_token(short.access_token)
            assert verified.client_id == SIM_CHANNEL
            stateless = api.issue_stateless_channel_token(
                grant_type="client_credentials", client_id=SIM_CHANNEL, client_secret=SIM_SECRET
            )
            assert stateless.expires_in == 900
            assertion = jwt(claims(SIM_CHANNEL, token_exp=7200))
            v21 = api.issue_channel_token_by_jwt("client_credentials", JWT_BEARER, assertion)
            assert (v21.expires_in, bool(v21.key_id)) == (7200, True)
            assert api.verify_channel_token_by_jwt(v21.access_token).expires_in == 7200
            kids = api.gets_all_valid_channel_access_token_key_ids(JWT_BEARER, assertion).kids
            assert kids == [v21.key_id]

            for token in (short.access_token, stateless.access_token, v21.access_token):
                with ApiClient(Configuration(host=server.url, access_token=token)) as bot:
                    assert MessagingApi(bot).get_bot_info().user_id == SIM_BOT

            api.revoke_channel_token(short.access_token)
            api.revoke_channel_token_by_jwt(SIM_CHANNEL, SIM_SECRET, v21.access_token)
            for token in (short.access_token, v21.access_token):
                with ApiClient(Configuration(host=server.url, access_token=token)) as bot:
                    with pytest.raises(ApiException) as refused:
                        MessagingApi(bot).get_bot_info()
                    assert refused.value.status == 401
            with pytest.raises(OAuthError) as bad:
                api.issue_channel_token("client_credentials", SIM_CHANNEL, "wrong")
            assert bad.value.status == 400
            assert json.loads(bad.value.body)["error"] == "invalid_client"
    finally:
        server.close()
