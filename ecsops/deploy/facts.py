"""What a deploy run records as it goes: the rollback target, what it registered and started, why it rolls back."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ecsops.deploy.strategy import StrategyPlan


class RollbackTarget(BaseModel):
    """The service as it was before the change: what a rollback restores."""

    model_config = ConfigDict(extra="forbid")

    task_definition: str
    desired_count: int
    deployments: list[dict[str, Any]] = Field(default_factory=list)

    @property
    def deployment_ids(self) -> set[str]:
        return {str(d["id"]) for d in self.deployments if d.get("id")}

    @property
    def primary_id(self) -> str | None:
        return next((str(d["id"]) for d in self.deployments if d.get("status") == "PRIMARY"), None)


class StopReason(BaseModel):
    """One distinct reason why tasks of a deployment stopped, and how many of the tasks read had it."""

    model_config = ConfigDict(extra="forbid")

    text: str  # stoppedReason, with the containers' exit codes and own reasons when they add something
    stop_code: str | None = None
    count: int = 0

    @property
    def verb(self) -> str:
        return "failed to start" if self.stop_code == "TaskFailedToStart" else "stopped"


class TaskFailures(BaseModel):
    """The failed tasks of one deployment, as read from its stopped tasks (ListTasks + DescribeTasks)."""

    model_config = ConfigDict(extra="forbid")

    failed_tasks: int = 0  # the deployment's failedTasks when its stopped tasks were last read
    read_at: float | None = None  # run clock
    task_ids: list[str] = Field(default_factory=list)  # stopped tasks already read (never described twice)
    reasons: list[StopReason] = Field(default_factory=list)  # most frequent first


class DeployFacts(BaseModel):
    """A deploy run's facts, in the order the machine learns them."""

    model_config = ConfigDict(extra="forbid")

    rollback_target: RollbackTarget | None = None
    # When the rollback target was read from AWS (preflight's reads, UTC ISO), and whether they were reused.
    snapshot_read_at: str | None = None
    previous_task_definition: str | None = None
    previous_desired_count: int | None = None
    target_group: str | None = None
    initial_targets: list[str] = Field(default_factory=list)
    # The newest service event already accounted for: the one seen at the snapshot, then the newest shown.
    # "" when the service had no event at the snapshot. Event ids, never clocks, decide what is new.
    event_watermark: str | None = None
    base_task_definition: str | None = None
    register_request: dict[str, Any] | None = None
    new_task_definition: str | None = None
    registered_revision: bool | None = None
    deployment_id: str | None = None
    # Why the deploy is being rolled back (the run's reason says how it ended).
    rollback_cause: str | None = None
    ecs_rollback_deployment_id: str | None = None
    rollback_known_deployments: list[str] | None = None
    rollback_deployment_id: str | None = None
    # Why tasks failed, per deployment id (ours, the rollback's, ECS's rollback's).
    task_failures: dict[str, TaskFailures] = Field(default_factory=dict)
    # ---- BLUE_GREEN, LINEAR, CANARY: ECS's own service deployment, followed by its ARN -------------------
    strategy: str | None = None
    strategy_plan: StrategyPlan | None = None
    # Another deployment was in progress at preflight: waited for (queued) before the snapshot was taken.
    waited_for: list[str] = Field(default_factory=list)
    queue_cleared: bool = False
    # Service deployments listed before our UpdateService, and the run clock just before it: ours is the one
    # created after it (less a skew margin), not among these, whose target revision runs our task definition.
    known_service_deployments: list[str] = Field(default_factory=list)
    update_requested_at: float | None = None
    service_deployment_arn: str | None = None
    stage_seen: str | None = None
    # The bake (or step bake) in progress lasts at least until then (run clock): polling stays slow through it.
    bake_ends_not_before: float | None = None
    # A PAUSE hook awaits a person: since when (run clock), and which hook.
    paused_since: float | None = None
    paused_hook_id: str | None = None

    def target(self) -> RollbackTarget:
        """The rollback target; recorded in `planned`, before any later state runs."""
        if self.rollback_target is None:
            raise RuntimeError("the rollback target was not recorded before the service was changed")
        return self.rollback_target
