"""How a message is sent, beside what it says: one value the clients pass to every adapter."""

from __future__ import annotations

import attrs

__all__ = ["SendOptions"]


@attrs.frozen(kw_only=True, slots=True)
class SendOptions:
    """The options of one send (``client.send(..., reply_to=..., tag=...)``).

    Attributes:
        reply_to: quote this earlier message id (WhatsApp ``context``, Messenger ``reply_to``).
        callback_data: your own string, echoed back in status webhooks (WhatsApp).
        tag: a message tag that allows the send outside the standard window (Messenger:
            ``HUMAN_AGENT``...); platforms without tags refuse one with ``ConfigurationError``.
        human: the message was written by a person (a support agent), not by automation:
            Messenger's ``HUMAN_AGENT`` tag allows only those.
    """

    reply_to: str | None = None
    callback_data: str | None = None
    tag: str | None = None
    human: bool = False


DEFAULT = SendOptions()
"""No options: the common case, shared."""
