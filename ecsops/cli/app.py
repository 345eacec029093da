"""The `ecsops` command line: a thin typer layer over the command flow, the store and the operations."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

import ecsops
from ecsops.cli import exit_codes
from ecsops.cli.approve_command import approve
from ecsops.cli.deploy_command import deploy
from ecsops.cli.fleet_command import deploy_fleet
from ecsops.cli.options import (
    DEFAULT_STORE_HELP,
    STATE,
    OutputOption,
    StoreOption,
    check_output,
    fail_usage,
    open_reader_or_exit,
    open_store_or_exit,
    use_store,
)
from ecsops.cli.replace_command import register as register_replace_instances
from ecsops.cli.run_listing import LIMIT_MAX as RUNS_LIMIT_MAX
from ecsops.cli.store_command import store_app
from ecsops.cli.ui_command import ui
from ecsops.cli.usage import EcsopsGroup
from ecsops.sim.cli import sim_app

if TYPE_CHECKING:
    from store.base import RunStore

app = typer.Typer(
    name="ecsops",
    cls=EcsopsGroup,
    help="Resumable, audited ECS deploys and container-instance replacement. "
    "Every step is checkpointed to SQLite: a killed run can be resumed with `ecsops resume RUN_ID`.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain click help: typer's rich help imports rich (~100 ms), more than a whole `ecsops status` may take.
    rich_markup_mode=None,
)
machines_app = typer.Typer(help="The declared state machines, as data and as Mermaid diagrams.", rich_markup_mode=None)
app.add_typer(machines_app, name="machines")
app.add_typer(sim_app, name="sim")
app.add_typer(store_app, name="store")
app.command()(deploy)
app.command("deploy-fleet")(deploy_fleet)
app.command()(approve)
app.command()(ui)

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
            metavar="PATH|dynamodb://TABLE",
            help=f"The run store: a SQLite file ({DEFAULT_STORE_HELP}), or dynamodb://TABLE[?region=R&profile=P] "
            "for a team's shared store (see `ecsops store init`). Also accepted after the command name.",
            show_envvar=True,
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    STATE.store_path = store


RUNS_OUTPUT_HELP = "text (a table), json (one array of run documents), jsonl (one run document a line) or csv."


@app.command()
def runs(
    operation: Annotated[str | None, typer.Option(help="Only runs of this operation (deploy, replace-instances).")]
    = None,
    target: Annotated[
        str | None,
        typer.Option(help="Only runs on this target: CLUSTER/SERVICE, GROUP, or a full key such as "
                     "ecs:ACCOUNT:REGION:CLUSTER/SERVICE."),
    ] = None,
    status: Annotated[str | None, typer.Option(help="Only runs with this status, e.g. rolled_back.")] = None,
    who: Annotated[
        str | None,
        typer.Option(metavar="USER[@HOST]", help="Only runs started by this user (on any host, or user@host), or by "
                     "a CI job this user started."),
    ] = None,
    since: Annotated[str | None, typer.Option(help="Only runs started at or after this ISO date/time (UTC).")]
    = None,
    until: Annotated[str | None, typer.Option(help="Only runs started before this ISO date/time (UTC).")] = None,
    limit: Annotated[str, typer.Option(help=f"At most this many runs (1 to {RUNS_LIMIT_MAX}).")] = "50",
    output: Annotated[
        str, typer.Option("--output", "-o", metavar="text|json|jsonl|csv", help=RUNS_OUTPUT_HELP)
    ] = "text",
    store_path: StoreOption = None,
) -> None:
    """Recent runs, newest first."""
    from ecsops.cli.documents import history_document
    from ecsops.cli.render import render_runs
    from ecsops.cli.run_listing import QueryError, list_histories, parse_query

    use_store(store_path)
    output = output.lower()
    if output not in ("text", "json", "jsonl", "csv"):
        fail_usage(f"--output must be text, json, jsonl or csv, not {output!r}")
    try:
        query = parse_query(operation=operation, target=target, status=status, who=who, since=since, until=until,
                            limit=limit)
    except QueryError as exc:
        fail_usage(str(exc))
    store = open_reader_or_exit()
    # A fixed number of store queries whatever the number of runs listed.
    documents = (history_document(history) for history in list_histories(store, query))
    if output in ("jsonl", "csv"):
        from ecsops.cli.run_export import csv_lines, jsonl_lines

        for line in (jsonl_lines if output == "jsonl" else csv_lines)(documents):
            typer.echo(line)
    elif output == "json":
        typer.echo(json.dumps(list(documents), indent=2, default=str))
    else:
        typer.echo(render_runs(list(documents)))


@app.command()
def status(
    run_id: Annotated[str, typer.Argument(metavar="RUN_ID", help="The run to show.")],
    output: OutputOption = "text",
    follow: Annotated[
        bool,
        typer.Option("--follow", "-f", help="Follow a run another process or machine drives, from the store alone: "
                     "print its transitions and messages as deploy does (on stderr) as they are recorded, then the "
                     "run as without --follow, and exit with the run's own exit code when it ends; 130, with the "
                     "command that resumes it, once the process that drove it is gone."),
    ] = False,
    interval: Annotated[
        str | None,
        typer.Option(metavar="SECONDS", help="With --follow: how often the store is read (default 2, from 0.05)."),
    ] = None,
    store_path: StoreOption = None,
) -> None:
    """One run: its state, the timeline of transitions, its steps and what is in flight."""
    from ecsops.cli.documents import run_document
    from ecsops.cli.render import render_status
    from store.errors import RunNotFoundError

    use_store(store_path)
    output = check_output(output)
    seconds = None
    if interval is not None and not follow:
        fail_usage("--interval goes with --follow")
    if follow:
        from ecsops.cli.follow import DEFAULT_INTERVAL, parse_interval

        try:
            seconds = DEFAULT_INTERVAL if interval is None else parse_interval(interval)
        except ValueError as exc:
            fail_usage(str(exc))
    store = open_reader_or_exit()
    try:
        run = store.get_run(run_id)
    except RunNotFoundError as exc:
        fail_usage(str(exc))
    code = exit_codes.SUCCEEDED
    if seconds is not None:
        from ecsops.cli.follow import follow as follow_run
        from ecsops.cli.follow import interrupt_on_sigterm
        from store.errors import StoreError

        try:
            with interrupt_on_sigterm():
                followed = follow_run(store, run, interval=seconds)
        except KeyboardInterrupt:
            raise typer.Exit(exit_codes.INTERRUPTED) from None  # the follower stops; the run is not touched
        except StoreError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(exit_codes.FAILED) from exc
        run, code = followed.run, followed.exit_code
    document = run_document(store, run)
    typer.echo(json.dumps(document, indent=2, default=str) if output == "json" else render_status(document))
    if code:
        raise typer.Exit(code)


@app.command()
def resume(
    run_id: Annotated[str, typer.Argument(metavar="RUN_ID", help="The unfinished run to continue.")],
    force: Annotated[
        bool, typer.Option("--force", help="Resume even if the run was recorded under another machine version.")
    ] = False,
    output: OutputOption = "text",
    store_path: StoreOption = None,
) -> None:
    """Continue an unfinished run from its last checkpoint; calls already made are not repeated."""
    from ecsops.cli.flow import resume as resume_run
    from ecsops.cli.operations import UnknownOperation, get_operation
    from ecsops.cli.outcome import already_ended, report_run
    from store.errors import RunNotFoundError

    use_store(store_path)
    output = check_output(output)
    store = open_store_or_exit()
    try:
        run = store.get_run(run_id)
        spec = get_operation(run.operation)
    except (RunNotFoundError, UnknownOperation) as exc:
        fail_usage(str(exc))
    if run.finished:
        typer.echo(already_ended(run, "nothing to resume"), err=True)
        raise typer.Exit(report_run(store, run, output))
    raise typer.Exit(resume_run(store, spec, run_id, output=output, force=force))


@app.command()
def abandon(
    run_id: Annotated[str, typer.Argument(metavar="RUN_ID", help="The unfinished run to give up on.")],
    reason: Annotated[str, typer.Option(metavar="TEXT", help="Why, recorded with the run.")] = "abandoned by a person",
    force: Annotated[
        bool,
        typer.Option("--force", help="Break the lock even while another process's lease is valid: only when you "
                     "know that process is gone (its later writes are refused)."),
    ] = False,
    output: OutputOption = "text",
    store_path: StoreOption = None,
) -> None:
    """Mark an unfinished run abandoned and release its lock. Makes no AWS calls: check the target yourself."""
    from ecsops.cli.engine_setup import run_clock
    from ecsops.cli.lock_messages import locked_message
    from ecsops.cli.outcome import report_run
    from machines.engine import Engine
    from machines.errors import RunFinished
    from store.errors import LockHeldError, RunNotFoundError

    use_store(store_path)
    output = check_output(output)
    store = open_store_or_exit()
    try:
        clock = run_clock()
    except ValueError as exc:
        fail_usage(str(exc))
    holds = _holds_of(store, run_id)
    try:
        run = Engine(store, clock=clock).abandon(run_id, reason, force=force, holds=holds)
    except (RunNotFoundError, RunFinished) as exc:
        fail_usage(str(exc))
    except LockHeldError as exc:
        typer.echo(locked_message(exc, store, abandoning=True), err=True)
        raise typer.Exit(exit_codes.LOCKED) from exc
    others = [hold for hold in sorted(set(holds)) if hold != run.target]
    if others:
        typer.echo(f"run {run_id} abandoned; its locks on {run.target} and {', '.join(others)} are released", err=True)
    else:
        typer.echo(f"run {run_id} abandoned; its lock on {run.target} is released", err=True)
    report_run(store, run, output)


def _holds_of(store: RunStore, run_id: str) -> tuple[str, ...]:
    """The other targets the run's operation holds (a fleet's services), from its recorded params. Building an
    operation makes no AWS call; one that cannot be built (an unknown or broken plugin, params it no longer
    accepts) holds nothing here, and the run's own lock is still broken."""
    from ecsops.cli.operations import get_operation
    from store.errors import StoreError

    try:
        run = store.get_run(run_id)
    except StoreError:
        return ()  # abandon itself says what is wrong with the store or the run id
    if run.finished:
        return ()
    try:
        return tuple(get_operation(run.operation).build(run.params).holds)
    except Exception:
        return ()


