"""A WhatsApp client we did not write (pywa) works against omnimsg-sim unchanged.

How pywa is pointed at the simulator (the least intrusive way its public API allows):

* pywa has no base-URL option: ``pywa.api.GraphAPI.__init__`` overwrites the session's
  ``base_url`` with ``https://graph.facebook.com/v{api_version}``. It does accept its HTTP
  client, ``WhatsApp(session=httpx.Client(...))`` (documented: "Use a custom client to configure
  proxies, timeouts, etc."), so only that client's *transport* changes:

  - in process: ``httpx.Client(transport=InProcessSimulator(...).transport())``; the simulator
    answers whatever host the request names, so pywa keeps talking to "graph.facebook.com";
  - over a real socket: :class:`_GraphToSimulator` re-targets each request's scheme, host and
    port at the simulator server and leaves the path (``/v{N}.{M}/{phone-id}/messages``),
    headers and body exactly as pywa built them.

* Webhooks go through pywa's documented custom-server entry points, unchanged:
  ``WhatsApp.webhook_update_validator(body, X-Hub-Signature-256)`` (which calls
  ``pywa.utils.webhook_updates_validator(app_secret, request_body, x_hub_signature)``) and
  ``WhatsApp.webhook_update_handler(body)``, which parses the update into pywa's typed
  ``Message`` / ``MessageStatus`` and dispatches it to ``@wa.on_message`` /
  ``@wa.on_message_status`` handlers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import httpx
import pytest
from pywa import WhatsApp, errors, types, utils
from pywa.types.templates import TemplateCategory, TemplateLanguage, TemplateStatus

from omnimsg.testing import DEFAULT_WHATSAPP, ServerThread, whatsapp_sim_config
from omnimsg_sim import InProcessSimulator, SimConfig
from remote import Receiver

ADA = "15551230001"  # writes first: the 24 h window is open
ALAN = "15551230002"  # known to the account but never wrote: the window is closed
ADA_BSUID = "US.10000000000000000001"  # fake business-scoped user ID


def bsuid_config(**overrides: Any) -> SimConfig:
    """The default simulated account, with a known BSUID for Ada so tests can assert it.

    Since April 2026 Meta sends every customer's BSUID (``contacts[].user_id``) on inbound
    message webhooks, and pywa 4.x requires it (``pywa/types/user.py``, ``User.from_contact``:
    ``bsuid=data["user_id"]``). Customers configured without one get a generated BSUID: see
    ``test_pywa_parses_an_inbound_message_from_a_customer_without_a_bsuid``.
    """
    customers = [
        {**c, "user_id": c.get("user_id") or ADA_BSUID} for c in DEFAULT_WHATSAPP["customers"]
    ]
    return whatsapp_sim_config(customers=customers, **overrides)


class PywaApp:
    """A bot written with pywa; the simulator's webhooks reach it as they would in production."""

    def __init__(
        self, config: SimConfig, session: httpx.Client, *, token: str | None = None
    ) -> None:
        account = config.whatsapp[0]
        self.app_secret = account.app_secret
        self.wa = WhatsApp(
            phone_id=account.phone_number_id,
            token=token or account.access_token,
            session=session,
            waba_id=account.waba_id,
            verify_token=account.verify_token,
            app_secret=account.app_secret,
        )
        self.messages: list[types.Message] = []
        self.statuses: list[types.MessageStatus] = []
        self.raw: list[tuple[bytes, str | None]] = []
        self.echo = False  # when set, the bot answers each text, quoting it
        self.arrived = threading.Condition()
        self.wa.on_message()(self._on_message)
        self.wa.on_message_status()(self._on_status)

    def _on_message(self, _: WhatsApp, msg: types.Message) -> None:
        self.messages.append(msg)
        if self.echo:
            msg.reply_text(f"echo: {msg.text}", quote=True)

    def _on_status(self, _: WhatsApp, status: types.MessageStatus) -> None:
        with self.arrived:
            self.statuses.append(status)
            self.arrived.notify_all()

    def receive(self, body: bytes, signature: str | None) -> tuple[str, int]:
        """What a custom server does with a POST: pywa validates, then parses and dispatches."""
        self.raw.append((body, signature))
        rejected = self.wa.webhook_update_validator(body, signature)
        if rejected is not None:
            return rejected
        return self.wa.webhook_update_handler(body)

    def serve(self, request: BaseHTTPRequestHandler, body: bytes) -> tuple[int, bytes]:
        """The app's webhook endpoint on a plain HTTP server, as a custom (non-Flask/FastAPI)
        server would have it: each POST handed to pywa."""
        text, status = self.receive(body, request.headers.get(utils.HUB_SIG))
        return status, text.encode()

    def wait_for_status(self, message_id: str, timeout: float = 5.0) -> types.MessageStatus:
        with self.arrived:
            found = self.arrived.wait_for(
                lambda: any(s.id == message_id for s in self.statuses), timeout=timeout
            )
        assert found, f"no status webhook for {message_id}; got {self.statuses!r}"
        return next(s for s in self.statuses if s.id == message_id)


