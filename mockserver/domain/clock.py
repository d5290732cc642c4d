"""The mock's clock: real time scaled by a speed, plus explicit advances; tests drive it by hand."""

from __future__ import annotations

import time

from jobspec.timestamps import LATEST_MS

LATEST = LATEST_MS / 1000  # the clock stops here: later times would need five-digit years


class Clock:
    """Seconds since the epoch as the mock sees them."""

    def __init__(self, *, speed: float = 1.0, manual: bool = False, start: float | None = None) -> None:
        self.speed = speed
        self.manual = manual
        self._origin_real = time.time()
        self._origin = self._origin_real if start is None else start  # a session's clock starts at its server's time
        self._offset = 0.0

    def now(self) -> float:
        """The current mock time; a manual clock moves only when advanced."""
        elapsed = 0.0 if self.manual else (time.time() - self._origin_real) * self.speed
        return min(self._origin + elapsed + self._offset, LATEST)

    def now_ms(self) -> int:
        """The current mock time in whole milliseconds."""
        return round(self.now() * 1000)

    def advance(self, seconds: float) -> None:
        """Move the clock forward by `seconds` of mock time; ValueError for a step back or past LATEST."""
        if not 0 <= seconds <= self.room():
            raise ValueError(f"the clock moves forward only, and {self.room():.3f} s more at most")
        self._offset += seconds

    def room(self) -> float:
        """How many seconds the clock can still advance before LATEST."""
        return LATEST - self.now()

    def reset(self) -> None:
        """Forget every advance and restart the scaled real time from now."""
        start = self.now() - self._offset
        self._origin_real, self._origin, self._offset = time.time(), start, 0.0
