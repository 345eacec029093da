"""Errors the engine raises to handlers and callers."""

from __future__ import annotations

from typing import Any


class Interrupted(Exception):
    """A stop was requested (Ctrl-C, SIGTERM); the run is left resumable."""


class Paused(Exception):
    """The run waits for a person (a paused deployment hook) and was asked to stop there: it is left resumable,
    its lock given back, so that `approve` and `resume` can act on it."""


class StepFailed(Exception):
    """A side effect was answered with a definite error, recorded with the step."""

    def __init__(self, step: str, error: dict[str, Any]) -> None:
        super().__init__(f"step {step} failed: {error.get('code') or error.get('type')}: {error.get('message')}")
        self.step = step
        self.error = error

    @property
    def code(self) -> str | None:
        code = self.error.get("code")
        return str(code) if code is not None else None


class StepUnsettled(Exception):
    """A step's call kept failing transiently (throttled, 5xx, reset); the step stays in flight and is
    reconciled when the run is resumed."""

    def __init__(self, step: str, attempts: int, cause: BaseException) -> None:
        super().__init__(
            f"step {step}: not settled after {attempts} attempt(s): {type(cause).__name__}: {cause}"
        )
        self.step = step


class UndeclaredStep(Exception):
    """A handler took a step its state does not declare: the declaration and the code disagree."""

    def __init__(self, machine: str, state: str, step: str) -> None:
        super().__init__(f"machine {machine}: state {state!r} does not declare step {step!r}")


class CannotReconcile(Exception):
    """A step was found in flight and has no way to learn whether it happened."""


class VersionMismatch(Exception):
    """The run was recorded under another declaration of its machine."""

    def __init__(self, run_id: str, recorded: str, current: str) -> None:
        super().__init__(
            f"run {run_id} was recorded under machine version {recorded}, this ecsops has {current}; "
            "resume it with the ecsops that started it, or pass --force if the change is known to be safe"
        )
        self.recorded = recorded
        self.current = current


class RunFinished(Exception):
    """The run has already reached a final state."""


class LostLock(Exception):
    """The run found its target's lock taken over or broken; it sent nothing more to AWS.

    holder_run_id names the run that took the target when known; recorded says whether the run's
    record now says so (it is not written when another process drives the same run).
    """

    def __init__(self, run_id: str, target: str, reason: str, holder_run_id: str | None, *, recorded: bool) -> None:
        super().__init__(reason)
        self.run_id = run_id
        self.target = target
        self.reason = reason
        self.holder_run_id = holder_run_id
        self.recorded = recorded
