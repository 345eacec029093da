"""The items of a run as the ui shows them: a replacement's instances, a fleet's services, and one item's page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ecsops.cli.ui.display import badge_family, duration, first_line, item_path, short_name


@dataclass(frozen=True)
class InstanceRow:
    instance_id: str
    href: str
    state: str
    family: str
    replacement: str
    notes: list[tuple[str, str]]  # (label, text): why it was out of date, what failed


@dataclass(frozen=True)
class ServiceRow:
    name: str
    href: str
    state: str
    family: str
    before: str
    after: str
    desired: str
    took: str
    reason_line: str
    reason: str


# An instance's notes, in the order the text `status` prints them (ecsops/cli/render.py).
_INSTANCE_NOTES = (("reason", "out of date"), ("failure", "failed"), ("failed_in", "failed in"),
                   ("reattach_error", "putting back failed"))


def instances(document: dict[str, Any]) -> list[InstanceRow]:
    run_id = str(document["run_id"])
    rows = []
    for instance in document.get("instances") or []:
        instance_id = str(instance.get("instance_id") or "")
        state = str(instance.get("state") or "")
        rows.append(InstanceRow(
            instance_id=instance_id,
            href=item_path(run_id, instance_id),
            state=state,
            family=badge_family(state),
            replacement=str(instance.get("replacement") or ""),
            notes=[(label, str(instance[key])) for key, label in _INSTANCE_NOTES if instance.get(key)],
        ))
    return rows


def services(document: dict[str, Any]) -> list[ServiceRow]:
    run_id = str(document["run_id"])
    rows = []
    for service in document.get("services") or []:
        name = str(service.get("name") or "")
        state = str(service.get("state") or "")
        desired = service.get("desired_count")
        previous = service.get("previous_desired_count")
        reason = str(service.get("reason") or "")
        rows.append(ServiceRow(
            name=name,
            href=item_path(run_id, name),
            state=state,
            family=badge_family(state),
            before=short_name(service.get("previous_task_definition")),
            after=short_name(service.get("new_task_definition")) if service.get("new_task_definition") else "",
            desired=_desired(previous, desired),
            took=duration(service.get("started_at"), service.get("ended_at")) if service.get("ended_at") else "",
            reason_line=first_line(reason),
            reason=reason,
        ))
    return rows


def _desired(previous: Any, desired: Any) -> str:
    if desired is None:
        return "" if previous is None else str(previous)
    return f"{'?' if previous is None else previous} \u2192 {desired}"


def item_entry(document: dict[str, Any], item_id: str) -> dict[str, Any] | None:
    """The run document's own entry for the item: a fleet's service (by name) or a replaced instance (by id)."""
    for service in document.get("services") or []:
        if service.get("name") == item_id:
            return dict(service)
    for instance in document.get("instances") or []:
        if instance.get("instance_id") == item_id:
            return dict(instance)
    return None


def facts(data: dict[str, Any]) -> list[tuple[str, Any, bool]]:
    """(key, value, whether the value is a structure shown as JSON) of what the item recorded, by key."""
    return [(str(key), value, isinstance(value, dict | list)) for key, value in sorted(data.items())]
