"""Bad deploy input exits 2 with a message that says what to fix, before any mutating AWS call."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import run_ecsops
from deploy_helpers import demo_with

from ecsops.sim.server import SimServer

WEB = ("--cluster", "demo", "--service", "web")

CASES = [
    pytest.param([*WEB, "--container-image", "app"], ["--container-image", "expected NAME=IMAGE"],
                 id="image-no-equals"),
    pytest.param([*WEB, "--container-image", "app="], ["--container-image", "IMAGE is empty"], id="image-empty"),
    pytest.param([*WEB, "--container-envvar", "app=KEY"], ["--container-envvar", "NAME=KEY=VALUE"], id="envvar-short"),
    pytest.param([*WEB, "--container-secret", "=KEY=arn"], ["--container-secret", "NAME is empty"],
                 id="secret-no-name"),
    pytest.param([*WEB, "--container-logopt", "app=awslogs=x"], ["--container-logopt", "NAME=DRIVER=OPTION=VALUE"],
                 id="logopt-short"),
    pytest.param([*WEB, "--container-image", "nope=nginx:1"], ["--container-image", "'nope'", "containers: app"],
                 id="unknown-container"),
    pytest.param([*WEB, "--container-envvar", "app=A=1", "--container-secret", "worker=S=arn"],
                 ["--container-secret", "'worker'", "containers: app"], id="unknown-container-second-flag"),
    pytest.param([*WEB, "--container-logopt", "app=splunk=splunk-url=https://x"],
                 ["--container-logopt", "'awslogs'", "'splunk'"], id="wrong-log-driver"),
    pytest.param([*WEB, "--container-logsecret", "app=fluentd=tag=arn"], ["--container-logsecret", "'awslogs'"],
                 id="wrong-log-driver-secret"),
    pytest.param(["--cluster", "demo", "--service", "nope"], ["service 'nope' not found", "list-services"],
                 id="missing-service"),
    pytest.param(["--cluster", "nope", "--service", "web"], ["cluster 'nope' not found"], id="missing-cluster"),
    pytest.param(["--service", "web"], ["--cluster is required"], id="no-cluster"),
    pytest.param([*WEB, "--taskdef", "other:9"], ["task definition 'other:9' not found"], id="missing-taskdef"),
    pytest.param([*WEB, "--timeout", "soon"], ["--timeout", "invalid duration 'soon'", "15m"], id="bad-timeout"),
    pytest.param([*WEB, "--timeout", "-5m"], ["--timeout"], id="negative-timeout"),
    pytest.param([*WEB, "--poll-interval", "fast"], ["--poll-interval"], id="bad-poll-interval"),
    pytest.param([*WEB, "--wait-until", "forever"], ["--wait-until 'forever'", "primary-rolled, draining-started"],
                 id="bad-wait-until"),
    pytest.param([*WEB, "--desired-count", "-1"], ["--desired-count -1", "0 or more"], id="negative-desired-count"),
    pytest.param([*WEB, "--desired-count", "two"], ["--desired-count"], id="non-numeric-desired-count"),
    pytest.param([*WEB, "--output", "yaml"], ["--output must be text or json"], id="bad-output"),
]


@pytest.mark.parametrize(("args", "expected"), CASES)
def test_bad_input_exits_2_before_any_change(
    tmp_path: Path, aws_env: SimServer, args: list[str], expected: list[str]
) -> None:
    result = run_ecsops(tmp_path / "s.db", "deploy", *args, "--container-envvar", "app=OK=1")
    assert result.returncode == 2, (result.stdout, result.stderr)
    for fragment in expected:
        assert fragment in result.stderr, (fragment, result.stderr)
    assert aws_env.mutating_calls() == {}
    runs = run_ecsops(tmp_path / "s.db", "runs", "--output", "json")
    assert runs.json() == []


def test_draining_started_needs_a_target_group(tmp_path: Path, aws_env: SimServer) -> None:
    aws_env.reset(demo_with(load_balancer=None))
    result = run_ecsops(tmp_path / "s.db", "deploy", *WEB, "--wait-until", "draining-started")
    assert result.returncode == 2
    assert "no load balancer target group" in result.stderr
    assert aws_env.mutating_calls() == {}


def test_help_lists_every_deploy_flag(tmp_path: Path) -> None:
    result = run_ecsops(tmp_path / "s.db", "deploy", "--help", COLUMNS="200")
    assert result.returncode == 0
    for flag in ("--cluster", "--service", "--container-image", "--container-envvar", "--container-secret",
                 "--container-logopt", "--container-logsecret", "--task-role", "--desired-count", "--taskdef",
                 "--wait-until", "--timeout", "--rollback-timeout", "--poll-interval", "--no-rollback", "--dry-run",
                 "--run-id", "--profile", "--region", "--output"):
        assert flag in result.stdout, flag


def test_aws_refusing_the_preflight_read_exits_1_not_2_and_changes_nothing(tmp_path: Path, aws_env: SimServer) -> None:
    """AccessDenied on the first read is not bad input: the flags may be right. Nothing changed, exit 1."""
    aws_env.add_fault({"service": "ecs", "operation": "DescribeServices", "kind": "access_denied"})
    for extra in ([], ["--dry-run"]):
        result = run_ecsops(tmp_path / "s.db", "deploy", *WEB, "--container-image", "app=nginx:1.27", *extra)
        assert result.returncode == 1, result.stderr
        assert "AccessDeniedException" in result.stderr and "nothing was changed" in result.stderr
        assert "Traceback" not in result.stderr
    assert aws_env.mutating_calls() == {}
    assert run_ecsops(tmp_path / "s.db", "runs", "--output", "json").json() == []
