"""WeChat webhooks through the public interface (spec/wechat.md §1-§3, §5.1; research/wechat.md
§2-§3): the published signature and encryption vectors, the ``echostr`` handshake, every push
type in plaintext, compatible and safe mode, redelivery, the state the pushes leave in the
store for the send flows, and passive replies rendered and decrypted back in each mode.
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlencode

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from omnimsg import (
    Audio,
    Card,
    Cards,
    Client,
    FollowChanged,
    Image,
    Location,
    LocationReported,
    MemoryStore,
    MenuLinkOpened,
    MessageReceived,
    PolicyViolation,
    Postback,
    QrScanned,
    Raw,
    SignatureError,
    StatusUpdate,
    Text,
    Unknown,
    UnsupportedContent,
    Video,
    WebhookOutcome,
    WebhookParseError,
)
from omnimsg.clock import FakeClock
from omnimsg.exceptions import ConfigurationError
from omnimsg.platforms.wechat import WeChat, crypto
from omnimsg.platforms.wechat import xml as wxml
from omnimsg.platforms.wechat.crypto import DecryptError
from omnimsg.platforms.wechat.messages import music
from omnimsg.platforms.wechat.replies import passive_reply
from omnimsg.platforms.wechat.state import (
    FOLLOW_TTL,
    follow_key,
    interaction_key,
    unfollow_key,
)

# --- spec §2.4 vector A (the official Tencent sample) ---------------------------------------

TOKEN = "spamtest"
KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APP = "wx2c2769f8efd9abc2"
ACCOUNT = "gh_10f6c3c3ac5a"
USER = "oyORnuP8q7ou2gfYjqLzSIWZf0rs"
A_TS, A_NONCE = "1409735669", "1320562132"
A_MSG_SIGNATURE = "5d197aaffba7e9b25a30732f161a50dee96bd5fa"
A_SIGNATURE = "16120ec1b8dbb870f510d87ce6bc2463eae6ca1a"  # research §3
A_ENCRYPT = (
    "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8"
    "PGHQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jis"
    "a+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6"
    "X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl"
    "9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE="
)
A_PLAIN = (
    b"<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>\n"
    b"<FromUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></FromUserName>\n"
    b"<CreateTime>1409735668</CreateTime>\n"
    b"<MsgType><![CDATA[text]]></MsgType>\n"
    b"<Content><![CDATA[abcdteT]]></Content>\n"
    b"<MsgId>6054768590064713728</MsgId>\n"
    b"</xml>"
)
A_RANDOM = b"89465c840c5f116f"

# --- vector B (wechatpy tests/test_crypto.py; a WeCom corp id where the AppID goes) ---------

B_TOKEN, B_KEY, B_ID = "123456", "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR", "wx49f0ab532d5d035a"
B_TS, B_NONCE = "1411525903", "461056294"
B_REPLY = (
    b"<xml>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[test]]></Content>\n"
    b"<FromUserName><![CDATA[wx49f0ab532d5d035a]]></FromUserName>\n"
    b"<ToUserName><![CDATA[messense]]></ToUserName>\n<AgentID>1</AgentID>\n"
    b"<CreateTime>1411525903</CreateTime>\n</xml>"
)
B_REPLY_ENCRYPT = (
    "9s4gMv99m88kKTh/H8IdkOiMg6bisoy3ypwy9H4hvSPe9nsGaqyw5hhSjdYbcrKk+j3nba4HMOTzHrluLBYqxgNcBq"
    "GsL8GqxlhZgURnAtObvesEl5nZ+uBE8bviY0LWke8Zy9V/QYKxNV2FqllNXcfmstttyIkMKCCmVbCFM2JTF5wY0nFh"
    "HZSjPUL2Q1qvSUCUld+/WIXrx0oyKQmpB6o8NRrrNrsDf03oxI1p9FxUgMnwKKZeOA/uu+2IEvEBtb7muXsVbwbgX0"
    "5UPPJvFurDXafG0RQyPR+mf1nDnAtQmmNOuiR5MIkdQ39xn1vWwi1O5oazPoQJz0nTYjxxEE8kv3kFxtAGVRe3ypD3"
    "WeK2XeFYFMNMpatF9XiKzHo3"
)
B_REPLY_SIGNATURE = "407518b7649e86ef23978113f92d27afa9296533"
B_PUSH_ENCRYPT = (
    "RgqEoJj5A4EMYlLvWO1F86ioRjZfaex/gePD0gOXTxpsq5Yj4GNglrBb8I2BAJVODGajiFnXBu7mCPatfjsu6IHCrs"
    "TyeDXzF6Bv283dGymzxh6ydJRvZsryDyZbLTE7rhnus50qGPMfp2wASFlzEgMW9z1ef/RD8XzaFYgm7iTdaXpXaG4+"
    "BiYyolBug/gYNx410cvkKR2/nPwBiT+P4hIiOAQqGp/TywZBtDh1yCF2KOd0gpiMZ5jSw3e29mTvmUHzkVQiMS6td7"
    "vXUaWOMZnYZlF3So2SjHnwh4jYFxdgpkHHqIrH/54SNdshoQgWYEvccTKe7FS709/5t6NMxuGhcUGAPOQipvWTT4dS"
    "hyqio7mlsl5noTrb++x6En749zCpQVhDpbV6GDnTbcX2e8K9QaNWHp91eBdCRxthuL0="
)
B_PUSH_SIGNATURE = "74d92dfeb87ba7c714f89d98870ae5eb62dff26d"

# --- vector C (spec §2.4, ours: pad = 32) ---------------------------------------------------

C_MSG = (
    b"<xml><ToUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></ToUserName><FromUserName>"
    b"<![CDATA[gh_10f6c3c3ac5a]]></FromUserName><CreateTime>1409735670</CreateTime><MsgType>"
    b"<![CDATA[text]]></MsgType><Content><![CDATA[hello!!!!!!!!!!!!]]></Content></xml>"
)
C_ENCRYPT = (
    "Q3stYC6hdFzMh9T8HCvyDIGLsyHCgVx+pkCc9alTDKhmNnepcTQMumYXQLdkf/F8fZ3JW1+zBGAyHkJVuUtAf003PH"
    "frJNKW5omANWkGT62CzlCyz0cW1cYX0KN2NwAAQpfgWz2p2kgPmUlx1OKUKRC8dwKZNQRlF8lC6aJ6lYObkROJXqKr"
    "iemgSiDE8W+lBym6P/b2+v14z6ySBkBmThZi9sW8YcNamPNyhA2O2Xd7rJK8l5zv4Q+Pn3GouFFYVOq5YyetJzzpzG"
    "ecWnq/jQZLzd18GjNg11M+zcZvZRqvpCr3zoof5/VWJGnjFEQqktZjyl2+Fdt0FTgcocuPIpfGpSVVjv0/Qh10UmyU"
    "NT8zCD42bUb6zWggSvs7UxagGNTO/miHsPhsaNJ95JfrCqtAYpErRsu7vfTkhtzhAQQ="
)
C_SIGNATURE = "51188c37bb2e4bd60d189818111a8b4ab99a7bf6"

URL = "https://support.example/webhooks/wechat"
NOW = 1_780_000_000.0
TS = str(int(NOW))
MODES = ["plaintext", "compatible", "safe"]


def channel(mode: str = "safe", **more: Any) -> WeChat:
    fields: dict[str, Any] = {
        "account_id": ACCOUNT,
        "app_id": APP,
        "token": TOKEN,
        "encoding_aes_key": KEY,
        "mode": mode,
        "access_token": "wechat-access-token",
    }
    fields.update(more)
    return WeChat(**fields)


def make_client(*channels: WeChat, now: float = NOW) -> Client:
    clock = FakeClock(now)
    return Client(list(channels) or [channel()], clock=clock, store=MemoryStore(clock=clock))


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def client(mode: str) -> Client:
    return make_client(channel(mode))


def cdata(value: str) -> str:
    """``value`` in CDATA, a ``]]>`` inside split across two sections."""
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def xml_of(fields: dict[str, Any], sep: str = "\n") -> bytes:
    """A push as WeChat writes it: strings in CDATA, numbers bare, one element a line."""

    def one(name: str, value: Any) -> str:
        if isinstance(value, dict):
            return f"<{name}>" + "".join(one(k, v) for k, v in value.items()) + f"</{name}>"
        if isinstance(value, list):
            return "".join(one(name, v) for v in value)
        text = str(value) if isinstance(value, int) else cdata(value)
        return f"<{name}>{text}</{name}>"

    return ("<xml>" + sep.join(one(k, v) for k, v in fields.items()) + "</xml>").encode()


_ids = iter(range(1, 10**9))


def push(msg_type: str, **fields: Any) -> dict[str, Any]:
    """A push's fields with the common header (§3.1); a message gets a fresh MsgId."""
    out: dict[str, Any] = {
        "ToUserName": ACCOUNT,
        "FromUserName": USER,
        "CreateTime": int(NOW),
        "MsgType": msg_type,
    }
    out.update(fields)
    if msg_type != "event" and "MsgId" not in out:
        out["MsgId"] = 6054768590064713728 + next(_ids)
    return out


