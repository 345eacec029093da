"""The run's message journal (issue 20): the SQLite migration that adds it, the plain reader, a read-only store from
before it, the journal of the driving process (machines.messages: bounds, numbering, flushes), what the engine
journals and when, the run document and the `status` view. The store contract itself (fenced appends, seq order,
reads after a seq) is in test_store_contract.py, against both backends."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlite_helpers import applied_migrations, table_rows
from sqlite_utils import Database

from ecsops.cli.documents import history_document, run_document
from ecsops.cli.render import render_status
from machines.messages import CUT, FULL_KIND, FULL_NOTICE, MAX_MESSAGES, MessageJournal, journal_lines
from store.errors import LockLostError, MessageSeqTakenError
from store.migrations import known_migration_names, migrations
from store.models import MESSAGE_TEXT_LIMIT, Fence, RunFilter, RunMessage, RunRecord, RunUpdate
from store.reader import SqliteRunReader, open_reader, open_sqlite_reader
from store.sqlite_store import SqliteRunStore, open_sqlite_store

STARTED = "2026-01-02T03:04:05+00:00"
OLD_TABLES = ("runs", "transitions", "steps", "items", "locks", "notes")


def _record(run_id: str, status: str = "running") -> RunRecord:
    return RunRecord(
        run_id=run_id, operation="example", target=f"fake:{run_id}", status=status, state="planned",
        machine_version="v1", ecsops_version="0.1.0", started_at=STARTED, updated_at=STARTED, started_by="me@host",
    )


def _started(store: SqliteRunStore, run_id: str) -> Fence:
    lock = store.acquire_lock(f"fake:{run_id}", run_id, "me:1", 300, now=time.time())
    fence = Fence(target=lock.target, run_id=run_id, token=lock.token)
    store.create_run(_record(run_id), fence)
    return fence


def _said(run_id: str, first: int, texts: Sequence[str], kind: str = "progress") -> list[RunMessage]:
    return [RunMessage(run_id=run_id, seq=first + n, kind=kind, text=text, at=f"2026-01-02T03:05:{n:02d}+00:00")
            for n, text in enumerate(texts)]


# ---- the migration ------------------------------------------------------------------------------------------
def _m005_store(path: Path) -> None:
    """A store as ecsops wrote it before the journal (migrations up to m005), with a row in every table."""
    db = Database(sqlite3.connect(str(path), isolation_level=None))
    migrations.apply(db, stop_before="m006_run_messages")
    db.table("runs").insert({
        "run_id": "old", "operation": "example", "target": "fake:w", "status": "running", "state": "waiting",
        "version": 2, "machine_version": "v", "ecsops_version": "0", "params": "{}", "facts": '{"x": 1}',
        "timers": "{}", "ci": "{}", "started_by": "me@host", "started_at": STARTED, "updated_at": STARTED,
    })
    db.table("transitions").insert({"run_id": "old", "seq": 1, "item": None, "source": "planned", "dest": "waiting",
                                    "trigger": "plan", "at": STARTED})
    db.table("steps").insert({"run_id": "old", "name": "call", "status": "succeeded", "request": '{"a": 1}',
                              "result": '{"b": 2}', "error": None, "started_at": STARTED, "finished_at": STARTED})
    db.table("items").insert({"run_id": "old", "item_id": "i-1", "state": "pending", "data": "{}",
                              "updated_at": STARTED})
    db.table("locks").insert({"target": "fake:w", "run_id": "old", "owner": "h:1", "token": 4, "acquired_at": STARTED,
                              "expires_at": 99.0})
    db.table("notes").insert({"run_id": "old", "seq": 1, "kind": "approve", "text": "ok", "who": "a@b", "at": STARTED})
    db.close()


def test_a_store_before_the_journal_upgrades_losing_nothing(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _m005_store(path)
    before = {table: table_rows(path, table) for table in OLD_TABLES}
    assert "m006_run_messages" not in applied_migrations(path)

    store = open_sqlite_store(path)
    assert applied_migrations(path) == known_migration_names()
    assert {table: table_rows(path, table) for table in OLD_TABLES} == before
    history = store.history("old")
    assert history is not None and history.messages == [] and [n.text for n in history.notes] == ["ok"]
    assert (history.run.facts, [t.dest for t in history.transitions], history.steps[0].result) == (
        {"x": 1}, ["waiting"], {"b": 2})
    # The run's driver (holding its lock, token 4) journals from now on.
    fence = Fence(target="fake:w", run_id="old", token=4)
    said = _said("old", 1, ["after the upgrade"])
    store.append_messages("old", said, fence)
    assert store.messages("old") == said
    store.close()
    open_sqlite_store(path).close()  # opening again applies nothing more
    assert table_rows(path, "messages") == [("old", 1, "progress", "after the upgrade", said[0].at, None)]


def test_the_schema_keeps_messages_to_their_run_and_never_writes_a_seq_twice(tmp_path: Path) -> None:
    store = open_sqlite_store(tmp_path / "s.db")
    conn = store.connection()
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("INSERT INTO messages (run_id, seq, kind, text, at) VALUES ('nope', 1, 'progress', 't', 'x')")
    fence = _started(store, "a")
    store.append_messages("a", _said("a", 1, ["one"]), fence)
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("INSERT INTO messages (run_id, seq, kind, text, at) VALUES ('a', 1, 'progress', 't', 'x')")
    with pytest.raises(MessageSeqTakenError):
        store.append_messages("a", _said("a", 1, ["again"]), fence)
    store.close()


# ---- reading: the plain reader, and stores from before the journal ----------------------------------------------
@pytest.fixture
def journaled_store(tmp_path: Path) -> Path:
    """A current store: run "a" (finished, three messages, one a stage mark) and run "b" (running, none)."""
    path = tmp_path / "s.db"
    store = open_sqlite_store(path)
    fence = _started(store, "a")
    said = [*_said("a", 1, ["rollback target: web:1", "registered web:2"]),
            RunMessage(run_id="a", seq=3, kind="stage", text="BAKE_TIME", at="2026-01-02T03:06:00+00:00", item="web")]
    store.checkpoint("a", 0, fence, source="planned", dest="succeeded", trigger="done", messages=said,
                     update=RunUpdate(status="succeeded", finished_at=STARTED))
    store.release_lock(fence)
    _started(store, "b")
    store.close()
    return path


def test_the_plain_reader_reads_the_journal_as_the_full_store_does(journaled_store: Path) -> None:
    reader = open_reader(str(journaled_store))
    assert isinstance(reader, SqliteRunReader)
    full = open_sqlite_store(journaled_store)
    try:
        light = reader.history("a")
        assert light is not None and light == full.history("a")
        assert [m.seq for m in light.messages] == [1, 2, 3]
        assert reader.messages("a", after_seq=1) == full.messages("a", after_seq=1)
        assert reader.transitions("a", after_seq=0) == full.transitions("a")
        assert reader.transitions("a", after_seq=1) == []
        assert reader.messages("b") == []
        assert all(h.messages == [] for h in reader.histories(RunFilter()))
        for run_id in ("a", "b"):
            assert run_document(reader, reader.get_run(run_id)) == run_document(full, full.get_run(run_id))
    finally:
        reader.close()
        full.close()


def test_a_read_only_store_from_before_the_journal_reads_as_having_none(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _m005_store(path)
    reader = open_sqlite_reader(path)  # the plain reader does without m006
    assert reader is not None
    try:
        assert reader.messages("old") == []
        history = reader.history("old")
        assert history is not None and history.messages == []
    finally:
        reader.close()
    path.chmod(0o444)
    path.parent.chmod(0o555)
    try:
        full = open_sqlite_store(path, read_only=True)  # m006 is read-compatible: no table, no messages
        assert full.messages("old") == []
        history = full.history("old")
        assert history is not None and history.messages == [] and [n.seq for n in history.notes] == [1]
        full.close()
    finally:
        path.parent.chmod(0o755)
        path.chmod(0o644)


# ---- documents and the status view ----------------------------------------------------------------------------
def test_the_run_document_holds_the_journal_and_a_listing_s_does_not(journaled_store: Path) -> None:
    store = open_sqlite_store(journaled_store)
    try:
        document = run_document(store, store.get_run("a"))
        assert document["messages"] == [
            {"seq": 1, "kind": "progress", "text": "rollback target: web:1", "item": None,
             "at": "2026-01-02T03:05:00+00:00"},
            {"seq": 2, "kind": "progress", "text": "registered web:2", "item": None, "at": "2026-01-02T03:05:01+00:00"},
            {"seq": 3, "kind": "stage", "text": "BAKE_TIME", "item": "web", "at": "2026-01-02T03:06:00+00:00"},
        ]
        assert run_document(store, store.get_run("b"))["messages"] == []
        assert all("messages" not in history_document(h) for h in store.histories(RunFilter()))
    finally:
        store.close()


def test_status_shows_the_last_progress_lines_of_an_unfinished_run_only(tmp_path: Path) -> None:
    store = open_sqlite_store(tmp_path / "s.db")
    fence = _started(store, "a")
    store.append_messages("a", _said("a", 1, [f"line {n}" for n in range(1, 13)] + ["x" * 300]), fence)
    store.append_messages("a", _said("a", 14, ["BAKE_TIME"], kind="stage"), fence)
    text = render_status(run_document(store, store.get_run("a")))
    shown = text.split("last messages\n", 1)[1].splitlines()
    assert [line.split("  ", 2)[2] for line in shown] == [f"line {n}" for n in range(4, 13)] + ["x" * 99 + "…"]
    store.update_run("a", 0, fence, RunUpdate(status="succeeded", finished_at=STARTED))
    assert "last messages" not in render_status(run_document(store, store.get_run("a")))
    store.close()


# ---- the journal of the driving process -------------------------------------------------------------------
class FakeStore:
    """What MessageJournal uses of a store: appends (counted) and reads of one run's messages."""

    def __init__(self, held: Sequence[RunMessage] = ()) -> None:
        self.held = list(held)
        self.appends = 0
        self.reads = 0
        self.lost = False

    def append_messages(self, run_id: str, messages: Sequence[RunMessage], fence: Fence) -> None:
        if self.lost:
            raise LockLostError(fence.target, run_id, fence.token, holder_run_id="other")
        self.appends += 1
        if {m.seq for m in messages} & {m.seq for m in self.held}:
            raise MessageSeqTakenError(run_id, messages[0].seq, messages[-1].seq)
        self.held.extend(messages)

    def messages(self, run_id: str, after_seq: int = 0) -> list[RunMessage]:
        self.reads += 1
        return [m for m in self.held if m.seq > after_seq]


