"""What only the DynamoDB store must prove: its layout (no Scan, 400 KB), unknown write outcomes settled by
reading, the skew margin, the open checks, and moving whole runs in."""

from __future__ import annotations

import base64
import os
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from dynamodb_helpers import dynamo_counts, make_table, open_store_at, point_at

from ecsops.sim.server import SimServer
from store import dynamodb_codec as codec
from store import dynamodb_layout as layout
from store.dynamodb_store import DynamoRunStore
from store.errors import ConcurrentUpdateError, LockHeldError, LockLostError, StoreOpenError, StoreWriteError
from store.location import DynamoLocation, SqliteLocation, parse_store_location
from store.models import Fence, ItemRecord, RunFilter, RunHistory, RunRecord, RunUpdate, StepRecord, TransitionRecord

NOW = 1_800_000_000.0
TARGET = "ecs:123456789012:us-east-1:demo/web"


@pytest.fixture
def sim_dynamo(sim_server: SimServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[SimServer]:
    """An empty simulated account with the store's table, this process pointed at it."""
    sim_server.reset(None)
    point_at(sim_server, monkeypatch)
    make_table()
    sim_server.reset_counts()
    yield sim_server


@pytest.fixture
def store(sim_dynamo: SimServer) -> DynamoRunStore:
    return open_store_at()


def _run(
    run_id: str, *, target: str = TARGET, started_at: str = "2026-11-26T10:00:00+00:00", **fields: Any
) -> RunRecord:
    values: dict[str, Any] = {
        "run_id": run_id, "operation": "deploy", "target": target, "status": "running", "state": "planned",
        "machine_version": "m1", "ecsops_version": "0.1.0", "started_at": started_at, "updated_at": started_at,
    }
    return RunRecord(**{**values, **fields})


def _started(store: DynamoRunStore, run_id: str = "r1", **fields: Any) -> tuple[RunRecord, Fence]:
    run = _run(run_id, **fields)
    lock = store.acquire_lock(run.target, run_id, "host-a:1", 300, now=NOW)
    fence = Fence(target=run.target, run_id=run_id, token=lock.token)
    store.create_run(run, fence)
    return run, fence


def _register_request(size: int) -> dict[str, Any]:
    """A RegisterTaskDefinition request of about size bytes of JSON (ECS allows 64 KB)."""
    containers = [
        {
            "name": f"app{i}",
            "image": f"123456789012.dkr.ecr.us-east-1.amazonaws.com/app{i}:{i}",
            "environment": [{"name": f"SETTING_{i}_{j}", "value": f"value-{i}-{j}-" + "x" * 40} for j in range(40)],
        }
        for i in range(size // 3700)
    ]
    return {"family": "web", "containerDefinitions": containers}


# ---- the store location -----------------------------------------------------------------------------------
def test_store_location_parses_table_region_profile_and_skew() -> None:
    parsed = parse_store_location("dynamodb://team-runs?region=eu-west-1&profile=ci&skew=2.5")
    assert parsed == DynamoLocation("team-runs", region="eu-west-1", profile="ci", skew_seconds=2.5)
    assert parsed.url() == "dynamodb://team-runs?region=eu-west-1&profile=ci"
    assert isinstance(parse_store_location("runs.db"), SqliteLocation)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("dynamodb:/runs", "dynamodb://TABLE"),
        ("dynamodb://a", "table name"),
        ("dynamodb://runs/x", "table name"),
        ("dynamodb://runs?regoin=eu-west-1", "unknown option 'regoin'"),
        ("dynamodb://runs?region=", "empty"),
        ("dynamodb://runs?skew=-1", "skew"),
        ("dynamodb://runs?skew=inf", "skew"),
    ],
)
def test_store_location_errors_say_what_to_fix(raw: str, message: str) -> None:
    with pytest.raises(StoreOpenError, match=message):
        parse_store_location(raw)


def test_skew_margin_defaults_to_a_few_seconds_and_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse_store_location("dynamodb://runs").skew_seconds == 5.0  # type: ignore[union-attr]
    monkeypatch.setenv("ECSOPS_STORE_SKEW_SECONDS", "1.5")
    assert parse_store_location("dynamodb://runs").skew_seconds == 1.5  # type: ignore[union-attr]
    assert parse_store_location("dynamodb://runs?skew=0").skew_seconds == 0.0  # type: ignore[union-attr]


