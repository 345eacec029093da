"""Text rendering of runs for people: the `status` timeline and the `runs` table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from machines.durations import format_duration


def _time(iso: str | None) -> str:
    if not iso:
        return "-"
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M:%S")


def _seconds_between(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def render_status(document: dict[str, Any]) -> str:
    lines = [
        f"run       {document['run_id']}",
        f"operation {document['operation']}  target {document['target']}",
        f"status    {document['status']}  (state: {document['state']})",
        f"started   {_time(document['started_at'])} by {document['started_by'] or '?'}",
    ]
    if document.get("ci"):
        lines.extend(_ci_lines(document["ci"]))
    lines.append(f"versions  ecsops {document['ecsops_version']}, machine {document['machine_version']}")
    if document.get("reason"):
        lines.append(f"reason    {document['reason']}")
    if document.get("lock"):
        lines.extend(_lock_lines(document["lock"], document.get("deadlines") or {}))
    keys = ["previous_task_definition", "new_task_definition", "deployment_id", "snapshot_read_at"]
    if document.get("service_deployment_arn"):  # a BLUE_GREEN, LINEAR or CANARY deploy: ECS's own deployment
        keys[3:3] = ["strategy", "service_deployment_arn"]
    for key in keys:
        if document.get(key):
            lines.append(f"{key.replace('_', ' '):<25} {document[key]}")
    lines.extend(_task_failure_lines(document.get("task_failures") or {}))
    if document.get("services"):
        lines.extend(_service_lines(document["services"]))
    lines.append("timeline")
    previous = document["started_at"]
    for transition in document["transitions"]:
        took = format_duration(_seconds_between(previous, transition["at"]))
        subject = f"{transition['item']}: " if transition.get("item") else ""
        lines.append(
            f"  {transition['seq']:>3}  {_time(transition['at'])}  +{took:<8} "
            f"{subject}{transition['source']} -> {transition['dest']}  ({transition['trigger']})"
        )
        previous = transition["at"]
    if not document["transitions"]:
        lines.append("  (no transitions yet)")
    if document.get("instances"):
        lines.append("instances")
        for instance in document["instances"]:
            lines.extend(_instance_lines(instance))
    if document["steps"]:
        lines.append("steps")
        for step in document["steps"]:
            detail = ""
            if step["error"]:
                detail = f"  {step['error'].get('code') or step['error'].get('type')}: {step['error'].get('message')}"
            lines.append(f"  {step['name']:<40} {step['status']:<10} {_time(step['started_at'])}{detail}")
    if document["in_flight"]:
        lines.append(
            "in flight " + ", ".join(document["in_flight"]) + "  (will be reconciled against AWS on resume)"
        )
    if document.get("notes"):
        lines.append("notes")
        lines.extend(f"  {_time(note['at'])}  {note['who']}: {note['text']}" for note in document["notes"])
    if not document.get("finished_at"):
        lines.extend(_last_message_lines(document.get("messages") or []))
    return "\n".join(lines)


LAST_MESSAGES = 10
MESSAGE_WIDTH = 100


def _last_message_lines(messages: list[dict[str, Any]]) -> list[str]:
    """What the driver of an unfinished run said last (its journal's progress lines; `status --follow` shows them
    all, and what comes next)."""
    said = [message for message in messages if message["kind"] != "stage"][-LAST_MESSAGES:]
    if not said:
        return []
    lines = ["last messages"]
    for message in said:
        text = message["text"]
        if len(text) > MESSAGE_WIDTH:
            text = text[: MESSAGE_WIDTH - 1] + "…"
        lines.append(f"  {datetime.fromisoformat(message['at']).strftime('%H:%M:%S')}  {text}")
    return lines


def _lock_lines(lock: dict[str, Any], deadlines: dict[str, str]) -> list[str]:
    """Who drives an unfinished run, its wait deadlines, and what to do next (a command, or wait)."""
    if lock["owner"] is None:
        lines = ["lock      free"]
    else:
        alive = {True: "alive", False: "gone", None: "another host: cannot tell"}[lock["alive"]]
        lines = [
            f"lock      {lock['owner']} ({alive}), token {lock['token']}",
            f"lease     until {_time(lock['lease_expires_at'])} UTC",
        ]
    for name, at in deadlines.items():
        lines.append(f"deadline  {name} at {_time(at)} UTC")
    if lock["next"] == "wait":
        lines.append(f"next      wait: {lock['why']}")
    else:
        lines.append(f"next      {lock['next']}  ({lock['why']})")
    return lines


def _ci_lines(ci: dict[str, str]) -> list[str]:
    """`ci        github-actions job by octocat  https://...`, then the job's identifiers."""
    head = f"ci        {ci.get('system', '?')} job"
    if ci.get("actor"):
        head += f" by {ci['actor']}"
    if ci.get("url"):
        head += f"  {ci['url']}"
    details = ", ".join(f"{key}={value}" for key, value in ci.items() if key not in ("system", "actor", "url"))
    return [head, f"          {details}"] if details else [head]


