"""The run page's view of a run document: its header, what changed, the lock, the step journal, task failures,
the journal of messages and the transitions, each as rows a template writes out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ecsops.cli.ui.display import (
    badge_family,
    duration,
    run_duration,
    run_status_family,
    short_name,
    utc_time,
    web_link,
)

MESSAGES_SHOWN = 200


@dataclass(frozen=True)
class Header:
    run_id: str
    operation: str
    target: str
    status: str
    family: str
    state: str
    finished: bool
    started: str
    ended: str
    duration: str
    started_by: str
    actor: str | None
    ci_system: str | None
    ci_url: str | None
    ci_details: list[tuple[str, str]]
    reason: str
    ecsops_version: str
    machine_version: str


@dataclass(frozen=True)
class Change:
    """One line of `What changed`: before and after, or a single value (after) with a note."""

    label: str
    before: str | None
    after: str
    title_before: str = ""
    title_after: str = ""
    note: str = ""


@dataclass(frozen=True)
class StepRow:
    name: str
    status: str
    family: str
    started: str
    finished: str
    took: str
    error: str
    request: Any
    result: Any
    has_result: bool


@dataclass(frozen=True)
class FailureGroup:
    deployment_id: str
    failed_tasks: int
    reasons: list[tuple[int, str, str]]  # (count, "stopped" or "failed to start", text)


@dataclass(frozen=True)
class LockView:
    owner: str | None
    alive: str
    lease_expires: str
    token: Any
    held_by_run: str | None
    next_step: str
    why: str
    deadlines: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class TransitionRow:
    seq: int
    at: str
    took: str
    item: str | None
    source: str
    dest: str
    trigger: str


@dataclass(frozen=True)
class MessageRow:
    seq: Any
    at: str
    kind: str
    item: str | None
    text: str


_STEP_FAMILY = {"succeeded": "good", "reconciled": "good", "failed": "bad", "intent": "live"}
_CI_SHOWN_APART = ("system", "actor", "url")


def header(document: dict[str, Any], now: str) -> Header:
    ci = document.get("ci") if isinstance(document.get("ci"), dict) else {}
    status = str(document.get("status") or "")
    return Header(
        run_id=str(document["run_id"]),
        operation=str(document.get("operation") or ""),
        target=str(document.get("target") or ""),
        status=status,
        family=run_status_family(status),
        state=str(document.get("state") or ""),
        finished=bool(document.get("finished_at")),
        started=utc_time(document.get("started_at")),
        ended=utc_time(document.get("finished_at")) if document.get("finished_at") else "",
        duration=run_duration(document, now),
        started_by=str(document.get("started_by") or ""),
        actor=ci.get("actor") if ci else None,
        ci_system=ci.get("system") if ci else None,
        ci_url=web_link(ci.get("url")) if ci else None,
        ci_details=[(str(key), str(value)) for key, value in (ci or {}).items() if key not in _CI_SHOWN_APART],
        reason=str(document.get("reason") or ""),
        ecsops_version=str(document.get("ecsops_version") or ""),
        machine_version=str(document.get("machine_version") or ""),
    )


def changes(document: dict[str, Any]) -> list[Change]:
    """What a deploy (or one service of a fleet) changed, as recorded: its task definition and desired count."""
    found: list[Change] = []
    before, after = document.get("previous_task_definition"), document.get("new_task_definition")
    if before or after:
        registered = document.get("registered_revision")
        note = ("a new revision was registered" if registered is True
                else "no new revision: deployed as it was" if registered is False else "")
        found.append(Change("task definition", short_name(before) if before else None,
                            short_name(after) if after else "not decided yet",
                            title_before=str(before or ""), title_after=str(after or ""), note=note))
    if "previous_desired_count" in document or "desired_count" in document:
        previous, asked = document.get("previous_desired_count"), document.get("desired_count")
        if asked is None:
            if previous is not None:
                found.append(Change("desired count", None, str(previous), note="left as it was"))
        else:
            found.append(Change("desired count", "?" if previous is None else str(previous), str(asked)))
    if document.get("service_deployment_arn"):
        found.append(Change("strategy", None, str(document.get("strategy") or "")))
        arn = str(document["service_deployment_arn"])
        found.append(Change("service deployment", None, short_name(arn), title_after=arn))
    if document.get("deployment_id"):
        found.append(Change("deployment", None, str(document["deployment_id"])))
    if document.get("rollback_deployment_id"):
        found.append(Change("rollback deployment", None, str(document["rollback_deployment_id"])))
    return found


def steps(document: dict[str, Any]) -> list[StepRow]:
    rows = []
    for step in document.get("steps") or []:
        error = step.get("error") or {}
        error_text = ""
        if error:
            code = error.get("code") or error.get("type") or "error"
            error_text = f"{code}: {error.get('message') or ''}".rstrip(": ")
        status = str(step.get("status") or "")
        rows.append(StepRow(
            name=str(step.get("name") or ""),
            status=status,
            family=_STEP_FAMILY.get(status, "muted"),
            started=utc_time(step.get("started_at")),
            finished=utc_time(step.get("finished_at")) if step.get("finished_at") else "",
            took=duration(step.get("started_at"), step.get("finished_at")) if step.get("finished_at") else "",
            error=error_text,
            request=step.get("request"),
            result=step.get("result"),
            has_result=step.get("result") is not None,
        ))
    return rows


def failures(task_failures: dict[str, Any] | None) -> list[FailureGroup]:
    """Why tasks failed, per deployment: each distinct stop reason with how many tasks had it."""
    groups = []
    for deployment_id, entry in (task_failures or {}).items():
        reasons = [
            (int(reason.get("count") or 0),
             "failed to start" if reason.get("stop_code") == "TaskFailedToStart" else "stopped",
             str(reason.get("text") or ""))
            for reason in entry.get("reasons") or []
        ]
        if reasons or entry.get("failed_tasks"):
            groups.append(FailureGroup(str(deployment_id), int(entry.get("failed_tasks") or 0), reasons))
    return groups


def lock(document: dict[str, Any]) -> LockView | None:
    """Who holds an unfinished run's target and until when; None for a finished run."""
    held = document.get("lock")
    if not held:
        return None
    alive = {True: "alive", False: "gone", None: "on another host: cannot tell"}.get(held.get("alive"), "?")
    deadlines = [(str(name), utc_time(at)) for name, at in (document.get("deadlines") or {}).items()]
    return LockView(
        owner=held.get("owner"),
        alive=alive if held.get("owner") else "free",
        lease_expires=utc_time(held.get("lease_expires_at")) if held.get("lease_expires_at") else "",
        token=held.get("token"),
        held_by_run=held.get("held_by_run"),
        next_step=str(held.get("next") or ""),
        why=str(held.get("why") or ""),
        deadlines=deadlines,
    )


