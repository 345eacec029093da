"""`ecsops replace-instances`: flags, up-front checks (exit 2 before any change), --dry-run, then the run."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ecsops.cli import exit_codes
from ecsops.cli.options import OUTPUT_HELP, STORE_HELP

if TYPE_CHECKING:
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
                     help="Per instance, from its detach to its drain: 90s, 15m, 1h30m or seconds."),
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
        typer.Option("--run-id", metavar="ID", help="Resume this run if unfinished, or print its recorded result."),
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
    from ecsops.cli.options import STATE, use_store

    use_store(store_path)

    raise typer.Exit(
        run_replace(
            asg=asg, cluster=cluster, batch_size=batch_size, timeout=timeout, poll_interval=poll_interval,
            dry_run=dry_run, run_id=run_id, profile=profile, region=region, output=output,
            store_path=STATE.store_path,
        )
    )


def register(app: typer.Typer) -> None:
    app.command("replace-instances")(replace_instances)


def _usage(message: str) -> int:
    from ecsops.cli.usage import help_hint

    sys.stderr.write(f"error: {message} (see '{help_hint()}')\n")
    return exit_codes.BAD_INPUT


def run_replace(
    *,
    asg: str,
    cluster: str,
    batch_size: int,
    timeout: str,
    poll_interval: str | None,
    dry_run: bool,
    run_id: str | None,
    profile: str | None,
    region: str | None,
    output: str,
    store_path: str | None = None,
) -> int:
    """The whole command after typer has read the flags; returns its exit code."""
    from machines.durations import parse_duration

    output = output.lower()
    if output not in ("text", "json"):
        return _usage(f"--output must be text or json, not {output!r}")
    if not asg or not cluster:
        return _usage("--asg and --cluster are required")
    if batch_size < 1:
        return _usage(f"--batch-size must be 1 or more, not {batch_size}")
    try:
        timeout_seconds = parse_duration(timeout)
    except ValueError as exc:
        return _usage(f"--timeout: {exc}")
    poll_seconds = None
    if poll_interval is not None and poll_interval.strip():
        try:
            poll_seconds = parse_duration(poll_interval)
        except ValueError as exc:
            return _usage(f"--poll-interval: {exc}")

    from store.errors import StoreError
    from store.open import open_store

    store = None
    if not dry_run:
        try:
            store = open_store(store_path)
        except StoreError as exc:
            return _usage(str(exc))
    params: dict[str, Any] = {
        "asg": asg,
        "cluster": cluster,
        "batch_size": batch_size,
        "timeout": timeout_seconds,
        "poll_interval": poll_seconds,
        "profile": profile,
        "region": region,
    }
    from ecsops.cli.operations import get_operation
    from ecsops.cli.runner import start_or_replay

    spec = get_operation("replace-instances")
    target = f"asg:{asg}"
    if store is not None and run_id is not None and store.find_run(run_id) is not None:
        return start_or_replay(store, spec, run_id=run_id, target=target, params=params, output=output)
    plan_or_code = _preflight(asg, cluster, profile, region)
    if isinstance(plan_or_code, int):
        return plan_or_code
    if dry_run:
        _print_dry_run(plan_or_code, output)
        return exit_codes.SUCCEEDED
    assert store is not None
    return start_or_replay(store, spec, run_id=run_id, target=target, params=params, output=output)


def _preflight(asg: str, cluster: str, profile: str | None, region: str | None) -> ReplacementPlan | int:
    """The plan from read calls only; exit 2 for an unknown group, cluster, profile or region."""
    from botocore.exceptions import BotoCoreError, ClientError, NoRegionError, ProfileNotFound

    from ecsops.aws.autoscaling import AutoScalingGroupNotFound
    from ecsops.aws.ecs_instances import ClusterNotFound
    from ecsops.replace.gateways import make_gateways
    from ecsops.replace.launch_settings import LaunchSettingsError
    from ecsops.replace.plan import plan_replacement

    try:
        gateways = make_gateways(profile, region)
        return plan_replacement(gateways.reader, gateways.ecs, asg, cluster)
    except (ProfileNotFound, NoRegionError) as exc:
        return _usage(f"{exc} (set --profile/--region or AWS_PROFILE/AWS_DEFAULT_REGION)")
    except (AutoScalingGroupNotFound, ClusterNotFound, LaunchSettingsError) as exc:
        return _usage(f"{exc}; nothing was changed")
    except (ClientError, BotoCoreError) as exc:
        sys.stderr.write(f"error: reading the group and cluster failed: {exc}; nothing was changed\n")
        return exit_codes.FAILED


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
