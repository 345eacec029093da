"""Check a deploy before any run is recorded: parse its flags, then read (never change) AWS to validate them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ecsops.aws.arns import (
    EcsServiceIdentity,
    InvalidName,
    Reference,
    ecs_cluster_reference,
    ecs_service_identity,
    ecs_service_reference,
)
from ecsops.deploy.flags import EditError, parse_edits
from ecsops.deploy.params import WAIT_UNTIL_CHOICES, DeployParams
from machines.durations import parse_duration

if TYPE_CHECKING:
    from ecsops.deploy.snapshot import ServiceSnapshot


class PreflightError(ValueError):
    """Bad usage or input: nothing was changed. The message says what to fix."""


class PreflightAwsError(RuntimeError):
    """AWS could not be read (throttled past retries, 5xx, network, access denied): nothing was changed,
    but the input is not known to be wrong, so this is exit 1, not 2."""


@dataclass(frozen=True)
class DeployFlags:
    """The deploy flags as typed, before parsing."""

    cluster: str | None
    service: str | None
    images: Sequence[str] = ()
    envvars: Sequence[str] = ()
    secrets: Sequence[str] = ()
    logopts: Sequence[str] = ()
    logsecrets: Sequence[str] = ()
    task_role: str | None = None
    desired_count: int | None = None
    taskdef: str | None = None
    wait_until: str = "primary-rolled"
    timeout: str = "15m"
    rollback_timeout: str | None = None
    poll_interval: str | None = None
    no_rollback: bool = False
    max_failed_tasks: int | None = None
    profile: str | None = None
    region: str | None = None


@dataclass(frozen=True)
class Plan:
    """What a deploy would do, read from AWS: the dry run prints it, the run recomputes it itself."""

    params: DeployParams  # resolved: canonical names, the service's account and region
    identity: EcsServiceIdentity
    current_task_definition: str
    current_desired_count: int
    base_task_definition: str
    before: dict[str, Any]
    after: dict[str, Any]
    snapshot: ServiceSnapshot | None = None
    # What runs, as a register request, when --taskdef names another task definition: the diff's start.
    running: dict[str, Any] | None = None

    @property
    def target(self) -> str:
        return self.identity.key

    @property
    def registers_revision(self) -> bool:
        from ecsops.deploy.taskdef_edit import has_changes

        return has_changes(self.before, self.after)

    @property
    def diff_from(self) -> dict[str, Any]:
        return self.running if self.running is not None else self.before

    def params_with_snapshot(self) -> DeployParams:
        """The params to record: preflight's reads go with them, so the run does not read the same again."""
        return self.params.model_copy(update={"snapshot": self.snapshot})


def parse_flags(flags: DeployFlags) -> DeployParams:
    """The deploy's params as typed (cluster and service not yet resolved), or PreflightError naming the
    flag. Makes no AWS call."""
    if not flags.cluster or not flags.cluster.strip():
        raise PreflightError("--cluster is required: the ECS cluster of the service")
    if not flags.service or not flags.service.strip():
        raise PreflightError("--service is required: the ECS service to deploy")
    cluster, service = flags.cluster.strip(), flags.service.strip()
    try:
        references = (ecs_cluster_reference(cluster), ecs_service_reference(service))
    except InvalidName as exc:
        raise PreflightError(str(exc)) from exc
    region = _region(flags.region or None, *references)
    try:
        edits = parse_edits(
            flags.images, flags.envvars, flags.secrets, flags.logopts, flags.logsecrets, flags.task_role
        )
    except EditError as exc:
        raise PreflightError(str(exc)) from exc
    if flags.desired_count is not None and flags.desired_count < 0:
        raise PreflightError(f"--desired-count {flags.desired_count}: must be 0 or more")
    if flags.max_failed_tasks is not None and flags.max_failed_tasks < 0:
        raise PreflightError(f"--max-failed-tasks {flags.max_failed_tasks}: must be 0 (off) or more")
    if flags.wait_until not in WAIT_UNTIL_CHOICES:
        raise PreflightError(f"--wait-until {flags.wait_until!r}: expected one of {', '.join(WAIT_UNTIL_CHOICES)}")
    timeout = _budget("--timeout", flags.timeout)
    rollback_timeout = timeout if flags.rollback_timeout is None else _budget("--rollback-timeout",
                                                                             flags.rollback_timeout)
    poll_interval = None
    if flags.poll_interval is not None and flags.poll_interval.strip():
        try:
            poll_interval = parse_duration(flags.poll_interval)
        except ValueError as exc:
            raise PreflightError(f"--poll-interval: {exc}") from exc
    taskdef = flags.taskdef.strip() if flags.taskdef and flags.taskdef.strip() else None
    return DeployParams(
        cluster=cluster,
        service=service,
        edits=edits,
        desired_count=flags.desired_count,
        taskdef=taskdef,
        wait_until=flags.wait_until,  # type: ignore[arg-type]  # checked against WAIT_UNTIL_CHOICES above
        timeout_seconds=timeout,
        rollback_timeout_seconds=rollback_timeout,
        poll_interval=poll_interval,
        no_rollback=flags.no_rollback,
        max_failed_tasks=flags.max_failed_tasks,
        profile=flags.profile or None,
        region=region,
    )


