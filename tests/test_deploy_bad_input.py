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
    pytest.param([*WEB, "--container-image", "app=nginx:1.26", "--container-image", "app=nginx:1.27"],
                 ["--container-image 'app=nginx:1.27'", "conflicts with --container-image 'app=nginx:1.26'"],
                 id="conflicting-images"),
    pytest.param([*WEB, "--container-envvar", "app=OK=2"],
                 ["--container-envvar 'app=OK=2'", "'app=OK=1'", "environment variable 'OK'"],
                 id="conflicting-envvars"),
    pytest.param([*WEB, "--container-secret", "app=S=arn:a", "--container-secret", "app=S=arn:b"],
                 ["--container-secret 'app=S=arn:b'", "'app=S=arn:a'"], id="conflicting-secrets"),
    pytest.param([*WEB, "--container-logopt", "app=awslogs=mode=a", "--container-logopt", "app=awslogs=mode=b"],
                 ["--container-logopt 'app=awslogs=mode=b'", "'app=awslogs=mode=a'"], id="conflicting-logopts"),
    pytest.param([*WEB, "--task-role", "garbage"], ["--task-role 'garbage'", "arn:aws:iam::ACCOUNT:role/NAME"],
                 id="task-role-not-an-arn"),
    pytest.param([*WEB, "--task-role", "arn:aws:iam::123456789012:user/web"], ["--task-role"],
                 id="task-role-a-user-arn"),
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


@pytest.mark.parametrize(
    ("controller", "what_deploys_it"),
    [("CODE_DEPLOY", "CodeDeploy deployment"), ("EXTERNAL", "task sets")],
)
def test_a_service_ecs_does_not_deploy_is_refused_before_any_change(
    tmp_path: Path, aws_env: SimServer, controller: str, what_deploys_it: str
) -> None:
    ecs = aws_env.client("ecs")
    ecs.create_service(cluster="demo", serviceName="blue", taskDefinition="web:1", desiredCount=1,
                       deploymentController={"type": controller})
    before = aws_env.counts()
    for extra in ([], ["--dry-run"]):
        result = run_ecsops(tmp_path / "s.db", "deploy", "--cluster", "demo", "--service", "blue",
                            "--container-image", "app=nginx:1.27", *extra)
        assert result.returncode == 2, (result.stdout, result.stderr)
        assert f"uses the {controller} deployment controller" in result.stderr
        assert what_deploys_it in result.stderr and "Nothing was changed" in result.stderr
    calls = {op: n - before.get(op, 0) for op, n in aws_env.counts().items() if n != before.get(op, 0)}
    assert calls == {"ecs:DescribeServices": 2}  # the read preflight already made, and nothing else
    assert run_ecsops(tmp_path / "s.db", "runs", "--output", "json").json() == []
    assert ecs.list_task_definitions(familyPrefix="web")["taskDefinitionArns"][-1].endswith(":1")


def test_the_ecs_controller_is_deployed_as_before(tmp_path: Path, aws_env: SimServer) -> None:
    aws_env.client("ecs").create_service(cluster="demo", serviceName="green", taskDefinition="web:1",
                                         desiredCount=1, deploymentController={"type": "ECS"})
    result = run_ecsops(tmp_path / "s.db", "deploy", "--cluster", "demo", "--service", "green",
                        "--container-image", "app=nginx:1.27", "--dry-run")
    assert result.returncode == 0, result.stderr