def event_push(name: str, **fields: Any) -> dict[str, Any]:
    return push("event", Event=name, **fields)


def request(
    plain: bytes,
    mode: str,
    *,
    token: str = TOKEN,
    key: str = KEY,
    app: str = APP,
    ts: str = TS,
    nonce: str = "1320562132",
    prefix: bytes = b"0123456789abcdef",
    to: str = ACCOUNT,
) -> tuple[str, bytes]:
    """``(url, body)`` of a push signed (and encrypted) as WeChat sends it in ``mode``."""
    query = {"signature": crypto.signature(token, ts, nonce), "timestamp": ts, "nonce": nonce}
    query["openid"] = USER  # real pushes carry it (spec §1.4); the SDK ignores it
    if mode == "plaintext":
        return f"{URL}?{urlencode(query)}", plain
    encrypted = crypto.encrypt(key, app, plain, prefix)
    query["encrypt_type"] = "aes"
    query["msg_signature"] = crypto.msg_signature(token, ts, nonce, encrypted)
    envelope = f"<Encrypt>{cdata(encrypted)}</Encrypt>".encode()
    if mode == "safe":
        body = f"<xml><ToUserName>{cdata(to)}</ToUserName>\n".encode() + envelope + b"\n</xml>"
    else:  # compatible: the plaintext fields and the ciphertext
        body = plain.replace(b"</xml>", b"\n" + envelope + b"\n</xml>")
    return f"{URL}?{urlencode(query)}", body


def deliver(client: Client, fields: dict[str, Any], mode: str, **kw: Any) -> WebhookOutcome:
    url, body = request(xml_of(fields), mode, **kw)
    outcome = client.webhooks.handle("wechat", "POST", url, {}, body)
    assert outcome.status == 200, outcome
    assert outcome.body == b"success" and outcome.content_type == "text/plain"
    return outcome


def one(client: Client, fields: dict[str, Any], mode: str, **kw: Any) -> Any:
    (event,) = deliver(client, fields, mode, **kw).events
    assert event.platform == "wechat"
    return event


def stored(client: Client, key: str) -> float | None:
    raw = client.store.get(key)
    return None if raw is None else float(raw)


def traces(client: Client, user: str = USER) -> list[float | None]:
    keys = [
        interaction_key(ACCOUNT, user, "message"),
        interaction_key(ACCOUNT, user, "event"),
        follow_key(ACCOUNT, user),
        unfollow_key(ACCOUNT, user),
    ]
    return [stored(client, k) for k in keys]


# --- signatures and the handshake (§1) --------------------------------------------------------


def test_the_signature_examples_of_the_official_doc() -> None:
    assert crypto.signature("AAAAA", "1714036504", "1514711492") == (
        "f464b24fc39322e44b38aa78f5edd27bd1441696"
    )
    assert crypto.signature("AAAAA", "1714037059", "486452656") == (
        "899cf89e464efb63f54ddac96b0a0a235f53aa78"
    )
    # Sorted as strings, not as numbers: the order of the arguments does not matter.
    assert crypto.signature("1514711492", "AAAAA", "1714036504") == crypto.signature(
        "AAAAA", "1714036504", "1514711492"
    )
    assert crypto.signature(TOKEN, A_TS, A_NONCE) == A_SIGNATURE
    assert crypto.msg_signature(TOKEN, A_TS, A_NONCE, A_ENCRYPT) == A_MSG_SIGNATURE


