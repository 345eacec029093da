"""The gateways replace-instances uses, built from --profile/--region (boto3 is imported only when called)."""

from __future__ import annotations

from dataclasses import dataclass

from ecsops.aws_asg_actions import AsgActions
from ecsops.aws_autoscaling import AutoScalingReader
from ecsops.aws_clients import make_client
from ecsops.aws_ecs_instances import EcsInstancesGateway


@dataclass(frozen=True)
class ReplaceGateways:
    reader: AutoScalingReader
    actions: AsgActions
    ecs: EcsInstancesGateway


def make_gateways(profile: str | None, region: str | None) -> ReplaceGateways:
    """Raises botocore's ProfileNotFound for an unknown --profile."""
    autoscaling = make_client("autoscaling", profile, region)
    ec2 = make_client("ec2", profile, region)
    return ReplaceGateways(
        AutoScalingReader(autoscaling, ec2),
        AsgActions(autoscaling, ec2),
        EcsInstancesGateway(make_client("ecs", profile, region)),
    )
