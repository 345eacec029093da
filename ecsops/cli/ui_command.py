"""`ecsops ui`: serve the read-only web view of the run store on this machine (Starlette and uvicorn, imported only
when the command runs)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer

from ecsops.cli.options import STATE, fail, fail_usage, use_store

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
MISSING_EXTRA = "ecsops ui needs the ui extra: pip install 'ecsops[ui]'"

UiStoreOption = Annotated[
    str | None,
    typer.Option(
        "--store", metavar="PATH|dynamodb://TABLE", show_default=False,
        help="The run store to show: a SQLite file, or dynamodb://TABLE[?region=R&profile=P] for a team's shared "
        "store; same as `ecsops --store` (default ECSOPS_STORE, else ~/.local/state/ecsops/ecsops.db).",
    ),
]


def ui(
    host: Annotated[
        str,
        typer.Option(metavar="HOST", help="The address to listen on. Only this machine can reach the default, "
                     "127.0.0.1; the page has no authentication, so any other address lets whoever reaches it "
                     "read the run history."),
    ] = DEFAULT_HOST,
    port: Annotated[str, typer.Option(metavar="PORT", help="The TCP port to listen on, 1 to 65535.")]
    = str(DEFAULT_PORT),
    open_browser: Annotated[
        bool, typer.Option("--open", help="Open the page in the default web browser once it is served.")
    ] = False,
    store_path: UiStoreOption = None,
) -> None:
    """A local, read-only web view of the run store: the runs (filtered as `ecsops runs` filters them), each run's
    outcome, timeline, machine diagram, steps and failures, and a running run's progress as it happens.

    GET only; `/api/runs` and `/api/runs/RUN_ID` answer what `ecsops runs --output json` and
    `ecsops status RUN_ID --output json` print. Ctrl-C stops it. Needs the ui extra: pip install 'ecsops[ui]'.
    """
    use_store(store_path)
    number = check_port(port)
    try:
        import jinja2  # noqa: F401
        import starlette  # noqa: F401
        import uvicorn
    except ImportError:
        fail_usage(MISSING_EXTRA)
    from ecsops.cli.ui.app import create_app
    from ecsops.cli.ui.store_access import StoreUnavailable

    app = create_app(STATE.store_path)
    try:
        app.state.store.check()
    except StoreUnavailable as exc:
        fail_usage(str(exc))
    warn_if_exposed(host, number, lambda line: typer.echo(line, err=True))
    url = page_url(host, number)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=number, log_level="warning", access_log=False,
                                          lifespan="off"))
    announce = f"ecsops ui: {url} (store {app.state.store.describe()}; read-only; Ctrl-C stops it)"
    import threading

    threading.Thread(target=_when_serving, args=(server, announce, url, open_browser), daemon=True).start()
    try:
        server.run()
    except OSError as exc:
        fail(f"cannot serve on {host}:{number}: {exc}")
    finally:
        app.state.store.close()
    if not server.started:
        fail(f"cannot serve on {host}:{number}; see the message above")


def check_port(text: str) -> int:
    """--port as a number from 1 to 65535, else a usage error (exit 2)."""
    value = text.strip()
    if not value.isdigit() or not 1 <= int(value) <= 65535:
        shown = value if len(value) <= 20 else value[:20] + "..."
        fail_usage(f"--port {shown!r}: expected a whole number from 1 to 65535")
    return int(value)


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and localhost: addresses only this machine can reach."""
    import ipaddress

    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def exposure_warning(host: str, port: int) -> str | None:
    """The one-line warning for an address other machines may reach; None for a loopback address."""
    if is_loopback(host):
        return None
    return (f"warning: {host}:{port} is not a loopback address and the page has no authentication: anyone who can "
            f"reach {host}:{port} can read the run history")


def warn_if_exposed(host: str, port: int, say: Callable[[str], Any]) -> bool:
    """Say exposure_warning through `say` when there is one; whether it was said."""
    warning = exposure_warning(host, port)
    if warning is not None:
        say(warning)
    return warning is not None


def page_url(host: str, port: int) -> str:
    name = host.strip()
    shown = f"[{name.strip('[]')}]" if ":" in name else name
    return f"http://{shown}:{port}/"


def _when_serving(server: Any, announce: str, url: str, open_browser: bool) -> None:
    """Once uvicorn listens: say where, and open the browser if asked."""
    import time
    import webbrowser

    while not server.started and not server.should_exit:
        time.sleep(0.05)
    if not server.started:
        return
    typer.echo(announce, err=True)
    if open_browser:
        webbrowser.open(url)

