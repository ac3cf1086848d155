"""LINE's own Python SDK (``line-bot-sdk`` v3, from PyPI) works against omnimsg-sim unchanged.

How line-bot-sdk is pointed at the simulator (research/line.md §1.1): ``Configuration(host=
sim_url, access_token=...)``. Its ``ApiClient`` builds every URL as ``configuration.host +
resource_path`` when ``host`` is set, for the api.line.me operations and the api-data.line.me
ones (``MessagingApiBlob``) alike, so one ``Configuration`` sends everything to the
simulator's one port. Nothing else is patched: the SDK sends its own bodies (camelCase, the
default ``"notificationDisabled": false``, ``X-Line-Retry-Key`` when asked) and parses every
answer into its strict pydantic models (required fields, enums), which is what these tests
prove: a field the simulator forgot, or an enum value LINE never sends, is a ``ValidationError``
in the client.

The bots are written with the SDK's ``WebhookParser`` and ``WebhookHandler`` (research §1.4):
they get the simulator's webhooks on a small HTTP server (127.0.0.1, port 0), check
``x-line-signature`` with the SDK's own ``SignatureValidator`` over the exact body, and answer
with ``reply_message``. A known event type that fails its own schema would come out of the
parser as ``UnknownEvent`` without an error, so every event's class is checked.

Rich menus and channel access tokens through the SDK: ``test_sim_line_richmenu.py`` and
``test_sim_line_oauth.py``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from linebot.v3 import WebhookHandler, WebhookParser
from linebot.v3.exceptions import InvalidSignatureError
from linebot.v3.messaging import (
    ApiClient,
    ApiException,
    AsyncApiClient,
    AsyncMessagingApi,
    BroadcastRequest,
    ButtonsTemplate,
    Configuration,
    DatetimePickerAction,
    ErrorResponse,
    FlexBox,
    FlexBubble,
    FlexButton,
    FlexMessage,
    FlexText,
    ImageMessage,
    MarkMessagesAsReadByTokenRequest,
    MessageAction,
    MessagingApi,
    MessagingApiBlob,
    MulticastRequest,
    NarrowcastRequest,
    PostbackAction,
    PushMessageRequest,
    QuickReply,
    QuickReplyItem,
    ReplyMessageRequest,
    RichMenuArea,
    RichMenuBounds,
    RichMenuRequest,
    RichMenuSize,
    ShowLoadingAnimationRequest,
    StickerMessage,
    TemplateMessage,
    TextMessage,
    URIAction,
    ValidateMessageRequest,
)
from linebot.v3.messaging.exceptions import NotFoundException, UnauthorizedException
from linebot.v3.models.events import UnknownEvent  # what WebhookParser falls back to
from linebot.v3.webhooks import (
    AccountLinkEvent,
    AudioMessageContent,
    BeaconEvent,
    Event,
    FileMessageContent,
    FollowEvent,
    GroupSource,
    ImageMessageContent,
    JoinEvent,
    LeaveEvent,
    LocationMessageContent,
    MemberJoinedEvent,
    MemberLeftEvent,
    MessageEvent,
    PostbackEvent,
    StickerMessageContent,
    TextMessageContent,
    UnfollowEvent,
    UnsendEvent,
    UserSource,
    VideoMessageContent,
    VideoPlayCompleteEvent,
)

from omnimsg.testing import DEFAULT_LINE, ServerThread, line_sim_config
from omnimsg_sim.platforms.line.richmenu import sample_png
from remote import Receiver, Remote

pytestmark = pytest.mark.slow

BOT = DEFAULT_LINE["bot_user_id"]
TOKEN = DEFAULT_LINE["channel_access_token"]
SECRET = DEFAULT_LINE["channel_secret"]
ADA = DEFAULT_LINE["customers"][0]["user_id"]
ALAN = DEFAULT_LINE["customers"][1]["user_id"]
GRACE = DEFAULT_LINE["customers"][2]["user_id"]  # blocked the account
STRANGER = "U" + "9" * 32  # well formed, never issued to this provider
GROUP = "C" + "ab" * 16


# --- the simulator and its control plane ------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with ServerThread(line_sim_config(webhook_url="/_sim/sink")) as url:
        yield url


REMOTE = Remote("line", ADA)
control, target, customer, advance = REMOTE.control, REMOTE.target, REMOTE.customer, REMOTE.advance


@pytest.fixture
def sim(server: str) -> str:
    return REMOTE.reset(server)


def sdk(url: str, token: str = TOKEN) -> ApiClient:
    """line-bot-sdk's client: the one change is ``Configuration(host=...)`` (research §1.1)."""
    return ApiClient(Configuration(host=url, access_token=token))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def refusal(raised: pytest.ExceptionInfo[ApiException]) -> tuple[int, ErrorResponse]:
    """The status and LINE's error body, parsed by the SDK's own ``ErrorResponse``."""
    e = raised.value
    assert isinstance(e.body, str)
    return int(e.status), ErrorResponse.from_json(e.body)