def _task_failure_lines(failures: dict[str, Any]) -> list[str]:
    """Why tasks failed, per deployment: each distinct stop reason with how many tasks had it."""
    lines = ["task failures"] if any(entry.get("reasons") for entry in failures.values()) else []
    for deployment_id, entry in failures.items():
        if not entry.get("reasons"):
            continue
        lines.append(f"  {deployment_id}: {entry.get('failed_tasks', 0)} failed tasks")
        for reason in entry["reasons"]:
            verb = "failed to start" if reason.get("stop_code") == "TaskFailedToStart" else "stopped"
            lines.append(f"    {reason.get('count', 0)} {verb}: {reason.get('text')}")
    return lines


def _service_lines(services: list[dict[str, Any]]) -> list[str]:
    """A fleet's services, one row each: where it stands, its task definitions, how long it took; then why, for a
    service that did not succeed."""
    width = max(len("SERVICE"), *(len(service["name"]) for service in services))
    lines = ["services", f"  {'SERVICE':<{width}}  {'STATE':<16} {'TASK DEFINITION':<32} TOOK"]
    for service in services:
        before = _short(service.get("previous_task_definition"))
        after = _short(service.get("new_task_definition"))
        change = f"{before} -> {after}" if after != "-" else before
        took = "-"
        if service.get("started_at") and service.get("ended_at"):
            took = format_duration(_seconds_between(service["started_at"], service["ended_at"]))
        lines.append(f"  {service['name']:<{width}}  {service['state']:<16} {change:<32} {took}")
        if service.get("reason") and service["state"] != "succeeded":
            lines.append(f"  {'':<{width}}  {service['reason']}")
    return lines


def _short(arn: str | None) -> str:
    return arn.rsplit("/", 1)[-1] if arn else "-"


# An instance's optional notes, printed under it when the run document has them.
INSTANCE_NOTES = (("reason", "out of date"), ("failure", "failed"), ("reattach_error", "putting back failed"))


def _instance_lines(instance: dict[str, Any]) -> list[str]:
    head = f"  {instance['instance_id']:<22} {instance['state']}"
    if instance.get("replacement"):
        head = f"{head:<45} replacement {instance['replacement']}"
    notes = [f"  {'':<22} {label}: {instance[key]}" for key, label in INSTANCE_NOTES if instance.get(key)]
    return [head, *notes]


def render_runs(documents: list[dict[str, Any]]) -> str:
    if not documents:
        return "no runs recorded"
    header = f"{'RUN ID':<36} {'OPERATION':<18} {'STATUS':<16} {'STATE':<18} {'STARTED':<20} TARGET"
    rows = [
        f"{d['run_id']:<36} {d['operation']:<18} {d['status']:<16} {d['state']:<18} "
        f"{_time(d['started_at']):<20} {d['target']}"
        for d in documents
    ]
    return "\n".join([header, *rows])