class InProcess:
    """pywa + the in-process simulator: pywa's session uses the simulator's transport."""

    def __init__(self, config: SimConfig, *, token: str | None = None) -> None:
        self.sim = InProcessSimulator(config, webhook_transport=httpx.MockTransport(self._webhook))
        self.session = httpx.Client(transport=self.sim.transport())
        self.app = PywaApp(config, self.session, token=token)

    def _webhook(self, request: httpx.Request) -> httpx.Response:
        text, status = self.app.receive(request.read(), request.headers.get(utils.HUB_SIG))
        return httpx.Response(status, text=text)

    def control(self, method: str, path: str, body: Any = None) -> Any:
        return self.sim.control(method, path, body)

    def close(self) -> None:
        self.session.close()
        self.sim.close()


class _GraphToSimulator(httpx.BaseTransport):
    """Send pywa's ``https://graph.facebook.com/...`` requests to the simulator server instead.

    Only scheme, host and port change; path, query, headers and body are pywa's own.
    """

    def __init__(self, sim_url: str) -> None:
        self._target = httpx.URL(sim_url)
        self._inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        t = self._target
        request.url = request.url.copy_with(scheme=t.scheme, host=t.host, port=t.port)
        request.headers["Host"] = t.netloc.decode()
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


@pytest.fixture
def sim() -> Iterator[InProcess]:
    harness = InProcess(bsuid_config())
    yield harness
    harness.close()


def customer_writes(sim: InProcess, user: str, text: str) -> dict[str, Any]:
    result = sim.control(
        "POST", "/_sim/inbound", {"platform": "whatsapp", "user": user, "text": text}
    )
    assert result["delivery"]["ok"], result
    return dict(result)


# --- 1. sending -------------------------------------------------------------------------------


def test_pywa_send_message_is_accepted_and_lands_in_the_outbox(sim: InProcess) -> None:
    customer_writes(sim, ADA, "hi")

    sent = sim.app.wa.send_message(to=ADA, text="Hello from pywa!")

    assert isinstance(sent, types.SentMessage)
    assert sent.id.startswith("wamid.")
    assert sent.input == ADA
    assert sent.chat.id == ADA
    assert sent.from_phone_id == sim.sim.core.config.whatsapp[0].phone_number_id
    outbox = sim.control("GET", f"/_sim/outbox?user={ADA}")["messages"]
    assert [(m["message_id"], m["text"], m["type"]) for m in outbox] == [
        (sent.id, "Hello from pywa!", "text")
    ]
    assert outbox[0]["raw"]["to"] == ADA  # the body pywa itself built


# --- 2. webhooks: pywa's signature check and parsing -------------------------------------------


def test_pywa_validates_and_parses_the_simulators_webhooks(sim: InProcess) -> None:
    inbound = customer_writes(sim, ADA, "hi")

    # pywa's validator accepted the signed webhook and its parser built a typed Message.
    assert sim.app.wa.webhook_update_validator(*sim.app.raw[0]) is None
    assert len(sim.app.messages) == 1
    msg = sim.app.messages[0]
    assert isinstance(msg, types.Message)
    assert msg.type == types.MessageType.TEXT
    assert msg.text == "hi"
    assert msg.id == inbound["message_id"]
    assert msg.from_user.wa_id == ADA
    assert msg.from_user.name == "Ada Lovelace"
    assert msg.from_user.bsuid == ADA_BSUID
    assert msg.metadata.phone_number_id == sim.sim.core.config.whatsapp[0].phone_number_id

    # The reply's status webhooks parse too, tracker (biz_opaque_callback_data) included.
    sent = sim.app.wa.send_message(to=ADA, text="on its way", tracker="order-42")
    status = sim.app.wait_for_status(sent.id)
    assert status.status == types.MessageStatusType.SENT
    assert status.tracker == "order-42"
    assert status.from_user.wa_id == ADA
    assert status.error is None


