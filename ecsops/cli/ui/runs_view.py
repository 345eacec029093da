"""The runs page's view: its filters as read from the URL, one row per run document, the link to older runs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from ecsops.cli.ui.display import (
    first_line,
    run_duration,
    run_path,
    run_status_family,
    utc_time,
    web_link,
)

FILTERS = ("operation", "target", "status", "who", "since", "until")
PAGE_SIZE = 50
PAGE_SIZE_MAX = 500


class PageSizeError(ValueError):
    """A `limit` the runs page does not show (it takes at most PAGE_SIZE_MAX runs)."""


@dataclass(frozen=True)
class RunRow:
    run_id: str
    href: str
    operation: str
    target: str
    target_short: str
    status: str
    family: str
    state: str
    started: str
    started_at: str
    duration: str
    started_by: str
    actor: str | None
    ci_system: str | None
    ci_url: str | None
    reason_line: str
    reason: str
    running: bool


def filter_values(params: Mapping[str, str]) -> dict[str, str]:
    """The filters as typed in the URL, each stripped; the page's limit too when given."""
    values = {name: params.get(name, "").strip() for name in FILTERS}
    values["limit"] = params.get("limit", "").strip()
    return values


def page_size(text: str) -> int:
    """The runs page's `limit`: PAGE_SIZE unless given, at most PAGE_SIZE_MAX."""
    if not text:
        return PAGE_SIZE
    if not text.isdigit() or not 1 <= int(text) <= PAGE_SIZE_MAX:
        shown = text if len(text) <= 40 else text[:40] + "..."
        raise PageSizeError(f"limit {shown!r}: the runs page shows a whole number from 1 to {PAGE_SIZE_MAX} of runs")
    return int(text)


def run_row(document: dict[str, Any], now: str) -> RunRow:
    ci = document.get("ci") if isinstance(document.get("ci"), dict) else {}
    reason = str(document.get("reason") or "")
    return RunRow(
        run_id=document["run_id"],
        href=run_path(document["run_id"]),
        operation=str(document.get("operation") or ""),
        target=str(document.get("target") or ""),
        target_short=target_label(str(document.get("target") or "")),
        status=str(document.get("status") or ""),
        family=run_status_family(str(document.get("status") or "")),
        state=str(document.get("state") or ""),
        started=utc_time(document.get("started_at")),
        started_at=str(document.get("started_at") or ""),
        duration=run_duration(document, now),
        started_by=str(document.get("started_by") or ""),
        actor=ci.get("actor") if ci else None,
        ci_system=ci.get("system") if ci else None,
        ci_url=web_link(ci.get("url")) if ci else None,
        reason_line=first_line(reason),
        reason=reason,
        running=not document.get("finished_at"),
    )


def target_label(target: str) -> str:
    """What a person calls a target: `demo/web` for `ecs:ACCOUNT:REGION:demo/web`, the group of an ASG key, the
    release of a fleet's key."""
    kind, _, rest = target.partition(":")
    if kind in ("ecs", "asg", "fleet") and rest:
        return rest.rsplit(":", 1)[-1]
    return target


def older_link(values: Mapping[str, str], rows: Sequence[RunRow], limit: int) -> str | None:
    """The same filters, runs started before the last one shown; None when this page is the last."""
    if len(rows) < limit or not rows:
        return None
    return page_link(values, until=rows[-1].started_at)


def page_link(values: Mapping[str, str], **changes: str) -> str:
    """`/?...` with the filters given (empty ones left out) and `changes` applied."""
    query = {name: value for name, value in {**values, **changes}.items() if value}
    return "/?" + urlencode(query) if query else "/"
