"""The recorded inputs of a deploy run: the parsed flags, as stored in the run's params."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ecsops.deploy.flags import TaskDefinitionEdits

WaitUntil = Literal["primary-rolled", "draining-started"]
WAIT_UNTIL_CHOICES: tuple[str, ...] = ("primary-rolled", "draining-started")
DEFAULT_TIMEOUT_SECONDS = 15 * 60.0


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
    profile: str | None = None
    region: str | None = None

    @property
    def target(self) -> str:
        """The lock key: one running run per service."""
        return f"ecs:{self.cluster}/{self.service}"

    def recorded(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
