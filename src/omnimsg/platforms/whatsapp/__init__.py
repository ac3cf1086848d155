"""WhatsApp Business Platform (Cloud API) adapter. Facts: ``spec/whatsapp.md``."""

from .channel import WhatsApp

__all__ = ["WhatsApp"]
