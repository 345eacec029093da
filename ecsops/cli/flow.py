"""The flow of every command that runs an operation, and of `ecsops resume`.

open the store -> find the run of --run-id -> replay it if finished, resume it if not, refuse it if it is another
operation's or was recorded with other inputs -> preflight (read calls only; bad input exits 2 before any change)
-> print the plan (--dry-run, no store) or start the run -> its exit code.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import typer

import ecsops
from ecsops.cli import exit_codes
from ecsops.cli.engine_setup import reporter_and_engine
from ecsops.cli.identity import ci_identity, started_by
from ecsops.cli.lease_setting import LeaseSettingError
from ecsops.cli.lock_messages import locked_message, lost_lock_lines
from ecsops.cli.outcome import already_ended, report_run
from ecsops.cli.progress import StderrReporter
from ecsops.cli.run_ids import new_run_id
from ecsops.cli.signals import StopOnSignals
from machines.engine import Engine
from machines.errors import LostLock, RunFinished, VersionMismatch
from machines.operation import OperationSpec
from store.base import RunStore
from store.errors import LockHeldError, LockLostError, StoreError, StoreIntegrityError, StoreWriteError
from store.models import RunRecord

Typed = TypeVar("Typed")
Plan = TypeVar("Plan")


@dataclass(frozen=True)
class Prepared(Generic[Plan]):
    """What an operation's preflight found: the run's target (its lock key), the params to record, the plan."""

    target: str
    params: dict[str, Any]
    plan: Plan
    # What this process builds the operation from, when more than what is recorded in the run: reads the operation
    # keeps in its items instead (a fleet's per-service snapshots), so the run's record stays small. None: params.
    build_params: dict[str, Any] | None = None


@dataclass(frozen=True)
class OperationCommand(Generic[Typed, Plan]):
    """What a command that runs an operation brings of its own; `run_operation` does the rest.

    `Typed` is the command's inputs as parsed from its flags, before any AWS call.
    """

    # The operation's name, as registered (ecsops.cli.operations).
    operation: str
    # How a retry's typed inputs differ from a run's recorded params, one line each; [] when they do not.
    differences: Callable[[Typed, dict[str, Any]], list[str]]
    # Read calls only. Bad input: options.fail_usage (exit 2); AWS failing: options.fail (exit 1).
    preflight: Callable[[Typed], Prepared[Plan]]
    # Prints what a run would do (--dry-run), as text or JSON (`output`).
    print_dry_run: Callable[[Plan, str], None]


def dry_run_printer(
    lines: Callable[[Plan], list[str]], document: Callable[[Plan], dict[str, Any]]
) -> Callable[[Plan, str], None]:
    """An OperationCommand's print_dry_run: the plan as text lines, or with --output json as one document."""

    def print_dry_run(plan: Plan, output: str) -> None:
        import json

        if output == "json":
            typer.echo(json.dumps(document(plan), indent=2, default=str))
        else:
            typer.echo("\n".join(lines(plan)))

    return print_dry_run


def say_retry(message: str) -> None:
    """A preflight's read sent again by botocore (throttled, 5xx, endpoint unreachable), said on stderr."""
    import textwrap

    typer.echo(textwrap.fill(message, width=80, subsequent_indent="    ", break_on_hyphens=False), err=True)


def run_operation(
    command: OperationCommand[Typed, Plan],
    typed: Typed,
    *,
    run_id: str | None,
    dry_run: bool,
    output: str,
    quiet: bool = False,
) -> int:
    """The command's exit code. A retried --run-id replays or resumes its own run (the target may already carry
    its change), if its inputs are the recorded ones: compared as typed, without reading AWS."""
    from ecsops.cli.operations import get_operation
    from ecsops.cli.options import open_store_or_exit

    try:
        if dry_run:
            command.print_dry_run(command.preflight(typed).plan, output)
            return exit_codes.SUCCEEDED
        store = open_store_or_exit()
        spec = get_operation(command.operation)
        existing = store.find_run(run_id) if run_id is not None else None
        if existing is not None:
            return replay(
                store, spec, existing, differences=lambda recorded: command.differences(typed, recorded),
                output=output, quiet=quiet,
            )
        prepared = command.preflight(typed)
        return start(store, spec, run_id=run_id, target=prepared.target, params=prepared.params, output=output,
                     quiet=quiet, build_params=prepared.build_params)
    except typer.Exit as exc:  # a usage error or a failed preflight, already said
        return int(exc.exit_code)


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
    build_params: dict[str, Any] | None = None,
) -> int:
    """Record and drive a new run on `target` (the resolved identity: the lock key); `params` are recorded, the
    operation is built from `build_params` (default: the same)."""
    new_id = run_id or new_run_id(spec.name)

    def drive(engine: Engine) -> RunRecord:
        return engine.start(
            spec.build(params if build_params is None else build_params),
            run_id=new_id,
            target=target,
            params=params,
            started_by=started_by(),
            ci=ci_identity(),
            ecsops_version=ecsops.__version__,
        )

    return _drive(store, new_id, drive, lambda reporter: reporter.header(f"run {new_id}: {spec.name} {target}"),
                  output=output, quiet=quiet)


def resume(
    store: RunStore, spec: OperationSpec, run_id: str, *, output: str, force: bool, quiet: bool = False
) -> int:
    """Drive an unfinished run on from its last checkpoint."""
    run = store.get_run(run_id)
    return _drive(
        store, run_id, lambda engine: engine.resume(spec.build(run.params), run_id, force=force),
        lambda reporter: reporter.note(f"run {run_id}: resuming {spec.name} {run.target} from state {run.state}"),
        output=output, quiet=quiet,
    )


def _drive(
    store: RunStore,
    run_id: str,
    drive: Callable[[Engine], RunRecord],
    announce: Callable[[StderrReporter], None],
    *,
    output: str,
    quiet: bool,
) -> int:
    """Drive the run under the signal handlers; its exit code, or why it could not go on."""
    stop = threading.Event()
    try:
        reporter, engine = reporter_and_engine(store, stop, quiet)
    except LeaseSettingError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return exit_codes.BAD_INPUT
    announce(reporter)
    with StopOnSignals(stop, reporter, run_id) as signals:
        try:
            run = drive(engine)
        except LockHeldError as exc:
            sys.stderr.write(locked_message(exc, store) + "\n")
            return exit_codes.LOCKED
        except LostLock as exc:
            sys.stderr.write("".join(line + "\n" for line in lost_lock_lines(exc)))
            return exit_codes.LOCKED
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
