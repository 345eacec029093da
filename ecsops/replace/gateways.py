"""The gateways replace-instances uses, built from --profile/--region (boto3 is imported only when called)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from ecsops.aws.autoscaling import AutoScalingReader
from ecsops.aws.autoscaling_actions import AsgActions
from ecsops.aws.clients import make_client
from ecsops.aws.ecs import EcsGateway


@dataclass(frozen=True)
class ReplaceGateways:
    reader: AutoScalingReader
    actions: AsgActions
    ecs: EcsGateway


@lru_cache(maxsize=4)
def make_gateways(profile: str | None, region: str | None) -> ReplaceGateways:
    """Built once per process (the up-front check and the run share them), on the process's one session.

    DetachInstances and AttachInstances go through a client that never retries: repeated after a 5xx or a
    dropped connection that had taken effect, they would be refused and look like a failure. AsgActions
    retries their throttling itself; any other unknown outcome is reconciled by the step.
    Raises botocore's ProfileNotFound for an unknown --profile. AWS_ENDPOINT_URL is honoured by boto3.
    """
    autoscaling = make_client("autoscaling", profile, region)
    ec2 = make_client("ec2", profile, region)
    ecs = make_client("ecs", profile, region)
    once = make_client("autoscaling", profile, region, retry=False)
    return ReplaceGateways(
        AutoScalingReader(autoscaling, ec2),
        AsgActions(autoscaling, ec2, mutations=once),
        EcsGateway(lambda: ecs),
    )
