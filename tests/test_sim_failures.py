"""The simulator's failing tasks look like ECS's: stop codes, reasons and exit codes on stopped tasks, failedTasks
without the circuit breaker, ListTasks by startedBy, and a placement outage that fails nothing."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from deploy_helpers import demo_with

from ecsops.sim.scenario import ImageFailure, PlacementOutage
from ecsops.sim.server import SimServer


def _deploy(sim: SimServer, image: str) -> str:
    ecs = sim.client("ecs")
    arn = ecs.register_task_definition(family="web", containerDefinitions=[
        {"name": "app", "image": image, "memory": 128, "essential": True}
    ])["taskDefinition"]["taskDefinitionArn"]
    deployment: str = ecs.update_service(cluster="demo", service="web", taskDefinition=arn)["service"][
        "deployments"][0]["id"]
    return deployment


def _ours(sim: SimServer, deployment_id: str) -> dict[str, Any]:
    service = sim.client("ecs").describe_services(cluster="demo", services=["web"])["services"][0]
    found: dict[str, Any] = next(d for d in service["deployments"] if d["id"] == deployment_id)
    return found


def _stopped(sim: SimServer, deployment_id: str) -> list[dict[str, Any]]:
    ecs = sim.client("ecs")
    arns = ecs.list_tasks(cluster="demo", startedBy=deployment_id, desiredStatus="STOPPED")["taskArns"]
    tasks: list[dict[str, Any]] = ecs.describe_tasks(cluster="demo", tasks=arns)["tasks"] if arns else []
    return tasks


@pytest.mark.parametrize(
    ("failure", "stop_code", "reason", "exit_code"),
    [
        (ImageFailure(image="nginx:bad"), "TaskFailedToStart",
         "CannotPullContainerError: pull image manifest has been retried 1 time(s): failed to resolve ref "
         "nginx:bad: not found", None),
        (ImageFailure(image="nginx:bad", kind="secrets"), "TaskFailedToStart",
         "ResourceInitializationError: unable to pull secrets or registry auth", None),
        (ImageFailure(image="nginx:bad", kind="exit", exit_code=137), "EssentialContainerExited",
         "Essential container in task exited", 137),
    ],
)
def test_stopped_tasks_say_why_they_failed(
    sim: SimServer, failure: ImageFailure, stop_code: str, reason: str, exit_code: int | None
) -> None:
    sim.reset(demo_with(circuit_breaker=False, rollback=False).model_copy(update={"image_failures": [failure]}))
    deployment_id = _deploy(sim, "nginx:bad")
    for _ in range(4):
        ours = _ours(sim, deployment_id)
    assert ours["failedTasks"] >= 4 and ours["rolloutState"] == "IN_PROGRESS"  # no breaker: ECS only counts
    tasks = _stopped(sim, deployment_id)
    assert len(tasks) == ours["failedTasks"]
    for task in tasks:
        assert task["startedBy"] == deployment_id  # ECS: a service task's startedBy is its deployment id
        assert task["stopCode"] == stop_code
        assert task["stoppedReason"].startswith(reason)
        assert task["containers"][0].get("exitCode") == exit_code


def test_list_tasks_by_started_by_stands_alone(sim: SimServer) -> None:
    deployment_id = _deploy(sim, "nginx:broken")
    _ours(sim, deployment_id)
    ecs = sim.client("ecs")
    with pytest.raises(ClientError) as refused:
        ecs.list_tasks(cluster="demo", serviceName="web", startedBy=deployment_id, desiredStatus="STOPPED")
    assert refused.value.response["Error"]["Code"] == "InvalidParameterException"
    stopped = _stopped(sim, deployment_id)
    assert stopped and all(t["desiredStatus"] == "STOPPED" and t["startedBy"] == deployment_id for t in stopped)


def test_placement_outage_says_unable_to_place_then_the_deploy_completes(sim: SimServer) -> None:
    sim.reset(demo_with(circuit_breaker=True, rollback=True).model_copy(
        update={"placement_outages": [PlacementOutage(cluster="demo", seconds=30)]}
    ))
    deployment_id = _deploy(sim, "nginx:1.27")
    ecs = sim.client("ecs")
    seen = []
    for _ in range(30):
        service = ecs.describe_services(cluster="demo", services=["web"])["services"][0]
        seen.append(service)
        if service["deployments"][0]["rolloutState"] == "COMPLETED":
            break
    ours = service["deployments"][0]
    assert ours["id"] == deployment_id and ours["rolloutState"] == "COMPLETED"
    assert all(d["failedTasks"] == 0 for s in seen for d in s["deployments"])
    messages = [e["message"] for e in service["events"]]
    assert any("was unable to place a task" in m for m in messages)
    first_pending = next(i for i, s in enumerate(seen) if s["deployments"][0]["pendingCount"])
    assert first_pending >= 3  # several polls saw nothing placed before capacity arrived
