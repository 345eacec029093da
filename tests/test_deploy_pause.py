"""PAUSE lifecycle hooks: a deploy waits for `ecsops approve`, or with --on-pause exit records the pause (exit 7)."""

from __future__ import annotations

import json
from pathlib import Path

from cli_helpers import run_ecsops
from deploy_helpers import read_until
from strategy_helpers import GOOD, native_demo, native_deploy, path_of, pause_hook, start_native_deploy

from ecsops.sim.server import SimServer


def test_on_pause_exit_records_the_pause_then_approve_and_resume_finish(tmp_path: Path, aws_env: SimServer) -> None:
    aws_env.reset(native_demo("BLUE_GREEN", bake=5, lifecycle_hooks=[pause_hook()]))
    store = tmp_path / "s.db"
    paused = native_deploy(store, *GOOD, "--on-pause", "exit", "--run-id", "bg-1")
    assert paused.returncode == 7, paused.stderr
    assert "ecsops approve bg-1" in paused.stderr and "ecsops resume bg-1" in paused.stderr
    status = run_ecsops(store, "status", "bg-1", "--output", "json").json()
    assert status["status"] == "paused" and status["state"] == "paused"
    assert status["lock"]["held_by_run"] is None  # the target is given back
    assert status["lock"]["next"] == "ecsops approve bg-1 (or --rollback), then ecsops resume bg-1"

    # Resumed before anyone acted: still paused, exit 7 again, nothing changed.
    again = run_ecsops(store, "resume", "bg-1")
    assert again.returncode == 7, again.stderr

    approved = run_ecsops(store, "approve", "bg-1")
    assert approved.returncode == 0, approved.stderr
    assert aws_env.counts()["ecs:ContinueServiceDeployment"] == 1

    resumed = run_ecsops(store, "resume", "bg-1", "--output", "json")
    assert resumed.returncode == 0, resumed.stderr
    document = resumed.json()
    assert document["status"] == "succeeded"
    assert ("following", "paused") in path_of(document) and ("paused", "following") in path_of(document)
    notes = document["notes"]
    assert len(notes) == 1 and notes[0]["kind"] == "approve"
    assert "CONTINUE" in notes[0]["text"] and notes[0]["who"] and notes[0]["at"]
    counts = aws_env.counts()
    assert counts["ecs:UpdateService"] == 1 and counts["ecs:RegisterTaskDefinition"] == 1


def test_a_waiting_deploy_goes_on_when_approved_and_the_pause_does_not_count_against_timeout(
    tmp_path: Path, aws_env: SimServer
) -> None:
    aws_env.reset(native_demo("BLUE_GREEN", bake=5, lifecycle_hooks=[pause_hook()]))
    store = tmp_path / "s.db"
    # 7m: the 33.5s before the pause and the 6m or so after it (shifts, the 5m bake, clean-up). With 6m it
    # passed only when the deploy noticed the approval late enough for part of the bake to pass as pause.
    process = start_native_deploy(store, *GOOD, "--timeout", "7m", "--run-id", "bg-2", "--output", "json")
    try:
        seen = " ".join(read_until(process, "ecsops approve bg-2 --rollback").split())  # progress lines wrap
        assert "awaits action" in seen
        # Let the pause outlast --timeout on the virtual clock: only the hook's own timeout governs it.
        aws_env.advance(20 * 60)
        approved = run_ecsops(store, "approve", "bg-2")
        assert approved.returncode == 0, approved.stderr
        stdout, stderr = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    document = json.loads(stdout)
    assert document["status"] == "succeeded"
    assert "(--timeout extended by that)" in " ".join(stderr.split())


def test_approve_rollback_rolls_the_deployment_back(tmp_path: Path, aws_env: SimServer) -> None:
    aws_env.reset(native_demo("BLUE_GREEN", bake=5, lifecycle_hooks=[pause_hook()]))
    store = tmp_path / "s.db"
    assert native_deploy(store, *GOOD, "--on-pause", "exit", "--run-id", "bg-3").returncode == 7
    assert run_ecsops(store, "approve", "bg-3", "--rollback").returncode == 0
    resumed = run_ecsops(store, "resume", "bg-3", "--output", "json")
    assert resumed.returncode == 3, resumed.stderr
    document = resumed.json()
    assert document["status"] == "rolled_back"
    assert document["notes"][0]["kind"] == "approve-rollback"
    assert aws_env.counts().get("ecs:StopServiceDeployment", 0) == 0  # ECS rolled back on the hook's answer


def test_approve_refuses_what_it_cannot_act_on(tmp_path: Path, aws_env: SimServer) -> None:
    store = tmp_path / "s.db"
    unknown = run_ecsops(store, "approve", "nope")
    assert unknown.returncode == 2 and "nope" in unknown.stderr
    # A rolling deploy follows no service deployment: nothing to approve, and nothing is sent.
    aws_env.reset(native_demo("ROLLING"))
    assert run_ecsops(store, "deploy", "--cluster", "demo", "--service", "web", *GOOD, "--run-id", "r1",
                      "--on-pause", "exit").returncode == 0
    finished = run_ecsops(store, "approve", "r1")
    assert finished.returncode == 2 and "already ended" in finished.stderr
    assert aws_env.counts().get("ecs:ContinueServiceDeployment", 0) == 0
