"""What both faces share: channel lookup and the flow for every public operation."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from typing import Literal

import attrs

from ._core.effects import NOW, Flow
from ._core.retry import RetryPolicy
from ._types import JSONObject, Platform
from .claims import Claim, new_token
from .clock import Clock
from .exceptions import ConfigurationError, PolicyViolation
from .models.content import Button, Content, LinkButton
from .models.events import Event
from .models.options import SendOptions
from .models.refs import Address
from .models.results import (
    AppInfo,
    MediaInfo,
    MessengerProfile,
    SendResult,
    TemplateInfo,
    UserProfile,
    Window,
)
from .platforms import BUILTIN, Adapter, Channel
from .platforms.messenger import Messenger
from .platforms.messenger import flows as fb
from .platforms.messenger.fallbacks import convert as fb_convert
from .platforms.whatsapp import WhatsApp
from .platforms.whatsapp import flows as wa
from .rules import Violation
from .rules.messenger import BadgeReport
from .webhooks import Headers, Receiver, WebhookConfig, WebhookOutcome

__all__ = ["Channel", "Engine"]


def lone_surrogate(value: object, path: str = "") -> str | None:
    """Where in ``value`` (an attrs content model, nested) a string holds a lone surrogate,
    as a dotted path, or ``None``."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path or "value"
        return None
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found = lone_surrogate(item, f"{path}[{i}]")
            if found is not None:
                return found
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            found = lone_surrogate(key, path) or lone_surrogate(item, f"{path}[{key!r}]")
            if found is not None:
                return found
        return None
    if attrs.has(type(value)):
        for field in attrs.fields(type(value)):  # type: ignore[arg-type]  # attrs.has checked
            found = lone_surrogate(getattr(value, field.name), f"{path}.{field.name}".lstrip("."))
            if found is not None:
                return found
    return None