@pytest.mark.parametrize("mode", MODES)
def test_the_handshake_of_the_official_doc_answers_the_raw_echostr(mode: str) -> None:
    """§1.2: plaintext echostr, checked with ``signature``, in every mode (Pitfalls 2)."""
    c = make_client(channel(mode, token="AAAAA"))
    query = "signature=f464b24fc39322e44b38aa78f5edd27bd1441696&timestamp=1714036504"
    query += "&nonce=1514711492&echostr=4375120948345356249"
    outcome = c.webhooks.handle("wechat", "GET", f"{URL}?{query}", {}, b"")
    assert (outcome.status, outcome.body, outcome.content_type) == (
        200,
        b"4375120948345356249",
        "text/plain",
    )
    assert outcome.error is None and outcome.events == ()


@pytest.mark.parametrize(
    ("query", "status"),
    [
        (
            "signature=f464b24fc39322e44b38aa78f5edd27bd1441697&timestamp=1714036504"
            "&nonce=1514711492&echostr=1",
            403,
        ),
        (
            "signature=f464b24fc39322e44b38aa78f5edd27bd1441696&timestamp=1714036505"
            "&nonce=1514711492&echostr=1",
            403,
        ),
        ("timestamp=1714036504&nonce=1514711492&echostr=1", 401),
        ("signature=&timestamp=1714036504&nonce=1514711492&echostr=1", 401),
        ("", 401),
        (
            "signature=f464b24fc39322e44b38aa78f5edd27bd1441696&timestamp=1714036504"
            "&nonce=1514711492",
            400,
        ),
        (
            "signature=F464B24FC39322E44B38AA78F5EDD27BD1441696&timestamp=1714036504"
            "&nonce=1514711492&echostr=1",
            403,
        ),
        (
            "signature=f464b24fc39322e44b38aa78f5edd27bd1441696%0D%0A&timestamp=1714036504"
            "&nonce=1514711492&echostr=1",
            403,
        ),
        ("signature=%ED%A0%80&timestamp=1714036504&nonce=1514711492&echostr=1", 403),
    ],
)
def test_a_wrong_handshake_is_refused(query: str, status: int) -> None:
    c = make_client(channel("plaintext", token="AAAAA"))
    outcome = c.webhooks.handle("wechat", "GET", f"{URL}?{query}", {}, b"")
    assert outcome.status == status, outcome
    assert outcome.error is not None and outcome.body != b"1"


def test_the_handshake_answers_any_of_the_configured_tokens() -> None:
    other = channel(account_id="gh_0ther", app_id="wx0ther", token="AAAAA", mode="plaintext")
    c = make_client(channel("safe"), other)
    query = "signature=f464b24fc39322e44b38aa78f5edd27bd1441696&timestamp=1714036504"
    query += "&nonce=1514711492&echostr=hello%20world"
    outcome = c.webhooks.handle("wechat", "GET", f"{URL}?{query}", {}, b"")
    assert (outcome.status, outcome.body) == (200, b"hello world")


def test_a_channel_without_token_cannot_answer_or_verify() -> None:
    c = make_client(channel("plaintext", token=None))
    shake = c.webhooks.handle("wechat", "GET", f"{URL}?signature=x&echostr=1", {}, b"")
    assert shake.status == 403 and isinstance(shake.error, ConfigurationError)
    url, body = request(xml_of(push("text", Content="hi")), "plaintext")
    outcome = c.webhooks.handle("wechat", "POST", url, {}, body)
    assert outcome.status == 500 and isinstance(outcome.error, ConfigurationError)


# --- the encryption vectors (§2.4) -------------------------------------------------------------


def test_vector_a_decrypts_and_re_encrypts_byte_for_byte() -> None:
    assert crypto.decrypt(KEY, APP, A_ENCRYPT) == A_PLAIN
    assert crypto.encrypt(KEY, APP, A_PLAIN, A_RANDOM) == A_ENCRYPT
    assert crypto.aes_key(KEY).hex() == (
        "69b71d79f8218a39259a7a29aabb2dbafc31cb3d35db7e39ebbf3d0010831051"
    )


def test_vector_b_wechatpy() -> None:
    assert crypto.encrypt(B_KEY, B_ID, B_REPLY, b"1234567890123456") == B_REPLY_ENCRYPT
    assert crypto.msg_signature(B_TOKEN, B_TS, B_NONCE, B_REPLY_ENCRYPT) == B_REPLY_SIGNATURE
    assert crypto.msg_signature(B_TOKEN, B_TS, B_NONCE, B_PUSH_ENCRYPT) == B_PUSH_SIGNATURE
    fields = wxml.parse(crypto.decrypt(B_KEY, B_ID, B_PUSH_ENCRYPT), max_bytes=1 << 20)
    assert fields["Content"] == "test" and fields["FromUserName"] == "messense"
    assert fields["MsgId"] == "4363689963896700987"


def test_vector_c_pads_a_whole_block_of_32() -> None:
    assert len(C_MSG) == 250
    assert crypto.encrypt(KEY, APP, C_MSG, b"0123456789abcdef") == C_ENCRYPT
    assert crypto.decrypt(KEY, APP, C_ENCRYPT) == C_MSG
    assert crypto.msg_signature(TOKEN, "1409735670", "1320562132", C_ENCRYPT) == C_SIGNATURE
    buffer = _raw_decrypt(C_ENCRYPT)
    assert buffer[-32:] == bytes([32]) * 32  # a 16-byte PKCS#7 unpadder refuses this


def _raw_encrypt(buffer: bytes, key: str = KEY) -> str:
    k = crypto.aes_key(key)
    enc = Cipher(algorithms.AES(k), modes.CBC(k[:16])).encryptor()
    return base64.b64encode(enc.update(buffer) + enc.finalize()).decode()


def _raw_decrypt(encrypted: str, key: str = KEY) -> bytes:
    k = crypto.aes_key(key)
    dec = Cipher(algorithms.AES(k), modes.CBC(k[:16])).decryptor()
    return dec.update(base64.b64decode(encrypted)) + dec.finalize()


def _buffer(msg: bytes, appid: bytes = APP.encode(), length: int | None = None) -> bytes:
    n = len(msg) if length is None else length
    return b"R" * 16 + n.to_bytes(4, "big") + msg + appid