def _budget(flag: str, text: str) -> float:
    """A wait budget: a duration above zero (a zero budget would give up before the first look)."""
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise PreflightError(f"{flag}: {exc}") from exc
    if seconds <= 0:
        raise PreflightError(f"{flag} {text!r}: must be above 0, e.g. 90s, 15m or 1h")
    return seconds


def _region(region: str | None, cluster: Reference, service: Reference) -> str | None:
    """--region, else the region the ARNs name; refuses ARNs that disagree with each other or with --region."""
    if service.cluster is not None and service.cluster != cluster.name:
        raise PreflightError(
            f"--service names a service of cluster {service.cluster!r} but --cluster is {cluster.name!r}"
        )
    for what in ("account", "region"):
        mine, theirs = getattr(cluster, what), getattr(service, what)
        if mine is not None and theirs is not None and mine != theirs:
            raise PreflightError(f"--cluster and --service ARNs name different {what}s: {mine} and {theirs}")
    pinned = cluster.region or service.region
    if region is not None and pinned is not None and pinned != region:
        raise PreflightError(f"--region {region} but the ARN given names region {pinned}")
    return region or pinned


def check_against_aws(params: DeployParams, on_retry: Callable[[str], None] | None = None) -> Plan:
    """Read the service and the base task definition and check the edits apply. Read calls only.

    `on_retry` is told when botocore sends a read again (throttled, 5xx, endpoint unreachable) and why.
    """
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        NoCredentialsError,
        NoRegionError,
        ProfileNotFound,
    )

    from ecsops.aws.clients import make_client
    from ecsops.aws.ecs import EcsGateway, EcsNotFound
    from ecsops.deploy.snapshot import snapshot_of
    from ecsops.deploy.taskdef_edit import apply_edits, register_request_from
    from store.clock import utc_now_iso

    try:
        ecs = EcsGateway(lambda: make_client("ecs", params.profile, params.region, on_retry=on_retry))
        read_at = utc_now_iso()
        service = ecs.describe_service(params.cluster, params.service)
        _check_deployment_controller(params.service, service)
        identity = _identity(params, service)
        if params.wait_until == "draining-started" and not any(
            lb.get("targetGroupArn") for lb in service.get("loadBalancers") or []
        ):
            raise PreflightError(
                f"--wait-until draining-started: service {params.service} has no load balancer target group; "
                "use --wait-until primary-rolled"
            )
        task_definition, tags = ecs.describe_task_definition(params.taskdef or service["taskDefinition"])
        running = None
        if task_definition["taskDefinitionArn"] != service["taskDefinition"]:
            running = register_request_from(*ecs.describe_task_definition(service["taskDefinition"]))
    except EcsNotFound as exc:
        raise PreflightError(exc.message) from exc
    except (ProfileNotFound, NoRegionError, NoCredentialsError) as exc:
        raise PreflightError(f"{exc} (set --profile/--region or the standard AWS environment variables)") from exc
    except (BotoCoreError, ClientError) as exc:
        raise PreflightAwsError(f"reading the service from AWS failed: {exc}; nothing was changed") from exc
    before = register_request_from(task_definition, tags)
    try:
        after = apply_edits(before, params.edits)
    except EditError as exc:
        raise PreflightError(str(exc)) from exc
    base = str(task_definition["taskDefinitionArn"])
    return Plan(
        params=params.resolved(identity),
        identity=identity,
        current_task_definition=str(service["taskDefinition"]),
        current_desired_count=int(service["desiredCount"]),
        base_task_definition=base,
        before=before,
        after=after,
        snapshot=snapshot_of(service, base, before, running, read_at),
        running=running,
    )


