"""Run documents: the JSON shape of a run for `status`, `runs` and `--output json`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ecsops.cli.operations import document_fields
from store.reader import HistoryView

if TYPE_CHECKING:
    from store.reader import HistoryLike, HistorySource, RunLike


def run_document(store: HistorySource, run: RunLike) -> dict[str, Any]:
    """A run with its timeline and steps, plus the fields its operation adds (DESIGN.md §4)."""
    recorded = store.history(run.run_id)
    if recorded is None:
        return history_document(HistoryView(run))
    return history_document(HistoryView(run, recorded.transitions, recorded.steps, recorded.items))


def history_document(history: HistoryLike) -> dict[str, Any]:
    """The run document of a run read with everything recorded about it (store.histories)."""
    run, transitions, steps, items = history.run, history.transitions, history.steps, history.items
    document: dict[str, Any] = {
        "run_id": run.run_id,
        "operation": run.operation,
        "status": run.status,
        "state": run.state,
        "target": run.target,
        "started_at": run.started_at,
        "updated_at": run.updated_at,
        "finished_at": run.finished_at,
        "started_by": run.started_by,
        "ci": run.ci,
        "ecsops_version": run.ecsops_version,
        "machine_version": run.machine_version,
        "reason": run.reason,
        "params": run.params,
        "transitions": [
            {"seq": t.seq, "source": t.source, "dest": t.dest, "trigger": t.trigger, "at": t.at, "item": t.item}
            for t in transitions
        ],
        "steps": [
            {
                "name": s.name,
                "status": s.status,
                "request": s.request,
                "result": s.result,
                "error": s.error,
                "started_at": s.started_at,
                "finished_at": s.finished_at,
            }
            for s in steps
        ],
        "in_flight": [s.name for s in steps if s.status == "intent"],
    }
    document.update(document_fields(run, items))
    return document
