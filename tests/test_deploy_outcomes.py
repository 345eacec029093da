"""How a deploy ends, against the simulator: success, ECS or tool rollback, timeout, rollback failure, superseded."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from cli_helpers import run_ecsops
from deploy_helpers import demo_with, deploy, revisions, service

from ecsops.sim.scenario import demo_scenario
from ecsops.sim.server import SimServer

BROKEN = ("--container-image", "app=nginx:broken")


def test_good_deploy_waits_for_its_own_deployment(tmp_path: Path, aws_env: SimServer) -> None:
    result = deploy(tmp_path / "s.db", "--container-image", "app=nginx:1.27", "--desired-count", "3",
                    "--output", "json")
    assert result.returncode == 0, result.stderr
    counts = aws_env.counts()
    document = result.json()
    assert document["status"] == "succeeded"
    assert document["operation"] == "deploy"
    assert document["target"] == "ecs:123456789012:us-east-1:demo/web"  # resolved from AWS's answer
    assert document["previous_task_definition"].endswith("web:1")
    assert document["new_task_definition"].endswith("web:2")
    assert [(t["source"], t["dest"]) for t in document["transitions"]] == [
        ("planned", "snapshotted"), ("snapshotted", "registering"), ("registering", "updating"),
        ("updating", "waiting"), ("waiting", "succeeded"),
    ]
    assert counts["ecs:RegisterTaskDefinition"] == 1
    assert counts["ecs:UpdateService"] == 1
    assert counts["ecs:DescribeTaskDefinition"] == 1  # preflight's read is the run's snapshot
    now = service(aws_env)
    assert [d["id"] for d in now["deployments"]] == [document["deployment_id"]]
    assert now["desiredCount"] == 3 and now["runningCount"] == 3
    # Progress on stderr: deployment counts with time left, and ECS's service events.
    assert "running 0/3" in result.stderr and "left" in result.stderr
    assert "event: (service web) has reached a steady state." in result.stderr


def test_circuit_breaker_rollback_by_ecs_ends_rolled_back(tmp_path: Path, aws_env: SimServer) -> None:
    result = deploy(tmp_path / "s.db", *BROKEN, "--output", "json")
    assert result.returncode == 3, result.stderr
    document = result.json()
    assert document["status"] == "rolled_back"
    assert [t["dest"] for t in document["transitions"]][-2:] == ["ecs_rolling_back", "rolled_back"]
    assert "circuit breaker" in document["reason"]
    assert aws_env.counts()["ecs:UpdateService"] == 1  # ECS rolled back; ecsops did not roll back again
    assert service(aws_env)["taskDefinition"].endswith("web:1")


def test_circuit_breaker_without_ecs_rollback_is_rolled_back_by_ecsops(tmp_path: Path, aws_env: SimServer) -> None:
    aws_env.reset(demo_with(circuit_breaker=True, rollback=False))
    result = deploy(tmp_path / "s.db", *BROKEN, "--desired-count", "3", "--output", "json")
    assert result.returncode == 3, result.stderr
    document = result.json()
    assert [t["trigger"] for t in document["transitions"]][-2:] == ["deploy_failed", "rollback_done"]
    assert "failed" in document["reason"] and "rolled back to web:1" in document["reason"]
    assert aws_env.counts()["ecs:UpdateService"] == 2
    now = service(aws_env)
    assert now["taskDefinition"].endswith("web:1")
    assert now["desiredCount"] == 2  # the recorded desired count, not the one the deploy asked for
    rollback = next(s for s in document["steps"] if s["name"] == "rollback_update_service")
    assert rollback["request"]["desiredCount"] == 2 and rollback["request"]["forceNewDeployment"] is True


def test_failing_image_without_circuit_breaker_times_out_and_rolls_back(tmp_path: Path, aws_env: SimServer) -> None:
    aws_env.reset(demo_with(circuit_breaker=False, rollback=False))
    result = deploy(tmp_path / "s.db", *BROKEN, "--timeout", "3m", "--max-failed-tasks", "0", "--output", "json")
    assert result.returncode == 3, result.stderr
    document = result.json()
    assert [t["trigger"] for t in document["transitions"]][-2:] == ["timed_out", "rollback_done"]
    assert "did not finish within 3m00s" in document["reason"]
    assert service(aws_env)["taskDefinition"].endswith("web:1")


def test_no_rollback_leaves_the_failed_deployment(tmp_path: Path, aws_env: SimServer) -> None:
    aws_env.reset(demo_with(circuit_breaker=False, rollback=False))
    result = deploy(tmp_path / "s.db", *BROKEN, "--timeout", "2m", "--no-rollback", "--output", "json")
    assert result.returncode == 1, result.stderr
    document = result.json()
    assert document["status"] == "failed"
    assert "--no-rollback" in document["reason"] and "--taskdef web:1" in document["reason"]
    assert aws_env.counts()["ecs:UpdateService"] == 1
    assert service(aws_env)["taskDefinition"].endswith("web:2")


def test_rollback_that_cannot_finish_exits_4_and_says_what_to_do(tmp_path: Path, aws_env: SimServer) -> None:
    aws_env.reset(demo_scenario().model_copy(update={"stuck_services": ["web"]}))
    result = deploy(tmp_path / "s.db", "--container-image", "app=nginx:1.27", "--timeout", "2m")
    assert result.returncode == 4, result.stderr
    assert "rollback_failed" in result.stdout
    assert "needs a person" in result.stdout and "describe-services --cluster demo --services web" in result.stdout
    assert aws_env.counts()["ecs:UpdateService"] == 2


def test_another_deployment_supersedes_ours_without_rollback(tmp_path: Path, aws_env: SimServer) -> None:
    store = tmp_path / "s.db"
    aws_env.reset(demo_with(circuit_breaker=False, rollback=False))
    killed = deploy(store, *BROKEN, "--run-id", "ours", ECSOPS_CRASH_AT="enter:waiting")
    assert killed.returncode == -signal.SIGKILL
    ecs = aws_env.client("ecs")
    other = ecs.register_task_definition(family="web", containerDefinitions=[
        {"name": "app", "image": "nginx:1.28", "memory": 128, "essential": True}
    ])["taskDefinition"]["taskDefinitionArn"]
    ecs.update_service(cluster="demo", service="web", taskDefinition=other)
    resumed = run_ecsops(store, "resume", "ours", "--output", "json")
    assert resumed.returncode == 6, resumed.stderr
    document = resumed.json()
    assert document["status"] == "superseded"
    assert "someone else deployed" in document["reason"]
    assert aws_env.counts()["ecs:UpdateService"] == 2  # ours and the other one: no rollback over it
    assert service(aws_env)["taskDefinition"] == other


def test_wait_until_draining_started(tmp_path: Path, aws_env: SimServer) -> None:
    result = deploy(tmp_path / "s.db", "--container-image", "app=nginx:1.27", "--wait-until", "draining-started",
                    "--output", "json")
    assert result.returncode == 0, result.stderr
    assert result.json()["status"] == "succeeded"
    assert aws_env.counts()["elbv2:DescribeTargetHealth"] >= 2
    # Returned as soon as old targets drained: the new deployment is not finished yet.
    assert len(service(aws_env)["deployments"]) == 2


def test_same_run_id_twice_deploys_once(tmp_path: Path, aws_env: SimServer) -> None:
    store = tmp_path / "s.db"
    first = deploy(store, "--container-image", "app=nginx:1.27", "--run-id", "ci-42", "--output", "json")
    second = deploy(store, "--container-image", "app=nginx:1.27", "--run-id", "ci-42", "--output", "json")
    assert first.returncode == second.returncode == 0, second.stderr
    assert "already ended (succeeded)" in second.stderr
    assert aws_env.counts()["ecs:UpdateService"] == 1
    assert aws_env.counts()["ecs:RegisterTaskDefinition"] == 1
    assert first.json()["deployment_id"] == second.json()["deployment_id"]
    assert len(revisions(aws_env)) == 2


def test_throttling_and_server_errors_are_retried_not_failed(tmp_path: Path, aws_env: SimServer) -> None:
    aws_env.add_fault({"service": "ecs", "operation": "DescribeServices", "kind": "throttling", "rate": 0.5,
                       "count": 12})
    aws_env.add_fault({"service": "ecs", "operation": "UpdateService", "kind": "reset", "nth": 1})
    aws_env.add_fault({"service": "ecs", "operation": "UpdateService", "kind": "throttling", "nth": 1, "count": 2})
    aws_env.add_fault({"service": "ecs", "operation": "RegisterTaskDefinition", "kind": "http500", "nth": 1})
    result = deploy(tmp_path / "s.db", "--container-image", "app=nginx:1.27", "--output", "json")
    assert result.returncode == 0, result.stderr
    counts = aws_env.counts()
    # Non-idempotent calls are not retried blindly: after the 500 and the reset ecsops asked AWS first.
    assert counts["ecs:RegisterTaskDefinition"] == 2
    assert counts["ecs:UpdateService"] == 4
    assert counts["ecs:ListTaskDefinitions"] == 1
    assert len(revisions(aws_env)) == 2
    assert [d["id"] for d in service(aws_env)["deployments"]] == [result.json()["deployment_id"]]
    assert "trying again" in result.stderr


def test_second_deploy_on_a_locked_service_exits_5(tmp_path: Path, aws_env: SimServer) -> None:
    store = tmp_path / "s.db"
    killed = deploy(store, "--container-image", "app=nginx:1.27", "--run-id", "first", ECSOPS_CRASH_AT="enter:waiting")
    assert killed.returncode == -signal.SIGKILL
    # The killed process is gone, but its run still holds the service until resumed or abandoned.
    second = deploy(store, "--container-image", "app=nginx:1.28", "--run-id", "second")
    assert second.returncode == 5, second.stderr
    assert "first" in second.stderr


def _deploy_elsewhere(sim: SimServer, image: str = "nginx:1.28") -> str:
    """Someone else's deploy of the service: a new revision and an UpdateService outside ecsops."""
    ecs = sim.client("ecs")
    other: str = ecs.register_task_definition(family="web", containerDefinitions=[
        {"name": "app", "image": image, "memory": 128, "essential": True}
    ])["taskDefinition"]["taskDefinitionArn"]
    ecs.update_service(cluster="demo", service="web", taskDefinition=other)
    return other


