"""The WeChat channel: credentials and settings of one WeChat Official Account (a Service
Account), spec/wechat.md."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Literal

import attrs

from ...exceptions import ConfigurationError
from ...rules.wechat import WeChatPolicy, latest

__all__ = ["WeChat"]

# The account's original id, the ``ToUserName`` of its webhooks (spec/wechat.md §3.1).
_ORIGINAL_ID = re.compile(r"gh_[0-9a-zA-Z]{1,64}")
_APP_ID = re.compile(r"wx[0-9a-zA-Z]{1,64}")


def _strip_slash(url: object) -> str:
    return str(url).rstrip("/")


def _non_empty(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"WeChat {attribute.name} must be a non-empty string")


def _optional(_: object, attribute: attrs.Attribute[str | None], value: str | None) -> None:
    if value is not None and (not isinstance(value, str) or not value):
        raise ConfigurationError(f"WeChat {attribute.name} must be a non-empty string or None")


def _original_id(_: object, __: object, value: str) -> None:
    if not isinstance(value, str) or not _ORIGINAL_ID.fullmatch(value):
        raise ConfigurationError(
            "WeChat account_id must be the account's original id, 'gh_' and letters or digits "
            f"(the ToUserName of its webhooks; Settings > Account info), got {value!r}"
        )


def _app_id(_: object, __: object, value: str) -> None:
    if not isinstance(value, str) or not _APP_ID.fullmatch(value):
        raise ConfigurationError(f"WeChat app_id must look like 'wx...', got {value!r}")


def _aes_key(_: object, __: object, value: str | None) -> None:
    if value is None:
        return
    # 43 characters of base64 without the trailing "=": a 32-byte AES-256 key (§2.2).
    try:
        ok = isinstance(value, str) and len(value) == 43
        ok = ok and len(base64.b64decode(value + "=", validate=True)) == 32
    except (binascii.Error, ValueError):
        ok = False
    if not ok:
        raise ConfigurationError(
            "WeChat encoding_aes_key must be the 43-character EncodingAESKey of the server "
            "configuration (base64 of 32 bytes, without '=')"
        )


@attrs.frozen(kw_only=True)
class WeChat:
    """A WeChat Official Account (Service Account).

    Args:
        account_id: the account's original id, ``gh_...``: the ``ToUserName`` of its
            webhooks and the account of its addresses.
        app_id: the AppID (``wx...``).
        app_secret: the AppSecret, to fetch access tokens (hidden from repr). Leave it out
            when ``access_token`` comes from a central token service.
        token: the server configuration's Token: signs every webhook (hidden from repr).
        encoding_aes_key: the 43-character EncodingAESKey, for the compatible and safe
            modes (hidden from repr).
        mode: the server configuration's message encryption: ``"plaintext"``,
            ``"compatible"`` or ``"safe"``. Inbound bodies are read in whatever form they
            come; passive replies are encrypted in ``"safe"`` (and ``"compatible"``) mode.
        access_token: a fixed access token (from your own central token service); when
            set, omnimsg never fetches one.
        token_endpoint: ``"stable"`` (``POST /cgi-bin/stable_token``, recommended: a
            fetch returns the same token while it is valid) or ``"classic"``
            (``GET /cgi-bin/token``: each fetch invalidates the previous token after
            5 minutes).
        refresh_early: how many seconds before its expiry a token is replaced.
        base_url: ``https://api.weixin.qq.com``, or the simulator's URL.
        policy: the rules in force (:class:`omnimsg.rules.wechat.WeChatPolicy`, the latest
            dated profile by default: 5 messages within 48 hours of a customer's message).

    Secrets never appear in ``repr``.
    """

    account_id: str = attrs.field(validator=_original_id)
    app_id: str = attrs.field(validator=_app_id)
    app_secret: str | None = attrs.field(default=None, repr=False, validator=_optional)
    token: str | None = attrs.field(default=None, repr=False, validator=_optional)
    encoding_aes_key: str | None = attrs.field(default=None, repr=False, validator=_aes_key)
    mode: Literal["plaintext", "compatible", "safe"] = "plaintext"
    access_token: str | None = attrs.field(default=None, repr=False, validator=_optional)
    token_endpoint: Literal["stable", "classic"] = "stable"
    refresh_early: float = 300.0
    base_url: str = attrs.field(default="https://api.weixin.qq.com", converter=_strip_slash)
    policy: WeChatPolicy = attrs.field(factory=latest, repr=False)

    platform = "wechat"

    def __attrs_post_init__(self) -> None:
        if self.mode not in ("plaintext", "compatible", "safe"):
            raise ConfigurationError(
                f"WeChat mode must be 'plaintext', 'compatible' or 'safe', not {self.mode!r}"
            )
        if self.mode != "plaintext" and self.encoding_aes_key is None:
            raise ConfigurationError(f"WeChat mode {self.mode!r} needs encoding_aes_key")
        if self.token_endpoint not in ("stable", "classic"):
            raise ConfigurationError(
                f"WeChat token_endpoint must be 'stable' or 'classic', not {self.token_endpoint!r}"
            )
        if self.access_token is None and self.app_secret is None:
            raise ConfigurationError(
                "WeChat needs app_secret= (to fetch access tokens) or access_token= (from "
                "your central token service)"
            )

    @property
    def account(self) -> str:
        """The account id used in addresses (the original id, ``gh_...``)."""
        return self.account_id

    def url(self, path: str) -> str:
        """The full API URL for ``path`` (leading slash included, e.g.
        ``/cgi-bin/message/custom/send``); the access token goes as a query parameter."""
        return f"{self.base_url}{path}"
