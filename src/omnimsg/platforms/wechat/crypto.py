"""WeChat's webhook signatures and safe-mode encryption (spec/wechat.md §1.3, §1.4, §2.2).

Pure functions, shared by the SDK (verifying and decrypting what WeChat sends, encrypting
passive replies) and the simulator (signing and encrypting what it sends), so that both
always agree.

* ``signature``: SHA-1 hex of ``token``, ``timestamp`` and ``nonce`` sorted as strings and
  concatenated (every request, every mode; the GET handshake too).
* ``msg_signature``: the same over the four strings ``token``, ``timestamp``, ``nonce`` and
  the body's ``Encrypt`` (compatible and safe modes).
* ``encrypt``/``decrypt``: AES-256-CBC with the key ``base64(EncodingAESKey + "=")`` and
  its first 16 bytes as the IV, over ``random(16) || uint32_be(len(msg)) || msg || appid``
  padded with PKCS#7 to a **32-byte** block (pad values 1..32, spec Pitfalls 7).

:func:`decrypt` checks everything the buffer can be wrong in (base64, length, every pad byte,
the declared length, the trailing AppID) and raises :class:`DecryptError`, a
:class:`~omnimsg.SignatureError`: this AES mode carries no MAC, so these checks are what
says the plaintext was made with *this* account's key for *this* AppID; failing one means the
body is not verifiably ours, which is what a bad signature means too (answered 403, nothing
stored; a wrong key or AppID in the channel then reads as the credentials problem it is).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ...exceptions import ConfigurationError, SignatureError

__all__ = [
    "BLOCK_SIZE",
    "DecryptError",
    "aes_key",
    "decrypt",
    "encrypt",
    "msg_signature",
    "signature",
]

BLOCK_SIZE = 32
"""The PKCS#7 block size of WeChat's padding (not AES's 16: the official sample's)."""

_RANDOM = 16  # the random prefix
_LENGTH = 4  # the big-endian message length after it
_HEAD = _RANDOM + _LENGTH


class DecryptError(SignatureError):
    """A safe-mode ``Encrypt`` value that does not decrypt to a message for this AppID.

    ``reason`` names the check that failed: ``"base64"``, ``"length"``, ``"padding"``,
    ``"declared length"`` or ``"appid"``.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _sha1_sorted(*parts: str) -> str:
    joined = "".join(sorted(parts))
    # surrogatepass: a lone surrogate from a caller hashes (and then simply does not match).
    # SHA-1 is what WeChat signs with (spec §1.3); it is the protocol, not a choice.
    return hashlib.sha1(joined.encode("utf-8", "surrogatepass")).hexdigest()  # noqa: S324


def signature(token: str, timestamp: str, nonce: str) -> str:
    """The ``signature`` query parameter: SHA-1 hex of the three strings sorted and joined
    (spec §1.3; e.g. ``signature("AAAAA", "1714036504", "1514711492")`` is
    ``"f464b24fc39322e44b38aa78f5edd27bd1441696"``)."""
    return _sha1_sorted(token, timestamp, nonce)


def msg_signature(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    """The ``msg_signature`` query parameter (and a reply's ``MsgSignature``): SHA-1 hex of
    the four strings sorted and joined, ``encrypt`` being the base64 ``Encrypt`` (§1.4)."""
    return _sha1_sorted(token, timestamp, nonce, encrypt)


def aes_key(encoding_aes_key: str) -> bytes:
    """The 32-byte AES key of a 43-character EncodingAESKey (§2.2).

    Raises:
        ConfigurationError: the value is not base64 of 32 bytes without its ``=``.
    """
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except (binascii.Error, ValueError, TypeError):
        key = b""
    if len(key) != 32:
        raise ConfigurationError(
            "a WeChat EncodingAESKey is 43 characters of base64 (32 bytes, without '=')"
        )
    return key


def _cipher(key: bytes) -> Cipher[modes.CBC]:
    return Cipher(algorithms.AES(key), modes.CBC(key[:16]))


def encrypt(encoding_aes_key: str, app_id: str, plaintext: bytes, random_prefix: bytes) -> str:
    """The base64 ``Encrypt`` value of ``plaintext`` (the UTF-8 XML), as WeChat makes it.

    ``random_prefix`` is the 16 random bytes the buffer starts with (the caller draws them,
    so that tests are deterministic: the official vector A is ``b"89465c840c5f116f"``).

    Raises:
        ConfigurationError: the key is not an EncodingAESKey, ``random_prefix`` is not 16
            bytes, or ``app_id`` is not ASCII.
    """
    if type(random_prefix) is not bytes or len(random_prefix) != _RANDOM:
        raise ConfigurationError("random_prefix must be 16 bytes")
    if not app_id.isascii():
        raise ConfigurationError("a WeChat AppID is ASCII")
    key = aes_key(encoding_aes_key)
    buffer = b"".join(
        (random_prefix, len(plaintext).to_bytes(_LENGTH, "big"), plaintext, app_id.encode())
    )
    pad = BLOCK_SIZE - len(buffer) % BLOCK_SIZE  # 1..32: a whole block when aligned
    buffer += bytes((pad,)) * pad
    encryptor = _cipher(key).encryptor()
    return base64.b64encode(encryptor.update(buffer) + encryptor.finalize()).decode("ascii")


def decrypt(encoding_aes_key: str, app_id: str, encrypted: str) -> bytes:
    """The message inside an ``Encrypt`` value: the inner XML, as bytes.

    Raises:
        DecryptError: ``encrypted`` is not base64, not a whole number of 32-byte blocks,
            its padding is not PKCS#7 of 1..32 bytes (each pad byte checked), its declared
            length overruns the buffer, or the trailing AppID is not ``app_id``.
        ConfigurationError: the key is not an EncodingAESKey.
    """
    key = aes_key(encoding_aes_key)
    if type(encrypted) is not str or not encrypted.isascii():
        raise DecryptError("base64", "Encrypt is not base64")
    try:
        data = base64.b64decode(encrypted, validate=True)
    except (binascii.Error, ValueError):
        raise DecryptError("base64", "Encrypt is not base64") from None
    if not data or len(data) % BLOCK_SIZE:
        raise DecryptError(
            "length", f"Encrypt is {len(data)} bytes, not a whole number of 32-byte blocks"
        )
    decryptor = _cipher(key).decryptor()
    plain = decryptor.update(data) + decryptor.finalize()
    pad = plain[-1]
    if not 1 <= pad <= BLOCK_SIZE or not hmac.compare_digest(plain[-pad:], bytes((pad,)) * pad):
        raise DecryptError("padding", "Encrypt does not decrypt with this EncodingAESKey")
    content = plain[:-pad]
    if len(content) < _HEAD:
        raise DecryptError("declared length", "the decrypted buffer is too short")
    length = int.from_bytes(content[_RANDOM:_HEAD], "big")
    end = _HEAD + length
    if end > len(content):
        raise DecryptError(
            "declared length", "the decrypted message is shorter than its declared length"
        )
    if not hmac.compare_digest(content[end:], app_id.encode("utf-8", "surrogatepass")):
        raise DecryptError("appid", "the message was encrypted for another AppID")
    return content[_HEAD:end]
