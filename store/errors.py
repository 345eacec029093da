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
