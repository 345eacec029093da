"""Exit codes of the command-line contract (README: Run documents, statuses and exit codes).

The table is the CLI's, in one place: the statuses with an exit code of their own. Every other status a run can
end in (an engine status such as failed or abandoned, or a final status an operation's machine declares) is 1.
"""

from __future__ import annotations

from typing import Protocol

SUCCEEDED = 0
FAILED = 1
BAD_INPUT = 2
ROLLED_BACK = 3
ROLLBACK_FAILED = 4
LOCKED = 5
SUPERSEDED = 6
PAUSED = 7  # paused at a deployment lifecycle hook, awaiting approval (--on-pause exit); resumable
INTERRUPTED = 130

BY_STATUS = {
    "succeeded": SUCCEEDED,
    "rolled_back": ROLLED_BACK,
    "rollback_failed": ROLLBACK_FAILED,
    "superseded": SUPERSEDED,
    "paused": PAUSED,
}


class RunOutcome(Protocol):
    @property
    def status(self) -> str: ...
    @property
    def reason(self) -> str | None: ...


def exit_code_for(run: RunOutcome) -> int:
    """The exit code a run's outcome maps to; a run stopped by an error (not a signal) is 1."""
    if run.status == "interrupted":
        return FAILED if run.reason else INTERRUPTED
    return BY_STATUS.get(run.status, FAILED)
