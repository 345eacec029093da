"""What a replace-instances run adds to its run document; imports nothing heavy, so `ecsops status` starts fast."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from store.models import ItemRecord, RunRecord

INSTANCE_FIELDS = (
    "container_instance_arn",
    "reason",
    "replacement",
    "replacement_container_instance_arn",
    "failure",
    "failed_in",
    "reattach_error",
)


def document_fields(run: RunRecord, items: Sequence[ItemRecord]) -> dict[str, Any]:
    instances = []
    for item in items:
        instance: dict[str, Any] = {"instance_id": item.item_id, "state": item.state}
        instance.update({key: item.data.get(key) for key in INSTANCE_FIELDS})
        instances.append(instance)
    return {
        "asg": run.params.get("asg"),
        "cluster": run.params.get("cluster"),
        "instances": instances,
        "not_in_cluster": run.facts.get("not_in_cluster", []),
        "skipped_instances": run.facts.get("skipped", []),
    }
