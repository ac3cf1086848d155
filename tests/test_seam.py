"""The platform seam holds a platform omnimsg has never heard of.

"Tin" is defined in this file only: its own channel class, a base64 HMAC signature header, XML
bodies, an echo handshake (like WeChat's ``echostr``), a follow event, its own rules (a
1-hour window, texts of at most 10 characters, native code ``TIN-LONG``), a webhook answer of
its own (XML) and its own send API. It goes through ``Client``/``AsyncClient``, ``send``,
``check``, ``window``, ``webhooks.receive``/``handle``/``parse`` without any change to shared
code: ``Client(..., adapters=[TinAdapter()])``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

import attrs
import httpx
import pytest

from omnimsg import (
    Address,
    AsyncClient,
    Client,
    ConfigurationError,
    FakeClock,
    FollowChanged,
    MessageReceived,
    PolicyViolation,
    SignatureError,
    Text,
    Unknown,
    Violation,
    WebhookConfig,
    WebhookOutcome,
    WebhookParseError,
)
from omnimsg._core.calls import call
from omnimsg._core.effects import Flow, Request, StoreGet
from omnimsg._core.retry import RetryPolicy
from omnimsg.models.content import Content
from omnimsg.models.events import Event
from omnimsg.models.results import SendResult, Window
from omnimsg.platforms import Adapter, Capability, Channel
from omnimsg.stores.ops import Op, Set, SetMax

HOUR = 3600.0
NOW = 1_772_442_000.0


@attrs.frozen(kw_only=True)
class Tin:
    """A Tin account."""

    account_id: str
    secret: str = attrs.field(repr=False)
    base_url: str = "https://api.tin.example"
    platform = "tin"

    @property
    def account(self) -> str:
        return self.account_id


def _last_key(account: str, user: str) -> str:
    return f"tin:in:{account}:{user}"


class TinReader:
    def __init__(self, channels: Sequence[Tin], config: WebhookConfig) -> None:
        self._keys = [c.secret.encode() for c in channels]
        self._account = channels[0].account

    def handshake(self, method: str, url: str) -> WebhookOutcome | None:
        if method != "GET":
            return None
        echo = parse_qs(urlsplit(url).query).get("echo", [""])[0]
        return WebhookOutcome(status=200, body=echo.encode())

    def _signature(self, headers: Any) -> str | None:
        from omnimsg._inbound import header

        return header(headers, "x-tin-signature", "X-Tin-Signature")

    def signature_missing(self, url: str, headers: Any) -> bool:
        return self._signature(headers) is None

    def read(self, url: str, headers: Any, body: bytes) -> list[Event]:
        given = (self._signature(headers) or "").encode()
        if not any(
            hmac.compare_digest(base64.b64encode(hmac.new(k, body, hashlib.sha256).digest()), given)
            for k in self._keys
        ):
            raise SignatureError("X-Tin-Signature does not match")
        try:
            root = ET.fromstring(body)
        except ET.ParseError as exc:
            raise WebhookParseError(f"not Tin XML: {exc}") from None
        events: list[Event] = []
        for item in root:
            raw = dict(item.attrib)
            common = {
                "platform": "tin",
                "account": self._account,
                "user": raw.get("from", ""),
                "timestamp": float(raw.get("ts", "0")),
                "raw": raw,
            }
            if item.tag == "msg":
                events.append(
                    MessageReceived(
                        **common, message_id=raw["id"], content=Text(item.findtext("text") or "")
                    )
                )
            elif item.tag in ("follow", "unfollow"):
                events.append(FollowChanged(**common, following=item.tag == "follow"))
            else:
                events.append(
                    Unknown(platform="tin", account=self._account, reason=item.tag, raw=raw)  # type: ignore[arg-type]
                )
        return events

    def dedup_key(self, event: Event) -> str:
        return f"tin:seen:{event.raw.get('id') or json.dumps(event.raw, sort_keys=True)}"

    def state_ops(self, event: Event) -> list[Op]:
        if isinstance(event, MessageReceived):
            return [SetMax(_last_key(event.account, event.user), event.timestamp, 86400.0)]
        if isinstance(event, FollowChanged):
            return [Set(f"tin:follower:{event.account}:{event.user}", b"%d" % event.following)]
        return []

    def apply_rest(self, event: Event) -> Flow[None]:
        return
        yield  # pragma: no cover - no state that needs reading first

    def answer(self, outcome: WebhookOutcome) -> WebhookOutcome:
        return attrs.evolve(outcome, body=b"<ack/>", content_type="application/xml")


def _rules(content: Content, last: float | None, now: float) -> tuple[Violation, ...]:
    found = []
    if last is None or now >= last + HOUR:
        found.append(
            Violation(rule_id="tin.window", platform="tin", message="closed", native_code="TIN-WIN")
        )  # type: ignore[arg-type]
    if isinstance(content, Text) and len(content.body) > 10:
        found.append(
            Violation(rule_id="tin.length", platform="tin", message="long", native_code="TIN-LONG")
        )  # type: ignore[arg-type]
    return tuple(found)


def _last(channel: Channel, to: Address) -> Flow[float | None]:
    raw = yield StoreGet(_last_key(channel.account, to.user))
    return None if raw is None else float(raw)


class TinAdapter:
    platform = "tin"
    capabilities: Mapping[str, Capability] = {"Text": "native", "Buttons": "refused"}

    def webhooks(self, channels: Sequence[Channel], config: WebhookConfig) -> TinReader:
        return TinReader([c for c in channels if isinstance(c, Tin)], config)

    def send(
        self,
        channel: Channel,
        to: Address,
        content: Content,
        *,
        now: float,
        retry: RetryPolicy,
        preflight: bool,
        reply_to: str | None,
        callback_data: str | None,
    ) -> Flow[SendResult]:
        assert isinstance(channel, Tin) and isinstance(content, Text)
        if preflight:
            violations = _rules(content, (yield from _last(channel, to)), now)
            if violations:
                raise PolicyViolation(violations)
        request = Request(
            method="POST",
            url=f"{channel.base_url}/send",
            headers=(("authorization", f"Tin {channel.secret}"),),
            body=json.dumps({"to": to.user, "text": content.body}).encode(),
            operation="tin.send",
        )
        response = yield from call(request, retry, lambda r: ConfigurationError(r.text))  # type: ignore[arg-type]
        data = json.loads(response.body)
        return SendResult(platform="tin", to=to, message_id=data["id"], raw=data)  # type: ignore[arg-type]

    def check(
        self, channel: Channel, to: Address, content: Content, now: float
    ) -> Flow[tuple[Violation, ...]]:
        return _rules(content, (yield from _last(channel, to)), now)

    def window(self, channel: Channel, to: Address, now: float) -> Flow[Window]:
        last = yield from _last(channel, to)
        from omnimsg.clock import to_datetime

        return Window(
            platform="tin",  # type: ignore[arg-type]
            to=to,
            open=last is not None and now < last + HOUR,
            last_inbound_at=None if last is None else to_datetime(last),
            closes_at=None if last is None else to_datetime(last + HOUR),
            allowed_when_closed=(),
        )


# --- the platform's own server, and signed bodies ---------------------------------------------

SECRET = "tin-secret"
TIN = Tin(account_id="acc1", secret=SECRET)
ADA = Address("tin", "ada")


def tin_api(sent: list[dict[str, Any]]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/send" and request.headers["authorization"] == f"Tin {SECRET}"
        sent.append(json.loads(request.content))
        return httpx.Response(200, json={"id": f"tin-{len(sent)}"})

    return httpx.MockTransport(handler)


def signed(xml: str) -> tuple[dict[str, str], bytes]:
    body = xml.encode()
    sig = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    return {"X-Tin-Signature": sig}, body


HELLO = '<batch><msg id="m1" from="ada" ts="1772442000"><text>hi</text></msg><follow from="ada" ts="1772442000"/></batch>'


def test_an_unknown_platform_is_refused_until_its_adapter_is_given() -> None:
    with pytest.raises(ConfigurationError, match="no adapter for platform 'tin'"):
        Client([TIN])


def test_tin_through_the_sync_client() -> None:
    clock = FakeClock(NOW)
    sent: list[dict[str, Any]] = []
    client = Client([TIN], adapters=[TinAdapter()], clock=clock, transport=tin_api(sent))
    headers, body = signed(HELLO)
    assert client.webhooks.handle("whatsapp", "POST", "https://a/h", headers, body).status == 404
    with client.webhooks.receive("tin", "POST", "https://app/tin", headers, body) as receipt:
        kinds = [type(e).__name__ for e in receipt.events]
    assert kinds == ["MessageReceived", "FollowChanged"]
    assert (receipt.status, receipt.body, receipt.content_type) == (
        200,
        b"<ack/>",
        "application/xml",
    )
    assert client.store.get("tin:follower:acc1:ada") == b"1"  # the state the follow implied
    again = client.webhooks.handle("tin", "POST", "https://app/tin", headers, body)
    assert again.duplicates == 2 and again.events == ()
    assert client.window(ADA).open
    assert client.send(ADA, Text("hello")).message_id == "tin-1"
    with pytest.raises(PolicyViolation) as refused:
        client.send(ADA, Text("far too long for tin"))
    assert refused.value.violation.native_code == "TIN-LONG"
    clock.advance(HOUR)
    assert [v.native_code for v in client.check(ADA, Text("hi"))] == ["TIN-WIN"]
    assert sent == [{"to": "ada", "text": "hello"}]


def test_tin_handshake_signature_and_bad_bodies() -> None:
    client = Client([TIN], adapters=[TinAdapter()], clock=FakeClock(NOW))
    shake = client.webhooks.handle("tin", "GET", "https://app/tin?echo=abc123", {}, b"")
    assert (shake.status, shake.body) == (200, b"abc123")
    headers, body = signed(HELLO)
    forged = client.webhooks.handle(
        "tin", "POST", "https://app/tin", {"X-Tin-Signature": "AAAA"}, body
    )
    assert forged.status == 403 and isinstance(forged.error, SignatureError)
    assert client.webhooks.handle("tin", "POST", "https://app/tin", {}, body).status == 401
    bad_headers, bad = signed("<batch><msg")
    assert client.webhooks.handle("tin", "POST", "https://app/tin", bad_headers, bad).status == 400
    assert not client.window(ADA).open  # nothing refused changed any state
    assert [type(e).__name__ for e in client.webhooks.parse("tin", headers, body)] == [
        "MessageReceived",
        "FollowChanged",
    ]


@pytest.mark.anyio
async def test_tin_through_the_async_client() -> None:
    sent: list[dict[str, Any]] = []
    client = AsyncClient(
        [TIN], adapters=[TinAdapter()], clock=FakeClock(NOW), transport=tin_api(sent)
    )
    headers, body = signed(HELLO)
    async with client.webhooks.receive("tin", "POST", "https://app/tin", headers, body) as r:
        assert len(r.events) == 2
    assert (await client.window(ADA)).open
    await client.send(ADA, Text("ok"))
    assert sent == [{"to": "ada", "text": "ok"}]
    await client.aclose()


def test_an_adapter_satisfies_the_protocol() -> None:
    adapter: Adapter = TinAdapter()  # checked by mypy when the tests are type-checked
    assert adapter.capabilities["Buttons"] == "refused"
    assert isinstance(TIN, Channel)