FENCE = Fence(target="fake:a", run_id="a", token=1)


def _journal(store: FakeStore, recorded: int | None = 0, limit: int = MAX_MESSAGES) -> MessageJournal:
    clock = iter(f"2026-01-02T03:{n // 60:02d}:{n % 60:02d}+00:00" for n in range(10**6))
    return MessageJournal(store, "a", FENCE, recorded=recorded, limit=limit, now=lambda: next(clock))  # type: ignore[arg-type]


def test_a_journal_writes_what_was_said_at_a_flush_stamped_when_said_and_nothing_when_silent() -> None:
    store = FakeStore()
    journal = _journal(store)
    journal.flush()
    assert store.appends == 0  # nothing said: no request
    journal.say("progress", "deploy: 5s elapsed")
    journal.say("stage", "BAKE_TIME", item="web")
    assert store.appends == 0 and journal.pending == 2  # saying never writes
    journal.flush()
    journal.flush()
    assert store.appends == 1
    assert [(m.seq, m.kind, m.text, m.item, m.at) for m in store.held] == [
        (1, "progress", "deploy: 5s elapsed", None, "2026-01-02T03:00:00+00:00"),
        (2, "stage", "BAKE_TIME", "web", "2026-01-02T03:00:01+00:00"),
    ]
    with pytest.raises(ValueError):
        journal.say("Not A Kind", "x")  # the caller's mistake, said at once


