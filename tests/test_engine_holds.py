"""A run that holds more locks than its own target's (a fleet's services): taken in sorted order before the first
change, renewed and checked with its own, given back at the end, broken by abandon. A real store throughout."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run_ecsops
from holds_operation import STEP_PREFIX, make, service_key

from ecsops.cli.lock_messages import locked_message
from machines.context import RunContext
from machines.engine import Engine
from machines.errors import LostLock, Paused
from machines.lease import Lease
from store.errors import LockHeldError, LockLostError
from store.models import Fence, LockRecord, RunRecord
from store.sqlite_store import SqliteRunStore, open_sqlite_store

FLEET = "fleet:123456789012:us-east-1:demo"
SERVICES = ["demo/web", "demo/api", "demo/worker"]  # not in sorted order: the engine sorts them
API, WEB, WORKER = (service_key(name) for name in ("demo/api", "demo/web", "demo/worker"))
EVERY_TARGET = [FLEET, API, WEB, WORKER]
# Above Linux's largest possible pid (PID_MAX_LIMIT, 2**22): a process of this host that is gone.
DEAD_OWNER = f"{socket.gethostname()}:{2**22 + 4242}"
ELSEWHERE = "another-host.example:1"  # a process this host cannot judge: its lease is honoured


@pytest.fixture
def store(tmp_path: Path) -> SqliteRunStore:
    return open_sqlite_store(tmp_path / "s.db")


def _params() -> dict[str, Any]:
    return {"services": SERVICES}


def _lock(store: SqliteRunStore, target: str) -> LockRecord:
    lock = store.get_lock(target)
    assert lock is not None, f"{target} was never locked"
    return lock


def _record_acquires(store: SqliteRunStore) -> list[str]:
    """The targets whose locks are asked for, in order."""
    asked: list[str] = []
    acquire = store.acquire_lock

    def recorded(target: str, run_id: str, owner: str, lease_seconds: float, *, now: float,
                 replace_owner: str | None = None) -> LockRecord:
        asked.append(target)
        return acquire(target, run_id, owner, lease_seconds, now=now, replace_owner=replace_owner)

    store.acquire_lock = recorded  # type: ignore[method-assign]
    return asked


def _other_run_holding(store: SqliteRunStore, target: str, run_id: str = "other") -> None:
    """A single-service run, unfinished, whose live lease (of a process on another host) holds target."""
    token = store.acquire_lock(target, run_id, ELSEWHERE, 300, now=time.time()).token
    store.create_run(RunRecord(
        run_id=run_id, operation="deploy", target=target, status="running", state="updating", machine_version="v",
        ecsops_version="0", started_at="2026-01-01T00:00:00+00:00", updated_at="2026-01-01T00:00:00+00:00",
    ), Fence(target=target, run_id=run_id, token=token))


def _interrupted_by_a_dead_driver(store: SqliteRunStore, run_id: str = "r") -> RunRecord:
    """Start the fleet run in a process that is gone right after: interrupted, every lock still its own."""
    stopped = threading.Event()
    stopped.set()
    dead = Engine(store, stop=stopped)
    dead.owner = DEAD_OWNER
    run = dead.start(make(SERVICES), run_id=run_id, target=FLEET, params=_params())
    assert (run.status, run.state) == ("interrupted", "planned")
    for target in EVERY_TARGET:
        lock = _lock(store, target)
        assert (lock.run_id, lock.owner) == (run_id, DEAD_OWNER)
    return run


# ---- taking and giving back -----------------------------------------------------------------------------
def test_a_run_takes_its_own_lock_then_every_hold_in_sorted_order_and_gives_them_all_back(
    store: SqliteRunStore,
) -> None:
    asked = _record_acquires(store)
    engine = Engine(store)
    held_at_each_step: list[dict[str, tuple[str | None, str | None]]] = []

    def look(ctx: RunContext[Any], service: str) -> None:
        held_at_each_step.append({t: (_lock(store, t).run_id, _lock(store, t).owner) for t in EVERY_TARGET})

    calls: list[dict[str, Any]] = []
    run = engine.start(make(SERVICES, before_step=look, calls=calls), run_id="r", target=FLEET, params=_params())

    assert run.status == "succeeded"
    assert asked == [FLEET, API, WEB, WORKER]
    assert calls == [{"service": name} for name in SERVICES]
    for held in held_at_each_step:
        assert held == dict.fromkeys(EVERY_TARGET, ("r", engine.owner))
    assert all(_lock(store, target).free for target in EVERY_TARGET)


def test_a_run_without_holds_asks_for_its_own_lock_only(store: SqliteRunStore) -> None:
    asked = _record_acquires(store)
    run = Engine(store).start(make([]), run_id="r", target=FLEET, params={"services": []})
    assert run.status == "succeeded"
    assert asked == [FLEET]


def test_a_hold_listed_twice_or_equal_to_the_run_s_target_is_taken_once(store: SqliteRunStore) -> None:
    from holds_operation import DEFINITION

    from machines.operation import Operation

    asked = _record_acquires(store)
    operation = Operation(
        DEFINITION, {"planned": lambda ctx: "plan", "updating": lambda ctx: "updated"}, holds=(WEB, FLEET, API, WEB)
    )
    assert Engine(store).start(operation, run_id="r", target=FLEET, params={}).status == "succeeded"
    assert asked == [FLEET, API, WEB]


def test_a_paused_run_gives_its_holds_back_with_its_own_lock(store: SqliteRunStore) -> None:
    def pause(ctx: RunContext[Any]) -> None:
        raise Paused("waiting for a person")

    run = Engine(store).start(make(SERVICES, on_planned=pause), run_id="r", target=FLEET, params=_params())
    assert run.status == "paused"
    assert all(_lock(store, target).free for target in EVERY_TARGET)


def test_a_hold_held_by_another_run_refuses_the_start_names_it_and_leaves_nothing_behind(
    store: SqliteRunStore,
) -> None:
    _other_run_holding(store, WEB)
    calls: list[dict[str, Any]] = []

    with pytest.raises(LockHeldError) as refused:
        Engine(store).start(make(SERVICES, calls=calls), run_id="r", target=FLEET, params=_params())

    assert (refused.value.target, refused.value.holder_run_id) == (WEB, "other")
    assert locked_message(refused.value, store).startswith(f"error: {WEB} is locked by run other")
    assert store.find_run("r") is None and calls == []
    assert _lock(store, FLEET).free and _lock(store, API).free  # taken, then given back
    assert store.get_lock(WORKER) is None  # after the refused one in sorted order: never asked for
    assert _lock(store, WEB).run_id == "other"


# ---- resume ---------------------------------------------------------------------------------------------
def test_resume_by_another_process_takes_over_the_run_s_lock_and_every_hold_of_its_dead_driver(
    store: SqliteRunStore,
) -> None:
    _interrupted_by_a_dead_driver(store)
    tokens = {target: _lock(store, target).token for target in EVERY_TARGET}
    live = Engine(store)
    seen: dict[str, LockRecord] = {}

    def look(ctx: RunContext[Any], service: str) -> None:
        seen.update({target: _lock(store, target) for target in EVERY_TARGET})

    run = live.resume(make(SERVICES, before_step=look), "r")

    assert run.status == "succeeded"
    for target in EVERY_TARGET:
        assert (seen[target].run_id, seen[target].owner, seen[target].token) == ("r", live.owner, tokens[target] + 1)
        assert _lock(store, target).free


def test_a_resume_refused_a_hold_gives_back_only_what_it_took_and_leaves_the_run_as_it_was(
    store: SqliteRunStore,
) -> None:
    before = _interrupted_by_a_dead_driver(store)
    worker_before = _lock(store, WORKER)
    # While the fleet run was dead, its hold on WEB was broken and a single-service run took that service.
    store.break_lock(WEB, "r")
    _other_run_holding(store, WEB)

    with pytest.raises(LockHeldError) as refused:
        Engine(store).resume(make(SERVICES), "r")

    assert (refused.value.target, refused.value.holder_run_id) == (WEB, "other")
    assert _lock(store, FLEET).free and _lock(store, API).free  # taken over by this call, then given back
    assert _lock(store, WORKER) == worker_before  # never reached: still the dead driver's, for the next resume
    assert store.get_run("r") == before


# ---- the heartbeat and the pre-call check -------------------------------------------------------------
def test_the_heartbeat_renews_every_hold_and_reports_a_lost_one(store: SqliteRunStore) -> None:
    def take(target: str) -> Fence:
        return Fence(target=target, run_id="r", token=store.acquire_lock(target, "r", "me:1", 0.3,
                                                                         now=time.time()).token)

    fence = take(FLEET)
    holds = {target: take(target) for target in (API, WEB)}
    lease = Lease(store, fence, "me:1", 0.3, holds=holds)
    lease.start()
    try:
        deadline = time.monotonic() + 10
        while lease.renewals < 3:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        for target in (FLEET, API, WEB):
            assert _lock(store, target).expires_at > time.time()  # 3 leases later, every one still held
        store.break_lock(WEB, "r")
        while True:
            try:
                lease.check()
            except LockLostError as lost:
                assert lost.target == WEB
                break
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        lease.stop()


def test_the_pre_call_check_reads_the_hold_a_step_acts_on_renews_it_short_of_margin(store: SqliteRunStore) -> None:
    from holds_operation import hold_of_step

    own = Fence(target=FLEET, run_id="r", token=store.acquire_lock(FLEET, "r", "me:1", 30, now=time.time()).token)
    api = Fence(target=API, run_id="r", token=store.acquire_lock(API, "r", "me:1", 30, now=0).token)  # long expired
    lease = Lease(store, own, "me:1", 30, holds={API: api}, hold_of_step=hold_of_step)
    read: list[str] = []
    get_lock = store.get_lock
    store.get_lock = lambda target: read.append(target) or get_lock(target)  # type: ignore[method-assign]

    lease.before_call("describe_everything")  # not tied to a hold: only the run's own lock is read
    assert read == [FLEET]
    lease.before_call(f"{STEP_PREFIX}demo/api")  # still ours: renewed to a full lease before the call
    assert read[1:] == [FLEET, API]
    assert get_lock(API).expires_at > time.time()  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="does not hold"):
        lease.before_call(f"{STEP_PREFIX}demo/web")  # a step on a service nobody locked is never sent


def test_a_step_on_a_hold_whose_lock_was_broken_makes_no_call_and_the_run_says_which(store: SqliteRunStore) -> None:
    def break_web(ctx: RunContext[Any], service: str) -> None:
        if service == "demo/web":
            store.break_lock(WEB, "r")  # abandoned or taken over while this process was stalled

    calls: list[dict[str, Any]] = []
    with pytest.raises(LostLock) as lost:
        Engine(store).start(make(SERVICES, before_step=break_web, calls=calls), run_id="r", target=FLEET,
                            params=_params())

    assert calls == []  # demo/web is the first service: nothing was sent at all
    assert (lost.value.target, lost.value.recorded) == (WEB, True)
    run = store.get_run("r")
    assert (run.status, run.state) == ("interrupted", "updating")
    assert run.reason == (
        f"lost the lock on {WEB}: it was broken (abandoned or taken over) while this process was stalled"
    )
    step = store.get_step("r", f"{STEP_PREFIX}demo/web")
    assert step is not None and step.status == "intent"  # the intent, fenced by the run's own lock, only


def test_a_step_on_a_hold_taken_by_another_run_names_that_run(store: SqliteRunStore) -> None:
    def lose_api(ctx: RunContext[Any], service: str) -> None:
        if service == "demo/api":
            store.break_lock(API, "r")
            _other_run_holding(store, API)

    calls: list[dict[str, Any]] = []
    with pytest.raises(LostLock) as lost:
        Engine(store).start(make(SERVICES, before_step=lose_api, calls=calls), run_id="r", target=FLEET,
                            params=_params())

    assert calls == [{"service": "demo/web"}]  # the service before it only
    assert (lost.value.target, lost.value.holder_run_id) == (API, "other")
    assert store.get_run("r").reason == f"lost the lock on {API} to run other"


# ---- abandon ----------------------------------------------------------------------------------------------
def test_abandon_with_holds_breaks_every_one(store: SqliteRunStore) -> None:
    _interrupted_by_a_dead_driver(store)
    tokens = {target: _lock(store, target).token for target in EVERY_TARGET}

    run = Engine(store).abandon("r", holds=(WORKER, API, WEB))

    assert run.status == "abandoned"
    for target in EVERY_TARGET:
        lock = _lock(store, target)
        assert (lock.free, lock.token) == (True, tokens[target] + 1)


def test_abandon_breaks_only_the_holds_this_run_holds(store: SqliteRunStore) -> None:
    _interrupted_by_a_dead_driver(store)
    store.break_lock(WEB, "r")
    _other_run_holding(store, WEB)
    web = _lock(store, WEB)

    Engine(store).abandon("r", holds=(API, WEB, WORKER))

    assert _lock(store, WEB) == web
    assert _lock(store, API).free and _lock(store, WORKER).free


def test_the_abandon_command_breaks_the_holds_of_the_run_s_operation(tmp_path: Path, store: SqliteRunStore) -> None:
    _interrupted_by_a_dead_driver(store)

    abandoned = run_ecsops(tmp_path / "s.db", "abandon", "r", ECSOPS_OPERATION_PLUGINS="holds_operation:SPEC")

    assert abandoned.returncode == 0, abandoned.stderr
    assert f"its locks on {FLEET} and {API}, {WEB}, {WORKER} are released" in abandoned.stderr
    assert store.get_run("r").status == "abandoned"
    assert all(_lock(store, target).free for target in EVERY_TARGET)


def test_the_abandon_command_still_breaks_the_run_s_own_lock_when_its_operation_cannot_be_built(
    tmp_path: Path, store: SqliteRunStore
) -> None:
    stopped = threading.Event()
    stopped.set()
    dead = Engine(store, stop=stopped)
    dead.owner = DEAD_OWNER
    dead.start(make(SERVICES), run_id="r", target=FLEET, params={**_params(), "unbuildable": True})

    abandoned = run_ecsops(tmp_path / "s.db", "abandon", "r", ECSOPS_OPERATION_PLUGINS="holds_operation:SPEC")

    assert abandoned.returncode == 0, abandoned.stderr
    assert f"its lock on {FLEET} is released" in abandoned.stderr
    assert _lock(store, FLEET).free
    assert _lock(store, API).run_id == "r"  # unknown to abandon: left to its lease, or to `break`


# ---- messages ---------------------------------------------------------------------------------------------
def test_a_service_held_by_a_fleet_run_is_refused_with_a_message_naming_the_service_and_the_fleet_run(
    store: SqliteRunStore,
) -> None:
    _interrupted_by_a_dead_driver(store, run_id="fleet-1")

    with pytest.raises(LockHeldError) as refused:
        Engine(store).start(make([]), run_id="single", target=API, params={"services": []})

    message = locked_message(refused.value, store)
    assert message.startswith(f"error: {API} is locked by run fleet-1, whose process {DEAD_OWNER} is gone")
    assert "`ecsops resume fleet-1` continues it, `ecsops abandon fleet-1` gives it up" in message
