"""Test hook: SIGKILL this process at a named point, to prove resume from real crashes."""

from __future__ import annotations

import os
import signal

CRASH_ENV = "ECSOPS_CRASH_AT"


def crash_point(name: str) -> None:
    """Kill the process with SIGKILL if ECSOPS_CRASH_AT names this point (comma-separated list).

    Points are `enter:<state>` (before the state's handler runs), `intent:<step>` (intent committed,
    call not made), `call:<step>` (call made, result not recorded) and `checkpoint:<state>` (a
    transition into state committed).
    """
    wanted = os.environ.get(CRASH_ENV)
    if wanted and name in wanted.split(","):
        os.kill(os.getpid(), signal.SIGKILL)
