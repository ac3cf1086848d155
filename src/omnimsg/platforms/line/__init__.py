"""LINE Messaging API (a LINE Official Account) on the platform seam (spec/line.md)."""

from .channel import Line

__all__ = ["Line"]