@pytest.mark.parametrize("crash_at", ["enter:rolling_back", "call:rollback_update_service"])
def test_someone_else_deploying_during_our_rollback_supersedes_it(
    tmp_path: Path, aws_env: SimServer, crash_at: str
) -> None:
    store = tmp_path / "s.db"
    aws_env.reset(demo_with(circuit_breaker=True, rollback=False))
    killed = deploy(store, *BROKEN, "--run-id", "ours", ECSOPS_CRASH_AT=crash_at)
    assert killed.returncode == -signal.SIGKILL
    before = aws_env.counts()["ecs:UpdateService"]
    other = _deploy_elsewhere(aws_env)
    resumed = run_ecsops(store, "resume", "ours", "--output", "json")
    assert resumed.returncode == 6, resumed.stderr
    document = resumed.json()
    assert document["status"] == "superseded"
    assert "someone else deployed" in document["reason"]
    assert aws_env.counts()["ecs:UpdateService"] == before + 1  # only the other deploy: no rollback over it
    assert service(aws_env)["taskDefinition"] == other


def test_no_rollback_with_circuit_breaker_fails_fast_without_rolling_back(tmp_path: Path, aws_env: SimServer) -> None:
    aws_env.reset(demo_with(circuit_breaker=True, rollback=False))
    result = deploy(tmp_path / "s.db", *BROKEN, "--no-rollback", "--output", "json")
    assert result.returncode == 1, result.stderr
    document = result.json()
    assert document["status"] == "failed"
    assert [t["trigger"] for t in document["transitions"]][-1] == "gave_up"
    assert "failed" in document["reason"] and "--no-rollback" in document["reason"]
    assert document["deployment_id"] and document["new_task_definition"].endswith("web:2")
    assert aws_env.counts()["ecs:UpdateService"] == 1


