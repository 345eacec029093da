"""Filtered run listings (ecsops.cli.run_listing): the indexes SQLite stores get for them (migration m007), and that
the listing read from run records gives exactly what filtering every run's history gives, in a bounded number of
store queries."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import StoreBackend
from sqlite_helpers import traced_statements
from sqlite_utils import Database

from ecsops.aws.arns import is_full_key, target_matches
from ecsops.cli.operations import BUILTIN_TOUCHED, touched_targets
from ecsops.cli.run_listing import RunQuery, list_histories, parse_query, started_by_matches
from store.base import RunStore
from store.migrations import known_migration_names, migrations
from store.models import ItemRecord, RunFilter, RunHistory, RunNote, RunRecord, StepRecord, TransitionRecord
from store.reader import RunReader, StoreReader, open_reader, open_sqlite_reader
from store.sqlite_store import open_sqlite_store

STARTED = "2026-01-02T03:04:05+00:00"


# ---- the migration --------------------------------------------------------------------------------------------
def _m006_store(path: Path) -> list[tuple[object, ...]]:
    """A store as ecsops wrote it before the listing indexes (migrations up to m006) with two runs; its run rows."""
    db = Database(sqlite3.connect(str(path), isolation_level=None))
    migrations.apply(db, stop_before="m007_listing_indexes")
    for run_id, target in (("a", "ecs:1:r:c/web"), ("b", "ecs:1:r:c/api")):
        db.table("runs").insert({
            "run_id": run_id, "operation": "example", "target": target, "status": "succeeded", "state": "done",
            "version": 2, "machine_version": "v", "ecsops_version": "0", "params": "{}", "facts": "{}", "timers": "{}",
            "ci": "{}", "started_by": "me@host", "started_at": STARTED, "updated_at": STARTED, "finished_at": STARTED,
        })
    rows = list(db.execute("SELECT * FROM runs ORDER BY rowid").fetchall())
    db.close()
    return rows


def _plan(path: Path, sql: str) -> str:
    conn = sqlite3.connect(path)
    try:
        return " | ".join(row[-1] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", ["x"]))
    finally:
        conn.close()


def test_the_listing_indexes_are_added_to_an_older_store_which_reads_the_same_without_them(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    rows = _m006_store(path)
    by_target = "SELECT * FROM runs WHERE target = ? ORDER BY started_at DESC, rowid DESC LIMIT 50"
    by_operation = "SELECT * FROM runs WHERE operation = ? ORDER BY started_at DESC, rowid DESC LIMIT 50"
    assert "TEMP B-TREE" in _plan(path, by_target)  # every run of the target read, then sorted
    reader = open_sqlite_reader(path)  # the plain reader does without m007: the same answers, found slower
    assert reader is not None
    try:
        assert reader.targets() == ["ecs:1:r:c/api", "ecs:1:r:c/web"]
        assert [run.run_id for run in reader.list_runs(RunFilter(target="ecs:1:r:c/web"))] == ["a"]
    finally:
        reader.close()
    path.chmod(0o444)
    path.parent.chmod(0o555)
    try:
        full = open_sqlite_store(path, read_only=True)  # m007 is read-compatible
        assert [run.run_id for run in full.list_runs(RunFilter(operation="example"))] == ["b", "a"]
        full.close()
    finally:
        path.parent.chmod(0o755)
        path.chmod(0o644)

    open_sqlite_store(path).close()
    conn = sqlite3.connect(path)
    try:
        applied = {row[0] for row in conn.execute("SELECT name FROM _sqlite_migrations")}
        assert list(conn.execute("SELECT * FROM runs ORDER BY rowid")) == rows
    finally:
        conn.close()
    assert applied == known_migration_names()
    for sql, index in ((by_target, "idx_runs_target_started_at"), (by_operation, "idx_runs_operation_started_at")):
        plan = _plan(path, sql)
        assert index in plan and "TEMP B-TREE" not in plan, plan  # read in order from the index, stopped at the limit


# ---- the same runs as filtering every history -------------------------------------------------------------------
ACCOUNTS = ("111111111111", "222222222222")
REGIONS = ("us-east-1", "eu-west-1")
SERVICES = ("demo/web", "demo/api", "prod/web")
GROUPS = ("demo-asg", "web")  # an Auto Scaling group named like a service's name
# started_by, and the CI job's identity
PEOPLE: tuple[tuple[str, dict[str, str]], ...] = (
    ("alice@laptop", {}), ("bob@desk", {}), ("runner@ci-7", {"system": "github-actions", "actor": "alice"}),
    ("runner@ci-7", {"system": "github-actions", "actor": "carol"}), ("alice.b@desk", {}),
)
BASE = datetime(2026, 3, 1, tzinfo=UTC)


def _history(n: int, pick: random.Random) -> RunHistory:
    """Run n of a mixed store: deploys, replacements, fleets touching services, and runs of another operation, over
    two accounts and regions, by several people, at times that often coincide; ids do not sort in creation order."""
    account, region = pick.choice(ACCOUNTS), pick.choice(REGIONS)
    kind = pick.random()
    params: dict[str, Any] = {}
    if kind < 0.55:
        operation, name = "deploy", pick.choice(SERVICES)
        target = f"ecs:{account}:{region}:{name}"
    elif kind < 0.7:
        operation, target = "replace-instances", f"asg:{account}:{region}:{pick.choice(GROUPS)}"
    elif kind < 0.88:
        operation, target = "deploy-fleet", f"fleet:{account}:{region}:release#{n:04x}"
        services = pick.sample(SERVICES, pick.randrange(1, len(SERVICES) + 1))
        params = {"services": [
            {"params": {"account": pick.choice(ACCOUNTS), "region": region, "cluster": service.split("/")[0],
                        "service": service.split("/")[1]}, "line": 3}
            for service in services] + [{"line": 9}]}  # an entry without params touches nothing
    else:
        operation, target = "example", f"fake:{pick.choice(('web', 'x'))}"
    run_id = f"{pick.getrandbits(24):06x}-{n}"
    started = (BASE + timedelta(minutes=pick.randrange(0, 120))).isoformat(timespec="microseconds")
    status = pick.choice(("succeeded", "succeeded", "failed", "rolled_back", "running"))
    started_by, ci = pick.choice(PEOPLE)
    run = RunRecord(
        run_id=run_id, operation=operation, target=target, status=status, state=status, machine_version="v",
        ecsops_version="0", params=params, facts={"n": n}, started_by=started_by, ci=ci, started_at=started,
        updated_at=started, finished_at=None if status == "running" else started,
    )
    return RunHistory(
        run=run,
        transitions=[TransitionRecord(run_id=run_id, seq=1, source="planned", dest=status, trigger="go", at=started)],
        steps=[StepRecord(run_id=run_id, name="call", status="succeeded", request={"n": n}, result={"ok": n},
                          started_at=started, finished_at=started)],
        items=[ItemRecord(run_id=run_id, item_id="i-1", state="done", data={"n": n}, updated_at=started)]
        if operation == "replace-instances" else [],
        notes=[RunNote(run_id=run_id, seq=1, kind="approve", text="ok", who="bob@desk", at=started)] if n % 7 == 0
        else [],
    )


def _fill(store: RunStore, runs: int, seed: int = 20) -> None:
    pick = random.Random(seed)
    for n in range(runs):
        assert store.import_history(_history(n, pick))


def _expected(every: Sequence[RunHistory], query: RunQuery) -> list[RunHistory]:
    """What list_histories promises, from every history in the store's order (newest first, ties as the store
    breaks them): the first `limit` that match; for a full target key, the first `limit` of its own runs and the
    first `limit` of those touching it besides, together by start then id."""
    def in_filter(run: RunRecord, operation: str | None, exact: str | None = None) -> bool:
        return (operation in (None, run.operation) and exact in (None, run.target)
                and query.status in (None, run.status)
                and (query.since is None or run.started_at >= query.since)
                and (query.until is None or run.started_at < query.until))

    def by_who(run: RunRecord) -> bool:
        return query.who is None or started_by_matches(query.who, run.started_by, run.ci)

    def touches(run: RunRecord) -> bool:
        return any(target_matches(key, query.target or "") for key in touched_targets(run))

    target, limit = query.target, query.limit
    if target is None:
        return [h for h in every if in_filter(h.run, query.operation) and by_who(h.run)][:limit]
    if not is_full_key(target):
        return [h for h in every if in_filter(h.run, query.operation) and touches(h.run) and by_who(h.run)][:limit]
    found = [h for h in every if in_filter(h.run, query.operation, target) and by_who(h.run)][:limit]
    for name in sorted(BUILTIN_TOUCHED):
        if query.operation in (None, name):
            found += [h for h in every if in_filter(h.run, name) and touches(h.run) and by_who(h.run)][:limit]
    unique = {h.run.run_id: h for h in found}.values()
    return sorted(unique, key=lambda h: (h.run.started_at, h.run.run_id), reverse=True)[:limit]


TARGETS = (
    None, "demo/web", "prod/web", "web", "ecs:demo/web", "ecs:web", "asg:web", "demo-asg", "asg:demo-asg", "x",
    "fake:web", "nothing/here", f"ecs:{ACCOUNTS[0]}:{REGIONS[0]}:demo/web", f"ecs:{ACCOUNTS[1]}:{REGIONS[1]}:prod/web",
    f"asg:{ACCOUNTS[0]}:{REGIONS[1]}:web", f"ecs:{ACCOUNTS[0]}:{REGIONS[0]}:nothing/here",
)
WHO = (None, "alice", "alice@laptop", "carol", "runner", "alice.b", "nobody")
OPERATIONS = (None, None, "deploy", "deploy-fleet", "replace-instances")
WINDOWS = (
    (None, None), ("2026-03-01T00:30", None), (None, "2026-03-01T01:10"), ("2026-03-01T00:20", "2026-03-01T00:50"),
)


def _queries(count: int, limits: Sequence[int], *, every_target_and_who: bool = True, seed: int = 7
             ) -> list[RunQuery]:
    """Every target with every `who` (the first limit), then `count` more at random over every filter."""
    pick = random.Random(seed)
    queries = [parse_query(target=target, who=who, limit=limits[0])
               for target in TARGETS for who in WHO if every_target_and_who]
    for _ in range(count):
        since, until = pick.choice(WINDOWS)
        queries.append(parse_query(
            target=pick.choice(TARGETS), who=pick.choice(WHO), operation=pick.choice(OPERATIONS),
            status=pick.choice((None, None, "failed", "succeeded")), since=since, until=until,
            limit=pick.choice(limits)))
    return queries


def _check(reader: RunReader, queries: Sequence[RunQuery]) -> None:
    every = list(reader.histories(RunFilter(limit=10**6)))
    for query in queries:
        listed, expected = list(list_histories(reader, query)), _expected(every, query)
        assert [h.run.run_id for h in listed] == [h.run.run_id for h in expected], query
        assert listed == expected, query  # each history whole


def test_filtered_listings_equal_filtering_every_history_on_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = open_sqlite_store(path)
    _fill(store, 320)
    queries = _queries(400, limits=(5, 1, 2, 7, 50, 10000))
    every = list(store.histories(RunFilter(limit=10**6)))
    assert sum(1 for query in queries if _expected(every, query)) > len(queries) // 3  # most find runs
    reader = open_sqlite_reader(path)
    assert reader is not None
    try:
        _check(reader, queries)  # the plain reader `runs` and the ui use
        _check(StoreReader(store), queries)  # the full backend
    finally:
        reader.close()
        store.close()


@pytest.mark.parametrize("store_backend", ["dynamodb"], indirect=True)
def test_filtered_listings_equal_filtering_every_history_on_dynamodb(store_backend: StoreBackend) -> None:
    store = store_backend.open()
    _fill(store, 100)
    reader = open_reader(store_backend.location)
    try:
        assert reader.targets() is None  # matched on the runs' records: a typed target reads them all
        _check(reader, _queries(30, limits=(3, 1, 12), every_target_and_who=False))
    finally:
        reader.close()
        store.close()


# ---- bounded reads ------------------------------------------------------------------------------------------
def _service_store(path: Path, runs: int) -> None:
    """`runs` deploys of demo/web in two accounts, by alice and bob in turn, and every fifth run a fleet touching it."""
    store = open_sqlite_store(path)
    for n in range(runs):
        account = ACCOUNTS[n % 2]
        started = (BASE + timedelta(seconds=n)).isoformat(timespec="microseconds")
        fleet = n % 5 == 4
        run = RunRecord(
            run_id=f"run-{n:05d}", operation="deploy-fleet" if fleet else "deploy",
            target=f"fleet:{account}:{REGIONS[0]}:release#{n}" if fleet else f"ecs:{account}:{REGIONS[0]}:demo/web",
            params={"services": [{"params": {"account": account, "region": REGIONS[0], "cluster": "demo",
                                             "service": "web"}}]} if fleet else {},
            status="succeeded", state="succeeded", machine_version="v", ecsops_version="0",
            started_by=("alice@laptop", "bob@desk")[n // 5 % 2], started_at=started, updated_at=started,
            finished_at=started)
        store.import_history(RunHistory(run=run, transitions=[TransitionRecord(
            run_id=run.run_id, seq=1, source="planned", dest="succeeded", trigger="go", at=started)]))
    store.close()


def _listed(path: Path, **filters: Any) -> tuple[int, list[str]]:
    """How many runs the plain reader lists for the filters, and the statements it ran."""
    with traced_statements() as statements:
        reader = open_sqlite_reader(path)
        assert reader is not None
        statements.clear()
        try:
            listed = len(list_histories(reader, parse_query(**filters)))
        finally:
            reader.close()
    return listed, [statement for statement in statements if statement.lstrip().upper().startswith("SELECT")]


@pytest.mark.parametrize("filters", [
    {"target": "demo/web"}, {"target": f"ecs:{ACCOUNTS[0]}:{REGIONS[0]}:demo/web"}, {"who": "alice"},
    {"target": "demo/web", "who": "bob"}, {"target": "ecs:demo/web", "operation": "deploy-fleet"},
], ids=lambda filters: ",".join(f"{k}={v}" for k, v in filters.items()))
def test_a_filtered_listing_reads_what_it_shows_in_the_same_queries_for_few_runs_or_many(
    tmp_path: Path, filters: dict[str, str]
) -> None:
    few, many = tmp_path / "few.db", tmp_path / "many.db"
    _service_store(few, 20)
    _service_store(many, 600)
    listed_few, statements_few = _listed(few, **filters, limit=10000)
    listed_many, statements_many = _listed(many, **filters, limit=10000)
    assert 0 < listed_few < listed_many
    # targets, one read per full key matched, one of the fleets, then the histories chosen: runs, transitions, steps,
    # items, notes
    assert len(statements_few) == len(statements_many) <= 9, statements_many
    # the histories (their transitions) are read once, for the runs shown
    assert sum("FROM transitions" in statement for statement in statements_many) == 1
    if "target" in filters:  # every read of runs is narrowed by an index: a target, an operation or the ids chosen
        for statement in statements_many:
            if "FROM runs" in statement and "DISTINCT target" not in statement:
                assert any(f"WHERE {column} = " in statement for column in ("target", "operation", "run_id IN")
                           ) or "json_each" in statement, statement


def test_reading_further_back_for_rare_matches_takes_a_few_queries(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    _service_store(path, 3000)
    for filters, most in (({"who": "alice", "operation": "deploy-fleet", "limit": 10}, 4),  # 1 run in 10 matches
                          ({"target": "demo/web", "who": "bob", "since": "2026-03-01T00:30"}, 9)):  # 2 keys
        listed, statements = _listed(path, **filters)
        runs_read = [statement for statement in statements if "FROM runs" in statement]
        assert listed == filters.get("limit", 50) and len(runs_read) <= most, runs_read
    listed, statements = _listed(path, who="nobody")  # no run matches: every one is read, in a few queries
    assert listed == 0 and len([s for s in statements if "FROM runs" in s]) <= 5
