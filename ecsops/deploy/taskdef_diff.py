"""Say what a deploy changes between two task-definition requests, as text lines or as JSON."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

# Container fields that the diff reports one by one; any other differing field is listed by name.
_CONTAINER_FIELDS = {"name", "image", "environment", "secrets", "logConfiguration"}
_LOG_CONFIGURATION_FIELDS = {"logDriver", "options", "secretOptions"}
_TASK_FIELDS = {"containerDefinitions", "taskRoleArn"}

# (JSON key, text label) of the per-key facets of a container, in display order.
_KEYED_FACETS = (
    ("environment", "env"),
    ("secrets", "secret"),
    ("log_options", "log option"),
    ("log_secret_options", "log secret"),
)


def changes_as_json(
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    desired_before: int | None,
    desired_after: int | None,
) -> dict[str, Any]:
    """The changes from `before` to `after` (task definitions or register requests) as a JSON document.

    Shape: `{"changed": bool, "containers": {name: {...}}, "task_role_arn": {"before", "after"} | null,
    "desired_count": {"before", "after"} | null, "other_fields": [name, ...]}`. A container entry has
    `status` (`added` | `removed` | `changed`) and only the facets that changed: `image` and `log_driver`
    as `{"before", "after"}`; `environment`, `secrets` (valueFrom), `log_options` and
    `log_secret_options` as `{key: {"before", "after"}}` where null means absent; `other_fields`.
    `desired_after` None means the desired count is left as it is. Compare requests before anything
    run-specific (a run-id tag) is added, or it shows up in `other_fields`.
    """
    containers = _diff_containers(
        before.get("containerDefinitions") or [], after.get("containerDefinitions") or []
    )
    task_role = _change(before.get("taskRoleArn"), after.get("taskRoleArn"))
    desired_count = None
    if desired_after is not None and desired_after != desired_before:
        desired_count = {"before": desired_before, "after": desired_after}
    other_fields = _differing_fields(before, after, ignore=_TASK_FIELDS)
    return {
        "changed": bool(containers or task_role or desired_count or other_fields),
        "containers": containers,
        "task_role_arn": task_role,
        "desired_count": desired_count,
        "other_fields": other_fields,
    }


def describe_changes(
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    desired_before: int | None,
    desired_after: int | None,
) -> list[str]:
    """Human-readable lines, one change each, grouped per container; empty when nothing changes.

    ```
    container app:
      image: nginx:1.25 -> nginx:1.26
      env FOO: (unset) -> bar
      env OLD: removed
    task role: arn:aws:iam::123456789012:role/a -> (none)
    desired count: 2 -> 4
    ```
    """
    changes = changes_as_json(before, after, desired_before, desired_after)
    lines: list[str] = []
    for name, container in changes["containers"].items():
        if container["status"] != "changed":
            lines.append(f"container {name}: {container['status']}")
            continue
        lines.append(f"container {name}:")
        if "image" in container:
            lines.append(f"  image: {_arrow(container['image'], '(unset)')}")
        for facet, label in _KEYED_FACETS[:2]:
            lines.extend(_keyed_lines(label, container.get(facet, {})))
        if "log_driver" in container:
            lines.append(f"  log driver: {_arrow(container['log_driver'], '(none)')}")
        for facet, label in _KEYED_FACETS[2:]:
            lines.extend(_keyed_lines(label, container.get(facet, {})))
        if container.get("other_fields"):
            lines.append(f"  other settings changed: {', '.join(container['other_fields'])}")
    if changes["task_role_arn"]:
        lines.append(f"task role: {_arrow(changes['task_role_arn'], '(none)')}")
    if changes["desired_count"]:
        lines.append(f"desired count: {_arrow(changes['desired_count'], '(unset)')}")
    if changes["other_fields"]:
        lines.append(f"other task definition fields changed: {', '.join(changes['other_fields'])}")
    return lines


def _diff_containers(
    before: Iterable[Mapping[str, Any]], after: Iterable[Mapping[str, Any]]
) -> dict[str, dict[str, Any]]:
    before_by_name = {c["name"]: c for c in before}
    after_by_name = {c["name"]: c for c in after}
    diffs: dict[str, dict[str, Any]] = {}
    for name in _union(before_by_name, after_by_name):
        if name not in after_by_name:
            diffs[name] = {"status": "removed"}
        elif name not in before_by_name:
            diffs[name] = {"status": "added"}
        else:
            container = _diff_container(before_by_name[name], after_by_name[name])
            if container:
                diffs[name] = {"status": "changed", **container}
    return diffs


def _diff_container(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    diff: dict[str, Any] = {}
    image = _change(before.get("image"), after.get("image"))
    if image:
        diff["image"] = image
    log_before = before.get("logConfiguration") or {}
    log_after = after.get("logConfiguration") or {}
    keyed = {
        "environment": (_named(before.get("environment"), "value"), _named(after.get("environment"), "value")),
        "secrets": (_named(before.get("secrets"), "valueFrom"), _named(after.get("secrets"), "valueFrom")),
        "log_options": (log_before.get("options") or {}, log_after.get("options") or {}),
        "log_secret_options": (
            _named(log_before.get("secretOptions"), "valueFrom"),
            _named(log_after.get("secretOptions"), "valueFrom"),
        ),
    }
    log_driver = _change(log_before.get("logDriver"), log_after.get("logDriver"))
    if log_driver:
        diff["log_driver"] = log_driver
    for facet, (facet_before, facet_after) in keyed.items():
        entries = _diff_mapping(facet_before, facet_after)
        if entries:
            diff[facet] = entries
    other_fields = _differing_fields(before, after, ignore=_CONTAINER_FIELDS)
    if _differing_fields(log_before, log_after, ignore=_LOG_CONFIGURATION_FIELDS):
        other_fields = sorted([*other_fields, "logConfiguration"])
    if other_fields:
        diff["other_fields"] = other_fields
    return diff


def _named(entries: Iterable[Mapping[str, Any]] | None, value_key: str) -> dict[str, Any]:
    """`[{"name": k, value_key: v}, ...]` as `{k: v}`, in list order."""
    return {entry["name"]: entry.get(value_key) for entry in entries or []}


def _diff_mapping(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        key: {"before": before.get(key), "after": after.get(key)}
        for key in _union(before, after)
        if before.get(key) != after.get(key)
    }


def _differing_fields(before: Mapping[str, Any], after: Mapping[str, Any], ignore: set[str]) -> list[str]:
    return sorted(k for k in set(before) | set(after) if k not in ignore and before.get(k) != after.get(k))


def _change(before: Any, after: Any) -> dict[str, Any] | None:
    return None if before == after else {"before": before, "after": after}


def _union(first: Iterable[str], second: Iterable[str]) -> list[str]:
    """Keys of `first` in order, then the keys only in `second`, in order."""
    return list(dict.fromkeys([*first, *second]))


def _keyed_lines(label: str, entries: Mapping[str, Mapping[str, Any]]) -> list[str]:
    lines = []
    for key, entry in entries.items():
        if entry["after"] is None:
            lines.append(f"  {label} {key}: removed")
        else:
            lines.append(f"  {label} {key}: {_arrow(entry, '(unset)')}")
    return lines


def _arrow(change: Mapping[str, Any], absent: str) -> str:
    def show(value: Any) -> str:
        return absent if value is None else str(value)

    return f"{show(change['before'])} -> {show(change['after'])}"
