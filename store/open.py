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


def open_store(explicit: str | None = None) -> RunStore:
    from store.sqlite_store import open_sqlite_store

    return open_sqlite_store(resolve_store_path(explicit))
