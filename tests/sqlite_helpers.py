"""What the SQLite store tests look at below the store's own interface: a table's rows, the migrations applied, and
the SQL statements a piece of code runs."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock


def table_rows(path: Path, table: str) -> list[tuple[Any, ...]]:
    """Every row of `table` in the SQLite file at `path`, in the order written."""
    conn = sqlite3.connect(path)
    try:
        return list(conn.execute(f"SELECT * FROM {table} ORDER BY rowid"))
    finally:
        conn.close()


def applied_migrations(path: Path) -> set[str]:
    """The names of the migrations the store at `path` has applied."""
    conn = sqlite3.connect(path)
    try:
        return {row[0] for row in conn.execute("SELECT name FROM _sqlite_migrations")}
    finally:
        conn.close()


@contextmanager
def traced_statements() -> Iterator[list[str]]:
    """The SQL statements of SQLite connections opened inside, as run."""
    statements: list[str] = []
    connect = sqlite3.connect

    def traced(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        connection = connect(*args, **kwargs)
        connection.set_trace_callback(statements.append)
        return connection

    with mock.patch.object(sqlite3, "connect", traced):
        yield statements
