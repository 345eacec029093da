"""Options and helpers shared by every command: the global store option, --output, usage errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from ecsops.cli import exit_codes

if TYPE_CHECKING:
    from store.base import RunStore

OutputOption = Annotated[
    str,
    typer.Option("--output", "-o", help="text (for people) or json (one document on stdout).",
                 case_sensitive=False),
]


class CliState:
    store_path: str | None = None


STATE = CliState()


def check_output(output: str) -> str:
    value = output.lower()
    if value not in ("text", "json"):
        fail_usage(f"--output must be text or json, not {output!r}")
    return value


def fail_usage(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(exit_codes.BAD_INPUT)


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


