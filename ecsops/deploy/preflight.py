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
from ecsops.deploy.params import DEFAULT_TIMEOUT_SECONDS, ON_PAUSE_CHOICES, WAIT_UNTIL_CHOICES, DeployParams
from machines.durations import format_duration, parse_duration

if TYPE_CHECKING:
    from ecsops.aws.ecs import EcsGateway
    from ecsops.deploy.snapshot import ServiceSnapshot
    from ecsops.deploy.strategy import StrategyPlan


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
    timeout: str | None = None  # None: 15m, plus the bake times of a BLUE_GREEN, LINEAR or CANARY service
    rollback_timeout: str | None = None
    poll_interval: str | None = None
    no_rollback: bool = False
    max_failed_tasks: int | None = None
    on_pause: str = "wait"
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
    if flags.on_pause not in ON_PAUSE_CHOICES:
        raise PreflightError(f"--on-pause {flags.on_pause!r}: expected one of {', '.join(ON_PAUSE_CHOICES)}")
    timeout = DEFAULT_TIMEOUT_SECONDS if flags.timeout is None else _budget("--timeout", flags.timeout)
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
        timeout_given=flags.timeout is not None,
        on_pause=flags.on_pause,  # type: ignore[arg-type]  # checked against ON_PAUSE_CHOICES above
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


