"""replace-instances when things go wrong: a drain that never ends, a refused re-attach, a task that appears
right before termination, and bad input (exit 2, nothing changed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run_ecsops
from replace_helpers import container_instance_in_sim, fleet_scenario, replace

from ecsops.sim.server import SimServer


def test_drain_that_never_finishes_times_out_and_reattaches(aws_env: SimServer, tmp_path: Path) -> None:
    seeded = aws_env.reset(fleet_scenario(instances=3, out_of_date=2, stuck=True)).asgs["prod-asg"]
    first, second = seeded.out_of_date_instances

    result = replace(tmp_path / "ecsops.db", "--timeout", "10m")

    assert result.returncode == 1, result.stderr
    document = result.json()
    assert document["status"] == "failed"
    states = {i["instance_id"]: i["state"] for i in document["instances"]}
    assert states == {first: "reattached", second: "skipped"}
    assert first in document["reason"] and "needs a person" in document["reason"]
    assert "one instance more" in document["reason"]
    failed = next(i for i in document["instances"] if i["instance_id"] == first)
    assert "timed out" in failed["failure"] and failed["failed_in"] == "draining"
    # Put back: ACTIVE in the cluster and a member of the group again; nothing terminated.
    ecs = aws_env.client("ecs")
    described = ecs.describe_container_instances(cluster="prod", containerInstances=[failed["container_instance_arn"]])
    assert described["containerInstances"][0]["status"] == "ACTIVE"
    group = aws_env.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=["prod-asg"])
    assert first in {i["InstanceId"] for i in group["AutoScalingGroups"][0]["Instances"]}
    counts = aws_env.counts()
    assert counts.get("ec2:TerminateInstances", 0) == 0
    assert counts["autoscaling:DetachInstances"] == 1
    assert counts["autoscaling:AttachInstances"] == 1

    text = run_ecsops(tmp_path / "ecsops.db", "status", document["run_id"])
    assert f"{first}" in text.stdout and "reattached" in text.stdout


def test_reattach_refused_at_max_size_fails_naming_the_instance(aws_env: SimServer, tmp_path: Path) -> None:
    # The group is at MaxSize once its replacement is up, so AWS refuses to take the old instance back.
    seeded = aws_env.reset(fleet_scenario(instances=3, out_of_date=2, stuck=True, max_size=3)).asgs["prod-asg"]
    first, second = seeded.out_of_date_instances

    result = replace(tmp_path / "ecsops.db", "--timeout", "10m")

    assert result.returncode == 1, result.stderr
    document = result.json()
    assert document["status"] == "failed"
    assert {i["instance_id"]: i["state"] for i in document["instances"]} == {
        first: "reattach_failed",
        second: "skipped",
    }
    failed = next(i for i in document["instances"] if i["instance_id"] == first)
    assert "ValidationError" in failed["reattach_error"] and "max-size=3" in failed["reattach_error"]
    reason = document["reason"]
    assert first in reason and "needs a person" in reason
    assert "ACTIVE in the cluster again" in reason and "detached from prod-asg" in reason
    assert "not terminated" in reason and "MaxSize" in reason and "attach-instances" in reason
    # Where the reason says it is: ACTIVE in the cluster, out of the group, still running.
    described = aws_env.client("ecs").describe_container_instances(
        cluster="prod", containerInstances=[failed["container_instance_arn"]]
    )
    assert described["containerInstances"][0]["status"] == "ACTIVE"
    group = aws_env.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=["prod-asg"])
    assert first not in {i["InstanceId"] for i in group["AutoScalingGroups"][0]["Instances"]}
    reservations = aws_env.client("ec2").describe_instances(InstanceIds=[first])["Reservations"]
    assert reservations[0]["Instances"][0]["State"]["Name"] == "running"
    counts = aws_env.counts()
    assert counts.get("ec2:TerminateInstances", 0) == 0
    assert counts["autoscaling:AttachInstances"] == 1, "a definite refusal is not repeated"
    assert counts["autoscaling:DetachInstances"] == 1

    text = run_ecsops(tmp_path / "ecsops.db", "status", document["run_id"]).stdout
    line = next(line for line in text.splitlines() if line.strip().startswith(first))
    assert line.split() == [first, "reattach_failed", "replacement", failed["replacement"]]
    assert f"failed: {failed['failure']}" in text
    assert f"putting back failed: {failed['reattach_error']}" in text


def test_task_placed_right_before_termination_sends_it_back_to_draining(aws_env: SimServer, tmp_path: Path) -> None:
    seeded = aws_env.reset(fleet_scenario(instances=2, out_of_date=1)).asgs["prod-asg"]
    (victim,) = seeded.out_of_date_instances
    seen: dict[str, Any] = {"previous": None, "placed_at": None, "terminations": []}

    def someone_starts_a_job(service: str, operation: str) -> None:
        """Between the poll that found the instance drained (it ends with DescribeServices) and the fresh look
        right before TerminateInstances, a person starts a five-minute job on it."""
        call = f"{service}:{operation}"
        container_instance = container_instance_in_sim(aws_env, "prod", victim)
        tasks = container_instance.running_tasks_count + container_instance.pending_tasks_count
        if (
            call == "ecs:DescribeContainerInstances"
            and seen["previous"] == "ecs:DescribeServices"
            and seen["placed_at"] is None
            and container_instance.status == "DRAINING"
            and tasks == 0
        ):
            aws_env.start_one_off_task("prod", container_instance.container_instance_arn, "api", run_seconds=300)
            seen["placed_at"] = aws_env.now()
        if call == "ec2:TerminateInstances":
            seen["terminations"].append((aws_env.now(), tasks))
        seen["previous"] = call

    aws_env.on_request(someone_starts_a_job)

    result = replace(tmp_path / "ecsops.db")

    assert result.returncode == 0, result.stderr
    assert seen["placed_at"] is not None, "the job was started right before the termination"
    document = result.json()
    assert document["status"] == "succeeded"
    assert [i["state"] for i in document["instances"]] == ["terminated"]
    path = [(t["source"], t["dest"], t["trigger"]) for t in document["transitions"] if t["item"] == victim]
    assert path == [
        ("pending", "detaching", "start"),
        ("detaching", "waiting_replacement", "detached"),
        ("waiting_replacement", "draining", "replacement_active"),
        ("draining", "drained", "drained"),
        ("drained", "terminating", "terminate"),
        ("terminating", "draining", "tasks_found"),
        ("draining", "drained", "drained"),
        ("drained", "terminating", "terminate"),
        ("terminating", "terminated", "terminated"),
    ]
    assert "tasks appeared before termination" in result.stderr
    # Terminated once, with no task on it: after the job exited by itself, five virtual minutes later.
    ((terminated_at, tasks_then),) = seen["terminations"]
    assert tasks_then == 0
    assert terminated_at >= seen["placed_at"] + 300
    counts = aws_env.counts()
    assert counts["ec2:TerminateInstances"] == 1
    assert counts["ecs:UpdateContainerInstancesState"] == 1, "still DRAINING: not drained again"
    assert "autoscaling:AttachInstances" not in counts


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--asg", "no-such-asg", "--cluster", "prod"], "no-such-asg"),
        (["--asg", "prod-asg", "--cluster", "no-such-cluster"], "no-such-cluster"),
        (["--asg", "prod-asg", "--cluster", "prod", "--batch-size", "0"], "--batch-size"),
        (["--asg", "prod-asg", "--cluster", "prod", "--timeout", "soon"], "--timeout"),
        (["--asg", "prod-asg", "--cluster", "prod", "--poll-interval", "-1"], "--poll-interval"),
    ],
)
def test_bad_input_exits_2_without_mutation(
    aws_env: SimServer, tmp_path: Path, args: list[str], message: str
) -> None:
    aws_env.reset(fleet_scenario(instances=2, out_of_date=1))

    result = run_ecsops(tmp_path / "ecsops.db", "replace-instances", *args)

    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert aws_env.mutating_calls() == {}
    runs = run_ecsops(tmp_path / "ecsops.db", "runs", "--output", "json")
    assert runs.json() == []
