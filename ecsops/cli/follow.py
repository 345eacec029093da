"""`ecsops status RUN_ID --follow`: a run that another process or machine drives, followed from the store alone.

Its transitions and what its driver said (the run's journal) are printed as deploy prints them, oldest first, then
whatever is recorded next, every --interval seconds, until the run ends (its exit code), stops (paused, interrupted:
its exit code too) or its driver is gone (130, with the command that resumes it).
"""

from __future__ import annotations

import math
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TextIO

from ecsops.cli import exit_codes
from ecsops.cli.documents import lock_document
from ecsops.cli.progress import StderrReporter
from ecsops.cli.sim_clock import lease_now
from store.models import RunMessage, RunRecord, TransitionRecord
from store.reader import RunReader

DEFAULT_INTERVAL = 2.0
MIN_INTERVAL = 0.05
MAX_INTERVAL = 3600.0
# What the journal holds that deploy never printed: marks on the run's timeline (kind "stage").
UNPRINTED_KINDS = frozenset({"stage"})
# A run its driver stopped without ending it: resumable, and its own exit code says how it stopped.
STOPPED_STATUSES = frozenset({"interrupted", "paused"})


def parse_interval(text: str) -> float:
    """--interval: seconds between two reads of the store, MIN_INTERVAL to MAX_INTERVAL; ValueError saying so."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or not MIN_INTERVAL <= seconds <= MAX_INTERVAL:
        raise ValueError(f"--interval takes seconds from {MIN_INTERVAL:g} to {MAX_INTERVAL:g}, not {text!r}")
    return seconds


@dataclass(frozen=True)
class Followed:
    """How following ended: the run as last read, the exit code, and (driver gone) the line that said so."""

    run: RunRecord
    exit_code: int
    gone: str | None = None


class _RecordTime:
    """The reporter's clock: the instant of the record being printed, so a line is stamped with the time since the
    run started at which it was recorded (`[  12.3s]`), as the driver stamped it when it printed it."""

    def __init__(self, at: float) -> None:
        self.at = at

    def now(self) -> float:
        return self.at


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


class RunFollower:
    """Reads one run's new transitions and journal lines from the store and prints them in deploy's format.

    Each poll reads the run (one read), its transitions only when its version moved (a checkpoint moves it), its
    journal lines after the last one printed, and its lock only when nothing new was recorded (is its driver still
    there?). Transitions are read before journal lines: a line said before a transition is written no later than
    the transition, so none printed afterwards belongs before one already printed.
    """

    def __init__(
        self,
        reader: RunReader,
        run: RunRecord,
        *,
        stream: TextIO | None = None,
        lease_clock: Callable[[], float] = lease_now,
    ) -> None:
        self.reader = reader
        self.run = run
        self._lease_clock = lease_clock
        self._time = _RecordTime(_epoch(run.started_at))
        self.reporter = StderrReporter(stream or sys.stderr, clock=self._time)
        self._transition_seq = 0
        self._message_seq = 0
        self._version: int | None = None

    def header(self) -> None:
        run = self.run
        self.reporter.note(f"run {run.run_id}: {run.operation} {run.target}")  # as its driver's first line

    def poll(self) -> bool:
        """Read and print what was recorded since the last poll; True if anything was."""
        run = self.reader.get_run(self.run.run_id)
        transitions: list[TransitionRecord] = []
        if run.version != self._version:
            transitions = list(self.reader.transitions(run.run_id, self._transition_seq))
        messages = list(self.reader.messages(run.run_id, self._message_seq))
        self.run, self._version = run, run.version
        if transitions:
            self._transition_seq = transitions[-1].seq
        if messages:
            self._message_seq = messages[-1].seq
        self._print(transitions, messages)
        return bool(transitions or messages)

    def _print(self, transitions: list[TransitionRecord], messages: list[RunMessage]) -> None:
        records: list[tuple[float, int, int, TransitionRecord | RunMessage]] = [
            (_epoch(m.at), 0, m.seq, m) for m in messages if m.kind not in UNPRINTED_KINDS
        ]
        records += [(_epoch(t.at), 1, t.seq, t) for t in transitions]
        for at, _, _, record in sorted(records, key=lambda entry: entry[:3]):
            self._time.at = at
            if isinstance(record, TransitionRecord):
                self.reporter.transition(self.run, record.source, record.dest, record.trigger, record.item)
            else:
                self.reporter.progress(self.run, record.text)

    def driver_gone(self) -> str | None:
        """Why the run's driver is gone (its process ended on this host, its lease ran out, its lock is free or
        another run's), or None while it may still drive the run."""
        run = self.run
        lock = self.reader.get_lock(run.target)
        if run.status in STOPPED_STATUSES:
            # The driver recorded that it stopped: only a process that took the lock since (a resume) goes on.
            resuming = lock is not None and lock.run_id == run.run_id and lock.acquired_at is not None and (
                lock.acquired_at > run.updated_at or (lock.owner is not None and _alive(lock.owner))
            )
            return None if resuming else "stopped"
        if lock is not None and lock.run_id not in (None, run.run_id):
            return f"run {lock.run_id} holds {run.target} now"
        document = lock_document(run.run_id, lock, now=self._lease_clock())
        return None if document["next"] == "wait" else str(document["why"])

    def end(self, gone: str) -> Followed:
        """The followed run's outcome, said in one line."""
        run = self.run
        self._time.at = max(self._time.at, _epoch(run.finished_at or run.updated_at))
        if run.finished:
            self.reporter.note(f"run {run.run_id} ended {run.status}" + (f": {run.reason}" if run.reason else ""))
            return Followed(run, exit_codes.exit_code_for(run))
        if gone == "stopped":
            self.reporter.note(_stopped_line(run))
            return Followed(run, exit_codes.exit_code_for(run))
        line = (f"run {run.run_id}: the process that drove it is gone ({gone}); resume it with: "
                f"ecsops resume {run.run_id}")
        self.reporter.note(line)
        return Followed(run, exit_codes.INTERRUPTED, gone=line)


