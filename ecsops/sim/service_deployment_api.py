"""The five ECS service-deployment operations moto lacks, answered from the model in ECS's JSON protocol.

Documented: the requests and answers (botocore's shapes), at most 20 ARNs per Describe call, the error shapes each
operation may raise. Inferred: which error answers which refusal (ConflictException for stopping a finished
deployment, InvalidParameterException for continuing without an awaiting hook), newest-first listing, and
`failures` reason MISSING for unknown ARNs; see docs/service-deployments.md."""

from __future__ import annotations

import json
from typing import Any

from ecsops.sim.service_deployments import ServiceDeploymentError
from ecsops.sim.strategies import StrategyRunner

OPERATIONS = frozenset(
    {
        "ListServiceDeployments",
        "DescribeServiceDeployments",
        "DescribeServiceRevisions",
        "StopServiceDeployment",
        "ContinueServiceDeployment",
    }
)
MAX_DESCRIBE = 20  # documented: "You can specify a maximum of 20 ARNs"
MAX_LIST = 100  # inferred
SLACK = 0.001


def handle(runner: StrategyRunner, operation: str, body: bytes) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON document) for one request; errors come back as ECS's `__type` documents."""
    try:
        params = json.loads(body or b"{}")
        if not isinstance(params, dict):
            raise ServiceDeploymentError("InvalidParameterException", "The request body must be a JSON object.")
        return 200, _OPERATIONS[operation](runner, params)
    except ServiceDeploymentError as error:
        return 400, {"__type": error.code, "message": error.message}
    except ValueError as error:
        return 400, {"__type": "InvalidParameterException", "message": str(error)}


def _name(value: str) -> str:
    return value.rsplit("/", 1)[-1]


def _list(runner: StrategyRunner, params: dict[str, Any]) -> dict[str, Any]:
    cluster = _name(str(params.get("cluster") or "default"))
    service = _name(str(params.get("service") or ""))
    backend = runner.ecs.backend()
    if cluster not in backend.clusters:
        raise ServiceDeploymentError("ClusterNotFoundException", "Cluster not found.")
    if f"{cluster}:{service}" not in backend.services:
        raise ServiceDeploymentError("ServiceNotFoundException", "Service not found.")
    statuses = set(params.get("status") or [])
    created = params.get("createdAt") or {}
    limit = int(params.get("maxResults") or MAX_LIST)
    if not 1 <= limit <= MAX_LIST:
        raise ServiceDeploymentError("InvalidParameterException", f"maxResults must be between 1 and {MAX_LIST}.")
    found = [
        d
        for d in reversed(runner.book.of_service(f"{cluster}:{service}"))  # inferred: newest first
        if (not statuses or d.status in statuses)
        # a timestamp the client read back from us may come back rounded: allow a millisecond
        and ("before" not in created or d.created_at <= float(created["before"]) + SLACK)
        and ("after" not in created or d.created_at >= float(created["after"]) - SLACK)
    ]
    start = int(params.get("nextToken") or 0)
    page = found[start : start + limit]
    answer: dict[str, Any] = {"serviceDeployments": [d.brief() for d in page]}
    if start + limit < len(found):
        answer["nextToken"] = str(start + limit)
    return answer


def _arns(params: dict[str, Any], member: str) -> list[str]:
    arns = [str(a) for a in params.get(member) or []]
    if not arns or len(arns) > MAX_DESCRIBE:
        raise ServiceDeploymentError("InvalidParameterException", f"{member} must hold 1 to {MAX_DESCRIBE} ARNs.")
    return arns


def _describe_deployments(runner: StrategyRunner, params: dict[str, Any]) -> dict[str, Any]:
    found, failures = [], []
    for arn in _arns(params, "serviceDeploymentArns"):
        record = runner.book.deployments.get(arn)
        if record is None:
            failures.append({"arn": arn, "reason": "MISSING"})  # inferred reason, as DescribeServices words it
        else:
            found.append(record.render())
    return {"serviceDeployments": found, "failures": failures}


def _describe_revisions(runner: StrategyRunner, params: dict[str, Any]) -> dict[str, Any]:
    found, failures = [], []
    for arn in _arns(params, "serviceRevisionArns"):
        revision = runner.book.revisions.get(arn)
        if revision is None:
            failures.append({"arn": arn, "reason": "MISSING"})
        else:
            found.append(revision.render())
    return {"serviceRevisions": found, "failures": failures}


def _stop(runner: StrategyRunner, params: dict[str, Any]) -> dict[str, Any]:
    arn = str(params.get("serviceDeploymentArn") or "")
    stop_type = str(params.get("stopType") or "ROLLBACK")  # inferred default: the only type the guide describes
    if stop_type not in ("ABORT", "ROLLBACK"):
        raise ServiceDeploymentError("InvalidParameterException", f"Invalid stopType {stop_type}.")
    runner.stop(arn, stop_type)
    return {"serviceDeploymentArn": arn}


def _continue(runner: StrategyRunner, params: dict[str, Any]) -> dict[str, Any]:
    arn = str(params.get("serviceDeploymentArn") or "")
    action = str(params.get("action") or "CONTINUE")  # inferred default
    if action not in ("CONTINUE", "ROLLBACK"):
        raise ServiceDeploymentError("InvalidParameterException", f"Invalid action {action}.")
    runner.resume(arn, str(params.get("hookId") or ""), action)
    return {"serviceDeploymentArn": arn}


_OPERATIONS = {
    "ListServiceDeployments": _list,
    "DescribeServiceDeployments": _describe_deployments,
    "DescribeServiceRevisions": _describe_revisions,
    "StopServiceDeployment": _stop,
    "ContinueServiceDeployment": _continue,
}