def test_a_journal_line_is_one_bounded_line() -> None:
    assert journal_lines("one\ntwo\r\n\n   \nthree   ") == ["one", "two", "three"]
    assert journal_lines("  indented stays indented") == ["  indented stays indented"]
    assert journal_lines("") == []
    long = journal_lines("x" * 2000)
    assert long == ["x" * (MESSAGE_TEXT_LIMIT - 1) + CUT] and len(long[0]) == MESSAGE_TEXT_LIMIT
    store = FakeStore()
    journal = _journal(store)
    journal.say("progress", "a\nb")
    journal.flush()
    assert [(m.seq, m.text, m.at) for m in store.held] == [(1, "a", "2026-01-02T03:00:00+00:00"),
                                                           (2, "b", "2026-01-02T03:00:00+00:00")]


def test_a_journal_is_bounded_at_2000_lines_the_last_one_saying_so() -> None:
    store = FakeStore()
    journal = _journal(store)
    for n in range(1, 1500):
        journal.say("progress", f"line {n}")
    journal.flush()
    for n in range(1500, 2600):
        journal.say("progress", f"line {n}")
        if n % 100 == 0:
            journal.flush()
    journal.flush()
    assert len(store.held) == MAX_MESSAGES == 2000
    assert [m.seq for m in store.held] == list(range(1, 2001))
    assert store.held[-2].text == "line 1999"
    assert (store.held[-1].kind, store.held[-1].text) == (FULL_KIND, FULL_NOTICE)
    assert journal.full
    appends = store.appends
    journal.say("progress", "printed only")
    journal.flush()
    assert store.appends == appends and journal.pending == 0