def _alive(owner: str) -> bool:
    from machines.liveness import owner_alive

    return owner_alive(owner) is True


def _stopped_line(run: RunRecord) -> str:
    if run.status == "paused":
        return (f"run {run.run_id} is paused at a deployment lifecycle hook ({run.reason}): `ecsops approve "
                f"{run.run_id}` lets the deployment go on (`--rollback` rolls it back), then `ecsops resume "
                f"{run.run_id}` follows it")
    why = f" ({run.reason})" if run.reason else ""
    return (f"run {run.run_id} stopped in state {run.state}{why}; continue it with: ecsops resume {run.run_id}")


def follow(
    reader: RunReader,
    run: RunRecord,
    *,
    interval: float,
    stream: TextIO | None = None,
    sleep: Callable[[float], None] = time.sleep,
    lease_clock: Callable[[], float] = lease_now,
) -> Followed:
    """Print the run's history, then what is recorded next, until it ends, stops or loses its driver."""
    follower = RunFollower(reader, run, stream=stream, lease_clock=lease_clock)
    follower.header()
    while True:
        seen = follower.poll()
        if follower.run.finished:
            return follower.end("finished")
        if not seen:
            gone = follower.driver_gone()
            if gone is not None:
                # The lock was read after the run: a driver that ended the run meanwhile frees it (SQLite releases
                # it after the final write). Judge again on a fresh read of the run before saying it is gone.
                before = follower.run.version
                if follower.poll() or follower.run.version != before or follower.run.finished:
                    continue
                return follower.end(gone)
        sleep(interval)


@contextmanager
def interrupt_on_sigterm() -> Iterator[None]:
    """SIGTERM ends the follower as Ctrl-C does (exit 130, the run untouched), where a handler can be set."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