def transitions(document: dict[str, Any], item: str | None = None, *, every_item: bool = True) -> list[TransitionRow]:
    """The run's transitions (all of them, or with every_item=False only those of `item`), with the time each state
    lasted before it."""
    rows, previous = [], document.get("started_at")
    for transition in document.get("transitions") or []:
        if not every_item and transition.get("item") != item:
            continue
        rows.append(TransitionRow(
            seq=int(transition.get("seq") or 0),
            at=utc_time(transition.get("at")),
            took=duration(previous, transition.get("at")),
            item=transition.get("item"),
            source=str(transition.get("source") or ""),
            dest=str(transition.get("dest") or ""),
            trigger=str(transition.get("trigger") or ""),
        ))
        previous = transition.get("at")
    return rows


def messages(document: dict[str, Any], item: str | None = None, *, every_item: bool = True
             ) -> tuple[list[MessageRow], int]:
    """The last MESSAGES_SHOWN lines of the run's journal (of one item's with every_item=False), and how many
    earlier ones are not shown."""
    recorded = [message for message in document.get("messages") or []
                if every_item or message.get("item") == item]
    shown = recorded[-MESSAGES_SHOWN:]
    rows = [MessageRow(seq=message.get("seq"), at=utc_time(message.get("at")), kind=str(message.get("kind") or ""),
                       item=message.get("item"), text=str(message.get("text") or "")) for message in shown]
    return rows, len(recorded) - len(shown)


def notes(document: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(when, who, kind, what) of each note others wrote on the run (approvals), oldest first."""
    return [(utc_time(note.get("at")), str(note.get("who") or ""), str(note.get("kind") or ""),
             str(note.get("text") or "")) for note in document.get("notes") or []]



# What the header says of a run's outcome, by status; `{id}` is the run's id.
_OUTCOMES = {
    "succeeded": "Succeeded",
    "rolled_back": "Rolled back: the change failed and the previous state is restored",
    "rollback_failed": "Rollback failed: the service needs a person",
    "failed": "Failed",
    "superseded": "Superseded by another deployment: not rolled back over it",
    "abandoned": "Abandoned by a person",
    "running": "Running",
    "paused": "Paused at a lifecycle hook, awaiting approval: ecsops approve {id}",
    "interrupted": "Interrupted: resumable with ecsops resume {id}",
}


def outcome(status: str, run_id: str) -> str:
    """One sentence on how the run ended, or where it stands."""
    return _OUTCOMES.get(status, status.replace("_", " ").capitalize()).format(id=run_id)


def item_family(state: str) -> str:
    return badge_family(state)
