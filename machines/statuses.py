"""The statuses of a run: the engine's own, whatever the operation, and those its machine declares final.

Light on purpose (no pydantic, no transitions): `ecsops runs --status` checks its value against these.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from machines.definition import MachineDefinition

RUNNING: Final = "running"  # a process drives it (or did, until it was killed)
INTERRUPTED: Final = "interrupted"  # stopped resumably: a signal, AWS unavailable, a lost lock
PAUSED: Final = "paused"  # waiting for a person (a deploy at a PAUSE lifecycle hook); resumable
FAILED: Final = "failed"  # an unexpected error ended it (resuming would meet it again)
ABANDONED: Final = "abandoned"  # a person gave it up (`ecsops abandon`)

ENGINE_STATUSES = (RUNNING, INTERRUPTED, PAUSED, FAILED, ABANDONED)


def known_statuses(definitions: Iterable[MachineDefinition]) -> tuple[str, ...]:
    """Every status a run can have: running, then each machine's final statuses as declared, then the engine's
    others; each once."""
    declared = [status for definition in definitions for status in definition.final_statuses.values()]
    return tuple(dict.fromkeys([RUNNING, *declared, *ENGINE_STATUSES]))
