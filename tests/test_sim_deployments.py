"""ECS deployment lifecycle in the simulator: good deploys, circuit breaker with rollback, endless failure."""

from __future__ import annotations

import time
from typing import Any

import pytest
from botocore.exceptions import WaiterError

from ecsops.sim.ecs_model import circuit_breaker_threshold
from ecsops.sim.scenario import demo_scenario
from ecsops.sim.server import SimServer

FAST = {"Delay": 0, "MaxAttempts": 60}


def _service(ecs: Any) -> dict[str, Any]:
    services: list[dict[str, Any]] = ecs.describe_services(cluster="demo", services=["web"])["services"]
    return services[0]


def _register(ecs: Any, image: str) -> str:
    current = ecs.describe_task_definition(taskDefinition="web", include=["TAGS"])
    containers = current["taskDefinition"]["containerDefinitions"]
    containers[0]["image"] = image
    registered = ecs.register_task_definition(family="web", containerDefinitions=containers, tags=current["tags"])
    arn: str = registered["taskDefinition"]["taskDefinitionArn"]
    return arn


def _poll_until_settled(ecs: Any, limit: int = 100) -> list[dict[str, Any]]:
    history = []
    for _ in range(limit):
        service = _service(ecs)
        history.append(service)
        if len(service["deployments"]) == 1 and service["deployments"][0]["rolloutState"] != "IN_PROGRESS":
            return history
    raise AssertionError("service never settled")


def test_seeded_service_is_steady_with_ecs_shapes(sim: SimServer) -> None:
    service = _service(sim.client("ecs"))
    assert service["taskDefinition"] == sim.seeded.task_definitions["web"]
    assert service["deploymentConfiguration"] == {
        "deploymentCircuitBreaker": {"enable": True, "rollback": True},
        "maximumPercent": 200,
        "minimumHealthyPercent": 100,
    }
    (deployment,) = service["deployments"]
    assert deployment["id"].startswith("ecs-svc/") and deployment["id"][8:].isdigit()
    assert deployment["status"] == "PRIMARY"
    assert deployment["rolloutState"] == "COMPLETED"
    assert (deployment["desiredCount"], deployment["runningCount"], deployment["pendingCount"]) == (2, 2, 0)
    assert service["events"][0]["message"] == "(service web) has reached a steady state."


def test_good_deploy_lifecycle(sim: SimServer) -> None:
    ecs = sim.client("ecs")
    old = _service(ecs)["deployments"][0]
    new_arn = _register(ecs, "nginx:1.26")
    updated = ecs.update_service(cluster="demo", service="web", taskDefinition="web:2")["service"]
    assert updated["taskDefinition"] == new_arn, "service.taskDefinition is a full ARN"
    primary, active = updated["deployments"]
    assert primary["status"] == "PRIMARY" and primary["taskDefinition"] == new_arn
    assert primary["id"] != old["id"] and primary["rolloutState"] == "IN_PROGRESS"
    assert active["id"] == old["id"] and active["status"] == "ACTIVE"

    history = _poll_until_settled(ecs)
    states = [[(d["id"], d["status"], d["rolloutState"]) for d in s["deployments"]] for s in history]
    assert states[0] == [(primary["id"], "PRIMARY", "IN_PROGRESS"), (old["id"], "ACTIVE", "COMPLETED")]
    assert states[-1] == [(primary["id"], "PRIMARY", "COMPLETED")]
    # New tasks start before old ones stop: with 100% min healthy, never fewer than 2 running.
    assert all(s["runningCount"] >= 2 for s in history)
    assert max(s["deployments"][0]["pendingCount"] for s in history) == 2
    final = history[-1]["deployments"][0]
    assert (final["runningCount"], final["pendingCount"], final["failedTasks"]) == (2, 0, 0)
    messages = [e["message"] for e in history[-1]["events"]]
    assert messages[0] == "(service web) has reached a steady state."
    assert f"(service web) deployment {primary['id']} deployment completed." in messages
    assert any(m.startswith("(service web) has started 2 tasks: (task ") for m in messages)
    assert any(m.startswith("(service web) has stopped 2 running tasks: (task ") for m in messages)
    tasks = ecs.describe_tasks(cluster="demo", tasks=ecs.list_tasks(cluster="demo", serviceName="web")["taskArns"])
    assert {t["taskDefinitionArn"] for t in tasks["tasks"]} == {new_arn}
    assert {t["lastStatus"] for t in tasks["tasks"]} == {"RUNNING"}