# --- sending ------------------------------------------------------------------------------------


def test_push_every_kind_of_message_and_a_repeated_retry_key(sim: str) -> None:
    quick = QuickReply(
        items=[
            QuickReplyItem(action=MessageAction(label="Track", text="track")),
            QuickReplyItem(action=DatetimePickerAction(label="When", data="when", mode="datetime")),
        ]
    )
    flex = FlexMessage(
        altText="Your order",
        contents=FlexBubble(
            body=FlexBox(
                layout="vertical",
                contents=[
                    FlexText(text="Order 42", weight="bold", size="xl"),
                    FlexButton(action=URIAction(label="Track", uri="https://example.com/42")),
                ],
            )
        ),
    )
    buttons = TemplateMessage(
        altText="Choose",
        template=ButtonsTemplate(
            title="Order 42",
            text="What next?",
            actions=[
                PostbackAction(label="Cancel", data="cancel=42", displayText="Cancel it"),
                URIAction(label="Site", uri="https://example.com"),
            ],
        ),
    )
    messages = [
        TextMessage(text="Où est ma commande ? 📦", quickReply=quick),
        StickerMessage(packageId="446", stickerId="1988"),
        ImageMessage(
            originalContentUrl="https://example.com/a.jpg",
            previewImageUrl="https://example.com/a-small.jpg",
        ),
        flex,
        buttons,
    ]
    key = str(uuid.uuid4())
    with sdk(sim) as client:
        api = MessagingApi(client)
        first = api.push_message_with_http_info(
            PushMessageRequest(to=ADA, messages=messages), x_line_retry_key=key
        )
        sent = first.data.sent_messages
        assert len(sent) == 5 and all(m.id.isdigit() for m in sent)
        with pytest.raises(ApiException) as again:
            api.push_message(PushMessageRequest(to=ADA, messages=messages), x_line_retry_key=key)
    status, body = refusal(again)
    assert (status, body.message) == (409, "The retry key is already accepted")
    # The README's way to learn which request went through (research §1.3).
    assert again.value.headers["x-line-accepted-request-id"] == first.headers["x-line-request-id"]
    assert [m.id for m in body.sent_messages or []] == [m.id for m in sent]
    outbox = control(sim, "/_sim/outbox?platform=line")["messages"]
    assert [m["type"] for m in outbox] == ["text", "sticker", "image", "flex", "template"]
    assert outbox[0]["raw"]["quickReply"]["items"][1]["action"]["mode"] == "datetime"


def test_multicast_broadcast_narrowcast_and_its_progress(sim: str) -> None:
    with sdk(sim) as client:
        api = MessagingApi(client)
        hello = [TextMessage(text="Sale today")]
        # Grace blocked the account: 200, dropped, not counted (spec §8).
        assert api.multicast(MulticastRequest(to=[ADA, ALAN, GRACE], messages=hello)) == {}
        assert (
            api.broadcast(BroadcastRequest(messages=hello), x_line_retry_key=str(uuid.uuid4()))
            == {}
        )
        accepted = api.narrowcast_with_http_info(NarrowcastRequest(messages=hello))
        assert accepted.status_code == 202
        request_id = accepted.headers["x-line-request-id"]
        waiting = api.get_narrowcast_progress(request_id)
        assert waiting.phase == "waiting" and waiting.accepted_time.year == 2026
        advance(sim, 10)
        done = api.get_narrowcast_progress(request_id)
        assert done.phase == "succeeded" and done.completed_time is not None
        assert (done.success_count, done.failure_count, done.target_count) == (2, 0, 2)
        with pytest.raises(NotFoundException):
            api.get_narrowcast_progress(str(uuid.uuid4()))
        assert api.get_message_quota_consumption().total_usage == 6


