"""The recorded inputs of a replace-instances run, as stored in the run's params."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ReplaceParams:
    asg: str
    cluster: str
    batch_size: int
    timeout: float
    poll_interval: float | None  # None: adaptive, 2s growing to 15s while nothing changes

    @classmethod
    def from_run(cls, params: dict[str, Any]) -> ReplaceParams:
        interval = params.get("poll_interval")
        return cls(
            asg=str(params["asg"]),
            cluster=str(params["cluster"]),
            batch_size=int(params.get("batch_size", 1)),
            timeout=float(params.get("timeout", 900)),
            poll_interval=None if interval is None else float(interval),
        )
