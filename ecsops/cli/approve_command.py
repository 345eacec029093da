"""`ecsops approve RUN_ID [--rollback]`: act on the PAUSE hook a deploy's service deployment awaits, and record it."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ecsops.cli.options import StoreOption


def approve(
    run_id: Annotated[str, typer.Argument(metavar="RUN_ID", help="The deploy run whose deployment is paused.")],
    rollback: Annotated[
        bool,
        typer.Option("--rollback", help="Roll the deployment back instead of letting it go on."),
    ] = False,
    store_path: StoreOption = None,
) -> None:
    """Continue (or with --rollback, roll back) the service deployment of a deploy run paused at a PAUSE
    lifecycle hook, with ContinueServiceDeployment. Recorded in the run's audit trail: who, when, what.

    The run's own process (or `ecsops resume RUN_ID` after --on-pause exit) then follows the deployment on.
    Exit codes: 0 done, 1 AWS refused or failed, 2 no such run, or nothing of it awaits action.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    from ecsops.aws.clients import make_client
    from ecsops.aws.ecs import EcsGateway
    from ecsops.cli import exit_codes
    from ecsops.cli.identity import ci_identity, started_by
    from ecsops.cli.options import fail_usage, open_store_or_exit, use_store
    from ecsops.deploy.params import DeployParams
    from ecsops.deploy.service_deployment_verdict import look_at
    from store.errors import RunNotFoundError, StoreError

    use_store(store_path)
    store = open_store_or_exit()
    try:
        run = store.get_run(run_id)
    except RunNotFoundError as exc:
        fail_usage(str(exc))
    if run.operation != "deploy":
        fail_usage(f"run {run_id} is a {run.operation} run: only a deploy's service deployment can be approved")
    if run.finished:
        fail_usage(f"run {run_id} already ended ({run.status}): nothing awaits action")
    arn = run.facts.get("service_deployment_arn")
    if not arn:
        fail_usage(f"run {run_id} follows no service deployment (yet): its service deploys ROLLING, or the run "
                   f"has not bound its deployment; `ecsops status {run_id}` shows where it stands")
    params = DeployParams.model_validate(run.params)
    ecs = EcsGateway(lambda: make_client("ecs", params.profile, params.region))
    action = "ROLLBACK" if rollback else "CONTINUE"
    try:
        described = ecs.describe_service_deployments([arn])
        if not described:
            fail_usage(f"ECS does not know service deployment {arn} of run {run_id}")
        look = look_at(described[0])
        hook = look.awaiting_hook
        if hook is None:
            fail_usage(f"service deployment {arn} of run {run_id} has no PAUSE hook awaiting action "
                       f"(it is {look.summary})")
        ecs.continue_service_deployment(arn, str(hook.get("hookId")), action)
    except ClientError as exc:
        typer.echo(f"error: ContinueServiceDeployment({action}) for run {run_id} failed: {exc}; nothing was "
                   "recorded", err=True)
        raise typer.Exit(exit_codes.FAILED) from exc
    except BotoCoreError as exc:
        typer.echo(f"error: AWS could not be reached: {exc}; nothing was recorded", err=True)
        raise typer.Exit(exit_codes.FAILED) from exc
    ci: dict[str, Any] = ci_identity()
    where = f" (CI: {ci.get('url') or ci.get('system')})" if ci else ""
    text = (f"ContinueServiceDeployment {action} on PAUSE hook {hook.get('hookId')} at {look.stage} of service "
            f"deployment {arn.rsplit('/', 1)[-1]}{where}")
    try:
        store.add_note(run_id, "approve" if not rollback else "approve-rollback", text, started_by())
    except StoreError as exc:
        typer.echo(f"error: {action} was sent to ECS, but recording it failed: {exc}", err=True)
        raise typer.Exit(exit_codes.FAILED) from exc
    verb = "rolls back" if rollback else "goes on"
    typer.echo(f"run {run_id}: {text}; the deployment {verb}", err=True)
