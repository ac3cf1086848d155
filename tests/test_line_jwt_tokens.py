"""LINE channel access tokens by JWT assertion (spec/line.md §5): v2.1 and stateless.

The assertion is built and signed RS256 by omnimsg (``platforms/line/jwt.py``) on the injected
clock, checked here with the public key; the requests are LINE's exact ones (research §1.2);
and against the simulator end to end: issue a v2.1 token, push with it from a second channel,
verify it, list its key id, revoke it, and the next push is refused 401.
"""

from __future__ import annotations

import base64
import inspect
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import attrs
import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from omnimsg import (
    Address,
    AsyncClient,
    AuthenticationError,
    Client,
    ConfigurationError,
    Line,
    MemoryStore,
    RetryPolicy,
    Text,
)
from omnimsg.clock import FakeClock
from omnimsg.platforms.line import jwt
from omnimsg.testing import DEFAULT_LINE, line_channel, line_sim_config
from omnimsg_sim import InProcessSimulator

BOT = "U" + "b" * 32
CHANNEL = "1234567890"
SECRET = "line-channel-secret-abcdef"
NOW = 1_780_000_000.0
KID = "sim-kid-0001"
ADA = Address("line", DEFAULT_LINE["customers"][0]["user_id"])

pytestmark = pytest.mark.anyio

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PEM = KEY.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
).decode()


def _b64(n: int) -> str:
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def jwk(**extra: Any) -> dict[str, Any]:
    """The private key as LINE's key tool gives it (a JWK)."""
    nums = KEY.private_numbers()
    pub = nums.public_numbers
    return {
        "kty": "RSA",
        "alg": "RS256",
        "use": "sig",
        "n": _b64(pub.n),
        "e": _b64(pub.e),
        "d": _b64(nums.d),
        "p": _b64(nums.p),
        "q": _b64(nums.q),
        "dp": _b64(nums.dmp1),
        "dq": _b64(nums.dmq1),
        "qi": _b64(nums.iqmp),
        **extra,
    }


