"""The engine: drives a run through its machine, checkpointing every transition, under a lock."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from machines.clock import Clock, SystemClock
from machines.context import NullReporter, Reporter, RunContext, RunSession
from machines.crashpoints import crash_point
from machines.errors import Interrupted, LostLock, Paused, RunFinished, StepUnsettled, VersionMismatch
from machines.items import ItemDriver
from machines.lease import Lease
from machines.liveness import owner_alive, process_owner
from machines.operation import Operation
from machines.statuses import ABANDONED, FAILED, INTERRUPTED, PAUSED, RUNNING
from machines.steps import ErrorClassifier, StepRunner, everything_foreign
from store.base import RunStore
from store.clock import utc_now_iso
from store.errors import (
    ConcurrentUpdateError,
    LockHeldError,
    LockLostError,
    StoreBusyError,
    StoreError,
    StoreWriteError,
)
from store.models import Fence, RunFilter, RunRecord, RunUpdate

DEFAULT_LEASE_SECONDS = 300.0


class Engine:
    """Starts, resumes and abandons runs. One Engine per process.

    `clock` is the run's time: its deadlines, its waits and its lease (taken, renewed and judged expired in that
    time). Every process that judges a lease must use the same clock: the system's, unless all of them run on
    a simulator's virtual time (ECSOPS_CLOCK=sim).
    """

    def __init__(
        self,
        store: RunStore,
        *,
        clock: Clock | None = None,
        reporter: Reporter | None = None,
        classify_error: ErrorClassifier = everything_foreign,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        stop: threading.Event | None = None,
    ) -> None:
        self.store = store
        self.clock: Clock = clock or SystemClock()
        self.reporter: Reporter = reporter or NullReporter()
        self.classify_error = classify_error
        self.lease_seconds = lease_seconds
        self.stop = stop or threading.Event()
        self.owner = process_owner()

    # ---- entry points -------------------------------------------------------------------------
    def start(
        self,
        operation: Operation,
        *,
        run_id: str,
        target: str,
        params: dict[str, Any],
        started_by: str = "",
        ci: dict[str, str] | None = None,
        ecsops_version: str = "",
    ) -> RunRecord:
        """Create the run under the target's lock (and its operation's holds) and drive it to a final state (or a
        stop). Nothing is recorded when a lock is refused: every lock taken here is given back."""
        fence, holds = self._take_locks(target, operation.holds, run_id)
        now = utc_now_iso()
        run = RunRecord(
            run_id=run_id,
            operation=operation.definition.name,
            target=target,
            status=RUNNING,
            state=operation.definition.initial,
            machine_version=operation.version,
            ecsops_version=ecsops_version,
            params=params,
            started_by=started_by,
            ci=ci or {},
            started_at=now,
            updated_at=now,
        )
        try:
            self.store.create_run(run, fence)
        except BaseException:
            self._release_all_quietly(fence, holds)
            raise
        return self._drive(operation, run, fence, holds, recorded_messages=0)

    def resume(self, operation: Operation, run_id: str, *, force: bool = False) -> RunRecord:
        run = self.store.get_run(run_id)
        if run.finished:
            raise RunFinished(f"run {run_id} already ended: {run.status}")
        if run.machine_version != operation.version and not force:
            raise VersionMismatch(run_id, run.machine_version, operation.version)
        fence, holds = self._take_locks(run.target, operation.holds, run_id)
        try:
            # Read again under the lock: another process may have moved or ended the run meanwhile.
            run = self.store.get_run(run_id)
            if run.finished:
                raise RunFinished(f"run {run_id} already ended: {run.status}")
            run = self.store.update_run(run_id, run.version, fence, RunUpdate(status=RUNNING, reason=None))
        except BaseException:
            # The run stays exactly as it was; only the locks we just took are given back.
            self._release_all_quietly(fence, holds)
            raise
        # What an earlier process recorded of its journal is read only if this one has something to add.
        return self._drive(operation, run, fence, holds, recorded_messages=None)

    def abandon(
        self,
        run_id: str,
        reason: str = "abandoned by a person",
        *,
        force: bool = False,
        holds: Sequence[str] = (),
    ) -> RunRecord:
        """Mark an unfinished run abandoned and break its lock (raising the token). Makes no AWS calls.

        Refused (LockHeldError) while another live-looking process drives it under a valid lease, unless
        force: a person who knows that process is gone; its old token can write nothing after the break.
        `holds`: the other targets its operation holds (Operation.holds), broken too where this run holds them."""
        run = self.store.get_run(run_id)
        if run.finished:
            raise RunFinished(f"run {run_id} already ended: {run.status}")
        lock = self.store.get_lock(run.target)
        if (
            not force
            and lock is not None
            and lock.run_id == run_id
            and lock.owner is not None
            and lock.owner != self.owner
            and lock.expires_at > self.clock.now()
            and run.status == RUNNING
            and owner_alive(lock.owner) is not False
        ):
            raise LockHeldError(run.target, run_id, lock.expires_at, holder_owner=lock.owner)
        # Break first: a process still holding the old token can write nothing more after this.
        self.store.break_lock(run.target, run_id)
        for hold in _sorted_holds(run.target, holds):
            self.store.break_lock(hold, run_id)
        for _ in range(3):
            try:
                return self.store.update_run(
                    run_id, run.version, None, RunUpdate(status=ABANDONED, reason=reason, finished_at=utc_now_iso())
                )
            except ConcurrentUpdateError:
                # The fenced-out process recorded its last word meanwhile; abandon over it.
                run = self.store.get_run(run_id)
                if run.finished:
                    raise RunFinished(f"run {run_id} already ended: {run.status}") from None
        raise ConcurrentUpdateError(f"run {run_id} kept changing; try `ecsops abandon {run_id}` again")

    # ---- internals ----------------------------------------------------------------------------
    def _take_lock(self, target: str, run_id: str) -> Fence:
        """Acquire (or take over) the target's lock; the store decides inside one transaction."""
        lock = self.store.get_lock(target)
        replace_owner = None
        if (
            lock is not None
            and lock.run_id == run_id
            and lock.owner is not None
            and lock.owner != self.owner
            and owner_alive(lock.owner) is False
        ):
            # That process is gone: take over, but only if it is still the holder (compare-and-swap).
            replace_owner = lock.owner
        taken = self.store.acquire_lock(
            target, run_id, self.owner, self.lease_seconds, now=self.clock.now(), replace_owner=replace_owner
        )
        return Fence(target=target, run_id=run_id, token=taken.token)

    def _take_locks(self, target: str, holds: Sequence[str], run_id: str) -> tuple[Fence, dict[str, Fence]]:
        """The run's own lock, then each hold in sorted order (so that two runs wanting some of the same targets
        never wait on each other in a cycle). If one is refused, every lock taken here is given back and the
        refusal (naming that target and its holder) is raised as it is."""
        fence = self._take_lock(target, run_id)
        taken: dict[str, Fence] = {}
        try:
            for hold in _sorted_holds(target, holds):
                taken[hold] = self._take_lock(hold, run_id)
        except BaseException:
            self._release_all_quietly(fence, taken)
            raise
        return fence, taken

    def _release_all_quietly(self, fence: Fence, holds: dict[str, Fence]) -> None:
        # Holds first, the run's own lock last: the reverse of the order they were taken in.
        for hold in reversed(holds.values()):
            self._release_quietly(hold)
        self._release_quietly(fence)

    def _release_quietly(self, fence: Fence) -> None:
        # The lock is a convenience for the next run here: a finished or vanished holder is taken over.
        with contextlib.suppress(StoreBusyError, StoreWriteError, LockLostError):
            self.store.release_lock(fence)

    def _drive(
        self,
        operation: Operation,
        run: RunRecord,
        fence: Fence,
        holds: dict[str, Fence],
        *,
        recorded_messages: int | None,
    ) -> RunRecord:
        lease = Lease(
            self.store, fence, self.owner, self.lease_seconds, wall_clock=self.clock.now,
            holds=holds, hold_of_step=operation.hold_of_step,
        )
        session = RunSession(self.store, run, lease, self.reporter, recorded_messages=recorded_messages)
        items = ItemDriver(operation.items, session) if operation.items is not None else None
        context: RunContext[Any] = RunContext(
            session,
            operation.definition,
            lambda ctx: StepRunner(self.store, run.run_id, self.classify_error, ctx, lease),
            self.clock,
            self.stop,
            operation.facts,
            items,
        )
        lease.start()
        try:
            finished = self._advance(operation, session, context)
            # A run paused for a person gives its target back: `approve` and `resume` need no lease to run out.
            finished = finished or session.run.status == PAUSED
        except KeyboardInterrupt:
            # A second signal landed outside a handler (mid-checkpoint): what was committed stands.
            with contextlib.suppress(StoreError, KeyboardInterrupt):
                _stop_driving(session, RunUpdate(status=INTERRUPTED, reason=None))
            finished = False
        except LockLostError as exc:
            raise self._lost(session.run, exc) from exc
        except StoreError as exc:
            self._note_store_failure(session, exc)
            raise
        finally:
            # What was said after the last write (an error's path): best effort, never in the way of what is raised.
            _flush_quietly(session)
            lease.stop()
        if finished:
            self._release_all_quietly(fence, holds)
        return session.run

    def _advance(self, operation: Operation, session: RunSession, context: RunContext[Any]) -> bool:
        """Run handlers and checkpoint until the run ends (True: a final state, or failed) or stops (False)."""
        definition = operation.definition
        while session.run.state not in definition.final_states:
            state = session.run.state
            try:
                context.check_stop()
                crash_point(f"enter:{state}")
                trigger = operation.handlers[state](context)
                dest = definition.fire(state, trigger)
            except (Interrupted, KeyboardInterrupt):
                # KeyboardInterrupt: a second Ctrl-C/SIGTERM stopped a step mid-way; a step left at intent
                # is reconciled on resume, so this is as resumable as a stop between steps.
                _stop_driving(session, replace(_learned(context), status=INTERRUPTED, reason=None))
                return False
            except Paused as exc:
                _stop_driving(session, replace(_learned(context), status=PAUSED, reason=str(exc)))
                return False
            except StepUnsettled as exc:
                # AWS kept failing transiently: the step stays in flight and is reconciled on resume.
                _stop_driving(session, replace(_learned(context), status=INTERRUPTED, reason=str(exc)))
                return False
            except StoreError:
                raise  # the lock or the store failed: nothing more may be written as if it held
            except Exception as exc:
                # Not a stop, not AWS being unavailable: a bug or a refusal nobody planned for. Resuming would
                # meet it again, so the run ends failed and says what was raised, where.
                _stop_driving(
                    session,
                    replace(
                        _learned(context),
                        status=FAILED,
                        reason=f"unexpected error in state {state}: {type(exc).__name__}: {exc}",
                        finished_at=utc_now_iso(),
                    ),
                )
                return True
            update = context.take_pending()
            if dest in definition.final_states:
                update = replace(update, status=definition.final_statuses[dest], finished_at=utc_now_iso())
            session.checkpoint(state, dest, trigger, update=update)
            crash_point(f"checkpoint:{dest}")
        return True

    def _lost(self, run: RunRecord, exc: LockLostError) -> LostLock:
        """Record that the run lost a lock, its own or a hold's (unless another process drives this same run now)."""
        target = exc.target
        if exc.holder_run_id == run.run_id:
            reason = f"was taken over by another process ({exc.holder_owner})"
            return LostLock(run.run_id, target, reason, run.run_id, recorded=False)
        holder = exc.holder_run_id or self._latest_other_run(run, target)
        lock = "the lock" if target == run.target else f"the lock on {target}"
        if exc.holder_run_id is not None:
            reason = f"lost {lock} to run {holder}"
        elif holder is not None:
            reason = f"lost {lock}: it was taken and released by run {holder} while this process was stalled"
        else:
            reason = f"lost {lock}: it was broken (abandoned or taken over) while this process was stalled"
        try:
            # Unfenced (we no longer hold the lock), but only over the version this process last wrote.
            self.store.update_run(run.run_id, run.version, None, RunUpdate(status=INTERRUPTED, reason=reason))
            recorded = True
        except StoreError:
            recorded = False
        return LostLock(run.run_id, target, reason, holder, recorded=recorded)

    def _latest_other_run(self, run: RunRecord, target: str) -> str | None:
        with contextlib.suppress(StoreError):
            for other in self.store.list_runs(RunFilter(target=target, since=run.started_at, limit=20)):
                if other.run_id != run.run_id:
                    return other.run_id
        return None

    def _note_store_failure(self, session: RunSession, exc: StoreError) -> None:
        """Best effort: say in the record why the run stopped. The store may refuse this too."""
        with contextlib.suppress(StoreError):
            session.update(RunUpdate(status=INTERRUPTED, reason=f"the store failed: {exc}"))


def _sorted_holds(target: str, holds: Sequence[str]) -> list[str]:
    """The holds to take besides the run's own target, each once, in the one order every run takes them in."""
    return sorted(set(holds) - {target})


def _flush_quietly(session: RunSession) -> None:
    # A journal that cannot be written (the lock was lost, the store failed) loses only what it had not written.
    with contextlib.suppress(StoreError, ValueError):
        session.journal.flush()


def _stop_driving(session: RunSession, update: RunUpdate) -> None:
    """The run's last write of this drive when it stops without a final checkpoint, after what was said before it
    (which never keeps that write from being tried)."""
    _flush_quietly(session)
    session.update(update)


def _learned(context: RunContext[Any]) -> RunUpdate:
    """The facts a handler recorded before it stopped, kept with the stop (its reason is the stop's own)."""
    return RunUpdate(facts=context.take_pending().facts)
