"""The WhatsApp channel: credentials and settings of one business phone number."""

from __future__ import annotations

import re

import attrs

from ...exceptions import ConfigurationError
from ...rules.whatsapp import WhatsAppPolicy, latest

__all__ = ["WhatsApp"]

_VERSION = re.compile(r"v\d+\.\d+")


def _check_version(_: object, __: object, value: str) -> None:
    if not _VERSION.fullmatch(value):
        raise ConfigurationError(f"api_version must look like 'v23.0', got {value!r}")


def _strip_slash(url: object) -> str:
    return str(url).rstrip("/")


def _non_empty(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"WhatsApp {attribute.name} must be a non-empty string")


@attrs.frozen(kw_only=True)
class WhatsApp:
    """A WhatsApp Business Platform (Cloud API) phone number.

    Args:
        phone_number_id: the sending number's id (not the phone number itself).
        access_token: a system-user or app access token (Bearer).
        app_secret: the Meta app secret, to verify ``X-Hub-Signature-256`` on webhooks.
        verify_token: your token for the webhook GET handshake.
        waba_id: the WhatsApp Business Account id (needed for templates).
        api_version: the Graph API version in paths, e.g. ``"v23.0"``.
        base_url: ``https://graph.facebook.com``, or the simulator's URL.
        policy: the rule profile to enforce before sending (default: the latest).

    Secrets never appear in ``repr``.
    """

    phone_number_id: str = attrs.field(validator=_non_empty)
    access_token: str = attrs.field(repr=False, validator=_non_empty)
    app_secret: str | None = attrs.field(default=None, repr=False)
    verify_token: str | None = attrs.field(default=None, repr=False)
    waba_id: str | None = None
    api_version: str = attrs.field(default="v23.0", validator=_check_version)
    base_url: str = attrs.field(default="https://graph.facebook.com", converter=_strip_slash)
    policy: WhatsAppPolicy = attrs.field(factory=latest)

    platform = "whatsapp"

    @property
    def account(self) -> str:
        """The account id used in addresses (the phone-number id)."""
        return self.phone_number_id

    def url(self, path: str) -> str:
        """The full Graph URL for ``path`` (no leading slash)."""
        return f"{self.base_url}/{self.api_version}/{path}"

    def auth_headers(self) -> tuple[tuple[str, str], ...]:
        """The Bearer header (never logged)."""
        return (("authorization", f"Bearer {self.access_token}"),)

    def require_waba(self) -> str:
        """The WABA id, or a :class:`ConfigurationError` naming what is missing."""
        if not self.waba_id:
            raise ConfigurationError("this WhatsApp operation needs waba_id= on the channel")
        return self.waba_id
