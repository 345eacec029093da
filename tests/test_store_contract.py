"""The fenced RunStore contract, run against every backend in conftest.STORE_BACKENDS.

Locks and tokens, takeover, expiry with the backend's skew margin, release and break, fenced writes
refused after a takeover, optimistic versions, histories, and concurrent use from several processes.
All times are the caller's (`now`), so nothing here waits for a clock.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from cli_helpers import forked_processes
from conftest import StoreBackend

from store.base import RunStore
from store.errors import ConcurrentUpdateError, LockHeldError, LockLostError, RunNotFoundError
from store.location import DEFAULT_SKEW_SECONDS
from store.models import Fence, RunFilter, RunHistory, RunMessage, RunNote, RunRecord, RunUpdate

LEASE = 60.0
T0 = 1_000_000.0


def _run(run_id: str, target: str = "ecs:1:r:c/s", started_at: str = "2026-01-01T00:00:00+00:00") -> RunRecord:
    return RunRecord(
        run_id=run_id, operation="example", target=target, status="running", state="planned",
        machine_version="v", ecsops_version="0", started_at=started_at, updated_at=started_at,
    )


def _take(store: RunStore, run_id: str, target: str = "ecs:1:r:c/s", owner: str = "host:1", now: float = T0,
          **kwargs: Any) -> Fence:
    lock = store.acquire_lock(target, run_id, owner, LEASE, now=now, **kwargs)
    assert (lock.target, lock.run_id, lock.owner) == (target, run_id, owner)
    return Fence(target=target, run_id=run_id, token=lock.token)


def _started(store: RunStore, run_id: str, target: str = "ecs:1:r:c/s", owner: str = "host:1",
             now: float = T0) -> Fence:
    fence = _take(store, run_id, target, owner, now)
    store.create_run(_run(run_id, target), fence)
    return fence


def _said(run_id: str, first: int, count: int, kind: str = "progress", item: str | None = None) -> list[RunMessage]:
    return [RunMessage(run_id=run_id, seq=seq, kind=kind, text=f"line {seq} of {run_id}", item=item,
                       at=f"2026-01-01T00:{seq // 60 % 60:02d}:{seq % 60:02d}.000000+00:00")
            for seq in range(first, first + count)]


@pytest.fixture
def store(store_backend: StoreBackend) -> Any:
    opened = store_backend.open()
    yield opened
    opened.close()


# ---- locks and tokens -------------------------------------------------------------------------------------
def test_a_free_target_is_taken_with_token_1_and_renewed_by_its_holder(store: RunStore) -> None:
    assert store.get_lock("ecs:1:r:c/s") is None
    first = store.acquire_lock("ecs:1:r:c/s", "a", "host:1", LEASE, now=T0)
    assert (first.run_id, first.owner, first.token, first.expires_at) == ("a", "host:1", 1, T0 + LEASE)
    assert first.acquired_at is not None
    again = store.acquire_lock("ecs:1:r:c/s", "a", "host:1", LEASE, now=T0 + 10)
    assert (again.token, again.expires_at) == (1, T0 + 10 + LEASE)
    assert store.get_lock("ecs:1:r:c/s") == again


def test_a_held_target_is_refused_to_another_run_naming_the_holder(store: RunStore) -> None:
    _started(store, "a")
    with pytest.raises(LockHeldError) as refused:
        store.acquire_lock("ecs:1:r:c/s", "b", "host:2", LEASE, now=T0 + 1)
    assert (refused.value.target, refused.value.holder_run_id) == ("ecs:1:r:c/s", "a")
    assert refused.value.expires_at == T0 + LEASE
    lock = store.get_lock("ecs:1:r:c/s")
    assert lock is not None and (lock.run_id, lock.token) == ("a", 1)


# The clock-skew margin each backend adds to a lease before another run may take it: SQLite's locks are judged
# on one host's clock; DynamoDB's by hosts whose clocks may disagree. A backend that joins says its own here.
SKEW_MARGINS = {"sqlite": 0.0, "dynamodb": DEFAULT_SKEW_SECONDS}


def test_expiry_honours_the_skew_margin_and_raises_the_token(store: RunStore, store_backend: StoreBackend) -> None:
    _started(store, "a")
    margin = store.skew_margin_seconds
    assert margin == SKEW_MARGINS[store_backend.name]
    with pytest.raises(LockHeldError):
        store.acquire_lock("ecs:1:r:c/s", "b", "host:2", LEASE, now=T0 + LEASE + margin - 0.001)
    taken = store.acquire_lock("ecs:1:r:c/s", "b", "host:2", LEASE, now=T0 + LEASE + margin)
    assert (taken.run_id, taken.owner, taken.token) == ("b", "host:2", 2)


def test_a_finished_or_missing_holder_is_taken_over_at_once(store: RunStore) -> None:
    fence = _started(store, "a")
    store.update_run("a", 0, fence, RunUpdate(status="succeeded", finished_at="2026-01-01T00:01:00+00:00"))
    taken = store.acquire_lock("ecs:1:r:c/s", "b", "host:2", LEASE, now=T0 + 1)  # a finished, never released
    assert (taken.run_id, taken.token) == ("b", 2)
    ghost = store.acquire_lock("ecs:1:r:c/other", "never-created", "host:3", LEASE, now=T0)
    taken = store.acquire_lock("ecs:1:r:c/other", "c", "host:4", LEASE, now=T0 + 1)  # holder run does not exist
    assert (taken.run_id, taken.token) == ("c", ghost.token + 1)


def test_takeover_of_a_dead_owner_is_a_compare_and_swap(store: RunStore) -> None:
    _started(store, "a", owner="host:1")
    with pytest.raises(LockHeldError) as live:
        store.acquire_lock("ecs:1:r:c/s", "a", "host:2", LEASE, now=T0 + 1)
    assert live.value.holder_owner == "host:1"  # the same run, driven by another process
    taken = store.acquire_lock("ecs:1:r:c/s", "a", "host:2", LEASE, now=T0 + 1, replace_owner="host:1")
    assert (taken.owner, taken.token) == ("host:2", 2)
    # A second process that saw host:1 dead too loses the swap: the holder changed under it.
    with pytest.raises(LockHeldError) as lost_race:
        store.acquire_lock("ecs:1:r:c/s", "a", "host:3", LEASE, now=T0 + 2, replace_owner="host:1")
    assert lost_race.value.holder_owner == "host:2"
    # replace_owner never takes another run's lock.
    with pytest.raises(LockHeldError):
        store.acquire_lock("ecs:1:r:c/s", "b", "host:3", LEASE, now=T0 + 2, replace_owner="host:2")


def test_release_frees_the_lock_keeping_its_token_and_ignores_a_stale_fence(store: RunStore) -> None:
    fence = _started(store, "a")
    store.release_lock(Fence(target=fence.target, run_id="a", token=fence.token + 5))  # not ours: no-op
    held = store.get_lock(fence.target)
    assert held is not None and held.run_id == "a"
    store.release_lock(fence)
    free = store.get_lock(fence.target)
    assert free is not None and (free.run_id, free.owner, free.token, free.expires_at) == (None, None, 1, 0)
    assert free.free
    store.release_lock(fence)  # twice: still a no-op
    again = store.acquire_lock(fence.target, "b", "host:2", LEASE, now=T0 + 1)
    assert again.token == 2  # tokens only grow


def test_break_lock_raises_the_token_and_fences_the_old_holder_out(store: RunStore) -> None:
    fence = _started(store, "a")
    store.break_lock(fence.target, "someone-else")  # not the holder: no-op
    assert store.get_lock(fence.target) is not None and store.get_lock(fence.target).token == 1  # type: ignore[union-attr]
    store.break_lock(fence.target, "a")
    broken = store.get_lock(fence.target)
    assert broken is not None and (broken.run_id, broken.token) == (None, 2)
    with pytest.raises(LockLostError) as lost:
        store.renew_lock(fence, "host:1", LEASE, now=T0 + 1)
    assert (lost.value.run_id, lost.value.token, lost.value.holder_run_id) == ("a", 1, None)
    with pytest.raises(LockLostError):
        store.checkpoint("a", 0, fence, source="planned", dest="creating", trigger="plan")
    assert store.get_run("a").version == 0


def test_renew_extends_the_lease_while_the_fence_holds_even_past_expiry(store: RunStore) -> None:
    fence = _started(store, "a")
    renewed = store.renew_lock(fence, "host:1", LEASE, now=T0 + 30)
    assert (renewed.expires_at, renewed.token) == (T0 + 30 + LEASE, 1)
    # Expired but not taken: the fence still holds (expiry is not part of a fenced write's condition).
    late = T0 + 10 * LEASE
    store.checkpoint("a", 0, fence, source="planned", dest="creating", trigger="plan")
    assert store.renew_lock(fence, "host:1", LEASE, now=late).expires_at == late + LEASE


# ---- fenced writes ----------------------------------------------------------------------------------------
def test_every_write_of_a_run_is_refused_after_another_run_took_the_target(store: RunStore) -> None:
    fence = _started(store, "a")
    store.put_item("a", "i-1", "queued", {"n": 1}, fence)
    store.record_intent("a", "done-before", {"x": 1}, fence, lease_seconds=LEASE, now=T0)
    expired = T0 + LEASE + store.skew_margin_seconds
    taker = _take(store, "b", owner="host:2", now=expired)  # a's lease ran out
    assert taker.token == 2

    writes = {
        "create_run": lambda: store.create_run(_run("a2"), Fence(target=fence.target, run_id="a2", token=1)),
        "update_run": lambda: store.update_run("a", 0, fence, RunUpdate(reason="x")),
        "checkpoint": lambda: store.checkpoint("a", 0, fence, source="planned", dest="creating", trigger="plan"),
        "item checkpoint": lambda: store.checkpoint(
            "a", 0, fence, source="queued", dest="draining", trigger="drain", item="i-1", item_data={"n": 2}),
        "put_item": lambda: store.put_item("a", "i-2", "queued", {}, fence),
        "record_intent": lambda: store.record_intent("a", "update", {"y": 1}, fence, lease_seconds=LEASE, now=T0),
        "record_outcome": lambda: store.record_outcome("a", "done-before", "succeeded", fence, result=1),
        "renew_lock": lambda: store.renew_lock(fence, "host:1", LEASE, now=T0 + LEASE + 1),
        "append_messages": lambda: store.append_messages("a", _said("a", 1, 2), fence),
    }
    for name, write in writes.items():
        with pytest.raises(LockLostError) as lost:
            write()
        assert lost.value.holder_run_id == "b", name
        assert lost.value.holder_owner == "host:2", name

    run = store.get_run("a")
    assert (run.version, run.state, run.reason) == (0, "planned", None)
    assert store.find_run("a2") is None
    assert store.transitions("a") == []
    assert [(i.item_id, i.state, i.data) for i in store.items("a")] == [("i-1", "queued", {"n": 1})]
    assert [(s.name, s.status) for s in store.steps("a")] == [("done-before", "intent")]
    assert store.messages("a") == []
    lock = store.get_lock(fence.target)
    assert lock is not None and (lock.run_id, lock.token, lock.expires_at) == ("b", 2, expired + LEASE)


def test_an_unfenced_update_is_for_administrative_writes_and_keeps_the_version_check(store: RunStore) -> None:
    fence = _started(store, "a")
    _take(store, "b", owner="host:2", now=T0 + LEASE + store.skew_margin_seconds)
    recorded = store.update_run("a", 0, None, RunUpdate(status="interrupted", reason="lost the lock to run b"))
    assert (recorded.version, recorded.status, recorded.reason) == (1, "interrupted", "lost the lock to run b")
    with pytest.raises(ConcurrentUpdateError):
        store.update_run("a", 0, None, RunUpdate(status="abandoned"))
    assert fence.token == 1


def test_record_intent_renews_the_lease_in_the_same_write(store: RunStore) -> None:
    fence = _started(store, "a")
    step = store.record_intent("a", "update_service", {"service": "s"}, fence, lease_seconds=LEASE, now=T0 + 50)
    assert (step.status, step.request) == ("intent", {"service": "s"})
    lock = store.get_lock(fence.target)
    assert lock is not None and lock.expires_at == T0 + 50 + LEASE
    with pytest.raises(ValueError):
        store.record_intent("a", "update_service", {"service": "other"}, fence, lease_seconds=LEASE, now=T0)
    done = store.record_outcome("a", "update_service", "succeeded", fence, result={"id": "d-1"})
    assert (done.status, done.result) == ("succeeded", {"id": "d-1"})
    assert store.get_step("a", "update_service") == done


def test_a_fence_writes_only_its_own_run(store: RunStore) -> None:
    fence = _started(store, "a")
    _started(store, "b", target="ecs:1:r:c/other")
    with pytest.raises(ValueError):
        store.update_run("b", 0, fence, RunUpdate(reason="not mine"))
    assert store.get_run("b").version == 0


# ---- optimistic versions --------------------------------------------------------------------------------
def test_a_stale_version_is_refused_and_writes_nothing(store: RunStore) -> None:
    fence = _started(store, "a")
    moved = store.checkpoint("a", 0, fence, source="planned", dest="creating", trigger="plan",
                             update=RunUpdate(facts={"k": 1}))
    assert (moved.version, moved.state, moved.facts) == (1, "creating", {"k": 1})
    with pytest.raises(ConcurrentUpdateError):
        store.checkpoint("a", 0, fence, source="planned", dest="creating", trigger="plan")
    with pytest.raises(ConcurrentUpdateError):
        store.update_run("a", 0, fence, RunUpdate(reason="late"))
    assert [(t.seq, t.dest) for t in store.transitions("a")] == [(1, "creating")]
    assert store.get_run("a").version == 1


def test_an_item_moves_only_from_the_state_it_is_in(store: RunStore) -> None:
    fence = _started(store, "a")
    store.put_item("a", "i-1", "queued", {"n": 1}, fence)
    run = store.checkpoint("a", 0, fence, source="queued", dest="draining", trigger="drain", item="i-1")
    assert run.state == "planned"  # an item transition leaves the run's state alone
    with pytest.raises(ConcurrentUpdateError):
        store.checkpoint("a", run.version, fence, source="queued", dest="draining", trigger="drain", item="i-1")
    assert [(i.state, i.data) for i in store.items("a")] == [("draining", {"n": 1})]


# ---- histories --------------------------------------------------------------------------------------------
def test_histories_are_the_listed_runs_with_everything_recorded(store: RunStore) -> None:
    for n in range(4):
        run_id, target = f"r{n}", f"ecs:1:r:c/s{n}"
        fence = _take(store, run_id, target)
        store.create_run(_run(run_id, target, started_at=f"2026-01-0{n + 1}T00:00:00+00:00"), fence)
        store.checkpoint(run_id, 0, fence, source="planned", dest="creating", trigger="plan")
        store.record_intent(run_id, "create", {"n": n}, fence, lease_seconds=LEASE, now=T0)
        if n % 2:
            store.put_item(run_id, "i-1", "queued", {"n": n}, fence)
            store.update_run(run_id, 1, fence, RunUpdate(status="failed", finished_at="2026-02-01T00:00:00+00:00"))

    histories = store.histories(RunFilter())
    assert [h.run.run_id for h in histories] == ["r3", "r2", "r1", "r0"]
    for history in histories:
        run_id = history.run.run_id
        assert history.run == store.get_run(run_id)
        assert history.transitions == store.transitions(run_id)
        assert history.steps == store.steps(run_id)
        assert history.items == store.items(run_id)
    assert [h.run.run_id for h in store.histories(RunFilter(status="failed"))] == ["r3", "r1"]
    assert [h.run.run_id for h in store.histories(RunFilter(limit=2))] == ["r3", "r2"]
    assert [h.run.run_id for h in store.histories(RunFilter(since="2026-01-03T00:00:00+00:00"))] == ["r3", "r2"]
    assert [h.run.run_id for h in store.histories(RunFilter(target="ecs:1:r:c/s0"))] == ["r0"]
    assert [r.run_id for r in store.list_runs(RunFilter(limit=3))] == ["r3", "r2", "r1"]


def test_until_lists_the_runs_started_strictly_before_it(store: RunStore, store_backend: StoreBackend) -> None:
    from store.reader import open_reader

    days = ["2026-01-01T00:00:00+00:00", "2026-01-02T00:00:00+00:00", "2026-01-02T00:00:00+00:00",
            "2026-01-03T00:00:00+00:00", "2026-01-04T00:00:00+00:00"]
    for n, started_at in enumerate(days):
        run_id, target = f"u{n}", f"ecs:1:r:c/u{n % 2}"
        fence = _take(store, run_id, target, now=T0 + n)
        store.create_run(_run(run_id, target, started_at=started_at), fence)
        store.release_lock(fence)
        if n == 3:
            store.update_run(run_id, 0, None, RunUpdate(status="failed", finished_at=started_at))
    reader = open_reader(store_backend.location)  # the plain reader on SQLite, the full store otherwise
    try:
        for source in (store, reader):
            def listed(source: Any = source, **given: Any) -> list[str]:
                return [run.run_id for run in source.list_runs(RunFilter(**given))]

            assert listed(until="2026-01-03T00:00:00+00:00") == ["u2", "u1", "u0"]  # strictly before
            assert listed(until="2026-01-02T00:00:00+00:00") == ["u0"]
            assert listed(until="2026-01-01T00:00:00+00:00") == []
            assert listed(until="2026-01-05T00:00:00+00:00", limit=2) == ["u4", "u3"]
            # a window, with each bound as documented: since included, until not
            assert listed(since="2026-01-02T00:00:00+00:00", until="2026-01-04T00:00:00+00:00") == ["u3", "u2", "u1"]
            assert listed(since="2026-01-02T00:00:00+00:00", until="2026-01-03T00:00:00+00:00", limit=1) == ["u2"]
            assert listed(since="2026-01-03T00:00:00+00:00", until="2026-01-03T00:00:00+00:00") == []
            assert listed(since="2026-01-04T00:00:00+00:00", until="2026-01-02T00:00:00+00:00") == []
            # with the other filters, through each index
            assert listed(target="ecs:1:r:c/u0", until="2026-01-04T00:00:00+00:00") == ["u2", "u0"]
            assert listed(status="running", until="2026-01-04T00:00:00+00:00") == ["u2", "u1", "u0"]
            assert listed(status="failed", until="2026-01-04T00:00:00+00:00") == ["u3"]
            assert listed(status="failed", until="2026-01-03T00:00:00+00:00") == []
            assert listed(operation="example", until="2026-01-02T00:00:00+00:00") == ["u0"]
            assert [h.run.run_id for h in source.histories(RunFilter(until="2026-01-02T00:00:00+00:00"))] == ["u0"]
    finally:
        reader.close()


def _named_store(store: RunStore) -> None:
    """Runs n0..n4 a day apart on two targets (n3 failed), each with a transition, and two runs started at the same
    moment, created in the order their ids do not sort in (so a backend's way of breaking ties shows)."""
    started = ["2026-01-01T00:00:00+00:00", "2026-01-02T00:00:00+00:00", "2026-01-03T00:00:00+00:00",
               "2026-01-04T00:00:00+00:00", "2026-01-05T00:00:00+00:00", "2026-01-06T00:00:00+00:00",
               "2026-01-06T00:00:00+00:00"]
    for n, (run_id, started_at) in enumerate(zip(["n0", "n1", "n2", "n3", "n4", "tie-b", "tie-a"], started,
                                                 strict=True)):
        target = f"ecs:1:r:c/n{n % 2}"
        fence = _take(store, run_id, target, now=T0 + n)
        store.create_run(_run(run_id, target, started_at=started_at), fence)
        store.checkpoint(run_id, 0, fence, source="planned", dest="waiting", trigger="plan")
        store.release_lock(fence)
    store.update_run("n3", 1, None, RunUpdate(status="failed", finished_at="2026-01-04T00:00:00+00:00"))


def test_a_filter_naming_runs_lists_those_in_the_store_order(store: RunStore, store_backend: StoreBackend) -> None:
    from store.reader import open_reader

    _named_store(store)
    reader = open_reader(store_backend.location)  # the plain reader on SQLite, the full store otherwise
    try:
        for source in (store, reader):
            def listed(source: Any = source, **given: Any) -> list[str]:
                return [run.run_id for run in source.list_runs(RunFilter(**given))]

            everything = listed()
            assert set(everything) == {"n0", "n1", "n2", "n3", "n4", "tie-a", "tie-b"}
            # ordered and cut as the store orders any listing (ties too), whatever the order the ids are given in
            assert listed(run_ids=("n1", "tie-a", "nope", "n4", "tie-b", "n1")) == [
                run_id for run_id in everything if run_id in {"n1", "n4", "tie-a", "tie-b"}]
            assert listed(run_ids=tuple(reversed(everything))) == everything
            assert listed(run_ids=("n1", "n4", "n2"), limit=2) == ["n4", "n2"]
            assert listed(run_ids=()) == []
            assert listed(run_ids=("nope",)) == []
            # the other filters still apply
            assert listed(run_ids=("n0", "n1", "n2", "n4"), target="ecs:1:r:c/n0") == ["n4", "n2", "n0"]
            assert listed(run_ids=("n1", "n2", "n3"), status="failed") == ["n3"]
            assert listed(run_ids=("n1", "n2", "n3"), operation="other") == []
            assert listed(run_ids=("n0", "n1", "n2", "n3", "n4"), since="2026-01-02T00:00:00+00:00",
                          until="2026-01-04T00:00:00+00:00") == ["n2", "n1"]
            # histories of named runs are the listing's histories of those runs
            named = ("n3", "tie-b", "n0")
            whole = {h.run.run_id: h for h in source.histories(RunFilter())}
            assert list(source.histories(RunFilter(run_ids=named))) == [
                whole[run_id] for run_id in everything if run_id in named]
            assert [len(h.transitions) for h in source.histories(RunFilter(run_ids=named))] == [1, 1, 1]
            assert list(source.histories(RunFilter(run_ids=()))) == []
    finally:
        reader.close()


def test_targets_are_the_distinct_targets_runs_have_or_unknown(store: RunStore, store_backend: StoreBackend) -> None:
    from store.reader import open_reader

    assert store.targets() in ([], None)
    _named_store(store)
    targets = store.targets()
    reader = open_reader(store_backend.location)
    try:
        assert reader.targets() == targets
    finally:
        reader.close()
    if store_backend.name == "dynamodb":
        assert targets is None  # only a Scan of the by_target index could tell: listings match records instead
    else:
        assert targets == ["ecs:1:r:c/n0", "ecs:1:r:c/n1"]


# ---- notes: unfenced, append-only ------------------------------------------------------------------------
def test_notes_are_appended_in_seq_order_while_the_driver_holds_the_lock(store: RunStore) -> None:
    fence = _started(store, "a")
    run = store.checkpoint("a", 0, fence, source="planned", dest="waiting", trigger="plan")
    first = store.add_note("a", "approve", "approved hook h-1 of deployment ecs-svc/1", "alice@laptop")
    second = store.add_note("a", "rollback", "rolled back hook h-2", "bob@ci")
    assert (first.run_id, first.seq, first.kind, first.who) == ("a", 1, "approve", "alice@laptop")
    assert (second.seq, second.text) == (2, "rolled back hook h-2")
    assert first.at.endswith("+00:00") and first.at <= second.at
    assert store.notes("a") == [first, second]
    # A note changes nothing of the run, and the driver's fenced writes go on as before.
    assert store.get_run("a") == run
    store.checkpoint("a", run.version, fence, source="waiting", dest="succeeded", trigger="stable",
                     update=RunUpdate(status="succeeded", finished_at="2026-01-01T00:02:00+00:00"))
    history = store.history("a")
    assert history is not None and history.notes == [first, second]
    assert [h.notes for h in store.histories(RunFilter())] == [[first, second]]
    third = store.add_note("a", "comment", "checked after the end", "carol@host")  # a finished run takes notes
    assert third.seq == 3
    history = store.history("a")
    assert history is not None and history.notes == [first, second, third]


def test_notes_are_per_run_and_a_run_without_notes_has_none(store: RunStore) -> None:
    _started(store, "a")
    _started(store, "b", target="ecs:1:r:c/other")
    store.add_note("b", "approve", "one", "alice@host")
    on_a, on_b = store.add_note("a", "approve", "x", "w"), store.add_note("b", "approve", "y", "w")
    assert (on_a.seq, on_b.seq) == (1, 2)
    assert [(n.run_id, n.seq) for n in store.notes("a")] == [("a", 1)]
    assert [h.run.run_id for h in store.histories(RunFilter()) if not h.notes] == []
    _started(store, "c", target="ecs:1:r:c/third")
    assert store.notes("c") == []
    history = store.history("c")
    assert history is not None and history.notes == []


def test_a_note_on_an_unknown_run_is_refused(store: RunStore) -> None:
    with pytest.raises(RunNotFoundError, match="no run with id 'nope'"):
        store.add_note("nope", "approve", "approved", "alice@host")
    assert store.notes("nope") == []


def test_a_note_is_one_line_of_a_short_kind(store: RunStore) -> None:
    _started(store, "a")
    for kind, text, who in (("approve", "two\nlines", "w"), ("two words", "t", "w"), ("approve", "", "w"),
                            ("approve", "t", "")):
        with pytest.raises(ValueError):
            store.add_note("a", kind, text, who)
    assert store.notes("a") == []


def test_import_history_carries_notes(store: RunStore) -> None:
    notes = [RunNote(run_id="copied", seq=n, kind="approve", text=f"note {n}", who="alice@host",
                     at=f"2026-01-01T00:00:0{n}+00:00") for n in (1, 2)]
    run = replace(_run("copied"), status="succeeded", state="succeeded")
    assert store.import_history(RunHistory(run=run, notes=notes))
    assert store.notes("copied") == notes
    history = store.history("copied")
    assert history is not None and history.notes == notes
    assert store.add_note("copied", "comment", "after the copy", "bob@host").seq == 3


# ---- messages: the driver's journal, fenced and append-only ------------------------------------------------
def test_messages_are_appended_under_the_fence_and_read_after_a_seq(store: RunStore) -> None:
    fence = _started(store, "a")
    _started(store, "b", target="ecs:1:r:c/other")
    assert store.messages("a") == []
    store.append_messages("a", [], fence)  # nothing to write
    first = _said("a", 1, 3)
    store.append_messages("a", first, fence)
    run = store.checkpoint("a", 0, fence, source="planned", dest="waiting", trigger="plan")
    stage = RunMessage(run_id="a", seq=4, kind="stage", text="BAKE_TIME", at="2026-01-01T00:01:00.000000+00:00",
                       item="web")
    store.append_messages("a", [stage], fence)
    assert store.messages("a") == [*first, stage]
    assert store.messages("a", after_seq=2) == [first[2], stage]
    assert store.messages("a", after_seq=4) == []
    assert store.messages("b") == []
    assert store.get_run("a") == run  # the journal changes nothing of the run
    history = store.history("a")
    assert history is not None and history.messages == [*first, stage]
    # A listing leaves journals out: they may hold thousands of lines each.
    assert {h.run.run_id: h.messages for h in store.histories(RunFilter())} == {"a": [], "b": []}
    store.checkpoint("a", run.version, fence, source="waiting", dest="succeeded", trigger="stable",
                     update=RunUpdate(status="succeeded", finished_at="2026-01-01T00:02:00+00:00"))
    history = store.history("a")  # a finished run's history, as a run document reads it
    assert history is not None and history.messages == [*first, stage]
    assert [h.messages for h in store.histories(RunFilter(target=fence.target))] == [[]]


def test_a_message_seq_is_never_written_twice_and_a_refused_batch_writes_nothing(store: RunStore) -> None:
    fence = _started(store, "a")
    store.append_messages("a", _said("a", 1, 2), fence)
    with pytest.raises(ValueError, match="never rewritten"):
        store.append_messages("a", _said("a", 2, 3), fence)  # seq 2 is taken: 3 and 4 are not written either
    with pytest.raises(ValueError, match="one after another"):
        store.append_messages("a", [*_said("a", 3, 1), *_said("a", 5, 1)], fence)
    with pytest.raises(ValueError, match="of run b"):
        store.append_messages("a", _said("b", 3, 1), fence)
    with pytest.raises(ValueError):
        store.append_messages("b", _said("b", 1, 1), fence)  # a fence writes only its own run
    assert [m.seq for m in store.messages("a")] == [1, 2]
    store.append_messages("a", _said("a", 3, 1), fence)
    assert [m.seq for m in store.messages("a")] == [1, 2, 3]


def test_a_long_batch_of_messages_is_written_whole(store: RunStore) -> None:
    fence = _started(store, "a")
    said = _said("a", 1, 250)  # more than one DynamoDB transaction takes
    store.append_messages("a", said, fence)
    assert store.messages("a") == said
    assert store.messages("a", after_seq=248) == said[248:]


def test_a_message_is_one_bounded_line_of_a_short_kind() -> None:
    good = {"run_id": "a", "seq": 1, "kind": "progress", "text": "x" * 500, "at": "2026-01-01T00:00:00+00:00"}
    assert RunMessage(**good).item is None
    for wrong in ({"seq": 0}, {"seq": True}, {"kind": "Two Words"}, {"kind": ""}, {"text": ""}, {"text": "x" * 501},
                  {"text": "two\nlines"}):
        with pytest.raises(ValueError):
            RunMessage(**{**good, **wrong})


def test_transitions_are_read_after_a_seq(store: RunStore) -> None:
    fence = _started(store, "a")
    store.append_messages("a", _said("a", 1, 1), fence)  # sorts after the transitions in DynamoDB's collection
    version = 0
    for n in range(3):
        version = store.checkpoint("a", version, fence, source=f"s{n}", dest=f"s{n + 1}", trigger=f"t{n}").version
    assert [t.seq for t in store.transitions("a")] == [1, 2, 3]
    assert [t.dest for t in store.transitions("a", after_seq=1)] == ["s2", "s3"]
    assert store.transitions("a", after_seq=3) == []


def test_import_history_carries_messages(store: RunStore) -> None:
    said = _said("copied", 1, 3, item="web")
    run = replace(_run("copied"), status="succeeded", state="succeeded", finished_at="2026-01-01T00:05:00+00:00")
    assert store.import_history(RunHistory(run=run, messages=said))
    assert store.messages("copied") == said
    history = store.history("copied")
    assert history is not None and history.messages == said


# ---- several processes ------------------------------------------------------------------------------------
def _open_and_start(backend: StoreBackend, n: int, barrier: Any, results: Any) -> None:
    barrier.wait()
    try:
        store = backend.open()
        fence = _take(store, f"p{n}", target=f"ecs:1:r:c/s{n}", owner=f"host:{n}")
        store.create_run(_run(f"p{n}", f"ecs:1:r:c/s{n}"), fence)
        store.close()
        results.put((n, "ok"))
    except Exception as exc:  # reported to the parent, which asserts
        results.put((n, f"{type(exc).__name__}: {exc}"))


def _race_for_one_target(backend: StoreBackend, n: int, barrier: Any, results: Any) -> None:
    """Start run qN on the contended target the way the engine does: acquire, then create the run."""
    store = backend.open()
    barrier.wait()
    try:
        fence = _take(store, f"q{n}", target="ecs:1:r:c/contended", owner=f"host:{n}")
        store.create_run(_run(f"q{n}", "ecs:1:r:c/contended"), fence)
        results.put((n, "started"))
    except LockHeldError:
        results.put((n, "refused"))
    except LockLostError:  # taken over between acquire and create (our run did not exist yet)
        results.put((n, "fenced out"))
    finally:
        store.close()


def _in_processes(target: Any, backend: StoreBackend, count: int) -> list[tuple[int, Any]]:
    context = forked_processes()  # real processes, forked from a server that imported the store once
    barrier, results = context.Barrier(count), context.Queue()
    processes = [context.Process(target=target, args=(backend, n, barrier, results)) for n in range(count)]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    return sorted(outcomes)


def test_several_processes_opening_a_fresh_store_at_once_all_work(store_backend: StoreBackend) -> None:
    outcomes = _in_processes(_open_and_start, store_backend, 6)
    assert outcomes == [(n, "ok") for n in range(6)]
    store = store_backend.open()
    assert sorted(run.run_id for run in store.list_runs(RunFilter())) == [f"p{n}" for n in range(6)]
    store.close()


def _add_notes(backend: StoreBackend, n: int, barrier: Any, results: Any) -> None:
    """Append NOTES_EACH notes to run "noted" from process n, all processes starting together."""
    store = backend.open()
    barrier.wait()
    try:
        seqs = [store.add_note("noted", "approve", f"note {k} of writer {n}", f"writer-{n}@host").seq
                for k in range(NOTES_EACH)]
        results.put((n, seqs))
    except Exception as exc:  # reported to the parent, which asserts
        results.put((n, f"{type(exc).__name__}: {exc}"))
    finally:
        store.close()


NOTES_EACH = 3


def test_concurrent_note_writers_each_get_their_own_seq_and_none_is_lost(store_backend: StoreBackend) -> None:
    store = store_backend.open()
    _started(store, "noted")
    outcomes = _in_processes(_add_notes, store_backend, 4)
    assert all(isinstance(seqs, list) for _, seqs in outcomes), outcomes
    assigned = sorted(seq for _, seqs in outcomes for seq in seqs)
    assert assigned == list(range(1, 4 * NOTES_EACH + 1))
    notes = store.notes("noted")
    assert [note.seq for note in notes] == assigned
    assert sorted(note.text for note in notes) == sorted(f"note {k} of writer {n}" for n in range(4)
                                                         for k in range(NOTES_EACH))
    for n, seqs in outcomes:  # each writer's notes carry the seqs it was told
        assert [note.seq for note in notes if note.who == f"writer-{n}@host"] == seqs
    store.close()


def test_processes_racing_for_one_target_exactly_one_starts(store_backend: StoreBackend) -> None:
    store_backend.open().close()  # created; the race is for the lock, not the schema
    outcomes = _in_processes(_race_for_one_target, store_backend, 5)
    started = [n for n, result in outcomes if result == "started"]
    assert len(started) == 1, outcomes
    assert {result for _, result in outcomes} <= {"started", "refused", "fenced out"}
    store = store_backend.open()
    lock = store.get_lock("ecs:1:r:c/contended")
    assert lock is not None and lock.run_id == f"q{started[0]}"
    assert [run.run_id for run in store.list_runs(RunFilter())] == [f"q{started[0]}"]
    store.close()
