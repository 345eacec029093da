"""The registry of operations ecsops can run and resume, looked up by the name recorded in a run."""

from __future__ import annotations

import importlib
import os

from machines.operation import OperationSpec

PLUGINS_ENV = "ECSOPS_OPERATION_PLUGINS"

# name -> "module:attribute" of an OperationSpec; imported only when used, so --help stays light.
BUILTIN: dict[str, str] = {
    "deploy": "ecsops.deploy.operation:SPEC",
    "replace-instances": "ecsops.replace.operation:SPEC",
}


class UnknownOperation(LookupError):
    pass


def _locations() -> dict[str, str]:
    locations = dict(BUILTIN)
    for entry in filter(None, os.environ.get(PLUGINS_ENV, "").split(",")):
        module, _, attribute = entry.partition(":")
        locations[f"plugin:{entry}"] = f"{module}:{attribute}"
    return locations


def _load(location: str) -> OperationSpec:
    module_name, _, attribute = location.partition(":")
    spec = getattr(importlib.import_module(module_name), attribute)
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
