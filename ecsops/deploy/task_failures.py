"""Why a deployment's tasks failed: its stopped tasks grouped by reason, and one sentence naming the commonest."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ecsops.deploy.events import readable
from ecsops.deploy.facts import StopReason, TaskFailures

# ECS's stop codes for a task that failed on its own; ServiceSchedulerInitiated is a failure only when the
# scheduler stopped the task for failing a health check (otherwise it is a scale-in or a replacement).
FAILURE_STOP_CODES = frozenset({"TaskFailedToStart", "EssentialContainerExited"})


def is_failure(task: Mapping[str, Any]) -> bool:
    code = task.get("stopCode")
    if code in FAILURE_STOP_CODES:
        return True
    return code == "ServiceSchedulerInitiated" and "health check" in str(task.get("stoppedReason") or "")


def reason_of(task: Mapping[str, Any]) -> str:
    """The stoppedReason, plus what each container adds: its exit code, its own reason if different."""
    stopped = readable(str(task.get("stoppedReason") or task.get("stopCode") or "stopped"))
    details: list[str] = []
    for container in task.get("containers") or []:
        name = container.get("name", "?")
        exit_code = container.get("exitCode")
        if exit_code is not None and (exit_code != 0 or task.get("stopCode") == "EssentialContainerExited"):
            details.append(f"{name} exit code {exit_code}")
        own = container.get("reason")
        if own and readable(str(own)) != stopped:
            details.append(f"{name}: {readable(str(own))}")
    return f"{stopped} ({'; '.join(details)})" if details else stopped


def merged(previous: TaskFailures | None, tasks: Iterable[Mapping[str, Any]], failed_tasks: int,
           now: float) -> TaskFailures:
    """`previous` with the failed ones among newly described stopped `tasks` counted in, most frequent first."""
    known = list(previous.task_ids) if previous else []
    reasons = {(r.text, r.stop_code): r.count for r in (previous.reasons if previous else [])}
    for task in tasks:
        task_id = str(task.get("taskArn", "")).rsplit("/", 1)[-1]
        if task_id in known:
            continue
        known.append(task_id)
        if is_failure(task):
            key = (reason_of(task), task.get("stopCode"))
            reasons[key] = reasons.get(key, 0) + 1
    ordered = sorted(reasons.items(), key=lambda item: -item[1])  # stable: first seen wins a tie
    return TaskFailures(
        failed_tasks=failed_tasks,
        read_at=now,
        task_ids=known,
        reasons=[StopReason(text=text, stop_code=code, count=count) for (text, code), count in ordered],
    )


def headline(failures: TaskFailures | None) -> str | None:
    """`3 tasks failed to start: CannotPullContainerError: ...`: the most frequent reason, with its count."""
    if failures is None or not failures.reasons:
        return None
    top = failures.reasons[0]
    tasks = "task" if top.count == 1 else "tasks"
    line = f"{top.count} {tasks} {top.verb}: {top.text}"
    others = len(failures.reasons) - 1
    if others:
        line += f" (and {others} other reason{'s' if others > 1 else ''}: ecsops status shows them)"
    return line


def with_headline(cause: str, failures: TaskFailures | None) -> str:
    """`cause`, then why the deployment's tasks failed (its most frequent stop reason), if known."""
    why = headline(failures)
    return f"{cause}; {why}" if why else cause
