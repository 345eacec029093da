"""The deploy's non-idempotent ECS changes as durable steps, each with the read that finds it already done."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ecsops.aws.ecs import EcsGateway, revision_of
from machines.context import RunContext
from machines.steps import NOT_HAPPENED, Reconciled

RUN_ID_TAG = "ecsops:run-id"
RECONCILE_REVISIONS = 10  # newest revisions of the family searched for our run-id tag


def primary_deployment(service: Mapping[str, Any]) -> Mapping[str, Any]:
    """The service's PRIMARY deployment (else its first, else empty) from a DescribeServices answer."""
    deployments = list(service.get("deployments", []))
    return next((d for d in deployments if d.get("status") == "PRIMARY"), deployments[0] if deployments else {})


def tagged_with_run_id(register_request: Mapping[str, Any], run_id: str) -> dict[str, Any]:
    """The RegisterTaskDefinition request carrying this run's id tag, the only one of its kind."""
    request = dict(register_request)
    others = [tag for tag in register_request.get("tags", []) if tag.get("key") != RUN_ID_TAG]
    request["tags"] = [*others, {"key": RUN_ID_TAG, "value": run_id}]
    return request


class DeployChanges:
    """RegisterTaskDefinition and UpdateService for one service, each with the check that finds it already done."""

    def __init__(self, ecs: EcsGateway, cluster: str, service: str) -> None:
        self.ecs = ecs
        self.cluster = cluster
        self.service = service

    def update_request(self, task_definition: str, desired_count: int | None) -> dict[str, Any]:
        return {
            "cluster": self.cluster,
            "service": self.service,
            "taskDefinition": task_definition,
            "desiredCount": desired_count,
            "forceNewDeployment": True,
        }

    def register_task_definition(self, ctx: RunContext[Any], request: dict[str, Any]) -> Any:
        """Step `register_task_definition`: {"taskDefinitionArn", "revision"}; raises StepFailed if refused."""
        def find(request: dict[str, Any]) -> Reconciled:
            return self._find_registered(request, ctx.run_id)

        return ctx.step("register_task_definition", request, self._register, reconcile=lambda step: find(step.request))

    def update_service(self, ctx: RunContext[Any], name: str, request: dict[str, Any], known: set[str]) -> Any:
        """Step `name`: {"deployment_id", "task_definition"}; `known` lists the deployments seen before the call."""
        return ctx.step(
            name, request, self._update, reconcile=lambda step: self._find_deployment(step.request, known)
        )

    def _register(self, request: dict[str, Any]) -> dict[str, Any]:
        registered = self.ecs.register_task_definition(request)
        return {"taskDefinitionArn": registered["taskDefinitionArn"], "revision": registered["revision"]}

    def _find_registered(self, request: dict[str, Any], run_id: str) -> Reconciled:
        """Did RegisterTaskDefinition happen? Look for a recent revision tagged with our run id."""
        wanted = {"key": RUN_ID_TAG, "value": run_id}
        for arn in self.ecs.list_task_definitions(request["family"], newest=RECONCILE_REVISIONS):
            _, tags = self.ecs.describe_task_definition(arn)
            if any(tag.get("key") == wanted["key"] and tag.get("value") == wanted["value"] for tag in tags):
                return Reconciled(happened=True, result={"taskDefinitionArn": arn, "revision": revision_of(arn)})
        return NOT_HAPPENED

    def _update(self, request: dict[str, Any]) -> dict[str, Any]:
        service = self.ecs.update_service(
            request["cluster"],
            request["service"],
            request["taskDefinition"],
            request["desiredCount"],
            request["forceNewDeployment"],
        )
        primary = primary_deployment(service)
        return {"deployment_id": primary.get("id"), "task_definition": primary.get("taskDefinition")}

    def _find_deployment(self, request: dict[str, Any], known: set[str]) -> Reconciled:
        """Did UpdateService happen? A deployment on the requested task definition that was not listed
        before the call is ours (clocks of this host and of AWS are not compared)."""
        service = self.ecs.describe_service(request["cluster"], request["service"])
        candidates = [
            d
            for d in service.get("deployments", [])
            if d.get("taskDefinition") == request["taskDefinition"] and d.get("id") not in known
        ]
        if not candidates:
            return NOT_HAPPENED
        ours = max(candidates, key=lambda d: (d.get("status") == "PRIMARY", str(d.get("createdAt"))))
        result = {"deployment_id": ours["id"], "task_definition": ours["taskDefinition"]}
        return Reconciled(happened=True, result=result)
