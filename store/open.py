"""Where the store lives and how callers open it without knowing the backend."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # Only for the annotation: store.base pulls pydantic, which `status` and `runs` do without (store/reader.py).
    from store.base import RunStore

DEFAULT_STORE_PATH = Path("~/.local/state/ecsops/ecsops.db")
STORE_ENV = "ECSOPS_STORE"


def resolve_store_path(explicit: str | None) -> Path:
    """--store wins, then ECSOPS_STORE, then the default under ~/.local/state."""
    raw = explicit or os.environ.get(STORE_ENV) or str(DEFAULT_STORE_PATH)
    return Path(raw).expanduser()


def open_store(explicit: str | None = None, *, for_reading: bool = False) -> RunStore:
    """The store, created and migrated if needed.

    for_reading: the caller only reads (`runs`, `status`). An existing store that cannot be written
    here (a copy in a read-only place, for an audit) is then opened read-only, with no migration writes.
    """
    from store.errors import StoreOpenError
    from store.sqlite_open import is_writable
    from store.sqlite_store import open_sqlite_store

    path = resolve_store_path(explicit)
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