@pytest.mark.process
def test_opening_a_sqlite_store_does_not_import_boto3(tmp_path: Any) -> None:
    import subprocess

    probe = (
        "import sys\nfrom store.open import open_store\n"
        f"open_store({str(tmp_path / 's.db')!r}).close()\n"
        "print('HEAVY', sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore')))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert "HEAVY []" in result.stdout, result.stderr


# ---- opening and store init -------------------------------------------------------------------------------
def test_a_missing_table_names_store_init(sim_server: SimServer, monkeypatch: pytest.MonkeyPatch) -> None:
    sim_server.reset(None)
    point_at(sim_server, monkeypatch)
    with pytest.raises(StoreOpenError, match=r"does not exist; create it with `ecsops store init --store dynamodb://ecsops-runs`"):
        open_store_at()


def test_a_table_not_set_up_by_init_is_refused(sim_server: SimServer, monkeypatch: pytest.MonkeyPatch) -> None:
    sim_server.reset(None)
    point_at(sim_server, monkeypatch)
    client = sim_server.client("dynamodb")
    client.create_table(
        TableName="ecsops-runs", BillingMode="PAY_PER_REQUEST",
        KeySchema=layout.key_schema(), AttributeDefinitions=layout.attribute_definitions()[:2],
    )
    with pytest.raises(StoreOpenError, match="not set up for ecsops; run `ecsops store init"):
        open_store_at()


def test_init_creates_the_table_with_its_protections_then_only_verifies(sim_dynamo: SimServer) -> None:
    client = sim_dynamo.client("dynamodb")
    table = client.describe_table(TableName="ecsops-runs")["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert table["DeletionProtectionEnabled"] is True
    assert {index["IndexName"] for index in table["GlobalSecondaryIndexes"]} == {"by_started", "by_target", "by_status"}
    backups = client.describe_continuous_backups(TableName="ecsops-runs")["ContinuousBackupsDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
    sim_dynamo.reset_counts()

    again = make_table()
    assert again[0] == "table ecsops-runs in us-east-1 exists with the expected key and indexes"
    assert again[-1] == "layout version 1 already recorded; nothing else to do"
    assert not {"CreateTable", "UpdateTable", "UpdateContinuousBackups", "PutItem"} & set(dynamo_counts(sim_dynamo))


def test_init_names_what_differs_in_a_table_of_another_schema(
    sim_server: SimServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim_server.reset(None)
    point_at(sim_server, monkeypatch)
    sim_server.client("dynamodb").create_table(
        TableName="ecsops-runs", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
    )
    with pytest.raises(StoreOpenError) as refused:
        make_table()
    message = str(refused.value)
    assert "its key is id (HASH), ecsops needs pk (HASH) and sk (RANGE)" in message
    assert "global secondary index by_started is missing" in message
    assert "Nothing was changed" in message
    with pytest.raises(StoreOpenError, match="another key schema"):
        open_store_at()


def test_access_denied_names_the_action_and_the_table(sim_dynamo: SimServer) -> None:
    sim_dynamo.add_fault({"service": "dynamodb", "operation": "GetItem", "kind": "access_denied"})
    denied = r"not allowed to call dynamodb:GetItem on table ecsops-runs \(us-east-1\)"
    with pytest.raises(StoreOpenError, match=denied):
        open_store_at()


# ---- layout ---------------------------------------------------------------------------------------------
def test_listing_runs_uses_the_indexes_never_a_scan(store: DynamoRunStore, sim_dynamo: SimServer) -> None:
    for i in range(12):
        run, fence = _started(
            store, f"r{i:02d}", target=f"ecs:1:us-east-1:demo/svc{i % 3}", started_at=f"2026-11-{10 + i}T00:00:00+00:00"
        )
        store.release_lock(fence)
        if i % 4 == 0:
            store.update_run(run.run_id, 0, None, RunUpdate(status="rolled_back"))
    sim_dynamo.reset_counts()

    newest = store.list_runs(RunFilter(limit=5))
    assert [r.run_id for r in newest] == ["r11", "r10", "r09", "r08", "r07"]
    by_target = store.list_runs(RunFilter(target="ecs:1:us-east-1:demo/svc1"))
    assert [r.run_id for r in by_target] == ["r10", "r07", "r04", "r01"]
    by_status = store.list_runs(RunFilter(status="rolled_back", since="2026-11-12T00:00:00+00:00"))
    assert [r.run_id for r in by_status] == ["r08", "r04"]
    both = store.list_runs(RunFilter(target="ecs:1:us-east-1:demo/svc0", status="rolled_back", operation="deploy"))
    assert [r.run_id for r in both] == ["r00"]
    assert store.list_runs(RunFilter(operation="replace-instances")) == []
    histories = store.histories(RunFilter(status="rolled_back"))
    assert [h.run.run_id for h in histories] == ["r08", "r04", "r00"]
    assert set(dynamo_counts(sim_dynamo)) <= {"Query", "BatchGetItem"}


def test_a_task_definition_near_ecs_64_kb_limit_fits_in_every_item(store: DynamoRunStore) -> None:
    request = _register_request(63 * 1024)
    arn = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:2"
    registered = {"taskDefinition": {**request, "revision": 2, "taskDefinitionArn": arn}}
    assert 60 * 1024 < len(codec.json.dumps(request)) < 64 * 1024
    _, fence = _started(store, params={"taskdef_request": request})
    facts = {"rollback_task_definition": registered, "request": request}
    updated = store.update_run("r1", 0, fence, RunUpdate(facts=facts))
    store.record_intent("r1", "register_task_definition", request, fence, lease_seconds=300, now=NOW)
    store.record_outcome("r1", "register_task_definition", "succeeded", fence, result=registered)
    store.checkpoint("r1", updated.version, fence, source="planned", dest="registering", trigger="register")

    assert store.get_run("r1").facts["request"] == request
    step = store.get_step("r1", "register_task_definition")
    assert step is not None and step.request == request and step.result == registered
    raw = store.table.query(
        KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": "RUN#r1"}}, ConsistentRead=True
    )
    assert max(codec.item_size(item) for item in raw) < 100 * 1024


def test_a_record_over_400_kb_is_refused_before_sending(store: DynamoRunStore, sim_dynamo: SimServer) -> None:
    _, fence = _started(store)
    incompressible = base64.b64encode(os.urandom(600_000)).decode()
    sim_dynamo.reset_counts()
    with pytest.raises(StoreWriteError, match="over DynamoDB's 400 KB item limit; nothing was written"):
        store.record_intent("r1", "huge", {"blob": incompressible}, fence, lease_seconds=300, now=NOW)
    assert "TransactWriteItems" not in dynamo_counts(sim_dynamo)


def test_steps_and_items_keep_the_order_they_were_recorded_in(store: DynamoRunStore) -> None:
    _, fence = _started(store)
    for name in ("zeta", "alpha", "mid"):
        store.record_intent("r1", name, {}, fence, lease_seconds=300, now=NOW)
    for item_id in ("i-9", "i-1", "i-5"):
        store.put_item("r1", item_id, "pending", {}, fence)
    assert [s.name for s in store.steps("r1")] == ["zeta", "alpha", "mid"]
    assert [i.item_id for i in store.items("r1")] == ["i-9", "i-1", "i-5"]


# ---- a checkpoint is one request ------------------------------------------------------------------------
def test_a_checkpoint_is_one_transaction_with_the_lock_check(store: DynamoRunStore, sim_dynamo: SimServer) -> None:
    run, fence = _started(store)
    sim_dynamo.reset_counts()
    moved = store.checkpoint("r1", run.version, fence, source="planned", dest="snapshotted", trigger="snapshot")
    assert dynamo_counts(sim_dynamo) == {"TransactWriteItems": 1}
    assert moved.state == "snapshotted" and moved.version == run.version + 1
    assert store.get_run("r1") == moved

    store.break_lock(TARGET, "r1")
    sim_dynamo.reset_counts()
    with pytest.raises(LockLostError):
        store.checkpoint("r1", moved.version, fence, source="snapshotted", dest="registering", trigger="register")
    assert store.transitions("r1")[-1].dest == "snapshotted"


def test_the_checkpoint_that_ends_a_run_frees_its_lock_in_the_same_transaction(
    store: DynamoRunStore, sim_dynamo: SimServer
) -> None:
    run, fence = _started(store)
    sim_dynamo.reset_counts()
    store.checkpoint("r1", run.version, fence, source="planned", dest="succeeded", trigger="done",
                     update=RunUpdate(status="succeeded", finished_at="2026-11-26T10:05:00+00:00"))
    store.release_lock(fence)  # what the engine does next: nothing left to do
    assert dynamo_counts(sim_dynamo) == {"TransactWriteItems": 1}
    lock = open_store_at().get_lock(TARGET)
    assert lock is not None and lock.run_id is None and lock.token == fence.token
    with pytest.raises(LockLostError):
        store.renew_lock(fence, "host-a:1", 300, now=NOW)


def test_a_finished_run_this_process_wrote_is_read_back_from_what_it_wrote(
    store: DynamoRunStore, sim_dynamo: SimServer
) -> None:
    run, fence = _started(store)
    store.put_item("r1", "i-1", "pending", {"a": 1}, fence)
    store.record_intent("r1", "register", {"family": "web"}, fence, lease_seconds=300, now=NOW)
    assert store.get_step("r1", "register") is not None
    store.record_outcome("r1", "register", "succeeded", fence, result={"revision": 2})
    run = store.checkpoint("r1", run.version, fence, source="pending", dest="detaching", trigger="start",
                           item="i-1", item_data={"a": 2})
    run = store.checkpoint("r1", run.version, fence, source="planned", dest="succeeded", trigger="done",
                           update=RunUpdate(status="succeeded", finished_at="2026-11-26T10:05:00+00:00"))
    sim_dynamo.reset_counts()
    mine = store.history("r1")
    assert dynamo_counts(sim_dynamo) == {"Query": 1}  # only its notes, which others write
    assert mine == open_store_at().history("r1")
    assert mine is not None and [i.state for i in mine.items] == ["detaching"]


def test_a_note_written_by_another_process_is_in_the_history_the_driver_reads_back(
    store: DynamoRunStore, sim_dynamo: SimServer
) -> None:
    """`ecsops approve` notes a live run from another process; the driver's final report shows that note."""
    run, fence = _started(store)
    approver = open_store_at()
    note = approver.add_note("r1", "approve", "approved hook h-1", "alice@laptop")
    store.checkpoint("r1", run.version, fence, source="planned", dest="succeeded", trigger="done",
                     update=RunUpdate(status="succeeded", finished_at="2026-11-26T10:05:00+00:00"))
    mine = store.history("r1")
    assert mine is not None and mine.notes == [note]
    assert mine == approver.history("r1")


# ---- notes: one Query for the run and its last note, then a put conditioned on the seq ----------------------
def test_a_note_is_one_query_and_one_conditional_put_in_the_runs_partition(
    store: DynamoRunStore, sim_dynamo: SimServer
) -> None:
    _started(store)
    store.add_note("r1", "approve", "first", "alice@host")
    sim_dynamo.reset_counts()
    note = store.add_note("r1", "approve", "second", "alice@host")
    assert note.seq == 2
    assert dynamo_counts(sim_dynamo) == {"Query": 1, "PutItem": 1}
    item = sim_dynamo.client("dynamodb").get_item(TableName="ecsops-runs", Key=layout.note_key("r1", 2))["Item"]
    assert item["sk"]["S"] == "NOTE#0000000002" and codec.note_from_item(item) == note
    sim_dynamo.reset_counts()
    history = store.history("r1")
    assert history is not None and [n.text for n in history.notes] == ["first", "second"]
    assert dynamo_counts(sim_dynamo) == {"Query": 1}  # the run's one history Query carries its notes


def test_a_note_that_lost_its_seq_to_another_takes_the_next(
    store: DynamoRunStore, sim_dynamo: SimServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import store.dynamodb_store as dynamodb_store

    _started(store)
    other = store.add_note("r1", "approve", "the other writer's", "bob@host")
    real_tail = dynamodb_store.note_tail
    stale = iter([(True, 0)])  # read before the other writer's note landed

    def tail(table: Any, run_id: str) -> tuple[bool, int]:
        return next(stale, None) or real_tail(table, run_id)

    monkeypatch.setattr(dynamodb_store, "note_tail", tail)
    sim_dynamo.reset_counts()
    mine = store.add_note("r1", "approve", "mine", "alice@host")
    assert mine.seq == 2
    assert dynamo_counts(sim_dynamo)["PutItem"] == 2  # the first put was refused: seq 1 was taken
    assert store.notes("r1") == [other, mine]


def test_a_note_whose_answer_is_lost_is_settled_by_reading_and_written_once(
    store: DynamoRunStore, sim_dynamo: SimServer
) -> None:
    _started(store)
    sim_dynamo.add_fault({"service": "dynamodb", "operation": "PutItem", "kind": "http500_after", "nth": 1})
    note = store.add_note("r1", "approve", "approved", "alice@host")
    assert {f.kind for f in sim_dynamo.faults.delivered} == {"http500_after"}
    assert note.seq == 1 and store.notes("r1") == [note]


# ---- unknown outcomes are settled by reading, never applied twice ---------------------------------------------
WRITES = ["create", "update", "checkpoint", "item_checkpoint", "intent", "outcome", "put_item"]


def _do(store: DynamoRunStore, write: str, fence: Fence) -> None:
    if write == "update":
        store.update_run("r1", store.get_run("r1").version, fence, RunUpdate(facts={"deployment_id": "ecs-svc/1"}))
    elif write == "checkpoint":
        store.checkpoint("r1", store.get_run("r1").version, fence, source="planned", dest="snapshotted",
                         trigger="snapshot")
    elif write == "item_checkpoint":
        store.checkpoint("r1", store.get_run("r1").version, fence, source="pending", dest="detaching",
                         trigger="start", item="i-1", item_data={"asg": "demo-asg"})
    elif write == "intent":
        store.record_intent("r1", "update_service", {"service": "web"}, fence, lease_seconds=300, now=NOW)
    elif write == "outcome":
        store.record_outcome("r1", "register_task_definition", "succeeded", fence, result={"revision": 2})
    elif write == "put_item":
        store.put_item("r1", "i-2", "pending", {"asg": "demo-asg"}, fence)


def _prepared(store: DynamoRunStore, write: str) -> Fence:
    if write == "create":
        lock = store.acquire_lock(TARGET, "r1", "host-a:1", 300, now=NOW)
        return Fence(target=TARGET, run_id="r1", token=lock.token)
    _, fence = _started(store)
    store.put_item("r1", "i-1", "pending", {}, fence)
    store.record_intent("r1", "register_task_definition", {"family": "web"}, fence, lease_seconds=300, now=NOW)
    return fence


def _recorded(store: DynamoRunStore) -> tuple[Any, ...]:
    run = store.get_run("r1")
    return (
        run.version, run.state, run.facts, [(t.seq, t.dest) for t in store.transitions("r1")],
        [(s.name, s.status) for s in store.steps("r1")], [(i.item_id, i.state, i.data) for i in store.items("r1")],
    )


CASES = [(write, "http500_after") for write in WRITES] + [
    (write, kind) for kind in ("http500", "reset", "throttling") for write in ("checkpoint", "intent")
]


@pytest.mark.parametrize(("write", "kind"), CASES)
def test_a_write_whose_answer_is_lost_is_settled_by_reading_and_applied_once(
    sim_dynamo: SimServer, write: str, kind: str
) -> None:
    clean = open_store_at()
    fence = _prepared(clean, write)
    if write == "create":
        clean.create_run(_run("r1"), fence)
    else:
        _do(clean, write, fence)
    expected = _recorded(clean)

    sim_dynamo.reset(None)
    make_table()
    store = open_store_at()
    fence = _prepared(store, write)
    operation = "TransactWriteItems"
    sim_dynamo.add_fault({"service": "dynamodb", "operation": operation, "kind": kind, "nth": 1, "count": 2})
    if write == "create":
        store.create_run(_run("r1"), fence)
    else:
        _do(store, write, fence)
    delivered = {f.kind for f in sim_dynamo.faults.delivered}
    assert delivered == {kind}
    assert _recorded(open_store_at()) == expected


def test_a_write_refused_for_good_after_its_lost_answer_is_reported_not_hidden(
    store: DynamoRunStore, sim_dynamo: SimServer
) -> None:
    run, fence = _started(store)
    other = open_store_at()
    other.update_run("r1", run.version, None, RunUpdate(status="abandoned"))  # an administrator got there first
    sim_dynamo.add_fault({"service": "dynamodb", "operation": "TransactWriteItems", "kind": "http500", "nth": 1})
    with pytest.raises(ConcurrentUpdateError):
        store.checkpoint("r1", run.version, fence, source="planned", dest="snapshotted", trigger="snapshot")
    assert store.transitions("r1") == []


def test_writes_give_up_after_persistent_throttling_with_the_last_state_intact(
    store: DynamoRunStore, sim_dynamo: SimServer
) -> None:
    run, fence = _started(store)
    sim_dynamo.add_fault({"service": "dynamodb", "operation": "TransactWriteItems", "kind": "throttling"})
    with pytest.raises(StoreWriteError, match=r"failed 8 times .*the last committed state stays valid"):
        store.checkpoint("r1", run.version, fence, source="planned", dest="snapshotted", trigger="snapshot")
    assert open_store_at().get_run("r1") == run


def test_reads_are_retried_through_throttling(store: DynamoRunStore, sim_dynamo: SimServer) -> None:
    run, _ = _started(store)
    sim_dynamo.add_fault({"service": "dynamodb", "operation": "GetItem", "kind": "throttling", "nth": 1, "count": 2})
    assert store.get_run("r1") == run


# ---- locks and clocks -------------------------------------------------------------------------------------
def test_an_expired_lease_is_honoured_for_the_skew_margin(sim_dynamo: SimServer) -> None:
    store = open_store_at("dynamodb://ecsops-runs?skew=5")
    _started(store)  # lease until NOW + 300
    with pytest.raises(LockHeldError):
        store.acquire_lock(TARGET, "r2", "host-b:1", 300, now=NOW + 300)
    with pytest.raises(LockHeldError):
        store.acquire_lock(TARGET, "r2", "host-b:1", 300, now=NOW + 304.9)
    taken = store.acquire_lock(TARGET, "r2", "host-b:1", 300, now=NOW + 305)
    assert taken.run_id == "r2" and taken.token == 2


def test_a_lock_taken_between_reading_and_writing_it_is_not_taken_twice(
    sim_dynamo: SimServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = open_store_at(), open_store_at()
    _started(a, "r0")  # its lease ends at NOW + 300
    later = NOW + 1000
    locks = b._locks
    decide = locks._decide

    def a_takes_it_meanwhile(*args: Any, **kwargs: Any) -> str | None:
        decision = decide(*args, **kwargs)
        lock = a.get_lock(TARGET)
        if lock is not None and lock.run_id == "r0":
            taken = a.acquire_lock(TARGET, "ra", "host-a:1", 300, now=later)
            a.create_run(_run("ra"), Fence(target=TARGET, run_id="ra", token=taken.token))
        return decision

    monkeypatch.setattr(locks, "_decide", a_takes_it_meanwhile)
    with pytest.raises(LockHeldError, match="locked by run ra"):
        b.acquire_lock(TARGET, "rb", "host-b:1", 300, now=later)
    lock = b.get_lock(TARGET)
    assert lock is not None and (lock.run_id, lock.token) == ("ra", 2)


def test_taking_a_free_lock_is_one_request(store: DynamoRunStore, sim_dynamo: SimServer) -> None:
    _, fence = _started(store)
    store.release_lock(fence)
    sim_dynamo.reset_counts()
    taken = store.acquire_lock(TARGET, "r2", "host-b:1", 300, now=NOW)
    assert (taken.run_id, taken.token) == ("r2", 2)
    assert dynamo_counts(sim_dynamo) == {"UpdateItem": 1}


# ---- import_history -------------------------------------------------------------------------------------
def test_import_history_writes_a_whole_run_once(store: DynamoRunStore) -> None:
    at = "2026-11-26T10:00:00+00:00"
    history = RunHistory(
        run=_run("old-1", status="succeeded", state="succeeded", version=7, facts={"deployment_id": "d1"}),
        transitions=[TransitionRecord(run_id="old-1", seq=i, source=f"s{i}", dest=f"s{i + 1}", trigger="t", at=at)
                     for i in range(1, 6)],
        steps=[StepRecord(run_id="old-1", name=n, status="succeeded", request={"n": n}, result={"ok": n},
                          started_at=at, finished_at=at) for n in ("update", "register")],
        items=[ItemRecord(run_id="old-1", item_id="i-2", state="terminated", data={"x": 1}, updated_at=at)],
    )
    assert store.import_history(history) is True
    assert store.import_history(history) is False
    fresh = open_store_at()
    assert fresh.get_run("old-1") == history.run
    assert fresh.transitions("old-1") == history.transitions
    assert fresh.steps("old-1") == history.steps
    assert fresh.items("old-1") == history.items
    assert fresh.histories(RunFilter()) == [history]
