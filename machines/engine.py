"""The engine: drives a run through its machine, checkpointing every transition, under a lock."""

from __future__ import annotations

import os
import socket
import threading
import time
from typing import Any

from machines.clock import Clock, SystemClock
from machines.context import NullReporter, Reporter, RunContext, RunSession
from machines.crashpoints import crash_point
from machines.errors import Interrupted, RunFinished, StepUnsettled, VersionMismatch
from machines.items import ItemDriver
from machines.operation import Operation
from machines.steps import ErrorClassifier, StepRunner, everything_foreign
from store.base import RunStore
from store.clock import utc_now_iso
from store.errors import LockHeldError, StoreError
from store.models import RunRecord

DEFAULT_LEASE_SECONDS = 300.0


def process_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def owner_is_dead(owner: str) -> bool:
    """True when owner is a process on this host that no longer exists."""
    host, _, pid_text = owner.rpartition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class Engine:
    """Starts, resumes and abandons runs. One Engine per process."""

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
        """Create the run under the target's lock and drive it to a final state (or a stop)."""
        self._take_lock(target, run_id)
        now = utc_now_iso()
        run = RunRecord(
            run_id=run_id,
            operation=operation.definition.name,
            target=target,
            status="running",
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
            self.store.create_run(run)
        except BaseException:
            self.store.release_lock(target, run_id)
            raise
        return self._drive(operation, self.store.get_run(run_id))

    def resume(self, operation: Operation, run_id: str, *, force: bool = False) -> RunRecord:
        run = self.store.get_run(run_id)
        if run.finished:
            raise RunFinished(f"run {run_id} already ended: {run.status}")
        if run.machine_version != operation.version and not force:
            raise VersionMismatch(run_id, run.machine_version, operation.version)
        self._take_lock(run.target, run_id)
        run = self.store.update_run(run_id, run.version, status="running", reason=None)
        return self._drive(operation, run)

    def abandon(self, run_id: str, reason: str = "abandoned by a person") -> RunRecord:
        """Mark an unfinished run abandoned and release its lock. Makes no AWS calls."""
        run = self.store.get_run(run_id)
        if run.finished:
            raise RunFinished(f"run {run_id} already ended: {run.status}")
        lock = self.store.get_lock(run.target)
        if (
            lock is not None
            and lock.run_id == run_id
            and lock.owner != self.owner
            and lock.expires_at > time.time()
            and run.status == "running"
            and not owner_is_dead(lock.owner)
        ):
            raise LockHeldError(run.target, run_id, lock.expires_at, holder_owner=lock.owner)
        run = self.store.update_run(
            run_id, run.version, status="abandoned", reason=reason, finished_at=utc_now_iso()
        )
        self.store.release_lock(run.target, run_id)
        return run

    # ---- internals ----------------------------------------------------------------------------
    def _take_lock(self, target: str, run_id: str) -> None:
        lock = self.store.get_lock(target)
        if lock is not None and lock.run_id != run_id:
            holder = self.store.find_run(lock.run_id)
            if holder is None or holder.finished:
                # The holder reached its final checkpoint but died before releasing: a stale lock.
                self.store.release_lock(target, lock.run_id)
                lock = None
        take_over = lock is not None and lock.run_id == run_id and owner_is_dead(lock.owner)
        self.store.acquire_lock(
            target, run_id, self.owner, self.lease_seconds, time.time(), take_over_owner=take_over
        )

    def _drive(self, operation: Operation, run: RunRecord) -> RunRecord:
        definition = operation.definition
        session = RunSession(self.store, run, self.owner, self.lease_seconds, self.reporter)
        items = ItemDriver(operation.items, session) if operation.items is not None else None
        context: RunContext[Any] = RunContext(
            session,
            definition,
            lambda ctx: StepRunner(self.store, run.run_id, self.classify_error, ctx),
            self.clock,
            self.stop,
            operation.facts,
            items,
        )
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
                session.update(status="interrupted", reason=None)
                return session.run
            except LockHeldError as exc:
                session.update(status="interrupted", reason=f"lost the lock: {exc}")
                return session.run
            except StepUnsettled as exc:
                # AWS kept failing transiently: the step stays in flight and is reconciled on resume.
                session.update(status="interrupted", reason=str(exc))
                return session.run
            except StoreError:
                raise
            except Exception as exc:
                # Not a stop, not AWS being unavailable: a bug or a refusal nobody planned for. Resuming would
                # meet it again, so the run ends failed and says what was raised, where.
                session.update(
                    status="failed",
                    reason=f"unexpected error in state {state}: {type(exc).__name__}: {exc}",
                    finished_at=utc_now_iso(),
                )
                break
            fields: dict[str, Any] = {}
            if dest in definition.final_states:
                fields = {"status": definition.final_statuses[dest], "finished_at": utc_now_iso()}
            session.checkpoint(state, dest, trigger, **fields)
            crash_point(f"checkpoint:{dest}")
        self.store.release_lock(session.run.target, session.run.run_id)
        return session.run
