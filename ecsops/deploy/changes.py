"""Send the deploy's non-idempotent ECS changes as durable steps: throttling retried, unknown outcomes reconciled."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ecsops.aws.ecs import EcsGateway, revision_of
from ecsops.aws.errors import is_throttling, is_transient
from machines.context import RunContext
from machines.durations import format_duration
from machines.steps import NOT_HAPPENED, Reconciled

RUN_ID_TAG = "ecsops:run-id"
RECONCILE_REVISIONS = 10  # newest revisions of the family searched for our run-id tag
MUTATION_ATTEMPTS = 8
MUTATION_FIRST_BACKOFF = 1.0
MUTATION_MAX_BACKOFF = 20.0


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


def durable_change(
    ctx: RunContext,
    name: str,
    request: dict[str, Any],
    call: Callable[[dict[str, Any]], dict[str, Any]],
    find: Callable[[dict[str, Any]], Reconciled],
) -> Any:
    """ctx.step for a call AWS gives no idempotency token: throttling is retried; after an unknown
    outcome (5xx, dropped connection) AWS is asked whether the call happened before it is sent again."""

    def call_once_in_effect(request: dict[str, Any]) -> Any:
        delay = MUTATION_FIRST_BACKOFF
        for attempt in range(1, MUTATION_ATTEMPTS + 1):
            try:
                return call(request)
            except Exception as exc:
                if attempt == MUTATION_ATTEMPTS or not is_transient(exc):
                    raise
                ctx.progress(f"{name}: {type(exc).__name__}: {exc}; trying again in {format_duration(delay)}")
                ctx.sleep(delay)
                delay = min(delay * 2, MUTATION_MAX_BACKOFF)
                if not is_throttling(exc):
                    finding = find(request)
                    if finding.happened:
                        return finding.result
        raise AssertionError("unreachable")

    return ctx.step(name, request, call_once_in_effect, reconcile=lambda step: find(step.request))


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

    def register_task_definition(self, ctx: RunContext, request: dict[str, Any]) -> Any:
        """Step `register_task_definition`: {"taskDefinitionArn", "revision"}; raises StepFailed if refused."""
        def find(request: dict[str, Any]) -> Reconciled:
            return self._find_registered(request, ctx.run_id)

        return durable_change(ctx, "register_task_definition", request, self._register, find)

    def update_service(self, ctx: RunContext, name: str, request: dict[str, Any], known: set[str]) -> Any:
        """Step `name`: {"deployment_id", "task_definition"}; `known` lists the deployments seen before the call."""
        return durable_change(ctx, name, request, self._update, lambda request: self._find_deployment(request, known))

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