def test_a_resumed_run_s_journal_numbers_on_after_what_the_store_holds_read_only_when_needed() -> None:
    store = FakeStore(_said("a", 1, ["from the first process", "and another"]))
    journal = _journal(store, recorded=None)
    journal.flush()
    assert store.reads == 0  # nothing to write: nothing read
    journal.say("progress", "resumed")
    journal.flush()
    journal.say("progress", "again")
    journal.flush()
    assert store.reads == 1
    assert [(m.seq, m.text) for m in store.held[2:]] == [(3, "resumed"), (4, "again")]

    full = FakeStore(_said("a", 1, ["x"] * 4))  # a journal already full (limit 4)
    journal = _journal(full, recorded=None, limit=4)
    journal.say("progress", "dropped")
    journal.flush()
    assert (full.appends, journal.full) == (0, True)


def test_a_journal_that_cannot_be_written_loses_only_its_lines() -> None:
    store = FakeStore(_said("a", 1, ["written behind the journal's back"]))
    journal = _journal(store, recorded=0)  # wrongly believes the run holds none
    journal.say("progress", "clash")
    journal.flush()  # the seq is taken: recording stops, nothing raised
    assert journal.full and [m.text for m in store.held] == ["written behind the journal's back"]

    lost = FakeStore()
    lost.lost = True
    journal = _journal(lost)
    journal.say("progress", "after the lock was lost")
    with pytest.raises(LockLostError):  # like any write of the run
        journal.flush()


# ---- what the engine journals, and when ---------------------------------------------------------------------
def test_the_engine_journals_what_handlers_say_with_the_checkpoints_and_before_each_wait(tmp_path: Path) -> None:
    from example_operation import SPEC

    from machines.engine import Engine

    store = open_sqlite_store(tmp_path / "s.db")
    seen_while_waiting: list[list[str]] = []

    class Clock:
        def __init__(self) -> None:
            self.at = 1000.0

        def now(self) -> float:
            return self.at

        def sleep(self, seconds: float, stop: threading.Event) -> None:
            seen_while_waiting.append([m.text for m in store.messages("run-1")])
            self.at += seconds

    params = {"ledger": str(tmp_path / "ledger.json"), "poll_interval": 5, "ready_after_polls": 3}
    run = Engine(store, clock=Clock()).start(SPEC.build(params), run_id="run-1", target="fake:t", params=params)
    assert run.status == "succeeded"
    messages = store.messages("run-1")
    assert [(m.seq, m.kind, m.text) for m in messages] == [
        (1, "progress", "widget not ready, 600s left"), (2, "progress", "widget not ready, 595s left")]
    # Each wait began with what was said before it in the store: a follower reads it while the run waits.
    assert seen_while_waiting == [["widget not ready, 600s left"],
                                  ["widget not ready, 600s left", "widget not ready, 595s left"]]
    # A follower never sees a transition without every line said before it.
    transitions = store.transitions("run-1")
    for transition in transitions:
        said_before = [m for m in messages if m.at <= transition.at]
        assert said_before == messages[: len(said_before)]
    store.close()


def test_what_is_said_before_a_stop_is_written_with_the_stop(tmp_path: Path) -> None:
    from example_operation import SPEC

    from machines.engine import Engine

    store = open_sqlite_store(tmp_path / "s.db")
    stop = threading.Event()

    class Clock:
        def now(self) -> float:
            return 1000.0

        def sleep(self, seconds: float, stop_event: threading.Event) -> None:
            stop.set()  # Ctrl-C while waiting

    params = {"ledger": str(tmp_path / "ledger.json"), "poll_interval": 0, "ready_after_polls": 5}
    run = Engine(store, clock=Clock(), stop=stop).start(SPEC.build(params), run_id="run-1", target="fake:t",
                                                        params=params)
    assert run.status == "interrupted"
    # A wait of 0 does not write the journal; the stop does, before it records the run interrupted.
    assert [m.text for m in store.messages("run-1")] == ["widget not ready, 600s left"]

    class Running:
        def now(self) -> float:
            return 1000.0

        def sleep(self, seconds: float, stop_event: threading.Event) -> None:
            return None

    resumed = Engine(store, clock=Running()).resume(SPEC.build(params), "run-1")
    assert resumed.status == "succeeded"
    # The resumed run numbers its lines after the first process's (read once, when it had something to write).
    assert [(m.seq, m.text) for m in store.messages("run-1")] == [(n, "widget not ready, 600s left")
                                                                  for n in range(1, 5)]
    store.close()