def _bad_pad(raw: bytes) -> bytes:
    pad = 32 - len(raw) % 32
    return raw + bytes(range(1, pad)) + bytes([pad])


def _padded(raw: bytes) -> bytes:
    pad = 32 - len(raw) % 32
    return raw + bytes([pad]) * pad


@pytest.mark.parametrize(
    ("encrypted", "reason"),
    [
        ("not base64!", "base64"),
        ("QUJD", "length"),  # 3 bytes
        ("", "length"),
        (base64.b64encode(b"x" * 48).decode(), "length"),  # a multiple of 16, not of 32
        ("é" + A_ENCRYPT[1:], "base64"),
        (A_ENCRYPT[:-4], "base64"),  # truncated base64 (no longer 4-aligned: 'length' or b64)
        (_raw_encrypt(_bad_pad(_buffer(b"<xml/>"))), "padding"),  # pad bytes differ
        (_raw_encrypt(_padded(_buffer(b"<xml/>"))[:-1] + b"\x00"), "padding"),  # pad 0
        (_raw_encrypt(_padded(_buffer(b"<xml/>"))[:-1] + b"\x21"), "padding"),  # pad 33
        (_raw_encrypt(b"\x05" * 31 + b"\x20"), "padding"),  # 32 claimed, not all 32s
        (_raw_encrypt(_padded(b"R" * 16 + b"\x00\x00")), "declared length"),  # too short
        (_raw_encrypt(_padded(_buffer(b"<xml/>", length=10_000))), "declared length"),
        (_raw_encrypt(_padded(_buffer(b"<xml/>", appid=b"wx0ther"))), "appid"),
        (_raw_encrypt(_padded(_buffer(b"<xml/>", appid=b""))), "appid"),
        (_raw_encrypt(_padded(_buffer(b"<xml/>", appid=APP.encode() + b"x"))), "appid"),
    ],
)
def test_decrypt_checks_everything(encrypted: str, reason: str) -> None:
    with pytest.raises(DecryptError) as info:
        crypto.decrypt(KEY, APP, encrypted)
    assert isinstance(info.value, SignatureError)
    if encrypted != A_ENCRYPT[:-4]:
        assert info.value.reason == reason, info.value
    assert KEY not in str(info.value)


def test_every_pad_byte_is_checked() -> None:
    good = _padded(_buffer(b"<xml>12345</xml>"))
    pad = good[-1]
    assert crypto.decrypt(KEY, APP, _raw_encrypt(good)) == b"<xml>12345</xml>"
    for i in range(1, pad):
        spoilt = bytearray(good)
        spoilt[-1 - i] ^= 0x01
        with pytest.raises(DecryptError) as info:
            crypto.decrypt(KEY, APP, _raw_encrypt(bytes(spoilt)))
        assert info.value.reason == "padding"


def test_encrypt_refuses_what_it_cannot_make() -> None:
    with pytest.raises(ConfigurationError):
        crypto.encrypt(KEY, APP, b"x", b"short")
    with pytest.raises(ConfigurationError):
        crypto.encrypt("not a key", APP, b"x", A_RANDOM)
    with pytest.raises(ConfigurationError):
        crypto.decrypt("A" * 44, APP, A_ENCRYPT)


# --- vector A through the client -------------------------------------------------------------


def _vector_a_url(**more: str) -> str:
    query = {"signature": A_SIGNATURE, "timestamp": A_TS, "nonce": A_NONCE}
    query.update({"encrypt_type": "aes", "msg_signature": A_MSG_SIGNATURE, "openid": USER})
    query.update(more)
    return f"{URL}?{urlencode(query)}"


@pytest.mark.parametrize("mode", ["compatible", "safe"])
@pytest.mark.parametrize("shape", ["compatible", "safe"])
def test_vector_a_through_handle(mode: str, shape: str) -> None:
    """The sample's body is compatible-mode (research §3); the safe body has only Encrypt."""
    c = make_client(channel(mode), now=1409735669.0)
    if shape == "safe":
        body = f"<xml><ToUserName>{cdata(ACCOUNT)}</ToUserName>"
        body += f"<Encrypt>{cdata(A_ENCRYPT)}</Encrypt></xml>"
    else:  # the plaintext copy is ignored: spoilt here, the encrypted one is read
        body = (
            A_PLAIN.decode()
            .replace("abcdteT", "FORGED")
            .replace("</xml>", f"<Encrypt>{cdata(A_ENCRYPT)}</Encrypt>\n</xml>")
        )
    outcome = c.webhooks.handle("wechat", "POST", _vector_a_url(), {}, body.encode())
    assert outcome.status == 200 and outcome.body == b"success", outcome
    (event,) = outcome.events
    assert isinstance(event, MessageReceived)
    assert (event.account, event.user, event.message_id) == (ACCOUNT, USER, "6054768590064713728")
    assert event.content == Text("abcdteT") and event.timestamp == 1409735668.0
    assert stored(c, interaction_key(ACCOUNT, USER, "message")) == 1409735668.0
    again = c.webhooks.handle("wechat", "POST", _vector_a_url(), {}, body.encode())
    assert again.events == () and again.duplicates == 1 and again.body == b"success"


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"msg_signature": A_SIGNATURE}, 403),  # Pitfalls 1: signature used as msg_signature
        ({"msg_signature": ""}, 401),
        ({"signature": A_MSG_SIGNATURE}, 403),
        ({"signature": ""}, 401),
        ({"nonce": "1320562133"}, 403),
        ({"timestamp": "1409735670"}, 403),
    ],
)
def test_vector_a_with_a_wrong_signature_is_refused(change: dict[str, str], status: int) -> None:
    c = make_client(channel("safe"), now=1409735669.0)
    body = f"<xml><ToUserName>{cdata(ACCOUNT)}</ToUserName><Encrypt>{cdata(A_ENCRYPT)}"
    body += "</Encrypt></xml>"
    outcome = c.webhooks.handle("wechat", "POST", _vector_a_url(**change), {}, body.encode())
    assert outcome.status == status and isinstance(outcome.error, SignatureError), outcome
    assert outcome.events == () and traces(c) == [None] * 4


# --- every push type, in every mode (§3.2, §3.3) ---------------------------------------------


