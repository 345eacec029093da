"""`ecsops replace-instances`: flags, up-front checks (exit 2 before any change), --dry-run, then the run."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from ecsops.cli.options import OUTPUT_HELP, STORE_HELP

if TYPE_CHECKING:
    from ecsops.cli.flow import OperationCommand, Prepared
    from ecsops.replace.params import ReplaceParams
    from ecsops.replace.plan import ReplacementPlan

DEFAULT_TIMEOUT = "15m"


def replace_instances(
    *,
    asg: Annotated[
        str, typer.Option("--asg", metavar="NAME", help="The Auto Scaling group whose instances are replaced.")
    ],
    cluster: Annotated[
        str, typer.Option("--cluster", metavar="NAME", help="The ECS cluster its instances are registered in.")
    ],
    batch_size: Annotated[
        int, typer.Option("--batch-size", metavar="N", help="Instances replaced at once (>= 1).")
    ] = 1,
    timeout: Annotated[
        str,
        typer.Option("--timeout", metavar="DURATION",
                     help="Per instance, from its detach to its drain: 90s, 15m, 1h30m or seconds (above 0)."),
    ] = DEFAULT_TIMEOUT,
    poll_interval: Annotated[
        str | None,
        typer.Option("--poll-interval", metavar="DURATION",
                     help="Time between polls (5s, 500ms, or seconds; 0 allowed). Default: adaptive, 2s growing "
                     "to 15s."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List each instance and why it is out of date; read calls only.")
    ] = False,
    run_id: Annotated[
        str | None,
        typer.Option("--run-id", metavar="ID", help="Resume this run if unfinished, or print its recorded result "
                     "(the inputs must be the recorded ones). Letters, digits and ._:/-, up to 128."),
    ] = None,
    profile: Annotated[str | None, typer.Option("--profile", metavar="NAME", help="AWS profile.")] = None,
    region: Annotated[str | None, typer.Option("--region", metavar="REGION", help="AWS region.")] = None,
    output: Annotated[str, typer.Option("--output", "-o", metavar="text|json", help=OUTPUT_HELP)] = "text",
    store_path: Annotated[
        str | None, typer.Option("--store", metavar="PATH", show_default=False, help=STORE_HELP)
    ] = None,
) -> None:
    """Replace the group's ECS container instances whose launch configuration or template is out of date.

    Each instance is detached (the group launches a replacement), drained once the replacement is ACTIVE,
    and terminated when it runs no tasks; on failure it is re-activated and re-attached.
    go-awsecs's single-dash flags work with `enforce-aws-ecs-asg-launchconfig`.
    """
    from ecsops.cli.flow import run_operation
    from ecsops.cli.options import check_output, fail_usage, use_store
    from ecsops.cli.run_ids import run_id_problem

    use_store(store_path)
    output = check_output(output)
    typed = _parse(asg, cluster, batch_size, timeout, poll_interval, profile, region)
    if isinstance(typed, str):
        fail_usage(typed)
    problem = run_id_problem(run_id)
    if problem:
        fail_usage(problem)
    raise typer.Exit(run_operation(_command(), typed, run_id=run_id, dry_run=dry_run, output=output))


def register(app: typer.Typer) -> None:
    app.command("replace-instances")(replace_instances)


def _command() -> OperationCommand[ReplaceParams, ReplacementPlan]:
    from ecsops.cli.flow import OperationCommand
    from ecsops.replace.params import differences

    return OperationCommand("replace-instances", differences, _preflight, _print_dry_run)


def _parse(
    asg: str, cluster: str, batch_size: int, timeout: str, poll_interval: str | None, profile: str | None,
    region: str | None,
) -> ReplaceParams | str:
    """The params as typed, or the message saying which flag is wrong. No AWS call."""
    from ecsops.aws.arns import InvalidName, asg_reference, ecs_cluster_reference
    from ecsops.replace.params import ReplaceParams
    from machines.durations import parse_duration

    if not asg or not cluster:
        return "--asg and --cluster are required"
    try:
        group, ecs_cluster = asg_reference(asg.strip()), ecs_cluster_reference(cluster.strip())
    except InvalidName as exc:
        return str(exc)
    pinned = {reference.region for reference in (group, ecs_cluster)} - {None}
    if len(pinned) > 1 or (region and pinned and pinned != {region}):
        named = sorted(pinned | ({region} if region else set()), key=str)
        return f"--asg, --cluster and --region name different regions: {', '.join(map(str, named))}"
    accounts = {reference.account for reference in (group, ecs_cluster)} - {None}
    if len(accounts) > 1:
        return f"--asg and --cluster ARNs name different accounts: {', '.join(sorted(map(str, accounts)))}"
    if batch_size < 1:
        return f"--batch-size must be 1 or more, not {batch_size}"
    poll_seconds = None
    if poll_interval is not None and poll_interval.strip():
        try:
            poll_seconds = parse_duration(poll_interval)
        except ValueError as exc:
            return f"--poll-interval: {exc}"
    try:
        timeout_seconds = parse_duration(timeout)
    except ValueError as exc:
        return f"--timeout: {exc}"
    if timeout_seconds <= 0:
        return f"--timeout {timeout!r}: must be above 0, e.g. 90s, 15m or 1h"
    return ReplaceParams(
        asg=asg.strip(), cluster=cluster.strip(), batch_size=batch_size, timeout=timeout_seconds,
        poll_interval=poll_seconds, profile=profile or None, region=region or next(iter(pinned), None),
    )


def _preflight(typed: ReplaceParams) -> Prepared[ReplacementPlan]:
    """The plan from read calls only, and the params on the group and cluster it resolved; exit 2 for an
    unknown group, cluster, profile or region, or an ARN that names another one."""
    from botocore.exceptions import BotoCoreError, ClientError, NoRegionError, ProfileNotFound

    from ecsops.aws.arns import asg_identity, asg_reference, ecs_cluster_reference
    from ecsops.aws.autoscaling import AutoScalingGroupNotFound
    from ecsops.aws.ecs import ClusterNotFound
    from ecsops.cli.flow import Prepared
    from ecsops.cli.options import fail, fail_usage
    from ecsops.replace.gateways import make_gateways
    from ecsops.replace.launch_settings import LaunchSettingsError
    from ecsops.replace.plan import plan_replacement

    group = asg_reference(typed.asg)
    try:
        gateways = make_gateways(typed.profile, typed.region)
        plan = plan_replacement(gateways.reader, gateways.ecs, group.name, typed.cluster)
    except (ProfileNotFound, NoRegionError) as exc:
        fail_usage(f"{exc} (set --profile/--region or AWS_PROFILE/AWS_DEFAULT_REGION)")
    except (AutoScalingGroupNotFound, ClusterNotFound, LaunchSettingsError) as exc:
        fail_usage(f"{exc}; nothing was changed")
    except (ClientError, BotoCoreError) as exc:
        fail(f"reading the group and cluster failed: {exc}; nothing was changed")
    try:
        identity = asg_identity(plan.group or {})
    except ValueError as exc:
        fail(f"{exc}; nothing was changed")
    for flag, value, reference in (("--asg", typed.asg, group),
                                   ("--cluster", typed.cluster, ecs_cluster_reference(typed.cluster))):
        conflicts = reference.conflicts(identity.account, identity.region)
        if conflicts:
            fail_usage(f"{flag} {value}: its ARN names {', '.join(conflicts)} of the group found ({identity.key})")
    if typed.asg != group.name and typed.asg != (plan.group or {}).get("AutoScalingGroupARN"):
        fail_usage(f"--asg {typed.asg}: no such group; the group named {group.name} has ARN "
                   f"{(plan.group or {}).get('AutoScalingGroupARN')}")
    resolved = typed.resolved(identity, plan.cluster)
    return Prepared(resolved.target, resolved.recorded(), plan)


def _print_dry_run(plan: ReplacementPlan, output: str) -> None:
    not_in_cluster = {p.instance_id for p in plan.not_in_cluster}
    replace = {p.instance_id for p in plan.to_replace}
    rows = []
    for verdict in plan.verdicts:
        if verdict.instance_id in replace:
            action = "replace"
        elif verdict.instance_id in not_in_cluster:
            action = "not_in_cluster"
        elif verdict.out_of_date:
            action = "skip"
        else:
            action = "keep"
        rows.append(
            {
                "instance_id": verdict.instance_id,
                "action": action,
                "out_of_date": verdict.out_of_date,
                "reason": verdict.reason,
                "lifecycle_state": verdict.lifecycle_state,
                "skip_reason": verdict.skip_reason,
            }
        )
    if output == "json":
        document = {"asg": plan.asg_name, "cluster": plan.cluster, "dry_run": True, "instances": rows,
                    "summary": plan.summary()}
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
        return
    sys.stdout.write(f"dry run: {plan.summary()} (nothing was changed)\n")
    for row in rows:
        note = f" [{row['skip_reason']}]" if row["skip_reason"] else ""
        sys.stdout.write(f"  {row['instance_id']:<22} {row['action']:<15} {row['reason']}{note}\n")
