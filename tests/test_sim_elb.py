"""ELBv2 in the simulator: service tasks become targets; deregistered targets drain for the delay."""

from __future__ import annotations

from typing import Any

from ecsops.sim.server import SimServer


def _health(sim: SimServer) -> dict[tuple[str, int], str]:
    elbv2 = sim.client("elbv2")
    descriptions = elbv2.describe_target_health(TargetGroupArn=sim.seeded.target_groups["web-tg"])
    return {
        (d["Target"]["Id"], d["Target"]["Port"]): d["TargetHealth"]["State"]
        for d in descriptions["TargetHealthDescriptions"]
    }


def _task_targets(ecs: Any) -> set[tuple[str, int]]:
    arns = ecs.list_tasks(cluster="demo", serviceName="web")["taskArns"]
    tasks = ecs.describe_tasks(cluster="demo", tasks=arns)["tasks"]
    instance_arns = [t["containerInstanceArn"] for t in tasks]
    instances = ecs.describe_container_instances(cluster="demo", containerInstances=instance_arns)
    ec2_ids = {i["containerInstanceArn"]: i["ec2InstanceId"] for i in instances["containerInstances"]}
    return {(ec2_ids[t["containerInstanceArn"]], t["containers"][0]["networkBindings"][0]["hostPort"]) for t in tasks}


def test_service_tasks_are_healthy_targets(sim: SimServer) -> None:
    ecs = sim.client("ecs")
    health = _health(sim)
    assert set(health.values()) == {"healthy"}
    assert set(health) == _task_targets(ecs)


def test_deregistered_targets_drain_for_the_deregistration_delay(sim: SimServer) -> None:
    ecs = sim.client("ecs")
    sim.client("elbv2")  # build the client before measuring virtual time
    old_targets = set(_health(sim))
    ecs.update_service(cluster="demo", service="web", forceNewDeployment=True)
    draining_since = None
    timeline = []
    for _ in range(40):
        health = _health(sim)
        timeline.append((sim.now(), health))
        states = {health.get(t) for t in old_targets}
        if states == {"draining"} and draining_since is None:
            draining_since = sim.now()
        if draining_since is not None and states == {None}:
            break
    assert draining_since is not None, "old targets go through 'draining'"
    gone_at = timeline[-1][0]
    assert {None} == {timeline[-1][1].get(t) for t in old_targets}, "old targets leave after draining"
    assert 20 <= gone_at - draining_since + sim.scenario.tick_seconds <= 20 + 2 * sim.scenario.tick_seconds
    new_targets = set(timeline[-1][1]) - old_targets
    assert len(new_targets) == 2 and {timeline[-1][1][t] for t in new_targets} == {"healthy"}
    assert any("initial" in h.values() for _, h in timeline), "new targets start in 'initial'"


def test_describe_specific_target(sim: SimServer) -> None:
    target_id, port = next(iter(_health(sim)))
    elbv2 = sim.client("elbv2")
    result = elbv2.describe_target_health(
        TargetGroupArn=sim.seeded.target_groups["web-tg"], Targets=[{"Id": target_id, "Port": port}]
    )["TargetHealthDescriptions"]
    assert [(d["Target"]["Id"], d["Target"]["Port"], d["TargetHealth"]["State"]) for d in result] == [
        (target_id, port, "healthy")
    ]
