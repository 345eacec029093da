"""replace-instances through AWS trouble: each mutation retried by the step runner's policy, never twice in effect."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
from cli_helpers import cli_env, run_ecsops
from replace_helpers import fleet_scenario, replace

from ecsops.sim.server import SimServer

# (service, operation, does the call only happen when an instance is put back after a failed drain?)
MUTATIONS = [
    ("autoscaling", "DetachInstances", False),
    ("ecs", "UpdateContainerInstancesState", False),
    ("ec2", "TerminateInstances", False),
    ("autoscaling", "AttachInstances", True),
]


@pytest.mark.parametrize(("service", "operation", "put_back"), MUTATIONS, ids=[m[1] for m in MUTATIONS])
def test_a_5xx_then_a_reset_on_each_mutation_is_survived_and_takes_effect_once(
    aws_env: SimServer, tmp_path: Path, service: str, operation: str, put_back: bool
) -> None:
    seeded = aws_env.reset(fleet_scenario(instances=2, out_of_date=1, stuck=put_back)).asgs["prod-asg"]
    (old,) = seeded.out_of_date_instances
    aws_env.add_fault({"service": service, "operation": operation, "kind": "http500", "nth": 1})
    # Each rule counts its own matches: the first rule takes the first call, this one the second.
    aws_env.add_fault({"service": service, "operation": operation, "kind": "reset", "nth": 1})

    result = replace(tmp_path / "s.db", "--timeout", "5m")

    document = result.json()
    expected = ("failed", "reattached") if put_back else ("succeeded", "terminated")
    assert (document["status"], document["instances"][0]["state"]) == expected, result.stderr
    assert "Traceback" not in result.stderr
    delivered = [(f.service, f.operation, f.kind) for f in aws_env.faults.delivered]
    assert delivered == [(service, operation, "http500"), (service, operation, "reset")]
    counts = aws_env.counts()
    assert counts[f"{service}:{operation}"] == 3  # two faults, then the one call that took effect
    group = aws_env.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=["prod-asg"])
    members = {i["InstanceId"] for i in group["AutoScalingGroups"][0]["Instances"]}
    if put_back:
        assert old in members
        assert counts["autoscaling:DetachInstances"] == 1
    else:
        assert old not in members and len(members) == 2  # one replacement launched, not two
        state = aws_env.client("ec2").describe_instances(InstanceIds=[old])["Reservations"][0]["Instances"][0]
        assert state["State"]["Name"] in ("shutting-down", "terminated")
    steps = [step for step in document["steps"] if step["status"] not in ("succeeded", "reconciled")]
    assert steps == []


@pytest.mark.process
def test_ctrl_c_during_a_throttling_backoff_stops_at_once_and_the_run_resumes(
    aws_env: SimServer, tmp_path: Path
) -> None:
    """Backoffs wait on the run's stop event: Ctrl-C ends a 4 s backoff at once, and resume finishes the job."""
    store = tmp_path / "s.db"
    seeded = aws_env.reset(fleet_scenario(instances=2, out_of_date=1)).asgs["prod-asg"]
    (old,) = seeded.out_of_date_instances
    aws_env.add_fault({"service": "autoscaling", "operation": "DetachInstances", "kind": "throttling", "count": 3})
    process = subprocess.Popen(
        [sys.executable, "-m", "ecsops", "replace-instances", "--asg", "prod-asg", "--cluster", "prod",
         "--poll-interval", "0", "--run-id", "r1", "--output", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=cli_env(store, ECSOPS_CLOCK="real"),  # real time: the backoff really waits 1 s, 2 s, 4 s
    )
    assert process.stderr is not None
    seen = ""
    while "trying again in 4s" not in seen:
        line = process.stderr.readline()
        assert line, f"ended before its third backoff: {seen}"
        seen += line
    interrupted_at = time.time()
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    document = json.loads(stdout)
    assert document["status"] == "interrupted"
    # The run recorded its stop within a second of Ctrl-C, not at the end of its 4 s backoff.
    stopped_at = datetime.fromisoformat(document["updated_at"]).timestamp()
    assert stopped_at - interrupted_at < 1.0
    assert aws_env.counts()["autoscaling:DetachInstances"] == 3  # all three throttled: nothing took effect

    resumed = run_ecsops(store, "resume", "r1", "--output", "json")
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.json()["instances"][0]["state"] == "terminated"
    assert aws_env.counts()["autoscaling:DetachInstances"] == 4
    group = aws_env.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=["prod-asg"])
    assert old not in {i["InstanceId"] for i in group["AutoScalingGroups"][0]["Instances"]}
