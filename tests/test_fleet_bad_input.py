"""`ecsops deploy-fleet` refusing bad input: exit 2, one line per fault naming file, line and service, nothing
changed on AWS and no run recorded; its dry run shows every service's diff and the rollout order, changing nothing."""

from __future__ import annotations

import textwrap
from pathlib import Path

from cli_helpers import Result, run_ecsops
from test_fleet_preflight import GOOD, fleet_scenario

from ecsops.sim.server import SimServer


def fleet(tmp_path: Path, text: str, *args: str) -> tuple[str, Result]:
    path = tmp_path / "release.toml"
    path.write_text(textwrap.dedent(text))
    return str(path), run_ecsops(tmp_path / "s.db", "deploy-fleet", str(path), *args)


def assert_nothing_done(tmp_path: Path, sim: SimServer) -> None:
    assert sim.mutating_calls() == {}
    assert run_ecsops(tmp_path / "s.db", "runs", "--output", "json").json() == []


def fault_lines(result: Result) -> list[str]:
    return [line.removeprefix("error: ") for line in result.stderr.splitlines() if line.startswith("error: ")]


def test_a_bad_file_exits_2_with_one_line_per_fault(tmp_path: Path, aws_env: SimServer) -> None:
    aws_env.reset(fleet_scenario())
    path, result = fleet(tmp_path, """\
        cluster = "prod"
        timeout = "soon"
        profile = "ops"

        [[service]]
        service = "api"
        container-imgae = ["app=repo/shop:v42"]

        [[service]]
        container-image = ["app"]

        [[service]]
        service = "api"
    """, "--max-parallel", "0", "--on-failure", "pray")
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert [line.removeprefix(path) for line in fault_lines(result)] == [
        "--max-parallel 0: must be 1 or more",
        "--on-failure 'pray': expected one of rollback-failed, rollback-all, stop",
        ":2: timeout: invalid duration 'soon': expected '90s', '15m', '1h', '1h30m', '10m0s', '500ms' or plain "
        "seconds like '90' or '2.5'",
        ":3: profile is not a key of the file: set --profile/--region on the command line (one AWS session serves "
        "the whole fleet)",
        ":7: service api: unknown key 'container-imgae'; did you mean 'container-image'?",
        ":9: service #2: no `service` key: the ECS service name or ARN to deploy",
        ":10: service #2: container-image 'app': expected NAME=IMAGE",
        ":12: service api: prod/api is listed twice: also at line 5",
    ]
    assert "Traceback" not in result.stderr
    assert aws_env.counts() == {}, "a bad file is refused before any AWS call"
    assert_nothing_done(tmp_path, aws_env)


def test_a_file_that_is_not_toml_or_not_there(tmp_path: Path, aws_env: SimServer) -> None:
    path, result = fleet(tmp_path, '[[service]]\nservice = "web"\ncluster = \n')
    assert result.returncode == 2
    assert fault_lines(result) == [f"{path}:3: not valid TOML: Invalid value (at line 3, column 11)"]
    missing = run_ecsops(tmp_path / "s.db", "deploy-fleet", str(tmp_path / "nope.toml"))
    assert missing.returncode == 2
    assert fault_lines(missing) == [f"{tmp_path / 'nope.toml'}: cannot read the fleet file: No such file or directory"]
    assert_nothing_done(tmp_path, aws_env)


def test_faults_found_on_aws_exit_2_naming_service_and_line(tmp_path: Path, aws_env: SimServer) -> None:
    aws_env.reset(fleet_scenario())
    text = (GOOD.replace('service = "worker"', 'service = "bg"').replace("cron=", "nope=")
            + '\n[[service]]\nservice = "arn:aws:ecs:us-east-1:123456789012:service/prod/api"\n'
            + '\n[[service]]\nservice = "gone"\n')
    for extra in (["--on-failure", "rollback-all"], ["--on-failure", "rollback-all", "--dry-run"]):
        path, result = fleet(tmp_path, text, *extra)
        assert result.returncode == 2, (result.stdout, result.stderr)
        faults = [line.removeprefix(path) for line in fault_lines(result)]
        assert [fault.split(": ", 2)[:2] for fault in faults] == [
            [":9", "service bg"], [":14", "service scheduler"],
            [":19", "service arn:aws:ecs:us-east-1:123456789012:service/prod/api"], [":22", "service gone"]]
        assert "deploys BLUE_GREEN: --on-failure rollback-all cannot take it back" in faults[0]
        assert "container-image 'nope=repo/shop:v42'" in faults[1]
        assert "the same service as line 4" in faults[2]
        assert "service 'gone' not found" in faults[3]
        assert "4 problems found; nothing was changed" in result.stderr
        assert result.stdout == ""
    assert_nothing_done(tmp_path, aws_env)


def test_aws_unreadable_exits_1_not_2(tmp_path: Path, aws_env: SimServer) -> None:
    aws_env.reset(fleet_scenario())
    aws_env.add_fault({"service": "ecs", "operation": "DescribeServices", "kind": "access_denied"})
    _, result = fleet(tmp_path, GOOD)
    assert result.returncode == 1, result.stderr
    assert "AccessDeniedException" in result.stderr and "nothing was changed" in result.stderr
    assert "Traceback" not in result.stderr
    assert_nothing_done(tmp_path, aws_env)


def test_dry_run_prints_every_diff_and_the_rollout_order(tmp_path: Path, aws_env: SimServer) -> None:
    aws_env.reset(fleet_scenario())
    _, result = fleet(tmp_path, GOOD, "--dry-run", "--max-parallel", "2")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for heading in ("== prod/api (line 4) ==", "== prod/worker (line 9) ==", "== batch/scheduler (line 14) =="):
        assert heading in out
    assert out.count("image: repo/shop:v41 -> repo/shop:v42") == 3
    assert "FEATURE_X" in out and "desired count" in out.lower()
    assert ("rollout: 3 services, at most 2 at once: prod/api, prod/worker start first; then batch/scheduler, in "
            "file order as slots free") in out
    assert out.rstrip().endswith("nothing was changed")
    _, as_json = fleet(tmp_path, GOOD, "--dry-run", "--output", "json")
    assert as_json.returncode == 0, as_json.stderr
    document = as_json.json()
    assert (document["operation"], document["dry_run"], document["max_parallel"]) == ("deploy-fleet", True, None)
    assert document["order"] == ["prod/api", "prod/worker", "batch/scheduler"]
    assert [s["strategy"] for s in document["services"]] == ["ROLLING"] * 3
    assert_nothing_done(tmp_path, aws_env)
