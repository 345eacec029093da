"""What a deploy run adds to its run document; imports nothing heavy, so `ecsops status` starts fast."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from store.reader import ItemLike, RunLike


def document_fields(run: RunLike, items: Sequence[ItemLike]) -> dict[str, Any]:
    data = run.facts
    return {
        "previous_task_definition": data.get("previous_task_definition"),
        "new_task_definition": data.get("new_task_definition"),
        "deployment_id": data.get("deployment_id"),
        "previous_desired_count": data.get("previous_desired_count"),
        "desired_count": run.params.get("desired_count"),
        "registered_revision": data.get("registered_revision"),
        "rollback_deployment_id": data.get("rollback_deployment_id") or data.get("ecs_rollback_deployment_id"),
    }