def test_validate_push_and_lines_details(sim: str) -> None:
    with sdk(sim) as client:
        api = MessagingApi(client)
        assert api.validate_push(ValidateMessageRequest(messages=[TextMessage(text="ok")])) is None
        # The SDK does not check text length (research §1.3): the simulator must.
        too_long = TextMessage(text="x" * 5001)
        with pytest.raises(ApiException) as refused:
            api.validate_push(ValidateMessageRequest(messages=[too_long]))
        status, body = refusal(refused)
        assert status == 400 and body.message == "The request body has 1 error(s)"
        assert [d.var_property for d in body.details or []] == ["messages[0].text"]
        with pytest.raises(ApiException) as pushed:
            api.push_message(PushMessageRequest(to=ADA, messages=[too_long]))
        assert refusal(pushed)[1].message == "The request body has 1 error(s)"
        assert control(sim, "/_sim/outbox?platform=line")["messages"] == []


def test_quota_and_consumption_move_as_the_simulator_counts(sim: str) -> None:
    with sdk(sim) as client:
        api = MessagingApi(client)
        quota = api.get_message_quota()
        assert (quota.type.value, quota.value) == ("limited", 200)  # jp-communication
        assert api.get_message_quota_consumption().total_usage == 0
        api.push_message(PushMessageRequest(to=ADA, messages=[TextMessage(text="1")]))
        api.multicast(MulticastRequest(to=[ADA, ALAN], messages=[TextMessage(text="2")]))
        assert api.get_message_quota_consumption().total_usage == 3
        token = customer(sim, text="hi")["message"]["event"]["replyToken"]
        api.reply_message(ReplyMessageRequest(replyToken=token, messages=[TextMessage(text="r")]))
        assert api.get_message_quota_consumption().total_usage == 3  # replies are free (§4)


def test_profile_bot_info_followers_loading_and_read(sim: str) -> None:
    with sdk(sim) as client:
        api = MessagingApi(client)
        ada = api.get_profile(ADA)
        assert (ada.display_name, ada.user_id, ada.language) == ("Ada Lovelace", ADA, "en")
        alan = api.get_profile(ALAN)
        assert alan.picture_url == "https://profile.line-scdn.net/alan"
        assert alan.status_message == "Computing"
        for nobody in (STRANGER, GRACE):
            with pytest.raises(NotFoundException) as missing:
                api.get_profile(nobody)
            assert refusal(missing)[1].message == "Not found"
        info = api.get_bot_info()
        assert info.user_id == BOT and info.display_name == "omnimsg Support"
        assert info.chat_mode in ("chat", "bot") and info.mark_as_read_mode in ("auto", "manual")
        assert api.get_followers().user_ids == [ADA, ALAN]
        page = api.get_followers(limit=1)
        assert page.user_ids == [ADA] and page.next
        assert api.get_followers(start=page.next, limit=1).user_ids == [ALAN]
        assert (
            api.show_loading_animation(ShowLoadingAnimationRequest(chatId=ADA, loadingSeconds=10))
            == {}
        )
        # The SDK checks 5..60 but not "a multiple of 5" (research §1.2): LINE does.
        with pytest.raises(ApiException) as odd:
            api.show_loading_animation(ShowLoadingAnimationRequest(chatId=ADA, loadingSeconds=7))
        assert refusal(odd)[0] == 400
        said = customer(sim, text="read me")["message"]["event"]["message"]
        token = MarkMessagesAsReadByTokenRequest(markAsReadToken=said["markAsReadToken"])
        assert api.mark_messages_as_read_by_token(token) is None
        with pytest.raises(ApiException) as bad:
            api.mark_messages_as_read_by_token(
                MarkMessagesAsReadByTokenRequest(markAsReadToken="not-a-token")
            )
        assert refusal(bad)[0] == 400


