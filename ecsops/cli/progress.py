"""Human progress on stderr: transitions and handler messages, timestamped, plain when not a TTY."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from store.models import RunRecord


class StderrReporter:
    """The engine's Reporter for the command line."""

    def __init__(self, stream: TextIO | None = None, quiet: bool = False) -> None:
        self._stream = stream or sys.stderr
        self._quiet = quiet
        self._started = time.monotonic()

    def _write(self, text: str) -> None:
        if self._quiet:
            return
        elapsed = time.monotonic() - self._started
        self._stream.write(f"[{elapsed:7.1f}s] {text}\n")
        self._stream.flush()

    def transition(self, run: RunRecord, source: str, dest: str, trigger: str, item: str | None) -> None:
        subject = f"{item}: " if item else ""
        self._write(f"{subject}{source} -> {dest} ({trigger})")

    def progress(self, run: RunRecord, message: str) -> None:
        self._write(message)

    def note(self, message: str) -> None:
        self._write(message)
