"""What a deploy run records as it goes: the rollback target, what it registered and started, why it rolls back."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


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


class DeployFacts(BaseModel):
    """A deploy run's facts, in the order the machine learns them."""

    model_config = ConfigDict(extra="forbid")

    rollback_target: RollbackTarget | None = None
    previous_task_definition: str | None = None
    previous_desired_count: int | None = None
    target_group: str | None = None
    initial_targets: list[str] = Field(default_factory=list)
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

    def target(self) -> RollbackTarget:
        """The rollback target; recorded in `planned`, before any later state runs."""
        if self.rollback_target is None:
            raise RuntimeError("the rollback target was not recorded before the service was changed")
        return self.rollback_target
