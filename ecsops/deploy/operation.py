"""The deploy operation: its machine bound to handlers over ECS/ELBv2 gateways, and its run-document fields."""

from __future__ import annotations

from typing import Any

from ecsops.deploy.document import document_fields
from machines.deploy import DEPLOY
from machines.operation import Operation, OperationSpec


def build(params: dict[str, Any]) -> Operation:
    """Rebuild the operation from a run's recorded params; no AWS call is made until a handler runs."""
    from ecsops.aws.clients import make_client
    from ecsops.aws.ecs import EcsGateway
    from ecsops.aws.elbv2 import Elbv2Gateway
    from ecsops.deploy.facts import DeployFacts
    from ecsops.deploy.handlers import DeployHandlers, RetryNotices
    from ecsops.deploy.params import DeployParams

    deploy = DeployParams.model_validate(params)
    notices = RetryNotices()
    ecs = EcsGateway(
        lambda: make_client("ecs", deploy.profile, deploy.region, on_retry=notices),
        lambda: make_client("ecs", deploy.profile, deploy.region, retry=False),
    )
    # Polls make one attempt each: the wait loop tries again on its own schedule, through the run's clock,
    # and prints each failed poll instead of botocore backing off silently for half a minute.
    poll_ecs = EcsGateway(lambda: make_client("ecs", deploy.profile, deploy.region, attempts=1))
    elbv2 = Elbv2Gateway(lambda: make_client("elbv2", deploy.profile, deploy.region, on_retry=notices))
    handlers = DeployHandlers(deploy, ecs, elbv2, poll_ecs, notices)
    return Operation(DEPLOY, handlers.mapping(), facts=DeployFacts)


SPEC = OperationSpec(
    name="deploy",
    definition=DEPLOY,
    build=build,
    document_fields=document_fields,
    describe="edit the service's task definition, update the service, wait for its deployment; roll back on failure",
)
