"""Time, injected.

Nothing in omnimsg or omnimsg_sim reads the wall clock except this module. Everything that
needs "now" (messaging windows, webhook freshness, store TTLs, retry sleeps, the simulator's
virtual clock) receives a :class:`Clock`. Tests use :class:`FakeClock` and move time with
:meth:`FakeClock.advance`, so "25 hours later" costs nothing.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "FakeClock", "FollowingClock", "OffsetClock", "SystemClock", "to_datetime"]


def to_datetime(timestamp: float) -> datetime:
    """Convert Unix seconds to a timezone-aware UTC :class:`~datetime.datetime`."""
    return datetime.fromtimestamp(timestamp, tz=UTC)


@runtime_checkable
class Clock(Protocol):
    """What omnimsg needs to know about time.

    ``time()`` is Unix seconds (float); ``now()`` the same instant as an aware UTC datetime.
    ``sleep``/``asleep`` wait (a fake clock advances instead of waiting).
    """

    def time(self) -> float:
        """Return the current Unix time in seconds."""
        ...

    def now(self) -> datetime:
        """Return the current time as an aware UTC datetime."""
        ...

    def sleep(self, seconds: float) -> None:
        """Block for ``seconds``."""
        ...

    async def asleep(self, seconds: float) -> None:
        """Wait for ``seconds`` without blocking the event loop."""
        ...


@runtime_checkable
class FollowingClock(Clock, Protocol):
    """A clock that follows a time kept elsewhere (another process's virtual clock).

    omnimsg calls :meth:`refresh` (sync face) or :meth:`arefresh` (async face) once at the
    start of every operation, then reads :meth:`time` as often as it needs.
    """

    def refresh(self) -> None:
        """Fetch the current time from its source (blocking)."""
        ...

    async def arefresh(self) -> None:
        """Fetch the current time from its source without blocking the event loop."""
        ...


class SystemClock:
    """The real clock: wall time, real sleeps."""

    def time(self) -> float:
        """Return the current Unix time in seconds."""
        return time.time()

    def now(self) -> datetime:
        """Return the current time as an aware UTC datetime."""
        return datetime.now(tz=UTC)

    def sleep(self, seconds: float) -> None:
        """Block for ``seconds``."""
        if seconds > 0:
            time.sleep(seconds)

    async def asleep(self, seconds: float) -> None:
        """Wait for ``seconds`` without blocking the event loop."""
        await asyncio.sleep(max(seconds, 0.0))

    def __repr__(self) -> str:
        return "SystemClock()"


class FakeClock:
    """A clock that only moves when told to.

    ``sleep`` and ``asleep`` advance the clock instead of waiting, so retry back-offs and
    scheduled work run instantly and deterministically.

    Args:
        start: the initial Unix time (default: 2026-01-01T00:00:00Z).
    """

    DEFAULT_START = 1_767_225_600.0  # 2026-01-01T00:00:00Z

    def __init__(self, start: float | datetime = DEFAULT_START) -> None:
        self._now = start.timestamp() if isinstance(start, datetime) else float(start)

    def time(self) -> float:
        """Return the fake current Unix time in seconds."""
        return self._now

    def now(self) -> datetime:
        """Return the fake current time as an aware UTC datetime."""
        return to_datetime(self._now)

    def advance(self, seconds: float) -> float:
        """Move time forward by ``seconds`` (never backwards) and return the new time."""
        if seconds < 0:
            from .exceptions import ConfigurationError

            raise ConfigurationError(f"a clock cannot go backwards (advance({seconds}))")
        self._now += seconds
        return self._now

    def rewind(self, timestamp: float | datetime) -> None:
        """Jump to ``timestamp``, even backwards (the simulator's reset uses this)."""
        self._now = timestamp.timestamp() if isinstance(timestamp, datetime) else float(timestamp)

    def set(self, timestamp: float | datetime) -> None:
        """Jump to ``timestamp`` (must not be in the past)."""
        target = timestamp.timestamp() if isinstance(timestamp, datetime) else float(timestamp)
        self.advance(target - self._now)

    def sleep(self, seconds: float) -> None:
        """Advance instead of blocking."""
        if seconds > 0:
            self._now += seconds

    async def asleep(self, seconds: float) -> None:
        """Advance instead of waiting; still yields to the loop once."""
        if seconds > 0:
            self._now += seconds
        await asyncio.sleep(0)

    def __repr__(self) -> str:
        return f"FakeClock({self.now().isoformat()})"


class OffsetClock:
    """Real time, shifted forward by :meth:`advance` (the simulator's "running" mode).

    Time flows as on the wall clock; ``advance(3600)`` jumps an hour ahead and stays ahead.
    """

    def __init__(self, base: Clock | None = None) -> None:
        self._base = base or SystemClock()
        self._offset = 0.0

    def time(self) -> float:
        """Return the shifted current Unix time."""
        return self._base.time() + self._offset

    def now(self) -> datetime:
        """Return the shifted current time as an aware UTC datetime."""
        return to_datetime(self.time())

    def advance(self, seconds: float) -> float:
        """Jump forward by ``seconds`` and return the new time."""
        if seconds < 0:
            from .exceptions import ConfigurationError

            raise ConfigurationError(f"a clock cannot go backwards (advance({seconds}))")
        self._offset += seconds
        return self.time()

    def sleep(self, seconds: float) -> None:
        """Block for ``seconds`` of real time."""
        self._base.sleep(seconds)

    async def asleep(self, seconds: float) -> None:
        """Wait for ``seconds`` of real time."""
        await self._base.asleep(seconds)

    def __repr__(self) -> str:
        return f"OffsetClock(+{self._offset:g}s)"