def test_services_stable_waiter_after_good_deploy(sim: SimServer) -> None:
    ecs = sim.client("ecs")
    _register(ecs, "nginx:1.26")
    ecs.update_service(cluster="demo", service="web", taskDefinition="web:2")
    assert len(_service(ecs)["deployments"]) == 2
    ecs.get_waiter("services_stable").wait(cluster="demo", services=["web"], WaiterConfig=FAST)
    service = _service(ecs)
    assert len(service["deployments"]) == 1 and service["runningCount"] == 2


def test_force_new_deployment_and_desired_count_only(sim: SimServer) -> None:
    ecs = sim.client("ecs")
    before = _service(ecs)["deployments"][0]
    scaled = ecs.update_service(cluster="demo", service="web", desiredCount=3)["service"]
    assert [d["id"] for d in scaled["deployments"]] == [before["id"]], "desiredCount alone is no new deployment"
    ecs.get_waiter("services_stable").wait(cluster="demo", services=["web"], WaiterConfig=FAST)
    assert _service(ecs)["runningCount"] == 3
    forced = ecs.update_service(cluster="demo", service="web", forceNewDeployment=True)["service"]
    assert forced["deployments"][0]["id"] != before["id"]
    assert forced["deployments"][0]["taskDefinition"] == before["taskDefinition"]
    assert forced["deployments"][1]["id"] == before["id"]
    history = _poll_until_settled(ecs)
    assert history[-1]["deployments"][0]["id"] == forced["deployments"][0]["id"]


def test_circuit_breaker_fails_then_ecs_rolls_back(sim: SimServer) -> None:
    ecs = sim.client("ecs")
    _register(ecs, "nginx:1.26")
    ecs.update_service(cluster="demo", service="web", taskDefinition="web:2")
    ecs.get_waiter("services_stable").wait(cluster="demo", services=["web"], WaiterConfig=FAST)
    good = _service(ecs)["deployments"][0]
    broken_arn = _register(ecs, "nginx:broken")

    started = time.perf_counter()
    failing = ecs.update_service(cluster="demo", service="web", taskDefinition=broken_arn)["service"]["deployments"][0]
    history = _poll_until_settled(ecs)
    elapsed = time.perf_counter() - started
    assert elapsed < 1.0, f"deploy-fail-rollback took {elapsed:.3f}s wall"

    seen_failed = [
        d for s in history for d in s["deployments"] if d["id"] == failing["id"] and d["rolloutState"] == "FAILED"
    ]
    assert seen_failed, "a poller sees the failed deployment with rolloutState FAILED"
    assert seen_failed[0]["failedTasks"] >= circuit_breaker_threshold(2) == 3
    assert seen_failed[0]["status"] == "ACTIVE"
    final = history[-1]["deployments"][0]
    assert final["id"] not in (failing["id"], good["id"]), "ECS rolls back with a new deployment"
    assert final["taskDefinition"] == good["taskDefinition"]
    assert final["rolloutState"] == "COMPLETED"
    assert history[-1]["taskDefinition"] == good["taskDefinition"]
    messages = [e["message"] for e in history[-1]["events"]]
    assert f"(service web) deployment {failing['id']} deployment failed: tasks failed to start." in messages
    assert f"(service web) rolling back to deployment {good['id']}." in messages
    assert any(m.startswith("(service web) is unable to consistently start tasks successfully.") for m in messages)
    # Old tasks were never stopped while the broken ones failed: capacity held at desired count.
    assert all(s["runningCount"] >= 2 for s in history)
    stopped = ecs.describe_tasks(
        cluster="demo", tasks=ecs.list_tasks(cluster="demo", desiredStatus="STOPPED")["taskArns"]
    )["tasks"]
    failed = [t for t in stopped if t["taskDefinitionArn"] == broken_arn]
    never_started = [t for t in failed if t["stopCode"] == "TaskFailedToStart"]
    assert len(never_started) >= 3
    assert all("CannotPullContainerError" in t["stoppedReason"] for t in never_started)
    # Broken tasks still pending when the rollback began are stopped by the scheduler instead.
    assert {t["stopCode"] for t in failed} <= {"TaskFailedToStart", "ServiceSchedulerInitiated"}