def test_rollback_timeout_says_what_state_the_service_is_in(tmp_path: Path, aws_env: SimServer) -> None:
    aws_env.reset(demo_scenario().model_copy(update={"stuck_services": ["web"]}))
    result = deploy(tmp_path / "s.db", "--container-image", "app=nginx:1.27", "--timeout", "2m", "--output", "json")
    assert result.returncode == 4, result.stderr
    document = result.json()
    assert document["status"] == "rollback_failed"
    reason = document["reason"]
    assert f"rollback deployment {document['rollback_deployment_id']} did not finish within 2m00s" in reason
    assert "deployments now:" in reason and "web:1" in reason and "web:2" in reason
    assert "--taskdef FAMILY:REV" in reason
    assert "the rollback failed" in result.stderr


def test_abandoning_the_crashed_holder_lets_the_next_deploy_proceed(tmp_path: Path, aws_env: SimServer) -> None:
    store = tmp_path / "s.db"
    killed = deploy(store, "--container-image", "app=nginx:1.27", "--run-id", "first", ECSOPS_CRASH_AT="enter:waiting")
    assert killed.returncode == -signal.SIGKILL
    refused = deploy(store, "--container-image", "app=nginx:1.28", "--run-id", "second", "--output", "json")
    assert refused.returncode == 5
    assert "locked by run first" in refused.stderr and "ecsops abandon first" in refused.stderr
    assert refused.stdout == ""
    assert run_ecsops(store, "abandon", "first").returncode == 0
    second = deploy(store, "--container-image", "app=nginx:1.28", "--run-id", "second", "--output", "json")
    assert second.returncode == 0, second.stderr
    assert second.json()["previous_task_definition"].endswith("web:2")  # the abandoned run's deploy was live


