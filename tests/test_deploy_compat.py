"""`update-aws-ecs-service` accepts go-awsecs's single-dash flags and runs the same deploy machine."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import Result, run_ecsops, run_module
from deploy_helpers import container, named, service, task_definition

from ecsops.cli.compat_update_service import CompatUsageError, translate
from ecsops.sim.server import SimServer


def run_compat(store: Path, *args: str) -> Result:
    return run_module("ecsops.cli.compat_update_service", store, *args)


def test_translate_single_dash_forms() -> None:
    assert translate(["-cluster", "demo", "-service=web", "--container-image", "app=a=b", "-desired-count", "-1",
                      "-timeout", "5m", "--run-id", "x"]) == [
        "--cluster", "demo", "--service", "web", "--container-image", "app=a=b", "--timeout", "5m", "--run-id", "x",
    ]
    assert translate(["-desired-count=3"]) == ["--desired-count", "3"]
    with pytest.raises(CompatUsageError, match="not defined: -bogus"):
        translate(["-bogus", "1"])
    with pytest.raises(CompatUsageError, match="needs an argument"):
        translate(["-cluster"])


def test_compat_command_deploys_with_the_original_flags(tmp_path: Path, aws_env: SimServer) -> None:
    store = tmp_path / "s.db"
    result = run_compat(
        store,
        "-cluster", "demo", "-service", "web",
        "-container-image", "app=nginx:1.27",
        "-container-envvar", "app=GREETING=hi",
        "-container-secret", "app=DB=arn:aws:ssm:us-east-1:123456789012:parameter/db",
        "-container-logopt", "app=awslogs=awslogs-stream-prefix=compat",
        "-container-logsecret", "app=awslogs=key=arn:aws:ssm:us-east-1:123456789012:parameter/key",
        "-task-role", "arn:aws:iam::123456789012:role/web",
        "-desired-count", "3", "-timeout", "10m", "-region", "us-east-1",
        "--poll-interval", "0",
    )
    assert result.returncode == 0, result.stderr
    app = container(task_definition(aws_env, "web:2"), "app")
    assert app["image"] == "nginx:1.27"
    assert named(app["environment"], "value") == {"GREETING": "hi"}
    assert app["logConfiguration"]["options"]["awslogs-stream-prefix"] == "compat"
    assert service(aws_env)["desiredCount"] == 3
    runs = run_ecsops(store, "runs", "--output", "json").json()
    assert [(r["operation"], r["status"]) for r in runs] == [("deploy", "succeeded")]


def test_compat_command_rejects_unknown_flags_with_exit_2(tmp_path: Path, aws_env: SimServer) -> None:
    result = run_compat(tmp_path / "s.db", "-cluster", "demo", "-service", "web", "-image", "x")
    assert result.returncode == 2
    assert "flag provided but not defined: -image" in result.stderr
    bad = run_compat(tmp_path / "s.db", "-cluster", "demo", "-service", "web", "-container-image", "nope=x")
    assert bad.returncode == 2
    assert "containers: app" in bad.stderr
    assert aws_env.mutating_calls() == {}


def test_compat_knock_out_and_unchanged_desired_count(tmp_path: Path, aws_env: SimServer) -> None:
    store = tmp_path / "s.db"
    result = run_compat(
        store, "-cluster", "demo", "-service", "web", "-container-envvar", "app=GREETING=",
        "-desired-count", "-1", "-timeout", "1m30s", "--poll-interval", "0", "--output", "json",
    )
    assert result.returncode == 0, result.stderr
    document = result.json()
    assert document["params"]["desired_count"] is None and document["params"]["timeout_seconds"] == 90
    app = container(task_definition(aws_env, document["new_task_definition"]), "app")
    assert named(app.get("environment"), "value") == {}
    assert service(aws_env)["desiredCount"] == 2


def test_compat_failing_image_exits_with_the_deploy_codes(tmp_path: Path, aws_env: SimServer) -> None:
    result = run_compat(tmp_path / "s.db", "-cluster=demo", "-service=web", "-container-image=app=nginx:broken",
                        "--poll-interval", "0")
    assert result.returncode == 3, result.stderr
    assert aws_env.counts()["ecs:UpdateService"] == 1


def test_compat_takes_go_durations_and_ecsops_flags(tmp_path: Path, aws_env: SimServer) -> None:
    store = tmp_path / "s.db"
    result = run_compat(
        store, "-cluster", "demo", "-service", "web", "-container-image", "app=nginx:1.27",
        "-timeout", "1h30m0s", "-poll-interval=500ms", "-run-id", "go-durations", "-output", "json",
        "-store", str(store),
    )
    assert result.returncode == 0, result.stderr
    params = result.json()["params"]
    assert params["timeout_seconds"] == 5400 and params["poll_interval"] == 0.5
    assert run_ecsops(store, "status", "go-durations", "--output", "json").json()["status"] == "succeeded"
