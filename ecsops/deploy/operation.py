"""The deploy operation: its machine bound to handlers over ECS/ELBv2 gateways, and its run-document fields."""

from __future__ import annotations

from typing import Any

from machines.deploy import DEPLOY
from machines.operation import Operation, OperationSpec
from store.models import ItemRecord, RunRecord


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


def document_fields(run: RunRecord, items: list[ItemRecord]) -> dict[str, Any]:
    data = run.facts
    return {
        "previous_task_definition": data.get("previous_task_definition"),
        "new_task_definition": data.get("new_task_definition"),
        "deployment_id": data.get("deployment_id"),
        "previous_desired_count": data.get("previous_desired_count"),
        "desired_count": run.params.get("desired_count"),
        "registered_revision": data.get("registered_revision"),
        "rollback_deployment_id": data.get("rollback_deployment_id") or data.get("ecs_rollback_deployment_id"),
        "snapshot_read_at": data.get("snapshot_read_at"),
        # Why tasks failed, per deployment: {deployment id: {"failed_tasks", "reasons": [{text, stop_code, count}]}}
        "task_failures": {
            deployment_id: {"failed_tasks": failures.get("failed_tasks", 0), "reasons": failures.get("reasons", [])}
            for deployment_id, failures in (data.get("task_failures") or {}).items()
        },
    }


SPEC = OperationSpec(
    name="deploy",
    definition=DEPLOY,
    build=build,
    document_fields=document_fields,
    describe="edit the service's task definition, update the service, wait for its deployment; roll back on failure",
)
