"""Ctrl-C / SIGTERM during a deploy's wait, and two processes on one --run-id: the CI-cancel cases.

Each deploy is a fresh interpreter (start_deploy(fresh=True)): what a signal does while Python shuts down is
part of what these tests check."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest
from cli_helpers import run_ecsops
from deploy_helpers import deploy, frozen_demo, read_until, service, start_deploy

from ecsops.sim.server import SimServer
from store.open import open_store

pytestmark = pytest.mark.process


def deadlines(store: Path, run_id: str) -> dict[str, float]:
    found: dict[str, float] = open_store(str(store)).get_run(run_id).timers
    return found


def test_sigterm_during_the_wait_is_resumable_with_the_same_deployment_and_deadline(
    tmp_path: Path, aws_env: SimServer
) -> None:
    store = tmp_path / "s.db"
    aws_env.reset(frozen_demo())
    process = start_deploy(store, "--container-image", "app=nginx:1.27", "--run-id", "ci-1", "--output", "json",
                           fresh=True)
    read_until(process, " left")  # the wait has fixed its deadline and polled
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert json.loads(stdout)["status"] == "interrupted"
    assert "ecsops resume ci-1" in stderr
    interrupted = open_store(str(store)).get_run("ci-1")
    assert (interrupted.status, interrupted.state, interrupted.reason) == ("interrupted", "waiting", None)
    deadline = deadlines(store, "ci-1")["deploy"]

    aws_env.advance(600)  # the deployment finishes while nobody watches
    resumed = run_ecsops(store, "resume", "ci-1", "--output", "json")
    assert resumed.returncode == 0, resumed.stderr
    document = resumed.json()
    assert document["status"] == "succeeded"
    assert aws_env.counts()["ecs:UpdateService"] == 1
    assert aws_env.counts()["ecs:RegisterTaskDefinition"] == 1
    assert [d["id"] for d in service(aws_env)["deployments"]] == [document["deployment_id"]]
    assert deadlines(store, "ci-1")["deploy"] == deadline


def test_a_resumed_wait_keeps_the_original_deadline(tmp_path: Path, aws_env: SimServer) -> None:
    store = tmp_path / "s.db"
    aws_env.reset(frozen_demo().model_copy(update={"stuck_services": ["web"]}))
    process = start_deploy(store, "--container-image", "app=nginx:1.27", "--run-id", "ci-2", "--timeout", "10m",
                           "--no-rollback", fresh=True)
    read_until(process, " left")  # the wait has fixed its deadline and polled
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr

    aws_env.advance(11 * 60)  # past the deadline fixed by the first process
    resumed = run_ecsops(store, "resume", "ci-2", "--output", "json")
    assert resumed.returncode == 1, resumed.stderr
    assert "did not finish within 10m" in resumed.json()["reason"]


def test_same_run_id_from_a_second_process_while_the_first_runs_exits_5(tmp_path: Path, aws_env: SimServer) -> None:
    store = tmp_path / "s.db"
    aws_env.reset(frozen_demo())
    first = start_deploy(store, "--container-image", "app=nginx:1.27", "--run-id", "ci-3", fresh=True)
    try:
        read_until(first, " left")
        second = deploy(store, "--container-image", "app=nginx:1.27", "--run-id", "ci-3", "--output", "json")
        assert second.returncode == 5, second.stderr
        assert "ci-3" in second.stderr and "another process" in second.stderr
        assert second.stdout == ""
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=60)
    assert first.returncode == 130
    assert aws_env.counts()["ecs:UpdateService"] == 1


def test_sighup_is_handled_like_sigterm(tmp_path: Path, aws_env: SimServer) -> None:
    """Case 8: SIGHUP (a closed terminal or SSH session) used to exit 129 and leave the run `running`."""
    store = tmp_path / "s.db"
    aws_env.reset(frozen_demo())
    process = start_deploy(store, "--container-image", "app=nginx:1.27", "--run-id", "hup", "--output", "json",
                           fresh=True)
    read_until(process, " left")
    process.send_signal(signal.SIGHUP)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "received SIGHUP" in stderr and "ecsops resume hup" in stderr
    assert json.loads(stdout)["status"] == "interrupted"
    aws_env.advance(600)
    resumed = run_ecsops(store, "resume", "hup", "--output", "json")
    assert resumed.returncode == 0, resumed.stderr
    assert aws_env.counts()["ecs:UpdateService"] == 1


@pytest.mark.parametrize(
    ("first", "second"),
    [(signal.SIGTERM, signal.SIGTERM), (signal.SIGTERM, signal.SIGHUP), (signal.SIGINT, signal.SIGTERM)],
    ids=["term-term", "term-hup", "int-term"],
)
def test_any_second_signal_exits_130(tmp_path: Path, aws_env: SimServer, first: int, second: int) -> None:
    """Case 8: a second SIGTERM 20 ms after the first used to exit 143."""
    store = tmp_path / "s.db"
    aws_env.reset(frozen_demo())
    process = start_deploy(store, "--container-image", "app=nginx:1.27", "--run-id", "twice", fresh=True)
    read_until(process, " left")
    process.send_signal(first)
    time.sleep(0.02)
    process.send_signal(second)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    recorded = open_store(str(store)).get_run("twice")
    assert recorded.status in ("interrupted", "running")  # "running" only if killed mid-write: resumable
    aws_env.advance(600)
    resumed = run_ecsops(store, "resume", "twice")
    assert resumed.returncode == 0, resumed.stderr
