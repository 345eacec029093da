"""The `ecsops deploy` command: flags in, preflight, then a recorded, resumable deploy run (or a dry run)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ecsops.cli.options import OUTPUT_HELP, STORE_HELP

if TYPE_CHECKING:
    from ecsops.cli.flow import OperationCommand, Prepared
    from ecsops.deploy.params import DeployParams
    from ecsops.deploy.preflight import Plan

EDIT_PANEL = "Task definition edits (an empty value removes the entry)"
WAIT_PANEL = "Rollout, wait and rollback"
RUN_PANEL = "Run, AWS and output"


def deploy(
    cluster: Annotated[str, typer.Option("--cluster", metavar="NAME", help="ECS cluster name or ARN.")],
    service: Annotated[str, typer.Option("--service", metavar="NAME", help="ECS service name or ARN.")],
    container_image: Annotated[
        list[str] | None,
        typer.Option("--container-image", metavar="NAME=IMAGE", rich_help_panel=EDIT_PANEL,
                     help="Set a container's image. Repeatable."),
    ] = None,
    container_envvar: Annotated[
        list[str] | None,
        typer.Option("--container-envvar", metavar="NAME=KEY=VALUE", rich_help_panel=EDIT_PANEL,
                     help="Set (or with an empty VALUE remove) an environment variable. Repeatable."),
    ] = None,
    container_secret: Annotated[
        list[str] | None,
        typer.Option("--container-secret", metavar="NAME=KEY=VALUEFROM", rich_help_panel=EDIT_PANEL,
                     help="Set (or remove) a secret's valueFrom. Repeatable."),
    ] = None,
    container_logopt: Annotated[
        list[str] | None,
        typer.Option("--container-logopt", metavar="NAME=DRIVER=OPTION=VALUE", rich_help_panel=EDIT_PANEL,
                     help="Set (or remove) a log driver option; DRIVER must be the container's. Repeatable."),
    ] = None,
    container_logsecret: Annotated[
        list[str] | None,
        typer.Option("--container-logsecret", metavar="NAME=DRIVER=OPTION=VALUEFROM", rich_help_panel=EDIT_PANEL,
                     help="Set (or remove) a log driver secret option. Repeatable."),
    ] = None,
    task_role: Annotated[
        str | None,
        typer.Option("--task-role", metavar="ARN|None", rich_help_panel=EDIT_PANEL,
                     help="Set the task role; the literal None clears it."),
    ] = None,
    desired_count: Annotated[
        str | None,
        typer.Option("--desired-count", metavar="N", rich_help_panel=WAIT_PANEL,
                     help="Set the service's desired count (absolute). Default: unchanged."),
    ] = None,
    taskdef: Annotated[
        str | None,
        typer.Option("--taskdef", metavar="FAMILY[:REV]|ARN", rich_help_panel=EDIT_PANEL,
                     help="Edit this task definition instead of the service's current one."),
    ] = None,
    wait_until: Annotated[
        str,
        typer.Option("--wait-until", metavar="primary-rolled|draining-started", rich_help_panel=WAIT_PANEL,
                     help="primary-rolled: our deployment is the only one and running >= desired. "
                     "draining-started: a target of the service's target group starts draining."),
    ] = "primary-rolled",
    timeout: Annotated[
        str | None,
        typer.Option("--timeout", metavar="DURATION", rich_help_panel=WAIT_PANEL, show_default=False,
                     help="How long to wait for the deployment (90s, 15m, 1h30m, 500ms, or seconds; above 0); "
                     "then roll back. Default: 15m, plus the bake times of a BLUE_GREEN, LINEAR or CANARY service."),
    ] = None,
    rollback_timeout: Annotated[
        str | None,
        typer.Option("--rollback-timeout", metavar="DURATION", rich_help_panel=WAIT_PANEL, show_default=False,
                     help="How long to wait for a rollback, from its start (above 0). Default: the --timeout."),
    ] = None,
    poll_interval: Annotated[
        str | None,
        typer.Option("--poll-interval", metavar="DURATION", rich_help_panel=WAIT_PANEL,
                     help="Time between polls (5s, 500ms, or seconds; 0 allowed). Default: adaptive, 2s growing "
                     "to 6s."),
    ] = None,
    max_failed_tasks: Annotated[
        int | None,
        typer.Option("--max-failed-tasks", metavar="N", rich_help_panel=WAIT_PANEL,
                     help="Fail (and roll back) once N tasks of our deployment failed, circuit breaker or not. "
                     "Default: ECS's threshold, min(200, max(3, ceil(desired/2))); 0: only the timeout fails."),
    ] = None,
    on_pause: Annotated[
        str,
        typer.Option("--on-pause", metavar="wait|exit", rich_help_panel=WAIT_PANEL,
                     help="At a PAUSE lifecycle hook: wait for `ecsops approve RUN_ID` (or the hook's timeout), or "
                     "record the pause and exit 7; `ecsops resume RUN_ID` follows on from there."),
    ] = "wait",
    no_rollback: Annotated[
        bool,
        typer.Option("--no-rollback", rich_help_panel=WAIT_PANEL,
                     help="On failure or timeout leave the failed deployment in place and exit 1."),
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", rich_help_panel=RUN_PANEL,
                     help="Print the task-definition diff; read calls only, no run recorded."),
    ] = False,
    run_id: Annotated[
        str | None,
        typer.Option("--run-id", metavar="ID", rich_help_panel=RUN_PANEL,
                     help="Idempotency key for CI retries: an unfinished run with this id is resumed, a finished "
                     "one's result is printed again; nothing is deployed twice. Letters, digits and ._:/- "
                     "(up to 128, starting with a letter or digit); the inputs must be the recorded ones."),
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
    """Deploy to an ECS service: edit its task definition, update the service, wait for our deployment.

    On failure or timeout the service is rolled back. Every step is checkpointed: a killed deploy continues
    with `ecsops resume RUN_ID`. go-awsecs's single-dash flags work with `update-aws-ecs-service`.

    On BLUE_GREEN, LINEAR and CANARY services ECS's own service deployment is followed to its end (bake time
    included) and rolled back with StopServiceDeployment.

    Exit codes: 0 succeeded, 1 failed, 2 bad input (nothing changed), 3 rolled back, 4 rollback failed,
    5 service locked by another run, 6 superseded by another deployment, 7 paused at a lifecycle hook
    (--on-pause exit; approve, then resume), 130 interrupted (resumable).
    """
    from ecsops.cli.flow import run_operation
    from ecsops.cli.options import check_output, fail_usage, use_store
    from ecsops.cli.run_ids import run_id_problem
    from ecsops.deploy.preflight import DeployFlags, PreflightError, parse_flags

    use_store(store_path)
    output = check_output(output)
    problem = run_id_problem(run_id)
    if problem:
        fail_usage(problem)
    flags = DeployFlags(
        cluster=cluster,
        service=service,
        images=container_image or (),
        envvars=container_envvar or (),
        secrets=container_secret or (),
        logopts=container_logopt or (),
        logsecrets=container_logsecret or (),
        task_role=task_role,
        desired_count=_whole_number("--desired-count", desired_count),
        taskdef=taskdef,
        wait_until=wait_until,
        timeout=timeout,
        rollback_timeout=rollback_timeout,
        poll_interval=poll_interval,
        no_rollback=no_rollback,
        max_failed_tasks=max_failed_tasks,
        on_pause=on_pause,
        profile=profile,
        region=region,
    )
    try:
        params = parse_flags(flags)
    except PreflightError as exc:
        fail_usage(str(exc))
    raise typer.Exit(run_operation(_command(), params, run_id=run_id, dry_run=dry_run, output=output))


def _command() -> OperationCommand[DeployParams, Plan]:
    from ecsops.cli.flow import OperationCommand, dry_run_printer
    from ecsops.deploy.params import differences
    from ecsops.deploy.preflight import dry_run_document, dry_run_lines

    return OperationCommand("deploy", differences, _preflight, dry_run_printer(dry_run_lines, dry_run_document))


def _preflight(params: DeployParams) -> Prepared[Plan]:
    """The service, its task definition and deployments read (no change); bad input exits 2, AWS failing 1."""
    from ecsops.cli.flow import Prepared, say_retry
    from ecsops.cli.options import fail, fail_usage
    from ecsops.deploy.preflight import PreflightAwsError, PreflightError, check_against_aws

    try:
        plan = check_against_aws(params, on_retry=say_retry)
    except PreflightError as exc:
        fail_usage(str(exc))
    except PreflightAwsError as exc:
        fail(str(exc))
    # Preflight's reads become the run's snapshot: a good deploy reads the service once.
    return Prepared(plan.target, plan.params_with_snapshot().recorded(), plan)


def _whole_number(flag: str, text: str | None) -> int | None:
    from ecsops.cli.options import fail_usage

    if text is None:
        return None
    try:
        return int(text.strip())
    except ValueError:
        fail_usage(f"{flag} {text!r}: expected a whole number, e.g. 3")
