"""The verdict on one deployment from a DescribeServices answer (pure, no simulator)."""

from __future__ import annotations

from typing import Any

from ecsops.deploy.verdict import Verdict, judge

OLD = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:1"
NEW = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:2"
OTHER = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:3"


def deployment(id_: str, status: str, task_definition: str, running: int = 0, desired: int = 2,
               rollout: str = "IN_PROGRESS", reason: str = "") -> dict[str, Any]:
    return {"id": id_, "status": status, "taskDefinition": task_definition, "runningCount": running,
            "desiredCount": desired, "pendingCount": 0, "failedTasks": 0, "rolloutState": rollout,
            "rolloutStateReason": reason}


def service(*deployments: dict[str, Any], rollback: bool = True) -> dict[str, Any]:
    return {"deployments": list(deployments),
            "deploymentConfiguration": {"deploymentCircuitBreaker": {"enable": True, "rollback": rollback}}}


def test_stable_only_when_ours_is_alone_and_running_desired() -> None:
    assert judge(service(deployment("d2", "PRIMARY", NEW, 2, rollout="COMPLETED")), "d2", OLD).verdict is Verdict.STABLE
    both = service(deployment("d2", "PRIMARY", NEW, 2), deployment("d1", "ACTIVE", OLD, 1))
    assert judge(both, "d2", OLD).verdict is Verdict.IN_PROGRESS
    assert judge(service(deployment("d2", "PRIMARY", NEW, 1)), "d2", OLD).verdict is Verdict.IN_PROGRESS


def test_failed_waits_for_ecs_when_its_circuit_breaker_rolls_back() -> None:
    failed = deployment("d2", "PRIMARY", NEW, rollout="FAILED", reason="tasks failed to start")
    assert judge(service(failed, rollback=True), "d2", OLD).verdict is Verdict.IN_PROGRESS
    watch = judge(service(failed, rollback=False), "d2", OLD)
    assert watch.verdict is Verdict.FAILED and "tasks failed to start" in watch.reason


def test_ecs_rollback_is_recognised_while_listed_and_after() -> None:
    rolling = service(deployment("d3", "PRIMARY", OLD), deployment("d2", "ACTIVE", NEW, rollout="FAILED"))
    watch = judge(rolling, "d2", OLD)
    assert watch.verdict is Verdict.ECS_ROLLED_BACK and watch.primary_id == "d3"
    done = service(deployment("d3", "PRIMARY", OLD, 2, rollout="COMPLETED"))
    assert judge(done, "d2", OLD).verdict is Verdict.ECS_ROLLED_BACK


def test_someone_elses_deployment_supersedes_ours() -> None:
    other = service(deployment("d9", "PRIMARY", OTHER), deployment("d2", "ACTIVE", NEW, 1))
    watch = judge(other, "d2", OLD)
    assert watch.verdict is Verdict.SUPERSEDED and "d9" in watch.reason
    assert judge(service(deployment("d9", "PRIMARY", OTHER)), "d2", OLD).verdict is Verdict.SUPERSEDED


def test_a_rollback_is_judged_without_looking_for_an_ecs_rollback() -> None:
    gone = service(deployment("d3", "PRIMARY", OLD))
    assert judge(gone, "d4", None).verdict is Verdict.SUPERSEDED


def test_a_revert_by_someone_else_without_ecs_rollback_configured_supersedes_ours() -> None:
    reverted = service(deployment("d3", "PRIMARY", OLD, 2, rollout="COMPLETED"), rollback=False)
    watch = judge(reverted, "d2", OLD)
    assert watch.verdict is Verdict.SUPERSEDED and "someone else deployed" in watch.reason
    failed_then_reverted = service(deployment("d3", "PRIMARY", OLD), deployment("d2", "ACTIVE", NEW, rollout="FAILED"),
                                   rollback=False)
    assert judge(failed_then_reverted, "d2", OLD).verdict is Verdict.SUPERSEDED