def test_content_a_customer_sent_and_its_transcoding(sim: str) -> None:
    jpeg = b"\xff\xd8\xff\xe0 a photo"
    mp4 = b"\x00\x00\x00\x18ftypmp42 a video"
    image = customer(sim, image={"data_base64": b64(jpeg)})["message_id"]
    video = customer(sim, video={"data_base64": b64(mp4), "duration": 3000})["message_id"]
    with sdk(sim) as client:
        blob = MessagingApiBlob(client)
        assert blob.get_message_content_transcoding_by_message_id(image).status == "succeeded"
        assert bytes(blob.get_message_content(image)) == jpeg
        assert blob.get_message_content_transcoding_by_message_id(video).status == "processing"
        advance(sim, 5)
        assert blob.get_message_content_transcoding_by_message_id(video).status == "succeeded"
        assert bytes(blob.get_message_content(video)) == mp4
        with pytest.raises(NotFoundException):
            blob.get_message_content("1" * 18)


def test_the_async_client_pushes_and_reads_the_quota(sim: str) -> None:
    async def main() -> tuple[list[str], int, str]:
        async with AsyncApiClient(Configuration(host=sim, access_token=TOKEN)) as client:
            api = AsyncMessagingApi(client)
            key = str(uuid.uuid4())
            pushed = await api.push_message(
                PushMessageRequest(to=ADA, messages=[TextMessage(text="async")]),
                x_line_retry_key=key,
            )
            with pytest.raises(ApiException) as conflict:  # the same class as the sync client's
                await api.push_message(
                    PushMessageRequest(to=ADA, messages=[TextMessage(text="async")]),
                    x_line_retry_key=key,
                )
            assert refusal(conflict)[0] == 409
            accepted = conflict.value.headers["x-line-accepted-request-id"]
            quota = await api.get_message_quota()
            used = await api.get_message_quota_consumption()
            assert quota.type.value == "limited"
            return [m.id for m in pushed.sent_messages], used.total_usage, accepted

    ids, used, accepted = asyncio.run(main())
    assert len(ids) == 1 and used == 1 and accepted


def test_a_bad_token_is_401_with_lines_message(sim: str) -> None:
    with sdk(sim, token="not-the-token") as client:
        with pytest.raises(UnauthorizedException) as refused:
            MessagingApi(client).get_bot_info()
    status, body = refusal(refused)
    assert status == 401
    assert body.message.startswith("Authentication failed due to the following reason:")


def test_a_free_plan_out_of_messages_is_429() -> None:
    friends = [{"user_id": f"U{i:032x}", "display_name": f"F{i}"} for i in range(1, 201)]
    with ServerThread(line_sim_config(webhook_url="/_sim/sink", customers=friends)) as url:
        with sdk(url) as client:
            api = MessagingApi(client)
            everyone = [f["user_id"] for f in friends]
            api.multicast(MulticastRequest(to=everyone, messages=[TextMessage(text="all")]))
            assert api.get_message_quota_consumption().total_usage == 200
            with pytest.raises(ApiException) as refused:
                api.push_message(
                    PushMessageRequest(to=everyone[0], messages=[TextMessage(text="1")])
                )
    status, body = refusal(refused)
    assert (status, body.message) == (429, "You have reached your monthly limit.")


# --- bots written with the SDK ------------------------------------------------------------------


