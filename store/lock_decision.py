"""Whether a run may take a target's lock: one pure decision, which both backends enforce.

SQLite decides inside one IMMEDIATE transaction and writes what was decided. DynamoDB writes what was decided
under the condition that the lock item is still exactly as it was seen (and, for a take-over from a finished
holder, that the holder's run is still finished or absent), and decides again from what it then finds.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from store.errors import LockHeldError
from store.models import LockRecord


class Verdict(enum.Enum):
    FREE = "free"  # nobody holds it: taken, token + 1 (1 for a target never locked)
    RENEW = "renew"  # this run's own process holds it: the lease is extended, token unchanged
    TAKE_OVER = "take_over"  # held, but its holder may be replaced: taken, token + 1
    REFUSE = "refuse"  # held by a live run: LockHeldError


@dataclass(frozen=True)
class LockRequest:
    """Who asks: the run, the process driving it, and the owner it proved gone (a compare-and-swap), if any."""

    run_id: str
    owner: str
    replace_owner: str | None = None


@dataclass(frozen=True)
class LockDecision:
    verdict: Verdict
    reason: str  # why, in words (for a refusal, the LockHeldError's message)
    # A take-over allowed only because the holder's run has finished or does not exist: DynamoDB conditions
    # the write on that still being so.
    holder_finished: bool = False

    def token(self, lock: LockRecord | None) -> int:
        """The fencing token of the lock once this decision is written (a refusal writes nothing)."""
        previous = 0 if lock is None else lock.token
        return previous if self.verdict in (Verdict.RENEW, Verdict.REFUSE) else previous + 1


def decide_lock(
    lock: LockRecord | None,
    request: LockRequest,
    *,
    now: float,
    skew_margin_seconds: float,
    holder_finished: Callable[[str], bool],
) -> LockDecision:
    """What the lock's next write is, from the lock as it is (None: the target was never locked).

    holder_finished(run_id) tells whether the holder's run has finished or does not exist; it is asked only when
    nothing else decides (reading the holder costs a query), so a lock held under a live lease by another process
    of the same run, or by another run, is refused only after it.
    """
    if lock is None:
        return LockDecision(Verdict.FREE, "the target was never locked")
    if lock.run_id is None:
        return LockDecision(Verdict.FREE, "the lock was released")
    if lock.run_id == request.run_id and lock.owner == request.owner:
        return LockDecision(Verdict.RENEW, "this process holds it for this run")
    if lock.expires_at + skew_margin_seconds <= now:
        return LockDecision(Verdict.TAKE_OVER, f"the lease of run {lock.run_id} expired")
    if request.replace_owner is not None and request.replace_owner == lock.owner and lock.run_id == request.run_id:
        return LockDecision(Verdict.TAKE_OVER, f"process {lock.owner}, which drove this run, is gone")
    if holder_finished(lock.run_id):
        return LockDecision(
            Verdict.TAKE_OVER, f"run {lock.run_id} has finished or does not exist", holder_finished=True
        )
    return LockDecision(Verdict.REFUSE, str(refusal(lock, request)))


def refusal(lock: LockRecord, request: LockRequest) -> LockHeldError:
    """The error for a lock held by a live run: the other process when it drives the same run, else the run."""
    assert lock.run_id is not None
    holder_owner = lock.owner if lock.run_id == request.run_id else None
    return LockHeldError(lock.target, lock.run_id, lock.expires_at, holder_owner=holder_owner)
