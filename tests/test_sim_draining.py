"""DRAINING container instances shed their service tasks while the service keeps its desired count."""

from __future__ import annotations

from typing import Any

from ecsops.sim.server import SimServer


def _instances(ecs: Any) -> list[dict[str, Any]]:
    arns = ecs.list_container_instances(cluster="demo")["containerInstanceArns"]
    instances: list[dict[str, Any]] = ecs.describe_container_instances(cluster="demo", containerInstances=arns)[
        "containerInstances"
    ]
    return instances


def test_draining_instance_reaches_zero_tasks_and_service_keeps_desired(sim: SimServer) -> None:
    ecs = sim.client("ecs")
    busy = next(i for i in _instances(ecs) if i["runningTasksCount"] > 0)
    drained = ecs.update_container_instances_state(
        cluster="demo", containerInstances=[busy["containerInstanceArn"]], status="DRAINING"
    )["containerInstances"][0]
    assert drained["status"] == "DRAINING"
    history = []
    for _ in range(40):
        current = next(i for i in _instances(ecs) if i["containerInstanceArn"] == busy["containerInstanceArn"])
        service = ecs.describe_services(cluster="demo", services=["web"])["services"][0]
        history.append((current["runningTasksCount"], service["runningCount"]))
        if current["runningTasksCount"] == 0:
            break
    assert history[-1][0] == 0, history
    assert history[0][0] >= 1, "draining takes time: tasks do not vanish at once"
    assert all(running >= 2 for _, running in history), "min healthy 100%: replacement first, then stop"
    ecs.get_waiter("services_stable").wait(
        cluster="demo", services=["web"], WaiterConfig={"Delay": 0, "MaxAttempts": 40}
    )
    tasks = ecs.describe_tasks(cluster="demo", tasks=ecs.list_tasks(cluster="demo", serviceName="web")["taskArns"])
    assert len(tasks["tasks"]) == 2
    assert busy["containerInstanceArn"] not in {t["containerInstanceArn"] for t in tasks["tasks"]}
    events = [e["message"] for e in ecs.describe_services(cluster="demo", services=["web"])["services"][0]["events"]]
    assert "(service web) has begun draining connections on 1 tasks." in events


def test_no_new_tasks_are_placed_on_draining_instances(sim: SimServer) -> None:
    ecs = sim.client("ecs")
    arns = [i["containerInstanceArn"] for i in _instances(ecs)]
    ecs.update_container_instances_state(cluster="demo", containerInstances=arns[:2], status="DRAINING")
    sim.advance(300)
    placed = ecs.describe_tasks(cluster="demo", tasks=ecs.list_tasks(cluster="demo", serviceName="web")["taskArns"])
    assert {t["containerInstanceArn"] for t in placed["tasks"]} == {arns[2]}
    counts = {i["containerInstanceArn"]: i["runningTasksCount"] for i in _instances(ecs)}
    assert counts == {arns[0]: 0, arns[1]: 0, arns[2]: 2}


def test_without_capacity_draining_waits_for_min_healthy(sim: SimServer) -> None:
    ecs = sim.client("ecs")
    arns = [i["containerInstanceArn"] for i in _instances(ecs)]
    ecs.update_container_instances_state(cluster="demo", containerInstances=arns, status="DRAINING")
    sim.advance(600)
    service = ecs.describe_services(cluster="demo", services=["web"])["services"][0]
    assert service["runningCount"] == 2, "nowhere to place replacements: min healthy keeps the old tasks"
    assert sum(i["runningTasksCount"] for i in _instances(ecs)) == 2
    assert any("was unable to place a task" in e["message"] for e in service["events"])


def test_one_off_task_survives_the_drain_and_exits_by_itself(sim: SimServer) -> None:
    """ECS drains service tasks only; a standalone task keeps its instance busy until it exits."""
    ecs = sim.client("ecs")
    instance = _instances(ecs)[0]
    arn = instance["containerInstanceArn"]
    ecs.update_container_instances_state(cluster="demo", containerInstances=[arn], status="DRAINING")

    def tasks_on_instance() -> int:
        current = next(i for i in _instances(ecs) if i["containerInstanceArn"] == arn)
        return int(current["runningTasksCount"]) + int(current["pendingTasksCount"])

    sim.advance(300)
    assert tasks_on_instance() == 0, "its service tasks drained away"
    task_arn = sim.start_one_off_task("demo", arn, "web", run_seconds=300)
    assert tasks_on_instance() == 1
    sim.advance(200)
    assert tasks_on_instance() == 1, "draining does not stop a standalone task"
    (task,) = ecs.describe_tasks(cluster="demo", tasks=[task_arn])["tasks"]
    assert task["lastStatus"] == "RUNNING" and task["group"] == "family:web"
    assert task_arn not in ecs.list_tasks(cluster="demo", serviceName="web")["taskArns"]
    sim.advance(200)
    assert tasks_on_instance() == 0
    (task,) = ecs.describe_tasks(cluster="demo", tasks=[task_arn])["tasks"]
    assert task["lastStatus"] == "STOPPED" and task["stopCode"] == "EssentialContainerExited"
