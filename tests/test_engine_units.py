"""Engine pieces in-process: machine declarations, step replay rules, version hashing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from machines.definition import InvalidTrigger, MachineDefinition, Transition
from machines.errors import CannotReconcile, StepFailed
from machines.lease import Lease
from machines.steps import NOT_HAPPENED, StepRunner
from store.models import Fence, RunRecord, StepRecord
from store.sqlite_store import SqliteRunStore, open_sqlite_store


def _definition(extra: tuple[Transition, ...] = ()) -> MachineDefinition:
    return MachineDefinition(
        name="m", states=("a", "b", "c"), initial="a",
        transitions=(Transition.of("go", "a", "b"), Transition.of("end", ["a", "b"], "c"), *extra),
        final_statuses={"c": "succeeded"},
    )


def test_declaration_is_checked() -> None:
    with pytest.raises(ValueError, match="unknown state"):
        _definition((Transition.of("x", "a", "nowhere"),))
    with pytest.raises(ValueError, match="final state c has outgoing"):
        _definition((Transition.of("again", "c", "a"),))
    with pytest.raises(ValueError, match="neither final nor left"):
        MachineDefinition("m", ("a", "b"), "a", (), {"b": "succeeded"})


def test_fire_follows_declared_transitions_only() -> None:
    definition = _definition()
    assert definition.fire("a", "go") == "b"
    assert definition.fire("b", "end") == "c"
    with pytest.raises(InvalidTrigger):
        definition.fire("b", "go")


def test_version_changes_with_the_declaration() -> None:
    assert _definition().version == _definition().version
    assert _definition().version != _definition((Transition.of("skip", "a", "c"),)).version


@pytest.fixture
def store(tmp_path: Path) -> SqliteRunStore:
    store = open_sqlite_store(tmp_path / "s.db")
    fence = Fence(target="t", run_id="r", token=store.acquire_lock("t", "r", "me:1", 300, now=0).token)
    store.create_run(RunRecord(
        run_id="r", operation="m", target="t", status="running", state="a", machine_version="v",
        ecsops_version="0", started_at="2026-01-01T00:00:00+00:00", updated_at="2026-01-01T00:00:00+00:00",
    ), fence)
    return store


def _runner(store: SqliteRunStore) -> StepRunner:
    lock = store.get_lock("t")
    assert lock is not None and lock.owner is not None
    lease = Lease(store, Fence(target="t", run_id="r", token=lock.token), lock.owner, 300)
    return StepRunner(store, "r", _classify, lease)


class Refused(Exception):
    pass


def _classify(exc: BaseException) -> dict[str, Any] | None:
    return {"type": "Refused", "message": str(exc)} if isinstance(exc, Refused) else None


def test_finished_step_is_replayed_without_calling(store: SqliteRunStore) -> None:
    calls: list[dict[str, Any]] = []
    runner = _runner(store)

    def call(request: dict[str, Any]) -> dict[str, Any]:
        calls.append(request)
        return {"id": len(calls)}

    assert runner.run("s", {"x": 1}, call, reconcile=None) == {"id": 1}
    assert runner.run("s", {"x": 1}, call, reconcile=None) == {"id": 1}
    assert len(calls) == 1


def test_refused_step_is_recorded_and_replayed_as_failure(store: SqliteRunStore) -> None:
    runner = _runner(store)
    calls = 0

    def refuse(request: dict[str, Any]) -> None:
        nonlocal calls
        calls += 1
        raise Refused("no")

    for _ in range(2):
        with pytest.raises(StepFailed) as failure:
            runner.run("s", {}, refuse, reconcile=None)
        assert failure.value.error["type"] == "Refused"
    assert calls == 1


def test_unknown_outcome_stays_in_flight_and_is_reconciled(store: SqliteRunStore) -> None:
    runner = _runner(store)

    def lost(request: dict[str, Any]) -> None:
        raise ConnectionResetError("reset by peer")

    with pytest.raises(ConnectionResetError):
        runner.run("s", {"x": 1}, lost, reconcile=None)
    step = store.get_step("r", "s")
    assert step is not None and step.status == "intent"

    with pytest.raises(CannotReconcile):
        runner.run("s", {"x": 1}, lost, reconcile=None)

    seen: list[StepRecord] = []

    def not_happened(step: StepRecord) -> Any:
        seen.append(step)
        return NOT_HAPPENED

    assert runner.run("s", {"x": 1}, lambda request: "done", reconcile=not_happened) == "done"
    assert seen[0].request == {"x": 1}
    final = store.get_step("r", "s")
    assert final is not None and final.status == "succeeded"


def test_replay_with_another_request_is_refused(store: SqliteRunStore) -> None:
    runner = _runner(store)
    runner.run("s", {"x": 1}, lambda request: 1, reconcile=None)
    with pytest.raises(CannotReconcile, match="another request"):
        runner.run("s", {"x": 2}, lambda request: 2, reconcile=None)


def test_a_second_signal_mid_step_leaves_the_run_interrupted_and_resumable(tmp_path: Path) -> None:
    from machines.engine import Engine
    from machines.operation import Operation

    def stopped_mid_step(ctx: Any) -> str:
        raise KeyboardInterrupt  # what the runner's signal handler raises on a second Ctrl-C/SIGTERM

    store = open_sqlite_store(tmp_path / "s.db")
    operation = Operation(_definition(), {"a": stopped_mid_step, "b": lambda ctx: "end"})
    run = Engine(store).start(operation, run_id="r", target="t", params={})
    assert (run.status, run.state, run.reason) == ("interrupted", "a", None)
    resumed = Engine(store).resume(Operation(_definition(), {"a": lambda ctx: "go", "b": lambda ctx: "end"}), "r")
    assert resumed.status == "succeeded"


def test_a_run_that_lost_its_lock_before_a_call_makes_no_call_and_says_to_whom(tmp_path: Path) -> None:
    import time

    from machines.engine import Engine
    from machines.errors import LostLock
    from machines.operation import Operation

    store = open_sqlite_store(tmp_path / "s.db")
    calls: list[dict[str, Any]] = []

    def taken_over_then_step(ctx: Any) -> str:
        # Another run takes the target as if this one had stalled past its lease.
        store.acquire_lock("t", "other", "elsewhere:1", 300, now=time.time() + 10_000)
        ctx.step("mutate", {"x": 1}, calls.append, reconcile=None)
        return "go"

    operation = Operation(_definition(), {"a": taken_over_then_step, "b": lambda ctx: "end"})
    with pytest.raises(LostLock) as lost:
        Engine(store).start(operation, run_id="r", target="t", params={})
    assert calls == []
    assert (lost.value.holder_run_id, lost.value.recorded) == ("other", True)
    run = store.get_run("r")
    assert (run.status, run.state, run.reason) == ("interrupted", "a", "lost the lock to run other")
    assert store.get_step("r", "mutate") is None  # the fenced intent was refused: nothing recorded, nothing sent


def test_the_pre_call_check_renews_a_lease_short_of_its_margin_and_refuses_a_lost_one(tmp_path: Path) -> None:
    from store.errors import LockLostError

    store = open_sqlite_store(tmp_path / "s.db")
    lock = store.acquire_lock("t", "r", "me:1", 30, now=0)  # long expired by the wall clock
    lease = Lease(store, Fence(target="t", run_id="r", token=lock.token), "me:1", 30)
    lease.before_call("step")  # still ours: renewed to a full lease before the call
    renewed = store.get_lock("t")
    assert renewed is not None and renewed.expires_at > 1e9
    store.break_lock("t", "r")
    with pytest.raises(LockLostError):
        lease.before_call("step")


def test_the_heartbeat_renews_the_lease_on_its_own_and_reports_a_loss(tmp_path: Path) -> None:
    import time

    from store.errors import LockLostError

    store = open_sqlite_store(tmp_path / "s.db")
    lock = store.acquire_lock("t", "r", "me:1", 0.3, now=time.time())
    lease = Lease(store, Fence(target="t", run_id="r", token=lock.token), "me:1", 0.3)
    lease.start()
    try:
        deadline = time.monotonic() + 10
        while lease.renewals < 3:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        held = store.get_lock("t")
        assert held is not None and held.expires_at > time.time()  # 3 leases later, still held
        store.break_lock("t", "r")
        while True:
            try:
                lease.check()
            except LockLostError:
                break
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        lease.stop()
