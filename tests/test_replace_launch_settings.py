"""Which instances are replaced, for launch configurations, launch templates (by id or name, any version form)
and mixed-instances policies; an up-to-date group is left alone."""

from __future__ import annotations

from pathlib import Path

import pytest
from replace_helpers import fleet_scenario, replace

from ecsops.sim.server import SimServer


def _replaced_exactly(result_document: dict[str, object], expected: set[str]) -> None:
    instances = result_document["instances"]
    assert isinstance(instances, list)
    assert {i["instance_id"] for i in instances} == expected
    assert {i["state"] for i in instances} == {"terminated"}


@pytest.mark.parametrize("launch", ["launch_configuration", "launch_template", "mixed_instances"])
def test_out_of_date_instances_are_replaced(aws_env: SimServer, tmp_path: Path, launch: str) -> None:
    seeded = aws_env.reset(fleet_scenario(instances=3, out_of_date=2, launch=launch)).asgs["prod-asg"]

    result = replace(tmp_path / "ecsops.db")

    assert result.returncode == 0, result.stderr
    document = result.json()
    assert document["status"] == "succeeded"
    _replaced_exactly(document, set(seeded.out_of_date_instances))
    assert aws_env.counts()["ec2:TerminateInstances"] == 2
    group = aws_env.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=["prod-asg"])
    members = {i["InstanceId"] for i in group["AutoScalingGroups"][0]["Instances"]}
    assert len(members) == 3
    assert set(seeded.current_instances) <= members
    assert not members & set(seeded.out_of_date_instances)


@pytest.mark.parametrize(
    ("by", "version", "default_version", "replaced"),
    [
        ("LaunchTemplateName", "2", None, "old"),
        ("LaunchTemplateName", "$Latest", None, "old"),
        ("LaunchTemplateId", "$Latest", None, "old"),
        # The template's default is still version 1: the instances on version 2 are the out-of-date ones.
        ("LaunchTemplateId", "$Default", None, "current"),
        ("LaunchTemplateName", "$Default", "2", "old"),
    ],
)
def test_launch_template_by_id_or_name_and_version_forms(
    aws_env: SimServer, tmp_path: Path, by: str, version: str, default_version: str | None, replaced: str
) -> None:
    seeded = aws_env.reset(fleet_scenario(instances=3, out_of_date=1)).asgs["prod-asg"]
    if default_version is not None:
        aws_env.client("ec2").modify_launch_template(
            LaunchTemplateId=seeded.launch_template_id, DefaultVersion=default_version
        )
    reference = seeded.launch_template_id if by == "LaunchTemplateId" else seeded.launch_template_name
    aws_env.client("autoscaling").update_auto_scaling_group(
        AutoScalingGroupName="prod-asg", LaunchTemplate={by: reference, "Version": version}
    )
    aws_env.reset_counts()
    expected = set(seeded.out_of_date_instances if replaced == "old" else seeded.current_instances)

    dry = replace(tmp_path / "ecsops.db", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    planned = {i["instance_id"] for i in dry.json()["instances"] if i["action"] == "replace"}
    assert planned == expected
    assert aws_env.mutating_calls() == {}

    result = replace(tmp_path / "ecsops.db")
    assert result.returncode == 0, result.stderr
    _replaced_exactly(result.json(), expected)


def test_up_to_date_group_succeeds_without_mutation(aws_env: SimServer, tmp_path: Path) -> None:
    aws_env.reset(fleet_scenario(instances=2, out_of_date=0))

    result = replace(tmp_path / "ecsops.db")

    assert result.returncode == 0, result.stderr
    document = result.json()
    assert document["status"] == "succeeded"
    assert document["instances"] == []
    assert "nothing to replace" in document["reason"]
    assert aws_env.mutating_calls() == {}


def test_dry_run_text_lists_each_instance_with_its_reason(aws_env: SimServer, tmp_path: Path) -> None:
    seeded = aws_env.reset(fleet_scenario(instances=2, out_of_date=1))
    old = seeded.asgs["prod-asg"].out_of_date_instances[0]

    result = replace(tmp_path / "ecsops.db", "--dry-run", "--output", "text")

    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if old in line)
    assert "replace" in line and "version 1, group wants 2" in line
    assert aws_env.mutating_calls() == {}
    assert not (tmp_path / "ecsops.db").exists()
