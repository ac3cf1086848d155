"""A pure retry policy: it decides, the drivers sleep.

Sends are retried only when that is safe: a 429 or a rate-limit error means the platform did
not act, and a connection that never opened means nothing was sent. A 5xx or a timeout after
a send may have been acted on, so those are retried only for idempotent requests (reads,
deletes, LINE pushes carrying ``X-Line-Retry-Key``). Never a silent double send.
"""

from __future__ import annotations

import random

import attrs

from ..exceptions import ConfigurationError

__all__ = ["RetryPolicy"]


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """Bounded exponential back-off with full jitter, honouring ``Retry-After``.

    Args:
        max_attempts: total attempts, the first included (1 disables retries).
        base_delay: first back-off in seconds, doubled each attempt.
        max_delay: cap for one back-off (and for an honoured ``Retry-After``).
        rng: the source of jitter; inject a seeded :class:`random.Random` for determinism.
    """

    max_attempts: int = 3
    base_delay: float = 0.5
    max_delay: float = 30.0
    rng: random.Random = attrs.field(factory=random.Random, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        if self.max_attempts < 1 or self.base_delay < 0 or self.max_delay < 0:
            raise ConfigurationError("RetryPolicy needs max_attempts >= 1 and non-negative delays")

    def delay(
        self,
        attempt: int,
        *,
        status: int | None,
        idempotent: bool,
        retry_after: float | None = None,
        connect_failed: bool = False,
        rate_limited: bool = False,
    ) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or ``None`` to give up.

        ``attempt`` counts from 1. ``status`` is ``None`` when there was no HTTP answer.
        """
        if attempt >= self.max_attempts:
            return None
        safe = (
            connect_failed
            or rate_limited
            or status == 429
            or (idempotent and (status is None or status >= 500))
        )
        if not safe:
            return None
        if retry_after is not None:
            if retry_after > self.max_delay:
                return None  # waiting that long is the caller's decision, not ours
            return max(0.0, retry_after)
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return self.rng.uniform(0, ceiling)

    @classmethod
    def never(cls) -> RetryPolicy:
        """A policy that never retries."""
        return cls(max_attempts=1)
