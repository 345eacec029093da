"""The ui's JSON API: `/api/runs` and `/api/runs/{id}` answer exactly what `ecsops runs --output json` and
`ecsops status ID --output json` print."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse, Response

from ecsops.cli.run_listing import QueryError, RunQuery, list_histories, parse_query
from ecsops.cli.ui.runs_view import FILTERS
from ecsops.cli.ui.store_access import StoreAccess
from store.errors import RunNotFoundError

if TYPE_CHECKING:
    from store.models import ItemRecord

NO_STORE = {"Cache-Control": "no-store"}


def query_of(params: dict[str, str], *, default_limit: str | int = 50) -> RunQuery:
    """The listing the URL's query parameters ask for, named as `ecsops runs`'s options; QueryError if one is bad."""
    return parse_query(**{name: params.get(name) for name in FILTERS}, limit=params.get("limit") or default_limit)


def run_documents(access: StoreAccess, query: RunQuery) -> list[dict[str, Any]]:
    """The run documents `ecsops runs` lists for the query, newest first."""
    from ecsops.cli.documents import history_document

    with access.reader() as reader:
        return [history_document(history) for history in list_histories(reader, query)]


def run_document(access: StoreAccess, run_id: str) -> dict[str, Any]:
    """What `ecsops status RUN_ID --output json` prints; RunNotFoundError for a run the store does not have."""
    from ecsops.cli.documents import run_document as document_of

    with access.reader() as reader:
        return document_of(reader, reader.get_run(run_id))


def run_with_items(access: StoreAccess, run_id: str) -> tuple[dict[str, Any], dict[str, ItemRecord]]:
    """The run's document and its items' records by id (what each item recorded: its facts)."""
    from ecsops.cli.documents import run_document as document_of

    with access.reader() as reader:
        document = document_of(reader, reader.get_run(run_id))
        history = reader.history(run_id)
    return document, {item.item_id: item for item in (history.items if history is not None else [])}


def runs(access: StoreAccess, params: dict[str, str]) -> Response:
    try:
        query = query_of(params)
    except QueryError as exc:
        return error(400, str(exc))
    return _json_text(json.dumps(run_documents(access, query), indent=2, default=str))


def run(access: StoreAccess, run_id: str) -> Response:
    try:
        document = run_document(access, run_id)
    except RunNotFoundError as exc:
        return error(404, str(exc))
    return _json_text(json.dumps(document, indent=2, default=str))


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=NO_STORE)


def _json_text(text: str) -> Response:
    # The CLI's own serialisation (indent 2, default=str), so a document reads the same in both.
    return Response(text + "\n", media_type="application/json", headers=NO_STORE)


def entity_tag(document: Any) -> str:
    """An entity tag for a run document: it changes whenever anything recorded about the run does."""
    text = json.dumps(document, sort_keys=True, default=str)
    return '"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'
