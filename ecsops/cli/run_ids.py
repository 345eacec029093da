"""The form a --run-id must have: it names a run in the store, in file names and in CI logs."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime

RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}")
RUN_ID_FORM = "a letter or digit, then up to 127 letters, digits, '.', '_', ':', '/' or '-'"
_SHOWN = 40


def run_id_problem(run_id: str | None) -> str | None:
    """None when run_id is absent or well formed; else the message saying what is wrong with it."""
    if run_id is None or RUN_ID.fullmatch(run_id):
        return None
    shown = run_id if len(run_id) <= _SHOWN else f"{run_id[:_SHOWN]}... ({len(run_id)} characters)"
    return f"--run-id {shown!r}: expected {RUN_ID_FORM}"


def new_run_id(operation: str) -> str:
    """A run id for a run started without --run-id: the operation, when, and a few random characters."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    return f"{operation}-{stamp}-{secrets.token_hex(3)}"
