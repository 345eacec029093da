"""Preflight on BLUE_GREEN, LINEAR and CANARY services: dry run, refusals before any change, another deployment
in progress, and rolling services kept on their old path and request count."""

from __future__ import annotations

import json
from pathlib import Path

from cli_helpers import run_ecsops
from deploy_helpers import TARGET, deploy
from strategy_helpers import GOOD, native_demo, native_deploy, path_of, pause_hook

from ecsops.sim.server import SimServer


def test_dry_run_shows_strategy_steps_bakes_hooks_and_least_time(tmp_path: Path, aws_env: SimServer) -> None:
    aws_env.reset(native_demo("LINEAR", bake=5, lifecycle_hooks=[pause_hook()], alarms=["web-5xx"]))
    result = native_deploy(tmp_path / "s.db", *GOOD, "--dry-run")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "strategy LINEAR" in out
    assert "25% (bake 2m00s), 50% (bake 2m00s), 75% (bake 2m00s), 100%" in out
    assert "bake time after the last shift: 5m00s" in out
    assert "PAUSE hook: a person must act" in out
    assert "alarms watched: web-5xx" in out
    assert "least time to finish: 11m00s" in out  # three 2-minute step bakes and the 5-minute bake
    assert "timeout: 26m00s (15m plus the bake times)" in out
    assert aws_env.mutating_calls() == {}
    document = json.loads(native_deploy(tmp_path / "s.db", *GOOD, "--dry-run", "--output", "json").stdout)
    assert document["strategy"]["strategy"] == "LINEAR" and document["strategy"]["least_seconds"] == 660


def test_a_timeout_shorter_than_the_bakes_is_refused_before_any_change(tmp_path: Path, aws_env: SimServer) -> None:
    aws_env.reset(native_demo("BLUE_GREEN", bake=30))
    result = native_deploy(tmp_path / "s.db", *GOOD, "--timeout", "20m")
    assert result.returncode == 2, result.stderr
    assert "shorter than the least time" in result.stderr and "30m" in result.stderr
    assert aws_env.mutating_calls() == {}
    assert run_ecsops(tmp_path / "s.db", "runs", "--output", "json").json() == []


def test_without_timeout_the_default_covers_the_bake(tmp_path: Path, aws_env: SimServer) -> None:
    aws_env.reset(native_demo("BLUE_GREEN", bake=30))
    result = native_deploy(tmp_path / "s.db", *GOOD, "--run-id", "d1")
    assert result.returncode == 0, result.stderr
    status = run_ecsops(tmp_path / "s.db", "status", "d1", "--output", "json").json()
    assert status["params"]["timeout_seconds"] == 45 * 60
    # The same retry without --timeout replays the run: the default is no difference.
    again = native_deploy(tmp_path / "s.db", *GOOD, "--run-id", "d1")
    assert again.returncode == 0, again.stderr
    assert "already ended" in again.stderr


def test_access_denied_on_service_deployments_is_bad_input_naming_the_action(
    tmp_path: Path, aws_env: SimServer
) -> None:
    aws_env.reset(native_demo("BLUE_GREEN"))
    aws_env.add_fault({"service": "ecs", "operation": "ListServiceDeployments", "kind": "access_denied"})
    result = native_deploy(tmp_path / "s.db", *GOOD)
    assert result.returncode == 2, result.stderr
    assert "ecs:ListServiceDeployments" in result.stderr
    assert aws_env.mutating_calls() == {}


def test_rolling_services_keep_their_path_and_request_count(tmp_path: Path, aws_env: SimServer) -> None:
    result = deploy(tmp_path / "s.db", *GOOD, "--output", "json")
    assert result.returncode == 0, result.stderr
    document = result.json()
    assert document["strategy"] == "ROLLING" and document["service_deployment_arn"] is None
    assert [t["dest"] for t in document["transitions"]] == [
        "snapshotted", "registering", "updating", "waiting", "succeeded"]
    counts = aws_env.counts()
    assert not {key for key in counts if "ServiceDeployment" in key or "ServiceRevision" in key}, counts
    assert counts["ecs:DescribeServices"] >= 2  # the rolling wait still reads DescribeServices


def test_another_deployment_in_progress_is_waited_for_before_updating(tmp_path: Path, aws_env: SimServer) -> None:
    aws_env.reset(native_demo("BLUE_GREEN", bake=5))
    aws_env.client("ecs").update_service(cluster="demo", service="web", forceNewDeployment=True)
    result = native_deploy(tmp_path / "s.db", *GOOD, "--output", "json")
    assert result.returncode == 0, result.stderr
    document = result.json()
    assert path_of(document)[:3] == [("planned", "queued"), ("queued", "planned"), ("planned", "snapshotted")]
    assert "waiting for another deployment to end" in result.stderr
    # Ours started only once the other one had ended: never two deployments racing.
    changes = aws_env.service_deployment_changes()
    other_end = max(c["at"] for c in changes if c["serviceDeploymentArn"] != document["service_deployment_arn"]
                    and c["status"] == "SUCCESSFUL" and c["service"] == "web")
    ours_start = min(c["at"] for c in changes if c["serviceDeploymentArn"] == document["service_deployment_arn"])
    assert ours_start >= other_end
    assert aws_env.counts()["ecs:UpdateService"] == 2  # the other one and ours


def test_an_unknown_on_pause_value_is_refused(tmp_path: Path, aws_env: SimServer) -> None:
    result = run_ecsops(tmp_path / "s.db", "deploy", *TARGET, *GOOD, "--on-pause", "later")
    assert result.returncode == 2 and "--on-pause" in result.stderr


def test_wait_until_draining_started_is_refused_on_a_native_service(tmp_path: Path, aws_env: SimServer) -> None:
    aws_env.reset(native_demo("CANARY"))
    result = native_deploy(tmp_path / "s.db", *GOOD, "--wait-until", "draining-started")
    assert result.returncode == 2, result.stderr
    assert "deploys CANARY" in result.stderr and "primary-rolled" in result.stderr
    assert aws_env.mutating_calls() == {}
