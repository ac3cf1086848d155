"""The simulated LINE Messaging API over raw HTTP: every endpoint and rule (spec/line.md).

Requests are written by hand, as any client in any language writes them (the official SDK
sends the same bodies, research §1.2), through the in-process simulator on the virtual
clock, or the server (``Simulator``) over a socket. Webhooks go to the built-in sink or to a
mock app, and their signatures are checked as an app must: base64 HMAC-SHA256 of the exact
bytes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from omnimsg import ConfigurationError
from omnimsg.testing import DEFAULT_LINE, ServerThread, line_channel, line_sim_config
from omnimsg_sim import InProcessSimulator, parse_config
from omnimsg_sim.platforms.line.richmenu import sample_png
from omnimsg_sim.platforms.line.sim import LineDelivery, sign
from simctl import Harness

BOT = DEFAULT_LINE["bot_user_id"]
TOKEN = DEFAULT_LINE["channel_access_token"]
SECRET = DEFAULT_LINE["channel_secret"]
ADA = DEFAULT_LINE["customers"][0]["user_id"]
ALAN = DEFAULT_LINE["customers"][1]["user_id"]
GRACE = DEFAULT_LINE["customers"][2]["user_id"]  # blocked the account
STRANGER = "U" + "9" * 32
GROUP = "C" + "a" * 32
AUTH = {"Authorization": f"Bearer {TOKEN}"}
KEY = "123e4567-e89b-12d3-a456-426614174000"
ULID = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")
REQUEST_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def text(t: str = "hi") -> dict[str, Any]:
    return {"type": "text", "text": t}


class Sim(Harness):
    """An in-process simulator of one LINE account; webhooks to the sink (or ``app``)."""

    def __init__(self, app: httpx.BaseTransport | None = None, **overrides: Any) -> None:
        overrides.setdefault("webhook_url", "/_sim/sink")
        super().__init__("line", ADA, line_sim_config(**overrides), app)

    does = Harness.act

    def refused(self, user: str = ADA, **action: Any) -> str:
        spec = {"platform": "line", "user": user, **action}
        before = self.control("GET", "/_sim/state")
        answer = self.control("POST", "/_sim/inbound", spec)
        assert "error" in answer, answer
        assert self.control("GET", "/_sim/state") == before
        return str(answer["error"]["message"])

    def post(
        self, path: str, body: Any, *, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        r = self.http.post(path, json=body, headers={**AUTH, **(headers or {})})
        assert REQUEST_ID.fullmatch(r.headers["x-line-request-id"]), r.headers
        return r

    def get(self, path: str, **params: str) -> httpx.Response:
        r = self.http.get(path, params=params, headers=AUTH)
        assert REQUEST_ID.fullmatch(r.headers["x-line-request-id"]), r.headers
        return r

    def push(self, to: str = ADA, *messages: dict[str, Any], **headers: str) -> httpx.Response:
        body = {"to": to, "messages": list(messages) or [text()], "notificationDisabled": False}
        return self.post("/v2/bot/message/push", body, headers=headers)

    def webhooks(self) -> list[dict[str, Any]]:
        """Every webhook body the sink got, each signature checked over the exact bytes."""
        out = []
        for request in self.control("GET", "/_sim/sink")["requests"]:
            body = request["body"].encode()
            expected = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest())
            assert request["headers"]["x-line-signature"] == expected.decode()
            out.append(json.loads(body))
        return out

    def events(self) -> list[dict[str, Any]]:
        return [e for w in self.webhooks() for e in w["events"]]

    def state(self) -> dict[str, Any]:
        return dict(self.control("GET", "/_sim/state")["line"][BOT])

    def outbox(self, **filters: str) -> list[dict[str, Any]]:
        query = "&".join(f"{k}={v}" for k, v in {"platform": "line", **filters}.items())
        return list(self.control("GET", f"/_sim/outbox?{query}")["messages"])


@pytest.fixture
def s() -> Iterator[Sim]:
    sim = Sim()
    yield sim
    sim.close()


def error(r: httpx.Response) -> tuple[int, str]:
    """(HTTP status, message) of a LINE error; ``details`` only when there are some."""
    body = r.json()
    assert isinstance(body["message"], str) and body["message"]
    assert set(body) <= {"message", "details", "sentMessages"}
    if "details" in body:
        assert body["details"] and all(set(d) == {"message", "property"} for d in body["details"])
    return r.status_code, body["message"]


def sent_messages(r: httpx.Response, count: int = 1) -> list[dict[str, str]]:
    """A push or reply 200: one ``{id, quoteToken}`` per message (the SDK requires them)."""
    assert r.status_code == 200, r.text
    sent = r.json()["sentMessages"]
    assert len(sent) == count
    for m in sent:
        assert set(m) == {"id", "quoteToken"} and m["id"].isdigit() and m["quoteToken"]
    return list(sent)


# --- config ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"bot_user_id": None}, r"line\[0\]\.bot_user_id: missing"),
        ({"bot_user_id": "U123"}, r"line\[0\]\.bot_user_id: must be 'U' and 32 hex digits"),
        ({"channel_id": "abc"}, r"line\[0\]\.channel_id: must be digits only"),
        ({"channel_secret": ""}, r"line\[0\]\.channel_secret: must not be empty"),
        ({"channel_access_token": 5}, r"line\[0\]\.channel_access_token: expected a string"),
        ({"plan": "gold"}, r"line\[0\]\.plan: must be one of jp-communication"),
        ({"extra_limit": 10}, r"line\[0\]\.extra_limit: plan 'jp-communication' allows no"),
        ({"plan": "tw-high", "extra_limit": -1}, r"line\[0\]\.extra_limit: must be at least 0"),
        ({"reply_token_ttl": -1}, r"line\[0\]\.reply_token_ttl: must not be negative"),
        ({"rate_limits": {"push": -1}}, r"line\[0\]\.rate_limits\.push: must be at least 0"),
        ({"rate_limits": {"pull": 1}}, r"line\[0\]\.rate_limits: unknown field\(s\) pull"),
        ({"webhook_url": "ftp://x"}, r"line\[0\]\.webhook_url: must be an http\(s\) URL"),
        ({"customers": [{"user_id": "Ubad"}]}, r"customers\[0\]\.user_id: must be 'U'"),
        ({"customers": [{"user_id": ADA}, {"user_id": ADA}]}, r"two customers share"),
        ({"customers": [{"user_id": ADA, "friend": "yes"}]}, r"friend: expected true/false"),
        ({"colour": "green"}, r"line\[0\]: unknown field\(s\) colour"),
    ],
)
def test_config_errors_name_the_field(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        line_sim_config(**change)


def test_a_line_only_config_is_enough_and_two_accounts_must_differ() -> None:
    config = line_sim_config()
    assert config.describe() == "1 LINE account(s)"
    assert config.line[0].monthly_limit == 200
    other = {**DEFAULT_LINE, "channel_access_token": "other"}
    with pytest.raises(ConfigurationError, match="share a bot_user_id"):
        parse_config({"line": [DEFAULT_LINE, other]})
    with pytest.raises(ConfigurationError, match="share a channel_access_token"):
        parse_config({"line": [DEFAULT_LINE, {**DEFAULT_LINE, "bot_user_id": "U" + "e" * 32}]})


def test_line_channel_matches_the_account() -> None:
    config = line_sim_config(reply_token_ttl=30.0)
    channel = line_channel(config, "http://sim.test")
    assert channel.platform == "line" and channel.account == BOT
    assert getattr(channel, "reply_token_lifetime") == 30.0  # noqa: B009
    assert SECRET not in repr(channel) and TOKEN not in repr(channel)


# --- auth -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer "}, {"Authorization": TOKEN}],
)
def test_a_missing_bearer_token_is_401_with_lines_sentence(s: Sim, headers: dict[str, str]) -> None:
    r = s.http.post("/v2/bot/message/push", json={"to": ADA, "messages": [text()]}, headers=headers)
    assert error(r) == (
        401,
        "Authorization header required. Must follow the scheme, "
        "'Authorization: Bearer <ACCESS TOKEN>'",
    )
    assert r.headers["x-line-request-id"]
    assert s.outbox() == []


def test_a_wrong_token_is_401_invalid_token(s: Sim) -> None:
    r = s.http.get("/v2/bot/info", headers={"Authorization": "Bearer nope"})
    assert error(r) == (
        401,
        "Authentication failed due to the following reason: invalid token. "
        "Confirm that the access token in the authorization header is valid.",
    )


def test_a_token_issued_by_the_oauth_endpoints_works(s: Sim) -> None:
    form = {
        "grant_type": "client_credentials",
        "client_id": DEFAULT_LINE["channel_id"],
        "client_secret": SECRET,
    }
    r = s.http.post("/v2/oauth/accessToken", data=form)
    assert r.status_code == 200, r.text
    issued = r.json()["access_token"]
    info = s.http.get("/v2/bot/info", headers={"Authorization": f"Bearer {issued}"})
    assert info.status_code == 200 and info.json()["userId"] == BOT


# --- push, reply, multicast, broadcast ------------------------------------------------------


def test_push_answers_sent_messages_and_lands_in_the_outbox(s: Sim) -> None:
    r = s.push(ADA, text("one"), {"type": "sticker", "packageId": "446", "stickerId": "1988"})
    sent = sent_messages(r, 2)
    outbox = s.outbox(user=ADA)
    assert [m["message_id"] for m in outbox] == [m["id"] for m in sent]
    assert [m["text"] for m in outbox] == ["one", "[sticker]"]
    assert outbox[0]["raw"] == text("one")
    assert s.state()["quota"]["used"] == 1  # per recipient, not per message object (§4)


def test_reply_token_is_single_use_free_and_expires(s: Sim) -> None:
    answer = s.does(ADA, text="hi")
    token = answer["message"]["event"]["replyToken"]
    assert s.state()["reply_tokens"] == 1
    body = {"replyToken": token, "messages": [text("hello"), text("again")]}
    sent_messages(s.post("/v2/bot/message/reply", body), 2)
    assert s.state()["quota"]["used"] == 0  # replies are free
    assert error(s.post("/v2/bot/message/reply", body)) == (400, "Invalid reply token")
    later = s.does(ADA, text="still there?")["message"]["event"]["replyToken"]
    s.advance(60)  # the default 60 s: gone at the minute
    body = {"replyToken": later, "messages": [text()]}
    assert error(s.post("/v2/bot/message/reply", body)) == (400, "Invalid reply token")
    assert s.state()["reply_tokens"] == 0


def test_reply_token_lifetime_is_configurable() -> None:
    s = Sim(reply_token_ttl=5.0)
    try:
        token = s.does()["message"]["event"]["replyToken"]
        s.advance(4.9)
        sent_messages(s.post("/v2/bot/message/reply", {"replyToken": token, "messages": [text()]}))
        token = s.does()["message"]["event"]["replyToken"]
        s.advance(5)
        r = s.post("/v2/bot/message/reply", {"replyToken": token, "messages": [text()]})
        assert error(r) == (400, "Invalid reply token")
    finally:
        s.close()


def test_a_refused_reply_keeps_its_token(s: Sim) -> None:
    token = s.does()["message"]["event"]["replyToken"]
    r = s.post("/v2/bot/message/reply", {"replyToken": token, "messages": [text("")]})
    assert error(r) == (400, "The request body has 1 error(s)")
    sent_messages(s.post("/v2/bot/message/reply", {"replyToken": token, "messages": [text()]}))


def test_multicast_and_broadcast_answer_empty_objects(s: Sim) -> None:
    r = s.post("/v2/bot/message/multicast", {"to": [ADA, ALAN, GRACE], "messages": [text("m")]})
    assert r.status_code == 200 and r.json() == {}
    assert {m["user"] for m in s.outbox()} == {ADA, ALAN}  # Grace blocked: dropped
    assert s.state()["quota"]["used"] == 2
    r = s.post("/v2/bot/message/broadcast", {"messages": [text("b")]})
    assert r.status_code == 200 and r.json() == {}
    assert s.state()["quota"]["used"] == 4


def test_multicast_takes_user_ids_only_and_at_most_500(s: Sim) -> None:
    r = s.post("/v2/bot/message/multicast", {"to": [GROUP], "messages": [text()]})
    assert error(r) == (
        400,
        "The property, 'to', in the request body is invalid (line: -, column: -)",
    )
    r = s.post("/v2/bot/message/multicast", {"to": [ADA] * 501, "messages": [text()]})
    assert error(r)[0] == 400
    assert r.json()["details"][0] == {"message": "Size must be between 1 and 500", "property": "to"}


@pytest.mark.parametrize("to", ["@ada", "15551230001", "U123", None, 7])
def test_push_to_a_bad_id_is_the_to_property_error(s: Sim, to: Any) -> None:
    r = s.post("/v2/bot/message/push", {"to": to, "messages": [text()]})
    assert r.status_code == 400
    if to is not None:
        assert r.json() == {
            "message": "The property, 'to', in the request body is invalid (line: -, column: -)"
        }


def test_push_to_an_unknown_user_fails_to_send(s: Sim) -> None:
    assert error(s.push(STRANGER)) == (400, "Failed to send messages")


def test_push_to_a_blocked_user_is_200_dropped_and_not_counted(s: Sim) -> None:
    sent_messages(s.push(GRACE))
    assert s.outbox(user=GRACE) == []
    state = s.state()
    assert state["quota"]["used"] == 0 and state["dropped"] == 1
    s.does(ADA, unfollow=True)  # Ada blocks now
    sent_messages(s.push(ADA))
    assert s.outbox(user=ADA) == [] and s.state()["quota"]["used"] == 0


@pytest.mark.parametrize(
    ("messages", "detail"),
    [
        ([], {"message": "Size must be between 1 and 5", "property": "messages"}),
        ([text()] * 6, {"message": "Size must be between 1 and 5", "property": "messages"}),
        ([text("")], {"message": "May not be empty", "property": "messages[0].text"}),
        (
            [text("x" * 5001)],
            {"message": "Length must be between 0 and 5000", "property": "messages[0].text"},
        ),
        (
            [text("\U0001f600" * 2501)],  # 5002 UTF-16 units
            {"message": "Length must be between 0 and 5000", "property": "messages[0].text"},
        ),
        (
            [
                {
                    **text(),
                    "quickReply": {
                        "items": [
                            {
                                "type": "action",
                                "action": {"type": "message", "label": "a", "text": "a"},
                            }
                        ]
                        * 14
                    },
                }
            ],
            {
                "message": "Size must be between 1 and 13",
                "property": "messages[0].quickReply.items",
            },
        ),
        (
            [
                {
                    "type": "image",
                    "originalContentUrl": "http://x.test/a.jpg",
                    "previewImageUrl": "https://x.test/p",
                }
            ],
            {"message": "Must be a valid HTTPS URL", "property": "messages[0].originalContentUrl"},
        ),
    ],
)
def test_message_objects_are_checked_with_lines_details(
    s: Sim, messages: list[Any], detail: dict[str, str]
) -> None:
    r = s.post("/v2/bot/message/push", {"to": ADA, "messages": messages})
    assert error(r) == (400, "The request body has 1 error(s)")
    assert r.json()["details"] == [detail]
    assert s.outbox() == [] and s.state()["quota"]["used"] == 0


def test_every_problem_is_reported_and_unknown_types_list_the_known_ones(s: Sim) -> None:
    r = s.post("/v2/bot/message/push", {"to": ADA, "messages": [text(""), {"type": "gif"}]})
    assert error(r) == (400, "The request body has 2 error(s)")
    second = r.json()["details"][1]
    assert second["property"] == "messages[1].type"
    assert second["message"].startswith("Must be one of the following values: [text, ")


def test_text_of_exactly_5000_units_and_13_quick_replies_pass(s: Sim) -> None:
    item = {"type": "action", "action": {"type": "postback", "label": "p", "data": "d"}}
    big = {**text("\U0001f600" * 2500), "quickReply": {"items": [item] * 13}}
    sent_messages(s.push(ADA, big))


def test_a_body_that_is_not_json_is_refused_with_its_position(s: Sim) -> None:
    r = s.http.post("/v2/bot/message/push", content=b'{"to": ', headers=AUTH)
    assert error(r) == (400, "The request body could not be parsed as JSON (line: 1, column: 8)")


def test_a_body_over_2_mb_is_413(s: Sim) -> None:
    r = s.http.post("/v2/bot/message/push", content=b" " * (2 * 1024 * 1024 + 1), headers=AUTH)
    assert r.status_code == 413 and "message" in r.json()


def test_validate_answers_200_or_the_same_400(s: Sim) -> None:
    for kind in ("reply", "push", "multicast", "narrowcast", "broadcast"):
        r = s.post(f"/v2/bot/message/validate/{kind}", {"messages": [text()]})
        assert r.status_code == 200, (kind, r.text)
    r = s.post("/v2/bot/message/validate/push", {"messages": [text("")]})
    assert error(r) == (400, "The request body has 1 error(s)")
    assert s.outbox() == [] and s.state()["quota"]["used"] == 0


# --- retry keys (spec §3) -------------------------------------------------------------------


def test_a_repeated_retry_key_is_409_with_the_accepted_request_and_sends_nothing(s: Sim) -> None:
    first = s.push(ADA, text("once"), **{"X-Line-Retry-Key": KEY})
    sent = sent_messages(first)
    again = s.push(ADA, text("once"), **{"X-Line-Retry-Key": KEY})
    assert error(again) == (409, "The retry key is already accepted")
    assert again.headers["x-line-accepted-request-id"] == first.headers["x-line-request-id"]
    assert again.json()["sentMessages"] == sent
    assert len(s.outbox()) == 1 and s.state()["quota"]["used"] == 1
    assert s.state()["retry_keys"] == [KEY]
    s.advance(86_400)  # the key lives 24 hours
    sent_messages(s.push(ADA, text("once"), **{"X-Line-Retry-Key": KEY}))


def test_retry_keys_on_multicast_and_broadcast_conflict_too(s: Sim) -> None:
    other = "123e4567-e89b-12d3-a456-426614174001"
    body = {"to": [ADA], "messages": [text()]}
    assert (
        s.post("/v2/bot/message/multicast", body, headers={"X-Line-Retry-Key": other}).status_code
        == 200
    )
    r = s.post("/v2/bot/message/multicast", body, headers={"X-Line-Retry-Key": other})
    assert error(r) == (409, "The retry key is already accepted") and "sentMessages" not in r.json()
    assert len(s.outbox()) == 1


def test_a_refused_request_does_not_spend_its_retry_key(s: Sim) -> None:
    assert s.push(ADA, text(""), **{"X-Line-Retry-Key": KEY}).status_code == 400
    sent_messages(s.push(ADA, text("fixed"), **{"X-Line-Retry-Key": KEY}))


def test_a_retry_key_on_reply_or_a_non_uuid_key_is_400(s: Sim) -> None:
    token = s.does()["message"]["event"]["replyToken"]
    r = s.post(
        "/v2/bot/message/reply",
        {"replyToken": token, "messages": [text()]},
        headers={"X-Line-Retry-Key": KEY},
    )
    assert r.status_code == 400
    assert s.state()["reply_tokens"] == 1  # still usable
    assert s.push(ADA, **{"X-Line-Retry-Key": "abc"}).status_code == 400
    assert s.outbox() == []


# --- quota (spec §4) ------------------------------------------------------------------------


def many_friends(n: int) -> list[dict[str, Any]]:
    return [{"user_id": f"U{i:032x}", "display_name": f"F{i}"} for i in range(1, n + 1)]


def test_a_free_plan_refuses_a_send_that_would_go_over_and_sends_to_nobody(s: Sim) -> None:
    for _ in range(199):
        assert s.push(ADA).status_code == 200
    r = s.post("/v2/bot/message/multicast", {"to": [ADA, ALAN], "messages": [text()]})
    assert error(r) == (429, "You have reached your monthly limit.")
    assert len(s.outbox()) == 199  # nobody got it
    sent_messages(s.push(ALAN))  # exactly the 200th
    assert error(s.push(ADA)) == (429, "You have reached your monthly limit.")
    token = s.does()["message"]["event"]["replyToken"]
    sent_messages(s.post("/v2/bot/message/reply", {"replyToken": token, "messages": [text()]}))
    assert s.get("/v2/bot/message/quota").json() == {"type": "limited", "value": 200}
    assert s.get("/v2/bot/message/quota/consumption").json() == {"totalUsage": 200}


def test_the_month_rolls_over_at_midnight_japan_time(s: Sim) -> None:
    for _ in range(200):
        s.push(ADA)
    # 2026-03-02T09:00Z now; April starts in Japan at 2026-03-31T15:00Z.
    s.advance((29 * 24 + 6) * 3600 - 1)
    assert error(s.push(ADA)) == (429, "You have reached your monthly limit.")
    s.advance(1)
    sent_messages(s.push(ADA))
    assert s.get("/v2/bot/message/quota/consumption").json() == {"totalUsage": 1}
    assert s.state()["quota"]["month"] == "2026-04"


def test_a_paid_plan_goes_over_up_to_its_extra_limit() -> None:
    s = Sim(plan="jp-standard", extra_limit=5, customers=many_friends(500))
    try:
        friends = [c["user_id"] for c in many_friends(500)]
        for _ in range(60):  # 30,000 free messages
            r = s.post("/v2/bot/message/multicast", {"to": friends, "messages": [text()]})
            assert r.status_code == 200
        assert s.get("/v2/bot/message/quota").json() == {"type": "limited", "value": 30_005}
        sent_messages(s.push(friends[0]))  # an additional message
        r = s.post("/v2/bot/message/multicast", {"to": friends[:4], "messages": [text()]})
        assert r.status_code == 200  # 30,005: the cap
        assert error(s.push(friends[0])) == (429, "You have reached your monthly limit.")
        assert s.get("/v2/bot/message/quota/consumption").json() == {"totalUsage": 30_005}
    finally:
        s.close()


def test_a_paid_plan_without_a_cap_has_no_limit() -> None:
    s = Sim(plan="tw-high")
    try:
        assert s.get("/v2/bot/message/quota").json() == {"type": "none"}
        sent_messages(s.push())
    finally:
        s.close()


def test_group_pushes_count_one_per_member(s: Sim) -> None:
    s.does(ADA, join={"group": GROUP})
    s.does(ALAN, member_joined={"group": GROUP})
    sent_messages(s.push(GROUP))
    assert s.state()["quota"]["used"] == 2
    assert s.outbox(user=GROUP)[0]["text"] == "hi"


# --- rate limits ------------------------------------------------------------------------------


def test_rate_limits_per_endpoint_on_the_virtual_clock() -> None:
    s = Sim(rate_limits={"push": 2, "broadcast": 1})
    try:
        sent_messages(s.push())
        sent_messages(s.push())
        r = s.push()
        assert r.status_code == 429
        assert r.json() == {"message": "The API rate limit has been exceeded. Try again later."}
        assert s.post("/v2/bot/message/broadcast", {"messages": [text()]}).status_code == 200
        assert s.post("/v2/bot/message/broadcast", {"messages": [text()]}).status_code == 429
        s.advance(1)
        sent_messages(s.push())
        assert s.post("/v2/bot/message/broadcast", {"messages": [text()]}).status_code == 429
        s.advance(3600)
        assert s.post("/v2/bot/message/broadcast", {"messages": [text()]}).status_code == 200
    finally:
        s.close()


# --- narrowcast, sent counts -----------------------------------------------------------------


def test_narrowcast_is_202_and_its_progress_follows_the_clock(s: Sim) -> None:
    r = s.post(
        "/v2/bot/message/narrowcast", {"messages": [text("n")], "notificationDisabled": False}
    )
    assert r.status_code == 202 and r.json() == {}
    request_id = r.headers["x-line-request-id"]
    progress = s.get("/v2/bot/message/progress/narrowcast", requestId=request_id).json()
    assert progress == {"phase": "waiting", "acceptedTime": "2026-03-02T09:00:00.000Z"}
    s.advance(1)
    progress = s.get("/v2/bot/message/progress/narrowcast", requestId=request_id).json()
    assert progress["phase"] == "sending" and progress["targetCount"] == 2
    s.advance(2)
    progress = s.get("/v2/bot/message/progress/narrowcast", requestId=request_id).json()
    assert progress == {
        "phase": "succeeded",
        "acceptedTime": "2026-03-02T09:00:00.000Z",
        "completedTime": "2026-03-02T09:00:03.000Z",
        "targetCount": 2,
        "successCount": 2,
        "failureCount": 0,
    }
    assert error(s.get("/v2/bot/message/progress/narrowcast", requestId="nope")) == (
        404,
        "Not found",
    )
    assert s.get("/v2/bot/message/progress/narrowcast").status_code == 400


def test_narrowcast_limit_max_caps_the_targets(s: Sim) -> None:
    r = s.post("/v2/bot/message/narrowcast", {"messages": [text()], "limit": {"max": 1}})
    assert r.status_code == 202
    assert s.state()["quota"]["used"] == 1


def test_sent_counts_by_day_in_japan_time(s: Sim) -> None:
    s.push()
    assert s.get("/v2/bot/message/delivery/push", date="20260302").json() == {"status": "unready"}
    s.advance(86_400)
    assert s.get("/v2/bot/message/delivery/push", date="20260302").json() == {
        "status": "ready",
        "success": 1,
    }
    assert s.get("/v2/bot/message/delivery/push", date="2026-03-02").status_code == 400


# --- profile, followers, bot info --------------------------------------------------------------


def test_profile_of_a_friend_and_404_for_the_others(s: Sim) -> None:
    r = s.get(f"/v2/bot/profile/{ALAN}")
    assert r.json() == {
        "displayName": "Alan Turing",
        "userId": ALAN,
        "pictureUrl": "https://profile.line-scdn.net/alan",
        "statusMessage": "Computing",
    }
    assert s.get(f"/v2/bot/profile/{ADA}").json()["language"] == "en"
    for user in (GRACE, STRANGER):
        assert error(s.get(f"/v2/bot/profile/{user}")) == (404, "Not found")


def test_followers_are_paged(s: Sim) -> None:
    assert s.get("/v2/bot/followers/ids").json() == {"userIds": [ADA, ALAN]}
    page = s.get("/v2/bot/followers/ids", limit="1").json()
    assert page == {"userIds": [ADA], "next": "1"}
    assert s.get("/v2/bot/followers/ids", limit="1", start="1").json() == {"userIds": [ALAN]}
    assert s.get("/v2/bot/followers/ids", limit="1001").status_code == 400


def test_bot_info(s: Sim) -> None:
    info = s.get("/v2/bot/info").json()
    assert info == {
        "userId": BOT,
        "basicId": "@000omnimsg",
        "displayName": "omnimsg Support",
        "chatMode": "bot",
        "markAsReadMode": "auto",
    }


# --- loading, mark as read, content -----------------------------------------------------------


@pytest.mark.parametrize("seconds", [0, 3, 7, 61, 65, "5", 5.5, True])
def test_loading_seconds_are_5_to_60_in_fives(s: Sim, seconds: Any) -> None:
    r = s.post("/v2/bot/chat/loading/start", {"chatId": ADA, "loadingSeconds": seconds})
    assert error(r)[0] == 400
    assert r.json()["details"][0]["property"] == "loadingSeconds"
    assert s.state()["loading"] == {}


def test_loading_is_202_for_a_friend_only_and_ends_with_a_message(s: Sim) -> None:
    r = s.post("/v2/bot/chat/loading/start", {"chatId": ADA, "loadingSeconds": 60})
    assert r.status_code == 202 and r.json() == {}
    assert s.state()["loading"] == {ADA: s.sim.now() + 60}
    s.push(ADA)
    assert s.state()["loading"] == {}
    for chat in (GRACE, STRANGER, GROUP):
        r = s.post("/v2/bot/chat/loading/start", {"chatId": chat, "loadingSeconds": 5})
        assert r.status_code == 400


def test_mark_as_read_by_token(s: Sim) -> None:
    token = s.does()["message"]["event"]["message"]["markAsReadToken"]
    r = s.post("/v2/bot/chat/markAsRead", {"markAsReadToken": token})
    assert r.status_code == 200 and r.json() == {}
    assert s.post("/v2/bot/chat/markAsRead", {"markAsReadToken": "nope"}).status_code == 400
    assert s.post("/v2/bot/chat/markAsRead", {}).status_code == 400


def test_content_download_and_transcoding(s: Sim) -> None:
    image = s.does(image={"data_base64": base64.b64encode(b"\xff\xd8jpeg").decode()})
    mid = image["message_id"]
    assert image["message"]["event"]["message"]["contentProvider"] == {"type": "line"}
    r = s.get(f"/v2/bot/message/{mid}/content")
    assert r.content == b"\xff\xd8jpeg" and r.headers["content-type"] == "image/jpeg"
    assert s.get(f"/v2/bot/message/{mid}/content/transcoding").json() == {"status": "succeeded"}
    video = s.does(video={"data_base64": "AAAA", "mime_type": "video/mp4", "duration": 3000})
    vid = video["message_id"]
    assert video["message"]["event"]["message"]["duration"] == 3000
    assert s.get(f"/v2/bot/message/{vid}/content/transcoding").json() == {"status": "processing"}
    assert s.get(f"/v2/bot/message/{vid}/content").status_code == 404
    s.advance(5)
    assert s.get(f"/v2/bot/message/{vid}/content/transcoding").json() == {"status": "succeeded"}
    assert s.get(f"/v2/bot/message/{vid}/content").content == b"\x00\x00\x00"
    assert error(s.get("/v2/bot/message/123/content")) == (404, "Not found")


def test_an_unknown_path_is_lines_404(s: Sim) -> None:
    assert error(s.get("/v2/bot/nothing")) == (404, "Not found")


# --- webhooks (spec §1, §2) -------------------------------------------------------------------

COMMON = {"type", "timestamp", "mode", "webhookEventId", "deliveryContext", "source"}


def check_event(event: dict[str, Any]) -> None:
    """What the official parser requires of every event (research §1.4)."""
    assert set(event) >= COMMON
    assert isinstance(event["timestamp"], int) and event["mode"] in ("active", "standby")
    assert ULID.fullmatch(event["webhookEventId"])
    assert isinstance(event["deliveryContext"]["isRedelivery"], bool)


def test_webhooks_are_signed_over_the_exact_bytes_with_raw_utf8(s: Sim) -> None:
    s.does(text="こんにちは \U0001f600 / \\")
    [request] = s.control("GET", "/_sim/sink")["requests"]
    body = request["body"].encode()
    assert "こんにちは".encode() in body  # raw UTF-8, as LINE sends it
    [webhook] = s.webhooks()
    assert webhook["destination"] == BOT
    [event] = webhook["events"]
    check_event(event)
    assert event["message"]["text"] == "こんにちは \U0001f600 / \\"
    assert event["source"] == {"type": "user", "userId": ADA}
    assert re.fullmatch(r"[0-9a-f]{32}", event["replyToken"])


def test_the_signature_matches_the_published_vectors() -> None:
    assert (
        sign("channel_secret", b"bodybodybodybody")
        == "/gg9a+LvFevTH1sd7XCQycD7tsWclCsInj7MhBHxN7k="
    )
    assert (
        sign("test_secret", b'{"hello":"world"}') == "t7Hn4ZDHqs6e+wdvI5TyQIvzie0DmMUmuXEBqyyE/tM="
    )


@pytest.mark.parametrize(
    ("action", "required"),
    [
        ({"text": "hi"}, {"message": {"id", "text", "quoteToken"}}),
        (
            {"image": {"url": "https://x.test/a.jpg"}},
            {"message": {"contentProvider", "quoteToken"}},
        ),
        ({"audio": {"data_base64": "AAAA"}}, {"message": {"contentProvider", "duration"}}),
        (
            {"file": {"data_base64": "AAAA", "fileName": "a.pdf"}},
            {"message": {"fileName", "fileSize"}},
        ),
        (
            {"location": {"latitude": 35.6, "longitude": 139.7}},
            {"message": {"latitude", "longitude"}},
        ),
        (
            {"sticker": {"packageId": "1", "stickerId": "2"}},
            {"message": {"packageId", "stickerId", "stickerResourceType", "quoteToken"}},
        ),
        (
            {"postback": {"data": "a=1", "params": {"date": "2026-03-02"}}},
            {"postback": {"data", "params"}},
        ),
        ({"unsend": {"messageId": "123"}}, {"unsend": {"messageId"}}),
    ],
)
def test_every_event_carries_what_the_official_parser_requires(
    s: Sim, action: dict[str, Any], required: dict[str, set[str]]
) -> None:
    s.does(ADA, **action)
    [event] = s.events()
    check_event(event)
    for key, fields in required.items():
        assert fields <= set(event[key]), event
    if event["type"] in ("message", "postback"):
        assert "replyToken" in event
    else:
        assert "replyToken" not in event


def test_follow_unfollow_and_unblock(s: Sim) -> None:
    new = "U" + "4" * 32
    s.does(new, follow=True)
    assert s.refused(new, follow=True) == "follow: the user is already a friend"
    s.does(new, unfollow=True)
    assert "not a friend" in s.refused(new, unfollow=True)
    assert "blocked" in s.refused(new, text="hi")
    s.does(new, follow=True)
    events = s.events()
    assert [e["type"] for e in events] == ["follow", "unfollow", "follow"]
    assert events[0]["follow"] == {"isUnblocked": False} and "replyToken" in events[0]
    assert "replyToken" not in events[1]
    assert events[2]["follow"] == {"isUnblocked": True}
    s.does(GRACE, follow=True)  # seeded as blocked
    assert s.events()[-1]["follow"] == {"isUnblocked": True}
    assert GRACE in s.state()["friends"]


def test_groups_join_members_and_leave(s: Sim) -> None:
    s.does(ADA, join={"group": GROUP})
    s.does(ALAN, member_joined={"group": GROUP})
    s.does(ALAN, text="in the group", group=GROUP)
    s.does(ALAN, member_left={"group": GROUP})
    assert "not a member" in s.refused(ALAN, text="x", group=GROUP)
    s.does(ADA, leave={"group": GROUP})
    assert "not in that group" in s.refused(ADA, text="x", group=GROUP)
    events = s.events()
    assert [e["type"] for e in events] == ["join", "memberJoined", "message", "memberLeft", "leave"]
    for event in events:
        check_event(event)
    assert events[0]["source"] == {"type": "group", "groupId": GROUP} and events[0]["replyToken"]
    assert events[1]["joined"] == {"members": [{"type": "user", "userId": ALAN}]}
    assert events[2]["source"] == {"type": "group", "groupId": GROUP, "userId": ALAN}
    assert events[3]["left"] == {"members": [{"type": "user", "userId": ALAN}]}
    assert "replyToken" not in events[4]
    assert error(s.push(GROUP)) == (400, "Failed to send messages")  # the bot left


def test_a_reply_in_a_group_goes_to_the_group(s: Sim) -> None:
    s.does(ADA, join={"group": GROUP})
    token = s.does(ADA, text="hi all", group=GROUP)["message"]["event"]["replyToken"]
    sent_messages(s.post("/v2/bot/message/reply", {"replyToken": token, "messages": [text()]}))
    assert [m["user"] for m in s.outbox()] == [GROUP]


def test_standby_events_carry_no_reply_token(s: Sim) -> None:
    s.does(ADA, text="hi", mode="standby")
    [event] = s.events()
    assert event["mode"] == "standby" and "replyToken" not in event


def test_raw_events_pass_through_with_their_common_fields(s: Sim) -> None:
    s.does(ADA, event={"type": "beacon", "beacon": {"hwid": "d41d8cd98f", "type": "enter"}})
    s.does(ADA, event={"type": "somethingNew", "x": 1})
    beacon, new = s.events()
    check_event(beacon)
    check_event(new)
    assert beacon["beacon"]["hwid"] == "d41d8cd98f" and beacon["replyToken"]
    assert new["x"] == 1 and "replyToken" not in new


@pytest.mark.parametrize(
    ("action", "message"),
    [
        ({}, "give exactly one of"),
        ({"text": ""}, "text: must not be empty"),
        ({"text": "a", "postback": {"data": "x"}}, "give one action"),
        ({"image": {"data_base64": "!!"}}, "image.data_base64: not valid base64"),
        ({"image": {"data_base64": "AAAA", "mime_type": "x\r\ny"}}, "image.mime_type"),
        ({"location": {"latitude": 91, "longitude": 0}}, "location.latitude"),
        ({"sticker": {"packageId": "1"}}, "sticker.stickerId: missing"),
        ({"postback": {"data": 5}}, "postback.data"),
        ({"join": {"group": "G1"}}, "join.group"),
        ({"follow": "yes"}, "follow: expected true"),
        ({"richmenu": {"area": 0}}, "no rich menu"),
        ({"text": "hi", "mode": "sleepy"}, "mode: must be active or standby"),
        ({"text": "hi", "colour": "red"}, "unknown field(s) for line: colour"),
        ({"event": {"type": "x", "timestamp": 1}}, "event.timestamp: filled in"),
    ],
)
def test_malformed_actions_are_refused_and_change_nothing(
    s: Sim, action: dict[str, Any], message: str
) -> None:
    assert message in s.refused(ADA, **action)


def test_a_bad_user_or_account_is_refused(s: Sim) -> None:
    assert "'user'" in s.refused("15551230001", text="hi")
    assert "'user' is the bot itself" in s.refused(BOT, text="hi")
    assert "account" in s.refused(ADA, text="hi", account="U" + "0" * 32)


def test_a_rich_menu_tap_is_its_postback_or_message(s: Sim) -> None:
    menu = {
        "size": {"width": 2500, "height": 843},
        "selected": False,
        "name": "FAQ",
        "chatBarText": "Menu",
        "areas": [
            {
                "bounds": {"x": 0, "y": 0, "width": 1250, "height": 843},
                "action": {"type": "postback", "data": "faq=hours"},
            },
            {
                "bounds": {"x": 1250, "y": 0, "width": 1250, "height": 843},
                "action": {"type": "message", "text": "Talk to an agent"},
            },
        ],
    }
    r = s.post("/v2/bot/richmenu", menu)
    assert r.status_code == 200, r.text
    menu_id = r.json()["richMenuId"]
    image = s.http.post(
        f"/v2/bot/richmenu/{menu_id}/content",
        content=sample_png(2500, 843),
        headers={**AUTH, "Content-Type": "image/png"},
    )
    assert image.status_code == 200, image.text
    linked = s.http.post(f"/v2/bot/user/{ADA}/richmenu/{menu_id}", headers=AUTH)
    assert linked.status_code == 200, linked.text
    s.does(ADA, richmenu={"area": 0})
    s.does(ADA, richmenu={"area": 1})
    assert "no area 2" in s.refused(ADA, richmenu={"area": 2})
    postback, message = s.events()
    assert postback["type"] == "postback" and postback["postback"] == {"data": "faq=hours"}
    assert message["message"]["text"] == "Talk to an agent"


def test_the_console_verify_is_a_signed_post_with_no_events(s: Sim) -> None:
    answer = s.control("POST", "/_sim/webhooks/verify", {"platform": "line"})
    assert answer["verified"] is True
    assert s.webhooks() == [{"destination": BOT, "events": []}]


def test_a_refused_webhook_is_redelivered_with_is_redelivery_and_the_same_id() -> None:
    seen: list[httpx.Request] = []

    def app(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(500 if len(seen) == 1 else 200)

    s = Sim(httpx.MockTransport(app), webhook_url="https://app.test/line")
    try:
        answer = s.does(ADA, text="are you there?")
        assert answer["delivery"]["status"] == 500 and answer["delivery"]["retry_at"] is not None
        s.advance(10)  # the first retry delay
        assert len(seen) == 2
        bodies = []
        for request in seen:
            body = request.read()
            digest = hmac.new(SECRET.encode(), body, hashlib.sha256).digest()
            assert request.headers["x-line-signature"] == base64.b64encode(digest).decode()
            bodies.append(json.loads(body))
        first, retry = (b["events"][0] for b in bodies)
        assert first["deliveryContext"] == {"isRedelivery": False}
        assert retry["deliveryContext"] == {"isRedelivery": True}
        assert retry["webhookEventId"] == first["webhookEventId"]
        assert {k: v for k, v in retry.items() if k != "deliveryContext"} == {
            k: v for k, v in first.items() if k != "deliveryContext"
        }
        log = s.control("GET", "/_sim/webhooks")["deliveries"]
        assert [d["attempt"] for d in log] == [1, 2]
    finally:
        s.close()


def test_event_ids_are_deterministic_for_a_seed() -> None:
    def ids() -> list[str]:
        s = Sim()
        try:
            s.does(text="a")
            s.does(ALAN, text="b")
            return [e["webhookEventId"] for e in s.events()]
        finally:
            s.close()

    first = ids()
    assert first == ids() and len(set(first)) == 2


def test_retried_deliveries_keep_their_class() -> None:
    import attrs

    d = LineDelivery(
        id=1,
        platform="line",
        account=BOT,
        kind="message",
        url="/_sim/sink",
        body=b'{"destination":"x","events":[{"deliveryContext":{"isRedelivery":false}}]}',
        headers=(("x-line-signature", "old"),),
        secret="s",
    )
    again = attrs.evolve(d, attempt=2)
    assert isinstance(again, LineDelivery)
    assert json.loads(again.body)["events"][0]["deliveryContext"]["isRedelivery"] is True
    assert dict(again.headers)["x-line-signature"] == sign("s", again.body)
    assert "'s'" not in repr(again)


# --- state, reset, the server ------------------------------------------------------------------


def test_state_snapshot_and_reset(s: Sim) -> None:
    s.does()
    s.push(ADA, **{"X-Line-Retry-Key": KEY})
    state = s.state()
    assert state["friends"] == [ADA, ALAN]
    assert state["quota"] == {"month": "2026-03", "limit": 200, "used": 1, "remaining": 199}
    assert state["reply_tokens"] == 1 and state["retry_keys"] == [KEY]
    s.control("POST", "/_sim/reset")
    state = s.state()
    assert state["quota"]["used"] == 0 and state["reply_tokens"] == 0 and state["retry_keys"] == []


def test_health_lists_line() -> None:
    config = parse_config({"line": [DEFAULT_LINE]})
    sim = InProcessSimulator(config)
    try:
        assert sim.control("GET", "/_sim/health")["platforms"]["line"] == [BOT]
    finally:
        sim.close()


def test_the_server_serves_line_over_a_socket() -> None:
    config = line_sim_config(webhook_url="/_sim/sink")
    with ServerThread(config) as url, httpx.Client(base_url=url) as http:
        r = http.post("/v2/bot/message/push", headers=AUTH, json={"to": ADA, "messages": [text()]})
        sent_messages(r)
        assert r.headers["x-line-request-id"]
        answer = http.post("/_sim/inbound", json={"platform": "line", "user": ADA, "text": "hi"})
        assert answer.json()["delivery"]["status"] == 200