def test_pywa_parses_an_inbound_message_from_a_customer_without_a_bsuid() -> None:
    harness = InProcess(whatsapp_sim_config())  # the default config: Ada has no user_id
    try:
        customer_writes(harness, ADA, "hi")
        assert [m.text for m in harness.app.messages] == ["hi"]
    finally:
        harness.close()


def test_pywa_rejects_a_tampered_or_wrongly_signed_webhook(sim: InProcess) -> None:
    customer_writes(sim, ADA, "hi")
    body, signature = sim.app.raw[0]
    assert signature is not None
    secret = sim.app.app_secret
    assert utils.webhook_updates_validator(secret, body, signature) is True

    tampered = body.replace(b'"body":"hi"', b'"body":"send me your password"')
    assert tampered != body
    assert utils.webhook_updates_validator(secret, tampered, signature) is False
    assert utils.webhook_updates_validator("another-app-secret", body, signature) is False
    # Through the client's own entry point, the tampered update is refused and never parsed.
    assert sim.app.receive(tampered, signature) == ("Forbidden", 403)
    assert sim.app.receive(body, None) == ("Unauthorized", 401)
    assert [m.text for m in sim.app.messages] == ["hi"]


def test_a_pywa_bot_replies_from_its_handler(sim: InProcess) -> None:
    sim.app.echo = True

    inbound = customer_writes(sim, ADA, "where is my order?")

    outbox = sim.control("GET", f"/_sim/outbox?user={ADA}")["messages"]
    assert [m["text"] for m in outbox] == ["echo: where is my order?"]
    assert outbox[0]["raw"]["context"] == {"message_id": inbound["message_id"]}


# --- 3. the 24 h window: native error envelope (sync) and failed status (async) ----------------


def test_outside_the_window_sync_pywa_raises_reengagement_message() -> None:
    harness = InProcess(bsuid_config(window_error="sync"))
    try:
        with pytest.raises(errors.ReEngagementMessage) as caught:
            harness.app.wa.send_message(to=ALAN, text="Are you still there?")
        error = caught.value
        assert isinstance(error, errors.SendMessageError)
        assert error.code == 131047
        assert error.message
        assert error.details  # error_data.details, as Graph sends it
        assert error.fbtrace_id
        assert error.raw_response is not None
        assert error.raw_response.status_code == 400
        assert harness.control("GET", f"/_sim/outbox?user={ALAN}")["messages"] == []
    finally:
        harness.close()


def test_outside_the_window_async_pywa_gets_a_failed_status_131047(sim: InProcess) -> None:
    sent = sim.app.wa.send_message(to=ALAN, text="Are you still there?")  # 200, as in production

    assert sent.id.startswith("wamid.")
    status = sim.app.wait_for_status(sent.id)
    assert status.status == types.MessageStatusType.FAILED
    assert isinstance(status.error, errors.ReEngagementMessage)
    assert status.error.code == 131047
    assert status.from_user.wa_id == ALAN


# --- 4. authentication ------------------------------------------------------------------------


def test_a_wrong_token_gives_pywas_auth_error_190() -> None:
    harness = InProcess(bsuid_config(), token="EAAG-not-the-right-token")
    try:
        harness.control("POST", "/_sim/inbound", {"user": ADA, "text": "hi"})
        with pytest.raises(errors.ExpiredAccessToken) as caught:
            harness.app.wa.send_message(to=ADA, text="hello")
        assert isinstance(caught.value, errors.AuthorizationError)
        assert caught.value.code == 190
        assert caught.value.raw_response is not None
        assert caught.value.raw_response.status_code == 401
        assert harness.control("GET", f"/_sim/outbox?user={ADA}")["messages"] == []
    finally:
        harness.close()


# --- the same over real sockets: simulator server + a real webhook endpoint --------------------


