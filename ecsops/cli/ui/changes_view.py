"""The task-definition diff of a deploy (or of one service of a fleet), from the requests its run recorded: the one
its preflight read (what ran) and the one it registered; shown as the rows `ecsops deploy` prints as lines."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ecsops.deploy.taskdef_diff import changes_as_json

RUN_ID_TAG = "ecsops:run-id"  # ecsops.deploy.changes.RUN_ID_TAG, which imports the AWS gateways
REGISTER_STEP = "register_task_definition"


@dataclass(frozen=True)
class DiffRow:
    """One difference: in which container (or `task`), what, and its value before and after (None: absent)."""

    container: str
    what: str
    before: str | None
    after: str | None


def task_definition_diff(document: Mapping[str, Any], item: str | None = None,
                         item_data: Mapping[str, Any] | None = None) -> list[DiffRow] | None:
    """The rows of the diff, [] when the task definition was deployed unchanged, None when the run recorded too
    little to say (no preflight reads, or it has not decided what to register yet)."""
    snapshot = (item_data or {}).get("preflight") if item is not None else (document.get("params") or {}).get(
        "snapshot")
    if not isinstance(snapshot, Mapping) or not isinstance(snapshot.get("base_request"), Mapping):
        return None
    before = snapshot.get("running_request") or snapshot["base_request"]
    after = _registered(document, item, item_data)
    if after is None:
        registered = (item_data or {}).get("registered_revision") if item is not None else document.get(
            "registered_revision")
        if registered is not False:
            return None
        after = snapshot["base_request"]  # deployed as it was: no new revision
    return rows(changes_as_json(_untagged(before), _untagged(after), None, None))


def _registered(document: Mapping[str, Any], item: str | None,
                item_data: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """The register request the run recorded: its step's request (a fleet's service also keeps it in its facts)."""
    name = REGISTER_STEP if item is None else f"{REGISTER_STEP}:{item}"
    for step in document.get("steps") or []:
        if step.get("name") == name and isinstance(step.get("request"), Mapping):
            return dict(step["request"])
    request = (item_data or {}).get("register_request")
    return request if isinstance(request, Mapping) else None


def _untagged(request: Mapping[str, Any]) -> dict[str, Any]:
    """The request without the run's id tag, which the run adds to every revision it registers (no tags left and
    none at all are the same)."""
    untagged = {key: value for key, value in request.items() if key != "tags"}
    tags = [tag for tag in request.get("tags") or [] if tag.get("key") != RUN_ID_TAG]
    return {**untagged, "tags": tags} if tags else untagged


_KEYED = (("environment", "env"), ("secrets", "secret"), ("log_options", "log option"),
          ("log_secret_options", "log secret"))


def rows(changes: Mapping[str, Any]) -> list[DiffRow]:
    """changes_as_json's document as rows, in the order `ecsops deploy` prints its lines."""
    found: list[DiffRow] = []
    for name, container in (changes.get("containers") or {}).items():
        if container.get("status") != "changed":
            found.append(DiffRow(name, "container", None if container["status"] == "added" else "present",
                                 "added" if container["status"] == "added" else None))
            continue
        if "image" in container:
            found.append(DiffRow(name, "image", _text(container["image"]["before"]),
                                 _text(container["image"]["after"])))
        for facet, label in _KEYED[:2]:
            found += _keyed(name, label, container.get(facet) or {})
        if "log_driver" in container:
            found.append(DiffRow(name, "log driver", _text(container["log_driver"]["before"]),
                                 _text(container["log_driver"]["after"])))
        for facet, label in _KEYED[2:]:
            found += _keyed(name, label, container.get(facet) or {})
        if container.get("other_fields"):
            found.append(DiffRow(name, "other settings changed", None, ", ".join(container["other_fields"])))
    if changes.get("task_role_arn"):
        role = changes["task_role_arn"]
        found.append(DiffRow("task", "task role", _text(role["before"]), _text(role["after"])))
    if changes.get("other_fields"):
        found.append(DiffRow("task", "other fields changed", None, ", ".join(changes["other_fields"])))
    return found


def _keyed(container: str, label: str, entries: Mapping[str, Mapping[str, Any]]) -> list[DiffRow]:
    return [DiffRow(container, f"{label} {key}", _text(entry.get("before")), _text(entry.get("after")))
            for key, entry in entries.items()]


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
