"""The LINE channel: credentials and settings of one LINE Official Account's Messaging API
channel (spec/line.md)."""

from __future__ import annotations

import re

import attrs

from ...exceptions import ConfigurationError
from ...rules.line import LinePolicy, latest

__all__ = ["Line"]

# The bot's user id, the ``destination`` of its webhooks (spec/line.md §2): "U" + 32 hex.
_BOT_USER_ID = re.compile(r"U[0-9a-f]{32}")


def _strip_slash(url: object) -> str:
    return str(url).rstrip("/")


def _non_empty(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"LINE {attribute.name} must be a non-empty string")


def _optional(_: object, attribute: attrs.Attribute[str | None], value: str | None) -> None:
    if value is not None and (not isinstance(value, str) or not value):
        raise ConfigurationError(f"LINE {attribute.name} must be a non-empty string or None")


def _policy(_: object, __: object, value: object) -> None:
    if not isinstance(value, LinePolicy):
        raise ConfigurationError(
            "policy must be a LinePolicy, e.g. omnimsg.rules.line.profile("
            f"'line-jp-2023-06-01', plan='standard'), not {type(value).__name__}"
        )


def _lifetime(_: object, __: object, value: object) -> None:
    if type(value) not in (int, float) or not 0 < value < 86_400:  # type: ignore[operator]
        raise ConfigurationError(
            f"LINE reply_token_lifetime must be seconds between 0 and a day, got {value!r}"
        )


def _bot_user_id(_: object, __: object, value: str) -> None:
    if not isinstance(value, str) or not _BOT_USER_ID.fullmatch(value):
        raise ConfigurationError(
            "LINE bot_user_id must be the bot's user id, 'U' and 32 hex digits (the webhooks' "
            f"destination; GET /v2/bot/info answers it as userId), got {value!r}"
        )


@attrs.frozen(kw_only=True)
class Line:
    """A LINE Official Account's Messaging API channel.

    Args:
        bot_user_id: the bot's user id, ``U`` and 32 hex digits: the ``destination`` of its
            webhooks, and the account of its addresses (``GET /v2/bot/info`` answers it).
        channel_access_token: a channel access token (hidden from repr).
        channel_secret: the channel secret: verifies ``x-line-signature`` on webhooks (hidden
            from repr).
        channel_id: the channel id (the console's "Channel ID"), needed only to issue
            channel access tokens.
        base_url: ``https://api.line.me``, or the simulator's URL.
        data_url: ``https://api-data.line.me`` (content and rich-menu images), or the
            simulator's URL; by default the same host as ``base_url`` when that is not LINE's.
        reply_token_lifetime: how long a reply token is used after its event (seconds).
            LINE says only "about a minute" (spec/line.md §3, second-hand): UNVERIFIED, so
            configurable; after it a reply goes as a push.
        policy: the rule profile enforced before sending: the country's plans and the one
            in force, the message limits (default: Japan's free Communication plan, 200
            messages a month, :func:`omnimsg.rules.line.latest`; e.g.
            ``omnimsg.rules.line.profile("line-jp-2023-06-01", plan="standard")``).

    Secrets never appear in ``repr``.
    """

    bot_user_id: str = attrs.field(validator=_bot_user_id)
    channel_access_token: str = attrs.field(repr=False, validator=_non_empty)
    channel_secret: str | None = attrs.field(default=None, repr=False, validator=_optional)
    channel_id: str | None = attrs.field(default=None, validator=_optional)
    base_url: str = attrs.field(default="https://api.line.me", converter=_strip_slash)
    data_url: str | None = attrs.field(default=None, validator=_optional)
    reply_token_lifetime: float = attrs.field(default=60.0, validator=_lifetime)
    policy: LinePolicy = attrs.field(factory=latest, validator=_policy, repr=False)

    platform = "line"

    @property
    def account(self) -> str:
        """The account id used in addresses (the bot's user id)."""
        return self.bot_user_id

    def url(self, path: str) -> str:
        """The full ``api.line.me`` URL for ``path`` (leading slash included, e.g.
        ``/v2/bot/message/push``)."""
        return f"{self.base_url}{path}"

    def data(self, path: str) -> str:
        """The full ``api-data.line.me`` URL for ``path`` (content, rich-menu images)."""
        if self.data_url is not None:
            return f"{_strip_slash(self.data_url)}{path}"
        if self.base_url == "https://api.line.me":
            return f"https://api-data.line.me{path}"
        return f"{self.base_url}{path}"  # the simulator serves both hosts on one port

    def auth_headers(self) -> tuple[tuple[str, str], ...]:
        """The Bearer header with the channel access token (never logged)."""
        return (("authorization", f"Bearer {self.channel_access_token}"),)