class Bot:
    """A bot written with line-bot-sdk: ``WebhookParser`` (or ``WebhookHandler``) over the
    exact body, then an answer with ``reply_message`` to every text."""

    def __init__(self, sim_url: str, *, handler: bool = False) -> None:
        self.sim_url = sim_url
        self.parser = WebhookParser(SECRET)
        self.handler = WebhookHandler(SECRET) if handler else None
        self.bodies: list[str] = []
        self.signatures: list[str] = []
        self.events: list[Event] = []
        self.handled: list[tuple[str, Event]] = []
        self.replies: list[str] = []
        self.fail_next = 0  # answer 500 this many times
        self.lock = threading.Lock()
        if self.handler is not None:
            self._register(self.handler)

    def _register(self, handler: WebhookHandler) -> None:
        def seen(name: str) -> Callable[[Event], None]:
            def record(event: Event) -> None:
                self.handled.append((name, event))

            return record

        def answer_text(event: MessageEvent) -> None:  # one argument: the SDK passes one
            self.handled.append(("text", event))
            self.reply(event)

        handler.add(MessageEvent, message=TextMessageContent)(answer_text)
        handler.add(MessageEvent, message=ImageMessageContent)(seen("image"))
        handler.add(MessageEvent)(seen("other message"))
        handler.add(FollowEvent)(seen("follow"))
        handler.add(PostbackEvent)(seen("postback"))
        handler.default()(seen("default"))

    def reply(self, event: MessageEvent) -> None:
        assert isinstance(event.message, TextMessageContent)
        with sdk(self.sim_url) as client:
            answer = MessagingApi(client).reply_message(
                ReplyMessageRequest(
                    replyToken=event.reply_token,
                    messages=[
                        TextMessage(
                            text=f"You said: {event.message.text}",
                            quoteToken=event.message.quote_token,
                        )
                    ],
                )
            )
        self.replies.extend(m.id for m in answer.sent_messages)

    def serve(self, request: BaseHTTPRequestHandler, body: bytes) -> tuple[int, bytes]:
        """The webhook endpoint's answer: ``OK``, or ``refused`` with a 400 or a 500."""
        status = self.receive(body, request.headers.get("x-line-signature", ""))
        return status, b"OK" if status == 200 else b"refused"

    def receive(self, body: bytes, signature: str) -> int:
        text = body.decode("utf-8")  # the SDK wants a str; it re-encodes the same bytes
        with self.lock:
            self.bodies.append(text)
            self.signatures.append(signature)
            if self.fail_next:
                self.fail_next -= 1
                return 500
        try:
            if self.handler is not None:
                self.handler.handle(text, signature)
                return 200
            events = self.parser.parse(text, signature)
        except InvalidSignatureError:
            return 400
        assert isinstance(events, list)
        self.events.extend(events)
        for event in events:
            if (
                isinstance(event, MessageEvent)
                and isinstance(event.message, TextMessageContent)
                and event.reply_token
                and not event.delivery_context.is_redelivery
            ):
                self.reply(event)
        return 200


@pytest.fixture
def bot(sim: str) -> Iterator[Bot]:
    parsed = Bot(sim)
    with Receiver(parsed.serve, "/callback") as receiver:
        target(sim, receiver.url)
        yield parsed


def delivered(answer: dict[str, Any]) -> None:
    assert answer["delivery"]["status"] == 200, answer


def linked_menu(sim: str) -> None:
    """Ada gets a rich menu whose one area is a postback (setup only; the menu itself is
    ``test_sim_line_richmenu.py``'s)."""
    with sdk(sim) as client:
        api, blob = MessagingApi(client), MessagingApiBlob(client)
        menu = api.create_rich_menu(
            RichMenuRequest(
                size=RichMenuSize(width=2500, height=843),
                selected=False,
                name="Help",
                chatBarText="Menu",
                areas=[
                    RichMenuArea(
                        bounds=RichMenuBounds(x=0, y=0, width=2500, height=843),
                        action=PostbackAction(data="menu=help", displayText="Help"),
                    )
                ],
            )
        ).rich_menu_id
        blob.set_rich_menu_image(
            menu, body=sample_png(2500, 843), _headers={"Content-Type": "image/png"}
        )
        api.link_rich_menu_id_to_user(ADA, menu)


