"""The `ecsops deploy-fleet` command: a TOML file of services in, preflight of every one, then one recorded run."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from ecsops.cli.options import OUTPUT_HELP, STORE_HELP

if TYPE_CHECKING:
    from ecsops.cli.flow import OperationCommand, Prepared
    from ecsops.fleet.params import FleetParams
    from ecsops.fleet.preflight import FleetPlan

FLEET_PANEL = "Fleet"
RUN_PANEL = "Run, AWS and output"


def deploy_fleet(
    file: Annotated[str, typer.Argument(metavar="FILE", help="TOML file: one [[service]] table per service, each "
                                        "with deploy's flags as keys (without the dashes); top-level keys are "
                                        "defaults for every service.")],
    max_parallel: Annotated[
        int | None,
        typer.Option("--max-parallel", metavar="N", rich_help_panel=FLEET_PANEL, show_default=False,
                     help="At most N services roll out at once; the others start, in file order, as slots free. "
                     "Default: all at once."),
    ] = None,
    on_failure: Annotated[
        str,
        typer.Option("--on-failure", metavar="rollback-failed|rollback-all|stop", rich_help_panel=FLEET_PANEL,
                     help="rollback-failed: each failed service is rolled back, the others complete. rollback-all: "
                     "once any fails, every service that changed goes back to its snapshot, those that succeeded "
                     "too. stop: no service starts after the first failure; those in flight finish."),
    ] = "rollback-failed",
    timeout: Annotated[
        str | None,
        typer.Option("--timeout", metavar="DURATION", rich_help_panel=FLEET_PANEL, show_default=False,
                     help="Each service's deploy timeout (then it is rolled back); overrides the file. Default: the "
                     "file's, else deploy's (15m)."),
    ] = None,
    rollback_timeout: Annotated[
        str | None,
        typer.Option("--rollback-timeout", metavar="DURATION", rich_help_panel=FLEET_PANEL, show_default=False,
                     help="Each service's rollback timeout; overrides the file. Default: its --timeout."),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", rich_help_panel=RUN_PANEL,
                     help="Print each service's task-definition diff and strategy, and the order of rollout; read "
                     "calls only, no run recorded."),
    ] = False,
    run_id: Annotated[
        str | None,
        typer.Option("--run-id", metavar="ID", rich_help_panel=RUN_PANEL,
                     help="Idempotency key for CI retries: an unfinished run with this id is resumed, a finished "
                     "one's result is printed again; the file and flags must be the recorded ones."),
    ] = None,
    profile: Annotated[
        str | None, typer.Option("--profile", metavar="NAME", rich_help_panel=RUN_PANEL, help="AWS profile.")
    ] = None,
    region: Annotated[
        str | None, typer.Option("--region", metavar="REGION", rich_help_panel=RUN_PANEL, help="AWS region.")
    ] = None,
    output: Annotated[
        str, typer.Option("--output", "-o", metavar="text|json", rich_help_panel=RUN_PANEL, help=OUTPUT_HELP)
    ] = "text",
    store_path: Annotated[
        str | None,
        typer.Option("--store", metavar="PATH", show_default=False, rich_help_panel=RUN_PANEL, help=STORE_HELP),
    ] = None,
) -> None:
    """Deploy many ECS services as one run: one lock per service, one item per service, one verdict.

    Every service is checked before anything changes (a fault exits 2, one line each, naming the service and
    its line in FILE). Each service then walks deploy's own stages (snapshot, register, update, wait, roll back)
    and follows its strategy (ROLLING, or ECS's service deployment of a BLUE_GREEN, LINEAR or CANARY service),
    polled in batches: one DescribeServices per 10 services of a cluster and one DescribeServiceDeployments per
    20 service deployments per round. A killed run continues with `ecsops resume RUN_ID`; a service paused at
    a PAUSE hook waits for `ecsops approve RUN_ID --service CLUSTER/SERVICE` while the others go on.

    Exit codes: 0 every service succeeded, 1 failed otherwise, 2 bad input (nothing changed), 3 some service
    rolled back (no rollback failed), 4 some rollback failed, 5 a service is locked by another run, 6 superseded,
    130 interrupted (resumable).
    """
    from ecsops.cli.flow import run_operation
    from ecsops.cli.options import check_output, fail_usage, use_store
    from ecsops.cli.run_ids import run_id_problem
    from ecsops.fleet.fleet_file import FleetInputError, FleetOptions, read_fleet

    use_store(store_path)
    output = check_output(output)
    problem = run_id_problem(run_id)
    if problem:
        fail_usage(problem)
    options = FleetOptions(max_parallel=max_parallel, on_failure=on_failure, timeout=timeout,
                           rollback_timeout=rollback_timeout, profile=profile, region=region)
    try:
        params = read_fleet(file, options)
    except FleetInputError as exc:
        _faults(exc.faults)
    raise typer.Exit(run_operation(_command(), params, run_id=run_id, dry_run=dry_run, output=output))


def _faults(faults: list[str]) -> NoReturn:
    from ecsops.cli import exit_codes

    for fault in faults:
        typer.echo(f"error: {fault}", err=True)
    typer.echo(f"{len(faults)} problem{'s' if len(faults) != 1 else ''} found; nothing was changed", err=True)
    raise typer.Exit(exit_codes.BAD_INPUT)


def _command() -> OperationCommand[FleetParams, FleetPlan]:
    from ecsops.cli.flow import OperationCommand, dry_run_printer
    from ecsops.fleet.dry_run import dry_run_document, dry_run_lines
    from ecsops.fleet.retry import differences

    return OperationCommand("deploy-fleet", differences, _preflight, dry_run_printer(dry_run_lines, dry_run_document))


def _preflight(params: FleetParams) -> Prepared[FleetPlan]:
    """Every service read (no change); bad input exits 2 with one line per fault, AWS failing 1."""
    from ecsops.cli.flow import Prepared, say_retry
    from ecsops.cli.options import fail
    from ecsops.deploy.preflight import PreflightAwsError
    from ecsops.fleet.preflight import FleetPreflightError, check_fleet

    try:
        plan = check_fleet(params, on_retry=say_retry)
    except FleetPreflightError as exc:
        _faults(exc.faults)
    except PreflightAwsError as exc:
        fail(str(exc))
    # Each service's snapshot (preflight's reads) goes into its item, not into the run's record: a run record
    # rewritten at every checkpoint must not carry 50 task definitions.
    return Prepared(plan.target, plan.params.without_snapshots().recorded(), plan, build_params=plan.params.recorded())
