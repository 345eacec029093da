"""The gateways replace-instances uses, built from --profile/--region (boto3 is imported only when called)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from ecsops.aws.autoscaling import AutoScalingReader
from ecsops.aws.autoscaling_actions import AsgActions
from ecsops.aws.clients import RETRY_MAX_ATTEMPTS
from ecsops.aws.ecs_instances import EcsInstancesGateway


@dataclass(frozen=True)
class ReplaceGateways:
    reader: AutoScalingReader
    actions: AsgActions
    ecs: EcsInstancesGateway


@lru_cache(maxsize=4)
def make_gateways(profile: str | None, region: str | None) -> ReplaceGateways:
    """One session for every client, built once per process (the up-front check and the run share it).

    DetachInstances and AttachInstances go through a client that never retries: repeated after a 5xx or a
    dropped connection that had taken effect, they would be refused and look like a failure. AsgActions
    retries their throttling itself; any other unknown outcome is reconciled by the step.
    Raises botocore's ProfileNotFound for an unknown --profile. AWS_ENDPOINT_URL is honoured by boto3.
    """
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(profile_name=profile or None, region_name=region or None)
    retrying = Config(retries={"mode": "standard", "max_attempts": RETRY_MAX_ATTEMPTS})
    once = Config(retries={"mode": "standard", "total_max_attempts": 1})
    autoscaling = session.client("autoscaling", config=retrying)
    ec2 = session.client("ec2", config=retrying)
    return ReplaceGateways(
        AutoScalingReader(autoscaling, ec2),
        AsgActions(autoscaling, ec2, mutations=session.client("autoscaling", config=once)),
        EcsInstancesGateway(session.client("ecs", config=retrying)),
    )
