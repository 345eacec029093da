"""`ecsops store init` and `ecsops store copy`: set up a store (a DynamoDB table for a team); move runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ecsops.cli import exit_codes
from ecsops.cli.options import STATE, fail_usage
from ecsops.cli.sim_clock import lease_now

if TYPE_CHECKING:
    from store.base import RunStore
    from store.location import StoreLocation
    from store.models import RunRecord

store_app = typer.Typer(help="Set up a store (a DynamoDB table for a team) and copy runs between stores.")

StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="The store: a SQLite path or dynamodb://TABLE[?region=R&profile=P] (default: the global --store).",
    ),
]


@store_app.callback()
def _store() -> None:
    """Set up a store (a DynamoDB table for a team) and copy runs between stores."""


def _location(raw: str | None, what: str) -> StoreLocation:
    from store.errors import StoreOpenError
    from store.location import parse_store_location, raw_store_location

    try:
        return parse_store_location(raw_store_location(raw))
    except StoreOpenError as exc:
        fail_usage(f"{what}: {exc}")


@store_app.command("init")
def init(store: StoreOption = None) -> None:
    """Create the DynamoDB table (on-demand, point-in-time recovery, deletion protection) or verify an
    existing one; for a SQLite path, create or migrate the file. Idempotent; prints what it did."""
    from store.errors import StoreError, StoreOpenError
    from store.location import SqliteLocation

    location = _location(store or STATE.store_path, "--store")
    if isinstance(location, SqliteLocation):
        from store.open import open_location

        try:
            open_location(location).close()
        except StoreError as exc:
            fail_usage(str(exc))
        typer.echo(f"SQLite store {location.path} is ready (created or migrated as needed)")
        return
    from store.dynamodb_admin import init_table
    from store.dynamodb_requests import DynamoTable

    try:
        done = init_table(DynamoTable(location))
    except StoreOpenError as exc:
        fail_usage(str(exc))
    except StoreError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(exit_codes.FAILED) from exc
    for line in done:
        typer.echo(line)
    typer.echo(f"store {location.describe()} is ready: use --store {location.describe()} or ECSOPS_STORE")


@store_app.command("copy")
def copy(
    source: Annotated[str, typer.Option("--from", help="The store to copy runs from (path or dynamodb://TABLE).")],
    destination: Annotated[str, typer.Option("--to", help="The store to copy runs into (created if a new file).")],
) -> None:
    """Copy every run, whole (transitions, steps, items, notes), from one store to another, in either direction.

    Idempotent: a run already in the destination is left as it is. A run still in progress in the source
    (its lock held and its lease running) is skipped: copy again once it has ended."""
    from store.errors import StoreError
    from store.location import SqliteLocation
    from store.open import open_location

    src_location = _location(source, "--from")
    dst_location = _location(destination, "--to")
    if src_location == dst_location:
        fail_usage(f"--from and --to are the same store ({src_location.describe()})")
    if isinstance(src_location, SqliteLocation) and not src_location.path.is_file():
        fail_usage(f"--from: no SQLite store at {src_location.path}")
    try:
        src = open_location(src_location)
        dst = open_location(dst_location)
    except StoreError as exc:
        fail_usage(str(exc))
    try:
        summary = _copy_runs(src, dst)
    except StoreError as exc:
        typer.echo(f"error: {exc}", err=True)
        typer.echo("runs copied so far are whole; run the same copy again to finish", err=True)
        raise typer.Exit(exit_codes.FAILED) from exc
    finally:
        src.close()
        dst.close()
    copied, present, in_progress, counts = summary
    typer.echo(
        f"copied {copied} run(s) ({counts[0]} transitions, {counts[1]} steps, {counts[2]} items"
        + (f", {counts[3]} notes" if counts[3] else "")
        + (f", {counts[4]} messages) " if counts[4] else ") ")
        + f"from {src_location.describe()} to {dst_location.describe()}; {present} already there"
        + (f"; {len(in_progress)} in progress skipped: {', '.join(in_progress)}" if in_progress else "")
    )


def _copy_runs(src: RunStore, dst: RunStore) -> tuple[int, int, list[str], tuple[int, int, int, int, int]]:
    from store.models import RunFilter

    copied = present = 0
    in_progress: list[str] = []
    transitions = steps = items = notes = messages = 0
    # Oldest first, so a listing of the destination taken half-way shows a prefix of the history.
    for run in reversed(src.list_runs(RunFilter(limit=10**9))):
        if _in_progress(src, run):
            in_progress.append(run.run_id)
            continue
        history = src.history(run.run_id)
        if history is None:
            continue
        if dst.import_history(history):
            copied += 1
            transitions += len(history.transitions)
            steps += len(history.steps)
            items += len(history.items)
            notes += len(history.notes)
            messages += len(history.messages)
        else:
            present += 1
    return copied, present, in_progress, (transitions, steps, items, notes, messages)


def _in_progress(src: RunStore, run: RunRecord) -> bool:
    if run.finished:
        return False
    lock = src.get_lock(run.target)
    return lock is not None and lock.run_id == run.run_id and lock.expires_at + src.skew_margin_seconds > lease_now()
