"""deploy on BLUE_GREEN, LINEAR and CANARY services: it follows its own service deployment to its true end."""

from __future__ import annotations

from pathlib import Path

import pytest
from strategy_helpers import (
    BROKEN,
    GOOD,
    NATIVE_PATH,
    changes,
    lambda_hook,
    native_demo,
    native_deploy,
    path_of,
)

from ecsops.sim.scenario import AlarmBreach, ForeignUpdate, HookAnswer, StopSpec
from ecsops.sim.server import SimServer


@pytest.mark.parametrize("strategy", ["BLUE_GREEN", "LINEAR", "CANARY"])
def test_good_deploy_succeeds_only_after_the_bake_and_clean_up(
    tmp_path: Path, aws_env: SimServer, strategy: str
) -> None:
    aws_env.reset(native_demo(strategy, bake=30 if strategy == "BLUE_GREEN" else 5))
    started = aws_env.now()
    result = native_deploy(tmp_path / "s.db", *GOOD, "--output", "json")
    assert result.returncode == 0, result.stderr
    document = result.json()
    assert document["status"] == "succeeded"
    assert document["strategy"] == strategy
    assert document["service_deployment_arn"].startswith("arn:aws:ecs:us-east-1:123456789012:service-deployment/")
    assert path_of(document) == [*NATIVE_PATH, ("following", "succeeded")]
    successful = [c for c in changes(aws_env, "SUCCESSFUL") if c["serviceDeploymentArn"] ==
                  document["service_deployment_arn"]]
    assert len(successful) == 1
    ended = aws_env.now()
    # Not before ECS said SUCCESSFUL (after the whole bake), and noticed within 6 s of it.
    assert successful[0]["at"] - started >= 60 * (30 if strategy == "BLUE_GREEN" else 5)
    assert 0 <= ended - successful[0]["at"] <= 6.0
    counts = aws_env.counts()
    assert counts["ecs:RegisterTaskDefinition"] == 1 and counts["ecs:UpdateService"] == 1
    assert counts["ecs:DescribeServices"] == 1  # preflight's only: none while following the deployment
    assert counts.get("ecs:StopServiceDeployment", 0) == 0
    assert "stage BAKE_TIME" in result.stderr
    if strategy == "LINEAR":
        for weight in ("25%", "50%", "75%", "100%"):
            assert f"production {weight}" in result.stderr
    if strategy == "CANARY":
        assert "production 10%" in result.stderr


def test_a_30_minute_bake_is_polled_at_most_every_30_seconds(tmp_path: Path, aws_env: SimServer) -> None:
    aws_env.reset(native_demo("BLUE_GREEN", bake=30))
    result = native_deploy(tmp_path / "s.db", *GOOD)
    assert result.returncode == 0, result.stderr
    polls = aws_env.counts()["ecs:DescribeServiceDeployments"]
    # 60 polls at one per 30 s would cover the bake alone; the stages before it and its last minute add a few.
    assert polls <= 30 * 60 / 30 + 25, polls
    assert "bake: at least" in result.stderr


def test_failing_image_is_rolled_back_by_ecs_and_named(tmp_path: Path, aws_env: SimServer) -> None:
    aws_env.reset(native_demo("BLUE_GREEN"))
    result = native_deploy(tmp_path / "s.db", *BROKEN, "--output", "json")
    assert result.returncode == 3, result.stderr
    document = result.json()
    assert document["status"] == "rolled_back"
    assert path_of(document)[-2:] == [("following", "ecs_rolling_back"), ("ecs_rolling_back", "rolled_back")]
    assert "circuit breaker" in document["reason"] and "CannotPullContainerError" in document["reason"]
    assert document["task_failures"], document
    counts = aws_env.counts()
    assert counts["ecs:UpdateService"] == 1  # ECS rolled back; no second UpdateService
    assert counts.get("ecs:StopServiceDeployment", 0) == 0
    assert [c["status"] for c in aws_env.service_deployment_changes()
            if c["serviceDeploymentArn"] == document["service_deployment_arn"]][-1] == "ROLLBACK_SUCCESSFUL"


def test_a_failing_lambda_hook_is_named_with_its_stage(tmp_path: Path, aws_env: SimServer) -> None:
    aws_env.reset(native_demo(
        "BLUE_GREEN", lifecycle_hooks=[lambda_hook("POST_SCALE_UP")],
        hook_answers=[HookAnswer(service="web", stage="POST_SCALE_UP", answer="FAILED")],
    ))
    result = native_deploy(tmp_path / "s.db", *GOOD, "--output", "json")
    assert result.returncode == 3, result.stderr
    reason = result.json()["reason"]
    assert "hook" in reason and "failed at POST_SCALE_UP" in reason


def test_a_hook_timing_out_rolls_back(tmp_path: Path, aws_env: SimServer) -> None:
    aws_env.reset(native_demo(
        "BLUE_GREEN", lifecycle_hooks=[lambda_hook("POST_SCALE_UP", timeout_minutes=5, action="ROLLBACK")],
        hook_answers=[HookAnswer(service="web", stage="POST_SCALE_UP", answer="NEVER")],
    ))
    result = native_deploy(tmp_path / "s.db", *GOOD, "--output", "json")
    assert result.returncode == 3, result.stderr
    assert "timed out at POST_SCALE_UP" in result.json()["reason"]


def test_an_alarm_during_the_bake_rolls_back_and_is_named(tmp_path: Path, aws_env: SimServer) -> None:
    aws_env.reset(native_demo(
        "BLUE_GREEN", alarms=["web-5xx"], alarm_breaches=[AlarmBreach(service="web", alarm="web-5xx")]
    ))
    result = native_deploy(tmp_path / "s.db", *GOOD, "--output", "json")
    assert result.returncode == 3, result.stderr
    assert "alarm in ALARM: web-5xx" in result.json()["reason"]