@machines_app.callback(invoke_without_command=True)
def machines_list(ctx: typer.Context) -> None:
    """List the declared machines with their versions."""
    if ctx.invoked_subcommand is not None:
        return
    from ecsops.cli.operations import all_operations

    rows: list[tuple[str, str, str]] = []
    for spec in sorted(all_operations().values(), key=lambda s: s.name):
        rows.append((spec.definition.name, spec.definition.version, spec.describe))
        if spec.item_definition is not None:
            item_text = str(spec.extra.get("item_describe") or f"each item of a {spec.name} run")
            rows.append((spec.item_definition.name, spec.item_definition.version, item_text))
    width = max((len(name) for name, _, _ in rows), default=0)
    for name, version, text in rows:
        typer.echo(f"{name:<{width}}  version {version}  {text}".rstrip())


@machines_app.command("show")
def machines_show(
    name: Annotated[
        str,
        typer.Argument(metavar="NAME", help="A machine as `ecsops machines` lists it, e.g. deploy or "
                       "replace-instances.instance."),
    ],
    item: Annotated[bool, typer.Option("--item", help="Show the operation's per-item machine (e.g. per instance).")]
    = False,
) -> None:
    """Print a machine as a Mermaid state diagram."""
    from ecsops.cli.operations import UnknownOperation, all_operations, get_operation

    try:
        spec = get_operation(name)
    except UnknownOperation:
        # The per-item machines are listed by their own names (replace-instances.instance).
        items = {s.item_definition.name: s for s in all_operations().values() if s.item_definition is not None}
        if name not in items:
            known = ", ".join(sorted([*all_operations(), *items])) or "none"
            fail_usage(f"no machine named {name!r}; known: {known}")
        spec, item = items[name], True
    definition = spec.item_definition if item else spec.definition
    if definition is None:
        fail_usage(f"operation {name} has no item machine")
    typer.echo(definition.mermaid(), nl=False)


register_replace_instances(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
