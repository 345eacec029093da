"""Auto Scaling in the simulator: launch settings recorded at launch, agent registration after boot delay."""

from __future__ import annotations

from typing import Any

import pytest

from ecsops.sim.scenario import AsgSpec, ClusterSpec, Scenario
from ecsops.sim.server import SimServer

KINDS = ["launch_configuration", "launch_template", "mixed_instances"]


def _scenario(kind: str) -> Scenario:
    return Scenario(
        clusters=[ClusterSpec(name="demo")],
        asgs=[
            AsgSpec(name="pool", cluster="demo", launch=kind, desired_capacity=3, max_size=5, out_of_date=2)  # type: ignore[arg-type]
        ],
        boot_seconds=90,
    )


def _launch_of(instance: dict[str, Any]) -> Any:
    if "LaunchConfigurationName" in instance:
        return instance["LaunchConfigurationName"]
    return instance["LaunchTemplate"]["Version"]


def _group(autoscaling: Any) -> dict[str, Any]:
    groups: list[dict[str, Any]] = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=["pool"])[
        "AutoScalingGroups"
    ]
    return groups[0]


def _registered(ecs: Any) -> set[str]:
    arns = ecs.list_container_instances(cluster="demo")["containerInstanceArns"]
    if not arns:
        return set()
    instances = ecs.describe_container_instances(cluster="demo", containerInstances=arns)["containerInstances"]
    return {i["ec2InstanceId"] for i in instances}


@pytest.mark.parametrize("kind", KINDS)
def test_describe_shows_launch_settings_recorded_at_launch(sim: SimServer, kind: str) -> None:
    seeded = sim.reset(_scenario(kind)).asgs["pool"]
    autoscaling = sim.client("autoscaling")
    group = _group(autoscaling)
    old, current = (
        (seeded.old_launch_configuration, seeded.launch_configuration)
        if kind == "launch_configuration"
        else (seeded.old_version, seeded.current_version)
    )
    if kind == "launch_configuration":
        assert group["LaunchConfigurationName"] == current
    elif kind == "launch_template":
        assert group["LaunchTemplate"]["Version"] == current
    else:
        spec = group["MixedInstancesPolicy"]["LaunchTemplate"]["LaunchTemplateSpecification"]
        assert spec["Version"] == current
    by_id = {i["InstanceId"]: _launch_of(i) for i in group["Instances"]}
    assert by_id == {
        **{i: old for i in seeded.out_of_date_instances},
        **{i: current for i in seeded.current_instances},
    }
    described = autoscaling.describe_auto_scaling_instances()["AutoScalingInstances"]
    assert {i["InstanceId"]: _launch_of(i) for i in described} == by_id
    assert _registered(sim.client("ecs")) == set(by_id), "every group instance joined the cluster"


@pytest.mark.parametrize("kind", KINDS)
def test_detach_launches_current_replacement_registered_after_boot(sim: SimServer, kind: str) -> None:
    seeded = sim.reset(_scenario(kind)).asgs["pool"]
    autoscaling, ecs = sim.client("autoscaling"), sim.client("ecs")
    victim = seeded.out_of_date_instances[0]
    autoscaling.detach_instances(
        AutoScalingGroupName="pool", InstanceIds=[victim], ShouldDecrementDesiredCapacity=False
    )
    group = _group(autoscaling)
    ids = {i["InstanceId"] for i in group["Instances"]}
    (replacement,) = ids - set(seeded.out_of_date_instances) - set(seeded.current_instances)
    assert victim not in ids and len(ids) == 3
    current = seeded.launch_configuration if kind == "launch_configuration" else seeded.current_version
    assert _launch_of(next(i for i in group["Instances"] if i["InstanceId"] == replacement)) == current
    assert replacement not in _registered(ecs), "the ECS agent needs the boot delay"
    sim.advance(60)
    assert replacement not in _registered(ecs)
    sim.advance(40)
    assert replacement in _registered(ecs)
    assert victim in _registered(ecs), "a detached instance still runs and stays registered"

    autoscaling.attach_instances(AutoScalingGroupName="pool", InstanceIds=[victim])
    group = _group(autoscaling)
    old = seeded.old_launch_configuration if kind == "launch_configuration" else seeded.old_version
    assert _launch_of(next(i for i in group["Instances"] if i["InstanceId"] == victim)) == old
    assert group["DesiredCapacity"] == 4


