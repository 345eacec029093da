"""The ui's web application: its routes (runs page, run and item pages, the JSON API), read-only, with safe headers."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ecsops.cli.run_ids import RUN_ID, RUN_ID_FORM
from ecsops.cli.ui import api
from ecsops.cli.ui.pages import ITEM_ID, Pages
from ecsops.cli.ui.store_access import StoreAccess, StoreUnavailable

LOG = logging.getLogger("ecsops.ui")
STATIC = Path(__file__).parent / "static"
ALLOWED_METHODS = ("GET", "HEAD")
# No inline script or style can run: the page's only script and style sheet are files of the package.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-resource-policy", b"same-origin"),
)
RUNS_PREFIX = "/runs/"
ITEMS_INFIX = "/items/"


def create_app(store: str | None) -> Starlette:
    """The ui over the store at `store` (a SQLite path or dynamodb://TABLE; None: ECSOPS_STORE, else the default).

    Every endpoint is a plain function, run by Starlette in its thread pool: it opens its store reader, reads and
    closes it in that one thread (sqlite3 connections belong to the thread that opened them)."""
    access = StoreAccess(store)
    pages = Pages(access)

    def runs_page(request: Request) -> Response:
        return _page(pages, lambda: pages.runs(dict(request.query_params)))

    def runs_api(request: Request) -> Response:
        return _json(lambda: api.runs(access, dict(request.query_params)))

    def run_api(request: Request) -> Response:
        run_id = str(request.path_params["run_id"])
        if not RUN_ID.fullmatch(run_id):
            return api.error(404, f"not a run id: expected {RUN_ID_FORM}")
        return _json(lambda: api.run(access, run_id))

    def run_pages(request: Request) -> Response:
        where = run_path_parts(request.scope)
        if where is None:
            return pages.error(404, "Not a run", f"This address names no run: a run id is {RUN_ID_FORM}.")
        run_id, item_id = where
        live = request.query_params.get("part") == "live"
        seen = request.headers.get("if-none-match")
        if item_id is None:
            return _page(pages, lambda: pages.run(run_id, live=live, seen=seen))
        return _page(pages, lambda: pages.item(run_id, item_id, live=live, seen=seen))

    app = Starlette(
        routes=[
            Route("/", runs_page),
            Route("/api/runs", runs_api),
            Route("/api/runs/{run_id:path}", run_api),
            Route("/runs/{rest:path}", run_pages),
            Mount("/static", app=StaticFiles(directory=STATIC)),
        ],
        middleware=[Middleware(ReadOnlyGuard)],
    )
    app.state.store = access
    return app


class ReadOnlyGuard:
    """Answers every method but GET and HEAD with 405 before any route sees it, and puts the security headers on
    every response: pages, API, static files and errors."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in SECURITY_HEADERS if name not in present]
                message = {**message, "headers": headers}
            await send(message)

        if scope["method"] not in ALLOWED_METHODS:
            refused = PlainTextResponse("405 Method Not Allowed: ecsops ui is read-only\n", status_code=405,
                                        headers={"Allow": ", ".join(ALLOWED_METHODS)})
            await refused(scope, receive, secured)
            return
        await self.app(scope, receive, secured)


def run_path_parts(scope: Scope) -> tuple[str, str | None] | None:
    """(run id, item id or None) of a /runs/... path; None when an id is not well formed.

    Read from the raw path: the ui writes a '/' inside an id as %2F, so `/runs/RUN/items/ITEM` is an item page
    only where the address says so, whatever the ids hold. Typed by hand, /runs/fleet-1/items/demo/web works too:
    the first /items/ ends the run id."""
    raw = scope.get("raw_path")
    path = raw.decode("latin-1") if isinstance(raw, bytes | bytearray) else str(scope.get("path", ""))
    if not path.startswith(RUNS_PREFIX):
        return None
    run_part, found, item_part = path[len(RUNS_PREFIX):].partition(ITEMS_INFIX)
    run_id = unquote(run_part)
    if not RUN_ID.fullmatch(run_id):
        return None
    if not found:
        return run_id, None
    item_id = unquote(item_part)
    return (run_id, item_id) if ITEM_ID.fullmatch(item_id) else None


def _page(pages: Pages, render: Callable[[], Response]) -> Response:
    """A page, or the page saying what went wrong: 503 with the CLI's message for a store that cannot be read, 500
    for a fault of the ui itself (logged; the page shows no traceback)."""
    try:
        return render()
    except StoreUnavailable as exc:
        return pages.error(503, "The store cannot be read", str(exc))
    except Exception:
        LOG.exception("ecsops ui: a page failed")
        return pages.error(500, "Something went wrong", "The page could not be made; the server's log says why.")


def _json(render: Callable[[], Response]) -> Response:
    try:
        return render()
    except StoreUnavailable as exc:
        return api.error(503, str(exc))
    except Exception:
        LOG.exception("ecsops ui: an API request failed")
        return api.error(500, "internal error: the server's log says why")

