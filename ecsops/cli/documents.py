"""Run documents: the JSON shape of a run for `status`, `runs` and `--output json`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from ecsops.cli.operations import document_fields
from ecsops.cli.sim_clock import lease_now
from machines.liveness import owner_alive
from store.models import RunHistory
from store.reader import HistorySource, LockSource

if TYPE_CHECKING:
    from store.models import LockRecord, RunMessage, RunRecord


class StatusSource(HistorySource, LockSource, Protocol):
    """A run's history and its target's lock: a RunStore, or a light reader (store.reader)."""


def run_document(store: StatusSource, run: RunRecord) -> dict[str, Any]:
    """A run with its timeline and steps, plus the fields its operation adds (DESIGN.md §4); an unfinished
    run also says who holds its lock, its wait deadlines and what a person should do next.

    It also holds the run's journal (`messages`: what its driver said, and the lifecycle stages it saw), which
    the listing's documents (history_document, `runs --output json`) leave out: a journal may hold thousands of
    lines, and a listing is read for many runs at once."""
    recorded = store.history(run.run_id)
    if recorded is None:
        document = history_document(RunHistory(run=run))
        document["messages"] = []
    else:
        document = history_document(
            RunHistory(run=run, transitions=recorded.transitions, steps=recorded.steps, items=recorded.items,
                       notes=recorded.notes)
        )
        document["messages"] = message_documents(recorded.messages)
    if not run.finished:
        document["deadlines"] = {name: _iso(at) for name, at in sorted(run.timers.items())}
        document["lock"] = lock_document(run.run_id, store.get_lock(run.target), now=lease_now())
        if run.state == "paused":
            _at_a_pause(run.run_id, document["lock"])
    return document


def _at_a_pause(run_id: str, lock: dict[str, Any]) -> None:
    """A deploy waiting at a PAUSE lifecycle hook needs a person's approval before anything else helps."""
    approve = f"ecsops approve {run_id} (or --rollback)"
    if lock["next"] == "wait":
        lock["why"] += f"; its deployment waits at a PAUSE lifecycle hook: {approve}"
    else:
        lock.update(next=f"{approve}, then ecsops resume {run_id}",
                    why="its deployment waits at a PAUSE lifecycle hook")


def lock_document(run_id: str, lock: LockRecord | None, *, now: float) -> dict[str, Any]:
    """Who holds an unfinished run's target and what a person should do: `next` is a command, or `wait`."""
    resume = f"ecsops resume {run_id}"
    if lock is None or lock.run_id is None:
        return {"owner": None, "alive": None, "lease_expires_at": None, "token": lock.token if lock else None,
                "held_by_run": None, "next": resume, "why": "no process holds its lock"}
    document: dict[str, Any] = {
        "owner": lock.owner,
        "alive": owner_alive(lock.owner) if lock.owner else None,
        "lease_expires_at": _iso(lock.expires_at),
        "token": lock.token,
        "held_by_run": lock.run_id,
    }
    expired = lock.expires_at <= now
    if lock.run_id != run_id:
        document.update(next="wait", why=f"run {lock.run_id} holds {lock.target}; see ecsops status {lock.run_id}")
    elif document["alive"] is False:
        document.update(next=resume, why=f"process {lock.owner}, which drove it, is gone")
    elif document["alive"]:
        document.update(next="wait", why=f"process {lock.owner} is driving it")
    elif expired:
        document.update(next=resume, why="its lease expired: the process that drove it stopped renewing it")
    else:
        document.update(
            next="wait",
            why=f"process {lock.owner} on another host holds its lease until {_time(lock.expires_at)}; "
            f"if you know that process is gone: ecsops abandon {run_id} --force",
        )
    return document


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def _time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def message_documents(messages: Sequence[RunMessage]) -> list[dict[str, Any]]:
    """A run's journal lines, oldest first, as run documents show them."""
    return [{"seq": m.seq, "kind": m.kind, "text": m.text, "item": m.item, "at": m.at} for m in messages]


def history_document(history: RunHistory) -> dict[str, Any]:
    """The run document of a run read with everything recorded about it (store.histories), but its journal."""
    run, transitions, steps, items = history.run, history.transitions, history.steps, history.items
    notes = history.notes
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
        # Written by others than the run's driver (`ecsops approve`), oldest first.
        "notes": [{"seq": n.seq, "kind": n.kind, "text": n.text, "who": n.who, "at": n.at} for n in notes],
    }
    document.update(document_fields(run, items))
    return document
