"""A service's deployment strategy as DescribeServices reports it: traffic steps, bakes, hooks, alarms, least time."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from machines.durations import format_duration

NATIVE_STRATEGIES = ("BLUE_GREEN", "LINEAR", "CANARY")


class HookPlan(BaseModel):
    """One lifecycle hook of deploymentConfiguration.lifecycleHooks."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    target_type: str  # AWS_LAMBDA or PAUSE
    target_arn: str | None = None
    stages: list[str] = Field(default_factory=list)
    timeout_minutes: int | None = None
    timeout_action: str | None = None  # CONTINUE or ROLLBACK

    def line(self) -> str:
        where = ", ".join(self.stages) or "(no stage)"
        if self.target_type == "PAUSE":
            what = "PAUSE hook: a person must act (ecsops approve RUN_ID [--rollback])"
        else:
            what = f"{self.target_type} hook {self.target_arn or ''}".rstrip()
        timeout = ""
        if self.timeout_minutes is not None:
            timeout = f"; after {format_duration(self.timeout_minutes * 60.0)} ECS does {self.timeout_action or '?'}"
        return f"{what} at {where}{timeout}"


class StrategyPlan(BaseModel):
    """deploymentConfiguration's strategy and its settings (AWS API reference, DeploymentConfiguration)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    strategy: str = "ROLLING"
    bake_minutes: int = 0
    linear_step_percent: float | None = None
    linear_step_bake_minutes: int = 0
    canary_percent: float | None = None
    canary_bake_minutes: int = 0
    hooks: list[HookPlan] = Field(default_factory=list)
    alarms: list[str] = Field(default_factory=list)
    alarms_rollback: bool = False
    circuit_breaker: bool = False  # deploymentCircuitBreaker.enable: ECS fails the deployment on failed tasks

    @property
    def native(self) -> bool:
        """Does ECS run the deployment as service revisions (and report it only through service deployments)?"""
        return self.strategy in NATIVE_STRATEGIES

    @property
    def pauses(self) -> bool:
        return any(hook.target_type == "PAUSE" for hook in self.hooks)

    def traffic_steps(self) -> list[tuple[float, int]]:
        """(production traffic % on the new revision, bake minutes after it) for each shift, the last at 100%.

        LINEAR moves stepPercent at a time with stepBakeTimeInMinutes after each step but the last; CANARY
        moves canaryPercent, bakes canaryBakeTimeInMinutes, then the rest; BLUE_GREEN moves all at once. The
        last shift is followed by bakeTimeInMinutes (BAKE_TIME), counted apart."""
        if self.strategy == "LINEAR" and self.linear_step_percent:
            count = math.ceil(100.0 / self.linear_step_percent)
            weights = [min(100.0, self.linear_step_percent * (n + 1)) for n in range(count)]
            return [(w, self.linear_step_bake_minutes if w < 100.0 else 0) for w in weights]
        if self.strategy == "CANARY" and self.canary_percent:
            return [(self.canary_percent, self.canary_bake_minutes), (100.0, 0)]
        return [(100.0, 0)]

    def least_seconds(self) -> float:
        """The least time the deployment can take: every bake ECS waits out (hooks and task starts aside)."""
        if not self.native:
            return 0.0
        steps = sum(bake for _, bake in self.traffic_steps())
        return 60.0 * (steps + self.bake_minutes)

    def lines(self) -> list[str]:
        """What the dry run says of the strategy."""
        if not self.native:
            return [f"strategy {self.strategy}: ECS replaces tasks in place (rolling update)"]
        shifts = ", ".join(
            f"{weight:g}%" + (f" (bake {format_duration(bake * 60.0)})" if bake else "")
            for weight, bake in self.traffic_steps()
        )
        lines = [
            f"strategy {self.strategy}: the new revision runs beside the old one; production traffic moves {shifts}",
            f"bake time after the last shift: {format_duration(self.bake_minutes * 60.0)}",
        ]
        lines += [f"hook: {hook.line()}" for hook in self.hooks]
        if self.alarms:
            action = "ECS rolls back" if self.alarms_rollback else "ECS only reports"
            lines.append(f"alarms watched: {', '.join(self.alarms)} (in ALARM: {action})")
        least = format_duration(self.least_seconds())
        lines.append(f"least time to finish: {least} of bakes" + ("; PAUSE hooks wait for a person on top"
                                                                 if self.pauses else ""))
        return lines


def strategy_of(service: Mapping[str, Any]) -> StrategyPlan:
    """The strategy of a DescribeServices answer's service (ROLLING when ECS names none)."""
    config: Mapping[str, Any] = service.get("deploymentConfiguration") or {}
    linear = config.get("linearConfiguration") or {}
    canary = config.get("canaryConfiguration") or {}
    alarms = config.get("alarms") or {}
    hooks = [
        HookPlan(
            target_type=str(hook.get("targetType") or "AWS_LAMBDA"),
            target_arn=hook.get("hookTargetArn"),
            stages=[str(stage) for stage in hook.get("lifecycleStages") or []],
            timeout_minutes=(hook.get("timeoutConfiguration") or {}).get("timeoutInMinutes"),
            timeout_action=(hook.get("timeoutConfiguration") or {}).get("action"),
        )
        for hook in config.get("lifecycleHooks") or []
    ]
    return StrategyPlan(
        strategy=str(config.get("strategy") or "ROLLING"),
        bake_minutes=int(config.get("bakeTimeInMinutes") or 0),
        linear_step_percent=linear.get("stepPercent"),
        linear_step_bake_minutes=int(linear.get("stepBakeTimeInMinutes") or 0),
        canary_percent=canary.get("canaryPercent"),
        canary_bake_minutes=int(canary.get("canaryBakeTimeInMinutes") or 0),
        hooks=hooks,
        alarms=[str(name) for name in alarms.get("alarmNames") or []] if alarms.get("enable") else [],
        alarms_rollback=bool(alarms.get("enable") and alarms.get("rollback")),
        circuit_breaker=bool((config.get("deploymentCircuitBreaker") or {}).get("enable")),
    )
