"""The registry of operations ecsops can run and resume, looked up by the name recorded in a run."""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from machines.definition import MachineDefinition
    from machines.operation import OperationSpec
    from store.models import ItemRecord, RunRecord

DocumentFields = Callable[["RunRecord", "Sequence[ItemRecord]"], dict[str, Any]]

PLUGINS_ENV = "ECSOPS_OPERATION_PLUGINS"

# name -> "module:attribute" of an OperationSpec; imported only when used, so --help stays light.
BUILTIN: dict[str, str] = {
    "deploy": "ecsops.deploy.operation:SPEC",
    "replace-instances": "ecsops.replace.operation:SPEC",
    "deploy-fleet": "ecsops.fleet.operation:SPEC",
}
# name -> "module:attribute" of its run's MachineDefinition, in a module without pydantic or transitions: `runs`
# checks --status against the declared statuses and stays light.
BUILTIN_MACHINES: dict[str, str] = {
    "deploy": "machines.deploy:DEPLOY",
    "replace-instances": "machines.replace_instances:RUN_DEFINITION",
    "deploy-fleet": "machines.deploy_fleet:FLEET_DEFINITION",
}
# name -> "module:function" adding the operation's fields to a run document, in a module that imports neither the
# machine nor pydantic: `status` and `runs` stay light. Other operations use their spec's document_fields.
BUILTIN_DOCUMENT_FIELDS: dict[str, str] = {
    "deploy": "ecsops.deploy.document:document_fields",
    "replace-instances": "ecsops.replace.document:document_fields",
    "deploy-fleet": "ecsops.fleet.document:document_fields",
}


# name -> "module:function" listing the targets a run acts on besides its own (a fleet's services), light to import:
# `runs --target demo/api` finds the fleet runs that touched demo/api.
BUILTIN_TOUCHED: dict[str, str] = {
    "deploy-fleet": "ecsops.fleet.document:touched_targets",
}


class UnknownOperation(LookupError):
    pass


def _locations() -> dict[str, str]:
    locations = dict(BUILTIN)
    for entry in filter(None, os.environ.get(PLUGINS_ENV, "").split(",")):
        module, _, attribute = entry.partition(":")
        locations[f"plugin:{entry}"] = f"{module}:{attribute}"
    return locations


def _attribute(location: str) -> Any:
    module_name, _, attribute = location.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def _load(location: str) -> OperationSpec:
    from machines.operation import OperationSpec

    spec = _attribute(location)
    if not isinstance(spec, OperationSpec):
        raise TypeError(f"{location} is not an OperationSpec")
    return spec


def all_operations() -> dict[str, OperationSpec]:
    specs = [_load(location) for location in _locations().values()]
    return {spec.name: spec for spec in specs}


def get_operation(name: str) -> OperationSpec:
    if name in BUILTIN:
        return _load(BUILTIN[name])
    specs = all_operations()
    if name not in specs:
        raise UnknownOperation(f"no operation named {name!r}; known: {', '.join(sorted(specs)) or 'none'}")
    return specs[name]


def run_statuses() -> tuple[str, ...]:
    """Every status a run can have: the engine's own and each operation's declared final statuses."""
    from machines.statuses import known_statuses

    definitions: list[MachineDefinition] = [_attribute(location) for location in BUILTIN_MACHINES.values()]
    plugins = [location for name, location in _locations().items() if name not in BUILTIN]
    definitions += [_load(location).definition for location in plugins]
    return known_statuses(definitions)


def document_fields(run: RunRecord, items: Sequence[ItemRecord]) -> dict[str, Any]:
    """The fields run.operation adds to its run document; {} for an operation this ecsops does not know."""
    if run.operation in BUILTIN_DOCUMENT_FIELDS:
        return cast(DocumentFields, _attribute(BUILTIN_DOCUMENT_FIELDS[run.operation]))(run, items)
    if run.operation in BUILTIN:
        spec = _load(BUILTIN[run.operation])
    else:
        # Only plugins can know it: loading the built-in machines to learn that they do not would be wasted.
        plugins = [_load(location) for name, location in _locations().items() if name not in BUILTIN]
        found = [spec for spec in plugins if spec.name == run.operation]
        if not found:
            return {}
        spec = found[-1]
    return spec.document_fields(run, list(items))


def touched_targets(run: RunRecord) -> list[str]:
    """The run's own target and every other target it acts on (a fleet's services)."""
    extra: list[str] = []
    if run.operation in BUILTIN_TOUCHED:
        extra = cast(Callable[["RunRecord"], list[str]], _attribute(BUILTIN_TOUCHED[run.operation]))(run)
    return [run.target, *extra]
