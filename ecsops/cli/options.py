"""Options and helpers shared by every command: the global store option, --output, usage errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from ecsops.cli import exit_codes

if TYPE_CHECKING:
    from store.base import RunStore
    from store.reader import RunReader

OUTPUT_HELP = "text (for people) or json (one document on stdout)."
OutputOption = Annotated[
    str,
    typer.Option("--output", "-o", metavar="text|json", help=OUTPUT_HELP, case_sensitive=False),
]

DEFAULT_STORE_HELP = "default ~/.local/state/ecsops/ecsops.db"
# Every command that reads or writes runs takes --store after its name too (`ecsops runs --store X`);
# it wins over the one given before the command name and over ECSOPS_STORE.
STORE_HELP = f"The run store, a SQLite file ({DEFAULT_STORE_HELP}); same as `ecsops --store`."
StoreOption = Annotated[str | None, typer.Option("--store", metavar="PATH", show_default=False, help=STORE_HELP)]


class CliState:
    store_path: str | None = None


STATE = CliState()


def use_store(store: str | None) -> None:
    """Honour a command's own --store (given after the command name)."""
    if store is not None:
        STATE.store_path = store


def check_output(output: str) -> str:
    value = output.lower()
    if value not in ("text", "json"):
        fail_usage(f"--output must be text or json, not {output!r}")
    return value


def fail_usage(message: str) -> NoReturn:
    """Bad input: one `error:` line naming what to fix and the help to read, exit 2 (ecsops.cli.usage)."""
    from ecsops.cli.usage import usage_error

    raise typer.Exit(usage_error(message))


def fail(message: str, code: int = exit_codes.FAILED) -> NoReturn:
    """Not the input's fault, and nothing was done (AWS could not be read, say): `error: MESSAGE`, exit 1."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def open_store_or_exit(*, for_reading: bool = False) -> RunStore:
    """The configured store, or exit 2 with the store's own message.

    for_reading: the command only reads (runs, status); a store that is read-only here is read as it is.
    """
    from store.errors import StoreError
    from store.open import open_store

    try:
        return open_store(STATE.store_path, for_reading=for_reading, sleep=retry_sleep())
    except StoreError as exc:
        fail_usage(str(exc))


def open_reader_or_exit() -> RunReader:
    """The configured store for `status` and `runs` (light on a current SQLite store), or exit 2 as above."""
    from store.errors import StoreError
    from store.reader import open_reader

    try:
        return open_reader(STATE.store_path)
    except StoreError as exc:
        fail_usage(str(exc))


def retry_sleep() -> Callable[[float], None] | None:
    """How a DynamoDB store waits between retries: the run's clock (the simulator's under ECSOPS_CLOCK=sim)."""
    import threading

    from ecsops.cli.sim_clock import clock_from_environment

    try:
        clock: Any = clock_from_environment()
    except ValueError:
        return None
    if clock is None:
        return None
    never = threading.Event()
    return lambda seconds: clock.sleep(seconds, never)


