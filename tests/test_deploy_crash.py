"""SIGKILL a deploy at every state and inside every step's intent window; `ecsops resume` must finish it
with exactly one new revision and one UpdateService per deploy (and one more for a rollback)."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from cli_helpers import run_ecsops
from crash_points import new_points, points_along, required_points
from deploy_helpers import demo_with, deploy, revisions

from ecsops.sim.server import SimServer
from machines.deploy import DEPLOY

GOOD = ("snapshot", "register", "registered", "updated", "stable")
ROLLBACK = (*GOOD[:4], "deploy_failed", "rollback_done")
ECS_ROLLBACK = (*GOOD[:4], "ecs_rolled_back", "rollback_done")


def _path(triggers: tuple[str, ...]) -> list[tuple[str, str]]:
    state, path = DEPLOY.initial, []
    for trigger in triggers:
        dest = DEPLOY.fire(state, trigger)
        path.append((state, dest))
        state = dest
    return path


GOOD_PATH, ROLLBACK_PATH, ECS_ROLLBACK_PATH = _path(GOOD), _path(ROLLBACK), _path(ECS_ROLLBACK)
GOOD_POINTS = points_along(DEPLOY, GOOD)
ROLLBACK_POINTS = new_points(points_along(DEPLOY, ROLLBACK), GOOD_POINTS)
ECS_ROLLBACK_POINTS = new_points(points_along(DEPLOY, ECS_ROLLBACK), GOOD_POINTS, ROLLBACK_POINTS)


def test_the_kill_points_cover_every_rolling_state_and_step() -> None:
    # BLUE_GREEN, LINEAR and CANARY states are killed in tests/test_deploy_strategy_crash.py, which checks the union.
    native = {"queued", "binding", "following", "paused", "stopping"}
    rolling = {p for p in required_points(DEPLOY) if p.split(":", 1)[1] not in native
               and p not in ("intent:bind_service_deployment", "call:bind_service_deployment",
                             "intent:stop_service_deployment", "call:stop_service_deployment")}
    assert rolling - {*GOOD_POINTS, *ROLLBACK_POINTS, *ECS_ROLLBACK_POINTS} == set()


def _assert_complete(document: dict[str, object], path: list[tuple[str, str]]) -> None:
    transitions = document["transitions"]
    assert isinstance(transitions, list)
    assert [(t["source"], t["dest"]) for t in transitions] == path
    assert [t["seq"] for t in transitions] == list(range(1, len(path) + 1))
    assert document["in_flight"] == []


def _kill_then_resume(store: Path, crash_at: str, *args: str) -> dict[str, object]:
    killed = deploy(store, *args, "--run-id", "r1", ECSOPS_CRASH_AT=crash_at)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    resumed = run_ecsops(store, "resume", "r1", "--output", "json")
    document: dict[str, object] = resumed.json()
    document["exit_code"] = resumed.returncode
    return document


@pytest.mark.parametrize("crash_at", GOOD_POINTS)
def test_killed_deploy_resumes_to_success_with_one_revision_and_one_deployment(
    tmp_path: Path, aws_env: SimServer, crash_at: str
) -> None:
    document = _kill_then_resume(tmp_path / "s.db", crash_at, "--container-image", "app=nginx:1.27")
    counts = aws_env.counts()
    assert document["exit_code"] == 0, document
    assert document["status"] == "succeeded"
    _assert_complete(document, GOOD_PATH)
    assert counts["ecs:RegisterTaskDefinition"] == 1
    assert counts["ecs:UpdateService"] == 1
    assert len(revisions(aws_env)) == 2
    steps = {step["name"]: step["status"] for step in document["steps"]}  # type: ignore[attr-defined]
    if crash_at.startswith("call:"):
        assert steps[crash_at.split(":", 1)[1]] == "reconciled"
    assert set(steps.values()) <= {"succeeded", "reconciled"}


@pytest.mark.parametrize("crash_at", ROLLBACK_POINTS)
def test_killed_rollback_resumes_to_rolled_back_with_one_rollback_deployment(
    tmp_path: Path, aws_env: SimServer, crash_at: str
) -> None:
    aws_env.reset(demo_with(circuit_breaker=True, rollback=False))
    document = _kill_then_resume(tmp_path / "s.db", crash_at, "--container-image", "app=nginx:broken")
    counts = aws_env.counts()
    assert document["exit_code"] == 3, document
    assert document["status"] == "rolled_back"
    _assert_complete(document, ROLLBACK_PATH)
    assert counts["ecs:RegisterTaskDefinition"] == 1
    assert counts["ecs:UpdateService"] == 2
    assert len(revisions(aws_env)) == 2


@pytest.mark.parametrize("crash_at", ECS_ROLLBACK_POINTS)
def test_killed_while_ecs_rolls_back_resumes_to_rolled_back(
    tmp_path: Path, aws_env: SimServer, crash_at: str
) -> None:
    document = _kill_then_resume(tmp_path / "s.db", crash_at, "--container-image", "app=nginx:broken")
    assert document["exit_code"] == 3, document
    assert document["status"] == "rolled_back"
    _assert_complete(document, ECS_ROLLBACK_PATH)
    assert aws_env.counts()["ecs:UpdateService"] == 1


def test_retrying_with_the_same_run_id_resumes_the_killed_run(tmp_path: Path, aws_env: SimServer) -> None:
    store = tmp_path / "s.db"
    args = ("--container-image", "app=nginx:1.27", "--run-id", "ci-7")
    killed = deploy(store, *args, ECSOPS_CRASH_AT="call:update_service")
    assert killed.returncode == -signal.SIGKILL
    status = run_ecsops(store, "status", "ci-7")
    assert "in flight update_service" in status.stdout
    retried = deploy(store, *args, "--output", "json")
    assert retried.returncode == 0, retried.stderr
    assert retried.json()["status"] == "succeeded"
    assert aws_env.counts()["ecs:UpdateService"] == 1
    assert len(revisions(aws_env)) == 2
