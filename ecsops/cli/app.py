"""The `ecsops` command line: a thin typer layer over the runner, store and operations."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

import ecsops
from ecsops.cli import exit_codes
from ecsops.cli.deploy_command import deploy
from ecsops.cli.options import STATE, OutputOption, check_output, fail_usage, open_store_or_exit
from ecsops.cli.replace_command import register as register_replace_instances
from ecsops.cli.store_command import store_app
from ecsops.sim.cli import sim_app

if TYPE_CHECKING:
    pass

app = typer.Typer(
    name="ecsops",
    help="Resumable, audited ECS deploys and container-instance replacement. "
    "Every step is checkpointed to SQLite: a killed run can be resumed with `ecsops resume RUN_ID`.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
machines_app = typer.Typer(help="The declared state machines, as data and as Mermaid diagrams.")
app.add_typer(machines_app, name="machines")
app.add_typer(sim_app, name="sim")
app.add_typer(store_app, name="store")
app.command()(deploy)

def _version(value: bool) -> None:
    if value:
        typer.echo(f"ecsops {ecsops.__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            envvar="ECSOPS_STORE",
            help="SQLite store path (default ~/.local/state/ecsops/ecsops.db), or dynamodb://TABLE"
            "[?region=R&profile=P] for a team's shared store (see `ecsops store init`).",
            show_envvar=True,
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    STATE.store_path = store


@app.command()
def runs(
    operation: Annotated[str | None, typer.Option(help="Only runs of this operation (deploy, replace-instances).")]
    = None,
    target: Annotated[str | None, typer.Option(help="Only runs on this target, e.g. ecs:demo/web.")] = None,
    status: Annotated[str | None, typer.Option(help="Only runs with this status, e.g. rolled_back.")] = None,
    since: Annotated[str | None, typer.Option(help="Only runs started at or after this ISO date/time (UTC).")]
    = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many runs.")] = 50,
    output: OutputOption = "text",
) -> None:
    """Recent runs, newest first."""
    from ecsops.cli.documents import history_document
    from ecsops.cli.render import render_runs
    from store.models import RunFilter

    output = check_output(output)
    if since is not None:
        since = _normalise_since(since)
    store = open_store_or_exit(for_reading=True)
    # A fixed number of store queries whatever the number of runs listed.
    histories = store.histories(
        RunFilter(operation=operation, target=target, status=status, since=since, limit=limit)
    )
    documents = [history_document(history) for history in histories]
    if output == "json":
        typer.echo(json.dumps(documents, indent=2, default=str))
    else:
        typer.echo(render_runs(documents))


def _normalise_since(since: str) -> str:
    from datetime import UTC, datetime

    try:
        moment = datetime.fromisoformat(since)
    except ValueError:
        fail_usage(f"--since {since!r}: expected an ISO date or date-time, e.g. 2026-11-26 or 2026-11-26T09:00")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


@app.command()
def status(
    run_id: Annotated[str, typer.Argument(help="The run to show.")],
    output: OutputOption = "text",
) -> None:
    """One run: its state, the timeline of transitions, its steps and what is in flight."""
    from ecsops.cli.documents import run_document
    from ecsops.cli.render import render_status
    from store.errors import RunNotFoundError

    output = check_output(output)
    store = open_store_or_exit(for_reading=True)
    try:
        run = store.get_run(run_id)
    except RunNotFoundError as exc:
        fail_usage(str(exc))
    document = run_document(store, run)
    typer.echo(json.dumps(document, indent=2, default=str) if output == "json" else render_status(document))


@app.command()
def resume(
    run_id: Annotated[str, typer.Argument(help="The unfinished run to continue.")],
    force: Annotated[
        bool, typer.Option("--force", help="Resume even if the run was recorded under another machine version.")
    ] = False,
    output: OutputOption = "text",
) -> None:
    """Continue an unfinished run from its last checkpoint; calls already made are not repeated."""
    from ecsops.cli.operations import UnknownOperation, get_operation
    from ecsops.cli.runner import report_run
    from ecsops.cli.runner import resume as resume_run
    from store.errors import RunNotFoundError

    output = check_output(output)
    store = open_store_or_exit()
    try:
        run = store.get_run(run_id)
        spec = get_operation(run.operation)
    except (RunNotFoundError, UnknownOperation) as exc:
        fail_usage(str(exc))
    if run.finished:
        typer.echo(f"run {run_id} already ended ({run.status}); nothing to resume", err=True)
        raise typer.Exit(report_run(store, run, output))
    raise typer.Exit(resume_run(store, spec, run_id, output=output, force=force))


@app.command()
def abandon(
    run_id: Annotated[str, typer.Argument(help="The unfinished run to give up on.")],
    reason: Annotated[str, typer.Option(help="Why, recorded with the run.")] = "abandoned by a person",
    output: OutputOption = "text",
) -> None:
    """Mark an unfinished run abandoned and release its lock. Makes no AWS calls: check the target yourself."""
    from ecsops.cli.runner import locked_message, report_run
    from machines.engine import Engine
    from machines.errors import RunFinished
    from store.errors import LockHeldError, RunNotFoundError

    output = check_output(output)
    store = open_store_or_exit()
    try:
        run = Engine(store).abandon(run_id, reason)
    except (RunNotFoundError, RunFinished) as exc:
        fail_usage(str(exc))
    except LockHeldError as exc:
        typer.echo(locked_message(exc), err=True)
        raise typer.Exit(exit_codes.LOCKED) from exc
    typer.echo(f"run {run_id} abandoned; its lock on {run.target} is released", err=True)
    report_run(store, run, output)


@machines_app.callback(invoke_without_command=True)
def machines_list(ctx: typer.Context) -> None:
    """List the declared machines with their versions."""
    if ctx.invoked_subcommand is not None:
        return
    from ecsops.cli.operations import all_operations

    for spec in sorted(all_operations().values(), key=lambda s: s.name):
        typer.echo(f"{spec.name:<20} version {spec.definition.version}  {spec.describe}")
        if spec.item_definition is not None:
            typer.echo(f"{spec.name + ' (item)':<20} version {spec.item_definition.version}")


@machines_app.command("show")
def machines_show(
    name: Annotated[str, typer.Argument(help="Operation name, e.g. deploy.")],
    item: Annotated[bool, typer.Option("--item", help="Show the per-item machine (e.g. per instance).")] = False,
) -> None:
    """Print a machine as a Mermaid state diagram."""
    from ecsops.cli.operations import UnknownOperation, get_operation

    try:
        spec = get_operation(name)
    except UnknownOperation as exc:
        fail_usage(str(exc))
    definition = spec.item_definition if item else spec.definition
    if definition is None:
        fail_usage(f"operation {name} has no item machine")
    typer.echo(definition.mermaid(), nl=False)


register_replace_instances(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
