"""The service and task definitions as preflight read them, handed to the run so it does not read them again."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ecsops.deploy.strategy import StrategyPlan, strategy_of

# Names the process that read a snapshot. A run reuses the snapshot without re-checking the service before
# UpdateService only when this same process read it, moments before, and has driven the run since.
PROCESS_TOKEN = secrets.token_hex(8)


def deployment_record(deployment: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON-safe facts of a deployment worth recording."""
    return {
        "id": deployment.get("id"),
        "status": deployment.get("status"),
        "taskDefinition": deployment.get("taskDefinition"),
        "desiredCount": deployment.get("desiredCount"),
        "rolloutState": deployment.get("rolloutState"),
    }


def first_target_group(service: Mapping[str, Any]) -> str | None:
    load_balancers = service.get("loadBalancers") or []
    return next((str(lb["targetGroupArn"]) for lb in load_balancers if lb.get("targetGroupArn")), None)


def newest_event_id(service: Mapping[str, Any]) -> str:
    """The id of the service's newest event (ECS lists them newest first); "" when it has none."""
    events = list(service.get("events") or [])
    return str(events[0].get("id") or "") if events else ""


class ServiceSnapshot(BaseModel):
    """DescribeServices and DescribeTaskDefinition as preflight answered them, with when and by whom."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    read_at: str  # UTC ISO, the same clock as the run's started_at
    read_by: str  # PROCESS_TOKEN of the process that read it
    task_definition: str  # the service's task definition ARN (what runs)
    desired_count: int
    deployments: list[dict[str, Any]] = Field(default_factory=list)
    target_group: str | None = None
    newest_event_id: str = ""
    # The task definition the deploy edits (the running one, or --taskdef) as a RegisterTaskDefinition request.
    base_task_definition: str
    base_request: dict[str, Any]
    # The running task definition as a request, when --taskdef names another one: what the diff starts from.
    running_request: dict[str, Any] | None = None
    strategy: StrategyPlan = Field(default_factory=StrategyPlan)
    # BLUE_GREEN, LINEAR, CANARY only: the service deployments listed at preflight, and those not finished
    # (someone else's deployment in progress: the run waits for it before it changes anything).
    service_deployments: list[str] = Field(default_factory=list)
    unfinished_service_deployments: list[str] = Field(default_factory=list)

    @property
    def read_here(self) -> bool:
        return self.read_by == PROCESS_TOKEN


def snapshot_of(
    service: Mapping[str, Any],
    base_task_definition: str,
    base_request: dict[str, Any],
    running_request: dict[str, Any] | None,
    read_at: str,
    service_deployments: list[dict[str, Any]] | None = None,
) -> ServiceSnapshot:
    from ecsops.aws.ecs import UNFINISHED_SERVICE_DEPLOYMENT_STATUSES

    briefs = service_deployments or []
    return ServiceSnapshot(
        read_at=read_at,
        read_by=PROCESS_TOKEN,
        task_definition=str(service["taskDefinition"]),
        desired_count=int(service["desiredCount"]),
        deployments=[deployment_record(d) for d in service.get("deployments", [])],
        target_group=first_target_group(service),
        newest_event_id=newest_event_id(service),
        base_task_definition=base_task_definition,
        base_request=base_request,
        running_request=running_request,
        strategy=strategy_of(service),
        service_deployments=[str(b["serviceDeploymentArn"]) for b in briefs],
        unfinished_service_deployments=[
            str(b["serviceDeploymentArn"]) for b in briefs if b.get("status") in UNFINISHED_SERVICE_DEPLOYMENT_STATUSES
        ],
    )
