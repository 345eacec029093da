"""A tiny operation for engine tests: create a widget in a fake service (a JSON ledger), wait for it.

Loaded by the CLI through ECSOPS_OPERATION_PLUGINS=example_operation:SPEC (tests/ on PYTHONPATH).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from machines.context import RunContext
from machines.definition import MachineDefinition, Transition
from machines.operation import Operation, OperationSpec
from machines.steps import NOT_HAPPENED, Reconciled
from store.models import ItemRecord, RunRecord, StepRecord

DEFINITION = MachineDefinition(
    name="example",
    states=("planned", "creating", "waiting", "done", "failed"),
    initial="planned",
    transitions=(
        Transition.of("plan", "planned", "creating"),
        Transition.of("created", "creating", "waiting"),
        Transition.of("ready", "waiting", "done"),
        Transition.of("timed_out", "waiting", "failed"),
        Transition.of("refused", "creating", "failed"),
    ),
    final_statuses={"done": "succeeded", "failed": "failed"},
    steps={"creating": ("create_widget",)},
)


class ExampleFacts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan: dict[str, str] | None = None
    widget_id: str | None = None


Context = RunContext[ExampleFacts]


class Ledger:
    """The fake service: widgets it created and how often it was polled, in one JSON file."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)

    def read(self) -> dict[str, Any]:
        if not self.path.exists():
            return {"widgets": [], "polls": 0}
        return dict(json.loads(self.path.read_text()))

    def write(self, content: dict[str, Any]) -> None:
        self.path.write_text(json.dumps(content))

    def create(self, owner: str) -> dict[str, Any]:
        content = self.read()
        widget = {"id": f"w-{len(content['widgets']) + 1}", "owner": owner}
        content["widgets"].append(widget)
        self.write(content)
        return widget

    def poll(self) -> int:
        content = self.read()
        content["polls"] += 1
        self.write(content)
        return int(content["polls"])


def build(params: dict[str, Any]) -> Operation:
    ledger = Ledger(params["ledger"])

    def planned(ctx: Context) -> str:
        ctx.record(plan={"widget_owner": ctx.run_id})
        return "plan"

    def creating(ctx: Context) -> str:
        def reconcile(step: StepRecord) -> Reconciled:
            for widget in ledger.read()["widgets"]:
                if widget["owner"] == step.request["owner"]:
                    return Reconciled(happened=True, result=widget)
            return NOT_HAPPENED

        if params.get("refuse"):
            return "refused"
        widget = ctx.step(
            "create_widget", {"owner": ctx.run_id}, lambda request: ledger.create(request["owner"]),
            reconcile=reconcile,
        )
        ctx.record(widget_id=widget["id"])
        return "created"

    def waiting(ctx: Context) -> str:
        if params.get("explode_in") == "waiting":
            raise RuntimeError("a bug in the waiting handler")
        deadline = ctx.deadline("widget_ready", float(params.get("timeout", 600)))
        while True:
            if ledger.poll() >= int(params.get("ready_after_polls", 2)):
                return "ready"
            if ctx.now() >= deadline:
                return "timed_out"
            ctx.progress(f"widget not ready, {deadline - ctx.now():.0f}s left")
            ctx.sleep(float(params.get("poll_interval", 0)))

    return Operation(DEFINITION, {"planned": planned, "creating": creating, "waiting": waiting}, facts=ExampleFacts)


def document_fields(run: RunRecord, items: list[ItemRecord]) -> dict[str, Any]:
    return {"widget_id": run.facts.get("widget_id")}


SPEC = OperationSpec(
    name="example", definition=DEFINITION, build=build, document_fields=document_fields,
    describe="test-only: create a widget in a fake service and wait for it",
)