def test_text(client: Client, mode: str) -> None:
    e = one(client, push("text", Content="hi \\d+ (?P<x>.*) ]]> 你好\nline"), mode)
    assert isinstance(e, MessageReceived)
    assert e.content == Text("hi \\d+ (?P<x>.*) ]]> 你好\nline")
    assert e.sender.user == USER and e.sender.account == ACCOUNT
    assert e.raw["MsgType"] == "text" and e.message_id.isdigit()


def test_text_with_cdata_end_inside(client: Client, mode: str) -> None:
    fields = push("text", Content="a]]>b")
    plain = xml_of(fields)
    assert b"<![CDATA[a]]]]><![CDATA[>b]]>" in plain
    url, signed_body = request(plain, mode)
    (e,) = client.webhooks.handle("wechat", "POST", url, {}, signed_body).events
    assert e.content == Text("a]]>b")


def test_a_msgmenu_tap_is_a_button_postback(client: Client, mode: str) -> None:
    e = one(client, push("text", Content="Yes", bizmsgmenuid="101"), mode)
    assert isinstance(e, Postback)
    assert (e.payload, e.title, e.source) == ("101", "Yes", "button")
    assert e.message_id == str(e.raw["MsgId"])
    # It is a message: the 48-hour window.
    assert stored(client, interaction_key(ACCOUNT, USER, "message")) == NOW


def test_image(client: Client, mode: str) -> None:
    e = one(client, push("image", PicUrl="http://mmbiz/x.jpg", MediaId="media-1"), mode)
    assert e.content == Image(media_id="media-1")
    assert e.raw["PicUrl"] == "http://mmbiz/x.jpg"
    e = one(client, push("image", PicUrl="http://mmbiz/x.jpg"), mode)
    assert e.content == Image(url="http://mmbiz/x.jpg")


def test_voice_with_recognition(client: Client, mode: str) -> None:
    e = one(client, push("voice", MediaId="v-1", Format="amr", Recognition="腾讯微信团队"), mode)
    assert e.content == Audio(media_id="v-1", mime_type="audio/amr", voice=True)
    assert e.raw["Recognition"] == "腾讯微信团队"


@pytest.mark.parametrize("kind", ["video", "shortvideo"])
def test_video(client: Client, mode: str, kind: str) -> None:
    e = one(client, push(kind, MediaId="m-v", ThumbMediaId="m-t"), mode)
    assert e.content == Video(media_id="m-v") and e.raw["MsgType"] == kind
    assert e.raw["ThumbMediaId"] == "m-t"


def test_location_message(client: Client, mode: str) -> None:
    fields = push("location", Location_X="23.134521", Location_Y="113.358803", Scale="20")
    fields["Label"] = "广州市海珠区"
    e = one(client, fields, mode)
    assert e.content == Location(latitude=23.134521, longitude=113.358803, address="广州市海珠区")


@pytest.mark.parametrize("kind", ["link", "miniprogrampage"])
def test_link_is_unsupported_content(client: Client, mode: str, kind: str) -> None:
    e = one(client, push(kind, Title="t", Description="d", Url="https://a.example/"), mode)
    assert isinstance(e, MessageReceived) and isinstance(e.content, UnsupportedContent)
    assert e.content.kind == kind and e.content.raw["Url"] == "https://a.example/"
    assert stored(client, interaction_key(ACCOUNT, USER, "message")) == NOW


def test_subscribe_and_unsubscribe(client: Client, mode: str) -> None:
    e = one(client, event_push("subscribe"), mode)
    assert e == FollowChanged(
        platform="wechat", account=ACCOUNT, user=USER, timestamp=NOW, following=True
    )
    assert stored(client, follow_key(ACCOUNT, USER)) == NOW
    assert stored(client, interaction_key(ACCOUNT, USER, "event")) == NOW
    assert stored(client, interaction_key(ACCOUNT, USER, "message")) is None
    fields = event_push("unsubscribe", EventKey="")
    fields["CreateTime"] = int(NOW) + 60
    e = one(client, fields, mode)
    assert isinstance(e, FollowChanged) and not e.following
    assert stored(client, unfollow_key(ACCOUNT, USER)) == NOW + 60
    assert stored(client, interaction_key(ACCOUNT, USER, "event")) == NOW  # no window


def test_a_follow_through_a_qr_code_is_a_follow_and_a_scan(client: Client, mode: str) -> None:
    """One follow for follower counts, one scan for scan counts (models.events.QrScanned)."""
    fields = event_push("subscribe", EventKey="qrscene_shop-42", Ticket="TICKET")
    outcome = deliver(client, fields, mode)
    follow, scan = outcome.events
    assert isinstance(follow, FollowChanged) and follow.following
    assert isinstance(scan, QrScanned)
    assert (scan.scene, scan.ticket, scan.new_follower) == ("shop-42", "TICKET", True)
    assert scan.sender.user == USER
    assert stored(client, follow_key(ACCOUNT, USER)) == NOW
    assert stored(client, interaction_key(ACCOUNT, USER, "event")) == NOW
    url, body = request(xml_of(fields), mode)
    again = client.webhooks.handle("wechat", "POST", url, {}, body)
    assert again.events == () and again.duplicates == 2


def test_scan_by_a_follower(client: Client, mode: str) -> None:
    e = one(client, event_push("SCAN", EventKey="123", Ticket="TICKET"), mode)
    assert isinstance(e, QrScanned)
    assert (e.scene, e.ticket, e.new_follower) == ("123", "TICKET", False)
    assert stored(client, interaction_key(ACCOUNT, USER, "event")) == NOW
    assert stored(client, follow_key(ACCOUNT, USER)) is None


@pytest.mark.parametrize("name", ["CLICK", "scancode_push", "scancode_waitmsg"])
def test_menu_clicks_open_the_short_window(client: Client, mode: str, name: str) -> None:
    fields = event_push(name, EventKey="FAQ_1")
    if name != "CLICK":
        fields["ScanCodeInfo"] = {"ScanType": "qrcode", "ScanResult": "https://x"}
    e = one(client, fields, mode)
    assert isinstance(e, Postback) and (e.source, e.payload) == ("menu", "FAQ_1")
    assert stored(client, interaction_key(ACCOUNT, USER, "event")) == NOW
    assert stored(client, interaction_key(ACCOUNT, USER, "message")) is None
    if name != "CLICK":
        assert e.raw["ScanCodeInfo"] == {"ScanType": "qrcode", "ScanResult": "https://x"}


