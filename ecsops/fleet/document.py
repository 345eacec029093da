"""What a deploy-fleet run adds to its run document: a `services` array; imports nothing heavy."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ecsops.aws.arns import EcsServiceIdentity
from store.models import ItemRecord, RunRecord


def document_fields(run: RunRecord, items: Sequence[ItemRecord]) -> dict[str, Any]:
    recorded = {str(s["params"]["cluster"]) + "/" + str(s["params"]["service"]): s
                for s in run.params.get("services", [])}
    by_id = {item.item_id: item for item in items}
    names = list(recorded) + [item_id for item_id in by_id if item_id not in recorded]
    return {
        "file": run.params.get("file"),
        "max_parallel": run.params.get("max_parallel"),
        "on_failure": run.params.get("on_failure"),
        "poll_rounds": run.facts.get("poll_rounds", 0),
        "services": [_service(name, recorded.get(name), by_id.get(name)) for name in names],
    }


def _service(name: str, recorded: dict[str, Any] | None, item: ItemRecord | None) -> dict[str, Any]:
    params = (recorded or {}).get("params", {})
    data = item.data if item is not None else {}
    cluster, _, service = name.partition("/")
    return {
        "name": name,
        "target": _target(params) if params else None,
        "line": (recorded or {}).get("line"),
        "state": item.state if item is not None else "pending",
        "outcome": item.state if item is not None and item.state in _OUTCOMES else None,
        "reason": data.get("reason"),
        "previous_task_definition": data.get("previous_task_definition"),
        "new_task_definition": data.get("new_task_definition"),
        "registered_revision": data.get("registered_revision"),
        "previous_desired_count": data.get("previous_desired_count"),
        "desired_count": params.get("desired_count"),
        "deployment_id": data.get("deployment_id"),
        "rollback_deployment_id": data.get("rollback_deployment_id") or data.get("ecs_rollback_deployment_id"),
        "started_at": data.get("started_at"),
        "ended_at": data.get("ended_at"),
        "task_failures": {
            deployment_id: {"failed_tasks": failures.get("failed_tasks", 0), "reasons": failures.get("reasons", [])}
            for deployment_id, failures in (data.get("task_failures") or {}).items()
        },
        "cluster": cluster,
        "service": service,
    }


_OUTCOMES = frozenset({"succeeded", "rolled_back", "rollback_failed", "superseded", "failed", "skipped"})


def _target(params: dict[str, Any]) -> str:
    """The service's lock key, as deploy's params make it (ecsops.deploy.params.DeployParams.target)."""
    if params.get("account") is None or params.get("region") is None:
        return f"ecs:{params['cluster']}/{params['service']}"
    return EcsServiceIdentity(params["account"], params["region"], params["cluster"], params["service"]).key


def touched_targets(run: RunRecord) -> list[str]:
    """The lock keys of the fleet's services (`runs --target` matches a fleet run by any of them)."""
    return [_target(service["params"]) for service in run.params.get("services", []) if service.get("params")]