class Engine:
    """Holds the configuration and builds flows; knows nothing about I/O."""

    def __init__(
        self,
        channels: Sequence[Channel],
        *,
        clock: Clock,
        retry: RetryPolicy,
        preflight: bool,
        webhook_config: WebhookConfig,
        adapters: Sequence[Adapter] = (),
    ) -> None:
        if not channels:
            raise ConfigurationError("give at least one channel, e.g. channels=[WhatsApp(...)]")
        # The registry in force: the built-in platforms, then the caller's (which may replace).
        self.adapters: dict[str, Adapter] = {**BUILTIN, **{a.platform: a for a in adapters}}
        self.channels: tuple[Channel, ...] = tuple(channels)
        seen: set[tuple[str, str]] = set()
        for ch in self.channels:
            platform = getattr(ch, "platform", None)
            if not isinstance(platform, str) or not isinstance(getattr(ch, "account", None), str):
                raise ConfigurationError(f"not a channel: {ch!r}")
            if platform not in self.adapters:
                raise ConfigurationError(
                    f"no adapter for platform {platform!r}: pass it as adapters=[...]"
                )
            key = (ch.platform, ch.account)
            if key in seen:
                raise ConfigurationError(f"two {ch.platform} channels share account {ch.account!r}")
            seen.add(key)
        self.clock = clock
        self.retry = retry
        self.preflight = preflight
        self.webhook_config = webhook_config
        self.receiver = Receiver(self.channels, webhook_config, self.adapters)

    def channel(self, platform: Platform, account: str | None = None) -> Channel:
        """The channel for ``platform`` (and ``account`` when there are several)."""
        matches = [c for c in self.channels if c.platform == platform]
        if account is not None:
            matches = [c for c in matches if c.account == account]
        if not matches:
            where = f" with account {account!r}" if account else ""
            raise ConfigurationError(f"no {platform} channel{where} is configured")
        if len(matches) > 1:
            raise ConfigurationError(f"several {platform} channels: say which with account=")
        return matches[0]

    def _for(self, to: Address) -> Channel:
        if not isinstance(to, Address):
            raise ConfigurationError(f"send to an omnimsg.Address, not {type(to).__name__}")
        return self.channel(to.platform, to.account)

    # --- unified operations ---

    def _capability(self, ch: Channel, content: Content) -> Violation | None:
        """Refuse, before anything else, a content type the platform has no form for, and
        text no platform can carry.

        Each adapter's capability table names every unified type: ``native``, a declared
        ``fallback`` (the adapter converts it), or ``refused``; a type it does not name is
        refused too, so a new content type is never dropped silently by an old adapter.
        A lone surrogate (``"\\ud800"``, e.g. from text decoded with ``surrogateescape``) has
        no UTF-8 or UTF-16 form, so no request body could carry it (DESIGN §6).
        """
        name = type(content).__name__
        if self.adapters[ch.platform].capabilities.get(name) in ("native", "fallback"):
            where = lone_surrogate(content)
            if where is None:
                return None
            return Violation(
                rule_id="content.unicode",
                platform=ch.platform,
                message=f"{name}.{where} holds a lone surrogate: it is not valid Unicode "
                "text, so no platform can receive it",
                native_code=None,
            )
        return Violation(
            rule_id=f"{ch.platform}.capability",
            platform=ch.platform,
            message=f"{ch.platform} cannot show {name}: it has no native form there and no "
            "declared fallback (see the platform's capability table)",
            native_code=None,
        )

    def send(self, to: Address, content: Content, options: SendOptions) -> Flow[SendResult]:
        """Flow for ``send``."""
        ch = self._for(to)
        refused = self._capability(ch, content)
        if refused is not None:
            raise PolicyViolation([refused])
        now: float = yield NOW
        return (
            yield from self.adapters[ch.platform].send(
                ch,
                to,
                content,
                now=now,
                retry=self.retry,
                preflight=self.preflight,
                options=options,
            )
        )

    def check(
        self, to: Address, content: Content, options: SendOptions
    ) -> Flow[tuple[Violation, ...]]:
        """Flow for ``check``."""
        ch = self._for(to)
        refused = self._capability(ch, content)
        if refused is not None:
            return (refused,)
        now: float = yield NOW
        return (yield from self.adapters[ch.platform].check(ch, to, content, now, options))

    def window(self, to: Address) -> Flow[Window]:
        """Flow for ``window``."""
        ch = self._for(to)
        now: float = yield NOW
        return (yield from self.adapters[ch.platform].window(ch, to, now))

    def handle_webhook(
        self,
        platform: Platform,
        method: str,
        url: str,
        headers: Headers,
        body: bytes,
    ) -> Flow[WebhookOutcome]:
        """Flow for ``webhooks.handle``."""
        return self.receiver.handle(platform, method, url, headers, body)

    def claim_webhook(
        self,
        platform: Platform,
        method: str,
        url: str,
        headers: Headers,
        body: bytes,
        lease: float | None,
    ) -> Flow[tuple[WebhookOutcome, Claim]]:
        """Flow for ``webhooks.claim``: a fresh random token per delivery."""
        token = new_token(secrets.token_hex(12))
        return self.receiver.claim(platform, method, url, headers, body, token=token, lease=lease)

    def settle_webhook(self, claim: Claim, keys: Sequence[str], handled: bool) -> Flow[None]:
        """Flow for ``Receipt.ack`` / ``Receipt.release``."""
        return self.receiver.settle(claim, keys, handled=handled)

    def parse_webhook(
        self,
        platform: Platform,
        headers: Headers,
        body: bytes,
        *,
        url: str = "",
    ) -> list[Event]:
        """``webhooks.parse``: verify and parse only (pure, raises typed errors)."""
        return self.receiver.parse(platform, headers, body, url=url)

    # --- WhatsApp extras ---

    def wa(self, account: str | None) -> WhatsApp:
        """The WhatsApp channel (``client.whatsapp``: that platform's own operations)."""
        ch = self.channel("whatsapp", account)
        if not isinstance(ch, WhatsApp):
            raise ConfigurationError(f"the whatsapp channel is not a WhatsApp(...): {ch!r}")
        return ch

    def wa_mark_read(self, message_id: str, typing: bool, account: str | None) -> Flow[bool]:
        """Flow for ``whatsapp.mark_read``."""
        return wa.mark_read(self.wa(account), message_id, typing=typing, retry=self.retry)

    def wa_upload(
        self, data: bytes, mime_type: str, filename: str, account: str | None
    ) -> Flow[str]:
        """Flow for ``whatsapp.upload_media``."""
        return wa.upload_media(self.wa(account), data, mime_type, filename, retry=self.retry)

    def wa_media_info(self, media_id: str, account: str | None) -> Flow[MediaInfo]:
        """Flow for ``whatsapp.media_info``."""
        return wa.media_info(self.wa(account), media_id, retry=self.retry)

    def wa_download(self, media_id: str, account: str | None) -> Flow[bytes]:
        """Flow for ``whatsapp.download_media``."""
        return wa.download_media(self.wa(account), media_id, retry=self.retry)

    def wa_delete_media(self, media_id: str, account: str | None) -> Flow[bool]:
        """Flow for ``whatsapp.delete_media``."""
        return wa.delete_media(self.wa(account), media_id, retry=self.retry)

    def wa_create_template(
        self,
        name: str,
        language: str,
        category: str,
        components: Sequence[JSONObject],
        parameter_format: str | None,
        account: str | None,
    ) -> Flow[TemplateInfo]:
        """Flow for ``whatsapp.templates.create``."""
        return wa.create_template(
            self.wa(account),
            name=name,
            language=language,
            category=category,
            components=components,
            parameter_format=parameter_format,
            retry=self.retry,
        )

    def wa_list_templates(
        self, status: str | None, account: str | None
    ) -> Flow[list[TemplateInfo]]:
        """Flow for ``whatsapp.templates.list``."""
        return wa.list_templates(self.wa(account), status=status, retry=self.retry)

    def wa_delete_template(
        self, name: str, template_id: str | None, account: str | None
    ) -> Flow[bool]:
        """Flow for ``whatsapp.templates.delete``."""
        return wa.delete_template(
            self.wa(account), name=name, template_id=template_id, retry=self.retry
        )

    # --- Messenger extras ---

    def fb(self, account: str | None) -> Messenger:
        """The Messenger channel (``client.messenger``: that platform's own operations)."""
        ch = self.channel("messenger", account)
        if not isinstance(ch, Messenger):
            raise ConfigurationError(f"the messenger channel is not a Messenger(...): {ch!r}")
        return ch

    def fb_to(self, to: Address) -> Messenger:
        """The Messenger channel of a customer's address."""
        if not isinstance(to, Address) or to.platform != "messenger":
            raise ConfigurationError(
                f"give a Messenger customer, Address('messenger', psid): {to!r}"
            )
        return self.fb(to.account)

    def fb_sender_action(
        self, to: Address, action: Literal["typing_on", "typing_off", "mark_seen"]
    ) -> Flow[None]:
        """Flow for ``messenger.typing_on``, ``typing_off`` and ``mark_seen``."""
        return fb.sender_action(self.fb_to(to), to.user, action, retry=self.retry)

    def fb_reply_to_comment(
        self, comment_id: str, content: Content, metadata: str | None, account: str | None
    ) -> Flow[SendResult]:
        """Flow for ``messenger.reply_to_comment``: capabilities, then the private reply."""
        ch = self.fb(account)
        refused = self._capability(ch, content)
        if refused is not None:
            raise PolicyViolation([refused])
        now: float = yield NOW
        return (
            yield from fb.reply_to_comment(
                ch,
                comment_id,
                fb_convert(content),
                now=now,
                retry=self.retry,
                preflight=self.preflight,
                metadata=metadata,
            )
        )

    def fb_user_profile(self, to: Address, fields: Sequence[str]) -> Flow[UserProfile]:
        """Flow for ``messenger.user_profile``."""
        return fb.user_profile(self.fb_to(to), to.user, fields, retry=self.retry)

    def fb_upload(
        self,
        url: str,
        kind: Literal["image", "video", "audio", "file"],
        reusable: bool,
        account: str | None,
    ) -> Flow[str]:
        """Flow for ``messenger.upload_attachment``."""
        return fb.upload_attachment(
            self.fb(account), url, kind, reusable=reusable, retry=self.retry
        )

    def fb_set_profile(
        self,
        *,
        greeting: str | Mapping[str, str] | None,
        get_started: str | None,
        persistent_menu: Sequence[Button | LinkButton] | None,
        composer_input_disabled: bool,
        ice_breakers: Sequence[Button] | None,
        account: str | None,
    ) -> Flow[bool]:
        """Flow for ``messenger.profile.set``."""
        return fb.set_profile(
            self.fb(account),
            greeting=greeting,
            get_started=get_started,
            persistent_menu=persistent_menu,
            composer_input_disabled=composer_input_disabled,
            ice_breakers=ice_breakers,
            retry=self.retry,
        )

    def fb_get_profile(self, fields: Sequence[str], account: str | None) -> Flow[MessengerProfile]:
        """Flow for ``messenger.profile.get``."""
        return fb.get_profile(self.fb(account), fields, retry=self.retry)

    def fb_delete_profile(self, fields: Sequence[str], account: str | None) -> Flow[bool]:
        """Flow for ``messenger.profile.delete``."""
        return fb.delete_profile(self.fb(account), fields, retry=self.retry)

    def fb_thread_control(
        self,
        action: Literal["pass", "take", "request"],
        to: Address,
        target_app_id: str | None,
        metadata: str | None,
    ) -> Flow[bool]:
        """Flow for ``messenger.pass_thread_control`` and its siblings."""
        return fb.thread_control(
            self.fb_to(to),
            action,
            to.user,
            target_app_id=target_app_id,
            metadata=metadata,
            retry=self.retry,
        )

    def fb_thread_owner(self, to: Address) -> Flow[str | None]:
        """Flow for ``messenger.thread_owner``."""
        return fb.thread_owner(self.fb_to(to), to.user, retry=self.retry)

    def fb_secondary_receivers(self, account: str | None) -> Flow[list[AppInfo]]:
        """Flow for ``messenger.secondary_receivers``."""
        return fb.secondary_receivers(self.fb(account), retry=self.retry)

    def fb_badge(self, account: str | None) -> Flow[BadgeReport]:
        """Flow for ``messenger.badge``: the log in the store, at the clock's now."""
        ch = self.fb(account)
        now: float = yield NOW
        return (yield from fb.badge(ch, now))
