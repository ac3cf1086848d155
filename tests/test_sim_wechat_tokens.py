"""The simulated WeChat access tokens (spec/wechat.md §4; research §1.3, §4), on the virtual
clock: the classic token (a fetch replaces the previous, which keeps ``token_grace``), the
stable token (idempotent, renewed 5 minutes early, force refresh 20 a day 30 s apart), the two
spaces isolated, the daily limit, the IP whitelist and every refusal's errcode, through
:class:`Tokens` with hand-built ``SimRequest``s. A hypothesis fuzz sends hostile queries and
bodies: every answer is HTTP 200 with an errcode (or a token), and a refusal changes nothing.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hostile import hostile_json, spoiled
from omnimsg.testing import DEFAULT_WECHAT, wechat_sim_config
from omnimsg_sim import InProcessSimulator
from omnimsg_sim.config import WeChatAccount
from omnimsg_sim.effects import SimRequest
from omnimsg_sim.platforms.wechat import tokens as tokens_module
from omnimsg_sim.platforms.wechat.tokens import Quota, Tokens, caller_ip
from simctl import run

A = WeChatAccount(
    account_id="gh_aaaaaaaaaaaa", app_id="wxaaaaaaaaaaaaaaaa", app_secret="secret-a", token="tok"
)
B = WeChatAccount(
    account_id="gh_bbbbbbbbbbbb", app_id="wxbbbbbbbbbbbbbbbb", app_secret="secret-b", token="tok"
)
START = 1_772_442_000.0  # 2026-03-02 08:20 UTC
TTL, GRACE = 7200, 300


class Clock:
    """Tokens for accounts A and B and a virtual clock."""

    def __init__(self, *accounts: WeChatAccount) -> None:
        self.tokens = Tokens(accounts or (A, B))
        self.now = START

    def request(self, req: SimRequest) -> dict[str, Any]:
        r = run(self.tokens.route(req, self.now))
        assert r.status == 200, r
        body: dict[str, Any] = json.loads(r.body)
        if "errcode" in body:
            assert isinstance(body["errcode"], int) and body["errcode"] != 0
            assert " rid: " in body["errmsg"]
        return body

    def classic(
        self,
        account: WeChatAccount = A,
        *,
        secret: str | None = None,
        headers: dict[str, str] | None = None,
        query: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        q = {
            "grant_type": ["client_credential"],
            "appid": [account.app_id],
            "secret": [account.app_secret if secret is None else secret],
        }
        for key, value in (query or {}).items():
            q[key] = [value]
        req = SimRequest(method="GET", path="/cgi-bin/token", query=q, headers=headers or {})
        return self.request(req)

    def stable(
        self, account: WeChatAccount = A, *, force: Any = False, **more: Any
    ) -> dict[str, Any]:
        body = {
            "grant_type": "client_credential",
            "appid": account.app_id,
            "secret": account.app_secret,
            "force_refresh": force,
            **more,
        }
        raw = json.dumps(body, ensure_ascii=False).encode()
        return self.request(SimRequest(method="POST", path="/cgi-bin/stable_token", body=raw))

    def owner(self, token: str) -> str | None:
        return self.tokens.account_for(token, self.now)

    def why(self, token: str) -> int:
        return self.tokens.why_invalid(token, self.now)


# --- the classic token -------------------------------------------------------------------------


def test_classic_fetch_answers_a_long_token() -> None:
    c = Clock()
    body = c.classic()
    assert set(body) == {"access_token", "expires_in"}
    assert body["expires_in"] == TTL
    token = body["access_token"]
    assert len(token) >= 100 and all(ch.isalnum() or ch in "_-" for ch in token)
    assert A.app_secret not in token
    assert c.owner(token) == A.account_id
    assert c.why(token) == 0
    assert c.tokens.fetches(A.account_id) == 1


def test_tokens_are_deterministic_by_call_order_and_unique() -> None:
    first, second = Clock(), Clock()
    made = [first.classic()["access_token"] for _ in range(5)]
    assert [second.classic()["access_token"] for _ in range(5)] == made
    assert len(set(made)) == 5
    # not derived from the secret: another secret, same app id -> the same tokens
    other = WeChatAccount(account_id=A.account_id, app_id=A.app_id, app_secret="zzz", token="t")
    third = Clock(other)
    assert third.classic(other)["access_token"] == made[0]


def test_a_new_fetch_keeps_the_previous_token_for_the_grace_period() -> None:
    c = Clock()
    old = c.classic()["access_token"]
    c.now += 1000
    new = c.classic()["access_token"]
    assert new != old
    assert c.owner(old) == c.owner(new) == A.account_id
    c.now += GRACE - 1
    assert c.owner(old) == A.account_id
    c.now += 1
    assert c.owner(old) is None and c.why(old) == 40001
    assert c.owner(new) == A.account_id


def test_the_grace_never_outlives_the_token() -> None:
    c = Clock()
    old = c.classic()["access_token"]
    c.now += TTL - 10
    c.classic()
    c.now += 10
    assert c.why(old) == 42001


def test_a_third_fetch_ends_the_first_token_at_once() -> None:
    c = Clock()
    first = c.classic()["access_token"]
    second = c.classic()["access_token"]
    third = c.classic()["access_token"]
    assert c.why(first) == 40001
    assert c.owner(second) == c.owner(third) == A.account_id


def test_an_expired_token_is_42001_unknown_ones_40001_and_none_41001() -> None:
    c = Clock()
    token = c.classic()["access_token"]
    c.now += TTL - 1
    assert c.owner(token) == A.account_id
    c.now += 1
    assert c.owner(token) is None and c.why(token) == 42001
    assert c.why("x" * 140) == 40001
    assert c.why("") == 41001
    assert c.tokens.account_for("", c.now) is None


def test_one_fetch_per_lifetime_over_many_lifetimes_never_40001() -> None:
    """Fetching only near expiry: every token works to its end, one fetch per lifetime."""
    c = Clock()
    token = c.classic()["access_token"]
    for _ in range(30):  # 30 lifetimes (2.5 days: quota days change on the way)
        for _ in range(12):
            c.now += (TTL - 60) / 12
            assert c.owner(token) == A.account_id, c.why(token)
        token = c.classic()["access_token"]
    assert c.tokens.fetches(A.account_id) == 31


def test_accounts_are_separate() -> None:
    c = Clock()
    a = c.classic(A)["access_token"]
    b = c.classic(B)["access_token"]
    c.classic(B)
    c.classic(B)
    assert c.owner(a) == A.account_id
    assert c.why(b) == 40001
    assert c.tokens.fetches(A.account_id) == 1 and c.tokens.fetches(B.account_id) == 3
    assert c.tokens.fetches("gh_unknown") == 0


def test_classic_refusals() -> None:
    c = Clock()
    cases = [
        ({"grant_type": "authorization_code"}, 40002),
        ({"grant_type": ""}, 40002),
        ({"appid": ""}, 41002),
        ({"appid": "wxnobody"}, 40013),
        ({"secret": ""}, 41004),
        ({"secret": "wrong"}, 40125),
    ]
    for query, errcode in cases:
        secret = query.pop("secret", None)
        body = c.classic(secret=secret, query=query)
        assert body["errcode"] == errcode, (query, body)
    assert c.classic(B, secret=A.app_secret)["errcode"] == 40125
    missing = SimRequest(method="GET", path="/cgi-bin/token")
    assert c.request(missing)["errcode"] == 40002
    post = SimRequest(method="POST", path="/cgi-bin/token")
    assert c.request(post)["errcode"] == 43001
    assert c.tokens.fetches(A.account_id) == 0
    assert c.tokens.state()["tokens"][A.account_id]["classic"]["today"] == 0


def test_other_paths_and_methods_are_not_the_tokens() -> None:
    c = Clock()
    for method, path in [
        ("GET", "/cgi-bin/tokens"),
        ("PUT", "/cgi-bin/token"),
        ("DELETE", "/cgi-bin/stable_token"),
        ("GET", "/cgi-bin/message/custom/send"),
    ]:
        assert c.tokens.route(SimRequest(method=method, path=path), c.now) is None


def test_ip_whitelist_40164_names_the_callers_ip() -> None:
    walled = WeChatAccount(
        account_id="gh_cccccccccccc",
        app_id="wxcccccccccccccccc",
        app_secret="secret-c",
        token="t",
        ip_whitelist=("203.0.113.7", "2001:db8::1"),
    )
    c = Clock(walled)
    body = c.classic(walled)
    assert body["errcode"] == 40164
    assert body["errmsg"].startswith("invalid ip 127.0.0.1 ipv6 ::ffff:127.0.0.1, not in whitelist")
    body = c.classic(walled, headers={"x-forwarded-for": "198.51.100.9, 203.0.113.7"})
    assert body["errmsg"].startswith("invalid ip 198.51.100.9 ipv6")
    assert "access_token" in c.classic(walled, headers={"x-forwarded-for": "203.0.113.7"})
    assert "access_token" in c.classic(walled, headers={"x-real-ip": "2001:db8:0::1"})
    assert c.stable(walled)["errcode"] == 40164
    assert c.tokens.fetches(walled.account_id) == 2


def test_caller_ip_ignores_junk_headers() -> None:
    def ip(headers: dict[str, str]) -> str:
        return caller_ip(SimRequest(method="GET", path="/", headers=headers))

    assert ip({}) == "127.0.0.1"
    assert ip({"x-forwarded-for": "not an ip"}) == "127.0.0.1"
    assert ip({"x-forwarded-for": "junk", "x-real-ip": "10.0.0.1"}) == "10.0.0.1"
    assert ip({"x-forwarded-for": "\ud800"}) == "127.0.0.1"
    assert ip({"x-forwarded-for": "1" * 5000}) == "127.0.0.1"


def test_daily_limit_45009_then_the_next_beijing_day() -> None:
    small = WeChatAccount(
        account_id="gh_dddddddddddd",
        app_id="wxdddddddddddddddd",
        app_secret="s",
        token="t",
        token_daily_limit=3,
    )
    c = Clock(small)
    c.now = 1_772_380_800.0  # 2026-03-01 16:00 UTC = 03-02 00:00 in Beijing
    for _ in range(3):
        assert "access_token" in c.classic(small)
    last = c.classic(small)
    assert last["errcode"] == 45009 and last["errmsg"].startswith("reach max api daily quota limit")
    assert c.tokens.fetches(small.account_id) == 3
    c.now += 86_400 - 1
    assert c.classic(small)["errcode"] == 45009
    c.now += 1
    assert "access_token" in c.classic(small)


def test_quota_counts_per_window() -> None:
    q = Quota(2, span=60.0, offset=0.0)
    assert not q.full(0.0)
    q.take(0.0)
    q.take(59.0)
    assert q.full(59.9) and q.count(59.9) == 2
    assert not q.full(60.0) and q.count(60.0) == 0


# --- the stable token ----------------------------------------------------------------------


def test_stable_token_is_the_same_while_valid_with_the_remaining_lifetime() -> None:
    c = Clock()
    first = c.stable()
    assert set(first) == {"access_token", "expires_in"} and first["expires_in"] == TTL
    assert len(first["access_token"]) >= 100
    c.now += 1000
    again = c.stable()
    assert again == {"access_token": first["access_token"], "expires_in": TTL - 1000}
    assert c.tokens.fetches(A.account_id) == 2
    assert c.tokens.state()["tokens"][A.account_id]["stable"]["issued"] == 1


def test_stable_token_renews_five_minutes_early_and_the_old_lasts_to_its_end() -> None:
    c = Clock()
    old = c.stable()["access_token"]
    c.now += TTL - GRACE - 1
    assert c.stable() == {"access_token": old, "expires_in": GRACE + 1}
    c.now += 1
    renewed = c.stable()
    assert renewed["access_token"] != old and renewed["expires_in"] == TTL
    assert c.owner(old) == A.account_id
    c.now += GRACE - 1
    assert c.owner(old) == A.account_id
    c.now += 1
    assert c.why(old) == 42001
    assert c.owner(renewed["access_token"]) == A.account_id


def test_stable_expires_in_is_never_below_the_grace() -> None:
    c = Clock()
    for _ in range(200):
        body = c.stable()
        assert body["expires_in"] >= GRACE
        assert c.owner(body["access_token"]) == A.account_id
        c.now += 97.3


def test_stable_force_refresh_rotates_with_grace_and_two_forces_end_a_leak() -> None:
    c = Clock()
    leaked = c.stable()["access_token"]
    forced = c.stable(force=True)["access_token"]
    assert forced != leaked
    assert c.owner(leaked) == A.account_id  # the grace period after one force
    c.now += 30
    again = c.stable(force=True)["access_token"]
    assert again != forced
    assert c.why(leaked) == 40001  # two forces 30 s apart: the leaked one is gone
    assert c.owner(forced) == c.owner(again) == A.account_id


def test_stable_force_within_30_seconds_does_not_refresh() -> None:
    c = Clock()
    forced = c.stable(force=True)["access_token"]
    c.now += 29
    body = c.stable(force=True)
    assert body["access_token"] == forced and body["expires_in"] == TTL - 29
    assert c.tokens.state()["tokens"][A.account_id]["stable"]["forced_today"] == 1


def test_stable_force_refresh_20_a_day() -> None:
    c = Clock()
    made = set()
    for _ in range(20):
        made.add(c.stable(force=True)["access_token"])
        c.now += 30
    assert len(made) == 20
    refused = c.stable(force=True)
    assert refused["errcode"] == 45009
    normal = c.stable()
    assert normal["access_token"] in made  # normal mode still answers
    c.now += 86_400
    assert c.stable(force=True)["access_token"] not in made


def test_classic_and_stable_are_isolated() -> None:
    c = Clock()
    stable = c.stable()["access_token"]
    classic = c.classic()["access_token"]
    for _ in range(3):
        c.classic()
    assert c.owner(stable) == A.account_id
    c.stable(force=True)
    c.now += 30
    c.stable(force=True)
    assert c.why(stable) == 40001
    newest = c.classic()["access_token"]
    assert c.owner(newest) == A.account_id
    assert c.why(classic) == 40001
    state = c.tokens.state()["tokens"][A.account_id]
    assert state["classic"]["fetches"] == 5 and state["stable"]["calls"] == 3


def test_stable_refusals() -> None:
    c = Clock()

    def raw(body: bytes, method: str = "POST", **headers: str) -> dict[str, Any]:
        req = SimRequest(method=method, path="/cgi-bin/stable_token", body=body, headers=headers)
        return c.request(req)

    assert raw(b"")["errcode"] == 44002
    assert raw(b"  \n")["errcode"] == 44002
    assert raw(b"{")["errcode"] == 47001
    assert raw(b"[]")["errcode"] == 47001
    assert raw(b'{"a": NaN}')["errcode"] == 47001
    assert raw(b"\xff\xfe")["errcode"] == 47001
    assert raw(b"{}", method="GET")["errcode"] == 43002
    assert c.stable(grant_type="password")["errcode"] == 40002
    assert c.stable(grant_type=5)["errcode"] == 40002
    assert c.stable(appid="wxnobody")["errcode"] == 40013
    assert c.stable(appid=["x"])["errcode"] == 47001
    assert c.stable(appid=None)["errcode"] == 41002
    assert c.stable(secret="nope")["errcode"] == 40125
    assert c.stable(secret=None)["errcode"] == 41004
    assert c.stable(secret={"a": 1})["errcode"] == 47001
    assert c.stable(force="yes")["errcode"] == 47001
    assert c.stable(force=1)["errcode"] == 47001
    assert c.tokens.fetches(A.account_id) == 0
    # JSON with a Content-Type of any kind, or none, and force_refresh omitted or null
    body = {"grant_type": "client_credential", "appid": A.app_id, "secret": A.app_secret}
    assert "access_token" in raw(json.dumps(body).encode(), **{"content-type": "text/plain"})
    assert "access_token" in raw(json.dumps({**body, "force_refresh": None}).encode())


def test_stable_minute_limit(monkeypatch: Any) -> None:
    monkeypatch.setattr(tokens_module, "STABLE_PER_MINUTE", 3)
    c = Clock()
    for _ in range(3):
        assert "access_token" in c.stable()
    assert c.stable()["errcode"] == 45011
    c.now += 60
    assert "access_token" in c.stable()


def test_state_holds_counts_never_tokens() -> None:
    c = Clock()
    made = [c.classic()["access_token"], c.stable()["access_token"], c.classic(B)["access_token"]]
    text = json.dumps(c.tokens.state())
    for token in made:
        assert token not in text
    assert A.app_secret not in text and B.app_secret not in text
    state = c.tokens.state()["tokens"]
    assert state[A.account_id]["classic"] == {
        "fetches": 1,
        "today": 1,
        "daily_limit": 2000,
        "valid": 1,
    }
    assert state[A.account_id]["stable"]["valid"] == 1


def test_many_fetches_stay_bounded() -> None:
    c = Clock()
    first = c.classic()["access_token"]
    for _ in range(600):
        c.now += 3600
        c.classic()
    assert c.why(first) == 40001  # forgotten after a day: unknown
    assert len(c.tokens._tokens) < 600


# --- hostile input -------------------------------------------------------------------------


QUERY_VALUES = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["\ud800", "x\udfff", "client_credential\x00", A.app_id + " ", "0" * 600]),
)


@settings(max_examples=200, deadline=None)
@given(
    grant=st.one_of(st.none(), QUERY_VALUES),
    appid=st.one_of(st.none(), st.just(A.app_id), QUERY_VALUES),
    secret=st.one_of(st.none(), st.just(A.app_secret), QUERY_VALUES),
    forwarded=st.one_of(st.none(), QUERY_VALUES),
)
def test_fuzz_classic_query(
    grant: str | None, appid: str | None, secret: str | None, forwarded: str | None
) -> None:
    c = Clock()
    query = {
        k: [v]
        for k, v in (("grant_type", grant), ("appid", appid), ("secret", secret))
        if v is not None
    }
    headers = {} if forwarded is None else {"x-forwarded-for": forwarded}
    before = c.tokens.state()
    body = c.request(SimRequest(method="GET", path="/cgi-bin/token", query=query, headers=headers))
    if "errcode" in body:
        assert c.tokens.state() == before
    else:
        assert grant == "client_credential" and appid == A.app_id and secret == A.app_secret


VALID_STABLE = {
    "grant_type": "client_credential",
    "appid": A.app_id,
    "secret": A.app_secret,
    "force_refresh": False,
}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), hostile=hostile_json())
def test_fuzz_stable_body(data: st.DataObject, hostile: str) -> None:
    c = Clock()
    c.stable()  # a token exists: a refusal must not rotate it
    before = c.tokens.state()
    raw = spoiled(data, VALID_STABLE, hostile)
    body = c.request(SimRequest(method="POST", path="/cgi-bin/stable_token", body=raw))
    if "errcode" in body:
        assert c.tokens.state() == before
    else:
        assert c.owner(body["access_token"]) == A.account_id


@settings(max_examples=100, deadline=None)
@given(raw=st.binary(max_size=200))
def test_fuzz_stable_bytes(raw: bytes) -> None:
    c = Clock()
    before = c.tokens.state()
    body = c.request(SimRequest(method="POST", path="/cgi-bin/stable_token", body=raw))
    assert body["errcode"] in (44002, 47001, 40002, 41002, 40013, 41004, 40125)
    assert c.tokens.state() == before


def test_url_encoded_query_values_are_plain_values() -> None:
    c = Clock()
    assert c.classic(secret=quote(A.app_secret + "&x"))["errcode"] == 40125


# --- through the simulator: raw HTTP on the virtual clock ------------------------------------


def _sim(**overrides: Any) -> tuple[InProcessSimulator, httpx.Client, dict[str, Any]]:
    running = InProcessSimulator(wechat_sim_config(**overrides))
    client = httpx.Client(transport=running.transport(), base_url=running.base_url)
    return running, client, DEFAULT_WECHAT


def test_http_token_lifecycle_through_the_simulator() -> None:
    running, http, account = _sim()
    try:
        query = {
            "grant_type": "client_credential",
            "appid": account["app_id"],
            "secret": account["app_secret"],
        }
        r = http.get("/cgi-bin/token", params=query)
        assert r.status_code == 200
        old = r.json()["access_token"]
        assert r.json()["expires_in"] == 7200
        tags = http.get("/cgi-bin/tags/get", params={"access_token": old})
        assert tags.status_code == 200 and "tags" in tags.json()
        new = http.get("/cgi-bin/token", params=query).json()["access_token"]
        assert "tags" in http.get("/cgi-bin/tags/get", params={"access_token": old}).json()
        running.control("POST", "/_sim/clock/advance", {"seconds": 300})
        gone = http.get("/cgi-bin/tags/get", params={"access_token": old}).json()
        assert gone["errcode"] == 40001
        assert "tags" in http.get("/cgi-bin/tags/get", params={"access_token": new}).json()
        running.control("POST", "/_sim/clock/advance", {"seconds": 7200})
        expired = http.get("/cgi-bin/tags/get", params={"access_token": new}).json()
        assert expired["errcode"] == 42001
        # stable token: POST JSON without a Content-Type, as a bare client sends it
        raw = json.dumps({**query, "force_refresh": False}).encode()
        stable = http.post("/cgi-bin/stable_token", content=raw).json()
        again = http.post("/cgi-bin/stable_token", content=raw).json()
        assert stable["access_token"] == again["access_token"]
        wrong = http.get("/cgi-bin/token", params={**query, "secret": "nope"})
        assert wrong.status_code == 200 and wrong.json()["errcode"] == 40125
    finally:
        http.close()
        running.close()


def test_http_ip_whitelist_through_the_simulator() -> None:
    running, http, account = _sim(ip_whitelist=["203.0.113.7"])
    try:
        query = {
            "grant_type": "client_credential",
            "appid": account["app_id"],
            "secret": account["app_secret"],
        }
        refused = http.get("/cgi-bin/token", params=query).json()
        assert refused["errcode"] == 40164 and "127.0.0.1" in refused["errmsg"]
        ok = http.get("/cgi-bin/token", params=query, headers={"X-Forwarded-For": "203.0.113.7"})
        assert "access_token" in ok.json()
    finally:
        http.close()
        running.close()