@pytest.mark.parametrize(
    "name", ["pic_sysphoto", "pic_photo_or_album", "pic_weixin", "location_select"]
)
def test_other_menu_events_open_no_window(client: Client, mode: str, name: str) -> None:
    fields = event_push(name, EventKey="K")
    if name.startswith("pic"):
        fields["SendPicsInfo"] = {
            "Count": 2,
            "PicList": {"item": [{"PicMd5Sum": "aa"}, {"PicMd5Sum": "bb"}]},
        }
    else:
        fields["SendLocationInfo"] = {"Location_X": "23", "Location_Y": "113", "Label": "x"}
    e = one(client, fields, mode)
    assert isinstance(e, Postback) and e.source == "menu" and e.payload == "K"
    if name.startswith("pic"):
        assert e.raw["SendPicsInfo"]["PicList"]["item"] == [
            {"PicMd5Sum": "aa"},
            {"PicMd5Sum": "bb"},
        ]
    assert traces(client) == [None] * 4


def test_view_opens_no_window(client: Client, mode: str) -> None:
    e = one(client, event_push("VIEW", EventKey="https://shop.example/", MenuId="208"), mode)
    assert e == MenuLinkOpened(
        platform="wechat",
        account=ACCOUNT,
        user=USER,
        timestamp=NOW,
        url="https://shop.example/",
        menu_id="208",
    )
    assert traces(client) == [None] * 4


def test_location_event(client: Client, mode: str) -> None:
    fields = event_push("LOCATION", Latitude="23.137466", Longitude="113.352425")
    fields["Precision"] = "119.385040"
    e = one(client, fields, mode)
    assert isinstance(e, LocationReported)
    assert (e.latitude, e.longitude, e.precision) == (23.137466, 113.352425, 119.38504)
    assert traces(client) == [None] * 4


@pytest.mark.parametrize(
    ("status", "state", "code"),
    [
        ("success", "delivered", None),
        ("failed:user block", "failed", "failed:user block"),
        ("failed: system failed", "failed", "failed: system failed"),
    ],
)
def test_template_job_finished(
    client: Client, mode: str, status: str, state: str, code: str | None
) -> None:
    e = one(client, event_push("TEMPLATESENDJOBFINISH", MsgID="200163836", Status=status), mode)
    assert isinstance(e, StatusUpdate) and e.message_id == "200163836" and e.status == state
    assert [err.code for err in e.errors] == ([code] if code else [])
    assert traces(client) == [None] * 4


@pytest.mark.parametrize(
    "fields",
    [
        event_push("kf_create_session", KfAccount="test1@test"),
        event_push("MASSSENDJOBFINISH", MsgID="1"),
        push("hologram"),
        {"ToUserName": ACCOUNT, "FromUserName": USER, "CreateTime": int(NOW)},
        push("event"),
    ],
    ids=["kf", "mass", "new-msgtype", "no-msgtype", "no-event"],
)
def test_unknown_pushes_are_kept_raw(client: Client, mode: str, fields: dict[str, Any]) -> None:
    e = one(client, fields, mode)
    assert isinstance(e, Unknown) and e.reason and e.account == ACCOUNT
    assert e.raw["FromUserName"] == USER
    assert traces(client) == [None] * 4


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("CreateTime", "nan"),
        ("CreateTime", "1e20"),
        ("CreateTime", "99999999999999999999999"),
        ("CreateTime", "-5"),
        ("CreateTime", "1780000000.5"),
        ("CreateTime", "1780000000000"),  # milliseconds
        ("CreateTime", "\uff10\uff11"),  # full-width digits
        ("MsgId", "nan"),
        ("MsgId", "18446744073709551616"),  # 2**64
        ("MsgId", "0"),
        ("MsgId", ""),
        ("FromUserName", ""),
    ],
)
def test_malformed_fields_make_unknown(client: Client, mode: str, field: str, value: str) -> None:
    fields = push("text", Content="hi")
    fields[field] = value
    e = one(client, fields, mode)
    assert isinstance(e, Unknown) and field in e.reason, e.reason
    assert traces(client) == [None] * 4


@pytest.mark.parametrize("value", ["NaN", "inf", "1e400", "91", "-90.5e1", "0x1p3", ""])
def test_malformed_coordinates_make_unknown(client: Client, mode: str, value: str) -> None:
    e = one(client, push("location", Location_X=value, Location_Y="113.3"), mode)
    assert isinstance(e, Unknown) and "Location_X" in e.reason


def test_the_msgid_is_kept_as_a_64_bit_string(client: Client, mode: str) -> None:
    e = one(client, push("text", Content="x", MsgId=18446744073709551615), mode)
    assert e.message_id == "18446744073709551615"


# --- de-duplication (§3.4) ---------------------------------------------------------------------


def test_redelivery_of_a_message_is_a_duplicate(client: Client, mode: str) -> None:
    fields = push("text", Content="hi")
    assert len(deliver(client, fields, mode).events) == 1
    # WeChat's re-send after 5 s: the same push, with a new nonce and timestamp.
    again = deliver(client, fields, mode, nonce="99", ts=str(int(NOW) + 5))
    assert again.events == () and again.duplicates == 1
    other = dict(fields, MsgId=int(fields["MsgId"]) + 1)
    assert len(deliver(client, other, mode).events) == 1


def test_redelivery_of_an_event_is_a_duplicate(client: Client, mode: str) -> None:
    fields = event_push("CLICK", EventKey="A")
    assert len(deliver(client, fields, mode).events) == 1
    assert deliver(client, fields, mode, nonce="7").duplicates == 1
    # Another item clicked in the same second, or a second later: new events.
    assert len(deliver(client, dict(fields, EventKey="B"), mode).events) == 1
    assert len(deliver(client, dict(fields, CreateTime=int(NOW) + 1), mode).events) == 1
    # Another user at the same second.
    assert len(deliver(client, dict(fields, FromUserName="o-other"), mode).events) == 1


def test_receive_claims_each_push_once(client: Client, mode: str) -> None:
    url, body = request(xml_of(push("text", Content="hi")), mode)
    with client.webhooks.receive("wechat", "POST", url, {}, body) as r:
        assert len(r.events) == 1 and r.status == 200 and r.body == b"success"
    with client.webhooks.receive("wechat", "POST", url, {}, body) as r:
        assert r.events == () and r.body == b"success"


