"""Who a message goes to or comes from."""

from __future__ import annotations

import attrs

from .._types import Platform

__all__ = ["Address"]


@attrs.frozen(slots=True)
class Address:
    """A customer on one platform, as seen by one business account.

    Args:
        platform: ``"whatsapp"``, ``"line"``, ``"messenger"`` or ``"wechat"``.
        user: the platform's id for the customer (WhatsApp: phone/``wa_id`` or BSUID such as
            ``"US.1349..."``; LINE: user id; Messenger: PSID; WeChat: OpenID).
        account: the business account the conversation belongs to (WhatsApp: phone-number id).
            ``None`` means "the only channel of that platform"; the client resolves it.
    """

    platform: Platform
    user: str
    account: str | None = None

    def key(self) -> str:
        """A stable string key: ``platform:account:user``."""
        return f"{self.platform}:{self.account or ''}:{self.user}"

    def __str__(self) -> str:
        return f"{self.platform}:{self.user}" + (f"@{self.account}" if self.account else "")
