"""Wires store, engine, clock, progress and signals together to start or resume a run from the CLI."""

from __future__ import annotations

import json
import os
import secrets
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from types import FrameType
from typing import Any, cast

import ecsops
from ecsops.cli import exit_codes
from ecsops.cli.documents import run_document
from ecsops.cli.identity import ci_identity, started_by
from ecsops.cli.progress import StderrReporter
from ecsops.cli.render import render_status
from machines.clock import Clock, SystemClock
from machines.engine import DEFAULT_LEASE_SECONDS, Engine
from machines.errors import RunFinished, VersionMismatch
from machines.operation import OperationSpec
from machines.steps import ErrorKind
from store.base import RunStore
from store.errors import LockHeldError, StoreError
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


@contextmanager
def _stop_on_signals(stop: threading.Event, reporter: StderrReporter) -> Iterator[None]:
    """First Ctrl-C/SIGTERM: finish the step in progress, then stop resumably. Second: stop now."""

    def handle(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        reporter.note(f"received {signal.Signals(signum).name}: stopping after the current step (resumable)")

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def make_engine(
    store: RunStore, reporter: StderrReporter, stop: threading.Event, clock: Clock | None = None
) -> Engine:
    lease = float(os.environ.get(LEASE_ENV, DEFAULT_LEASE_SECONDS))
    return Engine(
        store, clock=clock or _clock(), reporter=reporter, classify_error=_classify_error, lease_seconds=lease,
        stop=stop,
    )


def _reporter_and_engine(store: RunStore, stop: threading.Event, quiet: bool) -> tuple[StderrReporter, Engine]:
    """One clock for both: the progress stamps and the run's deadlines and elapsed times agree."""
    clock = _clock() or SystemClock()
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
        sys.stderr.write(f"run {run_id} already ended ({existing.status}); nothing was done again\n")
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
    reporter, engine = _reporter_and_engine(store, stop, quiet)
    run_id = run_id or new_run_id(spec.name)
    reporter.note(f"run {run_id}: {spec.name} {target}")
    with _stop_on_signals(stop, reporter):
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
        except StoreError as exc:
            return _store_failure(store, run_id, exc)
    return report_run(store, run, output)


def _store_failure(store: RunStore, run_id: str, exc: StoreError) -> int:
    """The store failed under us: say so; exit 2 if nothing was recorded (so nothing was done)."""
    sys.stderr.write(f"error: {exc}\n")
    try:
        recorded = store.find_run(run_id) is not None
    except StoreError:
        recorded = True
    if recorded:
        sys.stderr.write(f"run {run_id} may be part-way; check `ecsops status {run_id}` and resume it\n")
        return exit_codes.FAILED
    return exit_codes.BAD_INPUT


def resume(
    store: RunStore, spec: OperationSpec, run_id: str, *, output: str, force: bool, quiet: bool = False
) -> int:
    stop = threading.Event()
    reporter, engine = _reporter_and_engine(store, stop, quiet)
    run = store.get_run(run_id)
    reporter.note(f"run {run_id}: resuming {spec.name} {run.target} from state {run.state}")
    with _stop_on_signals(stop, reporter):
        try:
            run = engine.resume(spec.build(run.params), run_id, force=force)
        except LockHeldError as exc:
            sys.stderr.write(locked_message(exc) + "\n")
            return exit_codes.LOCKED
        except VersionMismatch as exc:
            sys.stderr.write(f"error: {exc}\n")
            return exit_codes.BAD_INPUT
        except RunFinished:
            return report_run(store, store.get_run(run_id), output)
        except StoreError as exc:
            return _store_failure(store, run_id, exc)
    return report_run(store, run, output)
