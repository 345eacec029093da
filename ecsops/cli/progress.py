"""Human progress on stderr: transitions and handler messages, stamped on the run's clock, 80 columns wide."""

from __future__ import annotations

import sys
import textwrap
import time
from typing import Protocol, TextIO

from store.models import RunRecord

WIDTH = 80  # a CI log's usual width: no line is longer
PREFIX_WIDTH = len("[ 1234.5s] ")


class _Clock(Protocol):
    def now(self) -> float: ...


class _Monotonic:
    def now(self) -> float:
        return time.monotonic()


class StderrReporter:
    """The engine's Reporter for the command line.

    The `[  12.3s]` stamp is the time since this process started reporting, read from the same clock as the
    run's deadlines and the wait's `elapsed`/`left` (the simulator's virtual clock under ECSOPS_CLOCK=sim), so
    the two always agree. Longer lines wrap, indented under the stamp.
    """

    def __init__(self, stream: TextIO | None = None, quiet: bool = False, clock: _Clock | None = None) -> None:
        self._stream = stream or sys.stderr
        self._quiet = quiet
        self._clock: _Clock = clock or _Monotonic()
        self._started = self._read_clock(0.0)
        self._last = 0.0
        self._header: str | None = None

    def header(self, text: str) -> None:
        """A line printed just before the first event: a run refused before it was recorded prints none."""
        self._header = text

    def _read_clock(self, fallback: float) -> float:
        try:
            return float(self._clock.now())
        except OSError:
            return fallback  # a clock endpoint that stopped answering must not stop the run

    def _write(self, text: str) -> None:
        if self._quiet:
            return
        if self._header is not None:
            header, self._header = self._header, None
            self._write(header)
        self._last = max(self._last, self._read_clock(self._started + self._last) - self._started)
        stamp = f"[{self._last:7.1f}s] "
        lines: list[str] = []
        for paragraph in text.splitlines() or [""]:
            lines += textwrap.wrap(
                paragraph,
                width=WIDTH - len(stamp),
                subsequent_indent="    ",
                break_on_hyphens=False,
                drop_whitespace=True,
            ) or [""]
        indent = " " * len(stamp)
        self._stream.write("".join(f"{stamp if i == 0 else indent}{line}\n" for i, line in enumerate(lines)))
        self._stream.flush()

    def transition(self, run: RunRecord, source: str, dest: str, trigger: str, item: str | None) -> None:
        subject = f"{item}: " if item else ""
        self._write(f"{subject}{source} -> {dest} ({trigger})")

    def progress(self, run: RunRecord, message: str) -> None:
        self._write(message)

    def note(self, message: str) -> None:
        self._write(message)