def test_waiter_does_not_succeed_while_failing_deploy_is_in_progress(sim: SimServer) -> None:
    scenario = demo_scenario()
    scenario.services[0].circuit_breaker = False
    scenario.services[0].rollback = False
    sim.reset(scenario)
    ecs = sim.client("ecs")
    broken = _register(ecs, "nginx:broken")
    deployment = ecs.update_service(cluster="demo", service="web", taskDefinition=broken)["service"]["deployments"][0]
    with pytest.raises(WaiterError):
        ecs.get_waiter("services_stable").wait(
            cluster="demo", services=["web"], WaiterConfig={"Delay": 0, "MaxAttempts": 30}
        )
    failed_counts = []
    for _ in range(10):
        primary = _service(ecs)["deployments"][0]
        assert primary["id"] == deployment["id"]
        assert primary["rolloutState"] == "IN_PROGRESS"
        failed_counts.append(primary["failedTasks"])
    assert failed_counts == sorted(failed_counts) and failed_counts[-1] > failed_counts[0] >= 3
    service = _service(ecs)
    assert service["runningCount"] == 2 and len(service["deployments"]) == 2


def test_stuck_service_never_stabilises(sim: SimServer) -> None:
    scenario = demo_scenario()
    scenario.stuck_services = ["web"]
    sim.reset(scenario)
    ecs = sim.client("ecs")
    assert _service(ecs)["deployments"][0]["rolloutState"] == "COMPLETED", "stuck only after seeding"
    _register(ecs, "nginx:1.26")
    ecs.update_service(cluster="demo", service="web", taskDefinition="web:2")
    sim.advance(3600)
    service = _service(ecs)
    primary = service["deployments"][0]
    assert (primary["rolloutState"], primary["pendingCount"], primary["runningCount"]) == ("IN_PROGRESS", 2, 0)
    assert primary["failedTasks"] == 0 and service["runningCount"] == 2


def test_lost_tasks_are_replaced(sim: SimServer) -> None:
    ecs = sim.client("ecs")
    victim = ecs.list_tasks(cluster="demo", serviceName="web")["taskArns"][0]
    ecs.stop_task(cluster="demo", task=victim, reason="chaos")
    ecs.get_waiter("services_stable").wait(cluster="demo", services=["web"], WaiterConfig=FAST)
    running = ecs.list_tasks(cluster="demo", serviceName="web")["taskArns"]
    assert len(running) == 2 and victim not in running
    (stopping,) = ecs.describe_tasks(cluster="demo", tasks=[victim])["tasks"]
    assert stopping["desiredStatus"] == "STOPPED"
    sim.advance(60)  # past the target group's deregistration delay and the stop time
    (stopped,) = ecs.describe_tasks(cluster="demo", tasks=[victim])["tasks"]
    assert (stopped["lastStatus"], stopped["desiredStatus"], stopped["stoppedReason"]) == (
        "STOPPED",
        "STOPPED",
        "chaos",
    )


def test_task_states_only_change_when_the_model_changes_them(sim: SimServer) -> None:
    ecs = sim.client("ecs")
    arns = ecs.list_tasks(cluster="demo", serviceName="web")["taskArns"]
    for _ in range(5):
        tasks = ecs.describe_tasks(cluster="demo", tasks=arns)["tasks"]
        assert {t["lastStatus"] for t in tasks} == {"RUNNING"}
    assert ecs.list_tasks(cluster="demo", serviceName="other")["taskArns"] == []


def test_running_tasks_count_per_container_instance(sim: SimServer) -> None:
    ecs = sim.client("ecs")
    arns = ecs.list_container_instances(cluster="demo")["containerInstanceArns"]
    instances = ecs.describe_container_instances(cluster="demo", containerInstances=arns)["containerInstances"]
    tasks = ecs.describe_tasks(cluster="demo", tasks=ecs.list_tasks(cluster="demo")["taskArns"])["tasks"]
    for instance in instances:
        on_it = [t for t in tasks if t["containerInstanceArn"] == instance["containerInstanceArn"]]
        assert instance["runningTasksCount"] == len(on_it)
    assert sum(i["runningTasksCount"] for i in instances) == 2


def test_task_definition_tags_round_trip(sim: SimServer) -> None:
    ecs = sim.client("ecs")
    arn = _register(ecs, "nginx:1.26")
    described = ecs.describe_task_definition(taskDefinition=arn, include=["TAGS"])
    assert described["tags"] == [{"key": "app", "value": "web"}]
    container = described["taskDefinition"]["containerDefinitions"][0]
    assert container["logConfiguration"]["logDriver"] == "awslogs"
    assert container["environment"] == [{"name": "GREETING", "value": "hello"}]