# What deploys a service whose deployments ECS does not control: AWS refuses UpdateService's new task
# definition for it, part-way through a run, so it is refused here before anything changes.
_OTHER_CONTROLLERS = {
    "CODE_DEPLOY": "a CodeDeploy deployment deploys it (aws deploy create-deployment with an AppSpec naming the new "
    "task definition)",
    "EXTERNAL": "its external controller deploys it, with task sets (CreateTaskSet, UpdateServicePrimaryTaskSet)",
}


def _check_deployment_controller(service_name: str, service: dict[str, Any]) -> None:
    controller = str((service.get("deploymentController") or {}).get("type") or "ECS")
    if controller == "ECS":
        return
    how = _OTHER_CONTROLLERS.get(controller, "something other than ECS deploys it")
    raise PreflightError(
        f"service {service_name} uses the {controller} deployment controller: {how}; ecsops deploys only "
        "services whose deployment controller is ECS. Nothing was changed"
    )


def _identity(params: DeployParams, service: dict[str, Any]) -> EcsServiceIdentity:
    """The service's identity from DescribeServices' answer; an ARN typed must name that very service."""
    try:
        identity = ecs_service_identity(service)
    except ValueError as exc:
        raise PreflightAwsError(f"{exc}; nothing was changed") from exc
    for flag, typed, reference in (
        ("--cluster", params.cluster, ecs_cluster_reference(params.cluster)),
        ("--service", params.service, ecs_service_reference(params.service)),
    ):
        conflicts = reference.conflicts(identity.account, identity.region, identity.cluster)
        if conflicts:
            raise PreflightError(
                f"{flag} {typed}: its ARN names {', '.join(conflicts)} of the service found ({identity.key})"
            )
    return identity


def dry_run_document(plan: Plan) -> dict[str, Any]:
    from ecsops.deploy.taskdef_diff import changes_as_json

    return {
        "dry_run": True,
        "cluster": plan.params.cluster,
        "service": plan.params.service,
        "current_task_definition": plan.current_task_definition,
        "base_task_definition": plan.base_task_definition,
        "registers_new_revision": plan.registers_revision,
        "changes": changes_as_json(
            plan.diff_from, plan.after, plan.current_desired_count, plan.params.desired_count
        ),
    }


def dry_run_lines(plan: Plan) -> list[str]:
    from ecsops.aws.ecs import short_name
    from ecsops.deploy.taskdef_diff import describe_changes

    p = plan.params
    lines = [f"dry run: deploy to {p.cluster}/{p.service} (now on {short_name(plan.current_task_definition)})"]
    if plan.running is not None:
        lines.append(f"switching {short_name(plan.current_task_definition)} -> {short_name(plan.base_task_definition)}")
    lines += describe_changes(plan.diff_from, plan.after, plan.current_desired_count, p.desired_count)
    if plan.registers_revision:
        lines.append(f"would register a new revision of {short_name(plan.base_task_definition).rsplit(':', 1)[0]} "
                     f"(based on {short_name(plan.base_task_definition)}) and deploy it")
    elif plan.running is not None:
        lines.append(f"would deploy {short_name(plan.base_task_definition)} as it is (no new revision)")
    else:
        lines.append(f"task definition unchanged: would deploy {short_name(plan.base_task_definition)} again "
                     "(forced new deployment, no new revision)")
    lines.append("nothing was changed")
    return lines
