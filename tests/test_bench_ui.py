"""The ui's bench at a small size: its store is built through the store's own schema and reads like real runs, and
every page it times answers (no timing is asserted here: `make bench` reports them)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from cli_helpers import run_ecsops

from devtools import bench_ui
from devtools.bench_ui_store import BIG_RUN, build


def test_the_bench_store_is_a_store_the_cli_reads(tmp_path: Path) -> None:
    store = build(tmp_path / "bench.db", runs=300, big_transitions=1000)
    assert store.transitions_of_big_run == 1000
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 300
        assert conn.execute("SELECT count(*) FROM transitions WHERE run_id = ?", [BIG_RUN]).fetchone()[0] == 1000
    listed = run_ecsops(store.path, "runs", "--output", "json", "--limit", "300")
    assert listed.returncode == 0, listed.stderr
    documents = listed.json()
    assert len(documents) == 300 and documents[0]["run_id"] == BIG_RUN
    assert {d["operation"] for d in documents} >= {"deploy", "replace-instances"}
    assert "rolled_back" in {d["status"] for d in documents}
    big = run_ecsops(store.path, "status", BIG_RUN, "--output", "json")
    assert big.returncode == 0 and len(big.json()["transitions"]) == 1000
    by_target = run_ecsops(store.path, "runs", "--target", store.some_target, "--output", "json").json()
    assert by_target and all(d["target"] == store.some_target for d in by_target if d["operation"] == "deploy")


def test_every_page_the_bench_times_answers(tmp_path: Path) -> None:
    store = build(tmp_path / "bench.db", runs=400, big_transitions=1000)
    timings = bench_ui.measure(store, samples=2)
    assert [t.page for t in timings] == bench_ui.pages(store)
    for timing in timings:
        assert timing.status == (304 if timing.page.if_none_match else 200), timing
        assert timing.samples == 2 and timing.median_ms > 0
    table = bench_ui.render(timings)
    assert "run page, 1000 transitions" in table and "median ms" in table


def test_the_report_says_what_it_measured(tmp_path: Path) -> None:
    text, _ = bench_ui.report(runs=200, samples=1, directory=tmp_path)
    assert text.startswith("ecsops ui over a SQLite store of 200 runs")
    assert "runs page, 50 newest" in text
