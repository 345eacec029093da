"""Options and helpers shared by every command: the global store option, --output, usage errors."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from ecsops.cli import exit_codes

if TYPE_CHECKING:
    from store.base import RunStore
    from store.reader import RunReader

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


def open_store_or_exit() -> RunStore:
    """The configured store, or exit 2 with the store's own message."""
    from store.errors import StoreError
    from store.open import open_store

    try:
        return open_store(STATE.store_path)
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
