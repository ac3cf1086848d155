"""Facebook Messenger Platform adapter (a Facebook Page). Facts: ``spec/messenger.md``."""

from .channel import PAGE_INBOX_APP_ID, Messenger

__all__ = ["PAGE_INBOX_APP_ID", "Messenger"]
