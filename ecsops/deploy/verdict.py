"""Judge one deployment from a DescribeServices answer: in progress, stable, failed, rolled back by ECS, superseded."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
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
    """What one poll saw. `reason` explains any verdict but IN_PROGRESS; `summary` is the progress line."""

    verdict: Verdict
    reason: str
    summary: str
    primary_id: str | None = None


def _deployment_line(deployment: Mapping[str, Any], ours: str) -> str:
    marker = "*" if deployment.get("id") == ours else ""
    line = (
        f"{marker}{deployment.get('id')} {deployment.get('status')} {short_name(str(deployment.get('taskDefinition')))}"
        f" running {deployment.get('runningCount', 0)}/{deployment.get('desiredCount', 0)}"
        f" pending {deployment.get('pendingCount', 0)} failed {deployment.get('failedTasks', 0)}"
    )
    rollout = deployment.get("rolloutState")
    return f"{line} {rollout}" if rollout else line


def summarize(service: Mapping[str, Any], deployment_id: str) -> str:
    """One line per poll: every deployment's counts, ours marked with '*'."""
    return "; ".join(_deployment_line(d, deployment_id) for d in service.get("deployments", []))


def circuit_breaker_rolls_back(service: Mapping[str, Any]) -> bool:
    breaker = (service.get("deploymentConfiguration") or {}).get("deploymentCircuitBreaker") or {}
    return bool(breaker.get("enable") and breaker.get("rollback"))


def judge(service: Mapping[str, Any], deployment_id: str, rollback_task_definition: str | None) -> Watch:
    """The verdict on deployment `deployment_id`.

    `rollback_task_definition` is the task definition captured before our change: a new PRIMARY on it
    after ours FAILED is ECS's circuit breaker rolling back. Pass None when judging a rollback itself.
    """
    deployments: list[Mapping[str, Any]] = list(service.get("deployments", []))
    summary = summarize(service, deployment_id)
    primary = next((d for d in deployments if d.get("status") == "PRIMARY"), None)
    primary_id = str(primary["id"]) if primary is not None else None
    ours = next((d for d in deployments if d.get("id") == deployment_id), None)

    def verdict(kind: Verdict, reason: str = "") -> Watch:
        return Watch(kind, reason, summary, primary_id)

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
    if len(deployments) == 1 and running >= desired and rollout in (None, "COMPLETED"):
        return verdict(Verdict.STABLE, f"deployment {deployment_id} completed: running {running}/{desired}")
    return verdict(Verdict.IN_PROGRESS)


def new_events(service: Mapping[str, Any], seen: set[str], since: float) -> list[str]:
    """Messages of service events created at or after `since` (epoch seconds) and not seen before,
    oldest first; marks them seen."""
    fresh: list[str] = []
    for event in reversed(list(service.get("events", []))):
        event_id = str(event.get("id"))
        created = event.get("createdAt")
        if event_id in seen or (isinstance(created, datetime) and created.timestamp() < since):
            continue
        seen.add(event_id)
        fresh.append(str(event.get("message", "")))
    return fresh
