"""Judge one deployment from a DescribeServices answer: in progress, stable, failed, rolled back by ECS, superseded."""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ecsops.aws.ecs import short_name


class Verdict(enum.Enum):
    IN_PROGRESS = "in_progress"
    STABLE = "stable"
    FAILED = "failed"
    ECS_ROLLED_BACK = "ecs_rolled_back"
    SUPERSEDED = "superseded"


@dataclass(frozen=True)
class Watch:
    """What one poll saw. `reason` explains any verdict but IN_PROGRESS; `summary` is one line for a reason."""

    verdict: Verdict
    reason: str
    summary: str
    primary_id: str | None = None
    failed_tasks: int | None = None  # our deployment's failedTasks; None when it is not listed


FailureLimit = Callable[[int], "int | None"]
"""The failed-task count that fails a deployment of a given desired count; None: no limit."""

TASK_DEFINITION_WIDTH = 16


def _short_task_definition(arn: str) -> str:
    """`family:rev` in at most TASK_DEFINITION_WIDTH characters; a long family is cut, never the revision."""
    name = short_name(arn)
    if len(name) <= TASK_DEFINITION_WIDTH:
        return name
    family, _, revision = name.rpartition(":")
    keep = max(1, TASK_DEFINITION_WIDTH - len(revision) - 2)
    return f"{family[:keep]}…:{revision}"


def _counts(deployment: Mapping[str, Any]) -> str:
    counts = f"running {deployment.get('runningCount', 0)}/{deployment.get('desiredCount', 0)}"
    if deployment.get("pendingCount"):
        counts += f", {deployment['pendingCount']} pending"
    if deployment.get("failedTasks"):
        counts += f", {deployment['failedTasks']} failed"
    rollout = deployment.get("rolloutState")
    if rollout and rollout != "IN_PROGRESS":
        counts += f", {rollout}"
    return counts


def _label(deployment: Mapping[str, Any], ours: str) -> str:
    deployment_id = str(deployment.get("id"))
    return "ours" if deployment_id == ours else "…" + deployment_id[-5:]


def deployment_lines(service: Mapping[str, Any], deployment_id: str) -> list[str]:
    """One short line per deployment for the progress log (fits 80 columns with the time prefix)."""
    return [
        f"  {_label(d, deployment_id):<6} {d.get('status')!s:<7} "
        f"{_short_task_definition(str(d.get('taskDefinition')))} {_counts(d)}"
        for d in service.get("deployments", [])
    ]


def summarize(service: Mapping[str, Any], deployment_id: str) -> str:
    """Every deployment's counts on one line, ours marked, for a run's reason."""
    parts = []
    for d in service.get("deployments", []):
        mark = " (ours)" if d.get("id") == deployment_id else ""
        parts.append(f"{short_name(str(d.get('taskDefinition')))} {d.get('status')}{mark} {_counts(d)}")
    return "; ".join(parts)


def circuit_breaker_rolls_back(service: Mapping[str, Any]) -> bool:
    breaker = (service.get("deploymentConfiguration") or {}).get("deploymentCircuitBreaker") or {}
    return bool(breaker.get("enable") and breaker.get("rollback"))


def judge(
    service: Mapping[str, Any],
    deployment_id: str,
    rollback_task_definition: str | None,
    failure_limit: FailureLimit | None = None,
) -> Watch:
    """The verdict on deployment `deployment_id`.

    `rollback_task_definition` is the task definition captured before our change: a new PRIMARY on it
    after ours FAILED is ECS's circuit breaker rolling back. Pass None when judging a rollback itself.
    `failure_limit` fails our deployment once its failedTasks reach the limit, whether or not ECS's circuit
    breaker is on; placement trouble ("unable to place a task") never counts, as ECS does not count it.
    """
    deployments: list[Mapping[str, Any]] = list(service.get("deployments", []))
    summary = summarize(service, deployment_id)
    primary = next((d for d in deployments if d.get("status") == "PRIMARY"), None)
    primary_id = str(primary["id"]) if primary is not None else None
    ours = next((d for d in deployments if d.get("id") == deployment_id), None)

    failed_tasks = int(ours.get("failedTasks", 0)) if ours is not None else None

    def verdict(kind: Verdict, reason: str = "") -> Watch:
        return Watch(kind, reason, summary, primary_id, failed_tasks)

    # Only a service whose circuit breaker rolls back can be rolled back by ECS; otherwise a new PRIMARY on
    # the previous task definition is a person or another pipeline reverting: someone else's deploy.
    ecs_rollback = (
        primary is not None
        and primary.get("id") != deployment_id
        and rollback_task_definition is not None
        and primary.get("taskDefinition") == rollback_task_definition
        and circuit_breaker_rolls_back(service)
    )
    if ours is None:
        if ecs_rollback:
            # ECS drops the failed deployment once its rollback completes; a poll may only see the result.
            return verdict(Verdict.ECS_ROLLED_BACK, f"deployment {deployment_id} is gone and the service is back on "
                           f"{short_name(str(rollback_task_definition))} ({primary_id}), as ECS's circuit breaker "
                           "rollback leaves it")
        primary_td = short_name(str(primary.get("taskDefinition"))) if primary is not None else "?"
        return verdict(Verdict.SUPERSEDED, f"deployment {deployment_id} is no longer listed and {primary_id} "
                       f"({primary_td}) is PRIMARY: someone else deployed; not rolling back over it")
    failed_reason = str(ours.get("rolloutStateReason") or "rolloutState FAILED")
    if ours.get("status") != "PRIMARY":
        if ours.get("rolloutState") == "FAILED" and ecs_rollback:
            return verdict(Verdict.ECS_ROLLED_BACK, f"deployment {deployment_id} failed ({failed_reason}); ECS's "
                           f"circuit breaker rolled back to {short_name(str(rollback_task_definition))} ({primary_id})")
        primary_td = short_name(str(primary.get("taskDefinition"))) if primary is not None else "?"
        return verdict(Verdict.SUPERSEDED, f"deployment {primary_id} ({primary_td}) replaced our deployment "
                       f"{deployment_id} as PRIMARY: someone else deployed; not rolling back over it")
    if ours.get("rolloutState") == "FAILED":
        if circuit_breaker_rolls_back(service) and rollback_task_definition is not None:
            # ECS is about to roll back by itself; rolling back on top of it would start a second deployment.
            return verdict(Verdict.IN_PROGRESS)
        return verdict(Verdict.FAILED, f"deployment {deployment_id} failed: {failed_reason}")
    running = int(ours.get("runningCount", 0))
    desired = int(ours.get("desiredCount", 0))
    rollout = ours.get("rolloutState")
    limit = failure_limit(desired) if failure_limit is not None else None
    if limit is not None and failed_tasks is not None and failed_tasks >= limit and rollout != "COMPLETED":
        return verdict(Verdict.FAILED, f"deployment {deployment_id} failed: {failed_tasks} failed tasks reached "
                       f"the limit of {limit}")
    if len(deployments) == 1 and running >= desired and rollout in (None, "COMPLETED"):
        return verdict(Verdict.STABLE, f"deployment {deployment_id} completed: running {running}/{desired}")
    return verdict(Verdict.IN_PROGRESS)
