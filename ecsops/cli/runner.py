"""Wires store, engine, clock, progress and signals together to start or resume a run from the CLI."""

from __future__ import annotations

import json
import math
import os
import secrets
import signal
import sys
import threading
from datetime import UTC, datetime
from types import FrameType
from typing import Any

import ecsops
from ecsops.cli import exit_codes
from ecsops.cli.documents import run_document
from ecsops.cli.identity import ci_identity, started_by
from ecsops.cli.progress import StderrReporter
from ecsops.cli.render import render_status
from machines.clock import Clock
from machines.engine import DEFAULT_LEASE_SECONDS, Engine
from machines.errors import LostLock, RunFinished, VersionMismatch
from machines.operation import OperationSpec
from store.base import RunStore
from store.errors import LockHeldError, LockLostError, StoreError, StoreIntegrityError, StoreWriteError
from store.models import RunRecord

LEASE_ENV = "ECSOPS_LOCK_LEASE_SECONDS"


def new_run_id(operation: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    return f"{operation}-{stamp}-{secrets.token_hex(3)}"


def _classify_error(exc: BaseException) -> dict[str, Any] | None:
    from ecsops.aws.errors import classify_error

    return classify_error(exc)


def _clock() -> Clock | None:
    from ecsops.cli.sim_clock import clock_from_environment

    return clock_from_environment()  # type: ignore[return-value]


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
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.stop.is_set():
            os.write(2, f"received {name} again: stopped at once; `ecsops resume {self.run_id}` continues\n".encode())
            os._exit(exit_codes.INTERRUPTED)
        self.stop.set()
        self.reporter.note(f"received {name}: stopping after the current step (resumable)")

    def __enter__(self) -> _StopOnSignals:
        self._previous = {sig: signal.signal(sig, self._handle) for sig in STOP_SIGNALS}
        return self

    def __exit__(self, *exc: object) -> None:
        if self.stop.is_set():
            # Python gives signals back to their default action while it shuts down: hold them instead.
            signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
            return
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def exit_code(self, code: int) -> int:
        """code, unless a second signal is waiting: then 130."""
        if self.stop.is_set() and set(STOP_SIGNALS) & signal.sigpending():
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


def make_engine(store: RunStore, reporter: StderrReporter, stop: threading.Event) -> Engine:
    return Engine(
        store,
        clock=_clock(),
        reporter=reporter,
        classify_error=_classify_error,
        lease_seconds=lease_seconds(),
        stop=stop,
    )


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


def _hint(run: RunRecord) -> str | None:
    if run.status == "interrupted":
        return f"run {run.run_id} stopped in state {run.state}; continue it with: ecsops resume {run.run_id}"
    if run.status == "rollback_failed":
        return f"run {run.run_id}: the rollback failed; the service needs a person (see reason above)"
    return None


def locked_message(exc: LockHeldError) -> str:
    if exc.holder_owner:
        return (
            f"error: {exc}; if that process is gone, wait for its lease to expire or "
            f"`ecsops abandon {exc.holder_run_id}`"
        )
    return (
        f"error: {exc.target} is locked by run {exc.holder_run_id}; wait for it, "
        f"`ecsops resume {exc.holder_run_id}`, or `ecsops abandon {exc.holder_run_id}`"
    )


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
    """Start a new run; with an existing --run-id, resume it if unfinished or replay its result."""
    if run_id is not None:
        existing = store.find_run(run_id)
        if existing is not None:
            if existing.operation != spec.name or existing.target != target:
                sys.stderr.write(
                    f"error: run id {run_id} belongs to {existing.operation} on {existing.target}; "
                    "pick another --run-id\n"
                )
                return exit_codes.BAD_INPUT
            if existing.finished:
                sys.stderr.write(f"run {run_id} already ended ({existing.status}); nothing was done again\n")
                return report_run(store, existing, output)
            return resume(store, spec, run_id, output=output, force=False, quiet=quiet)
    reporter = StderrReporter(quiet=quiet)
    stop = threading.Event()
    try:
        engine = make_engine(store, reporter, stop)
    except LeaseSettingError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return exit_codes.BAD_INPUT
    run_id = run_id or new_run_id(spec.name)
    reporter.note(f"run {run_id}: {spec.name} {target}")
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
            sys.stderr.write(locked_message(exc) + "\n")
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
    reporter = StderrReporter(quiet=quiet)
    stop = threading.Event()
    try:
        engine = make_engine(store, reporter, stop)
    except LeaseSettingError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return exit_codes.BAD_INPUT
    run = store.get_run(run_id)
    reporter.note(f"run {run_id}: resuming {spec.name} {run.target} from state {run.state}")
    with _StopOnSignals(stop, reporter, run_id) as signals:
        try:
            run = engine.resume(spec.build(run.params), run_id, force=force)
        except LockHeldError as exc:
            sys.stderr.write(locked_message(exc) + "\n")
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
            return report_run(store, store.get_run(run_id), output)
        except StoreError as exc:
            return _store_failure(store, run_id, exc)
        code = report_run(store, run, output)
    return signals.exit_code(code)
