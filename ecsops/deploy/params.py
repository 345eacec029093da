"""The recorded inputs of a deploy run: the parsed flags and preflight's reads, as stored in the run's params."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ecsops.aws.arns import EcsServiceIdentity, ecs_cluster_reference, ecs_service_reference
from ecsops.deploy.flags import ContainerEdits, TaskDefinitionEdits
from ecsops.deploy.snapshot import ServiceSnapshot
from machines.durations import format_duration

WaitUntil = Literal["primary-rolled", "draining-started"]
WAIT_UNTIL_CHOICES: tuple[str, ...] = ("primary-rolled", "draining-started")
OnPause = Literal["wait", "exit"]
ON_PAUSE_CHOICES: tuple[str, ...] = ("wait", "exit")
DEFAULT_TIMEOUT_SECONDS = 15 * 60.0


def ecs_failure_threshold(desired_count: int) -> int:
    """ECS's circuit-breaker threshold of failed tasks: min(200, max(3, ceil(desired / 2)))."""
    return min(200, max(3, math.ceil(desired_count / 2)))


class DeployParams(BaseModel):
    """Absolute targets only (desired count 3, never +1), so a resumed run asks for the same thing.

    As parsed from the flags, cluster and service are what was typed (a name or an ARN) and account is
    unknown; once the preflight has read the service they are its canonical names, and account and region
    those of its ARN, so a resumed run acts on the service that was resolved and locked.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    cluster: str
    service: str
    edits: TaskDefinitionEdits = Field(default_factory=TaskDefinitionEdits)
    desired_count: int | None = Field(default=None, ge=0)
    taskdef: str | None = None
    wait_until: WaitUntil = "primary-rolled"
    timeout_seconds: float = Field(default=DEFAULT_TIMEOUT_SECONDS, ge=0)
    # False: --timeout was not given, and preflight added the strategy's bake times to the default.
    timeout_given: bool = True
    # At a PAUSE lifecycle hook: wait for `ecsops approve` (and the hook's own timeout), or record and exit 7.
    on_pause: OnPause = "wait"
    # Counted from the start of the rollback. None (runs recorded before it existed): timeout_seconds.
    rollback_timeout_seconds: float | None = Field(default=None, ge=0)
    poll_interval: float | None = Field(default=None, ge=0, description="None: adaptive")
    no_rollback: bool = False
    max_failed_tasks: int | None = Field(
        default=None, ge=0, description="None: ECS's circuit-breaker threshold; 0: only the timeout fails"
    )
    profile: str | None = None
    region: str | None = None
    account: str | None = None
    # Preflight's reads, taken as the run's snapshot so the run does not read the same again.
    snapshot: ServiceSnapshot | None = None

    @property
    def rollback_budget_seconds(self) -> float:
        return self.timeout_seconds if self.rollback_timeout_seconds is None else self.rollback_timeout_seconds

    @property
    def target(self) -> str:
        """The lock key: one running run per service, from the resolved identity (see ecsops.aws.arns).

        Params recorded before the identity was resolved keep the key they were recorded under."""
        if self.account is None or self.region is None:
            return f"ecs:{self.cluster}/{self.service}"
        return EcsServiceIdentity(self.account, self.region, self.cluster, self.service).key

    def resolved(self, identity: EcsServiceIdentity) -> DeployParams:
        """These params acting on the service AWS answered with."""
        return self.model_copy(update={
            "cluster": identity.cluster, "service": identity.service,
            "region": identity.region, "account": identity.account,
        })

    def failure_limit(self, desired_count: int) -> int | None:
        """How many failed tasks fail a deployment of `desired_count` tasks; None: never (the timeout does)."""
        if self.max_failed_tasks is None:
            return ecs_failure_threshold(desired_count)
        return self.max_failed_tasks or None

    def recorded(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def differences(typed: DeployParams, recorded: dict[str, Any]) -> list[str]:
    """How the inputs of a retry (`typed`, as parsed from its flags) differ from a run's recorded params,
    one line each, e.g. `container image app: recorded nginx:1.25, now nginx:1.26`. Another spelling of the
    same service (its ARN, the cluster's ARN) is no difference; a region left to the environment is none."""
    before = DeployParams.model_validate(recorded)
    found: list[str] = []

    def compare(label: str, was: Any, now: Any) -> None:
        if was != now:
            found.append(f"{label}: recorded {_shown(was)}, now {_shown(now)}")

    cluster = ecs_cluster_reference(typed.cluster)
    service = ecs_service_reference(typed.service)
    compare("cluster", before.cluster, cluster.name)
    compare("service", before.service, service.name)
    if before.account is not None and before.region is not None:
        for reference, flag in ((cluster, "--cluster"), (service, "--service")):
            for conflict in reference.conflicts(before.account, before.region, before.cluster):
                found.append(f"{flag} names {conflict} as recorded")
    if typed.region is not None:
        compare("region", before.region, typed.region)
    compare("profile", before.profile, typed.profile)
    found += _edit_differences(before.edits, typed.edits)
    compare("desired count", before.desired_count, typed.desired_count)
    compare("task definition", before.taskdef, typed.taskdef)
    compare("wait until", before.wait_until, typed.wait_until)
    if before.timeout_given or typed.timeout_given:
        compare("timeout", _duration(before.timeout_seconds), _duration(typed.timeout_seconds))
    compare("rollback timeout", _duration(before.rollback_budget_seconds), _duration(typed.rollback_budget_seconds))
    compare("poll interval", _interval(before.poll_interval), _interval(typed.poll_interval))
    compare("no rollback", before.no_rollback, typed.no_rollback)
    compare("max failed tasks", before.max_failed_tasks, typed.max_failed_tasks)
    compare("on pause", before.on_pause, typed.on_pause)
    return found


def _edit_differences(before: TaskDefinitionEdits, now: TaskDefinitionEdits) -> list[str]:
    found: list[str] = []
    for name in sorted(set(before.containers) | set(now.containers)):
        was, is_now = before.containers.get(name, ContainerEdits()), now.containers.get(name, ContainerEdits())
        if was.image != is_now.image:
            found.append(f"container image {name}: recorded {_shown(was.image)}, now {_shown(is_now.image)}")
        for label, was_map, now_map in (
            ("envvar", was.environment, is_now.environment),
            ("secret", was.secrets, is_now.secrets),
            ("logopt", was.log_options, is_now.log_options),
            ("logsecret", was.log_secret_options, is_now.log_secret_options),
        ):
            for key in sorted(set(was_map) | set(now_map)):
                if was_map.get(key) != now_map.get(key):
                    found.append(f"container {label} {name} {key}: recorded {_shown(was_map.get(key))}, "
                                 f"now {_shown(now_map.get(key))}")
        if was.log_driver != is_now.log_driver:
            found.append(f"container log driver {name}: recorded {_shown(was.log_driver)}, "
                         f"now {_shown(is_now.log_driver)}")
    if (before.task_role_arn, before.clear_task_role) != (now.task_role_arn, now.clear_task_role):
        found.append(f"task role: recorded {_role(before)}, now {_role(now)}")
    return found


def _role(edits: TaskDefinitionEdits) -> str:
    if edits.clear_task_role:
        return "None (cleared)"
    return edits.task_role_arn or "(unchanged)"


def _duration(seconds: float) -> str:
    return format_duration(seconds)


def _interval(seconds: float | None) -> str:
    return "adaptive" if seconds is None else format_duration(seconds)


def _shown(value: Any) -> str:
    if value is None:
        return "(not given)"
    if value == "":
        return "'' (remove)"
    return str(value)
