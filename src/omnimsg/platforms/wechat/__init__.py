"""WeChat Official Account (a Service Account) on the platform seam (spec/wechat.md)."""

from .channel import WeChat

__all__ = ["WeChat"]
