"""Seeding: create a scenario's resources through the simulator's own AWS API, as a client would."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ecsops.sim.scenario import AsgSpec, Scenario

AMI_ID = "ami-12c6146b"  # one of moto's built-in AMIs


@dataclass
class SeededAsg:
    name: str
    arn: str
    launch_configuration: str | None = None
    old_launch_configuration: str | None = None
    launch_template_id: str | None = None
    launch_template_name: str | None = None
    current_version: str | None = None
    old_version: str | None = None
    out_of_date_instances: list[str] = field(default_factory=list)
    current_instances: list[str] = field(default_factory=list)


@dataclass
class Seeded:
    """What a reset created: name -> ARN maps plus the ASG details tests need."""

    clusters: dict[str, str] = field(default_factory=dict)
    task_definitions: dict[str, str] = field(default_factory=dict)
    services: dict[str, str] = field(default_factory=dict)
    target_groups: dict[str, str] = field(default_factory=dict)
    asgs: dict[str, SeededAsg] = field(default_factory=dict)
    standalone_instances: dict[str, list[str]] = field(default_factory=dict)

    def summary(self) -> str:
        lines = [f"cluster {name}: {arn}" for name, arn in self.clusters.items()]
        lines += [f"task definition {arn}" for arn in self.task_definitions.values()]
        lines += [f"service {name}: {arn}" for name, arn in self.services.items()]
        lines += [f"target group {name}: {arn}" for name, arn in self.target_groups.items()]
        for asg in self.asgs.values():
            lines.append(
                f"asg {asg.name}: {len(asg.current_instances)} current, "
                f"{len(asg.out_of_date_instances)} out of date ({', '.join(asg.out_of_date_instances) or '-'})"
            )
        return "\n".join(lines)


def seed(scenario: Scenario, clients: dict[str, Any]) -> Seeded:
    """Create everything in `scenario`; `clients` maps ecs/ec2/autoscaling/elbv2 to boto3 clients."""
    ecs, ec2, elbv2 = clients["ecs"], clients["ec2"], clients["elbv2"]
    seeded = Seeded()
    for cluster in scenario.clusters:
        seeded.clusters[cluster.name] = ecs.create_cluster(clusterName=cluster.name)["cluster"]["clusterArn"]
        if cluster.container_instances:
            instance_ids = _run_instances(ec2, cluster.container_instances, cluster.instance_type)
            seeded.standalone_instances[cluster.name] = instance_ids
            for instance_id in instance_ids:
                ecs.register_container_instance(
                    cluster=cluster.name, instanceIdentityDocument=json.dumps({"instanceId": instance_id})
                )
    for task_definition in scenario.task_definitions:
        registered = ecs.register_task_definition(**task_definition.register_request())
        seeded.task_definitions[task_definition.family] = registered["taskDefinition"]["taskDefinitionArn"]
    vpc_id = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"] if s["VpcId"] == vpc_id]
    security_group = ec2.describe_security_groups(GroupNames=["default"])["SecurityGroups"][0]["GroupId"]
    for asg in scenario.asgs:
        seeded.asgs[asg.name] = _seed_asg(asg, clients, subnets)
    for service in scenario.services:
        request: dict[str, Any] = {
            "cluster": service.cluster,
            "serviceName": service.name,
            "taskDefinition": seeded.task_definitions[service.task_definition],
            "desiredCount": service.desired_count,
            "launchType": service.launch_type,
            "deploymentConfiguration": service.deployment_configuration(scenario.region, scenario.account),
        }
        if service.launch_type == "FARGATE":
            request["networkConfiguration"] = {
                "awsvpcConfiguration": {"subnets": subnets[:1], "securityGroups": [security_group]}
            }
        if service.load_balancer is not None:
            lb = service.load_balancer
            target_type = "ip" if service.launch_type == "FARGATE" else "instance"
            group = elbv2.create_target_group(
                Name=lb.target_group, Protocol="HTTP", Port=lb.container_port, VpcId=vpc_id, TargetType=target_type
            )["TargetGroups"][0]
            elbv2.modify_target_group_attributes(
                TargetGroupArn=group["TargetGroupArn"],
                Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": str(lb.deregistration_delay)}],
            )
            seeded.target_groups[lb.target_group] = group["TargetGroupArn"]
            request["loadBalancers"] = [
                {
                    "targetGroupArn": group["TargetGroupArn"],
                    "containerName": lb.container_name,
                    "containerPort": lb.container_port,
                }
            ]
        seeded.services[service.name] = ecs.create_service(**request)["service"]["serviceArn"]
    return seeded


def _run_instances(ec2: Any, count: int, instance_type: str) -> list[str]:
    reservation = ec2.run_instances(ImageId=AMI_ID, MinCount=count, MaxCount=count, InstanceType=instance_type)
    return [instance["InstanceId"] for instance in reservation["Instances"]]


def _seed_asg(asg: AsgSpec, clients: dict[str, Any], subnets: list[str]) -> SeededAsg:
    autoscaling, ec2 = clients["autoscaling"], clients["ec2"]
    tags = []
    if asg.cluster is not None:
        user_data = f"#!/bin/bash\necho ECS_CLUSTER={asg.cluster} >> /etc/ecs/ecs.config\n"
        tags.append({"Key": "ecsops-sim:cluster", "Value": asg.cluster, "PropagateAtLaunch": False})
    else:
        user_data = "#!/bin/bash\n"
    old_size = asg.out_of_date
    common: dict[str, Any] = {
        "AutoScalingGroupName": asg.name,
        "MinSize": min(asg.min_size, old_size),
        "MaxSize": asg.effective_max_size,
        "DesiredCapacity": old_size,
        "VPCZoneIdentifier": ",".join(subnets[:2]),
        "Tags": tags,
    }
    seeded = SeededAsg(name=asg.name, arn="")
    current: dict[str, Any]
    if asg.launch == "launch_configuration":
        old_name, new_name = f"{asg.name}-v1", f"{asg.name}-v2"
        for name in (old_name, new_name):
            autoscaling.create_launch_configuration(
                LaunchConfigurationName=name, ImageId=AMI_ID, InstanceType=asg.instance_type, UserData=user_data
            )
        autoscaling.create_auto_scaling_group(LaunchConfigurationName=old_name, **common)
        current = {"LaunchConfigurationName": new_name}
        seeded.launch_configuration, seeded.old_launch_configuration = new_name, old_name
    else:
        # No UserData: moto 5.2.5 fails on a template version's user data; the cluster tag carries membership.
        template_data = {"ImageId": AMI_ID, "InstanceType": asg.instance_type}
        template = ec2.create_launch_template(LaunchTemplateName=f"{asg.name}-lt", LaunchTemplateData=template_data)
        template_id = template["LaunchTemplate"]["LaunchTemplateId"]
        ec2.create_launch_template_version(
            LaunchTemplateId=template_id, LaunchTemplateData=template_data, VersionDescription="current"
        )
        seeded.launch_template_id, seeded.launch_template_name = template_id, f"{asg.name}-lt"
        seeded.old_version, seeded.current_version = "1", "2"
        if asg.launch == "launch_template":
            autoscaling.create_auto_scaling_group(
                LaunchTemplate={"LaunchTemplateId": template_id, "Version": "1"}, **common
            )
            current = {"LaunchTemplate": {"LaunchTemplateId": template_id, "Version": "2"}}
        else:
            autoscaling.create_auto_scaling_group(MixedInstancesPolicy=_mixed(template_id, "1", asg), **common)
            current = {"MixedInstancesPolicy": _mixed(template_id, "2", asg)}
    autoscaling.update_auto_scaling_group(
        AutoScalingGroupName=asg.name, MinSize=asg.min_size, DesiredCapacity=asg.desired_capacity, **current
    )
    group = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[asg.name])["AutoScalingGroups"][0]
    seeded.arn = group["AutoScalingGroupARN"]
    instance_ids = [i["InstanceId"] for i in group["Instances"]]
    seeded.out_of_date_instances = instance_ids[:old_size]
    seeded.current_instances = instance_ids[old_size:]
    return seeded


def _mixed(template_id: str, version: str, asg: AsgSpec) -> dict[str, Any]:
    return {
        "LaunchTemplate": {
            "LaunchTemplateSpecification": {"LaunchTemplateId": template_id, "Version": version},
            "Overrides": [{"InstanceType": asg.instance_type}, {"InstanceType": "t3.large"}],
        },
        "InstancesDistribution": {"OnDemandPercentageAboveBaseCapacity": 100},
    }
