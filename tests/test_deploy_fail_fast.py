"""Issue 11 through the CLI on the simulator: a deploy fails as soon as its own tasks fail, says why, and a good
deploy costs four calls plus one DescribeServices per poll."""

from __future__ import annotations

import re
import signal
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run_ecsops
from deploy_helpers import demo_with, deploy, service

from ecsops.sim.ecs_tasks import StartFailure
from ecsops.sim.scenario import PlacementOutage
from ecsops.sim.server import SimServer

BROKEN = ("--container-image", "app=nginx:broken")
PULL_FAILURE = "CannotPullContainerError: pull image manifest has been retried 1 time(s): failed to resolve ref " \
               "nginx:broken: not found"
STAMP = re.compile(r"^\[\s*(?P<at>\d+\.\d)s\] (?P<text>.*)$")


def _stamped(stderr: str, text: str) -> float:
    """The run-clock stamp of the first stderr line containing `text`."""
    for line in stderr.splitlines():
        match = STAMP.match(line)
        if match and text in match.group("text"):
            return float(match.group("at"))
    raise AssertionError(f"no line with {text!r} in:\n{stderr}")


def _record_requests(sim: SimServer) -> list[str]:
    seen: list[str] = []
    sim.on_request(lambda service_name, operation: seen.append(f"{service_name}:{operation}"))
    return seen


def test_failing_image_without_circuit_breaker_is_rolled_back_within_a_few_polls(
    tmp_path: Path, aws_env: SimServer
) -> None:
    aws_env.reset(demo_with(circuit_breaker=False, rollback=False))
    store = tmp_path / "s.db"
    result = deploy(store, *BROKEN, "--timeout", "10m", "--run-id", "broken", "--output", "json")
    assert result.returncode == 3, result.stderr
    document = result.json()
    assert [t["trigger"] for t in document["transitions"]][-2:] == ["deploy_failed", "rollback_done"]
    # The failed-task limit (ECS's formula: 3 for 2 tasks), not the 10-minute timeout, ended the wait.
    assert "failed tasks reached the limit of 3" in document["reason"]
    assert _stamped(result.stderr, "waiting -> rolling_back") < 60  # seconds on the run's clock
    assert aws_env.counts()["ecs:DescribeServices"] <= 15
    # Why: the stop reason of the deployment's tasks, most frequent first, in the reason and the document.
    assert re.search(r"\d+ tasks failed to start: " + re.escape(PULL_FAILURE), document["reason"])
    failures = document["task_failures"][document["deployment_id"]]
    assert failures["reasons"][0]["text"] == PULL_FAILURE
    assert failures["reasons"][0]["stop_code"] == "TaskFailedToStart"
    assert failures["reasons"][0]["count"] >= 3
    assert "tasks failed to start: CannotPullContainerError" in result.stderr  # the progress said it first
    status = run_ecsops(store, "status", "broken")
    assert "task failures" in status.stdout and PULL_FAILURE in status.stdout
    assert service(aws_env)["taskDefinition"].endswith("web:1")


def test_max_failed_tasks_0_waits_for_the_timeout_and_still_says_why(tmp_path: Path, aws_env: SimServer) -> None:
    aws_env.reset(demo_with(circuit_breaker=False, rollback=False))
    result = deploy(tmp_path / "s.db", *BROKEN, "--timeout", "3m", "--max-failed-tasks", "0", "--output", "json")
    assert result.returncode == 3, result.stderr
    document = result.json()
    assert [t["trigger"] for t in document["transitions"]][-2:] == ["timed_out", "rollback_done"]
    assert "did not finish within 3m00s" in document["reason"] and PULL_FAILURE in document["reason"]
    assert _stamped(result.stderr, "waiting -> rolling_back") >= 180
    assert document["params"]["max_failed_tasks"] == 0
    # Stopped tasks are read when failures are new, at most every 30s: not on every poll.
    counts = aws_env.counts()
    assert counts["ecs:ListTasks"] <= 3 * 60 / 30 + 2 < counts["ecs:DescribeServices"]


def test_a_lower_max_failed_tasks_fails_before_ecs_circuit_breaker(tmp_path: Path, aws_env: SimServer) -> None:
    # ECS's threshold for 10 tasks is 5; maximumPercent 110 starts (and fails) one new task at a time.
    aws_env.reset(demo_with(circuit_breaker=True, rollback=True, desired_count=10, maximum_percent=110))
    result = deploy(tmp_path / "s.db", *BROKEN, "--max-failed-tasks", "2", "--output", "json")
    assert result.returncode == 3, result.stderr
    document = result.json()
    assert [t["trigger"] for t in document["transitions"]][-2:] == ["deploy_failed", "rollback_done"]
    assert "reached the limit of 2" in document["reason"]
    assert aws_env.counts()["ecs:UpdateService"] == 2  # our rollback; ECS's breaker never rolled back too


def test_ecs_rollback_names_the_stop_reason(tmp_path: Path, aws_env: SimServer) -> None:
    result = deploy(tmp_path / "s.db", *BROKEN, "--output", "json")  # demo: circuit breaker with rollback
    assert result.returncode == 3, result.stderr
    document = result.json()
    assert [t["dest"] for t in document["transitions"]][-2:] == ["ecs_rolling_back", "rolled_back"]
    assert "circuit breaker" in document["reason"] and PULL_FAILURE in document["reason"]