def test_a_webhook_parser_bot_gets_every_kind_of_event(sim: str, bot: Bot) -> None:
    newcomer = "U" + "4" * 32
    actions: list[tuple[str, dict[str, Any]]] = [
        (ADA, {"text": "Où est ma commande ? 📦"}),
        (ADA, {"image": {"data_base64": b64(b"\xff\xd8jpeg")}}),
        (
            ADA,
            {
                "image": {
                    "url": "https://example.com/p.jpg",
                    "preview_url": "https://example.com/s.jpg",
                }
            },
        ),
        (ADA, {"video": {"data_base64": b64(b"mp4"), "duration": 1500}}),
        (ADA, {"audio": {"data_base64": b64(b"m4a"), "duration": 2500}}),
        (ADA, {"file": {"data_base64": b64(b"%PDF-1.7"), "fileName": "invoice.pdf"}}),
        (ADA, {"location": {"latitude": 35.68, "longitude": 139.76, "title": "Tokyo"}}),
        (ADA, {"sticker": {"packageId": "446", "stickerId": "1988"}}),
        (ADA, {"postback": {"data": "book=1", "params": {"datetime": "2026-03-02T10:00"}}}),
        (ALAN, {"unfollow": True}),
        (ALAN, {"follow": True}),
        (newcomer, {"follow": True}),
        (ADA, {"join": {"group": GROUP}}),
        (ALAN, {"member_joined": {"group": GROUP}}),
        (ALAN, {"text": "hello group", "group": GROUP}),
        (ALAN, {"member_left": {"group": GROUP}}),
        (ADA, {"leave": {"group": GROUP}}),
        (ADA, {"event": {"type": "beacon", "beacon": {"hwid": "d41d8cd98f", "type": "enter"}}}),
        (ADA, {"event": {"type": "accountLink", "link": {"result": "ok", "nonce": "n0nce"}}}),
        (ADA, {"event": {"type": "videoPlayComplete", "videoPlayComplete": {"trackingId": "t1"}}}),
    ]
    answers = []
    for user, action in actions:
        answer = customer(sim, user, **action)
        delivered(answer)
        answers.append(answer)
    unsent = answers[0]["message_id"]
    delivered(customer(sim, ADA, unsend={"messageId": unsent}))
    linked_menu(sim)
    delivered(customer(sim, ADA, richmenu={"area": 0}))
    delivered(customer(sim, ADA, event={"type": "somethingLineInventsLater", "x": 1}))

    events = bot.events
    unknown = [e for e in events if isinstance(e, UnknownEvent)]
    assert [e.type for e in unknown] == ["somethingLineInventsLater"]  # on purpose, alone
    kinds = [type(e).__name__ for e in events]
    assert kinds == [
        "MessageEvent",  # text
        "MessageEvent",  # image (LINE's content)
        "MessageEvent",  # image (external)
        "MessageEvent",  # video
        "MessageEvent",  # audio
        "MessageEvent",  # file
        "MessageEvent",  # location
        "MessageEvent",  # sticker
        "PostbackEvent",
        "UnfollowEvent",
        "FollowEvent",
        "FollowEvent",
        "JoinEvent",
        "MemberJoinedEvent",
        "MessageEvent",  # in the group
        "MemberLeftEvent",
        "LeaveEvent",
        "BeaconEvent",
        "AccountLinkEvent",
        "VideoPlayCompleteEvent",
        "UnsendEvent",
        "PostbackEvent",  # the rich-menu tap
        "UnknownEvent",
    ]
    contents = [type(e.message) for e in events[:8] if isinstance(e, MessageEvent)]
    assert contents == [
        TextMessageContent,
        ImageMessageContent,
        ImageMessageContent,
        VideoMessageContent,
        AudioMessageContent,
        FileMessageContent,
        LocationMessageContent,
        StickerMessageContent,
    ]
    text = events[0]
    assert isinstance(text, MessageEvent) and isinstance(text.source, UserSource)
    assert isinstance(text.message, TextMessageContent)
    assert text.message.text == "Où est ma commande ? 📦" and text.message.quote_token
    assert text.mode.value == "active" and text.delivery_context.is_redelivery is False
    image = events[1]
    assert isinstance(image, MessageEvent) and isinstance(image.message, ImageMessageContent)
    assert image.message.content_provider.type == "line"
    external = events[2]
    assert isinstance(external, MessageEvent) and isinstance(external.message, ImageMessageContent)
    assert external.message.content_provider.original_content_url == "https://example.com/p.jpg"
    file = events[5]
    assert isinstance(file, MessageEvent) and isinstance(file.message, FileMessageContent)
    assert (file.message.file_name, file.message.file_size) == ("invoice.pdf", 8)
    postback = events[8]
    assert isinstance(postback, PostbackEvent) and postback.postback.data == "book=1"
    assert postback.postback.params == {"datetime": "2026-03-02T10:00"}
    unblocked, new = events[10], events[11]
    assert isinstance(unblocked, FollowEvent) and unblocked.follow.is_unblocked is True
    assert isinstance(new, FollowEvent) and new.follow.is_unblocked is False
    joined = events[13]
    assert isinstance(joined, MemberJoinedEvent) and isinstance(joined.source, GroupSource)
    assert [m.user_id for m in joined.joined.members] == [ALAN]
    assert isinstance(events[12], JoinEvent) and events[12].reply_token
    in_group = events[14]
    assert isinstance(in_group, MessageEvent) and isinstance(in_group.source, GroupSource)
    assert (in_group.source.group_id, in_group.source.user_id) == (GROUP, ALAN)
    left = events[15]
    assert isinstance(left, MemberLeftEvent) and [m.user_id for m in left.left.members] == [ALAN]
    assert isinstance(events[16], LeaveEvent) and isinstance(events[9], UnfollowEvent)
    assert isinstance(events[17], BeaconEvent) and events[17].beacon.hwid == "d41d8cd98f"
    assert isinstance(events[18], AccountLinkEvent) and events[18].link.result == "ok"
    assert isinstance(events[19], VideoPlayCompleteEvent)
    unsend = events[20]
    assert isinstance(unsend, UnsendEvent) and unsend.unsend.message_id == unsent
    tap = events[21]
    assert isinstance(tap, PostbackEvent) and tap.postback.data == "menu=help"

    # The bot answered both texts with their reply tokens (quoting them); a token is single use.
    assert len(bot.replies) == 2
    outbox = control(sim, "/_sim/outbox?platform=line")["messages"]
    assert [m["text"] for m in outbox] == [
        "You said: Où est ma commande ? 📦",
        "You said: hello group",
    ]
    assert outbox[1]["user"] == GROUP
    with sdk(sim) as client, pytest.raises(ApiException) as reused:
        MessagingApi(client).reply_message(
            ReplyMessageRequest(replyToken=text.reply_token, messages=[TextMessage(text="again")])
        )
    assert refusal(reused) == (400, ErrorResponse(message="Invalid reply token"))