@pytest.mark.slow
def test_pywa_against_the_simulator_server_over_http() -> None:
    with Receiver(None, "/webhooks/whatsapp", content_type="text/plain") as receiver:
        config = bsuid_config(webhook_url=receiver.url)
        with ServerThread(config) as sim_url:
            session = httpx.Client(transport=_GraphToSimulator(sim_url), timeout=10)
            app = PywaApp(config, session)
            receiver.serve = app.serve
            try:
                with httpx.Client(base_url=sim_url, timeout=10) as control:
                    r = control.post(
                        "/_sim/inbound",
                        json={"platform": "whatsapp", "user": ADA, "text": "hi"},
                    )
                    r.raise_for_status()
                    assert r.json()["delivery"]["status"] == 200
                    assert [m.text for m in app.messages] == ["hi"]

                    sent = app.wa.send_message(to=ADA, text="Hello over HTTP")
                    outbox = control.get("/_sim/outbox", params={"user": ADA}).json()
                    assert [(m["message_id"], m["text"]) for m in outbox["messages"]] == [
                        (sent.id, "Hello over HTTP")
                    ]
                    status = app.wait_for_status(sent.id)
                    assert status.status == types.MessageStatusType.SENT

                    # The simulator logged pywa's own answers (200) to both webhooks.
                    deadline = time.monotonic() + 5
                    while True:
                        log = control.get("/_sim/webhooks").json()["deliveries"]
                        kinds = {(d["kind"], d["status"]) for d in log}
                        if ("status", 200) in kinds or time.monotonic() > deadline:
                            break
                        time.sleep(0.02)
                    assert kinds == {("message", 200), ("status", 200)}

                    # Media: pywa uploads, asks for the URL and downloads it, all on the server.
                    media = app.wa.upload_media(media=b"%PDF-1.7", mime_type="application/pdf")
                    link = app.wa.get_media_url(media.id)
                    assert link.url.startswith(f"{sim_url}/whatsapp_business/attachments/?mid=")
                    assert app.wa.get_media_bytes(link.url) == b"%PDF-1.7"
            finally:
                session.close()


# --- 5. templates: pywa's get_templates (summary, filters, cursors both ways) ------------------


def test_pywa_get_templates_reads_the_summary(sim: InProcess) -> None:
    result = sim.app.wa.get_templates()

    # pywa asks for summary=total_count,message_template_count,... and reads each one (§6.1).
    assert result.total_count == 3
    assert result.message_template_count == 3
    assert result.message_template_limit == 250  # §6.1: an unverified business's limit
    assert result.are_translations_complete is True
    assert sorted(t.name for t in result) == ["follow_up", "order_update", "spring_sale"]
    order_update = next(t for t in result if t.name == "order_update")
    assert order_update.status == TemplateStatus.APPROVED
    assert order_update.category == TemplateCategory.UTILITY


def test_pywa_get_templates_filters_by_category_language_and_status(sim: InProcess) -> None:
    wa = sim.app.wa
    marketing = wa.get_templates(categories=[TemplateCategory.MARKETING])
    assert [t.name for t in marketing] == ["spring_sale"]
    assert marketing.total_count == 1  # the count of what matched
    assert marketing.message_template_count == 3  # the WABA's own count
    both = wa.get_templates(categories=[TemplateCategory.MARKETING, TemplateCategory.UTILITY])
    assert len(list(both)) == 3
    assert list(wa.get_templates(languages=[TemplateLanguage.SPANISH])) == []
    english = wa.get_templates(languages=[TemplateLanguage.ENGLISH_US])
    assert len(list(english)) == 3
    approved = wa.get_templates(statuses=[TemplateStatus.APPROVED])
    assert sorted(t.name for t in approved) == ["follow_up", "order_update"]


def test_pywa_pages_through_templates_forwards_and_backwards(sim: InProcess) -> None:
    wa = sim.app.wa
    first = wa.get_templates(pagination=types.Pagination(limit=2))
    assert len(list(first)) == 2
    assert first.has_next and not first.has_previous
    assert first.before and first.after  # both cursors, on every page (§6.1)

    # (pywa 4.5's TemplatesResult.next()/previous() cannot build their result: TypeError on
    # `item_factory`, in pywa itself. Its Pagination cursors are the way through.)
    second = wa.get_templates(pagination=types.Pagination(limit=2, after=first.after))
    assert len(list(second)) == 1
    assert second.has_previous and not second.has_next
    assert second.total_count == 3
    back = wa.get_templates(pagination=types.Pagination(limit=2, before=second.before))
    assert [t.id for t in back] == [t.id for t in first]
    assert not back.has_previous and back.has_next
    every = {t.id for t in wa.get_templates()}
    assert {t.id for t in first} | {t.id for t in second} == every