def test_a_failed_rollback_needs_a_person(tmp_path: Path, aws_env: SimServer) -> None:
    aws_env.reset(native_demo("BLUE_GREEN", failing_rollbacks=["web"]))
    result = native_deploy(tmp_path / "s.db", *BROKEN, "--output", "json")
    assert result.returncode == 4, result.stderr
    document = result.json()
    assert document["status"] == "rollback_failed"
    assert "the rollback FAILED" in document["reason"] and "needs a person" in document["reason"]


def test_a_newer_deployment_by_someone_else_supersedes_ours(tmp_path: Path, aws_env: SimServer) -> None:
    aws_env.reset(native_demo("BLUE_GREEN", foreign_updates=[ForeignUpdate(service="web", stage="BAKE_TIME")]))
    result = native_deploy(tmp_path / "s.db", *GOOD, "--output", "json")
    assert result.returncode == 6, result.stderr
    document = result.json()
    assert document["status"] == "superseded"
    assert "a newer deployment" in document["reason"]
    assert aws_env.counts().get("ecs:StopServiceDeployment", 0) == 0


def test_stopped_by_someone_without_a_newer_deployment_fails(tmp_path: Path, aws_env: SimServer) -> None:
    aws_env.reset(native_demo("BLUE_GREEN", stops=[StopSpec(service="web", stage="BAKE_TIME", stop_type="ABORT")]))
    result = native_deploy(tmp_path / "s.db", *GOOD, "--output", "json")
    assert result.returncode == 1, result.stderr
    document = result.json()
    assert document["status"] == "failed"
    assert "STOPPED" in document["reason"] and "no newer deployment" in document["reason"]


def test_stopped_with_rollback_by_someone_ends_rolled_back(tmp_path: Path, aws_env: SimServer) -> None:
    aws_env.reset(native_demo("BLUE_GREEN", stops=[StopSpec(service="web", stage="BAKE_TIME")]))
    result = native_deploy(tmp_path / "s.db", *GOOD, "--output", "json")
    assert result.returncode == 3, result.stderr
    assert result.json()["status"] == "rolled_back"


def test_our_timeout_rolls_back_with_stop_service_deployment(tmp_path: Path, aws_env: SimServer) -> None:
    # The hook never answers and its own timeout would let the deployment go on: only ecsops's --timeout ends it.
    aws_env.reset(native_demo(
        "BLUE_GREEN", bake=5, lifecycle_hooks=[lambda_hook("POST_SCALE_UP", timeout_minutes=600, action="CONTINUE")],
        hook_answers=[HookAnswer(service="web", stage="POST_SCALE_UP", answer="NEVER")],
    ))
    result = native_deploy(tmp_path / "s.db", *GOOD, "--timeout", "20m", "--output", "json")
    assert result.returncode == 3, result.stderr
    document = result.json()
    assert path_of(document)[-2:] == [("following", "stopping"), ("stopping", "rolled_back")]
    assert "did not finish within 20m" in document["reason"]
    counts = aws_env.counts()
    assert counts["ecs:StopServiceDeployment"] == 1
    assert counts["ecs:UpdateService"] == 1  # the rollback is ECS's, never a second UpdateService
    steps = {s["name"]: s for s in document["steps"]}
    assert steps["stop_service_deployment"]["request"]["stopType"] == "ROLLBACK"


def test_no_rollback_leaves_ecs_deployment_running(tmp_path: Path, aws_env: SimServer) -> None:
    aws_env.reset(native_demo(
        "BLUE_GREEN", bake=5, lifecycle_hooks=[lambda_hook("POST_SCALE_UP", timeout_minutes=600, action="CONTINUE")],
        hook_answers=[HookAnswer(service="web", stage="POST_SCALE_UP", answer="NEVER")],
    ))
    result = native_deploy(tmp_path / "s.db", *GOOD, "--timeout", "20m", "--no-rollback", "--output", "json")
    assert result.returncode == 1, result.stderr
    assert "--no-rollback" in result.json()["reason"]
    assert aws_env.counts().get("ecs:StopServiceDeployment", 0) == 0


def test_without_ecs_circuit_breaker_failed_tasks_fail_the_deploy_and_ecsops_stops_it(
    tmp_path: Path, aws_env: SimServer
) -> None:
    aws_env.reset(native_demo("BLUE_GREEN", circuit_breaker=False, rollback=False))
    result = native_deploy(tmp_path / "s.db", *BROKEN, "--output", "json")
    assert result.returncode == 3, result.stderr
    document = result.json()
    assert path_of(document)[-2:] == [("following", "stopping"), ("stopping", "rolled_back")]
    assert "failed tasks of the new revision reached the limit of 3" in document["reason"]
    assert "CannotPullContainerError" in document["reason"]
    counts = aws_env.counts()
    assert counts["ecs:StopServiceDeployment"] == 1 and counts["ecs:UpdateService"] == 1


def test_max_failed_tasks_fails_before_ecs_circuit_breaker(tmp_path: Path, aws_env: SimServer) -> None:
    aws_env.reset(native_demo("BLUE_GREEN"))
    result = native_deploy(tmp_path / "s.db", *BROKEN, "--max-failed-tasks", "1", "--output", "json")
    assert result.returncode == 3, result.stderr
    document = result.json()
    assert "reached the limit of 1" in document["reason"]
    assert aws_env.counts()["ecs:StopServiceDeployment"] == 1
