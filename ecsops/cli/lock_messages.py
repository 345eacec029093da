"""Why a run could not take or keep its target's lock, with only advice that will not itself be refused."""

from __future__ import annotations

from datetime import UTC, datetime

from ecsops.cli.sim_clock import lease_now
from machines.durations import format_duration
from machines.errors import LostLock
from machines.liveness import owner_alive
from store.base import RunStore
from store.errors import LockHeldError, StoreError


def locked_message(exc: LockHeldError, store: RunStore, *, abandoning: bool = False) -> str:
    """Why a run could not take its target, and what to do: wait, stop the holder, resume or abandon it."""
    holder, target = exc.holder_run_id, exc.target
    try:
        lock = store.get_lock(target)
    except StoreError:
        lock = None
    head = f"error: {target} is locked by run {holder}"
    if lock is None or lock.run_id != holder or lock.owner is None:
        return f"{head}; see `ecsops status {holder}`"
    alive = owner_alive(lock.owner)
    left = lock.expires_at - lease_now()
    lease = f"its lease runs to {_utc(lock.expires_at)} (in {format_duration(max(left, 0.0))})"
    force = f"if you know that process is gone, `ecsops abandon {holder} --force`"
    if alive is True:
        pid = lock.owner.rpartition(":")[2]
        text = (
            f"{head}, driven by another process ({lock.owner}) on this host; "
            f"wait for it to end, or stop it (kill -INT {pid})"
        )
        return f"{text}; {lease}; {force}" if abandoning else text
    if alive is False or left <= 0:
        gone = "is gone" if alive is False else "let its lease expire"
        return (
            f"{head}, whose process {lock.owner} {gone}: `ecsops resume {holder}` continues it, "
            f"`ecsops abandon {holder}` gives it up"
        )
    return (
        f"{head}, driven by another process ({lock.owner}) on another host; {lease}: "
        f"wait, then `ecsops resume {holder}`; {force}"
    )


def lost_lock_lines(exc: LostLock) -> list[str]:
    """The run found another run (or process) holding its target: it sent nothing more to AWS."""
    lines = [f"error: run {exc.run_id} {exc.reason}; it sent nothing more to AWS"]
    if exc.recorded:
        lines.append(f"run {exc.run_id} is recorded interrupted; check {exc.target} before "
                     f"`ecsops resume {exc.run_id}` or `ecsops abandon {exc.run_id}`")
    return lines


def _utc(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