def test_events_whose_schema_needs_a_reply_token_keep_their_class(sim: str, bot: Bot) -> None:
    """Found with line-bot-sdk: a follow, join or videoPlayComplete event in standby, or a
    membership event, came without ``replyToken`` (required by their schema) and the parser
    silently turned them into ``UnknownEvent``; a failed accountLink has none (spec §2)."""
    newcomer = "U" + "6" * 32
    delivered(customer(sim, newcomer, follow=True, mode="standby"))
    delivered(customer(sim, ADA, join={"group": GROUP}, mode="standby"))
    watched = {"type": "videoPlayComplete", "videoPlayComplete": {"trackingId": "ad-1"}}
    delivered(customer(sim, ADA, event=watched, mode="standby"))
    joined = {"type": "membership", "membership": {"type": "joined", "membershipId": 3}}
    delivered(customer(sim, ADA, event=joined))
    failed = {"type": "accountLink", "link": {"result": "failed", "nonce": "n0nce"}}
    delivered(customer(sim, ADA, event=failed))
    delivered(customer(sim, ADA, text="watching", mode="standby"))
    kinds = [type(e).__name__ for e in bot.events]
    assert kinds == [
        "FollowEvent",
        "JoinEvent",
        "VideoPlayCompleteEvent",
        "MembershipEvent",
        "AccountLinkEvent",
        "MessageEvent",
    ]
    assert [e.mode.value for e in bot.events] == ["standby"] * 3 + ["active"] * 2 + ["standby"]
    link, standby_text = bot.events[4], bot.events[5]
    assert isinstance(link, AccountLinkEvent) and link.reply_token is None
    assert isinstance(standby_text, MessageEvent) and standby_text.reply_token is None
    assert bot.replies == []  # no token, no answer


