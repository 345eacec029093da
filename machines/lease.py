"""A run's hold on its target: the fence it writes under, a heartbeat that keeps the lease, the pre-call check."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping

from store.base import RunStore
from store.errors import LockLostError, StoreBusyError, StoreError, StoreWriteError
from store.models import Fence

# A mutating call is sent only with at least this share of the lease left (the rest is margin for a
# process that stalls between the check and the call).
CALL_MARGIN_SHARE = 1 / 3


class Lease:
    """Renews the run's lease every lease/3 from its own thread, whatever the handler is doing.

    The heartbeat never stops the run itself: it remembers what went wrong, and the run's thread
    raises it at its next check (between polls, before a mutating call). A lost lock or a store that
    is gone is final; a busy or momentarily unwritable store is retried at the next beat.

    `holds` (target -> fence): the other locks the run holds (a fleet's services), renewed at every beat with
    its own; losing one is as final as losing its own. `hold_of_step` names the hold a step acts on, checked
    before that step's calls as its own lock is. Store writes stay fenced by `fence` alone.
    """

    def __init__(
        self,
        store: RunStore,
        fence: Fence,
        owner: str,
        lease_seconds: float,
        *,
        wall_clock: Callable[[], float] = time.time,
        holds: Mapping[str, Fence] | None = None,
        hold_of_step: Callable[[str], str | None] | None = None,
    ) -> None:
        self.store = store
        self.fence = fence
        self.holds: dict[str, Fence] = dict(holds or {})
        self.hold_of_step = hold_of_step
        self.owner = owner
        self.lease_seconds = lease_seconds
        self._wall_clock = wall_clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._fatal: StoreError | None = None
        self.renewals = 0

    # ---- heartbeat ------------------------------------------------------------------------------
    @property
    def interval(self) -> float:
        return self.lease_seconds * CALL_MARGIN_SHARE

    def start(self) -> None:
        self._thread = threading.Thread(target=self._beat, name=f"lease:{self.fence.target}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=max(1.0, self.interval))

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            fence = self.fence
            try:
                for fence in (self.fence, *self.holds.values()):
                    self.store.renew_lock(fence, self.owner, self.lease_seconds, now=self._wall_clock())
                self.renewals += 1
            except (StoreBusyError, StoreWriteError):
                continue  # the lease still has two beats of margin; the run's own writes will tell
            except StoreError as exc:  # lost a lock, or the store file is gone or replaced
                self._fatal = exc
                return
            except Exception as exc:  # never let the heartbeat die silently
                self._fatal = StoreError(f"the lease of {fence.target} could not be renewed: {exc}")
                return

    def now(self) -> float:
        """Now, in the time the lease is kept in (the run's clock: every process judging it uses the same)."""
        return self._wall_clock()

    # ---- checks made by the run's thread ----------------------------------------------------------
    def check(self) -> None:
        """Raise what the heartbeat found (LockLostError, StoreIntegrityError...), if anything."""
        if self._fatal is not None:
            raise self._fatal

    def before_call(self, step: str) -> None:
        """Right before a mutating call: the lock is still ours, with at least a third of the lease left;
        and so is the lock of the hold the step acts on, if it acts on one.

        Re-reads the lock rather than trusting the last renewal: a process paused (SIGSTOP, a suspended
        VM) between its intent and its call must find out here that another run took over.
        """
        self.check()
        self._check_held(self.fence)
        hold = self.hold_of_step(step) if self.hold_of_step is not None else None
        if hold is None or hold == self.fence.target:
            return
        fence = self.holds.get(hold)
        if fence is None:
            # A bug in the operation: it would act on a target nobody locked for it. Never send that call.
            raise ValueError(f"step {step} acts on {hold}, which run {self.fence.run_id} does not hold")
        self._check_held(fence)

    def _check_held(self, fence: Fence) -> None:
        lock = self.store.get_lock(fence.target)
        if lock is None or lock.run_id != fence.run_id or lock.token != fence.token:
            raise LockLostError(
                fence.target,
                fence.run_id,
                fence.token,
                holder_run_id=None if lock is None else lock.run_id,
                holder_owner=None if lock is None else lock.owner,
            )
        if lock.expires_at - self._wall_clock() < self.lease_seconds * CALL_MARGIN_SHARE:
            # Still ours but close to expiry (this process was stalled): renewing is fenced, so it
            # either restores the full margin or raises LockLostError.
            self.store.renew_lock(fence, self.owner, self.lease_seconds, now=self._wall_clock())
