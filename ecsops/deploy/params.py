"""The recorded inputs of a deploy run: the parsed flags and preflight's reads, as stored in the run's params."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ecsops.deploy.flags import TaskDefinitionEdits
from ecsops.deploy.snapshot import ServiceSnapshot

WaitUntil = Literal["primary-rolled", "draining-started"]
WAIT_UNTIL_CHOICES: tuple[str, ...] = ("primary-rolled", "draining-started")
DEFAULT_TIMEOUT_SECONDS = 15 * 60.0


def ecs_failure_threshold(desired_count: int) -> int:
    """ECS's circuit-breaker threshold of failed tasks: min(200, max(3, ceil(desired / 2)))."""
    return min(200, max(3, math.ceil(desired_count / 2)))


class DeployParams(BaseModel):
    """Absolute targets only (desired count 3, never +1), so a resumed run asks for the same thing."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cluster: str
    service: str
    edits: TaskDefinitionEdits = Field(default_factory=TaskDefinitionEdits)
    desired_count: int | None = Field(default=None, ge=0)
    taskdef: str | None = None
    wait_until: WaitUntil = "primary-rolled"
    timeout_seconds: float = Field(default=DEFAULT_TIMEOUT_SECONDS, ge=0)
    poll_interval: float | None = Field(default=None, ge=0, description="None: adaptive")
    no_rollback: bool = False
    max_failed_tasks: int | None = Field(
        default=None, ge=0, description="None: ECS's circuit-breaker threshold; 0: only the timeout fails"
    )
    profile: str | None = None
    region: str | None = None
    # Preflight's reads, taken as the run's snapshot so the run does not read the same again.
    snapshot: ServiceSnapshot | None = None

    @property
    def target(self) -> str:
        """The lock key: one running run per service."""
        return f"ecs:{self.cluster}/{self.service}"

    def failure_limit(self, desired_count: int) -> int | None:
        """How many failed tasks fail a deployment of `desired_count` tasks; None: never (the timeout does)."""
        if self.max_failed_tasks is None:
            return ecs_failure_threshold(desired_count)
        return self.max_failed_tasks or None

    def recorded(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
