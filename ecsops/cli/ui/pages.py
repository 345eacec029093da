"""The ui's HTML pages: the runs page, a run's page, an item's page and the error page, from Jinja2 templates with
autoescaping on, so every value from AWS or from a run is written escaped."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader
from starlette.responses import HTMLResponse, Response

from ecsops.cli.run_listing import QueryError
from ecsops.cli.ui import charts, items_view, run_view
from ecsops.cli.ui.api import entity_tag, query_of, run_documents
from ecsops.cli.ui.changes_view import task_definition_diff
from ecsops.cli.ui.display import item_path, now_iso, run_path, short_name, utc_time
from ecsops.cli.ui.runs_view import PageSizeError, filter_values, older_link, page_link, page_size, run_row
from ecsops.cli.ui.store_access import StoreAccess
from store.errors import RunNotFoundError

TEMPLATES = Path(__file__).parent / "templates"
# What an item's id may be in a URL: instance ids, CLUSTER/SERVICE, a plugin's own ids.
ITEM_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+=-]{0,254}")
NO_STORE = {"Cache-Control": "no-store"}


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, default=str, ensure_ascii=False)


def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(pretty=_pretty, utc=utc_time, short=short_name, words=lambda s: str(s).replace("_", " "))
    env.globals.update(run_path=run_path, item_path=item_path, outcome=run_view.outcome)
    return env


class Pages:
    """Renders each page from what the store holds now."""

    def __init__(self, access: StoreAccess) -> None:
        self.access = access
        self.env = environment()

    def _html(self, template: str, code: int = 200, headers: dict[str, str] | None = None, **context: Any
              ) -> HTMLResponse:
        body = self.env.get_template(template).render(store=self.access.describe(), **context)
        return HTMLResponse(body, status_code=code, headers={**NO_STORE, **(headers or {})})

    def error(self, status: int, title: str, message: str) -> HTMLResponse:
        return self._html("error.html", status, status=status, title=title, message=message)

    def runs(self, params: dict[str, str]) -> Response:
        from ecsops.cli.operations import BUILTIN, run_statuses

        values = filter_values(params)
        context: dict[str, Any] = {"values": values, "rows": [], "older": None, "error": None,
                                   "operations": sorted(BUILTIN), "statuses": run_statuses(),
                                   "newest": page_link(values, until="") if values["until"] else None}
        try:
            limit = page_size(values["limit"])
            query = query_of(params, default_limit=limit)
        except (QueryError, PageSizeError) as exc:
            context["error"] = str(exc)
            return self._html("runs.html", 400, **context)
        now = now_iso()
        rows = [run_row(document, now) for document in run_documents(self.access, query)]
        context.update(rows=rows, older=older_link(values, rows, limit), limit=limit)
        return self._html("runs.html", **context)

    def run(self, run_id: str, *, live: bool, seen: str | None) -> Response:
        from ecsops.cli.ui.api import run_document

        try:
            document = run_document(self.access, run_id)
        except RunNotFoundError as exc:
            return self.error(404, "No such run", str(exc))
        tag = entity_tag(document)
        if live and seen == tag:
            return Response(status_code=304, headers={**NO_STORE, "ETag": tag})
        now = now_iso()
        messages, hidden = run_view.messages(document)
        context: dict[str, Any] = {
            "doc": document,
            "header": run_view.header(document, now),
            "changes": run_view.changes(document),
            "diff": task_definition_diff(document),
            "lock": run_view.lock(document),
            "steps": run_view.steps(document),
            "failures": _failures(document),
            "instances": items_view.instances(document),
            "services": items_view.services(document),
            "transitions": run_view.transitions(document),
            "messages": messages,
            "hidden_messages": hidden,
            "notes": run_view.notes(document),
            "timeline": charts.timeline(document, now=now),
            "machines": charts.machines(document),
            "etag": tag,
            "live_url": run_path(run_id) + "?part=live",
            "item": None,
        }
        template = "run_live_root.html" if live else "run.html"
        return self._html(template, headers={"ETag": tag}, **context)

    def item(self, run_id: str, item_id: str, *, live: bool, seen: str | None) -> Response:
        from ecsops.cli.ui.api import run_with_items

        try:
            document, items = run_with_items(self.access, run_id)
        except RunNotFoundError as exc:
            return self.error(404, "No such run", str(exc))
        record = items.get(item_id)
        entry = items_view.item_entry(document, item_id)
        if record is None and entry is None:
            return self.error(404, "No such item", f"run {run_id} has no item {item_id!r}")
        tag = entity_tag([document, record])
        if live and seen == tag:
            return Response(status_code=304, headers={**NO_STORE, "ETag": tag})
        now = now_iso()
        own = {**document,
               "transitions": [t for t in document.get("transitions") or [] if t.get("item") in (None, item_id)],
               "messages": [m for m in document.get("messages") or [] if m.get("item") in (None, item_id)]}
        messages, hidden = run_view.messages(document, item_id, every_item=False)
        state = record.state if record is not None else str((entry or {}).get("state") or "")
        context: dict[str, Any] = {
            "doc": document,
            "header": run_view.header(document, now),
            "item": {"id": item_id, "state": state, "family": run_view.item_family(state), "entry": entry or {}},
            "changes": run_view.changes(entry) if entry else [],
            "diff": task_definition_diff(document, item_id, record.data if record is not None else None),
            "failures": run_view.failures((entry or {}).get("task_failures")),
            "facts": items_view.facts(record.data if record is not None else {}),
            "transitions": run_view.transitions(document, item_id, every_item=False),
            "messages": messages,
            "hidden_messages": hidden,
            "timeline": charts.timeline(own, now=now),
            "machines": charts.machines(document, item_id),
            "etag": tag,
            "live_url": item_path(run_id, item_id) + "?part=live",
            "finished": bool(document.get("finished_at")),
        }
        template = "item_live_root.html" if live else "item.html"
        return self._html(template, headers={"ETag": tag}, **context)


def _failures(document: dict[str, Any]) -> list[run_view.FailureGroup]:
    """The run's task failures; a fleet's, each service's, named by the service."""
    groups = run_view.failures(document.get("task_failures"))
    for service in document.get("services") or []:
        for group in run_view.failures(service.get("task_failures")):
            groups.append(run_view.FailureGroup(f"{service.get('name')} \u00b7 {group.deployment_id}",
                                                group.failed_tasks, group.reasons))
    return groups
