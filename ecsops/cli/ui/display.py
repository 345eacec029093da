"""How the ui writes the values of a run document for people: times, durations, status badges, ARNs, links."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from ecsops.aws.ecs import short_name as task_definition_name
from machines.durations import format_duration

# The colour family of each run status (ui.css: .badge-<family>); a status no family names is neutral.
STATUS_FAMILY = {
    "succeeded": "good",
    "rolled_back": "warn",
    "rollback_failed": "bad",
    "failed": "bad",
    "superseded": "muted",
    "abandoned": "muted",
    "running": "live",
    "paused": "live",
    "interrupted": "halt",
}
# Item states (a fleet's services, replaced instances) in the same families.
ITEM_FAMILY = {
    "terminated": "good",
    "rolled_out": "good",
    "reattached": "warn",
    "reattach_failed": "bad",
    "skipped": "muted",
    "pending": "muted",
}
REASON_SHOWN = 140


def badge_family(status: str | None) -> str:
    """The colour family of a run status or an item state (a final item state named like a run status shares it)."""
    if status is None:
        return "muted"
    return STATUS_FAMILY.get(status) or ITEM_FAMILY.get(status) or "live"


def run_status_family(status: str) -> str:
    return STATUS_FAMILY.get(status, "muted")


def parse_time(text: str | None) -> datetime | None:
    """An ISO 8601 time as the store writes it; None if it is not one. The store writes UTC: a time without a zone
    is read as UTC, never as local time."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def utc_time(text: str | None) -> str:
    """`2026-11-26 09:00:05`, in UTC; `-` when absent, the text itself when it is no ISO time."""
    moment = parse_time(text)
    if moment is None:
        return text or "-"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def seconds_between(start: str | None, end: str | None) -> float | None:
    first, last = parse_time(start), parse_time(end)
    if first is None or last is None:
        return None
    return (last - first).total_seconds()


def duration(start: str | None, end: str | None) -> str:
    seconds = seconds_between(start, end)
    return "-" if seconds is None else format_duration(max(seconds, 0.0))


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def run_duration(document: dict[str, Any], now: str) -> str:
    """How long a finished run took; how long an unfinished one has been going (`running for 3m05s`)."""
    if document.get("finished_at"):
        return duration(document.get("started_at"), document["finished_at"])
    since = duration(document.get("started_at"), now)
    if document.get("status") == "running":
        return f"running for {since}"
    return f"unfinished, started {since} ago"


def short_name(arn: Any) -> str:
    """The tail of an ARN (`web:7` of `...:task-definition/web:7`); the value itself if it is no ARN."""
    if not arn:
        return "-"
    text = str(arn)
    return task_definition_name(text) if text.startswith("arn:") else text


def first_line(text: Any, limit: int = REASON_SHOWN) -> str:
    """The first line of a text, cut to `limit` characters with an ellipsis."""
    if not text:
        return ""
    line = str(text).strip().splitlines()[0] if str(text).strip() else ""
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "\u2026"


def web_link(url: Any) -> str | None:
    """The URL when it is an http(s) address that may be linked; None for anything else (javascript:, data:...)."""
    if not isinstance(url, str) or not url or any(ch.isspace() or ord(ch) < 32 for ch in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url


def run_path(run_id: str) -> str:
    """The run page's path. A '/' in the id is escaped (%2F) so that no run id can read as a run's item page."""
    return "/runs/" + quote(run_id, safe=":")


def item_path(run_id: str, item_id: str) -> str:
    return f"{run_path(run_id)}/items/{quote(item_id, safe=':')}"
