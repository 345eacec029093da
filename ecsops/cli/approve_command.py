"""`ecsops approve RUN_ID [--rollback]`: act on the PAUSE hook a deploy's service deployment awaits, and record it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ecsops.cli.options import StoreOption

if TYPE_CHECKING:
    from store.models import ItemRecord


def approve(
    run_id: Annotated[str, typer.Argument(metavar="RUN_ID", help="The deploy (or deploy-fleet) run whose "
                                          "deployment is paused.")],
    rollback: Annotated[
        bool,
        typer.Option("--rollback", help="Roll the deployment back instead of letting it go on."),
    ] = False,
    service: Annotated[
        str | None,
        typer.Option("--service", metavar="CLUSTER/SERVICE", show_default=False,
                     help="Of a deploy-fleet run: the service whose deployment to act on. Default: the one paused."),
    ] = None,
    store_path: StoreOption = None,
) -> None:
    """Continue (or with --rollback, roll back) the service deployment of a deploy run paused at a PAUSE
    lifecycle hook, with ContinueServiceDeployment. Recorded in the run's audit trail: who, when, what.

    The run's own process (or `ecsops resume RUN_ID` after --on-pause exit) then follows the deployment on. In a
    deploy-fleet run the paused service waits while the others go on; --service names it when several are paused.
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
    if run.operation not in ("deploy", "deploy-fleet"):
        fail_usage(f"run {run_id} is a {run.operation} run: only a deploy's service deployment can be approved")
    if run.finished:
        fail_usage(f"run {run_id} already ended ({run.status}): nothing awaits action")
    if service is not None and run.operation != "deploy-fleet":
        fail_usage(f"--service is for a deploy-fleet run; run {run_id} deploys one service")
    if run.operation == "deploy-fleet":
        which, arn = _fleet_service_deployment(run_id, store.items(run_id), service)
        of = f" of {which}"
        profile, region = run.params.get("profile"), run.params.get("region")
    else:
        arn, of = str(run.facts.get("service_deployment_arn") or ""), ""
        params = DeployParams.model_validate(run.params)
        profile, region = params.profile, params.region
    if not arn:
        fail_usage(f"run {run_id} follows no service deployment (yet): its service deploys ROLLING, or the run "
                   f"has not bound its deployment; `ecsops status {run_id}` shows where it stands")
    ecs = EcsGateway(lambda: make_client("ecs", profile, region))
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
            f"deployment {arn.rsplit('/', 1)[-1]}{of}{where}")
    try:
        store.add_note(run_id, "approve" if not rollback else "approve-rollback", text, started_by())
    except StoreError as exc:
        typer.echo(f"error: {action} was sent to ECS, but recording it failed: {exc}", err=True)
        raise typer.Exit(exit_codes.FAILED) from exc
    verb = "rolls back" if rollback else "goes on"
    typer.echo(f"run {run_id}: {text}; the deployment {verb}", err=True)


def _fleet_service_deployment(run_id: str, items: Sequence[ItemRecord], service: str | None) -> tuple[str, str]:
    """(CLUSTER/SERVICE, its service deployment) of the fleet's service named by --service, or of the one paused."""
    from ecsops.cli.options import fail_usage

    if service is not None:
        named = [item for item in items if item.item_id == service]
        if not named:
            fail_usage(f"run {run_id} deploys no service {service}; its services: "
                       f"{', '.join(item.item_id for item in items)}")
        return service, str(named[0].data.get("service_deployment_arn") or "")
    paused = [item for item in items if item.state == "paused"]
    if len(paused) > 1:
        fail_usage(f"run {run_id} has {len(paused)} services paused at a hook "
                   f"({', '.join(item.item_id for item in paused)}): say which with --service")
    if not paused:
        fail_usage(f"no service of run {run_id} is paused at a hook; `ecsops status {run_id}` shows where each "
                   "stands")
    return paused[0].item_id, str(paused[0].data.get("service_deployment_arn") or "")
