"""`ecsops runs --output jsonl|csv` and the `--who`/`--until` filters: exports a log shipper or a spreadsheet reads."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from cli_helpers import run_ecsops, run_example

from ecsops.cli.run_listing import QueryError, parse_query, started_by_matches


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four runs: two by a person on this host, one failed, two from GitHub Actions jobs started by alice."""
    root = tmp_path_factory.mktemp("export")
    path = root / "s.db"
    ci = {"GITHUB_ACTIONS": "true", "GITHUB_ACTOR": "alice", "GITHUB_REPOSITORY": "acme/shop", "GITHUB_RUN_ID": "7"}
    assert run_example(path, root / "a.json", "fake:a", "run-1").returncode == 0
    assert run_example(path, root / "b.json", "fake:b,with,commas", "run-2", "refuse=1").returncode != 0
    assert run_example(path, root / "c.json", "fake:c", "run-3", **ci).returncode == 0
    assert run_example(path, root / "d.json", "fake:a", "run-4", **ci).returncode == 0
    return path


def test_jsonl_is_the_json_array_one_document_a_line(store: Path) -> None:
    array = run_ecsops(store, "runs", "--output", "json").json()
    lines = run_ecsops(store, "runs", "--output", "jsonl").stdout.splitlines()
    assert [d["run_id"] for d in array] == ["run-4", "run-3", "run-2", "run-1"]
    assert [json.loads(line) for line in lines] == array
    # Filters apply to the export as to the table.
    failed = run_ecsops(store, "runs", "--status", "failed", "--output", "jsonl").stdout.splitlines()
    assert [json.loads(line)["run_id"] for line in failed] == ["run-2"]


def test_csv_has_the_runs_table_columns_one_row_a_run(store: Path) -> None:
    result = run_ecsops(store, "runs", "--output", "csv")
    assert result.returncode == 0
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    array = run_ecsops(store, "runs", "--output", "json").json()
    assert list(rows[0]) == ["run_id", "operation", "status", "state", "started_at", "target"]
    assert [row["run_id"] for row in rows] == [d["run_id"] for d in array]
    for row, document in zip(rows, array, strict=True):
        assert row == {column: str(document[column]) for column in row}
    # A value with a comma stays one quoted field.
    assert '"fake:b,with,commas"' in result.stdout
    assert run_ecsops(store, "runs", "--target", "fake:zzz", "--output", "csv").stdout.splitlines() == [
        "run_id,operation,status,state,started_at,target"
    ]


def test_who_matches_the_user_the_user_at_host_or_the_ci_actor(store: Path) -> None:
    array = run_ecsops(store, "runs", "--output", "json").json()
    me = array[-1]["started_by"]
    user = me.split("@")[0]

    def ids(*args: str) -> list[str]:
        return [d["run_id"] for d in run_ecsops(store, "runs", *args, "--output", "json").json()]

    assert ids("--who", "alice") == ["run-4", "run-3"]
    assert ids("--who", me) == ["run-4", "run-3", "run-2", "run-1"]  # the CI runs ran on this host too
    assert ids("--who", user) == ids("--who", me)
    assert ids("--who", "nobody-at-all") == []
    assert ids("--who", "alice", "--target", "fake:a") == ["run-4"]
    assert ids("--who", "alice", "--limit", "1") == ["run-4"]


def test_until_is_exclusive_so_pages_meet_without_overlap(store: Path) -> None:
    array = run_ecsops(store, "runs", "--output", "json").json()
    first = run_ecsops(store, "runs", "--limit", "2", "--output", "json").json()
    second = run_ecsops(store, "runs", "--limit", "2", "--until", first[-1]["started_at"], "--output", "json").json()
    assert [d["run_id"] for d in first + second] == [d["run_id"] for d in array]
    bad = run_ecsops(store, "runs", "--until", "last tuesday")
    assert bad.returncode == 2 and "--until 'last tuesday'" in bad.stderr


def test_bad_output_and_filters_exit_2_before_reading(tmp_path: Path) -> None:
    result = run_ecsops(tmp_path / "none.db", "runs", "--output", "xml")
    assert result.returncode == 2 and "jsonl" in result.stderr
    assert not (tmp_path / "none.db").exists()


def test_parse_query_names_the_bad_filter() -> None:
    with pytest.raises(QueryError, match="--status 'nope'"):
        parse_query(status="nope")
    with pytest.raises(QueryError, match="--limit"):
        parse_query(limit="0")
    query = parse_query(target=" demo/web ", who="", since="2026-12-01", until="2026-12-02T10:00+01:00")
    assert query.target == "demo/web" and query.who is None
    assert query.since == "2026-12-01T00:00:00.000000+00:00"
    assert query.until == "2026-12-02T09:00:00.000000+00:00"


def test_started_by_matches() -> None:
    assert started_by_matches("bob", "bob@ci-7", {})
    assert not started_by_matches("bo", "bob@ci-7", {})
    assert started_by_matches("bob@ci-7", "bob@ci-7", {})
    assert started_by_matches("alice", "runner@ci-7", {"actor": "alice"})
