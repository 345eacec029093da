"""Ctrl-C, SIGTERM and SIGHUP while a run is driven: stop resumably after the current step; a second one at once."""

from __future__ import annotations

import os
import signal
import threading
from types import FrameType
from typing import Any

from ecsops.cli import exit_codes
from ecsops.cli.progress import StderrReporter

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class StopOnSignals:
    """First Ctrl-C/SIGTERM/SIGHUP: finish the step in progress, then stop resumably. Any second: exit 130 now.

    A second signal ends the process at once, as SIGKILL would: the run keeps its last checkpoint and a
    step in flight is reconciled on resume (a dead holder's lock is taken over at once on this host).
    After a first signal the handlers are never given back to the default action (exit 143 or 129):
    on leaving, the signals are blocked, and one already pending makes the exit code 130.
    """

    def __init__(self, stop: threading.Event, reporter: StderrReporter, run_id: str) -> None:
        self.stop = stop
        self.reporter = reporter
        self.run_id = run_id
        self._signalled = False
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self._signalled:
            os.write(2, f"received {name} again: stopped at once; `ecsops resume {self.run_id}` continues\n".encode())
            os._exit(exit_codes.INTERRUPTED)
        self._signalled = True
        # Setting the event (it takes a lock the interrupted code may hold) and writing to stderr (which may be
        # mid-write) are not safe inside a signal handler: a thread does both as soon as the handler returns.
        threading.Thread(target=self._stop_now, args=(name,), daemon=True).start()

    def _stop_now(self, name: str) -> None:
        self.stop.set()
        self.reporter.note(f"received {name}: stopping after the current step (resumable)")

    def __enter__(self) -> StopOnSignals:
        self._previous = {sig: signal.signal(sig, self._handle) for sig in STOP_SIGNALS}
        return self

    def __exit__(self, *exc: object) -> None:
        if self._signalled:
            # Python gives signals back to their default action while it shuts down: hold them instead.
            signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
            return
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def exit_code(self, code: int) -> int:
        """code, unless a second signal is waiting: then 130."""
        if self._signalled and set(STOP_SIGNALS) & signal.sigpending():
            return exit_codes.INTERRUPTED
        return code
