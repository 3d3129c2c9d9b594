"""The mock's clock: what time it is, and how pacing waits.

Streams pace themselves through `Clock.sleep`, token lifetimes and quotas read
`Clock.now`. `SystemClock` is wall time (the dev server); `VirtualClock` jumps
forward instead of waiting, so tests of paced streams and expiry never sleep.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    """What the app needs of a clock."""

    def now(self) -> float:
        """Seconds since the epoch."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait (or pretend to wait) for `seconds`."""
        ...


class SystemClock:
    """Wall-clock time; sleeping really waits.

    With `start`, the clock reads `start` when built and runs at wall speed
    from there (`serve --now`): the world is pinned, the pacing stays real.
    """

    def __init__(self, start: float | None = None) -> None:
        self._offset = 0.0 if start is None else start - time.time()

    def now(self) -> float:
        return time.time() + self._offset

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class VirtualClock:
    """Time that moves only when told to, or when something sleeps on it."""

    def __init__(self, start: float) -> None:
        self._now = float(start)

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the clock does not run backwards")
        self._now += seconds

    async def sleep(self, seconds: float) -> None:
        self.advance(max(0.0, seconds))
        await asyncio.sleep(0)