# --- refusals leave no trace ------------------------------------------------------------------


def test_a_wrong_appid_is_403_and_stores_nothing() -> None:
    c = make_client(channel("safe"))
    fields = push("text", Content="hi")
    url, body = request(xml_of(fields), "safe", app="wx0therapp")
    outcome = c.webhooks.handle("wechat", "POST", url, {}, body)
    assert outcome.status == 403 and isinstance(outcome.error, DecryptError)
    assert outcome.error.reason == "appid" and outcome.events == ()
    assert traces(c) == [None] * 4
    with pytest.raises(SignatureError):
        c.webhooks.parse("wechat", {}, body)  # no URL, no signature
    # Nothing was marked seen: the right push with the same MsgId is new.
    assert len(deliver(c, fields, "safe").events) == 1


def test_a_wrong_key_is_403() -> None:
    c = make_client(channel("safe"))
    url, body = request(xml_of(push("text", Content="hi")), "safe", key=B_KEY)
    outcome = c.webhooks.handle("wechat", "POST", url, {}, body)
    assert outcome.status == 403 and isinstance(outcome.error, DecryptError)
    assert traces(c) == [None] * 4


@pytest.mark.parametrize("mode", MODES)
def test_a_wrong_token_is_403(mode: str) -> None:
    c = make_client(channel(mode))
    url, body = request(xml_of(push("text", Content="hi")), mode, token="not-the-token")
    outcome = c.webhooks.handle("wechat", "POST", url, {}, body)
    assert outcome.status == 403 and isinstance(outcome.error, SignatureError)
    assert traces(c) == [None] * 4


def test_a_safe_mode_channel_refuses_plaintext_pushes() -> None:
    """``signature`` covers no byte of the body: a plaintext body could be forged under a
    replayed signature, so a safe-mode account takes encrypted pushes only."""
    c = make_client(channel("safe"))
    url, body = request(xml_of(push("text", Content="forged")), "plaintext")
    outcome = c.webhooks.handle("wechat", "POST", url, {}, body)
    assert outcome.status == 403 and "safe mode" in str(outcome.error)
    assert traces(c) == [None] * 4


@pytest.mark.parametrize("mode", ["plaintext", "compatible"])
def test_plaintext_and_compatible_channels_take_both_forms(mode: str) -> None:
    c = make_client(channel(mode))
    for form in MODES:
        assert len(deliver(c, push("text", Content=form), form).events) == 1


def test_an_encrypted_push_without_encrypt_is_400() -> None:
    c = make_client(channel("safe"))
    url, _ = request(xml_of(push("text", Content="hi")), "safe")
    outcome = c.webhooks.handle("wechat", "POST", url, {}, f"<xml>{cdata('x')}</xml>".encode())
    assert outcome.status == 400
    outcome = c.webhooks.handle("wechat", "POST", url, {}, b"<xml><ToUserName>x</ToUserName></xml>")
    assert outcome.status == 400 and isinstance(outcome.error, WebhookParseError)


def test_a_push_for_another_account_is_unknown_and_stores_nothing() -> None:
    c = make_client(channel("plaintext"))
    (e,) = deliver(c, push("text", Content="hi", ToUserName="gh_someoneelse"), "plaintext").events
    assert isinstance(e, Unknown) and "account_id" in e.reason and e.account == "gh_someoneelse"
    assert c.store.get(interaction_key("gh_someoneelse", USER, "message")) is None


def test_several_channels_on_one_endpoint() -> None:
    second = channel(
        "safe",
        account_id="gh_second",
        app_id="wxsecond",
        token="second-token",
        encoding_aes_key=B_KEY,
    )
    shared = channel("plaintext", account_id="gh_shared", app_id="wxshared")  # TOKEN again
    c = make_client(channel("safe"), second, shared)
    e = one(c, push("text", Content="1"), "safe")
    assert e.account == ACCOUNT
    fields = push("text", Content="2", ToUserName="gh_second")
    e = one(c, fields, "safe", token="second-token", key=B_KEY, app="wxsecond", to="gh_second")
    assert e.account == "gh_second"
    assert stored(c, interaction_key("gh_second", USER, "message")) == NOW
    # A plaintext push under the shared token is the plaintext channel's.
    e = one(c, push("text", Content="3", ToUserName="gh_shared"), "plaintext")
    assert e.account == "gh_shared"


def test_the_outcome_of_a_too_large_body_is_413() -> None:
    c = make_client(channel("plaintext"))
    url, body = request(xml_of(push("text", Content="x" * (1 << 20))), "plaintext")
    outcome = c.webhooks.handle("wechat", "POST", url, {}, body)
    assert outcome.status == 413 and isinstance(outcome.error, WebhookParseError)


# --- passive replies (§3.5, §2.3) -------------------------------------------------------------


def _reply(client: Client, mode: str, content: Any, fields: dict[str, Any] | None = None) -> Any:
    event = one(client, fields or push("text", Content="hi"), mode)
    outcome = passive_reply(
        channel(mode), event, content, now=NOW + 1, nonce="nonce-1", random_prefix=A_RANDOM
    )
    assert outcome.status == 200 and outcome.content_type.startswith("application/xml")
    return outcome


def _opened(outcome: WebhookOutcome, mode: str) -> tuple[bytes, dict[str, Any]]:
    """The reply's plaintext XML (decrypted with our own decrypt in the encrypted modes)."""
    if mode == "plaintext":
        return outcome.body, wxml.parse(outcome.body, max_bytes=1 << 20)
    envelope = wxml.parse(outcome.body, max_bytes=1 << 20)
    assert list(envelope) == ["Encrypt", "MsgSignature", "TimeStamp", "Nonce"]  # §2.3
    assert envelope["TimeStamp"] == str(int(NOW + 1)) and envelope["Nonce"] == "nonce-1"
    assert b"<TimeStamp>1780000001</TimeStamp>" in outcome.body  # digits, no CDATA
    expected = crypto.msg_signature(TOKEN, envelope["TimeStamp"], "nonce-1", envelope["Encrypt"])
    assert envelope["MsgSignature"] == expected
    plain = crypto.decrypt(KEY, APP, envelope["Encrypt"])
    assert crypto.encrypt(KEY, APP, plain, A_RANDOM) == envelope["Encrypt"]
    return plain, wxml.parse(plain, max_bytes=1 << 20)


