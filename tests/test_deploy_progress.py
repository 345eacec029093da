"""Issue 12's deploy-progress items through the CLI on the simulator: what a person reads on stderr while a
deploy waits, and the --taskdef diff."""

from __future__ import annotations

import itertools
import re
import signal
from pathlib import Path

from cli_helpers import run_ecsops
from deploy_helpers import TARGET, demo_with, deploy

from ecsops.sim.server import SimServer

STAMP = re.compile(r"^\[\s*(?P<at>\d+\.\d)s\] (?P<text>.*)$")
PHASE = re.compile(r"^(?P<phase>deploy|rollback): (?P<elapsed>\S+) elapsed, (?P<left>\S+) left")


def _seconds(text: str) -> float:
    """`45s`, `2.5s`, `1m05s`, `1h02m03s` as seconds."""
    match = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:([\d.]+)s)?", text)
    assert match, text
    hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def _stamped_lines(stderr: str) -> list[tuple[float, str]]:
    """(run-clock stamp, text) of every stamped stderr line, its wrapped continuation lines joined to it."""
    lines: list[tuple[float, str]] = []
    for line in stderr.splitlines():
        match = STAMP.match(line)
        if match:
            lines.append((float(match.group("at")), match.group("text")))
        elif lines and line.startswith(" "):
            lines[-1] = (lines[-1][0], f"{lines[-1][1]} {line.strip()}")
    return lines


def test_a_good_deploy_after_a_failed_one_reads_well(tmp_path: Path, aws_env: SimServer) -> None:
    """Items 3-6 and 8: names not ARNs, folded repeats, 80 columns, one clock with phase and time left, and
    only the events of this deploy (the failed deploy before it left 'deployment failed' in the history)."""
    store = tmp_path / "s.db"
    assert deploy(store, "--container-image", "app=nginx:broken").returncode == 3
    result = run_ecsops(store, "deploy", *TARGET, "--container-image", "app=nginx:1.27", "--timeout", "10m")
    assert result.returncode == 0, result.stderr
    stderr = result.stderr
    assert "arn:aws:elasticloadbalancing" not in stderr  # item 3
    assert "(target-group web-tg)" in stderr
    assert "registered 2 targets in (target-group web-tg)" in stderr  # item 4: two "registered 1" folded
    assert "registered 1 targets" not in stderr
    assert max(len(line) for line in stderr.splitlines()) <= 80  # item 5
    assert "deployment failed" not in stderr and "rolling back" not in stderr  # item 8: not the old history
    assert "has reached a steady state" in stderr
    # Item 6: the stamp and the phase's elapsed time run on one clock; elapsed + left is the timeout.
    phase_lines = [(at, PHASE.match(text)) for at, text in _stamped_lines(stderr) if PHASE.match(text)]
    assert len(phase_lines) >= 3
    offsets = set()
    for at, match in phase_lines:
        assert match is not None and match.group("phase") == "deploy"
        elapsed, left = _seconds(match.group("elapsed")), _seconds(match.group("left"))
        assert abs(elapsed + left - 600) <= 1
        offsets.add(round(at - elapsed))
    assert len(offsets) == 1, phase_lines  # the stamp minus elapsed never drifts


def test_the_rollback_wait_is_its_own_phase(tmp_path: Path, aws_env: SimServer) -> None:
    aws_env.reset(demo_with(circuit_breaker=False, rollback=False))
    result = deploy(tmp_path / "s.db", "--container-image", "app=nginx:broken", "--timeout", "5m")
    assert result.returncode == 3, result.stderr
    phases = [PHASE.match(text) for _, text in _stamped_lines(result.stderr)]
    names = [m.group("phase") for m in phases if m]
    assert "deploy" in names and "rollback" in names
    assert names.index("rollback") > max(i for i, name in enumerate(names) if name == "deploy")
    assert max(len(line) for line in result.stderr.splitlines()) <= 80


def test_never_quiet_for_more_than_15_seconds_during_a_wait(tmp_path: Path, aws_env: SimServer) -> None:
    """Item 7: a stuck rollout, default polling, then a long --poll-interval: a line at least every 15s."""
    aws_env.reset(demo_with().model_copy(update={"stuck_services": ["web"]}))
    store = tmp_path / "s.db"
    adaptive = run_ecsops(store, "deploy", *TARGET, "--container-image", "app=nginx:1.27", "--timeout", "90s",
                          "--no-rollback")
    aws_env.reset(demo_with().model_copy(update={"stuck_services": ["web"]}))
    slow = run_ecsops(store, "deploy", *TARGET, "--container-image", "app=nginx:1.27", "--timeout", "2m",
                      "--poll-interval", "50", "--no-rollback")
    for result in (adaptive, slow):
        assert result.returncode == 1, result.stderr
        stamps = [at for at, _ in _stamped_lines(result.stderr)]
        waiting_from = next(at for at, text in _stamped_lines(result.stderr) if "updating -> waiting" in text)
        gaps = [b - a for a, b in itertools.pairwise(stamps) if a >= waiting_from]
        assert gaps and max(gaps) <= 15.0, result.stderr
    assert "no change" in adaptive.stderr and "next poll in" in slow.stderr


