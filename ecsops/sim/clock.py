"""Virtual clock: epoch seconds that move only when the simulator is told to move them."""

from __future__ import annotations

import time
from datetime import UTC, datetime


class VirtualClock:
    """Monotonic virtual epoch time; never sleeps, never goes backwards unless reset."""

    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else start

    def now(self) -> float:
        return self._now

    def reset(self, start: float) -> None:
        """Jump to `start`, even backwards (only used when a fresh account is seeded)."""
        self._now = start

    def move_to(self, when: float) -> None:
        self._now = max(self._now, when)

    def as_datetime(self, when: float | None = None) -> datetime:
        return datetime.fromtimestamp(self._now if when is None else when, tz=UTC)
