"""Wires store, engine, clock, progress and signals together to start or resume a run from the CLI."""

from __future__ import annotations

import json
import math
import os
import secrets
import signal
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from types import FrameType
from typing import Any, cast

import ecsops
from ecsops.cli import exit_codes
from ecsops.cli.documents import run_document
from ecsops.cli.identity import ci_identity, started_by
from ecsops.cli.progress import StderrReporter
from ecsops.cli.render import render_status
from ecsops.cli.sim_clock import lease_now
from machines.clock import Clock, SystemClock
from machines.durations import format_duration
from machines.engine import DEFAULT_LEASE_SECONDS, Engine
from machines.errors import LostLock, RunFinished, VersionMismatch
from machines.liveness import owner_alive
from machines.operation import OperationSpec
from machines.steps import ErrorKind
from store.base import RunStore
from store.errors import LockHeldError, LockLostError, StoreError, StoreIntegrityError, StoreWriteError
from store.models import RunRecord

LEASE_ENV = "ECSOPS_LOCK_LEASE_SECONDS"


def new_run_id(operation: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    return f"{operation}-{stamp}-{secrets.token_hex(3)}"


def _classify_error(exc: BaseException) -> tuple[ErrorKind, dict[str, Any] | None]:
    from ecsops.aws.errors import classify_error

    kind, record = classify_error(exc)
    return cast("ErrorKind", kind), record


def _clock() -> Clock | None:
    from ecsops.cli.sim_clock import clock_from_environment

    return clock_from_environment()  # type: ignore[return-value]


def run_clock() -> Clock:
    """The time runs keep their deadlines and leases in: the simulator's under ECSOPS_CLOCK=sim, else the
    system's (ValueError when ECSOPS_CLOCK=sim has no simulator to ask)."""
    return _clock() or SystemClock()


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class _StopOnSignals:
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

    def __enter__(self) -> _StopOnSignals:
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


class LeaseSettingError(ValueError):
    """ECSOPS_LOCK_LEASE_SECONDS is not a positive number of seconds."""


def lease_seconds() -> float:
    raw = os.environ.get(LEASE_ENV)
    if raw is None:
        return DEFAULT_LEASE_SECONDS
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise LeaseSettingError(f"{LEASE_ENV}={raw!r}: expected a number of seconds above 0 (default 300)")
    return value


def make_engine(
    store: RunStore, reporter: StderrReporter, stop: threading.Event, clock: Clock | None = None
) -> Engine:
    return Engine(
        store,
        clock=clock or _clock(),
        reporter=reporter,
        classify_error=_classify_error,
        lease_seconds=lease_seconds(),
        stop=stop,
    )


def _reporter_and_engine(store: RunStore, stop: threading.Event, quiet: bool) -> tuple[StderrReporter, Engine]:
    """One clock for both: the progress stamps and the run's deadlines and elapsed times agree."""
    clock = run_clock()
    reporter = StderrReporter(quiet=quiet, clock=clock)
    return reporter, make_engine(store, reporter, stop, clock)


def report_run(store: RunStore, run: RunRecord, output: str) -> int:
    """Print the run's outcome (JSON on stdout, or text) and return its exit code."""
    document = run_document(store, run)
    if output == "json":
        sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")
    else:
        sys.stdout.write(render_status(document) + "\n")
    # What to do next is for a person, whatever the output format (a CI log shows stderr).
    hint = _hint(run)
    if hint:
        sys.stderr.write(hint + "\n")
    return exit_codes.exit_code_for(run)


def already_ended(run: RunRecord, outcome: str) -> str:
    """Why a finished run is not driven again: an abandoned run says who gave it up and why."""
    if run.status == "abandoned":
        return f"run {run.run_id} was abandoned (reason: {run.reason or 'none given'}); nothing was done"
    return f"run {run.run_id} already ended ({run.status}); {outcome}"


def _hint(run: RunRecord) -> str | None:
    if run.status == "interrupted":
        return f"run {run.run_id} stopped in state {run.state}; continue it with: ecsops resume {run.run_id}"
    if run.status == "paused":
        return (f"run {run.run_id} is paused at a deployment lifecycle hook: `ecsops approve {run.run_id}` lets the "
                f"deployment go on (`--rollback` rolls it back), then `ecsops resume {run.run_id}` follows it")
    if run.status == "rollback_failed":
        return f"run {run.run_id}: the rollback failed; the service needs a person (see reason above)"
    return None


def locked_message(exc: LockHeldError, store: RunStore, *, abandoning: bool = False) -> str:
    """Why a run could not take its target, and only advice that will not itself be refused."""
    holder, target = exc.holder_run_id, exc.target
    try:
        lock = store.get_lock(target)
    except StoreError:
        lock = None
    head = f"error: {target} is locked by run {holder}"
    if lock is None or lock.run_id != holder or lock.owner is None:
        return f"{head}; see `ecsops status {holder}`"
    alive = owner_alive(lock.owner)
    left = lock.expires_at - lease_now()
    lease = f"its lease runs to {_utc(lock.expires_at)} (in {format_duration(max(left, 0.0))})"
    force = f"if you know that process is gone, `ecsops abandon {holder} --force`"
    if alive is True:
        pid = lock.owner.rpartition(":")[2]
        text = (
            f"{head}, driven by another process ({lock.owner}) on this host; "
            f"wait for it to end, or stop it (kill -INT {pid})"
        )
        return f"{text}; {lease}; {force}" if abandoning else text
    if alive is False or left <= 0:
        gone = "is gone" if alive is False else "let its lease expire"
        return (
            f"{head}, whose process {lock.owner} {gone}: `ecsops resume {holder}` continues it, "
            f"`ecsops abandon {holder}` gives it up"
        )
    return (
        f"{head}, driven by another process ({lock.owner}) on another host; {lease}: "
        f"wait, then `ecsops resume {holder}`; {force}"
    )


def _utc(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def start_or_replay(
    store: RunStore,
    spec: OperationSpec,
    *,
    run_id: str | None,
    target: str,
    params: dict[str, Any],
    output: str,
    quiet: bool = False,
) -> int:
    """Start a new run; with an existing --run-id, resume it if unfinished or replay its result, provided it
    was recorded on this target with these very params (an operation that can compare its inputs more
    finely calls `replay` and `start` itself)."""
    existing = store.find_run(run_id) if run_id is not None else None
    if existing is not None:

        def differences(recorded: dict[str, Any]) -> list[str]:
            found = [] if existing.target == target else [f"target: recorded {existing.target}, now {target}"]
            return found + [
                f"{key}: recorded {recorded.get(key)!r}, now {params.get(key)!r}"
                for key in sorted(set(recorded) | set(params))
                if recorded.get(key) != params.get(key)
            ]

        return replay(store, spec, existing, differences=differences, output=output, quiet=quiet)
    return start(store, spec, run_id=run_id, target=target, params=params, output=output, quiet=quiet)


def replay(
    store: RunStore,
    spec: OperationSpec,
    existing: RunRecord,
    *,
    differences: Callable[[dict[str, Any]], list[str]],
    output: str,
    quiet: bool = False,
) -> int:
    """A retry with a run id already recorded: print a finished run's result (its exit code), resume an
    unfinished one. Refused (exit 2, nothing done) when the run is another operation's or `differences`
    finds the retry's inputs are not the recorded ones."""
    run_id = existing.run_id
    if existing.operation != spec.name:
        sys.stderr.write(
            f"error: run id {run_id} belongs to {existing.operation} on {existing.target}; pick another --run-id\n"
        )
        return exit_codes.BAD_INPUT
    found = differences(existing.params)
    if found:
        sys.stderr.write(
            f"error: run id {run_id} was recorded with other inputs ({'; '.join(found)}); repeat the recorded "
            f"inputs to replay or resume it (ecsops status {run_id} shows them), or pick another --run-id\n"
        )
        return exit_codes.BAD_INPUT
    if existing.finished:
        sys.stderr.write(already_ended(existing, "nothing was done again") + "\n")
        return report_run(store, existing, output)
    return resume(store, spec, run_id, output=output, force=False, quiet=quiet)


def start(
    store: RunStore,
    spec: OperationSpec,
    *,
    run_id: str | None,
    target: str,
    params: dict[str, Any],
    output: str,
    quiet: bool = False,
) -> int:
    """Record and drive a new run on `target` (the resolved identity: the lock key)."""
    reporter = StderrReporter(quiet=quiet)
    stop = threading.Event()
    try:
        reporter, engine = _reporter_and_engine(store, stop, quiet)
    except LeaseSettingError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return exit_codes.BAD_INPUT
    run_id = run_id or new_run_id(spec.name)
    reporter.header(f"run {run_id}: {spec.name} {target}")
    with _StopOnSignals(stop, reporter, run_id) as signals:
        try:
            run = engine.start(
                spec.build(params),
                run_id=run_id,
                target=target,
                params=params,
                started_by=started_by(),
                ci=ci_identity(),
                ecsops_version=ecsops.__version__,
            )
        except LockHeldError as exc:
            sys.stderr.write(locked_message(exc, store) + "\n")
            return exit_codes.LOCKED
        except LostLock as exc:
            return _lost_lock(exc)
        except LockLostError as exc:  # taken over between acquiring the lock and the first write
            sys.stderr.write(f"error: {exc}; nothing was done\n")
            return exit_codes.LOCKED
        except StoreError as exc:
            return _store_failure(store, run_id, exc)
        code = report_run(store, run, output)
    return signals.exit_code(code)


def _lost_lock(exc: LostLock) -> int:
    """The run found another run (or process) holding its target: it sent nothing more to AWS."""
    sys.stderr.write(f"error: run {exc.run_id} {exc.reason}; it sent nothing more to AWS\n")
    if exc.recorded:
        sys.stderr.write(
            f"run {exc.run_id} is recorded interrupted; check {exc.target} before `ecsops resume {exc.run_id}` "
            f"or `ecsops abandon {exc.run_id}`\n"
        )
    return exit_codes.LOCKED


def _store_failure(store: RunStore, run_id: str, exc: StoreError) -> int:
    """The store failed under us: say so in one line; exit 2 only if provably nothing was done."""
    sys.stderr.write(f"error: {exc}\n")
    if isinstance(exc, StoreIntegrityError):
        sys.stderr.write(
            f"run {run_id} stopped before its next AWS call; its record may be lost or behind what was done: "
            "check the target by hand\n"
        )
        return exit_codes.FAILED
    try:
        recorded = store.find_run(run_id) is not None
    except StoreError:
        recorded = True
    if recorded:
        sys.stderr.write(f"run {run_id} may be part-way; check `ecsops status {run_id}` and resume it\n")
        return exit_codes.FAILED
    if isinstance(exc, StoreWriteError):
        return exit_codes.FAILED
    return exit_codes.BAD_INPUT


def resume(
    store: RunStore, spec: OperationSpec, run_id: str, *, output: str, force: bool, quiet: bool = False
) -> int:
    stop = threading.Event()
    try:
        reporter, engine = _reporter_and_engine(store, stop, quiet)
    except LeaseSettingError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return exit_codes.BAD_INPUT
    run = store.get_run(run_id)
    reporter.note(f"run {run_id}: resuming {spec.name} {run.target} from state {run.state}")
    with _StopOnSignals(stop, reporter, run_id) as signals:
        try:
            run = engine.resume(spec.build(run.params), run_id, force=force)
        except LockHeldError as exc:
            sys.stderr.write(locked_message(exc, store) + "\n")
            return exit_codes.LOCKED
        except LostLock as exc:
            return _lost_lock(exc)
        except LockLostError as exc:  # taken over between acquiring the lock and the first write
            sys.stderr.write(f"error: {exc}; nothing was done\n")
            return exit_codes.LOCKED
        except VersionMismatch as exc:
            sys.stderr.write(f"error: {exc}\n")
            return exit_codes.BAD_INPUT
        except RunFinished:
            ended = store.get_run(run_id)
            sys.stderr.write(already_ended(ended, "nothing was done") + "\n")
            return report_run(store, ended, output)
        except StoreError as exc:
            return _store_failure(store, run_id, exc)
        code = report_run(store, run, output)
    return signals.exit_code(code)
