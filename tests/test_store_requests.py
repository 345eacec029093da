"""Store requests per good deploy: counted through a wrapper around the store, in-process on the simulator.

Measured for issue 9 (one good deploy of demo/web, 7 polls, engine + final report):
before fencing, 7 reads and 26 writes (10 of them lease renewals: one after every checkpoint and
every poll), 233 SQL statements; after, 8 reads and 17 writes (the lease is renewed by a heartbeat
every lease/3 instead, so a deploy shorter than 100 s renews it never), 105 SQL statements.

Issue 20 (the run's message journal, for `status --follow`): the same 13 writes of the run, plus one append of
what was said before each wait that follows a poll that said something (4 for the quick deploy).
"""

from __future__ import annotations

import collections
import contextlib
import io
import threading
from pathlib import Path
from typing import Any

from ecsops.sim.scenario import demo_scenario
from ecsops.sim.server import SimServer
from store.base import RunStore
from store.open import open_store

READS = {
    "get_run", "find_run", "list_runs", "histories", "history", "transitions", "items", "steps", "get_step", "get_lock",
}


class CountingStore:
    """A RunStore that counts the calls made to it, by method."""

    def __init__(self, store: RunStore) -> None:
        self._store = store
        self.calls: collections.Counter[str] = collections.Counter()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._store, name)
        if not callable(attribute):
            return attribute

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return attribute(*args, **kwargs)

        return counted

    @property
    def reads(self) -> int:
        return sum(n for name, n in self.calls.items() if name in READS)

    @property
    def writes(self) -> int:
        return sum(n for name, n in self.calls.items() if name not in READS)


def _good_deploy(sim: SimServer, store_path: Path, task_start_seconds: float) -> CountingStore:
    from ecsops.cli.engine_setup import make_engine
    from ecsops.cli.outcome import report_run
    from ecsops.cli.progress import StderrReporter
    from ecsops.deploy.flags import parse_edits
    from ecsops.deploy.operation import SPEC
    from ecsops.deploy.params import DeployParams

    sim.reset(demo_scenario().model_copy(update={"task_start_seconds": task_start_seconds}))
    params = DeployParams(
        cluster="demo", service="web", edits=parse_edits(["app=nginx:1.27"], [], [], [], [], None),
        timeout_seconds=3600, poll_interval=None,
    )
    counting = CountingStore(open_store(str(store_path)))
    engine = make_engine(counting, StderrReporter(quiet=True), threading.Event())  # type: ignore[arg-type]
    run = engine.start(SPEC.build(params.recorded()), run_id="count", target=params.target,
                       params=params.recorded())
    assert run.status == "succeeded"
    with contextlib.redirect_stdout(io.StringIO()):
        report_run(counting, run, "json")  # type: ignore[arg-type]
    return counting


def test_a_good_deploy_writes_the_same_whatever_the_number_of_polls(tmp_path: Path, aws_env: SimServer) -> None:
    quick = _good_deploy(aws_env, tmp_path / "quick.db", task_start_seconds=10)
    quick_polls = aws_env.counts()["ecs:DescribeServices"]
    slow = _good_deploy(aws_env, tmp_path / "slow.db", task_start_seconds=600)
    slow_polls = aws_env.counts()["ecs:DescribeServices"] - quick_polls
    assert slow_polls >= 2 * quick_polls

    # No lease write per poll or per checkpoint any more, and facts go with the run's next write. 13: the lock
    # taken and released, the run created, 5 checkpoints, 1 deadline, 2 step intents and 2 outcomes.
    def run_writes(counting: CountingStore) -> int:
        return counting.writes - counting.calls["append_messages"]

    assert run_writes(slow) == run_writes(quick) <= 13
    # The journal of what the deploy said rides on its checkpoints; what a poll said is written before the wait
    # that follows, so that `status --follow` shows it while the run waits: one append per wait after something
    # was said (a poll's lines, or the "no change" a long wait says every 15 s), none after silence. Measured: 4
    # for the quick deploy's 7 polls, 57 for the slow one's 54.
    assert 0 < quick.calls["append_messages"] <= quick_polls
    assert quick.calls["append_messages"] < slow.calls["append_messages"] <= 2 * slow_polls
    assert slow.calls["acquire_lock"] == 1 and slow.calls.get("renew_lock", 0) == 0
    mutating_steps = slow.calls["record_intent"]
    assert slow.calls["get_lock"] == mutating_steps + 1  # one check right before each mutating call
    assert slow.reads == quick.reads <= 8