def check_against_aws(
    params: DeployParams, on_retry: Callable[[str], None] | None = None, ecs: EcsGateway | None = None
) -> Plan:
    """Read the service and the base task definition and check the edits apply. Read calls only.

    `on_retry` is told when botocore sends a read again (throttled, 5xx, endpoint unreachable) and why. `ecs`: the
    gateway to read with (a fleet's, which read its services ahead in batches); default, one of its own.
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
    from ecsops.deploy.strategy import strategy_of
    from ecsops.deploy.taskdef_edit import apply_edits, register_request_from
    from store.clock import utc_now_iso

    strategy = None
    try:
        if ecs is None:
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
        strategy = strategy_of(service)
        if strategy.native and params.wait_until == "draining-started":
            raise PreflightError(
                f"--wait-until draining-started: service {params.service} deploys {strategy.strategy}, where ECS "
                "shifts traffic itself and ecsops follows its service deployment to the end; use --wait-until "
                "primary-rolled (the default)"
            )
        briefs = _read_service_deployments(ecs, identity) if strategy.native else None
        task_definition, tags = ecs.describe_task_definition(params.taskdef or service["taskDefinition"])
        running = None
        if task_definition["taskDefinitionArn"] != service["taskDefinition"]:
            running = register_request_from(*ecs.describe_task_definition(service["taskDefinition"]))
    except EcsNotFound as exc:
        raise PreflightError(exc.message) from exc
    except ClientError as exc:
        denied = _access_denied(exc)
        if denied is not None and strategy is not None and strategy.native:
            raise PreflightError(denied) from exc
        raise PreflightAwsError(f"reading the service from AWS failed: {exc}; nothing was changed") from exc
    except (ProfileNotFound, NoRegionError, NoCredentialsError) as exc:
        raise PreflightError(f"{exc} (set --profile/--region or the standard AWS environment variables)") from exc
    except BotoCoreError as exc:
        raise PreflightAwsError(f"reading the service from AWS failed: {exc}; nothing was changed") from exc
    before = register_request_from(task_definition, tags)
    try:
        after = apply_edits(before, params.edits)
    except EditError as exc:
        raise PreflightError(str(exc)) from exc
    base = str(task_definition["taskDefinitionArn"])
    params = _with_strategy_timeout(params, strategy)
    return Plan(
        params=params.resolved(identity),
        identity=identity,
        current_task_definition=str(service["taskDefinition"]),
        current_desired_count=int(service["desiredCount"]),
        base_task_definition=base,
        before=before,
        after=after,
        snapshot=snapshot_of(service, base, before, running, read_at, briefs),
        running=running,
    )


# The service-deployment actions a BLUE_GREEN, LINEAR or CANARY deploy needs; preflight reads with the first three.
SERVICE_DEPLOYMENT_ACTIONS = (
    "ecs:ListServiceDeployments", "ecs:DescribeServiceDeployments", "ecs:DescribeServiceRevisions",
    "ecs:StopServiceDeployment", "ecs:ContinueServiceDeployment",
)
_ACTION_OF_OPERATION = {
    "ListServiceDeployments": "ecs:ListServiceDeployments",
    "DescribeServiceDeployments": "ecs:DescribeServiceDeployments",
    "DescribeServiceRevisions": "ecs:DescribeServiceRevisions",
}


def _read_service_deployments(ecs: EcsGateway, identity: EcsServiceIdentity) -> list[dict[str, Any]]:
    """The service's recent service deployments, newest first (an unfinished one is among them), and the newest
    described with its target revision: the reads a BLUE_GREEN, LINEAR or CANARY deploy depends on, each checked
    for access here."""
    briefs: list[dict[str, Any]] = ecs.list_service_deployments(identity.cluster, identity.service, pages=1)
    if briefs:
        ecs.describe_service_deployments([briefs[0]["serviceDeploymentArn"]])
        if briefs[0].get("targetServiceRevisionArn"):
            ecs.describe_service_revisions([briefs[0]["targetServiceRevisionArn"]])
    return briefs


def _access_denied(exc: Any) -> str | None:
    """For AccessDenied on a service-deployment read: what to grant, naming the action."""
    error = exc.response.get("Error", {})
    if error.get("Code") not in ("AccessDeniedException", "AccessDenied"):
        return None
    operation = str(getattr(exc, "operation_name", ""))
    action = _ACTION_OF_OPERATION.get(operation)
    if action is None:
        return None
    return (f"access denied to {action} ({error.get('Message')}): a BLUE_GREEN, LINEAR or CANARY deploy follows "
            f"ECS's service deployment and needs {', '.join(SERVICE_DEPLOYMENT_ACTIONS)}; nothing was changed")


def _with_strategy_timeout(params: DeployParams, strategy: StrategyPlan | None) -> DeployParams:
    """Without --timeout a native deploy waits 15m plus its bakes; an explicit --timeout shorter than the least
    time the deployment can take would roll back every good deploy: refused before anything changes."""
    if strategy is None or not strategy.least_seconds():
        return params
    least = strategy.least_seconds()
    if not params.timeout_given:
        return params.model_copy(update={"timeout_seconds": DEFAULT_TIMEOUT_SECONDS + least})
    if params.timeout_seconds < least:
        raise PreflightError(
            f"--timeout {format_duration(params.timeout_seconds)} is shorter than the least time this "
            f"{strategy.strategy} deployment takes ({format_duration(least)} of bake time); give at least "
            f"--timeout {format_duration(least + DEFAULT_TIMEOUT_SECONDS)}, or leave --timeout out "
            f"(default: 15m plus the bake times)"
        )
    return params


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
        "strategy": _strategy_document(plan),
        "timeout_seconds": plan.params.timeout_seconds,
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
    if plan.snapshot is not None and plan.snapshot.strategy.native:
        lines += plan.snapshot.strategy.lines()
        if plan.snapshot.unfinished_service_deployments:
            lines.append("another deployment is in progress: the deploy would wait for it to end before changing "
                         "anything")
        lines.append(f"timeout: {format_duration(p.timeout_seconds)}"
                     + ("" if p.timeout_given else " (15m plus the bake times)"))
    lines.append("nothing was changed")
    return lines


def _strategy_document(plan: Plan) -> dict[str, Any]:
    strategy = plan.snapshot.strategy if plan.snapshot is not None else None
    if strategy is None:
        return {"strategy": "ROLLING"}
    return {
        **strategy.model_dump(mode="json"),
        "traffic_steps": [{"production_percent": w, "bake_minutes": b} for w, b in strategy.traffic_steps()],
        "least_seconds": strategy.least_seconds(),
        "unfinished_service_deployments": plan.snapshot.unfinished_service_deployments if plan.snapshot else [],
    }
