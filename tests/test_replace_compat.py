"""enforce-aws-ecs-asg-launchconfig: go-awsecs's single-dash flags run the replace-instances machine."""

from __future__ import annotations

from pathlib import Path

from cli_helpers import Result, run_ecsops, run_module
from replace_helpers import fleet_scenario

from ecsops.sim.server import SimServer


def _compat(store: Path, *args: str) -> Result:
    return run_module("ecsops.cli.compat_enforce_launchconfig", store, *args)


def test_original_flags_replace_the_out_of_date_instance(aws_env: SimServer, tmp_path: Path) -> None:
    seeded = aws_env.reset(fleet_scenario(instances=2, out_of_date=1)).asgs["prod-asg"]
    store = tmp_path / "ecsops.db"

    result = _compat(store, "-asg", "prod-asg", "-cluster=prod", "-region", "us-east-1")

    assert result.returncode == 0, result.stderr
    runs = run_ecsops(store, "runs", "--output", "json").json()
    assert [(r["operation"], r["status"]) for r in runs] == [("replace-instances", "succeeded")]
    assert runs[0]["params"]["timeout"] == 900
    assert [(i["instance_id"], i["state"]) for i in runs[0]["instances"]] == [
        (seeded.out_of_date_instances[0], "terminated")
    ]


def test_missing_asg_is_bad_usage(aws_env: SimServer, tmp_path: Path) -> None:
    result = _compat(tmp_path / "ecsops.db", "-cluster", "prod")

    assert result.returncode == 2
    assert "error: -asg is required (see 'enforce-aws-ecs-asg-launchconfig -help')" in result.stderr
    assert aws_env.mutating_calls() == {}


def test_poll_interval_takes_a_duration_in_both_spellings(aws_env: SimServer, tmp_path: Path) -> None:
    aws_env.reset(fleet_scenario(instances=2, out_of_date=1))
    store = tmp_path / "ecsops.db"
    dry = run_ecsops(store, "replace-instances", "--asg", "prod-asg", "--cluster", "prod", "--poll-interval", "5s",
                     "--dry-run")
    assert dry.returncode == 0, dry.stderr
    result = run_ecsops(store, "replace-instances", "--asg", "prod-asg", "--cluster", "prod",
                        "--poll-interval", "250ms", "--timeout", "10m0s", "--output", "json")
    assert result.returncode == 0, result.stderr
    assert result.json()["params"]["poll_interval"] == 0.25 and result.json()["params"]["timeout"] == 600

    aws_env.reset(fleet_scenario(instances=2, out_of_date=1))
    compat = _compat(tmp_path / "other.db", "-asg", "prod-asg", "-cluster", "prod", "-poll-interval", "0s",
                     "-timeout", "5m0s", "-output", "json")
    assert compat.returncode == 0, compat.stderr
    assert '"poll_interval": 0.0' in compat.stdout and '"timeout": 300.0' in compat.stdout


def test_a_malformed_poll_interval_is_bad_usage(aws_env: SimServer, tmp_path: Path) -> None:
    result = run_ecsops(tmp_path / "ecsops.db", "replace-instances", "--asg", "demo-asg", "--cluster", "demo",
                        "--poll-interval", "5 seconds")
    assert result.returncode == 2
    assert "--poll-interval: invalid duration '5 seconds'" in result.stderr
    assert aws_env.mutating_calls() == {}
