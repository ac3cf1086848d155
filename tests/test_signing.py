"""Signatures: the published vectors (spec/messenger.md §1.3, same X-Hub-Signature-256 scheme
as spec/whatsapp.md §1.2), tampering, and property checks."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from omnimsg import SignatureError
from omnimsg.signing import sign_hub_sha256, verify_hub_sha256

M4J_SECRET = "60efff025951cddde78c8d03de52cc90"
M4J_BODY = (
    b'{"object":"page","entry":[{"id":"1717527131834678","time":1475942721780,"messaging":[{"sender":'
    b'{"id":"1256217357730577"},"recipient":{"id":"1717527131834678"},"timestamp":1475942721741,'
    b'"message":{"mid":"mid.1475942721728:3b9e3646712f9bed52","seq":123,"text":"34wrr3wr"}}]}]}'
)
SELF_BODY = (
    b'{"object":"page","entry":[{"id":"1234567890","time":1458692752478,"messaging":[{"sender":'
    b'{"id":"9876543210"},"recipient":{"id":"1234567890"},"timestamp":1458692752478,"message":'
    b'{"mid":"m_test_1","text":"hello, world!"}}]}]}'
)
ESCAPED = b'{"object":"page","entry":[{"id":"1","time":1,"messaging":[{"message":{"text":"caf\\u00e9"}}]}]}'
LITERAL = '{"object":"page","entry":[{"id":"1","time":1,"messaging":[{"message":{"text":"café"}}]}]}'.encode()

VECTORS = [
    (
        M4J_SECRET,
        M4J_BODY,
        "sha256=2c28be6e4b8c62b732b3487f445dbec6624868db6844b347567ebc86d7da3ad4",
    ),
    (
        "test_app_secret",
        SELF_BODY,
        "sha256=bafc1d8b397d9e1a5ec2da55a9f3406ce46305124feb93e6ef28629408e38a75",
    ),
    (
        "test_app_secret",
        ESCAPED,
        "sha256=8ea324510b660d6ef554d5d308904512e821a98a87728998ab5ac6ea92a37966",
    ),
    (
        "test_app_secret",
        LITERAL,
        "sha256=189687ad90303a55216e76f4770894b9831d8592d37211f88bd8551f6abe5f48",
    ),
]


def test_vector_lengths_match_the_spec() -> None:
    assert len(M4J_BODY) == 274
    assert len(SELF_BODY) == 223


@pytest.mark.parametrize(("secret", "body", "signature"), VECTORS)
def test_published_vectors(secret: str, body: bytes, signature: str) -> None:
    assert sign_hub_sha256(secret, body) == signature
    verify_hub_sha256(secret, body, signature)  # does not raise
    verify_hub_sha256(secret.encode(), body, signature.upper().replace("SHA256=", "sha256="))


def test_escaped_and_literal_bodies_sign_differently() -> None:
    # Re-serialising JSON changes the bytes and so the signature (spec Pitfalls 1).
    assert sign_hub_sha256("test_app_secret", ESCAPED) != sign_hub_sha256(
        "test_app_secret", LITERAL
    )


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (None, "missing"),
        ("", "missing"),
        ("sha1=3daa41999293ff66c3eb313e04bcf77861bb0276", "must start with"),
        ("sha256=" + "0" * 64, "does not match"),
        ("sha256=zz", "does not match"),
    ],
)
def test_bad_headers_are_typed_errors(header: str | None, message: str) -> None:
    with pytest.raises(SignatureError, match=message):
        verify_hub_sha256(M4J_SECRET, M4J_BODY, header)


def test_wrong_secret_fails() -> None:
    with pytest.raises(SignatureError):
        verify_hub_sha256("other", M4J_BODY, VECTORS[0][2])


@given(
    secret=st.text(min_size=1, max_size=40),
    body=st.binary(max_size=512),
    flip=st.integers(min_value=0),
)
def test_sign_verify_round_trip_and_any_tamper_fails(secret: str, body: bytes, flip: int) -> None:
    signature = sign_hub_sha256(secret, body)
    verify_hub_sha256(secret, body, signature)
    tampered = (
        body + b" "
        if not body
        else body[: flip % len(body)]
        + bytes([body[flip % len(body)] ^ 1])
        + body[flip % len(body) + 1 :]
    )
    with pytest.raises(SignatureError):
        verify_hub_sha256(secret, tampered, signature)


GOOD = "sha256=2c28be6e4b8c62b732b3487f445dbec6624868db6844b347567ebc86d7da3ad4"


@example(cut=7, junk="\r\n")
@example(cut=len(GOOD), junk="\r\n")
@example(cut=20, junk="\r\n")
@given(
    cut=st.integers(min_value=0, max_value=len(GOOD)),
    junk=st.sampled_from(["\r\n", "\n", "\r", "\x00", "\ud800", "é", "\xff", "\u2028", "\t\r\n "]),
)
def test_hostile_bytes_inside_the_signature_are_a_signature_error(cut: int, junk: str) -> None:
    """CR/LF, NUL, lone surrogates and non-ASCII anywhere inside the header: a typed
    SignatureError, never another exception; only white space around the hex is tolerated."""
    header = GOOD[:cut] + junk + GOOD[cut:]
    tolerated = header.startswith("sha256=") and "sha256=" + header[7:].strip() == GOOD
    try:
        verify_hub_sha256(M4J_SECRET, M4J_BODY, header)
    except SignatureError:
        assert not tolerated
    else:
        assert tolerated