def test_template_paging_links_keep_the_requests_own_base_url(sim: InProcess) -> None:
    # pywa talks to https://graph.facebook.com: the links stay there (in process, the
    # simulator answers whatever host the request names).
    waba = sim.sim.core.config.whatsapp[0].waba_id
    response = sim.session.get(
        f"https://graph.facebook.com/v25.0/{waba}/message_templates",
        params={"limit": 1, "category": "UTILITY"},
        headers={"Authorization": f"Bearer {sim.sim.core.config.whatsapp[0].access_token}"},
    )
    paging = response.json()["paging"]
    prefix = f"https://graph.facebook.com/v25.0/{waba}/message_templates?"
    assert paging["next"].startswith(prefix)
    assert "category=UTILITY" in paging["next"] and "limit=1" in paging["next"]
    second = sim.session.get(paging["next"]).json()  # pywa's session carries the token
    assert second["paging"]["previous"].startswith(prefix)
    assert "category=UTILITY" in second["paging"]["previous"]


# --- 6. recipients as people type them ---------------------------------------------------------


@pytest.mark.parametrize("to", ["+15551230001", "+1 555-123-0001", "1 (555) 123-0001"])
def test_pywa_send_to_a_formatted_number_reaches_the_same_customer(sim: InProcess, to: str) -> None:
    customer_writes(sim, ADA, "hi")  # Ada's window is open

    sent = sim.app.wa.send_message(to=to, text="Hello again")

    assert sent.input == to  # §4.3: contacts[].input is what was sent...
    assert sent.chat.id == ADA  # ...and wa_id the normalised number
    state = sim.control("GET", "/_sim/state")["whatsapp"]
    customers = next(iter(state.values()))["customers"]
    assert [c["wa_id"] for c in customers] == [ADA, ALAN]  # no new customer
    status = sim.app.wait_for_status(sent.id)
    assert status.status == types.MessageStatusType.SENT  # the open window, not 131047
    assert [m["user"] for m in sim.control("GET", "/_sim/outbox")["messages"]] == [ADA]


# --- 7. button and list replies carry their context -------------------------------------------


def test_pywa_parses_button_and_list_replies_with_their_context(sim: InProcess) -> None:
    taps: list[types.CallbackButton] = []
    picks: list[types.CallbackSelection] = []
    sim.app.wa.on_callback_button()(lambda _, tap: taps.append(tap))
    sim.app.wa.on_callback_selection()(lambda _, pick: picks.append(pick))
    display = sim.sim.core.config.whatsapp[0].display_phone_number
    customer_writes(sim, ADA, "hi")
    buttons = sim.app.wa.send_message(
        to=ADA, text="Pick one", buttons=[types.Button("Track order", callback_data="track")]
    )
    sim.control(
        "POST",
        "/_sim/inbound",
        {"user": ADA, "button_reply": {"id": "track", "title": "Track order"}},
    )
    menu = sim.app.wa.send_message(
        to=ADA,
        text="Or choose",
        buttons=types.SectionList(
            button_title="Options",
            sections=[types.Section("Orders", rows=[types.SectionRow("Track", "t1")])],
        ),
    )
    sim.control(
        "POST", "/_sim/inbound", {"user": ADA, "list_reply": {"id": "t1", "title": "Track"}}
    )

    assert [(t.data, t.title) for t in taps] == [("track", "Track order")]
    assert taps[0].reply_to_message is not None
    assert taps[0].reply_to_message.id == buttons.id  # the message whose button it was
    assert taps[0].reply_to_message.from_user_id == display
    assert [(p.data, p.title) for p in picks] == [("t1", "Track")]
    assert picks[0].reply_to_message.id == menu.id
    assert picks[0].reply_to_message.from_user_id == display


