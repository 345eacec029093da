"""Test hooks: SIGKILL (or SIGSTOP) this process at a named point, to prove resume and fencing for real."""

from __future__ import annotations

import os
import signal

CRASH_ENV = "ECSOPS_CRASH_AT"
STOP_ENV = "ECSOPS_STOP_AT"


def crash_point(name: str) -> None:
    """Kill the process with SIGKILL if ECSOPS_CRASH_AT names this point (comma-separated list).

    ECSOPS_STOP_AT names points where the process stops itself with SIGSTOP instead.
    Points are `enter:<state>` (before the state's handler runs), `intent:<step>` (intent committed,
    call not made), `call:<step>` (call made, result not recorded) and `checkpoint:<state>` (a
    transition into state committed).
    """
    wanted = os.environ.get(CRASH_ENV)
    if wanted and name in wanted.split(","):
        os.kill(os.getpid(), signal.SIGKILL)
    stop_at = os.environ.get(STOP_ENV)
    if stop_at and name in stop_at.split(","):
        # Freeze the whole process (heartbeat included) as a long GC pause or a suspended VM would;
        # it carries on from here when it receives SIGCONT.
        os.kill(os.getpid(), signal.SIGSTOP)
