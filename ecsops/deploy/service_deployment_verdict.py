"""Judge one service deployment from a DescribeServiceDeployments answer, and say why it ended as it did."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class Phase(enum.Enum):
    """Where a service deployment stands, by its status (botocore's ServiceDeploymentStatus)."""

    IN_PROGRESS = "in_progress"  # PENDING, IN_PROGRESS, STOP_REQUESTED
    PAUSED = "paused"  # IN_PROGRESS with a PAUSE hook AWAITING_ACTION
    ROLLING_BACK = "rolling_back"  # ROLLBACK_REQUESTED, ROLLBACK_IN_PROGRESS
    SUCCESSFUL = "successful"
    ROLLED_BACK = "rolled_back"  # ROLLBACK_SUCCESSFUL
    ROLLBACK_FAILED = "rollback_failed"
    STOPPED = "stopped"

    @property
    def final(self) -> bool:
        return self in (Phase.SUCCESSFUL, Phase.ROLLED_BACK, Phase.ROLLBACK_FAILED, Phase.STOPPED)


_BY_STATUS = {
    "PENDING": Phase.IN_PROGRESS,
    "IN_PROGRESS": Phase.IN_PROGRESS,
    "STOP_REQUESTED": Phase.IN_PROGRESS,
    "ROLLBACK_REQUESTED": Phase.ROLLING_BACK,
    "ROLLBACK_IN_PROGRESS": Phase.ROLLING_BACK,
    "SUCCESSFUL": Phase.SUCCESSFUL,
    "ROLLBACK_SUCCESSFUL": Phase.ROLLED_BACK,
    "ROLLBACK_FAILED": Phase.ROLLBACK_FAILED,
    "STOPPED": Phase.STOPPED,
}


@dataclass(frozen=True)
class Look:
    """What one DescribeServiceDeployments said of our deployment."""

    phase: Phase
    status: str
    stage: str | None
    production_weight: float | None  # the target revision's requestedProductionTrafficWeight
    test_weight: float | None
    awaiting_hook: Mapping[str, Any] | None  # the PAUSE hook awaiting action, if any
    failure_count: int  # deploymentCircuitBreaker.failureCount: failed tasks of the new revision

    @property
    def summary(self) -> str:
        parts = [self.status]
        if self.stage:
            parts.append(f"stage {self.stage}")
        if self.production_weight is not None:
            parts.append(f"production traffic {self.production_weight:g}%")
        return ", ".join(parts)


def look_at(deployment: Mapping[str, Any]) -> Look:
    status = str(deployment.get("status") or "PENDING")
    phase = _BY_STATUS.get(status, Phase.IN_PROGRESS)
    awaiting = next(
        (hook for hook in deployment.get("lifecycleHookDetails") or []
         if hook.get("status") == "AWAITING_ACTION" and hook.get("targetType") == "PAUSE"),
        None,
    )
    if phase is Phase.IN_PROGRESS and awaiting is not None:
        phase = Phase.PAUSED
    target = deployment.get("targetServiceRevision") or {}
    breaker = deployment.get("deploymentCircuitBreaker") or {}
    return Look(
        phase=phase,
        status=status,
        stage=deployment.get("lifecycleStage"),
        production_weight=_weight(target.get("requestedProductionTrafficWeight")),
        test_weight=_weight(target.get("requestedTestTrafficWeight")),
        awaiting_hook=awaiting,
        failure_count=int(breaker.get("failureCount") or 0),
    )


def _weight(value: Any) -> float | None:
    return float(value) if value is not None else None


def trigger(deployment: Mapping[str, Any], stage_seen: str | None = None) -> str:
    """What made ECS roll back or stop the deployment: the failing hook and its stage, the alarms in ALARM,
    the circuit breaker's counts, the rollback's reason and the statusReason, as far as ECS says."""
    found: list[str] = []
    stage = deployment.get("lifecycleStage") or stage_seen
    for hook in deployment.get("lifecycleHookDetails") or []:
        if hook.get("status") in ("FAILED", "TIMED_OUT"):
            name = hook.get("targetArn") or hook.get("hookId")
            verb = "failed" if hook.get("status") == "FAILED" else "timed out"
            found.append(f"{hook.get('targetType', 'lifecycle')} hook {name} {verb} at {stage_seen or stage}")
    alarms = deployment.get("alarms") or {}
    if alarms.get("status") == "TRIGGERED" or alarms.get("triggeredAlarmNames"):
        names = ", ".join(alarms.get("triggeredAlarmNames") or []) or "(unnamed)"
        found.append(f"alarm in ALARM: {names}")
    breaker = deployment.get("deploymentCircuitBreaker") or {}
    if breaker.get("status") == "TRIGGERED":
        found.append(f"circuit breaker: {breaker.get('failureCount', 0)} failed tasks reached its threshold of "
                     f"{breaker.get('threshold', '?')}")
    rollback = deployment.get("rollback") or {}
    if rollback.get("reason"):
        found.append(f"rollback reason: {rollback['reason']}")
    if deployment.get("statusReason"):
        found.append(f"ECS: {deployment['statusReason']}")
    return "; ".join(dict.fromkeys(found)) or f"status {deployment.get('status')}"


def hook_lines(deployment: Mapping[str, Any]) -> list[str]:
    """One line per lifecycle hook ECS lists for the deployment's current stage."""
    lines = []
    for hook in deployment.get("lifecycleHookDetails") or []:
        name = hook.get("targetArn") or hook.get("hookId")
        kind = hook.get("targetType", "hook")
        lines.append(f"  hook {kind} {_short(str(name))}: {hook.get('status')}")
    return lines


def _short(arn: str) -> str:
    return arn.rsplit(":", 1)[-1] if arn.startswith("arn:") else arn
