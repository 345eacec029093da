"""Exit codes of the command-line contract (DESIGN.md §4)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from store.models import RunRecord

SUCCEEDED = 0
FAILED = 1
BAD_INPUT = 2
ROLLED_BACK = 3
ROLLBACK_FAILED = 4
LOCKED = 5
SUPERSEDED = 6
PAUSED = 7  # paused at a deployment lifecycle hook, awaiting approval (--on-pause exit); resumable
INTERRUPTED = 130

_BY_STATUS = {
    "succeeded": SUCCEEDED,
    "failed": FAILED,
    "rolled_back": ROLLED_BACK,
    "rollback_failed": ROLLBACK_FAILED,
    "superseded": SUPERSEDED,
    "abandoned": FAILED,
    "paused": PAUSED,
    "running": FAILED,
}


def exit_code_for(run: RunRecord) -> int:
    """The exit code a run's outcome maps to; a run stopped by an error (not a signal) is 1."""
    if run.status == "interrupted":
        return FAILED if run.reason else INTERRUPTED
    return _BY_STATUS[run.status]