def test_group_member_profile_and_leaving_through_the_sdk(sim: str, bot: Bot) -> None:
    delivered(customer(sim, ADA, join={"group": GROUP}))
    delivered(customer(sim, ALAN, member_joined={"group": GROUP}))
    with sdk(sim) as client:
        api = MessagingApi(client)
        member = api.get_group_member_profile(GROUP, ALAN)
        assert (member.display_name, member.user_id) == ("Alan Turing", ALAN)
        pushed = api.push_message(
            PushMessageRequest(to=GROUP, messages=[TextMessage(text="hi all")])
        )
        assert len(pushed.sent_messages) == 1
        assert api.get_message_quota_consumption().total_usage == 2  # one per member (§4)
        api.leave_group(GROUP)
        with pytest.raises(NotFoundException):
            api.get_group_member_profile(GROUP, ALAN)


def test_the_signature_is_over_the_exact_bytes(sim: str, bot: Bot) -> None:
    delivered(customer(sim, text='naïve café ☕ \\ "quoted"'))
    [body], [signature] = bot.bodies, bot.signatures
    assert "naïve café ☕" in body  # raw UTF-8, not \\u escapes (research §5, TV3)
    assert bot.parser.signature_validator.validate(body, signature)
    with pytest.raises(InvalidSignatureError):
        bot.parser.parse(body + "\n", signature)  # one more byte breaks it
    escaped = json.dumps(json.loads(body), separators=(",", ":"))  # same JSON, \\u escapes
    with pytest.raises(InvalidSignatureError):
        bot.parser.parse(escaped, signature)  # re-encoding breaks it (spec pitfall 1)


def test_the_console_verify_and_a_redelivery_after_a_500(sim: str, bot: Bot) -> None:
    verified = control(sim, "/_sim/webhooks/verify", {"platform": "line"})
    assert verified["verified"] is True, verified
    assert json.loads(bot.bodies[0]) == {"destination": BOT, "events": []}
    assert bot.events == []  # the SDK parses an empty events list to []
    payload = bot.parser.parse(bot.bodies[0], bot.signatures[0], as_payload=True)
    assert (payload.destination, payload.events) == (BOT, [])
    bot.fail_next = 1
    answer = customer(sim, text="are you there?")
    assert answer["delivery"]["status"] == 500, answer
    assert bot.events == []  # the refused body never reached the parser
    advance(sim, 10)  # the first retry delay
    [event] = bot.events
    assert isinstance(event, MessageEvent) and event.delivery_context.is_redelivery is True
    first, again = (json.loads(b)["events"][0] for b in bot.bodies[1:])
    assert event.webhook_event_id == first["webhookEventId"] == again["webhookEventId"]
    assert first["deliveryContext"] == {"isRedelivery": False}


def test_a_webhook_handler_bot_dispatches_by_class(sim: str) -> None:
    handled = Bot(sim, handler=True)
    with Receiver(handled.serve, "/callback") as receiver:
        target(sim, receiver.url)
        delivered(customer(sim, text="hi"))
        delivered(customer(sim, image={"data_base64": b64(b"\xff\xd8")}))
        delivered(customer(sim, sticker={"packageId": "1", "stickerId": "2"}))
        delivered(customer(sim, postback={"data": "a=1"}))
        delivered(customer(sim, "U" + "5" * 32, follow=True))
        delivered(customer(sim, ALAN, unfollow=True))
        delivered(customer(sim, event={"type": "brandNew"}))
        assert control(sim, "/_sim/webhooks/verify", {"platform": "line"})["verified"] is True
    names = [name for name, _ in handled.handled]
    assert names == ["text", "image", "other message", "postback", "follow", "default", "default"]
    assert isinstance(handled.handled[5][1], UnfollowEvent)
    assert isinstance(handled.handled[6][1], UnknownEvent)
    assert len(handled.replies) == 1
    # A forged body is refused by the handler's own signature check.
    assert handled.receive(b'{"destination":"x","events":[]}', "forged") == 400
