"""The pure retry policy: only safe retries, bounded, honouring Retry-After."""

from __future__ import annotations

import random

import pytest

from omnimsg import ConfigurationError, RetryPolicy


def policy(**kw: object) -> RetryPolicy:
    return RetryPolicy(rng=random.Random(7), **kw)  # type: ignore[arg-type]


def test_sends_are_not_retried_after_a_5xx_or_timeout() -> None:
    p = policy()
    assert p.delay(1, status=500, idempotent=False) is None
    assert p.delay(1, status=None, idempotent=False) is None  # timeout: it may have been sent


def test_safe_cases_are_retried() -> None:
    p = policy()
    assert p.delay(1, status=None, idempotent=False, connect_failed=True) is not None
    assert p.delay(1, status=429, idempotent=False) is not None
    assert p.delay(1, status=400, idempotent=False, rate_limited=True) is not None
    assert p.delay(1, status=503, idempotent=True) is not None
    assert p.delay(1, status=400, idempotent=True) is None


def test_bounded_and_jittered_exponential_backoff() -> None:
    p = policy(max_attempts=4, base_delay=1.0, max_delay=3.0)
    delays = [p.delay(a, status=429, idempotent=False) for a in (1, 2, 3)]
    assert all(d is not None for d in delays)
    assert delays[0] <= 1.0 and delays[1] <= 2.0 and delays[2] <= 3.0  # type: ignore[operator]
    assert p.delay(4, status=429, idempotent=False) is None


def test_retry_after_is_honoured_up_to_the_cap() -> None:
    p = policy(max_delay=30)
    assert p.delay(1, status=429, idempotent=False, retry_after=12) == 12
    assert p.delay(1, status=429, idempotent=False, retry_after=300) is None


def test_never_and_validation() -> None:
    assert RetryPolicy.never().delay(1, status=429, idempotent=True) is None
    with pytest.raises(ConfigurationError):
        RetryPolicy(max_attempts=0)
