"""Which instances of an Auto Scaling group are out of date: pure rules on described dicts."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from ecsops.replace.launch_settings import (
    InstanceVerdict,
    LaunchSettingsError,
    LaunchSpec,
    LaunchTemplateCatalog,
    UnknownLaunchTemplate,
    classify_instances,
    group_launch_spec,
    instances_to_replace,
    template_references,
)

WEB = {"LaunchTemplateId": "lt-0abc", "LaunchTemplateName": "web", "DefaultVersionNumber": 3, "LatestVersionNumber": 5}
API = {"LaunchTemplateId": "lt-0def", "LaunchTemplateName": "api", "DefaultVersionNumber": 2, "LatestVersionNumber": 2}
CATALOG = LaunchTemplateCatalog([WEB, API])


def instance(instance_id: str, state: str = "InService", **launch: Any) -> dict[str, Any]:
    return {
        "InstanceId": instance_id,
        "InstanceType": launch.pop("InstanceType", "t3.micro"),
        "AvailabilityZone": "us-east-1a",
        "LifecycleState": state,
        "HealthStatus": launch.pop("HealthStatus", "Healthy"),
        "ProtectedFromScaleIn": False,
        **launch,
    }


def template(version: str | None = None, *, by: str = "id", name: str = "web") -> dict[str, str]:
    """A LaunchTemplate specification naming the template by id, by name, or both."""
    known = {"web": WEB, "api": API}[name]
    spec: dict[str, str] = {}
    if by in ("id", "both"):
        spec["LaunchTemplateId"] = str(known["LaunchTemplateId"])
    if by in ("name", "both"):
        spec["LaunchTemplateName"] = name
    if version is not None:
        spec["Version"] = version
    return spec


def group(*instances: dict[str, Any], **launch: Any) -> dict[str, Any]:
    return {"AutoScalingGroupName": "web-asg", "MinSize": 0, "MaxSize": 10, "Instances": list(instances), **launch}


def by_id(verdicts: list[InstanceVerdict]) -> dict[str, InstanceVerdict]:
    return {verdict.instance_id: verdict for verdict in verdicts}


# --- launch configurations ---------------------------------------------------------------------------


def test_launch_configuration_group_flags_instances_on_another_configuration() -> None:
    asg = group(
        instance("i-old", LaunchConfigurationName="old-lc"),
        instance("i-new", LaunchConfigurationName="new-lc"),
        LaunchConfigurationName="new-lc",
    )
    verdicts = by_id(classify_instances(asg, CATALOG))
    assert verdicts["i-old"].out_of_date
    assert verdicts["i-old"].reason == "launch configuration old-lc, group wants new-lc"
    assert not verdicts["i-new"].out_of_date
    assert verdicts["i-new"].reason == "launch configuration new-lc, as the group wants"
    assert [v.instance_id for v in instances_to_replace(verdicts.values())] == ["i-old"]


def test_instance_on_a_template_when_group_wants_a_configuration_is_out_of_date() -> None:
    asg = group(instance("i-1", LaunchTemplate=template("3")), LaunchConfigurationName="new-lc")
    [verdict] = classify_instances(asg, CATALOG)
    assert verdict.out_of_date
    assert verdict.reason == "launch template lt-0abc version 3, group wants launch configuration new-lc"


def test_instance_on_a_configuration_when_group_wants_a_template_is_out_of_date() -> None:
    asg = group(instance("i-1", LaunchConfigurationName="old-lc"), LaunchTemplate=template("5"))
    [verdict] = classify_instances(asg, CATALOG)
    assert verdict.out_of_date
    assert verdict.reason == "launch configuration old-lc, group wants launch template lt-0abc version 5"


def test_instance_with_nothing_recorded_is_out_of_date() -> None:
    asg = group(instance("i-bare"), LaunchConfigurationName="new-lc")
    [verdict] = classify_instances(asg, CATALOG)
    assert verdict.out_of_date
    assert verdict.launch_spec is None
    assert verdict.reason == "no launch configuration or template recorded"
    assert verdict.needs_replacement


# --- launch templates --------------------------------------------------------------------------------


def test_launch_template_by_id_with_numbered_versions() -> None:
    asg = group(
        instance("i-v3", LaunchTemplate=template("3")),
        instance("i-v5", LaunchTemplate=template("5")),
        LaunchTemplate=template("5"),
    )
    verdicts = by_id(classify_instances(asg, CATALOG))
    assert verdicts["i-v3"].out_of_date
    assert verdicts["i-v3"].reason == "launch template lt-0abc version 3, group wants 5"
    assert not verdicts["i-v5"].out_of_date


def test_latest_is_resolved_to_the_latest_version_number() -> None:
    asg = group(
        instance("i-v3", LaunchTemplate=template("3")),
        instance("i-v5", LaunchTemplate=template("5")),
        LaunchTemplate=template("$Latest", by="name"),
    )
    verdicts = by_id(classify_instances(asg, CATALOG))
    assert verdicts["i-v3"].out_of_date
    assert verdicts["i-v3"].reason == "launch template lt-0abc version 3, group wants 5 ($Latest)"
    assert not verdicts["i-v5"].out_of_date


def test_default_and_missing_version_resolve_to_the_default_version_number() -> None:
    for wanted in ("$Default", None):
        asg = group(
            instance("i-v3", LaunchTemplate=template("3")),
            instance("i-v5", LaunchTemplate=template("5")),
            LaunchTemplate=template(wanted),
        )
        verdicts = by_id(classify_instances(asg, CATALOG))
        assert not verdicts["i-v3"].out_of_date
        assert verdicts["i-v5"].out_of_date


def test_symbolic_version_recorded_on_the_instance_is_resolved_too() -> None:
    asg = group(
        instance("i-latest", LaunchTemplate=template("$Latest")),
        instance("i-default", LaunchTemplate=template("$Default")),
        LaunchTemplate=template("3"),
    )
    verdicts = by_id(classify_instances(asg, CATALOG))
    assert verdicts["i-latest"].out_of_date
    assert verdicts["i-latest"].reason == "launch template lt-0abc version 5 ($Latest), group wants 3"
    assert not verdicts["i-default"].out_of_date


def test_template_named_on_one_side_and_ided_on_the_other_is_the_same_template() -> None:
    asg = group(
        instance("i-by-name", LaunchTemplate=template("5", by="name")),
        instance("i-by-both", LaunchTemplate=template("5", by="both")),
        LaunchTemplate=template("5", by="id"),
    )
    assert not any(v.out_of_date for v in classify_instances(asg, CATALOG))
    asg_by_name = group(instance("i-by-id", LaunchTemplate=template("5")), LaunchTemplate=template("5", by="name"))
    assert not any(v.out_of_date for v in classify_instances(asg_by_name, CATALOG))


def test_instance_on_another_template_is_out_of_date() -> None:
    asg = group(instance("i-api", LaunchTemplate=template("2", name="api")), LaunchTemplate=template("$Latest"))
    [verdict] = classify_instances(asg, CATALOG)
    assert verdict.out_of_date
    assert (
        verdict.reason == "launch template lt-0def version 2, group wants launch template lt-0abc version 5 ($Latest)"
    )


def test_instance_whose_template_no_longer_exists_is_out_of_date() -> None:
    gone = {"LaunchTemplateId": "lt-0gone", "LaunchTemplateName": "old-web", "Version": "7"}
    asg = group(instance("i-orphan", LaunchTemplate=gone), LaunchTemplate=template("5"))
    [verdict] = classify_instances(asg, CATALOG)
    assert verdict.out_of_date
    assert verdict.reason == (
        "launch template lt-0gone version 7 (template no longer exists), group wants launch template lt-0abc version 5"
    )


def test_up_to_date_group_has_nothing_to_replace() -> None:
    asg = group(
        instance("i-1", LaunchTemplate=template("5")),
        instance("i-2", LaunchTemplate=template("5", by="both")),
        LaunchTemplate=template("$Latest", by="name"),
    )
    verdicts = classify_instances(asg, CATALOG)
    assert len(verdicts) == 2
    assert instances_to_replace(verdicts) == []


def test_group_without_instances_has_no_verdicts() -> None:
    assert classify_instances(group(LaunchConfigurationName="lc"), CATALOG) == []


# --- mixed-instances policies ------------------------------------------------------------------------


def mixed(specification: dict[str, str], overrides: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "LaunchTemplate": {
            "LaunchTemplateSpecification": specification,
            "Overrides": overrides or [{"InstanceType": "t3.micro"}, {"InstanceType": "t3.small"}],
        },
        "InstancesDistribution": {"OnDemandBaseCapacity": 0},
    }


def test_mixed_instances_policy_template_is_what_the_group_wants() -> None:
    asg = group(
        instance("i-v3", LaunchTemplate=template("3")),
        instance("i-v5", LaunchTemplate=template("5", by="both"), InstanceType="t3.small"),
        MixedInstancesPolicy=mixed(template("$Latest", by="name")),
    )
    wanted = group_launch_spec(asg, CATALOG)
    assert wanted.source == "mixed_instances_policy"
    assert wanted.template is not None
    assert (wanted.template.template_id, wanted.template.version) == ("lt-0abc", 5)
    verdicts = by_id(classify_instances(asg, CATALOG))
    assert verdicts["i-v3"].out_of_date
    assert not verdicts["i-v5"].out_of_date


def test_mixed_instances_override_template_applies_to_its_instance_type() -> None:
    overrides: list[dict[str, Any]] = [
        {"InstanceType": "t3.micro"},
        {"InstanceType": "m5.large", "LaunchTemplateSpecification": template("2", name="api")},
    ]
    asg = group(
        instance("i-micro", LaunchTemplate=template("5")),
        instance("i-large-on-api", LaunchTemplate=template("2", name="api"), InstanceType="m5.large"),
        instance("i-large-on-web", LaunchTemplate=template("5"), InstanceType="m5.large"),
        MixedInstancesPolicy=mixed(template("5"), overrides),
    )
    verdicts = by_id(classify_instances(asg, CATALOG))
    assert not verdicts["i-micro"].out_of_date
    assert not verdicts["i-large-on-api"].out_of_date
    assert verdicts["i-large-on-web"].out_of_date
    assert "group wants launch template lt-0def version 2" in verdicts["i-large-on-web"].reason


# --- lifecycle states --------------------------------------------------------------------------------


def test_only_in_service_instances_are_replacement_candidates() -> None:
    asg = group(
        instance("i-pending", "Pending", LaunchConfigurationName="old-lc"),
        instance("i-terminating", "Terminating", LaunchConfigurationName="old-lc"),
        instance("i-detaching", "Detaching", LaunchConfigurationName="old-lc"),
        instance("i-standby", "Standby", LaunchConfigurationName="old-lc"),
        instance("i-unhealthy", LaunchConfigurationName="old-lc", HealthStatus="Unhealthy"),
        instance("i-current-pending", "Pending", LaunchConfigurationName="new-lc"),
        LaunchConfigurationName="new-lc",
    )
    verdicts = by_id(classify_instances(asg, CATALOG))
    for skipped in ("i-pending", "i-terminating", "i-detaching", "i-standby"):
        assert verdicts[skipped].out_of_date
        assert verdicts[skipped].skip_reason is not None
        assert not verdicts[skipped].needs_replacement
    assert verdicts["i-standby"].skip_reason == (
        "Standby: put in standby by an operator; exit standby to have it replaced"
    )
    assert verdicts["i-pending"].skip_reason == "Pending: still launching; run again once it is InService"
    assert verdicts["i-unhealthy"].skip_reason is None
    assert verdicts["i-current-pending"].skip_reason is not None
    assert not verdicts["i-current-pending"].out_of_date
    assert [v.instance_id for v in instances_to_replace(verdicts.values())] == ["i-unhealthy"]


def test_verdict_carries_the_instance_facts_and_is_frozen() -> None:
    asg = group(instance("i-1", LaunchConfigurationName="old-lc"), LaunchConfigurationName="new-lc")
    [verdict] = classify_instances(asg, CATALOG)
    assert verdict.model_dump() == {
        "instance_id": "i-1",
        "instance_type": "t3.micro",
        "availability_zone": "us-east-1a",
        "lifecycle_state": "InService",
        "health_status": "Healthy",
        "launch_spec": {
            "launch_configuration_name": "old-lc",
            "launch_template_id": None,
            "launch_template_name": None,
            "version": None,
        },
        "out_of_date": True,
        "reason": "launch configuration old-lc, group wants new-lc",
        "skip_reason": None,
    }
    with pytest.raises(ValidationError):
        verdict.out_of_date = False


# --- errors ------------------------------------------------------------------------------------------


def test_group_with_no_launch_settings_is_an_error_naming_the_group() -> None:
    with pytest.raises(LaunchSettingsError, match=r"web-asg.*found: none"):
        classify_instances(group(instance("i-1")), CATALOG)


def test_group_with_an_unknown_template_is_an_error_naming_the_group() -> None:
    asg = group(LaunchTemplate={"LaunchTemplateName": "nope", "Version": "1"})
    with pytest.raises(LaunchSettingsError, match=r"web-asg.*nope"):
        group_launch_spec(asg, CATALOG)


def test_unparseable_version_is_an_error() -> None:
    with pytest.raises(LaunchSettingsError, match="'latest' is not a number"):
        group_launch_spec(group(LaunchTemplate=template("latest")), CATALOG)


def test_catalog_resolution() -> None:
    resolved = CATALOG(template_id=None, template_name="web", version="$Default")
    assert (resolved.template_id, resolved.template_name, resolved.version) == ("lt-0abc", "web", 3)
    assert CATALOG(template_id="lt-0abc", template_name=None, version="$Latest").version == 5
    assert CATALOG(template_id="lt-0abc", template_name=None, version="4").version == 4
    # An id wins: a re-created template of the same name is another template.
    with pytest.raises(UnknownLaunchTemplate):
        CATALOG(template_id="lt-0gone", template_name="web", version="1")


def test_launch_spec_names_exactly_one_kind() -> None:
    with pytest.raises(ValidationError):
        LaunchSpec(launch_configuration_name="lc", launch_template_id="lt-0abc")
    with pytest.raises(ValidationError):
        LaunchSpec()
    with pytest.raises(ValidationError):
        LaunchSpec(launch_configuration_name="lc", version="1")


def test_template_references_lists_each_template_once() -> None:
    overrides = [{"InstanceType": "m5.large", "LaunchTemplateSpecification": template("2", name="api")}]
    asg = group(
        instance("i-1", LaunchTemplate=template("5")),
        instance("i-2", LaunchTemplate=template("5")),
        instance("i-3", LaunchConfigurationName="lc"),
        MixedInstancesPolicy=mixed(template("$Latest", by="name"), overrides),
    )
    assert template_references(asg) == [
        LaunchSpec(launch_template_name="web", version="$Latest"),
        LaunchSpec(launch_template_id="lt-0def", version="2"),
        LaunchSpec(launch_template_id="lt-0abc", version="5"),
    ]


@given(wanted=st.integers(1, 5), recorded=st.integers(1, 5), by=st.sampled_from(["id", "name", "both"]))
def test_numbered_versions_are_out_of_date_exactly_when_they_differ(wanted: int, recorded: int, by: str) -> None:
    asg = group(instance("i-1", LaunchTemplate=template(str(recorded), by=by)), LaunchTemplate=template(str(wanted)))
    [verdict] = classify_instances(asg, CATALOG)
    assert verdict.out_of_date == (wanted != recorded)


# --- the real DescribeAutoScalingGroups shape (moto) -------------------------------------------------


def test_classifies_the_shape_moto_describes(moto_aws: None) -> None:
    ec2 = boto3.client("ec2")
    autoscaling = boto3.client("autoscaling")
    image_id = "ami-12c6146b"  # one of moto's built-in AMIs
    created = ec2.create_launch_template(
        LaunchTemplateName="web", LaunchTemplateData={"ImageId": image_id, "InstanceType": "t3.micro"}
    )["LaunchTemplate"]
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName="lt-asg",
        LaunchTemplate={"LaunchTemplateName": "web", "Version": "$Latest"},
        MinSize=0,
        MaxSize=4,
        DesiredCapacity=2,
        AvailabilityZones=["us-east-1a"],
    )
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName="mixed-asg",
        MixedInstancesPolicy={
            "LaunchTemplate": {
                "LaunchTemplateSpecification": {"LaunchTemplateId": created["LaunchTemplateId"]},
                "Overrides": [{"InstanceType": "t3.micro"}],
            }
        },
        MinSize=0,
        MaxSize=4,
        DesiredCapacity=1,
        AvailabilityZones=["us-east-1a"],
    )
    autoscaling.create_launch_configuration(LaunchConfigurationName="lc-1", ImageId=image_id, InstanceType="t3.micro")
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName="lc-asg",
        LaunchConfigurationName="lc-1",
        MinSize=0,
        MaxSize=4,
        DesiredCapacity=1,
        AvailabilityZones=["us-east-1a"],
    )
    catalog = LaunchTemplateCatalog(ec2.describe_launch_templates()["LaunchTemplates"])
    described = autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"]
    assert {asg["AutoScalingGroupName"] for asg in described} == {"lt-asg", "mixed-asg", "lc-asg"}
    for asg in described:
        verdicts = classify_instances(asg, catalog)
        assert verdicts
        # Unpatched moto records the group's current settings on every instance (DESIGN §5).
        assert instances_to_replace(verdicts) == []
        assert all(v.lifecycle_state == "InService" and v.health_status == "Healthy" for v in verdicts)
        assert all(v.availability_zone == "us-east-1a" for v in verdicts)
    # Drop what moto recorded on one instance: it must then be out of date.
    lt_asg = next(asg for asg in described if asg["AutoScalingGroupName"] == "lt-asg")
    first = dict(lt_asg["Instances"][0])
    first.pop("LaunchTemplate")
    bare = {**lt_asg, "Instances": [first]}
    assert [v.reason for v in instances_to_replace(classify_instances(bare, catalog))] == [
        "no launch configuration or template recorded"
    ]
