"""The Messenger channel: credentials and settings of one Facebook Page."""

from __future__ import annotations

import hashlib
import hmac
import re

import attrs

from ...exceptions import ConfigurationError
from ...rules.messenger import MessengerPolicy, latest

__all__ = ["PAGE_INBOX_APP_ID", "Messenger"]

PAGE_INBOX_APP_ID = "263902037430900"
"""The app id of the Page Inbox (Meta Business Suite), where people answer: pass a thread
to it to hand the conversation to a human (research §5.2 confirms it on Meta's handover
reference)."""

_VERSION = re.compile(r"v\d+\.\d+")


def _check_version(_: object, __: object, value: str) -> None:
    if not isinstance(value, str) or not _VERSION.fullmatch(value):
        raise ConfigurationError(f"api_version must look like 'v25.0', got {value!r}")


def _strip_slash(url: object) -> str:
    return str(url).rstrip("/")


def _non_empty(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"Messenger {attribute.name} must be a non-empty string")


def _optional(_: object, attribute: attrs.Attribute[str | None], value: str | None) -> None:
    if value is not None and (not isinstance(value, str) or not value):
        raise ConfigurationError(f"Messenger {attribute.name} must be a non-empty string or None")


def _policy(_: object, __: object, value: object) -> None:
    if not isinstance(value, MessengerPolicy):
        raise ConfigurationError(
            "policy must be a MessengerPolicy, e.g. omnimsg.rules.messenger.profile("
            f"'messenger-2020-03-04'), not {type(value).__name__}"
        )


@attrs.frozen(kw_only=True)
class Messenger:
    """A Facebook Page on the Messenger Platform.

    Args:
        page_id: the Page's id (``entry[].id`` of its webhooks).
        page_access_token: a Page access token with ``pages_messaging`` (hidden from repr).
        app_secret: the Meta app secret: verifies ``X-Hub-Signature-256`` on webhooks and
            signs every call with ``appsecret_proof``.
        verify_token: your token for the webhook GET handshake.
        app_id: your app's id, to tell your own echoes from others' and to know who owns a
            thread (optional). With it, the pre-flight refuses sends into a thread another
            app owns (``messenger.thread.not_owner``, 10 / 2018300), as this client last saw
            it (its own pass or take, the hand-over webhooks); without it that rule is
            skipped and the platform's own refusal comes back (``PermissionDenied``).
        base_url: ``https://graph.facebook.com``, or the simulator's URL.
        api_version: the Graph API version in paths, e.g. ``"v25.0"``.
        policy: the rule profile to enforce before sending (default: the latest;
            ``omnimsg.rules.messenger.profile("messenger-2020-03-04")`` for the older tags).
        badge_log: keep the conversation log that ``client.messenger.badge()`` reads (the
            customers' first messages and the Page's first replies). It costs a few store
            operations per customer message; turn it off if you never ask for the badge.

    Secrets never appear in ``repr``.
    """

    page_id: str = attrs.field(validator=_non_empty)
    page_access_token: str = attrs.field(repr=False, validator=_non_empty)
    app_secret: str | None = attrs.field(default=None, repr=False, validator=_optional)
    verify_token: str | None = attrs.field(default=None, repr=False, validator=_optional)
    app_id: str | None = attrs.field(default=None, validator=_optional)
    base_url: str = attrs.field(default="https://graph.facebook.com", converter=_strip_slash)
    api_version: str = attrs.field(default="v25.0", validator=_check_version)
    policy: MessengerPolicy = attrs.field(factory=latest, validator=_policy)
    badge_log: bool = True

    platform = "messenger"

    @property
    def account(self) -> str:
        """The account id used in addresses (the Page id)."""
        return self.page_id

    def url(self, path: str) -> str:
        """The full Graph URL for ``path`` (no leading slash)."""
        return f"{self.base_url}/{self.api_version}/{path}"

    def auth_headers(self) -> tuple[tuple[str, str], ...]:
        """The Bearer header with the Page token (never logged)."""
        return (("authorization", f"Bearer {self.page_access_token}"),)

    def appsecret_proof(self) -> str | None:
        """``hex HMAC-SHA256(app_secret, page_access_token)`` (§3.1), when there is a secret."""
        if not self.app_secret:
            return None
        return hmac.new(
            self.app_secret.encode(), self.page_access_token.encode(), hashlib.sha256
        ).hexdigest()
