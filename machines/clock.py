"""The time source for deadlines and polling waits, so a simulator can make waits virtual."""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch in this clock's time base."""

    def sleep(self, seconds: float, stop: threading.Event) -> None:
        """Wait up to seconds, returning early when stop is set."""


class SystemClock:
    """Real time."""

    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float, stop: threading.Event) -> None:
        if seconds > 0:
            stop.wait(seconds)