def test_pywa_parses_a_list_reply_to_no_known_message() -> None:
    harness = InProcess(bsuid_config())
    picks: list[types.CallbackSelection] = []
    harness.app.wa.on_callback_selection()(lambda _, pick: picks.append(pick))
    try:
        # Nothing interactive was sent: the context names a generated wamid.
        harness.control(
            "POST", "/_sim/inbound", {"user": ADA, "list_reply": {"id": "a", "title": "A"}}
        )
        # A context given without `from` gets the business number filled in.
        harness.control(
            "POST",
            "/_sim/inbound",
            {"user": ADA, "list_reply": {"id": "b", "title": "B"}, "context": {"id": "wamid.X"}},
        )
        assert [p.data for p in picks] == ["a", "b"]
        assert picks[0].reply_to_message.id.startswith("wamid.")
        assert picks[1].reply_to_message.id == "wamid.X"
        display = harness.sim.core.config.whatsapp[0].display_phone_number
        assert {p.reply_to_message.from_user_id for p in picks} == {display}
    finally:
        harness.close()


# --- 8. every known inbound type the simulator accepts, pywa parses ----------------------------

VALID_INBOUND = [
    {"type": "text", "text": {"body": "hello"}},
    {"type": "image", "image": {"data_base64": "iVBORw==", "caption": "a photo"}},
    {"type": "video", "video": {"data_base64": "AAAA"}},
    {"type": "audio", "audio": {"data_base64": "T2dnUw==", "voice": True}},
    {"type": "document", "document": {"data_base64": "JVBERg==", "filename": "a.pdf"}},
    {"type": "sticker", "sticker": {"data_base64": "UklGRg==", "animated": False}},
    {"type": "location", "location": {"latitude": 52.52, "longitude": 13.405}},
    {"type": "contacts", "contacts": [{"name": {"formatted_name": "Ada L"}}]},
    {"type": "reaction", "reaction": {"message_id": "wamid.X", "emoji": "👍"}},
    {"type": "button", "button": {"payload": "yes", "text": "Yes"}},
    {
        "type": "order",
        "order": {
            "catalog_id": "c1",
            "product_items": [
                {"product_retailer_id": "p1", "quantity": 1, "item_price": 9.5, "currency": "EUR"}
            ],
        },
    },
    {"type": "system", "system": {"type": "user_changed_number", "body": "changed", "wa_id": "1"}},
    {"type": "unsupported", "errors": [{"code": 131051, "message": "Message type unknown"}]},
]


@pytest.mark.parametrize("message", VALID_INBOUND, ids=[m["type"] for m in VALID_INBOUND])
def test_pywa_parses_every_known_inbound_type(sim: InProcess, message: dict[str, Any]) -> None:
    updates: list[Any] = []
    for register in (
        sim.app.wa.on_message,
        sim.app.wa.on_callback_button,
        sim.app.wa.on_phone_number_change,
    ):
        register()(lambda _, update: updates.append(update))

    result = sim.control("POST", "/_sim/inbound", {"user": ADA, "message": message})

    assert result["delivery"]["ok"], result
    assert [u.id for u in updates + sim.app.messages] == [result["message_id"]]


# --- 9. media: upload, URL, download through the simulator --------------------------------------


def test_pywa_uploads_and_downloads_media_through_the_simulator(sim: InProcess) -> None:
    data = b"\x89PNG not really"
    media = sim.app.wa.upload_media(media=data, mime_type="image/png", filename="a.png")

    url = sim.app.wa.get_media_url(media.id)

    # The lookaside URL's own form, on the host the client asked (spec §7.3).
    assert url.url.startswith(
        f"https://graph.facebook.com/whatsapp_business/attachments/?mid={media.id}&ext="
    )
    assert "&hash=" in url.url
    assert url.mime_type == "image/png" and url.file_size == len(data)
    assert sim.app.wa.get_media_bytes(url.url) == data


# --- 10. Graph's own errors -------------------------------------------------------------------


def test_graph_level_errors_have_no_code_prefix() -> None:
    harness = InProcess(bsuid_config(), token="EAAG-not-the-right-token")
    try:
        with pytest.raises(errors.ExpiredAccessToken) as caught:
            harness.app.wa.get_templates()
        assert caught.value.message == "Invalid OAuth access token - Cannot parse access token"
    finally:
        harness.close()