def test_terminate_deregisters_container_instance_and_service_recovers(sim: SimServer) -> None:
    autoscaling, ecs = sim.client("autoscaling"), sim.client("ecs")
    arns = ecs.list_container_instances(cluster="demo")["containerInstanceArns"]
    instances = ecs.describe_container_instances(cluster="demo", containerInstances=arns)["containerInstances"]
    busy = next(i for i in instances if i["runningTasksCount"] > 0)
    autoscaling.terminate_instance_in_auto_scaling_group(
        InstanceId=busy["ec2InstanceId"], ShouldDecrementDesiredCapacity=True
    )
    assert busy["ec2InstanceId"] not in _registered(ecs)
    ecs.get_waiter("services_stable").wait(
        cluster="demo", services=["web"], WaiterConfig={"Delay": 0, "MaxAttempts": 40}
    )
    tasks = ecs.describe_tasks(cluster="demo", tasks=ecs.list_tasks(cluster="demo", serviceName="web")["taskArns"])
    assert len(tasks["tasks"]) == 2
    assert busy["containerInstanceArn"] not in {t["containerInstanceArn"] for t in tasks["tasks"]}


def test_launch_configuration_change_makes_old_instances_out_of_date(sim: SimServer) -> None:
    seeded = sim.reset(_scenario("launch_configuration")).asgs["pool"]
    autoscaling = sim.client("autoscaling")
    autoscaling.create_launch_configuration(
        LaunchConfigurationName="pool-v3", ImageId="ami-12c6146b", InstanceType="t3.medium"
    )
    autoscaling.update_auto_scaling_group(AutoScalingGroupName="pool", LaunchConfigurationName="pool-v3")
    group = _group(autoscaling)
    assert group["LaunchConfigurationName"] == "pool-v3"
    assert {i["LaunchConfigurationName"] for i in group["Instances"]} == {"pool-v1", "pool-v2"}
    autoscaling.set_desired_capacity(AutoScalingGroupName="pool", DesiredCapacity=4)
    newest = {i["InstanceId"]: i["LaunchConfigurationName"] for i in _group(autoscaling)["Instances"]}
    new_ids = set(newest) - set(seeded.out_of_date_instances) - set(seeded.current_instances)
    assert [newest[i] for i in new_ids] == ["pool-v3"]


def test_demo_asg_has_one_out_of_date_instance(sim: SimServer) -> None:
    asg = sim.seeded.asgs["demo-asg"]
    assert len(asg.out_of_date_instances) == 1 and len(asg.current_instances) == 2
    group = _group_named(sim.client("autoscaling"), "demo-asg")
    versions = {i["InstanceId"]: i["LaunchTemplate"]["Version"] for i in group["Instances"]}
    assert group["LaunchTemplate"]["Version"] == "2"
    assert versions == {asg.out_of_date_instances[0]: "1", **{i: "2" for i in asg.current_instances}}


def _group_named(autoscaling: Any, name: str) -> dict[str, Any]:
    group: dict[str, Any] = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][
        0
    ]
    return group


def test_attach_past_max_size_is_a_validation_error_like_aws(sim: SimServer) -> None:
    """AWS answers HTTP 400 ValidationError (not moto's ResourceContention 500) and attaches nothing."""
    from botocore.config import Config
    from botocore.exceptions import ClientError

    seeded = sim.reset(_scenario("launch_template")).asgs["pool"]
    autoscaling = sim.client("autoscaling")
    autoscaling.update_auto_scaling_group(AutoScalingGroupName="pool", MaxSize=3)
    victim = seeded.out_of_date_instances[0]
    autoscaling.detach_instances(
        AutoScalingGroupName="pool", InstanceIds=[victim], ShouldDecrementDesiredCapacity=False
    )
    sim.reset_counts()
    retrying = _client_with(sim, Config(retries={"mode": "standard", "max_attempts": 5}))

    with pytest.raises(ClientError) as refused:
        retrying.attach_instances(AutoScalingGroupName="pool", InstanceIds=[victim])

    response = refused.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["Error"]["Code"] == "ValidationError"
    assert response["Error"]["Message"] == (
        "AutoScalingGroup pool has min-size=0, max-size=3, and desired-size=3. "
        "To attach 1 instance, please update the AutoScalingGroup sizes appropriately."
    )
    assert sim.counts()["autoscaling:AttachInstances"] == 1, "a definite refusal is not retried by botocore"
    group = _group(autoscaling)
    assert victim not in {i["InstanceId"] for i in group["Instances"]}
    assert group["DesiredCapacity"] == 3

    autoscaling.update_auto_scaling_group(AutoScalingGroupName="pool", MaxSize=4)
    autoscaling.attach_instances(AutoScalingGroupName="pool", InstanceIds=[victim])
    assert _group(autoscaling)["DesiredCapacity"] == 4


def _client_with(sim: SimServer, config: Any) -> Any:
    import boto3

    return boto3.client(
        "autoscaling",
        region_name=sim.scenario.region,
        endpoint_url=sim.url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=config,
    )
