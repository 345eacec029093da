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


def test_failed_tasks_reaching_the_limit_fail_our_deployment_with_or_without_the_breaker() -> None:
    from ecsops.deploy.params import DeployParams, ecs_failure_threshold

    failing = {**deployment("d2", "PRIMARY", NEW, 0, desired=4), "failedTasks": 3}
    old = deployment("d1", "ACTIVE", OLD, 4, desired=4, rollout="COMPLETED")
    default = DeployParams(cluster="c", service="s").failure_limit
    assert ecs_failure_threshold(4) == 3 and ecs_failure_threshold(1000) == 200 and ecs_failure_threshold(9) == 5
    for breaker in (True, False):
        watch = judge(service(failing, old, rollback=breaker), "d2", OLD, default)
        assert watch.verdict is Verdict.FAILED and "3 failed tasks reached the limit of 3" in watch.reason
        assert watch.failed_tasks == 3
    off = DeployParams(cluster="c", service="s", max_failed_tasks=0).failure_limit
    assert judge(service(failing, old), "d2", OLD, off).verdict is Verdict.IN_PROGRESS
    five = DeployParams(cluster="c", service="s", max_failed_tasks=5).failure_limit
    assert judge(service(failing, old), "d2", OLD, five).verdict is Verdict.IN_PROGRESS


def test_progress_lines_fit_80_columns_and_the_reason_summary_marks_ours() -> None:
    from ecsops.deploy.verdict import deployment_lines, summarize

    long_family = "arn:aws:ecs:us-east-1:123456789012:task-definition/" + "a" * 60 + ":12"
    answer = service({**deployment("ecs-svc/1234567890123456789", "PRIMARY", long_family, 3, 10), "pendingCount": 5,
                      "failedTasks": 12}, deployment("ecs-svc/9876543210987654321", "ACTIVE", OLD, 10, 10))
    lines = deployment_lines(answer, "ecs-svc/1234567890123456789")
    assert lines[0] == "  ours   PRIMARY aaaaaaaaaaaa…:12 running 3/10, 5 pending, 12 failed"  # the revision stays
    assert lines[1].startswith("  …54321 ACTIVE  web:1 ")
    assert all(len("[ 1234.5s] " + line) <= 80 for line in lines)
    assert "(ours)" in summarize(answer, "ecs-svc/1234567890123456789")


def test_events_after_the_watermark_folded_with_target_group_names() -> None:
    from ecsops.deploy.events import events_after, fold, target_group_name

    arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-tg/4f71791bb4d912f9"
    events = {"events": [  # newest first, as ECS lists them
        {"id": "e4", "message": f"(service web) registered 1 targets in (target-group {arn})"},
        {"id": "e3", "message": f"(service web) registered 1 targets in (target-group {arn})"},
        {"id": "e2", "message": "(service web) has reached a steady state."},
        {"id": "e1", "message": "(service web) deployment d0 deployment failed: tasks failed to start."},
    ]}
    assert events_after(events, "e2") == ([events["events"][1]["message"], events["events"][0]["message"]], "e4")
    assert events_after(events, None) == ([], "e4")  # unknown start: nothing old is replayed
    assert len(events_after(events, "")[0]) == 4  # the service had no events at the snapshot
    assert len(events_after(events, "gone")[0]) == 4  # the watermark fell off ECS's last 100
    assert fold(events_after(events, "e2")[0]) == ["(service web) registered 2 targets in (target-group web-tg)"]
    assert fold(["x", "x", "y"]) == ["x (2 times)", "y"]
    assert target_group_name(arn) == "web-tg" and target_group_name("web-tg") == "web-tg"


def test_stop_reasons_are_counted_once_per_task_most_frequent_first() -> None:
    from ecsops.deploy.task_failures import headline, merged

    def task(task_id: str, code: str, reason: str, exit_code: int | None = None) -> dict[str, Any]:
        return {"taskArn": f"arn:aws:ecs:us-east-1:1:task/demo/{task_id}", "stopCode": code, "stoppedReason": reason,
                "containers": [{"name": "app", "exitCode": exit_code, "reason": None}]}

    crashed = task("t1", "EssentialContainerExited", "Essential container in task exited", 1)
    pulled = [task(f"p{i}", "TaskFailedToStart", "CannotPullContainerError: nginx:bad: not found") for i in range(2)]
    scaled = task("s1", "ServiceSchedulerInitiated", "Scaling activity initiated by (deployment d2)")
    first = merged(None, [crashed, *pulled, scaled], failed_tasks=3, now=10.0)
    assert [(r.count, r.text) for r in first.reasons] == [
        (2, "CannotPullContainerError: nginx:bad: not found"),
        (1, "Essential container in task exited (app exit code 1)"),
    ]
    again = merged(first, [*pulled, task("p9", "TaskFailedToStart", "CannotPullContainerError: nginx:bad: not found")],
                   failed_tasks=4, now=40.0)
    assert again.reasons[0].count == 3  # p0 and p1 were not counted twice
    assert headline(again) == ("3 tasks failed to start: CannotPullContainerError: nginx:bad: not found "
                               "(and 1 other reason: ecsops status shows them)")
    assert headline(None) is None
