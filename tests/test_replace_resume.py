"""SIGKILL replace-instances at every run and per-instance state and inside every step, then `ecsops resume`:
each instance ends terminated (or re-attached) exactly once; no detach, terminate or attach is repeated."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from cli_helpers import run_ecsops
from crash_points import new_points, points_along, required_points
from replace_helpers import fleet_scenario, replace

from ecsops.sim.server import SimServer
from machines.replace_instances import INSTANCE_DEFINITION, RUN_DEFINITION

REPLACED = ("start", "detached", "replacement_active", "drained", "terminate", "terminated")
PUT_BACK = ("start", "detached", "replacement_active", "fail", "reattached")
RUN_POINTS = points_along(RUN_DEFINITION, ("plan", "all_replaced"))
REPLACED_POINTS = points_along(INSTANCE_DEFINITION, REPLACED, item=True)
# The second instance is skipped once the first failed.
FAILURE_POINTS = [*new_points(points_along(INSTANCE_DEFINITION, PUT_BACK, item=True), REPLACED_POINTS),
                  *points_along(INSTANCE_DEFINITION, ("skip",), item=True)]
REFUSED_POINTS = ["intent:reattach:FIRST", "item-checkpoint:reattach_failed"]


def _crash_points() -> list[str]:
    return [*RUN_POINTS, *REPLACED_POINTS]


def test_the_kill_points_cover_every_declared_state_and_step() -> None:
    assert required_points(RUN_DEFINITION) - set(RUN_POINTS) == set()
    covered = {*REPLACED_POINTS, *FAILURE_POINTS, *REFUSED_POINTS}
    assert required_points(INSTANCE_DEFINITION, item=True) - covered == set()


def _kill_then_resume(sim: SimServer, tmp_path: Path, crash_at: str, *args: str) -> tuple[dict, dict]:  # type: ignore[type-arg]
    first = sim.seeded.asgs["prod-asg"].out_of_date_instances[0]
    store = tmp_path / "ecsops.db"
    killed = replace(store, "--run-id", "run-1", *args, ECSOPS_CRASH_AT=crash_at.replace("FIRST", first))
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    before = run_ecsops(store, "status", "run-1", "--output", "json").json()
    assert before["status"] == ("succeeded" if crash_at.endswith(":succeeded") else "running")
    resumed = run_ecsops(store, "resume", "run-1", "--output", "json")
    return before, resumed.json() | {"returncode": resumed.returncode, "stderr": resumed.stderr}


@pytest.mark.parametrize("crash_at", _crash_points())
def test_killed_replacement_resumes_without_repeating_mutations(
    aws_env: SimServer, tmp_path: Path, crash_at: str
) -> None:
    seeded = aws_env.reset(fleet_scenario(instances=3, out_of_date=2)).asgs["prod-asg"]

    before, after = _kill_then_resume(aws_env, tmp_path, crash_at, "--batch-size", "2")

    if crash_at.startswith(("intent:", "call:")):
        assert before["in_flight"], "a step cut short must show as in flight"
    assert after["returncode"] == 0, after["stderr"]
    assert after["status"] == "succeeded"
    assert {i["instance_id"]: i["state"] for i in after["instances"]} == {
        instance_id: "terminated" for instance_id in seeded.out_of_date_instances
    }
    assert after["in_flight"] == []
    counts = aws_env.counts()
    assert counts["autoscaling:DetachInstances"] == 2
    assert counts["ec2:TerminateInstances"] == 2
    assert counts["ecs:UpdateContainerInstancesState"] == 2
    assert "autoscaling:AttachInstances" not in counts
    per_item = [(t["item"], t["dest"]) for t in after["transitions"] if t["item"]]
    assert len(per_item) == len(set(per_item)), "no instance passes a state twice"


@pytest.mark.parametrize("crash_at", FAILURE_POINTS)
def test_killed_reattach_resumes_without_repeating_it(aws_env: SimServer, tmp_path: Path, crash_at: str) -> None:
    seeded = aws_env.reset(fleet_scenario(instances=3, out_of_date=2, stuck=True)).asgs["prod-asg"]
    first, second = seeded.out_of_date_instances

    _, after = _kill_then_resume(aws_env, tmp_path, crash_at, "--timeout", "3m")

    assert after["returncode"] == 1, after["stderr"]
    assert after["status"] == "failed"
    assert {i["instance_id"]: i["state"] for i in after["instances"]} == {first: "reattached", second: "skipped"}
    assert first in after["reason"]
    counts = aws_env.counts()
    assert counts["autoscaling:DetachInstances"] == 1
    assert counts["autoscaling:AttachInstances"] == 1
    assert counts["ecs:UpdateContainerInstancesState"] == 2  # DRAINING, then ACTIVE again
    assert "ec2:TerminateInstances" not in counts


@pytest.mark.parametrize("crash_at", REFUSED_POINTS)
def test_killed_refused_reattach_resumes_to_failed_without_asking_again(
    aws_env: SimServer, tmp_path: Path, crash_at: str
) -> None:
    # At MaxSize once the replacement is up: AWS refuses the re-attach with a ValidationError.
    seeded = aws_env.reset(fleet_scenario(instances=3, out_of_date=2, stuck=True, max_size=3)).asgs["prod-asg"]
    first, second = seeded.out_of_date_instances

    _, after = _kill_then_resume(aws_env, tmp_path, crash_at, "--timeout", "3m")

    assert after["returncode"] == 1, after["stderr"]
    assert after["status"] == "failed"
    assert {i["instance_id"]: i["state"] for i in after["instances"]} == {first: "reattach_failed", second: "skipped"}
    assert first in after["reason"] and "attach-instances" in after["reason"]
    assert after["in_flight"] == []
    counts = aws_env.counts()
    assert counts["autoscaling:AttachInstances"] == 1, "the refused AttachInstances is asked once, not again"
    assert counts["autoscaling:DetachInstances"] == 1
    assert "ec2:TerminateInstances" not in counts
