"""Where the store lives and how callers open it without knowing the backend."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from store.location import (
    DEFAULT_STORE_PATH,
    STORE_ENV,
    DynamoLocation,
    SqliteLocation,
    parse_store_location,
    raw_store_location,
)

if TYPE_CHECKING:
    # Only for the annotation: the backends are imported when one is opened.
    from store.base import RunStore

__all__ = ["DEFAULT_STORE_PATH", "STORE_ENV", "open_location", "open_store", "resolve_store_path"]


def resolve_store_path(explicit: str | None) -> Path:
    """--store wins, then ECSOPS_STORE, then the default under ~/.local/state (SQLite stores only)."""
    location = parse_store_location(raw_store_location(explicit))
    if not isinstance(location, SqliteLocation):
        raise ValueError(f"store {location.describe()} is not a file")
    return location.path


def open_store(
    explicit: str | None = None, *, for_reading: bool = False, sleep: Callable[[float], None] | None = None
) -> RunStore:
    """The configured store: a dynamodb://TABLE URL opens the shared table, anything else a SQLite file
    (created and migrated if needed).

    for_reading: the caller only reads (`runs`, `status`). An existing SQLite store that cannot be written
    here (a copy in a read-only place, for an audit) is then opened read-only, with no migration writes.
    sleep: how a DynamoDB store waits between retries (the run's clock); time.sleep by default.
    """
    return open_location(parse_store_location(raw_store_location(explicit)), for_reading=for_reading, sleep=sleep)


def open_location(
    location: SqliteLocation | DynamoLocation,
    *,
    for_reading: bool = False,
    sleep: Callable[[float], None] | None = None,
) -> RunStore:
    """Open a parsed location. boto3 is imported only for a DynamoDB store (start-up time of --help)."""
    if isinstance(location, DynamoLocation):
        from store.dynamodb_store import open_dynamodb_store

        return open_dynamodb_store(location, sleep=sleep)
    return _open_sqlite(location.path, for_reading=for_reading)


def _open_sqlite(path: Path, *, for_reading: bool) -> RunStore:
    from store.errors import StoreOpenError
    from store.sqlite_open import is_writable
    from store.sqlite_store import open_sqlite_store

    if for_reading and path.is_file():
        if not is_writable(path):
            return open_sqlite_store(path, read_only=True)
        try:
            return open_sqlite_store(path)
        except StoreOpenError as writable_failure:
            try:
                return open_sqlite_store(path, read_only=True)
            except StoreOpenError:
                raise writable_failure from None
    return open_sqlite_store(path)
