"""A tiny fleet-like operation for the engine's holds: one run updates several services, holding each one's lock.

The run's own target is the fleet's; its holds are the services' target keys. Each service is updated by a
durable step `update_service:<service>`, which `hold_of_step` ties to that service's hold. Hooks let a test act
between the steps (break a lock, look at the locks) and see the calls that were made.

Loaded by the CLI through ECSOPS_OPERATION_PLUGINS=holds_operation:SPEC (tests/ on PYTHONPATH).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from machines.context import RunContext
from machines.definition import MachineDefinition, Transition
from machines.operation import Operation, OperationSpec

ACCOUNT_REGION = "ecs:123456789012:us-east-1"
STEP_PREFIX = "update_service:"

DEFINITION = MachineDefinition(
    name="holds-example",
    states=("planned", "updating", "done"),
    initial="planned",
    transitions=(Transition.of("plan", "planned", "updating"), Transition.of("updated", "updating", "done")),
    final_statuses={"done": "succeeded"},
)

Hook = Callable[[RunContext[Any], str], None]


def service_key(service: str) -> str:
    """The target key of one service, as a single-service deploy would lock it."""
    return f"{ACCOUNT_REGION}:{service}"


def hold_of_step(step: str) -> str | None:
    return service_key(step.removeprefix(STEP_PREFIX)) if step.startswith(STEP_PREFIX) else None


def make(
    services: list[str],
    *,
    before_step: Hook | None = None,
    on_planned: Callable[[RunContext[Any]], None] | None = None,
    calls: list[dict[str, Any]] | None = None,
) -> Operation:
    """The operation over these services (in this order); before_step(ctx, service) runs before each step."""
    sent = calls if calls is not None else []

    def planned(ctx: RunContext[Any]) -> str:
        if on_planned is not None:
            on_planned(ctx)
        return "plan"

    def updating(ctx: RunContext[Any]) -> str:
        for service in services:
            if before_step is not None:
                before_step(ctx, service)
            ctx.run_step(f"{STEP_PREFIX}{service}", {"service": service}, sent.append, reconcile=None)
        return "updated"

    return Operation(
        DEFINITION,
        {"planned": planned, "updating": updating},
        holds=tuple(service_key(service) for service in services),
        hold_of_step=hold_of_step,
    )


def build(params: dict[str, Any]) -> Operation:
    if params.get("unbuildable"):
        raise ValueError("these params are no longer accepted")
    return make(list(params["services"]))


SPEC = OperationSpec(
    name="holds-example", definition=DEFINITION, build=build,
    describe="test-only: update several services, holding each one's lock",
)
