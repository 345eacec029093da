"""AutoScalingReader against moto in-process (and a botocore Stubber where moto is kinder than EC2)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from ecsops.aws.autoscaling import AutoScalingGroupNotFound, AutoScalingReader
from ecsops.replace.launch_settings import LaunchSpec, UnknownLaunchTemplate
from ecsops.replace.plan import classify_group, out_of_date_instances, template_catalog


@pytest.fixture
def reader(moto_aws: None) -> AutoScalingReader:
    return AutoScalingReader.from_session(boto3.Session(region_name="us-east-1"))


# One of moto's built-in AMIs; describing them all costs over a second per test.
IMAGE_ID = "ami-12c6146b"


def create_template(name: str, versions: int, default: int | None = None) -> str:
    """A launch template with `versions` versions; returns its id."""
    ec2 = boto3.client("ec2")
    data: Any = {"ImageId": IMAGE_ID, "InstanceType": "t3.micro"}
    template_id = str(
        ec2.create_launch_template(LaunchTemplateName=name, LaunchTemplateData=data)["LaunchTemplate"][
            "LaunchTemplateId"
        ]
    )
    for _ in range(versions - 1):
        ec2.create_launch_template_version(LaunchTemplateId=template_id, LaunchTemplateData=data)
    if default is not None:
        ec2.modify_launch_template(LaunchTemplateId=template_id, DefaultVersion=str(default))
    return template_id


def create_group(name: str, desired: int = 2, **launch: Any) -> None:
    boto3.client("autoscaling").create_auto_scaling_group(
        AutoScalingGroupName=name,
        MinSize=0,
        MaxSize=10,
        DesiredCapacity=desired,
        AvailabilityZones=["us-east-1a"],
        **launch,
    )


def test_describe_group_returns_the_group_with_its_instances(reader: AutoScalingReader) -> None:
    boto3.client("autoscaling").create_launch_configuration(
        LaunchConfigurationName="lc-1", ImageId=IMAGE_ID, InstanceType="t3.micro"
    )
    create_group("web-asg", desired=3, LaunchConfigurationName="lc-1")
    asg = reader.describe_group("web-asg")
    assert asg["AutoScalingGroupName"] == "web-asg"
    assert asg["LaunchConfigurationName"] == "lc-1"
    assert len(asg["Instances"]) == 3
    assert {instance["LifecycleState"] for instance in asg["Instances"]} == {"InService"}


def test_describe_group_of_an_unknown_group_names_it(reader: AutoScalingReader) -> None:
    with pytest.raises(AutoScalingGroupNotFound, match="'no-such-asg' not found") as raised:
        reader.describe_group("no-such-asg")
    assert raised.value.asg_name == "no-such-asg"
    assert isinstance(raised.value, LookupError)


def test_describe_groups_batches_names_by_100(moto_aws: None) -> None:
    autoscaling = boto3.client("autoscaling")
    reader = AutoScalingReader(autoscaling, boto3.client("ec2"))
    names = [f"asg-{index:03d}" for index in range(130)]
    autoscaling.create_launch_configuration(LaunchConfigurationName="lc-1", ImageId=IMAGE_ID, InstanceType="t3.micro")
    for name in names:
        create_group(name, desired=0, LaunchConfigurationName="lc-1")
    requested: list[list[str]] = []
    autoscaling.meta.events.register(
        "provide-client-params.auto-scaling.DescribeAutoScalingGroups",
        lambda params, **_: requested.append(list(params["AutoScalingGroupNames"])),
    )
    groups = reader.describe_groups([*names, "missing-asg", names[0]])
    assert sorted(group["AutoScalingGroupName"] for group in groups) == names
    # Duplicates dropped, at most 100 names per call, every name asked for (pages repeat their batch).
    assert all(len(batch) <= 100 for batch in requested)
    assert {tuple(batch) for batch in requested} == {tuple(names[:100]), (*names[100:], "missing-asg")}


def test_template_resolver_resolves_versions_by_id_and_by_name(reader: AutoScalingReader) -> None:
    web_id = create_template("web", versions=3, default=2)
    api_id = create_template("api", versions=1)
    resolve = template_catalog(reader,
        [
            LaunchSpec(launch_template_name="web", version="$Default"),
            LaunchSpec(launch_template_id=api_id, version="$Latest"),
            LaunchSpec(launch_configuration_name="some-lc"),
        ]
    )
    default = resolve(template_id=None, template_name="web", version="$Default")
    assert (default.template_id, default.template_name, default.version) == (web_id, "web", 2)
    assert resolve(template_id=web_id, template_name=None, version="$Latest").version == 3
    assert resolve(template_id=web_id, template_name=None, version=None).version == 2
    assert resolve(template_id=None, template_name="api", version="$Latest").version == 1
    assert resolve(template_id=api_id, template_name=None, version="1").template_name == "api"


def test_template_resolver_leaves_out_templates_that_do_not_exist(reader: AutoScalingReader) -> None:
    web_id = create_template("web", versions=2)
    resolve = template_catalog(reader,
        [
            LaunchSpec(launch_template_id=web_id, version="1"),
            LaunchSpec(launch_template_name="gone", version="1"),
            LaunchSpec(launch_template_id="lt-0123456789abcdef0", version="1"),
        ]
    )
    assert resolve(template_id=web_id, template_name=None, version="$Latest").version == 2
    with pytest.raises(UnknownLaunchTemplate):
        resolve(template_id=None, template_name="gone", version="1")
    with pytest.raises(UnknownLaunchTemplate):
        resolve(template_id="lt-0123456789abcdef0", template_name=None, version="1")


def test_one_missing_template_id_does_not_hide_the_others() -> None:
    # Real EC2 fails the whole call for one unknown id (moto does not), so stub EC2's answers.
    ec2 = boto3.client("ec2", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    autoscaling = boto3.client("autoscaling", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    web = {
        "LaunchTemplateId": "lt-0aaa",
        "LaunchTemplateName": "web",
        "DefaultVersionNumber": 1,
        "LatestVersionNumber": 4,
    }
    with Stubber(ec2) as stubber:
        stubber.add_client_error(
            "describe_launch_templates",
            service_error_code="InvalidLaunchTemplateId.NotFound",
            expected_params={"LaunchTemplateIds": ["lt-0aaa", "lt-0bbb"]},
        )
        stubber.add_response(
            "describe_launch_templates", {"LaunchTemplates": [web]}, {"LaunchTemplateIds": ["lt-0aaa"]}
        )
        stubber.add_client_error(
            "describe_launch_templates",
            service_error_code="InvalidLaunchTemplateId.NotFound",
            expected_params={"LaunchTemplateIds": ["lt-0bbb"]},
        )
        resolve = template_catalog(AutoScalingReader(autoscaling, ec2),
            [LaunchSpec(launch_template_id="lt-0aaa", version="1"), LaunchSpec(launch_template_id="lt-0bbb")]
        )
        stubber.assert_no_pending_responses()
    assert resolve(template_id="lt-0aaa", template_name=None, version="$Latest").version == 4


def test_out_of_date_instances_of_an_up_to_date_group_is_empty(reader: AutoScalingReader) -> None:
    template_id = create_template("web", versions=2, default=2)
    create_group("web-asg", LaunchTemplate={"LaunchTemplateId": template_id, "Version": "$Default"})
    assert out_of_date_instances(reader, "web-asg") == []
    verdicts = classify_group(reader, "web-asg")
    assert len(verdicts) == 2
    assert all(verdict.reason.endswith("as the group wants") for verdict in verdicts)


def test_out_of_date_instances_after_a_new_template_version(reader: AutoScalingReader) -> None:
    template_id = create_template("web", versions=1)
    create_group("web-asg", LaunchTemplate={"LaunchTemplateName": "web", "Version": "$Latest"})
    boto3.client("ec2").create_launch_template_version(
        LaunchTemplateId=template_id, LaunchTemplateData={"ImageId": IMAGE_ID, "InstanceType": "t3.small"}
    )
    # moto records the template's default version (1) on the instances, which is what they launched with.
    verdicts = out_of_date_instances(reader, "web-asg")
    assert len(verdicts) == 2
    assert {verdict.reason for verdict in verdicts} == {
        f"launch template {template_id} version 1, group wants 2 ($Latest)"
    }


def test_out_of_date_instances_of_an_unknown_group_names_it(reader: AutoScalingReader) -> None:
    with pytest.raises(AutoScalingGroupNotFound, match="no-such-asg"):
        out_of_date_instances(reader, "no-such-asg")
