"""The recorded inputs of a deploy run: the parsed flags and preflight's reads, as stored in the run's params."""

from __future__ import annotations

import math
from collections.abc import Callable
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


# Fields a retry is not compared on: preflight fills them in (the account of the service resolved, the snapshot
# read), or they only say how another field was given (timeout_given, see the timeout's comparison).
NOT_COMPARED = frozenset({"account", "snapshot", "timeout_given"})
# How a field is named in a difference, when not by its own name.
LABELS = {"taskdef": "task definition", "timeout_seconds": "timeout", "rollback_timeout_seconds": "rollback timeout"}

Comparison = Callable[[str, "DeployParams", "DeployParams"], list[str]]


def differences(typed: DeployParams, recorded: dict[str, Any]) -> list[str]:
    """How the inputs of a retry (`typed`, as parsed from its flags) differ from a run's recorded params,
    one line each, e.g. `container image app: recorded nginx:1.25, now nginx:1.26`. Every field is compared,
    as its own comparison says or else as it is, but for those NOT_COMPARED. Another spelling of the same
    service (its ARN, the cluster's ARN) is no difference; a region left to the environment is none."""
    before = DeployParams.model_validate(recorded)
    found: list[str] = []
    for name in DeployParams.model_fields:
        if name not in NOT_COMPARED:
            found += _COMPARISONS.get(name, _as_is)(name, before, typed)
    return found


def _label(name: str) -> str:
    return LABELS.get(name, name.replace("_", " "))


def _line(label: str, was: Any, now: Any) -> list[str]:
    return [] if was == now else [f"{label}: recorded {_shown(was)}, now {_shown(now)}"]


def _as_is(name: str, before: DeployParams, typed: DeployParams) -> list[str]:
    return _line(_label(name), getattr(before, name), getattr(typed, name))


def _named(name: str, before: DeployParams, typed: DeployParams) -> list[str]:
    """The cluster or the service, typed as a name or an ARN; an ARN must not name another account or region."""
    reference = (ecs_cluster_reference if name == "cluster" else ecs_service_reference)(getattr(typed, name))
    found = _line(_label(name), getattr(before, name), reference.name)
    if before.account is not None and before.region is not None:
        found += [f"--{name} names {conflict} as recorded"
                  for conflict in reference.conflicts(before.account, before.region, before.cluster)]
    return found


def _region(name: str, before: DeployParams, typed: DeployParams) -> list[str]:
    return [] if typed.region is None else _line(_label(name), before.region, typed.region)


def _edits(name: str, before: DeployParams, typed: DeployParams) -> list[str]:
    return _edit_differences(before.edits, typed.edits)


def _timeout(name: str, before: DeployParams, typed: DeployParams) -> list[str]:
    """A timeout neither run gave is the default plus the strategy's bake times, which preflight found then."""
    if not (before.timeout_given or typed.timeout_given):
        return []
    return _line(_label(name), _duration(before.timeout_seconds), _duration(typed.timeout_seconds))


def _rollback_timeout(name: str, before: DeployParams, typed: DeployParams) -> list[str]:
    return _line(_label(name), _duration(before.rollback_budget_seconds), _duration(typed.rollback_budget_seconds))


def _poll_interval(name: str, before: DeployParams, typed: DeployParams) -> list[str]:
    return _line(_label(name), _interval(before.poll_interval), _interval(typed.poll_interval))


_COMPARISONS: dict[str, Comparison] = {
    "cluster": _named,
    "service": _named,
    "region": _region,
    "edits": _edits,
    "timeout_seconds": _timeout,
    "rollback_timeout_seconds": _rollback_timeout,
    "poll_interval": _poll_interval,
}


# How a container's edit is named in a difference; `flags` only records how the edits were spelt.
CONTAINER_LABELS = {"environment": "envvar", "secrets": "secret", "log_driver": "log driver",
                    "log_options": "logopt", "log_secret_options": "logsecret"}
CONTAINER_NOT_COMPARED = frozenset({"flags"})
# The task definition's own edits, compared together (setting and clearing the role are one choice).
TASK_ROLE_FIELDS = ("task_role_arn", "clear_task_role")


def _edit_differences(before: TaskDefinitionEdits, now: TaskDefinitionEdits) -> list[str]:
    found: list[str] = []
    for name in sorted(set(before.containers) | set(now.containers)):
        was, is_now = before.containers.get(name, ContainerEdits()), now.containers.get(name, ContainerEdits())
        for field in ContainerEdits.model_fields:
            if field in CONTAINER_NOT_COMPARED:
                continue
            label = f"container {CONTAINER_LABELS.get(field, field)} {name}"
            was_value, now_value = getattr(was, field), getattr(is_now, field)
            if not isinstance(was_value, dict):
                found += _line(label, was_value, now_value)
                continue
            found += [line for key in sorted(set(was_value) | set(now_value))
                      for line in _line(f"{label} {key}", was_value.get(key), now_value.get(key))]
    if tuple(getattr(before, f) for f in TASK_ROLE_FIELDS) != tuple(getattr(now, f) for f in TASK_ROLE_FIELDS):
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