def test_a_rollback_that_fails_says_why_its_tasks_failed(tmp_path: Path, aws_env: SimServer) -> None:
    aws_env.reset(demo_with(circuit_breaker=False, rollback=False))

    def previous_image_breaks(service_name: str, operation: str) -> None:
        # Once our deploy is sent, the image the service ran before can no longer start either.
        if operation == "UpdateService":
            aws_env.model.ecs.start_failures["nginx:1.25"] = StartFailure("exit", 3)

    aws_env.on_request(previous_image_breaks)
    result = deploy(tmp_path / "s.db", *BROKEN, "--timeout", "5m", "--output", "json")
    assert result.returncode == 4, result.stderr
    document = result.json()
    assert document["status"] == "rollback_failed"
    reason = document["reason"]
    assert PULL_FAILURE in reason  # why the deploy failed
    assert re.search(r"rollback deployment \S+ failed too .*tasks stopped: Essential container in task exited "
                     r"\(app exit code 3\)", reason), reason


def test_unable_to_place_at_first_is_not_a_failure(tmp_path: Path, aws_env: SimServer) -> None:
    aws_env.reset(demo_with(circuit_breaker=False, rollback=False).model_copy(
        update={"placement_outages": [PlacementOutage(cluster="demo", seconds=40)]}
    ))
    result = deploy(tmp_path / "s.db", "--container-image", "app=nginx:1.27", "--output", "json")
    assert result.returncode == 0, result.stderr
    assert result.json()["status"] == "succeeded"
    assert "was unable to place a task" in result.stderr
    assert "ecs:ListTasks" not in aws_env.counts()  # no task failed: nothing to explain


def test_good_deploy_is_four_calls_plus_one_describe_services_per_poll(tmp_path: Path, aws_env: SimServer) -> None:
    requests = _record_requests(aws_env)
    # Default (adaptive) polling: the simulator's clock makes its waits instant.
    result = run_ecsops(tmp_path / "s.db", "deploy", "--cluster", "demo", "--service", "web",
                        "--container-image", "app=nginx:1.27", "--output", "json")
    assert result.returncode == 0, result.stderr
    fixed = ["ecs:DescribeServices", "ecs:DescribeTaskDefinition", "ecs:RegisterTaskDefinition", "ecs:UpdateService"]
    assert requests[:4] == fixed
    polls = requests[4:]
    assert polls and set(polls) == {"ecs:DescribeServices"}, requests
    assert result.json()["snapshot_read_at"]  # preflight's reads are the run's snapshot, with their time


@pytest.mark.parametrize("crash_at", ["enter:planned", "checkpoint:snapshotted", "enter:updating"])
def test_a_resumed_run_checks_the_service_again_before_updating(
    tmp_path: Path, aws_env: SimServer, crash_at: str
) -> None:
    """Only the process that read the snapshot, in the same drive, skips the pre-update check."""
    store = tmp_path / "s.db"
    killed = deploy(store, "--container-image", "app=nginx:1.27", "--run-id", "ours", ECSOPS_CRASH_AT=crash_at)
    assert killed.returncode == -signal.SIGKILL
    ecs = aws_env.client("ecs")
    other = ecs.register_task_definition(family="web", containerDefinitions=[
        {"name": "app", "image": "nginx:1.28", "memory": 128, "essential": True}
    ])["taskDefinition"]["taskDefinitionArn"]
    ecs.update_service(cluster="demo", service="web", taskDefinition=other)
    resumed = run_ecsops(store, "resume", "ours", "--output", "json")
    assert resumed.returncode == 6, resumed.stderr
    document: dict[str, Any] = resumed.json()
    assert [t["dest"] for t in document["transitions"]][-1] == "superseded"
    assert aws_env.counts()["ecs:UpdateService"] == 1  # only the other deploy
    assert service(aws_env)["taskDefinition"] == other


@pytest.mark.parametrize("ecs_ahead_by", [40, 300])  # ECS's rollback under way; already finished
def test_ecs_rolling_back_first_is_followed_not_doubled(tmp_path: Path, aws_env: SimServer, ecs_ahead_by: int) -> None:
    """Our limit fires, and before our rollback is sent ECS's circuit breaker rolls back too: ecsops follows
    ECS's rollback instead of sending a second one (or calling it someone else's deploy)."""
    aws_env.reset(demo_with(circuit_breaker=True, rollback=True, desired_count=10, maximum_percent=110))
    fired: list[bool] = []
    polled_failed = [0]

    def ecs_catches_up(service_name: str, operation: str) -> None:
        primary = aws_env.model.ecs.services["demo:web"].primary
        if operation == "DescribeServices":
            polled_failed[0] = primary.failed_tasks  # what this poll's answer shows
        elif operation == "DescribeTasks" and polled_failed[0] >= 2 and not fired:
            # ecsops saw the limit reached and reads why; meanwhile ECS reaches its own threshold (5).
            fired.append(True)
            aws_env.model.advance(ecs_ahead_by)

    aws_env.on_request(ecs_catches_up)
    result = deploy(tmp_path / "s.db", *BROKEN, "--max-failed-tasks", "2", "--output", "json")
    assert fired and result.returncode == 3, result.stderr
    document = result.json()
    assert [t["trigger"] for t in document["transitions"]][-2:] == ["deploy_failed", "rollback_done"]
    assert "ECS's circuit breaker rollback finished" in document["reason"]
    assert aws_env.counts()["ecs:UpdateService"] == 1  # ours only; the rollback was ECS's
