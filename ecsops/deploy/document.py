"""What a deploy run adds to its run document; imports nothing heavy, so `ecsops status` starts fast."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from store.models import ItemRecord, RunRecord


def document_fields(run: RunRecord, items: Sequence[ItemRecord]) -> dict[str, Any]:
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
        # BLUE_GREEN, LINEAR, CANARY: ECS's service deployment this run follows (None on a rolling service).
        "strategy": data.get("strategy") or "ROLLING",
        "service_deployment_arn": data.get("service_deployment_arn"),
        # Why tasks failed, per deployment: {deployment id: {"failed_tasks", "reasons": [{text, stop_code, count}]}}
        "task_failures": {
            deployment_id: {"failed_tasks": failures.get("failed_tasks", 0), "reasons": failures.get("reasons", [])}
            for deployment_id, failures in (data.get("task_failures") or {}).items()
        },
    }
