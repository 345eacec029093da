"""What a replace-instances run records: the plan's leftovers for the run, and each instance's own facts."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ReplaceFacts(BaseModel):
    """The run's facts: what the plan found besides the instances it replaces."""

    model_config = ConfigDict(extra="forbid")

    plan_summary: str | None = None
    not_in_cluster: list[dict[str, Any]] = Field(default_factory=list)
    skipped: list[dict[str, Any]] = Field(default_factory=list)


class InstanceFacts(BaseModel):
    """One instance's facts, from the plan through its replacement (or its way back)."""

    model_config = ConfigDict(extra="forbid")

    instance_id: str
    reason: str  # why its launch settings are out of date
    container_instance_arn: str | None = None
    container_status: str | None = None
    # The group's instance ids right before the detach: none of them can be its replacement.
    known_before: list[str] | None = None
    replacement: str | None = None
    replacement_container_instance_arn: str | None = None
    failure: str | None = None
    failed_in: str | None = None
    was_detached: bool | None = None
    was_draining: bool | None = None
    reattach_error: str | None = None
    refused_step: str | None = None

    def arn(self) -> str:
        if self.container_instance_arn is None:
            raise RuntimeError(f"{self.instance_id} has no container instance ARN recorded")
        return self.container_instance_arn
