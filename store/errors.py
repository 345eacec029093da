"""Errors the store raises; each says what is wrong and what to do."""

from __future__ import annotations


class StoreError(Exception):
    """The store cannot be used as asked."""


class StoreOpenError(StoreError):
    """The store could not be opened (corrupt, unwritable, newer schema, busy)."""


class StoreBusyError(StoreError):
    """Another process held the database past the busy timeout."""


class ConcurrentUpdateError(StoreError):
    """The run changed under us (optimistic version check failed)."""


class RunNotFoundError(StoreError):
    """No run has the given id."""


class LockHeldError(StoreError):
    """Another run holds the target's lock."""

    def __init__(
        self, target: str, holder_run_id: str, expires_at: float, *, holder_owner: str | None = None
    ) -> None:
        if holder_owner is None:
            message = f"target {target} is locked by run {holder_run_id}"
        else:
            message = f"run {holder_run_id} is being driven by another process ({holder_owner})"
        super().__init__(message)
        self.target = target
        self.holder_run_id = holder_run_id
        self.holder_owner = holder_owner
        self.expires_at = expires_at


class LockLostError(StoreError):
    """A fenced write or renewal found that the run no longer holds its target's lock at its token."""

    def __init__(
        self,
        target: str,
        run_id: str,
        token: int,
        *,
        holder_run_id: str | None,
        holder_owner: str | None = None,
    ) -> None:
        if holder_run_id is None:
            where = "the lock was released or broken"
        elif holder_run_id == run_id:
            where = f"the run was taken over by another process ({holder_owner})"
        else:
            where = f"run {holder_run_id} holds it now"
        super().__init__(f"run {run_id} lost the lock on {target} (token {token}): {where}")
        self.target = target
        self.run_id = run_id
        self.token = token
        self.holder_run_id = holder_run_id
        self.holder_owner = holder_owner


class MessageSeqTakenError(ValueError):
    """A message's seq is already in the run's journal: messages are never rewritten (nothing was written)."""

    def __init__(self, run_id: str, first: int, last: int) -> None:
        super().__init__(f"run {run_id} already has a message with seq {first} to {last}; messages are never rewritten")
        self.run_id = run_id


class StoreIntegrityError(StoreError):
    """The store was removed, replaced or overwritten under a run; the message says which."""


class StoreWriteError(StoreError):
    """The store could not be written (disk full, I/O error); the last committed state stays valid."""
