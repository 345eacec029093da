"""Input rules through the real CLI: wait budgets above zero, the rollback's own budget, the --run-id form,
a reused --run-id with other inputs, and the `runs` filters. Each bad input exits 2 before any change."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import Result, run_ecsops, run_module
from deploy_helpers import demo_with, deploy, service

from ecsops.sim.server import SimServer

WEB = ("--cluster", "demo", "--service", "web")
IMAGE = ("--container-image", "app=nginx:1.27")
BROKEN = ("--container-image", "app=nginx:broken")


def _compat_deploy(store: Path, *args: str) -> Result:
    return run_module("ecsops.cli.compat_update_service", store, *args)


def _assert_refused(result: Result, sim: SimServer, *fragments: str, changes_before: dict[str, int] | None = None
                    ) -> None:
    """Exit 2, one `error:` line naming each fragment, and no AWS change since `changes_before`."""
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, (fragment, result.stderr)
    assert sim.mutating_calls() == (changes_before or {})


# ---- wait budgets ----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(("--timeout", "0"), "--timeout '0': must be above 0", id="timeout-0"),
        pytest.param(("--timeout", "0s"), "--timeout '0s': must be above 0", id="timeout-0s"),
        pytest.param(("--timeout", "0h0m"), "must be above 0", id="timeout-0h0m"),
        pytest.param(("--rollback-timeout", "0"), "--rollback-timeout '0': must be above 0", id="rollback-0"),
        pytest.param(("--rollback-timeout", "soon"), "--rollback-timeout: invalid duration", id="rollback-bad"),
    ],
)
def test_a_zero_wait_budget_is_bad_input(
    tmp_path: Path, aws_env: SimServer, args: tuple[str, ...], expected: str
) -> None:
    _assert_refused(deploy(tmp_path / "s.db", *IMAGE, *args), aws_env, expected)
    assert run_ecsops(tmp_path / "s.db", "runs", "--output", "json").json() == []


def test_a_zero_timeout_is_bad_input_for_replace_and_the_compat_deploy(tmp_path: Path, aws_env: SimServer) -> None:
    store = tmp_path / "s.db"
    replaced = run_ecsops(store, "replace-instances", "--asg", "demo-asg", "--cluster", "demo", "--timeout", "0")
    _assert_refused(replaced, aws_env, "--timeout '0': must be above 0")
    compat = _compat_deploy(store, "-cluster", "demo", "-service", "web", "-container-image", "app=nginx:1.27",
                            "-timeout", "0")
    _assert_refused(compat, aws_env, "--timeout '0': must be above 0")
    enforce = run_module("ecsops.cli.compat_enforce_launchconfig", store, "-asg", "demo:asg", "-cluster", "demo")
    _assert_refused(enforce, aws_env, "not an Auto Scaling group name")


def test_the_rollback_has_its_own_budget_counted_from_its_start(tmp_path: Path, aws_env: SimServer) -> None:
    """The rollout fails to finish in 30s; the rollback needs about 40s of (virtual) time. With the rollback
    sharing the 30s it is left unfinished (exit 4); with --rollback-timeout 10m it completes (exit 3)."""
    aws_env.reset(demo_with(circuit_breaker=False, rollback=False))
    # --max-failed-tasks 0: only the timeout fails the rollout, so the rollback starts at a known moment.
    shared = deploy(tmp_path / "a.db", *BROKEN, "--timeout", "30s", "--max-failed-tasks", "0", "--output", "json")
    assert shared.returncode == 4, shared.stderr
    assert "rollback deployment" in shared.json()["reason"] and "did not finish within 30s" in shared.json()["reason"]
    assert shared.json()["params"]["rollback_timeout_seconds"] == 30  # the default: --timeout

    aws_env.reset(demo_with(circuit_breaker=False, rollback=False))
    own = deploy(
        tmp_path / "b.db", *BROKEN, "--timeout", "30s", "--max-failed-tasks", "0", "--rollback-timeout", "10m",
        "--output", "json",
    )
    assert own.returncode == 3, own.stderr
    document = own.json()
    assert document["status"] == "rolled_back"
    assert [t["trigger"] for t in document["transitions"]][-2:] == ["timed_out", "rollback_done"]
    assert document["params"]["rollback_timeout_seconds"] == 600
    assert service(aws_env)["taskDefinition"].endswith("web:1")


def test_the_compat_deploy_passes_the_rollback_timeout(tmp_path: Path, aws_env: SimServer) -> None:
    result = _compat_deploy(tmp_path / "s.db", "-cluster", "demo", "-service", "web", "-container-image",
                            "app=nginx:1.27", "-timeout", "5m", "-rollback-timeout", "20m", "-poll-interval", "0",
                            "-output", "json")
    assert result.returncode == 0, result.stderr
    assert result.json()["params"]["rollback_timeout_seconds"] == 1200


# ---- --run-id form ---------------------------------------------------------------------------------

BAD_RUN_IDS = [
    pytest.param("", id="empty"),
    pytest.param("ci\nfake-line", id="newline"),
    pytest.param("x" * 100_000, id="100KB"),
    pytest.param("x" * 129, id="129-chars"),
    pytest.param("-leading-dash", id="leading-dash"),
    pytest.param("with space", id="space"),
    pytest.param("café", id="non-ascii"),
]


@pytest.mark.parametrize("run_id", BAD_RUN_IDS)
def test_a_malformed_run_id_is_bad_input(tmp_path: Path, aws_env: SimServer, run_id: str) -> None:
    store = tmp_path / "s.db"
    _assert_refused(deploy(store, *IMAGE, f"--run-id={run_id}"), aws_env, "--run-id", "expected a letter or digit")
    _assert_refused(
        run_ecsops(store, "replace-instances", "--asg", "demo-asg", "--cluster", "demo", f"--run-id={run_id}"),
        aws_env, "--run-id",
    )
    assert run_ecsops(store, "runs", "--output", "json").json() == []


def test_empty_run_id_through_the_compat_deploy_is_bad_input(tmp_path: Path, aws_env: SimServer) -> None:
    compat = _compat_deploy(tmp_path / "s.db", "-cluster", "demo", "-service", "web", "-run-id", "")
    _assert_refused(compat, aws_env, "--run-id ''")


def test_a_well_formed_run_id_is_accepted(tmp_path: Path, aws_env: SimServer) -> None:
    run_id = "ci/pipeline-42:job_7.attempt-1" + "x" * 98  # 128 characters
    assert len(run_id) == 128
    result = deploy(tmp_path / "s.db", *IMAGE, "--run-id", run_id, "--output", "json")
    assert result.returncode == 0, result.stderr
    assert result.json()["run_id"] == run_id


# ---- a reused --run-id -------------------------------------------------------------------------------

def test_a_reused_run_id_with_other_inputs_is_refused_and_says_what_differs(
    tmp_path: Path, aws_env: SimServer
) -> None:
    store = tmp_path / "s.db"
    first = deploy(store, "--container-image", "app=nginx:1.25", "--container-envvar", "app=MODE=a",
                   "--run-id", "ci-1")
    assert first.returncode == 0, first.stderr
    deployed = aws_env.mutating_calls()
    changed = deploy(store, "--container-image", "app=nginx:1.26", "--container-envvar", "app=MODE=b",
                     "--timeout", "10m", "--run-id", "ci-1")
    _assert_refused(changed, aws_env,
                    "run id ci-1 was recorded with other inputs",
                    "container image app: recorded nginx:1.25, now nginx:1.26",
                    "container envvar app MODE: recorded a, now b",
                    "timeout: recorded 15m00s, now 10m00s",
                    changes_before=deployed)
    assert changed.stdout == ""
    other_service = run_ecsops(store, "deploy", "--cluster", "demo", "--service", "api", "--run-id", "ci-1",
                               "--container-image", "app=nginx:1.25", "--container-envvar", "app=MODE=a")
    _assert_refused(other_service, aws_env, "service: recorded web, now api", changes_before=deployed)


def test_an_identical_retry_replays_whatever_the_spelling(tmp_path: Path, aws_env: SimServer) -> None:
    store = tmp_path / "s.db"
    first = deploy(store, *IMAGE, "--run-id", "ci-2", "--output", "json")
    assert first.returncode == 0, first.stderr
    for spelling in (WEB, ("--cluster", "arn:aws:ecs:us-east-1:123456789012:cluster/demo",
                           "--service", "arn:aws:ecs:us-east-1:123456789012:service/demo/web")):
        again = run_ecsops(store, "deploy", *spelling, *IMAGE, "--poll-interval", "0", "--run-id", "ci-2",
                           "--output", "json")
        assert again.returncode == 0, again.stderr
        assert "already ended (succeeded); nothing was done again" in again.stderr
        assert again.json()["run_id"] == "ci-2"
    assert aws_env.mutating_calls() == {"ecs:RegisterTaskDefinition": 1, "ecs:UpdateService": 1}


def test_an_identical_retry_of_a_rolled_back_run_returns_its_exit_code(tmp_path: Path, aws_env: SimServer) -> None:
    store = tmp_path / "s.db"
    assert deploy(store, *BROKEN, "--run-id", "ci-3").returncode == 3
    again = deploy(store, *BROKEN, "--run-id", "ci-3")
    assert again.returncode == 3, again.stderr
    assert "already ended (rolled_back)" in again.stderr


def test_a_reused_replace_run_id_with_another_batch_size_is_refused(tmp_path: Path, aws_env: SimServer) -> None:
    store = tmp_path / "s.db"
    replace = ("replace-instances", "--asg", "demo-asg", "--cluster", "demo", "--poll-interval", "0")
    first = run_ecsops(store, *replace, "--run-id", "r-1")
    assert first.returncode == 0, first.stderr
    before = aws_env.mutating_calls()
    changed = run_ecsops(store, *replace, "--batch-size", "2", "--run-id", "r-1")
    assert changed.returncode == 2, changed.stderr
    assert "batch size: recorded 1, now 2" in changed.stderr
    assert aws_env.mutating_calls() == before
    again = run_ecsops(store, *replace, "--run-id", "r-1")
    assert again.returncode == 0 and "nothing was done again" in again.stderr
    assert aws_env.mutating_calls() == before


# ---- runs filters ------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(("--limit", "0"), "--limit '0': expected a whole number from 1 to 10000", id="limit-0"),
        pytest.param(("--limit", "10001"), "from 1 to 10000", id="limit-10001"),
        pytest.param(("--limit", "99999999999999999999"), "from 1 to 10000", id="limit-huge"),
        pytest.param(("--limit", "-3"), "from 1 to 10000", id="limit-negative"),
        pytest.param(("--limit", "ten"), "from 1 to 10000", id="limit-word"),
        pytest.param(("--status", "done"), "--status 'done': expected one of running, succeeded, rolled_back",
                     id="status"),
        pytest.param(("--operation", "deploys"), "--operation 'deploys': expected one of deploy, deploy-fleet, "
                     "example, replace-instances", id="operation"),
    ],
)
def test_runs_filters_outside_their_values_are_bad_input(tmp_path: Path, args: tuple[str, ...], expected: str) -> None:
    result = run_ecsops(tmp_path / "s.db", "runs", *args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert expected in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_runs_filters_inside_their_values_work(tmp_path: Path) -> None:
    for args in (("--limit", "1"), ("--limit", "10000"), ("--status", "rolled_back"), ("--operation", "deploy"),
                 ("--operation", "example")):
        result = run_ecsops(tmp_path / "s.db", "runs", *args, "--output", "json")
        assert result.returncode == 0, (args, result.stderr)
        assert result.json() == []