def test_events_after_a_resume_are_still_only_this_runs(tmp_path: Path, aws_env: SimServer) -> None:
    """Item 8 across a crash: the watermark recorded at the snapshot still hides the older history."""
    store = tmp_path / "s.db"
    assert deploy(store, "--container-image", "app=nginx:broken").returncode == 3
    killed = deploy(store, "--container-image", "app=nginx:1.27", "--run-id", "r", ECSOPS_CRASH_AT="enter:waiting")
    assert killed.returncode == -signal.SIGKILL
    resumed = run_ecsops(store, "resume", "r")
    assert resumed.returncode == 0, resumed.stderr
    assert "has reached a steady state" in resumed.stderr
    assert "deployment failed" not in resumed.stderr and "rolling back" not in resumed.stderr


def test_draining_started_success_says_which_target(tmp_path: Path, aws_env: SimServer) -> None:
    """Item 9: the target that started draining, a counts line, and the JSON reason."""
    result = deploy(tmp_path / "s.db", "--container-image", "app=nginx:1.27", "--wait-until", "draining-started",
                    "--output", "json")
    assert result.returncode == 0, result.stderr
    reason = result.json()["reason"]
    assert re.match(r"target \S+:\d+ of web-tg started draining", reason), reason
    assert re.search(r"target \S+:\d+ of web-tg started draining", result.stderr)
    assert re.search(r"deploy: \S+ elapsed, \S+ left", result.stderr)
    assert re.search(r"ours +PRIMARY web:2 running", result.stderr)


def test_failed_polls_are_said_with_what_failed(tmp_path: Path, aws_env: SimServer) -> None:
    """Item 11: each failed poll is one line naming the error; the deploy carries on and succeeds."""
    # Call 1 is preflight's read; polls 2-4 meet a dropped connection.
    aws_env.add_fault({"service": "ecs", "operation": "DescribeServices", "kind": "reset", "nth": 2, "count": 3})
    result = deploy(tmp_path / "s.db", "--container-image", "app=nginx:1.27")
    assert result.returncode == 0, result.stderr
    failed = [text for _, text in _stamped_lines(result.stderr) if "DescribeServices failed" in text]
    assert len(failed) == 3, result.stderr
    assert "polling again in" in failed[0] and "(3 failed in a row)" in failed[-1]
    assert aws_env.counts()["ecs:DescribeServices"] >= 4


def test_preflight_says_it_is_retrying(tmp_path: Path, aws_env: SimServer) -> None:
    """Item 11 before the run: botocore's retry of a read is said, with the error, instead of silence."""
    aws_env.add_fault({"service": "ecs", "operation": "DescribeServices", "kind": "reset", "nth": 1})
    result = deploy(tmp_path / "s.db", "--container-image", "app=nginx:1.27", "--dry-run")
    assert result.returncode == 0, result.stderr
    said = " ".join(line.strip() for line in result.stderr.splitlines())  # wrapped at 80 columns
    assert re.search(r"ecs DescribeServices failed \(\w+: .+\); retrying \(attempt 2 of 11\)", said), result.stderr
    assert max(len(line) for line in result.stderr.splitlines()) <= 80


def test_taskdef_switch_diffs_against_what_runs(tmp_path: Path, aws_env: SimServer) -> None:
    """Item 21: --taskdef web:2 on a service running web:1 shows web:1 -> web:2, in the dry run and the run."""
    ecs = aws_env.client("ecs")
    described = ecs.describe_task_definition(taskDefinition="web:1")["taskDefinition"]
    container = {**described["containerDefinitions"][0], "image": "nginx:1.26"}
    ecs.register_task_definition(family="web", containerDefinitions=[container])
    store = tmp_path / "s.db"
    dry = deploy(store, "--taskdef", "web:2", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "switching web:1 -> web:2" in dry.stdout
    assert "image: nginx:1.25 -> nginx:1.26" in dry.stdout
    assert "unchanged" not in dry.stdout
    result = deploy(store, "--taskdef", "web:2", "--output", "json")
    assert result.returncode == 0, result.stderr
    assert "switching web:1 -> web:2" in result.stderr and "image: nginx:1.25 -> nginx:1.26" in result.stderr
    assert "unchanged" not in result.stderr
    document = result.json()
    assert document["registered_revision"] is False and document["new_task_definition"].endswith("web:2")