def test_run_id_of_another_service_is_refused(tmp_path: Path, aws_env: SimServer) -> None:
    store = tmp_path / "s.db"
    assert deploy(store, "--container-image", "app=nginx:1.27", "--run-id", "ci-9").returncode == 0
    reused = run_ecsops(store, "deploy", "--cluster", "demo", "--service", "api", "--run-id", "ci-9",
                        "--poll-interval", "0", "--output", "json")
    assert reused.returncode == 2
    assert "run id ci-9 was recorded with other inputs (service: recorded web, now api;" in reused.stderr
    assert reused.stdout == ""
    assert aws_env.counts()["ecs:UpdateService"] == 1


def test_someone_else_deploying_before_our_update_supersedes_it(tmp_path: Path, aws_env: SimServer) -> None:
    store = tmp_path / "s.db"
    killed = deploy(store, "--container-image", "app=nginx:1.27", "--run-id", "ours", ECSOPS_CRASH_AT="enter:updating")
    assert killed.returncode == -signal.SIGKILL
    other = _deploy_elsewhere(aws_env)
    resumed = run_ecsops(store, "resume", "ours", "--output", "json")
    assert resumed.returncode == 6, resumed.stderr
    document = resumed.json()
    assert [t["dest"] for t in document["transitions"]][-2:] == ["updating", "superseded"]
    assert "someone else deployed" in document["reason"]
    assert aws_env.counts()["ecs:UpdateService"] == 1  # only the other deploy
    assert service(aws_env)["taskDefinition"] == other


def test_a_500_after_the_change_took_effect_is_reconciled_not_repeated(tmp_path: Path, aws_env: SimServer) -> None:
    aws_env.reset(demo_with(circuit_breaker=True, rollback=False))
    for operation in ("RegisterTaskDefinition", "UpdateService"):
        aws_env.add_fault({"service": "ecs", "operation": operation, "kind": "http500_after", "nth": 1})
    aws_env.add_fault({"service": "ecs", "operation": "UpdateService", "kind": "http500_after", "nth": 2})
    result = deploy(tmp_path / "s.db", *BROKEN, "--output", "json")
    assert result.returncode == 3, result.stderr
    counts = aws_env.counts()
    assert counts["ecs:RegisterTaskDefinition"] == 1  # found by its run-id tag after the 500
    assert counts["ecs:UpdateService"] == 2  # the deploy and the rollback, each once despite its 500
    assert len(revisions(aws_env)) == 2
    document = result.json()
    assert document["deployment_id"] != document["rollback_deployment_id"]
    assert [d["id"] for d in service(aws_env)["deployments"]] == [document["rollback_deployment_id"]]
    assert "ServerException" in result.stderr