# ---- lifecycle stages on the timeline -------------------------------------------------------------------------
STAGE_ORDER = ["RECONCILE_SERVICE", "PRE_SCALE_UP", "SCALE_UP", "POST_SCALE_UP", "TEST_TRAFFIC_SHIFT",
               "POST_TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT", "BAKE_TIME",
               "CLEAN_UP"]


def test_a_blue_green_deploy_marks_each_lifecycle_stage_it_sees_once_in_order(tmp_path: Path, aws_env: Any) -> None:
    from cli_helpers import run_ecsops
    from strategy_helpers import GOOD, native_demo, native_deploy

    aws_env.reset(native_demo("BLUE_GREEN", bake=2))
    result = native_deploy(tmp_path / "s.db", *GOOD, "--run-id", "bg-1")
    assert result.returncode == 0, result.stderr
    document = run_ecsops(tmp_path / "s.db", "status", "bg-1", "--output", "json").json()
    stages = [(m["text"], m["item"]) for m in document["messages"] if m["kind"] == "stage"]
    assert [item for _, item in stages] == [None] * len(stages)
    names = [name for name, _ in stages]
    assert len(set(names)) == len(names) and names == sorted(names, key=STAGE_ORDER.index)
    assert {"BAKE_TIME", "CLEAN_UP"} <= set(names)
    # Marked, not printed: deploy's progress shows the stages in its own lines only.
    assert "BAKE_TIME" not in [line.split("] ", 1)[-1] for line in result.stderr.splitlines()]


def test_a_fleet_marks_each_service_s_stages_under_its_item(tmp_path: Path, aws_env: Any) -> None:
    from cli_helpers import run_ecsops

    from ecsops.sim.scenario import bluegreen_scenario

    scenario = bluegreen_scenario()
    services = [s.model_copy(update={"bake_time_minutes": 1}) if s.name == "bg" else s for s in scenario.services]
    aws_env.reset(scenario.model_copy(update={"services": services}))
    release = tmp_path / "release.toml"
    release.write_text('cluster = "demo"\n\n[[service]]\nservice = "bg"\ncontainer-image = ["app=nginx:1.27"]\n'
                       '\n[[service]]\nservice = "web"\ncontainer-image = ["app=nginx:1.27"]\n')
    result = run_ecsops(tmp_path / "s.db", "deploy-fleet", str(release), "--run-id", "fleet-1")
    assert result.returncode == 0, result.stderr
    document = run_ecsops(tmp_path / "s.db", "status", "fleet-1", "--output", "json").json()
    stages = [(m["text"], m["item"]) for m in document["messages"] if m["kind"] == "stage"]
    assert stages and {item for _, item in stages} == {"demo/bg"}  # the rolling service has no stages
    names = [name for name, _ in stages]
    assert len(set(names)) == len(names) and "BAKE_TIME" in names


def test_a_busy_store_at_a_wait_keeps_the_lines_for_the_next_write(tmp_path: Path) -> None:
    from example_operation import SPEC

    from machines.engine import Engine
    from store.errors import StoreBusyError

    store = open_sqlite_store(tmp_path / "s.db")
    append = store.append_messages
    refused: list[int] = []

    def busy_once(run_id: str, messages: Sequence[RunMessage], fence: Fence) -> None:
        if not refused:
            refused.append(len(messages))
            raise StoreBusyError("the store stayed locked")
        append(run_id, messages, fence)

    store.append_messages = busy_once  # type: ignore[method-assign]

    class Clock:
        def now(self) -> float:
            return 1000.0

        def sleep(self, seconds: float, stop: threading.Event) -> None:
            return None

    params = {"ledger": str(tmp_path / "ledger.json"), "poll_interval": 5, "ready_after_polls": 3}
    run = Engine(store, clock=Clock()).start(SPEC.build(params), run_id="run-1", target="fake:t", params=params)
    assert run.status == "succeeded" and refused == [1]
    assert [(m.seq, m.text) for m in store.messages("run-1")] == [(1, "widget not ready, 600s left"),
                                                                  (2, "widget not ready, 600s left")]
    store.close()
