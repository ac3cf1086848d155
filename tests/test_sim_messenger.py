"""The simulated Messenger Platform over raw HTTP: every endpoint and rule (spec/messenger.md).

Requests are written by hand, as any client in any language would write them, and go through
the in-process simulator (sync, no socket) or the server (``Simulator``, async) on the
virtual clock. Webhooks go to the built-in sink, where their signatures are checked as an
app must check them: over the exact bytes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from omnimsg import ConfigurationError
from omnimsg.testing import DEFAULT_MESSENGER, DEFAULT_WHATSAPP, messenger_sim_config
from omnimsg_sim import InProcessSimulator, parse_config
from omnimsg_sim.cli import main as cli
from simctl import Harness

PAGE = DEFAULT_MESSENGER["page_id"]
TOKEN = DEFAULT_MESSENGER["page_access_token"]
SECRET = DEFAULT_MESSENGER["app_secret"]
APP = DEFAULT_MESSENGER["app_id"]
ADA = DEFAULT_MESSENGER["customers"][0]["psid"]
ALAN = DEFAULT_MESSENGER["customers"][1]["psid"]
PAGE_INBOX = "263902037430900"
HOUR, DAY = 3600, 86400


class Sim(Harness):
    """An in-process simulator of one Page, its webhooks kept by the sink, and raw HTTP."""

    def __init__(self, app: httpx.BaseTransport | None = None, **overrides: Any) -> None:
        overrides.setdefault("webhook_url", "/_sim/sink")
        super().__init__("messenger", ADA, messenger_sim_config(**overrides), app)

    says = Harness.act

    def send(self, body: dict[str, Any], *, token: str | None = TOKEN) -> httpx.Response:
        query = {} if token is None else {"access_token": token}
        return self.http.post("/v25.0/me/messages", params=query, json=body)

    def text(self, text: str = "Hello", user: str = ADA, **extra: Any) -> httpx.Response:
        return self.send({"recipient": {"id": user}, "message": {"text": text}, **extra})

    def webhooks(self) -> list[dict[str, Any]]:
        """Every webhook the sink got, its signatures checked; the decoded bodies."""
        out = []
        for request in self.control("GET", "/_sim/sink")["requests"]:
            if request["method"] != "POST":
                continue
            body = request["body"].encode()
            headers = request["headers"]
            sha256 = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            sha1 = hmac.new(SECRET.encode(), body, hashlib.sha1).hexdigest()
            assert headers["x-hub-signature-256"] == f"sha256={sha256}"
            assert headers["x-hub-signature"] == f"sha1={sha1}"
            assert body.isascii()  # non-ASCII travels as \uXXXX escapes (§1.2)
            out.append(json.loads(body))
        return out

    def events(self, where: str = "messaging") -> list[dict[str, Any]]:
        """The messaging (or standby) events of every webhook, in order."""
        return [e for w in self.webhooks() for entry in w["entry"] for e in entry.get(where, [])]

    def state(self) -> dict[str, Any]:
        return dict(self.control("GET", "/_sim/state")["messenger"][PAGE])


@pytest.fixture
def s() -> Iterator[Sim]:
    sim = Sim()
    yield sim
    sim.close()


def error(r: httpx.Response) -> tuple[int, int, int | None]:
    """(HTTP status, code, subcode) of a Graph error."""
    e = r.json()["error"]
    assert isinstance(e["message"], str) and e["fbtrace_id"] and e["type"]
    return r.status_code, e["code"], e.get("error_subcode")


# --- config -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"page_id": None}, r"messenger\[0\]\.page_id: missing"),
        ({"page_id": "12a"}, r"messenger\[0\]\.page_id: must be digits only"),
        ({"page_access_token": ""}, r"messenger\[0\]\.page_access_token: must not be empty"),
        ({"app_secret": 7}, r"messenger\[0\]\.app_secret: expected a string, got int"),
        ({"app_id": "app"}, r"messenger\[0\]\.app_id: must be digits only"),
        ({"tag_profile": "2019"}, r"messenger\[0\]\.tag_profile: must be one of"),
        ({"send_rate": -1}, r"messenger\[0\]\.send_rate: must be at least 0"),
        ({"read_after": -2}, r"messenger\[0\]\.read_after: must not be negative"),
        ({"human_agent": "yes"}, r"messenger\[0\]\.human_agent: expected true/false"),
        ({"webhook_url": "ftp://x"}, r"messenger\[0\]\.webhook_url: must be an http\(s\) URL"),
        ({"colour": "blue"}, r"messenger\[0\]: unknown field\(s\) colour"),
        ({"customers": [{"first_name": "x"}]}, r"messenger\[0\]\.customers\[0\]\.psid: missing"),
        ({"customers": [{"psid": "p1"}]}, r"customers\[0\]\.psid: must be digits only"),
        ({"secondary_receivers": [5]}, r"secondary_receivers\[0\]: expected a string"),
    ],
)
def test_config_errors_name_the_field(change: dict[str, Any], message: str) -> None:
    account = {**DEFAULT_MESSENGER, **change}
    account = {k: v for k, v in account.items() if v is not None}
    with pytest.raises(ConfigurationError, match=message):
        parse_config({"messenger": [account]})


def test_config_with_pages_only_and_both_platforms_on_one_graph_host() -> None:
    only = parse_config({"messenger": [DEFAULT_MESSENGER]})
    assert only.whatsapp == () and only.messenger[0].page_id == PAGE
    assert only.messenger[0].tag_profile == "messenger-2026-04-27"  # the default profile
    sim = InProcessSimulator(only)
    assert sim.control("GET", "/_sim/health")["platforms"] == {"messenger": [PAGE]}
    # A control-plane body naming no platform is the only one served.
    assert sim.control("POST", "/_sim/inbound", {"user": ADA, "text": "hi"})["message_id"]
    both = parse_config({"whatsapp": [DEFAULT_WHATSAPP], "messenger": [DEFAULT_MESSENGER]})
    assert InProcessSimulator(both).control("GET", "/_sim/health")["platforms"] == {
        "whatsapp": [DEFAULT_WHATSAPP["phone_number_id"]],
        "messenger": [PAGE],
    }
    clash = {**DEFAULT_MESSENGER, "page_id": DEFAULT_WHATSAPP["waba_id"]}
    with pytest.raises(ConfigurationError, match="share the Graph host"):
        parse_config({"whatsapp": [DEFAULT_WHATSAPP], "messenger": [clash]})
    with pytest.raises(ConfigurationError, match="share a page_id"):
        parse_config({"messenger": [DEFAULT_MESSENGER, DEFAULT_MESSENGER]})
    # A WhatsApp-only simulator says Messenger has no account there.
    wa = InProcessSimulator(parse_config({"whatsapp": [DEFAULT_WHATSAPP]}))
    refused = wa.control("POST", "/_sim/inbound", {"platform": "messenger", "user": ADA})
    assert "has no account in this config" in refused["error"]["message"]


def test_check_names_the_pages(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    toml = tmp_path / "sim.toml"
    toml.write_text(
        "[[messenger]]\n"
        'page_id = "111"\npage_access_token = "t"\napp_secret = "s"\n'
        "[[messenger.customers]]\n"
        'psid = "222"\nfirst_name = "Ada"\n'
    )
    assert cli(["check", "--config", str(toml)]) == 0
    assert "is valid (1 Messenger page(s))" in capsys.readouterr().out
    toml.write_text('[[messenger]]\npage_id = "111"\napp_secret = "s"\n')
    assert cli(["check", "--config", str(toml)]) == 2
    assert "messenger[0].page_access_token: missing" in capsys.readouterr().err


# --- Graph: objects, tokens, errors ---------------------------------------------------------


def test_tokens_are_checked_as_graph_checks_them(s: Sim) -> None:
    s.says()
    body = {"recipient": {"id": ADA}, "message": {"text": "hi"}}
    assert error(s.send(body, token=None)) == (400, 2500, None)
    assert error(s.send(body, token="nope")) == (401, 190, None)
    # A Bearer header, the query, a JSON body or a form body: all carry the token.
    bearer = s.http.post(
        f"/v25.0/{PAGE}/messages", json=body, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert bearer.status_code == 200, bearer.text
    in_body = s.http.post("/v25.0/me/messages", json={**body, "access_token": TOKEN})
    assert in_body.status_code == 200, in_body.text
    form = s.http.post(
        "/v25.0/me/messages",
        data={
            "recipient": json.dumps({"id": ADA}),
            "message": '{"text":"hi"}',
            "access_token": TOKEN,
        },
    )
    assert form.status_code == 200, form.text
    assert "access_token" not in json.dumps(s.control("GET", "/_sim/outbox"))  # never kept
    proof = hmac.new(SECRET.encode(), TOKEN.encode(), hashlib.sha256).hexdigest()
    good = s.http.post(
        f"/v25.0/me/messages?appsecret_proof={proof}&access_token={TOKEN}", json=body
    )
    assert good.status_code == 200
    bad = s.http.post(f"/v25.0/me/messages?appsecret_proof=00&access_token={TOKEN}", json=body)
    assert error(bad) == (400, 100, None)
    # /me with no Page's token; an id nobody owns; an edge the Page does not have.
    assert error(s.http.get("/v25.0/me/messenger_profile?fields=greeting")) == (400, 2500, None)
    assert error(s.http.get("/v25.0/me?access_token=wrong")) == (401, 190, None)
    assert error(s.http.get(f"/v25.0/999?access_token={TOKEN}")) == (400, 100, 33)
    assert error(s.http.get(f"/v25.0/{PAGE}/feed?access_token={TOKEN}")) == (400, 100, 33)
    me = s.http.get("/v25.0/me", params={"access_token": TOKEN}).json()
    assert me == {"name": "omnimsg Support", "id": PAGE}


def test_messenger_and_whatsapp_share_the_graph_host() -> None:
    both = parse_config(
        {
            "whatsapp": [{**DEFAULT_WHATSAPP, "webhook_url": "/_sim/sink"}],
            "messenger": [{**DEFAULT_MESSENGER, "webhook_url": "/_sim/sink"}],
        }
    )
    sim = InProcessSimulator(both)
    http = httpx.Client(transport=sim.transport(), base_url=sim.base_url)
    wa = DEFAULT_WHATSAPP
    sim.control(
        "POST", "/_sim/inbound", {"platform": "whatsapp", "user": "15551230001", "text": "a"}
    )
    sim.control("POST", "/_sim/inbound", {"platform": "messenger", "user": ADA, "text": "b"})
    sent = http.post(
        f"/v25.0/{wa['phone_number_id']}/messages",
        headers={"Authorization": f"Bearer {wa['access_token']}"},
        json={"messaging_product": "whatsapp", "to": "15551230001", "text": {"body": "x"}},
    )
    assert sent.status_code == 200, sent.text
    page = http.post(
        f"/v25.0/{PAGE}/messages",
        params={"access_token": TOKEN},
        json={"recipient": {"id": ADA}, "message": {"text": "y"}},
    )
    assert page.status_code == 200, page.text
    # Each object takes its own platform's token only.
    crossed = http.post(
        f"/v25.0/{PAGE}/messages",
        params={"access_token": wa["access_token"]},
        json={"recipient": {"id": ADA}, "message": {"text": "y"}},
    )
    assert crossed.status_code == 401
    platforms = [m["platform"] for m in sim.control("GET", "/_sim/outbox")["messages"]]
    assert platforms == ["whatsapp", "messenger"]
    http.close()
    sim.close()


# --- the Send API: the window and message tags (§4) -----------------------------------------


def test_a_reply_at_23_hours_goes_and_at_25_hours_is_refused(s: Sim) -> None:
    s.says()
    s.advance(23 * HOUR)
    assert s.text("Still there?").status_code == 200
    s.advance(2 * HOUR)  # 25 h after the customer's message
    r = s.text("Any news?")
    assert error(r) == (400, 10, 2018278)
    assert r.json()["error"]["message"].startswith(
        "(#10) This message is sent outside of allowed window."
    )
    # A customer who never wrote has no window at all.
    assert error(s.text(user=ALAN)) == (400, 10, 2018278)
    # Writing again opens it again.
    s.says()
    assert s.text("Welcome back").status_code == 200


def human_agent(s: Sim, text: str = "An agent here") -> httpx.Response:
    return s.send(
        {
            "recipient": {"id": ADA},
            "messaging_type": "MESSAGE_TAG",
            "tag": "HUMAN_AGENT",
            "message": {"text": text},
        }
    )


def test_human_agent_goes_at_day_6_and_not_at_day_8(s: Sim) -> None:
    s.says()
    s.advance(6 * DAY)
    assert error(s.text()) == (400, 10, 2018278)  # untagged: the 24 h window is long gone
    assert human_agent(s).status_code == 200
    s.advance(2 * DAY)
    assert error(human_agent(s)) == (400, 10, 2018278)


def test_human_agent_needs_the_permission() -> None:
    s = Sim(human_agent=False)
    s.says()
    s.advance(2 * DAY)
    assert error(human_agent(s)) == (400, 10, None)
    s.close()


@pytest.mark.parametrize(
    "tag", ["CONFIRMED_EVENT_UPDATE", "POST_PURCHASE_UPDATE", "ACCOUNT_UPDATE"]
)
def test_retired_tags_are_refused_and_the_older_profile_takes_them(tag: str) -> None:
    body = {
        "recipient": {"id": ADA},
        "messaging_type": "MESSAGE_TAG",
        "tag": tag,
        "message": {"text": "Your order shipped"},
    }
    current = Sim()
    current.says()
    current.advance(3 * DAY)
    r = current.send(body)
    assert error(r) == (400, 100, 1893061)
    assert r.json()["error"]["message"] == "(#100) Invalid parameter"
    older = Sim(tag_profile="messenger-2020-03-04")
    older.says()
    older.advance(3 * DAY)
    assert older.send(body).status_code == 200
    current.close()
    older.close()


def test_tag_and_messaging_type_go_together(s: Sim) -> None:
    s.says()
    tagged = {"recipient": {"id": ADA}, "tag": "HUMAN_AGENT", "message": {"text": "x"}}
    assert error(s.send(tagged)) == (400, 100, None)  # a tag needs MESSAGE_TAG
    untagged = {"recipient": {"id": ADA}, "messaging_type": "MESSAGE_TAG", "message": {"text": "x"}}
    assert error(s.send(untagged)) == (400, 100, None)
    bogus = {**tagged, "messaging_type": "MESSAGE_TAG", "tag": "SHIPPING_UPDATE"}
    assert error(s.send(bogus))[:2] == (400, 100)  # retired in 2020
    typo = {**tagged, "messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGNET"}
    assert "Invalid tag" in s.send(typo).json()["error"]["message"]
    kind = {"recipient": {"id": ADA}, "messaging_type": "PROMO", "message": {"text": "x"}}
    assert error(s.send(kind)) == (400, 100, None)
    for messaging_type in ("RESPONSE", "UPDATE"):
        body = {
            "recipient": {"id": ADA},
            "messaging_type": messaging_type,
            "message": {"text": "x"},
        }
        assert s.send(body).status_code == 200


# --- private replies (§3.4) ----------------------------------------------------------------


def test_a_comment_gets_exactly_one_private_reply(s: Sim) -> None:
    posted = s.says(user=ALAN, comment={"message": "Do you ship to Spain?"})
    comment_id = posted["message_id"]
    change = s.webhooks()[-1]
    assert change["object"] == "page"
    value = change["entry"][0]["changes"][0]
    assert value["field"] == "feed"
    assert value["value"]["item"] == "comment" and value["value"]["verb"] == "add"
    assert value["value"]["comment_id"] == comment_id
    assert value["value"]["from"] == {"id": ALAN, "name": "Alan Turing"}
    assert isinstance(value["value"]["created_time"], int)  # seconds
    reply = {"recipient": {"comment_id": comment_id}, "message": {"text": "We do!"}}
    first = s.send(reply)
    assert first.status_code == 200 and first.json()["recipient_id"] == ALAN
    assert error(s.send(reply)) == (400, 10900, None)
    # The private reply does not open the window: only the customer's answer does (§3.4).
    assert error(s.text(user=ALAN)) == (400, 10, 2018278)
    assert s.state()["comments"][0]["replied"] is True


def test_a_private_reply_must_follow_within_7_days(s: Sim) -> None:
    comment_id = s.says(comment={"message": "Price?"})["message_id"]
    s.advance(7 * DAY)
    late = s.send({"recipient": {"comment_id": comment_id}, "message": {"text": "x"}})
    assert error(late) == (400, 10903, None)
    unknown = s.send({"recipient": {"comment_id": "1_2"}, "message": {"text": "x"}})
    assert error(unknown) == (400, 100, None)
    post = s.says(comment={"message": "A visitor post", "item": "post"})["message_id"]
    assert (
        s.send({"recipient": {"post_id": post}, "message": {"text": "Thanks"}}).status_code == 200
    )


# --- content (§3.2) --------------------------------------------------------------------------


def test_content_limits_answer_messengers_codes(s: Sim) -> None:
    s.says()

    def message(m: dict[str, Any]) -> tuple[int, int, int | None]:
        return error(s.send({"recipient": {"id": ADA}, "message": m}))

    def qr(n: int) -> list[dict[str, str]]:
        return [{"content_type": "text", "title": f"t{i}", "payload": f"p{i}"} for i in range(n)]

    def template(payload: dict[str, Any]) -> dict[str, Any]:
        return {"attachment": {"type": "template", "payload": payload}}

    button = {"type": "postback", "title": "Yes", "payload": "YES"}
    element = {"title": "Shoe", "subtitle": "A shoe"}
    assert message({"text": "x" * 2001}) == (400, 100, None)
    assert message({"text": ""}) == (400, 100, 2018034)
    assert message({}) == (400, 100, 2018034)
    assert message({"text": "x", "quick_replies": qr(14)}) == (400, 105, None)
    assert message({"text": "x", "quick_replies": []}) == (400, 194, None)
    assert message({"text": "x", "quick_replies": [{"content_type": "text", "payload": "p"}]}) == (
        400,
        100,
        2018098,
    )
    assert message({"text": "x", "quick_replies": [{"content_type": "location"}]}) == (
        400,
        100,
        None,
    )
    assert message(template({"template_type": "button", "text": "?", "buttons": []})) == (
        400,
        194,
        None,
    )
    assert message(template({"template_type": "button", "text": "?", "buttons": [button] * 4})) == (
        400,
        105,
        None,
    )
    assert message(
        template(
            {
                "template_type": "button",
                "text": "?",
                "buttons": [{"type": "postback", "title": "A"}],
            }
        )
    ) == (400, 100, 2018040)
    assert message(template({"template_type": "generic", "elements": [element] * 11})) == (
        400,
        105,
        None,
    )
    assert message(template({"template_type": "generic", "elements": [{"title": "only"}]})) == (
        400,
        100,
        2018035,
    )
    assert message({"text": "x", "metadata": "m" * 1000}) == (400, 100, None)
    both = {"recipient": {"id": ADA}, "sender_action": "typing_on", "message": {"text": "x"}}
    assert error(s.send(both)) == (400, 100, 2018015)
    assert error(s.send({"recipient": {"id": ADA}})) == (400, 100, 2018015)
    assert error(s.send({"message": {"text": "x"}})) == (400, 100, None)  # no recipient
    assert error(s.send({"recipient": {"id": "424242"}, "message": {"text": "x"}})) == (
        400,
        100,
        2018001,
    )
    assert s.control("GET", "/_sim/outbox")["messages"] == []  # nothing refused was kept
    # And what goes: each kind, as the outbox reads it.
    sent = [
        {"text": "Pick one", "quick_replies": qr(13)},
        template({"template_type": "button", "text": "Agent?", "buttons": [button]}),
        template({"template_type": "generic", "elements": [element] * 10}),
        {"attachment": {"type": "image", "payload": {"url": "https://example.com/a.png"}}},
        {"sticker_id": 369239263222822},
        template(
            {
                "template_type": "media",
                "elements": [{"media_type": "image", "url": "https://example.com/b.png"}],
            }
        ),
    ]
    for m in sent:
        r = s.send({"recipient": {"id": ADA}, "message": m})
        assert r.status_code == 200, (m, r.text)
    texts = [m["text"] for m in s.control("GET", "/_sim/outbox?raw=false")["messages"]]
    assert texts == [
        "Pick one",
        "Agent? [Yes]",
        " | ".join(["Shoe"] * 10),
        "[image]",
        "[sticker]",
        "[media template]",
    ]


def test_sender_actions_are_their_own_requests(s: Sim) -> None:
    s.says()
    for action in ("typing_on", "typing_off", "mark_seen"):
        r = s.send({"recipient": {"id": ADA}, "sender_action": action})
        assert r.json() == {"recipient_id": ADA}
    assert error(s.send({"recipient": {"id": ADA}, "sender_action": "dance"})) == (400, 100, None)
    assert s.state()["customers"][0]["last_sender_action"] == "mark_seen"
    assert s.control("GET", "/_sim/outbox")["messages"] == []  # not messages


def test_the_send_rate_is_per_page_per_second() -> None:
    s = Sim(send_rate=3, media_send_rate=1)
    s.says()
    assert [s.text(f"m{i}").status_code for i in range(3)] == [200] * 3
    assert error(s.text("one too many")) == (400, 613, None)
    s.advance(1)
    assert s.text("a second later").status_code == 200
    video = {"attachment": {"type": "video", "payload": {"url": "https://example.com/v.mp4"}}}
    assert s.send({"recipient": {"id": ADA}, "message": video}).status_code == 200
    s.advance(0.5)
    assert error(s.send({"recipient": {"id": ADA}, "message": video})) == (400, 613, None)
    s.close()


# --- webhooks: echoes, receipts, customers (§2) ---------------------------------------------


def test_echoes_and_receipts_arrive_signed_after_each_send(s: Sim) -> None:
    s.says(text="Où est ma commande ?")
    inbound = s.control("GET", "/_sim/sink")["requests"][0]["body"]
    assert "O\\u00f9 est ma commande ?" in inbound  # escaped as Meta escapes (§1.2)
    sent = s.send(
        {"recipient": {"id": ADA}, "message": {"text": "En route ✈", "metadata": "ticket-7"}}
    ).json()
    mid = sent["message_id"]
    echo = s.events()[-1]
    assert echo["sender"] == {"id": PAGE} and echo["recipient"] == {"id": ADA}
    assert echo["message"] == {
        "is_echo": True,
        "app_id": int(APP),
        "mid": mid,
        "metadata": "ticket-7",
        "text": "En route ✈",
    }
    delivered = s.advance(1)
    assert [d["kind"] for d in delivered] == ["delivery"]
    delivery = s.events()[-1]
    assert delivery["delivery"] == {"mids": [mid], "watermark": echo["timestamp"]}
    assert "timestamp" not in delivery  # as Meta's sample has it
    assert [d["kind"] for d in s.advance(1)] == ["read"]
    read = s.events()[-1]
    assert read["read"] == {"watermark": echo["timestamp"]} and read["sender"] == {"id": ADA}
    assert s.control("GET", "/_sim/outbox")["messages"][0]["status"] == "read"
    envelope = s.webhooks()[-1]
    assert envelope["object"] == "page" and envelope["entry"][0]["id"] == PAGE


def test_webhooks_are_retried_on_the_virtual_clock() -> None:
    answers = [503, 200]
    bodies: list[bytes] = []

    def app(request: httpx.Request) -> httpx.Response:
        bodies.append(request.read())
        return httpx.Response(answers.pop(0))

    s = Sim(httpx.MockTransport(app), webhook_url="https://app.test/hook")
    first = s.says()["delivery"]
    assert first["status"] == 503 and first["retry_at"] == s.sim.now() + 10
    retried = s.advance(10)
    assert [(d["kind"], d["attempt"], d["status"]) for d in retried] == [("message", 2, 200)]
    assert bodies[0] == bodies[1]  # the same bytes, the same signature
    s.close()


def test_every_customer_action_becomes_its_webhook(s: Sim) -> None:
    s.says(text="hello", reply_to={"mid": "m_earlier"})
    s.says(quick_reply={"payload": "TRACK", "title": "Track order"})
    s.says(postback={"title": "Talk to an agent", "payload": "AGENT"})
    s.says(image={"url": "https://example.com/cat.jpg"})
    s.says(sticker={"sticker_id": 369239263222822})
    s.says(reaction={"mid": "m_abc", "reaction": "love"})
    s.says(reaction={"mid": "m_abc", "action": "unreact"})
    s.says(read=True)
    s.says(referral={"ref": "spring-sale"})
    s.says(
        message={
            "text": "whole",
            "attachments": [{"type": "fallback", "payload": {"url": "https://example.com"}}],
        }
    )
    events = s.events()
    assert events[0]["message"]["text"] == "hello"
    assert events[0]["message"]["reply_to"] == {"mid": "m_earlier", "is_self_reply": False}
    assert events[1]["message"]["quick_reply"] == {"payload": "TRACK"}
    assert events[1]["message"]["text"] == "Track order"
    assert events[2]["postback"]["payload"] == "AGENT" and events[2]["postback"]["mid"]
    assert events[3]["message"]["attachments"] == [
        {"type": "image", "payload": {"url": "https://example.com/cat.jpg"}}
    ]
    # Until 2026-08-30 a sticker comes as a sticker and as an image (pitfall 12).
    assert [a["type"] for a in events[4]["message"]["attachments"]] == ["sticker", "image"]
    assert events[4]["message"]["attachments"][0]["payload"]["sticker_id"] == 369239263222822
    assert (
        events[5]["reaction"]["reaction"] == "love" and events[5]["reaction"]["action"] == "react"
    )
    assert events[6]["reaction"] == {
        "reaction": "like",
        "emoji": "\U0001f44d",
        "action": "unreact",
        "mid": "m_abc",
    }
    assert isinstance(events[7]["read"]["watermark"], int)
    assert events[8]["referral"] == {
        "ref": "spring-sale",
        "source": "SHORTLINK",
        "type": "OPEN_THREAD",
    }
    assert events[9]["message"]["attachments"][0]["type"] == "fallback"
    assert all(e["sender"] == {"id": ADA} and e["recipient"] == {"id": PAGE} for e in events)


def test_an_mme_link_opens_a_new_thread_with_get_started(s: Sim) -> None:
    profile = {"get_started": {"payload": "START"}}
    assert s.http.post(
        f"/v25.0/me/messenger_profile?access_token={TOKEN}", json=profile
    ).json() == {"result": "success"}
    opened = s.says(user="5550001", first_name="Grace", referral={"ref": "ad-42"})
    assert opened["message"]["kind"] == "postback"
    postback = s.events()[-1]["postback"]
    assert postback["payload"] == "START" and postback["title"] == "Get Started"
    assert postback["referral"] == {"ref": "ad-42", "source": "SHORTLINK", "type": "OPEN_THREAD"}
    assert s.text(user="5550001").status_code == 200  # tapping Get Started opens the window


def test_customer_data_is_stored_and_served(s: Sim) -> None:
    png = b"\x89PNG\r\n\x1a\n-picture-"
    sent = s.says(image={"data_base64": base64.b64encode(png).decode(), "mime_type": "image/png"})
    url = sent["message"]["event"]["message"]["attachments"][0]["payload"]["url"]
    assert url.startswith(s.sim.base_url + "/messenger/attachments/")
    got = s.http.get(url)
    assert got.status_code == 200 and got.content == png
    assert got.headers["content-type"] == "image/png"
    assert s.http.get(url.split("?")[0] + "?hash=forged").status_code == 404


@pytest.mark.parametrize(
    ("action", "message"),
    [
        ({}, "give exactly one of"),
        ({"text": 5}, "text: expected a string"),
        ({"text": "a", "postback": {"title": "t", "payload": "p"}}, "give one action"),
        ({"postback": {"title": "Agent"}}, "postback.payload: missing"),
        ({"postback": "AGENT"}, "postback: expected an object"),
        ({"quick_reply": {"title": "x"}}, "quick_reply.payload: missing"),
        ({"reaction": {"reaction": "love"}}, "reaction.mid: missing"),
        ({"reaction": {"mid": "m", "reaction": "meh"}}, "reaction.reaction: must be one of"),
        ({"read": {"watermark": 1e300}}, "read.watermark: expected an integer"),
        ({"read": {"watermark": 10**20}}, "read.watermark: must be a time"),
        ({"image": {}}, "image: give url or data_base64"),
        ({"image": {"url": "javascript:alert(1)"}}, "image.url: expected an http(s) URL"),
        ({"image": {"data_base64": "%%%"}}, "image.data_base64: not valid base64"),
        ({"image": {"data_base64": "aGk=", "mime_type": "image/png\r\nX: 1"}}, "image.mime_type"),
        ({"attachment": {"url": "https://x.test/a"}}, "attachment.type: missing"),
        ({"sticker": {"sticker_id": "big"}}, "sticker.sticker_id: expected an id"),
        ({"comment": {}}, "comment.message: missing"),
        ({"comment": {"message": "x", "verb": "remove"}}, "comment.comment_id: missing"),
        ({"comment": {"message": "x", "post_id": "abc"}}, "comment.post_id: expected an id"),
        ({"referral": {"source": "TV"}}, "referral.source: must be one of"),
        ({"message": {"text": "x", "is_echo": True}}, "message.is_echo"),
        ({"text": "x", "reply_to": {}}, "reply_to.mid: missing"),
        ({"postback": {"title": "t", "payload": "p"}, "reply_to": {"mid": "m"}}, "reply_to: goes"),
        ({"text": "x", "colour": "red"}, "unknown field(s) for messenger: colour"),
        ({"text": "x", "user": "ada"}, "'user' (the customer's PSID, digits) is required"),
    ],
)
def test_malformed_actions_are_refused_naming_the_field(
    s: Sim, action: dict[str, Any], message: str
) -> None:
    before = (s.control("GET", "/_sim/state"), s.control("GET", "/_sim/sink"))
    spec = {"platform": "messenger", "user": ADA, **action}
    r = s.http.post("/_sim/inbound", json=spec)
    assert r.status_code == 400, r.text
    assert message in r.json()["error"]["message"]
    assert (s.control("GET", "/_sim/state"), s.control("GET", "/_sim/sink")) == before


def test_the_handshake_sends_the_verify_token(s: Sim) -> None:
    verified = s.control("POST", "/_sim/webhooks/verify", {"platform": "messenger"})
    assert verified["verified"] is True
    request = s.control("GET", "/_sim/sink")["requests"][-1]
    assert request["method"] == "GET"
    assert "hub.mode=subscribe" in request["url"]
    assert "hub.verify_token=sim-verify-token" in request["url"]
    assert f"hub.challenge={verified['challenge']}" in request["url"]


# --- the handover protocol (§8.1) -------------------------------------------------------------


def test_passing_a_thread_to_the_page_inbox_and_taking_it_back(s: Sim) -> None:
    s.says()
    q = {"access_token": TOKEN}
    owner = s.http.get("/v25.0/me/thread_owner", params={**q, "recipient": ADA}).json()
    assert owner == {"data": []}  # a new thread is idle
    receivers = s.http.get("/v25.0/me/secondary_receivers", params={**q, "fields": "id,name"})
    assert receivers.json() == {"data": [{"id": PAGE_INBOX, "name": "Page Inbox"}]}
    handed = s.http.post(
        "/v25.0/me/pass_thread_control",
        params=q,
        json={"recipient": {"id": ADA}, "target_app_id": int(PAGE_INBOX), "metadata": "human"},
    )
    assert handed.json() == {"success": True}
    owner = s.http.get("/v25.0/me/thread_owner", params={**q, "recipient": ADA}).json()
    assert owner == {"data": [{"thread_owner": {"app_id": PAGE_INBOX}}]}
    # Now the Page Inbox owns it: the app hears the customer on standby, and may not send.
    s.says(text="Are you a person?")
    s.says(postback={"title": "Menu", "payload": "MENU"})
    standby = s.events("standby")
    assert standby[0]["message"]["text"] == "Are you a person?"
    assert "payload" not in standby[1]["postback"]  # stripped in standby (§2.2)
    assert error(s.text("bot here")) == (400, 10, 2018300)
    again = s.http.post(
        "/v25.0/me/pass_thread_control",
        params=q,
        json={"recipient": {"id": ADA}, "target_app_id": PAGE_INBOX},
    )
    assert error(again) == (400, 10, 2018300)
    asked = s.http.post(
        "/v25.0/me/request_thread_control", params=q, json={"recipient": {"id": ADA}}
    )
    assert asked.json() == {"success": True}
    threads = s.control("GET", f"/_sim/messenger/threads?user={ADA}")["threads"]
    assert threads == [
        {"account": PAGE, "user": ADA, "owner_app_id": PAGE_INBOX, "requested_by": APP}
    ]
    taken = s.http.post("/v25.0/me/take_thread_control", params=q, json={"recipient": {"id": ADA}})
    assert taken.json() == {"success": True}
    assert s.text("back with you").status_code == 200
    released = s.http.post(
        "/v25.0/me/release_thread_control", params=q, json={"recipient": {"id": ADA}}
    )
    assert released.json() == {"success": True}
    bad = s.http.post(
        "/v25.0/me/pass_thread_control",
        params=q,
        json={"recipient": {"id": ADA}, "target_app_id": "12345"},
    )
    assert error(bad) == (400, 100, None)
    assert error(s.http.post("/v25.0/me/take_thread_control", params=q, json={})) == (
        400,
        100,
        None,
    )


def test_the_page_inbox_acts_through_the_control_plane(s: Sim) -> None:
    s.says()
    took = s.control("POST", "/_sim/messenger/handover", {"user": ADA, "action": "take"})
    assert took["thread"]["owner_app_id"] == PAGE_INBOX
    assert took["delivery"] is None  # the thread was idle: the app loses nothing
    s.says(text="hello?")
    assert s.events("standby")[-1]["message"]["text"] == "hello?"
    back = s.control(
        "POST", "/_sim/messenger/handover", {"user": ADA, "action": "pass", "metadata": "done"}
    )
    assert back["delivery"]["kind"] == "handover" and back["delivery"]["ok"]
    passed = s.events()[-1]["pass_thread_control"]
    assert passed == {
        "previous_owner_app_id": PAGE_INBOX,
        "new_owner_app_id": APP,
        "metadata": "done",
    }
    taken = s.control("POST", "/_sim/messenger/handover", {"user": ADA, "action": "take"})
    assert taken["delivery"]["ok"]
    assert s.events()[-1]["take_thread_control"]["previous_owner_app_id"] == APP
    s.control("POST", "/_sim/messenger/handover", {"user": ADA, "action": "pass"})
    asked = s.control("POST", "/_sim/messenger/handover", {"user": ADA, "action": "request"})
    assert s.events()[-1]["request_thread_control"] == {"requested_owner_app_id": int(PAGE_INBOX)}
    assert asked["thread"]["owner_app_id"] == APP
    for body, message in [
        ({"user": ADA, "action": "steal"}, "'action' must be one of"),
        ({"user": "1", "action": "take"}, "'user' must be the PSID"),
        ({"user": ADA, "action": "take", "app_id": APP}, "'app_id' must be another app"),
        ({"user": ADA, "action": "release"}, "does not own the thread"),
        ({"user": ADA, "action": "take", "extra": 1}, "unknown field(s): extra"),
    ]:
        before = s.control("GET", "/_sim/messenger/threads")
        r = s.http.post("/_sim/messenger/handover", json=body)
        assert r.status_code == 400 and message in r.json()["error"]["message"], (body, r.text)
        assert s.control("GET", "/_sim/messenger/threads") == before


# --- profiles, attachments, users ----------------------------------------------------------


def test_the_messenger_profile_sets_gets_and_deletes(s: Sim) -> None:
    url = f"/v25.0/me/messenger_profile?access_token={TOKEN}"
    menu = [
        {
            "locale": "default",
            "composer_input_disabled": False,
            "call_to_actions": [
                {"type": "postback", "title": "Track my order", "payload": "TRACK"},
                {"type": "web_url", "title": "Shop", "url": "https://example.com"},
            ],
        }
    ]
    assert error(s.http.post(url, json={"persistent_menu": menu})) == (400, 100, None)
    body = {
        "get_started": {"payload": "START"},
        "greeting": [{"locale": "default", "text": "Hello {{user_first_name}}!"}],
        "ice_breakers": [{"question": "Where is my order?", "payload": "TRACK"}],
        "persistent_menu": menu,
    }
    assert s.http.post(url, json=body).json() == {"result": "success"}
    got = s.http.get(url + "&fields=greeting,get_started,whitelisted_domains").json()
    assert got == {"data": [{"greeting": body["greeting"]}, {"get_started": {"payload": "START"}}]}
    bad_cases = [
        ({"greeting": [{"locale": "default", "text": "x" * 161}]}, 100),
        ({"greeting": [{"locale": "fr_FR", "text": "Salut"}]}, 100),
        ({"ice_breakers": [{"question": "q", "payload": "p"}] * 5}, 105),
        ({"home_url": {"url": "https://example.com"}}, 100),
        ({"colour": "red"}, 100),
    ]
    for bad, code in bad_cases:
        assert error(s.http.post(url, json=bad))[1] == code, bad
    assert error(s.http.get(url)) == (400, 100, None)  # fields is required
    deleted = s.http.request("DELETE", url, json={"fields": ["greeting", "ice_breakers"]})
    assert deleted.json() == {"result": "success"}
    left = s.http.get(url + "&fields=greeting,ice_breakers,get_started").json()
    assert left == {"data": [{"get_started": {"payload": "START"}}]}


def test_attachments_upload_and_are_sent_by_id(s: Sim) -> None:
    s.says()
    upload = {
        "message": {
            "attachment": {
                "type": "image",
                "payload": {"url": "https://example.com/a.png", "is_reusable": True},
            }
        }
    }
    r = s.http.post(f"/v25.0/{PAGE}/message_attachments?access_token={TOKEN}", json=upload)
    attachment_id = r.json()["attachment_id"]
    assert isinstance(attachment_id, str) and attachment_id.isdigit()
    by_id = {"attachment": {"type": "image", "payload": {"attachment_id": attachment_id}}}
    assert s.send({"recipient": {"id": ADA}, "message": by_id}).status_code == 200
    unknown = {"attachment": {"type": "image", "payload": {"attachment_id": "12345"}}}
    assert error(s.send({"recipient": {"id": ADA}, "message": unknown}))[1:] == (100, 2018047)
    # Multipart with the file itself.
    files = {
        "message": (
            None,
            json.dumps({"attachment": {"type": "file", "payload": {"is_reusable": True}}}),
        ),
        "filedata": ("a.pdf", b"%PDF-1.4", "application/pdf"),
    }
    multi = s.http.post(f"/v25.0/me/message_attachments?access_token={TOKEN}", files=files)
    assert multi.status_code == 200 and multi.json()["attachment_id"]
    # Sending by URL with is_reusable saves it too (§3.3).
    reusable = {
        "attachment": {
            "type": "image",
            "payload": {"url": "https://example.com/b.png", "is_reusable": "true"},
        }
    }
    saved = s.send({"recipient": {"id": ADA}, "message": reusable}).json()
    assert saved["attachment_id"] in s.state()["attachments"]
    s.advance(91 * DAY)
    s.says()
    assert error(s.send({"recipient": {"id": ADA}, "message": by_id}))[1:] == (
        100,
        2018047,
    )  # expired
    bad = {"message": {"attachment": {"type": "sticker", "payload": {"url": "https://x.test"}}}}
    assert (
        error(s.http.post(f"/v25.0/me/message_attachments?access_token={TOKEN}", json=bad))[1]
        == 100
    )


def test_the_user_profile(s: Sim) -> None:
    r = s.http.get(
        f"/v25.0/{ADA}",
        params={"fields": "first_name,last_name,profile_pic", "access_token": TOKEN},
    )
    profile = r.json()
    assert profile["first_name"] == "Ada" and profile["last_name"] == "Lovelace"
    assert profile["id"] == ADA and profile["profile_pic"].startswith("https://")
    # Fields that need feature approval are left out (§8.2); unknown ones are refused.
    approved = s.http.get(
        f"/v25.0/{ADA}", params={"fields": "name,gender,timezone", "access_token": TOKEN}
    )
    assert approved.json() == {"name": "Ada Lovelace", "id": ADA}
    unknown = s.http.get(f"/v25.0/{ADA}", params={"fields": "shoe_size", "access_token": TOKEN})
    assert error(unknown) == (400, 100, None)
    assert error(s.http.get(f"/v25.0/{ADA}", params={"access_token": "x"})) == (401, 190, None)


def test_faults_hit_messenger_operations(s: Sim) -> None:
    s.says()
    s.control(
        "POST",
        "/_sim/faults",
        {
            "platform": "messenger",
            "operation": "messenger.send",
            "code": 1200,
            "message": "Temporary send message failure. Please try again later.",
        },
    )
    r = s.text()
    assert error(r) == (400, 1200, None)
    assert (
        r.json()["error"]["message"]
        == "(#1200) Temporary send message failure. Please try again later."
    )
    assert s.text().status_code == 200  # spent
    s.control("POST", "/_sim/faults", {"operation": "messenger.webhook", "action": "duplicate"})
    s.says(text="twice")
    assert [e["message"]["text"] for e in s.events()][-2:] == ["twice", "twice"]


def test_reset_forgets_everything(s: Sim) -> None:
    s.says()
    s.http.post(
        f"/v25.0/me/messenger_profile?access_token={TOKEN}", json={"get_started": {"payload": "S"}}
    )
    s.control("POST", "/_sim/reset")
    state = s.state()
    assert state["messenger_profile"] == {} and state["comments"] == []
    assert all(c["last_inbound"] is None for c in state["customers"])


# --- the server, async, over real sockets ----------------------------------------------------


@pytest.mark.anyio
@pytest.mark.slow
async def test_the_server_keeps_the_same_rules_async() -> None:
    from omnimsg_sim import Simulator

    config = messenger_sim_config(webhook_url="/_sim/sink")
    async with Simulator(config) as server, httpx.AsyncClient(base_url=server.url) as http:

        async def control(path: str, body: Any) -> Any:
            return (await http.post(path, json=body)).json()

        async def send(text: str, **extra: Any) -> httpx.Response:
            body = {"recipient": {"id": ADA}, "message": {"text": text}, **extra}
            return await http.post(
                f"/v25.0/{PAGE}/messages", params={"access_token": TOKEN}, json=body
            )

        await control("/_sim/inbound", {"platform": "messenger", "user": ADA, "text": "hi"})
        await control("/_sim/clock/advance", {"seconds": 23 * HOUR})
        assert (await send("23 h")).status_code == 200
        await control("/_sim/clock/advance", {"seconds": 2 * HOUR})
        assert error(await send("25 h")) == (400, 10, 2018278)
        tag = {"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}
        await control("/_sim/clock/advance", {"seconds": 5 * DAY})
        assert (await send("day 6", **tag)).status_code == 200
        await control("/_sim/clock/advance", {"seconds": 2 * DAY})
        assert error(await send("day 8", **tag)) == (400, 10, 2018278)
        comment = await control(
            "/_sim/inbound", {"platform": "messenger", "user": ALAN, "comment": {"message": "?"}}
        )
        reply = {"recipient": {"comment_id": comment["message_id"]}, "message": {"text": "!"}}
        q = {"access_token": TOKEN}
        assert (await http.post("/v25.0/me/messages", params=q, json=reply)).status_code == 200
        assert error(await http.post("/v25.0/me/messages", params=q, json=reply))[1] == 10900
        await control("/_sim/clock/advance", {"seconds": 5})
        sink = (await http.get("/_sim/sink")).json()["requests"]
        kinds = [r["kind"] for r in sink]
        assert (
            kinds.count("echo") == 3 and kinds.count("delivery") == 3 and kinds.count("read") == 3
        )
        for request in sink:
            body = request["body"].encode()
            digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            assert request["headers"]["x-hub-signature-256"] == f"sha256={digest}"