def _part(segment: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def verified(assertion: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and claims of ``assertion`` after checking its RS256 signature."""
    head, body, sig = assertion.split(".")
    signature = base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4))
    KEY.public_key().verify(
        signature, f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256()
    )  # raises InvalidSignature otherwise
    return _part(head), _part(body)


# --- the assertion ------------------------------------------------------------------------------


def test_the_assertion_verifies_with_the_public_key_and_carries_lines_claims() -> None:
    signed = jwt.assertion(CHANNEL, PEM, now=NOW + 0.7, kid=KID, token_exp=86_400)
    header, claims = verified(signed)
    assert header == {"alg": "RS256", "typ": "JWT", "kid": KID}
    assert claims == {
        "iss": CHANNEL,
        "sub": CHANNEL,
        "aud": "https://api.line.me/",
        "exp": int(NOW) + 1800,  # 30 minutes at most, on the given clock
        "token_exp": 86_400,
    }
    # The JWK gives the same key (RS256 is deterministic), and its kid when none is given.
    assert jwt.assertion(CHANNEL, jwk(), now=NOW + 0.7, kid=KID, token_exp=86_400) == signed
    assert jwt.assertion(CHANNEL, json.dumps(jwk()), now=NOW, kid=KID) == jwt.assertion(
        CHANNEL, KEY, now=NOW, kid=KID
    )
    header, claims = verified(jwt.assertion(CHANNEL, jwk(kid="from-jwk"), now=NOW))
    assert header["kid"] == "from-jwk" and "token_exp" not in claims
    minimal = {k: v for k, v in jwk().items() if k in ("kty", "n", "e", "d")}
    assert jwt.assertion(CHANNEL, minimal, now=NOW, kid=KID) == jwt.assertion(
        CHANNEL, PEM, now=NOW, kid=KID
    )


def test_bad_keys_and_claims_are_refused_without_echoing_the_key() -> None:
    broken = PEM.replace("A", "B", 40)
    for bad in (broken, "not a key", {"kty": "EC", "d": "xx"}, b"\xff\xfe"):
        with pytest.raises(ConfigurationError) as refused:
            jwt.assertion(CHANNEL, bad, now=NOW, kid=KID)  # type: ignore[arg-type]
        assert "PRIVATE KEY" not in str(refused.value) and str(bad)[:30] not in str(refused.value)
    with pytest.raises(ConfigurationError, match="kid"):
        jwt.assertion(CHANNEL, PEM, now=NOW)
    with pytest.raises(ConfigurationError, match="30 days"):
        jwt.assertion(CHANNEL, PEM, now=NOW, kid=KID, token_exp=2_592_001)
    with pytest.raises(ConfigurationError, match="lifetime"):
        jwt.assertion(CHANNEL, PEM, now=NOW, kid=KID, lifetime=1801)


# --- the requests -------------------------------------------------------------------------------


class Fake:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, str], dict[str, str]]] = []
        self.answers: list[tuple[int, dict[str, Any]]] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        url = urlsplit(str(request.url))
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        assert "authorization" not in request.headers  # the token endpoints take no Bearer
        self.calls.append((request.method, url.path, query, form))
        if self.answers:
            status, body = self.answers.pop(0)
            return httpx.Response(status, json=body)
        return httpx.Response(200, json={"access_token": "issued-token-0123456789",
                                         "token_type": "Bearer", "expires_in": 86_400,
                                         "key_id": "key-1", "kids": ["key-1"]})  # fmt: skip


async def run(value: Any) -> Any:
    return (await value) if inspect.isawaitable(value) else value


@pytest.fixture(params=["sync", "async"])
def face(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_the_exact_requests(face: str) -> None:
    fake, clock = Fake(), FakeClock(NOW)
    ch = Line(bot_user_id=BOT, channel_access_token="long-lived-token-0123456789",
              channel_id=CHANNEL, channel_secret=SECRET)  # fmt: skip
    kind = Client if face == "sync" else AsyncClient
    c = kind([ch], clock=clock, store=MemoryStore(clock=clock),
             transport=httpx.MockTransport(fake.handle), retry=RetryPolicy(max_attempts=1))  # fmt: skip
    token = await run(c.line.issue_token("v2.1", private_key=PEM, kid=KID, token_exp=86_400))
    assert token.key_id == "key-1" and token.expires_in == 86_400
    assert "issued-token" not in repr(token)
    method, path, _, form = fake.calls[-1]
    assert (method, path) == ("POST", "/oauth2/v2.1/token")
    assert form["grant_type"] == "client_credentials"
    assert form["client_assertion_type"] == jwt.JWT_BEARER
    assert "client_secret" not in form
    _, claims = verified(form["client_assertion"])
    assert claims["exp"] == int(NOW) + 1800 and claims["token_exp"] == 86_400
    await run(c.line.issue_token("v2.1", private_key=jwk(), kid=KID))
    assert verified(fake.calls[-1][3]["client_assertion"])[1]["token_exp"] == 2_592_000
    await run(c.line.issue_token("stateless", private_key=PEM, kid=KID))  # stateless by JWT
    method, path, _, form = fake.calls[-1]
    assert path == "/oauth2/v3/token" and "token_exp" not in verified(form["client_assertion"])[1]
    await run(c.line.verify_token("issued-token-0123456789", kind="v2.1"))
    assert fake.calls[-1][:3] == (
        "GET",
        "/oauth2/v2.1/verify",
        {"access_token": "issued-token-0123456789"},
    )
    await run(c.line.revoke_token("issued-token-0123456789", kind="v2.1"))
    assert fake.calls[-1][:2] == ("POST", "/oauth2/v2.1/revoke")
    assert fake.calls[-1][3] == {
        "client_id": CHANNEL,
        "client_secret": SECRET,
        "access_token": "issued-token-0123456789",
    }
    assert await run(c.line.valid_key_ids(PEM, kid=KID)) == ["key-1"]
    method, path, query, _ = fake.calls[-1]
    assert (method, path, query["client_assertion_type"]) == (
        "GET",
        "/oauth2/v2.1/tokens/kid",
        jwt.JWT_BEARER,
    )
    verified(query["client_assertion"])
    # Refused before I/O: a short-lived token by JWT, a v2.1 one without a key.
    with pytest.raises(ConfigurationError):
        await run(c.line.issue_token("short_lived", private_key=PEM, kid=KID))
    with pytest.raises(ConfigurationError):
        await run(c.line.issue_token("v2.1"))
    # An error that echoes the token never shows it.
    fake.answers.append((400, {"error": "invalid_request",
                               "error_description": "expired: issued-token-0123456789"}))  # fmt: skip
    with pytest.raises(Exception) as failed:
        await run(c.line.verify_token("issued-token-0123456789", kind="v2.1"))
    assert "issued-token-0123456789" not in str(failed.value)
    if isinstance(c, AsyncClient):
        await c.aclose()
    else:
        c.close()


# --- against the simulator ----------------------------------------------------------------------


async def test_issue_push_verify_revoke_against_the_simulator(face: str) -> None:
    config = line_sim_config()
    sim = InProcessSimulator(config)
    channel = line_channel(config, sim.base_url)
    assert isinstance(channel, Line)
    kind = Client if face == "sync" else AsyncClient
    transport = sim.transport() if face == "sync" else sim.async_transport()
    one: dict[str, Any] = {
        "clock": sim.clock,
        "transport": transport,
        "retry": RetryPolicy(max_attempts=1),
    }
    c = kind([channel], **one)  # type: ignore[arg-type]
    token = await run(c.line.issue_token("v2.1", private_key=PEM, kid=KID, token_exp=3600))
    assert token.expires_in == 3600 and token.key_id
    other = attrs.evolve(channel, channel_access_token=token.access_token)
    bot = kind([other], **one)  # type: ignore[arg-type]
    sent = await run(bot.send(ADA, Text("sent with a v2.1 token")))
    assert sent.status == "push" and sent.message_id
    info = await run(c.line.verify_token(token.access_token, kind="v2.1"))
    assert info.client_id == config.line[0].channel_id and 0 < info.expires_in <= 3600
    assert token.key_id in await run(c.line.valid_key_ids(PEM, kid=KID))
    await run(c.line.revoke_token(token.access_token, kind="v2.1"))
    assert token.key_id not in await run(c.line.valid_key_ids(PEM, kid=KID))
    with pytest.raises(AuthenticationError) as refused:
        await run(bot.send(ADA, Text("after the revoke")))
    assert refused.value.http_status == 401
    assert token.access_token not in str(refused.value)
    stateless = await run(c.line.issue_token("stateless", private_key=jwk(kid=KID)))
    assert stateless.expires_in == 900 and stateless.key_id is None
    for x in (c, bot):
        if isinstance(x, AsyncClient):
            await x.aclose()
        else:
            x.close()
    sim.close()