def test_a_text_reply(client: Client, mode: str) -> None:
    plain, fields = _opened(_reply(client, mode, Text("hello ]]> world\n2")), mode)
    assert fields == {
        "ToUserName": USER,
        "FromUserName": ACCOUNT,
        "CreateTime": str(int(NOW + 1)),
        "MsgType": "text",
        "Content": "hello ]]> world\n2",
    }
    assert list(fields) == ["ToUserName", "FromUserName", "CreateTime", "MsgType", "Content"]
    assert plain.startswith(b"<xml><ToUserName><![CDATA[" + USER.encode())


def test_media_replies(client: Client, mode: str) -> None:
    _, fields = _opened(_reply(client, mode, Image(media_id="m-1")), mode)
    assert fields["MsgType"] == "image" and fields["Image"] == {"MediaId": "m-1"}
    _, fields = _opened(_reply(client, mode, Audio(media_id="m-2")), mode)
    assert fields["MsgType"] == "voice" and fields["Voice"] == {"MediaId": "m-2"}
    _, fields = _opened(_reply(client, mode, Video(media_id="m-3", caption="T")), mode)
    assert fields["MsgType"] == "video" and fields["Video"] == {"MediaId": "m-3", "Title": "T"}
    with pytest.raises(PolicyViolation):  # media must be uploaded first (§3.5)
        _reply(client, mode, Image(url="https://x/y.png"))


def test_a_music_reply(client: Client, mode: str) -> None:
    content = music("https://m/a.mp3", "https://m/a-hq.mp3", "thumb-1", title="Song")
    _, fields = _opened(_reply(client, mode, content), mode)
    assert fields["MsgType"] == "music"
    assert fields["Music"] == {
        "Title": "Song",
        "MusicUrl": "https://m/a.mp3",
        "HQMusicUrl": "https://m/a-hq.mp3",
        "ThumbMediaId": "thumb-1",
    }
    raw = Raw({"MsgType": "music", "Music": {"Title": "X", "MusicUrl": "https://m/b.mp3"}})
    _, fields = _opened(_reply(client, mode, raw), mode)
    assert fields["Music"] == {"Title": "X", "MusicUrl": "https://m/b.mp3"}


def test_a_news_reply_has_one_article(client: Client, mode: str) -> None:
    card = Card(title="T", subtitle="D", image_url="https://p/1.jpg", url="https://u/1")
    _, fields = _opened(_reply(client, mode, Cards([card])), mode)
    assert fields["MsgType"] == "news" and fields["ArticleCount"] == "1"
    assert fields["Articles"] == {
        "item": [
            {"Title": "T", "Description": "D", "PicUrl": "https://p/1.jpg", "Url": "https://u/1"}
        ]
    }
    with pytest.raises(PolicyViolation) as info:
        _reply(client, mode, Cards([card, Card(title="T2")]))
    assert info.value.violation.rule_id == "wechat.news.articles"
    assert info.value.violation.native_code == 45008


def test_replies_that_wechat_has_no_passive_form_for(client: Client, mode: str) -> None:
    from omnimsg import Buttons, Reaction

    with pytest.raises(PolicyViolation) as info:
        _reply(client, mode, Buttons("Pick one", ["Yes", "No"]))
    assert info.value.violation.rule_id == "wechat.passive_reply.msgtype"
    with pytest.raises(PolicyViolation):
        _reply(client, mode, Reaction(message_id="1", emoji="👍"))
    with pytest.raises(PolicyViolation) as info:
        _reply(client, mode, Text("nul \x00 inside"))
    assert info.value.violation.rule_id == "wechat.passive_reply.characters"
    with pytest.raises(PolicyViolation):
        _reply(client, mode, Text(""))  # an empty text shows "service unavailable"


def test_replies_to_events(client: Client, mode: str) -> None:
    _, fields = _opened(_reply(client, mode, Text("welcome"), event_push("subscribe")), mode)
    assert fields["ToUserName"] == USER and fields["Content"] == "welcome"
    with pytest.raises(PolicyViolation):
        _reply(client, mode, Text("bye"), event_push("unsubscribe"))
    with pytest.raises(PolicyViolation):
        _reply(client, mode, Text("?"), event_push("kf_close_session"))
    other = MessageReceived(
        platform="wechat",
        account="gh_x",
        user=USER,
        message_id="1",
        timestamp=NOW,
        content=Text("x"),
    )
    with pytest.raises(ConfigurationError):
        passive_reply(channel(mode), other, Text("x"), now=NOW, nonce="n", random_prefix=A_RANDOM)


def test_the_client_extra_answers_with_the_reply(mode: str) -> None:
    c = make_client(channel(mode))
    e = one(c, push("text", Content="hi"), mode)
    outcome = c.wechat.passive_reply(e, Text("hi back"))
    assert outcome.status == 200
    if mode == "plaintext":
        assert wxml.parse(outcome.body, max_bytes=1 << 20)["Content"] == "hi back"
    else:
        envelope = wxml.parse(outcome.body, max_bytes=1 << 20)
        plain = crypto.decrypt(KEY, APP, envelope["Encrypt"])
        assert wxml.parse(plain, max_bytes=1 << 20)["Content"] == "hi back"


# --- the XML renderer ---------------------------------------------------------------------------


def test_render_round_trips_through_parse() -> None:
    fields = {"A": "x]]>y]]>", "B": 12, "C": {"item": [{"D": "1"}, {"D": "2"}]}, "E": ""}
    body = wxml.render(fields)
    assert b"<A><![CDATA[x]]]]><![CDATA[>y]]]]><![CDATA[>]]></A>" in body
    assert wxml.parse(body, max_bytes=1000) == {
        "A": "x]]>y]]>",
        "B": "12",
        "C": {"item": [{"D": "1"}, {"D": "2"}]},
        "E": "",
    }
    for bad in ({"A": "\x00"}, {"A": "\ud800"}, {"a b": "x"}, {"A": 1.5}, {"A": True}):
        with pytest.raises(ConfigurationError):
            wxml.render(bad)


def test_follow_keys_use_the_follow_ttl() -> None:
    assert FOLLOW_TTL > 365 * 86_400
