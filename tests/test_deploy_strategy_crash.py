"""SIGKILL a BLUE_GREEN deploy at every new state and step (bound, mid-bake, paused, rolling back through
StopServiceDeployment); `ecsops resume` reaches the right end with one RegisterTaskDefinition and one UpdateService."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from cli_helpers import run_ecsops
from crash_points import new_points, points_along, required_points
from deploy_helpers import read_until
from strategy_helpers import BROKEN, GOOD, lambda_hook, native_demo, native_deploy, pause_hook, start_native_deploy
from test_deploy_crash import ECS_ROLLBACK_POINTS, GOOD_POINTS, ROLLBACK_POINTS
from test_deploy_crash import _path as path_of_triggers

from ecsops.sim.scenario import HookAnswer
from ecsops.sim.server import SimServer
from machines.deploy import DEPLOY

START = ("snapshot", "register", "registered", "started", "bound")
NATIVE_GOOD = (*START, "stable")
NATIVE_PAUSED = (*START, "hook_paused", "hook_acted", "stable")
NATIVE_STOPPED = (*START, "timed_out", "rollback_done")
NATIVE_ECS_ROLLBACK = (*START, "ecs_rolled_back", "rollback_done")
NATIVE_QUEUED = ("queue", "turn_came", *NATIVE_GOOD)

ROLLING = [*GOOD_POINTS, *ROLLBACK_POINTS, *ECS_ROLLBACK_POINTS]
# The UpdateService windows again: on a native service its reconcile must find the deployment, then bind it.
GOOD_KILLS = ["intent:update_service", "call:update_service",
              *new_points(points_along(DEPLOY, NATIVE_GOOD), ROLLING)]
PAUSED_KILLS = new_points(points_along(DEPLOY, NATIVE_PAUSED), ROLLING, GOOD_KILLS)
STOPPED_KILLS = new_points(points_along(DEPLOY, NATIVE_STOPPED), ROLLING, GOOD_KILLS, PAUSED_KILLS)
ECS_ROLLBACK_KILLS = new_points(points_along(DEPLOY, NATIVE_ECS_ROLLBACK), ROLLING, GOOD_KILLS, STOPPED_KILLS)
QUEUED_KILLS = new_points(points_along(DEPLOY, NATIVE_QUEUED), ROLLING, GOOD_KILLS)


def test_the_kill_points_cover_every_declared_state_and_step() -> None:
    covered = {*ROLLING, *GOOD_KILLS, *PAUSED_KILLS, *STOPPED_KILLS, *ECS_ROLLBACK_KILLS, *QUEUED_KILLS}
    assert required_points(DEPLOY) - covered == set()


def _kill_then_finish(store: Path, crash_at: str, *args: str) -> dict[str, object]:
    """Kill the deploy at crash_at, then resume it (approving a paused hook when the run says it waits)."""
    killed = native_deploy(store, *args, "--run-id", "n1", ECSOPS_CRASH_AT=crash_at)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    for _ in range(3):
        resumed = run_ecsops(store, "resume", "n1", "--output", "json", timeout=120)
        if resumed.returncode != 7:
            break
        assert run_ecsops(store, "approve", "n1").returncode == 0
    document: dict[str, object] = resumed.json()
    document["exit_code"] = resumed.returncode
    return document


def _assert_once(sim: SimServer, document: dict[str, object], path: list[tuple[str, str]]) -> None:
    transitions = document["transitions"]
    assert isinstance(transitions, list)
    assert [(t["source"], t["dest"]) for t in transitions] == path
    assert document["in_flight"] == []
    counts = sim.counts()
    assert counts["ecs:RegisterTaskDefinition"] == 1
    assert counts["ecs:UpdateService"] == 1


@pytest.mark.parametrize("crash_at", GOOD_KILLS)
def test_killed_native_deploy_resumes_to_success(tmp_path: Path, aws_env: SimServer, crash_at: str) -> None:
    aws_env.reset(native_demo("BLUE_GREEN", bake=30))
    document = _kill_then_finish(tmp_path / "s.db", crash_at, *GOOD)
    assert document["exit_code"] == 0, document
    _assert_once(aws_env, document, path_of_triggers(NATIVE_GOOD))


@pytest.mark.parametrize("crash_at", PAUSED_KILLS)
def test_killed_at_a_pause_resumes_and_is_approved(tmp_path: Path, aws_env: SimServer, crash_at: str) -> None:
    aws_env.reset(native_demo("BLUE_GREEN", bake=5, lifecycle_hooks=[pause_hook()]))
    document = _kill_then_finish(tmp_path / "s.db", crash_at, *GOOD, "--on-pause", "exit")
    assert document["exit_code"] == 0, document
    _assert_once(aws_env, document, path_of_triggers(NATIVE_PAUSED))
    assert aws_env.counts()["ecs:ContinueServiceDeployment"] == 1


@pytest.mark.parametrize("crash_at", STOPPED_KILLS)
def test_killed_while_stopping_resumes_to_rolled_back(tmp_path: Path, aws_env: SimServer, crash_at: str) -> None:
    aws_env.reset(native_demo(
        "BLUE_GREEN", bake=5, lifecycle_hooks=[lambda_hook("POST_SCALE_UP", timeout_minutes=600, action="CONTINUE")],
        hook_answers=[HookAnswer(service="web", stage="POST_SCALE_UP", answer="NEVER")],
    ))
    document = _kill_then_finish(tmp_path / "s.db", crash_at, *GOOD, "--timeout", "20m")
    assert document["exit_code"] == 3, document
    _assert_once(aws_env, document, path_of_triggers(NATIVE_STOPPED))
    assert aws_env.counts()["ecs:StopServiceDeployment"] <= 1  # never re-sent blindly


@pytest.mark.parametrize("crash_at", ECS_ROLLBACK_KILLS)
def test_killed_while_ecs_rolls_back_resumes_to_rolled_back(
    tmp_path: Path, aws_env: SimServer, crash_at: str
) -> None:
    aws_env.reset(native_demo("BLUE_GREEN"))
    document = _kill_then_finish(tmp_path / "s.db", crash_at, *BROKEN)
    assert document["exit_code"] == 3, document
    _assert_once(aws_env, document, path_of_triggers(NATIVE_ECS_ROLLBACK))


@pytest.mark.parametrize("crash_at", QUEUED_KILLS)
def test_killed_while_queued_resumes_and_deploys_once(tmp_path: Path, aws_env: SimServer, crash_at: str) -> None:
    aws_env.reset(native_demo("BLUE_GREEN", bake=5))
    aws_env.client("ecs").update_service(cluster="demo", service="web", forceNewDeployment=True)
    aws_env.reset_counts()
    document = _kill_then_finish(tmp_path / "s.db", crash_at, *GOOD)
    assert document["exit_code"] == 0, document
    _assert_once(aws_env, document, path_of_triggers(NATIVE_QUEUED))


def test_killed_mid_bake_resumes_polling_slowly_through_the_rest_of_the_bake(
    tmp_path: Path, aws_env: SimServer
) -> None:
    aws_env.reset(native_demo("BLUE_GREEN", bake=30))
    store = tmp_path / "s.db"
    process = start_native_deploy(store, *GOOD, "--run-id", "mid-bake")
    try:
        read_until(process, "bake: at least")
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        process.kill()
    aws_env.reset_counts()
    resumed = run_ecsops(store, "resume", "mid-bake", timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    polls = aws_env.counts()["ecs:DescribeServiceDeployments"]
    # The bake's end was recorded when it began: one poll per 30 s through it and one per 6 s in its last
    # minute (75 measured), not one per 6 s throughout (307 measured without the record).
    assert polls <= 30 * 60 / 30 + 30, polls
    assert aws_env.counts().get("ecs:UpdateService", 0) == 0
