"""Turn a described task definition into a RegisterTaskDefinition request and apply deploy edits to it."""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping
from typing import Any

from ecsops.deploy.flags import FLAG_LOGOPT, FLAG_LOGSECRET, ContainerEdits, EditError, TaskDefinitionEdits


@functools.cache
def register_task_definition_members() -> frozenset[str]:
    """Every parameter RegisterTaskDefinition accepts, read from botocore's ECS service model.

    Read at run time so fields added to the API later are carried without a code change. botocore is
    imported here, not at module level, to keep it out of `ecsops --help`; the model is the one the ECS
    clients loaded.
    """
    from ecsops.aws.clients import service_model

    input_shape = service_model("ecs").operation_model("RegisterTaskDefinition").input_shape
    assert input_shape is not None  # RegisterTaskDefinition always has an input
    return frozenset(input_shape.members)


def register_request_from(task_definition: Mapping[str, Any], tags: list[dict[str, Any]]) -> dict[str, Any]:
    """Build the RegisterTaskDefinition request that re-registers `task_definition` unchanged.

    `task_definition` is DescribeTaskDefinition's `taskDefinition`; `tags` its top-level `tags` (asked
    for with `include=["TAGS"]`). Every field the API accepts is carried; output-only fields
    (taskDefinitionArn, revision, status, registeredAt, ...) are dropped because they are not input
    members. The key `tags` is omitted when there are none. The result shares nothing with the input.
    """
    members = register_task_definition_members()
    request = {
        key: copy.deepcopy(value)
        for key, value in task_definition.items()
        if key in members and key != "tags" and value is not None
    }
    if tags:
        request["tags"] = copy.deepcopy(list(tags))
    return request


def validate_edits(task_definition: Mapping[str, Any], edits: TaskDefinitionEdits) -> None:
    """Raise EditError if `edits` cannot apply to `task_definition`; check before changing anything.

    Refused: a container name that is not in the task definition, and a log driver in a
    `--container-logopt`/`--container-logsecret` flag that differs from the container's current log
    driver (a container without a log configuration takes the flag's driver). `task_definition` may be a
    described task definition or a register request.
    """
    containers = {c["name"]: c for c in task_definition.get("containerDefinitions", [])}
    for name, container_edits in edits.containers.items():
        container = containers.get(name)
        if container is None:
            use = container_edits.first_flag()
            raise EditError(
                use.flag,
                use.value,
                f"no container named {name!r} in task definition {_label(task_definition)}; "
                f"containers: {', '.join(containers) or '(none)'}",
            )
        current_driver = (container.get("logConfiguration") or {}).get("logDriver")
        wanted_driver = container_edits.log_driver
        if wanted_driver is not None and current_driver is not None and wanted_driver != current_driver:
            use = container_edits.first_flag(FLAG_LOGOPT, FLAG_LOGSECRET)
            raise EditError(
                use.flag,
                use.value,
                f"container {name!r} in task definition {_label(task_definition)} uses log driver "
                f"{current_driver!r}, not {wanted_driver!r}",
            )


def apply_edits(request: Mapping[str, Any], edits: TaskDefinitionEdits) -> dict[str, Any]:
    """Return a new register request with `edits` applied; `request` is left untouched.

    Environment variables, secrets and log secret options are replaced in place by name and new ones
    appended, so unchanged entries keep their order; an empty value removes the entry. Raises EditError
    as `validate_edits` does.
    """
    validate_edits(request, edits)
    edited = copy.deepcopy(dict(request))
    containers = {c["name"]: c for c in edited.get("containerDefinitions", [])}
    for name, container_edits in edits.containers.items():
        _edit_container(containers[name], container_edits)
    if edits.clear_task_role:
        edited.pop("taskRoleArn", None)
    elif edits.task_role_arn is not None:
        edited["taskRoleArn"] = edits.task_role_arn
    return edited


def has_changes(before_request: Mapping[str, Any], after_request: Mapping[str, Any]) -> bool:
    """True if registering `after_request` would make a task definition different from `before_request`.

    Compare before adding anything run-specific (such as a run-id tag) to the request.
    """
    return dict(before_request) != dict(after_request)


def _edit_container(container: dict[str, Any], edits: ContainerEdits) -> None:
    if edits.image is not None:
        container["image"] = edits.image
    _merge_named_entries(container, "environment", "value", edits.environment)
    _merge_named_entries(container, "secrets", "valueFrom", edits.secrets)
    if edits.log_driver is None:
        return
    log_configuration = container.get("logConfiguration")
    if log_configuration is None:
        # Only removals for a container that logs nowhere: nothing to remove, nothing to create.
        if not any(edits.log_options.values()) and not any(edits.log_secret_options.values()):
            return
        log_configuration = container["logConfiguration"] = {"logDriver": edits.log_driver}
    _merge_options(log_configuration, edits.log_options)
    _merge_named_entries(log_configuration, "secretOptions", "valueFrom", edits.log_secret_options)


def _merge_named_entries(
    holder: dict[str, Any], key: str, value_key: str, changes: Mapping[str, str]
) -> None:
    """Apply `changes` to the list of `{"name": ..., value_key: ...}` entries at `holder[key]`."""
    if not changes:
        return
    entries: list[dict[str, Any]] = list(holder.get(key) or [])
    for name, value in changes.items():
        if value == "":
            entries = [entry for entry in entries if entry.get("name") != name]
            continue
        matching = [entry for entry in entries if entry.get("name") == name]
        for entry in matching:
            entry[value_key] = value
        if not matching:
            entries.append({"name": name, value_key: value})
    # Removing an entry that never existed must not add an empty list (and look like a change).
    if key in holder or entries:
        holder[key] = entries


def _merge_options(log_configuration: dict[str, Any], changes: Mapping[str, str]) -> None:
    if not changes:
        return
    options: dict[str, Any] = dict(log_configuration.get("options") or {})
    for name, value in changes.items():
        if value == "":
            options.pop(name, None)
        else:
            options[name] = value
    if "options" in log_configuration or options:
        log_configuration["options"] = options


def _label(task_definition: Mapping[str, Any]) -> str:
    family = str(task_definition.get("family", "?"))
    revision = task_definition.get("revision")
    return f"{family}:{revision}" if revision is not None else family
