"""Six out-of-date instances replaced in batches of 1 and 3: capacity and services never dip (seen inside the sim)."""

from __future__ import annotations

from pathlib import Path

import pytest
from replace_helpers import CapacityWatch, fleet_scenario, replace

from ecsops.sim.server import SimServer


@pytest.mark.parametrize("batch_size", [1, 3])
def test_batches_keep_capacity_and_services(aws_env: SimServer, tmp_path: Path, batch_size: int) -> None:
    seeded = aws_env.reset(fleet_scenario(instances=6, out_of_date=6, service_tasks=6))
    old = set(seeded.asgs["prod-asg"].out_of_date_instances)
    watch = CapacityWatch(aws_env, "prod").install()
    starting_capacity, _ = watch.sample()
    assert starting_capacity == 6

    result = replace(tmp_path / "ecsops.db", "--batch-size", str(batch_size))

    assert result.returncode == 0, result.stderr
    document = result.json()
    assert document["status"] == "succeeded"
    assert {i["instance_id"] for i in document["instances"]} == old
    assert {i["state"] for i in document["instances"]} == {"terminated"}
    replacements = [i["replacement"] for i in document["instances"]]
    assert len(set(replacements)) == 6 and not set(replacements) & old
    assert len(watch.samples) > 50
    assert watch.lowest_active() >= starting_capacity
    assert watch.services_below_desired() == []
    counts = aws_env.counts()
    assert counts["autoscaling:DetachInstances"] == 6
    assert counts["ec2:TerminateInstances"] == 6
    assert counts["ecs:UpdateContainerInstancesState"] == 6
    # One poll serves every instance in flight: per poll one group describe and at most one container
    # instance describe (plus one fresh look per instance right before its termination).
    assert counts["ecs:DescribeContainerInstances"] <= counts["autoscaling:DescribeAutoScalingGroups"] + 6
    # In flight at once never exceeds the batch size.
    in_flight, most = set(), 0
    for transition in document["transitions"]:
        if transition["item"] and transition["source"] == "pending":
            in_flight.add(transition["item"])
        if transition["item"] and transition["dest"] == "terminated":
            in_flight.discard(transition["item"])
        most = max(most, len(in_flight))
    assert most == batch_size

