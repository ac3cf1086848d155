"""One adapter per platform: wire mapping out and in, error mapping, capabilities."""

from .whatsapp import WhatsApp

__all__ = ["WhatsApp"]
