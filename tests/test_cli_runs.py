"""`runs`, `status`, `resume`, `machines` as a user sees them: JSON field names, filters, errors."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import cli_env, run_ecsops, run_example
from sqlite_helpers import traced_statements

from ecsops.cli.identity import ci_identity
from ecsops.cli.render import render_status

RUN_FIELDS = {"run_id", "operation", "status", "state", "target", "started_at", "updated_at", "transitions"}
TRANSITION_FIELDS = {"seq", "source", "dest", "trigger", "at"}


def test_runs_is_an_empty_array_when_nothing_ran(tmp_path: Path) -> None:
    result = run_ecsops(tmp_path / "s.db", "runs", "--output", "json")
    assert result.returncode == 0
    assert result.json() == []
    assert run_ecsops(tmp_path / "s.db", "runs").stdout.strip() == "no runs recorded"


def test_status_and_runs_documents_carry_the_contract_fields(tmp_path: Path) -> None:
    store = tmp_path / "s.db"
    run_example(store, tmp_path / "a.json", "fake:a", "run-1")
    run_example(store, tmp_path / "b.json", "fake:b", "run-2", "refuse=1")

    document = run_ecsops(store, "status", "run-1", "--output", "json").json()
    assert set(document) >= RUN_FIELDS
    assert document["operation"] == "example" and document["target"] == "fake:a"
    assert all(set(t) >= TRANSITION_FIELDS for t in document["transitions"])
    assert document["ecsops_version"] and document["machine_version"]
    assert "@" in document["started_by"]

    listed = run_ecsops(store, "runs", "--output", "json").json()
    assert [d["run_id"] for d in listed] == ["run-2", "run-1"]  # newest first
    assert all(set(d) >= RUN_FIELDS for d in listed)

    failed_only = run_ecsops(store, "runs", "--status", "failed", "--output", "json").json()
    assert [d["run_id"] for d in failed_only] == ["run-2"]
    by_target = run_ecsops(store, "runs", "--target", "fake:a", "--output", "json").json()
    assert [d["run_id"] for d in by_target] == ["run-1"]
    assert run_ecsops(store, "runs", "--since", "2999-01-01", "--output", "json").json() == []
    assert run_ecsops(store, "runs", "--since", "yesterday").returncode == 2

    text = run_ecsops(store, "runs").stdout
    assert "run-1" in text and "run-2" in text and "STATUS" in text


def test_status_text_shows_timeline_with_durations(tmp_path: Path) -> None:
    store = tmp_path / "s.db"
    run_example(store, tmp_path / "a.json", "fake:a", "run-1")
    text = run_ecsops(store, "status", "run-1").stdout
    assert "status    succeeded" in text
    for line in ("planned -> creating  (plan)", "creating -> waiting  (created)", "waiting -> done  (ready)"):
        assert line in text
    assert "create_widget" in text


def test_unknown_run_and_bad_output_exit_2(tmp_path: Path) -> None:
    store = tmp_path / "s.db"
    missing = run_ecsops(store, "status", "nope")
    assert missing.returncode == 2 and "no run with id 'nope'" in missing.stderr
    assert run_ecsops(store, "resume", "nope").returncode == 2
    assert run_ecsops(store, "runs", "--output", "yaml").returncode == 2


def test_resume_refuses_another_machine_version_unless_forced(tmp_path: Path) -> None:
    store = tmp_path / "s.db"
    run_example(store, tmp_path / "a.json", "fake:a", "run-1", ECSOPS_CRASH_AT="enter:waiting")
    conn = sqlite3.connect(store)
    conn.execute("UPDATE runs SET machine_version = 'an-older-declaration' WHERE run_id = 'run-1'")
    conn.commit()
    conn.close()

    refused = run_ecsops(store, "resume", "run-1")
    assert refused.returncode == 2
    assert "an-older-declaration" in refused.stderr and "--force" in refused.stderr
    assert run_ecsops(store, "status", "run-1", "--output", "json").json()["state"] == "waiting"

    forced = run_ecsops(store, "resume", "run-1", "--force")
    assert forced.returncode == 0


@pytest.mark.process
def test_sigterm_stops_resumably_with_exit_130(tmp_path: Path) -> None:
    store, ledger = tmp_path / "s.db", tmp_path / "ledger.json"
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).parent / "example_cli.py"), str(ledger), "fake:a", "run-1",
         "poll_interval=30", "ready_after_polls=1000"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env(store),
    )
    assert process.stderr is not None
    for line in process.stderr:
        if "widget not ready" in line:
            break
    process.send_signal(signal.SIGTERM)
    stdout, _ = process.communicate(timeout=30)
    assert process.returncode == 130
    assert '"status": "interrupted"' in stdout

    ledger.write_text(ledger.read_text().replace('"polls": 1', '"polls": 999'))
    resumed = run_ecsops(store, "resume", "run-1", "--output", "json")
    assert resumed.returncode == 0
    assert resumed.json()["status"] == "succeeded"


@pytest.mark.process
def test_help_imports_neither_aws_nor_pydantic_nor_sqlite_utils(tmp_path: Path) -> None:
    """`ecsops --help` starts light: no AWS SDK, no simulator, no records, no store backend, no rich help."""
    probe = (
        "import sys\n"
        "from ecsops.cli.app import app\n"
        "try:\n    app(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in\n"
        "               ('boto3', 'botocore', 'moto', 'pydantic', 'sqlite_utils', 'rich'))\n"
        "print('HEAVY', heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            env=cli_env(tmp_path / "s.db"), timeout=60)
    assert "Usage" in result.stdout
    assert "HEAVY []" in result.stdout


def test_machines_lists_and_draws(tmp_path: Path) -> None:
    listed = run_ecsops(tmp_path / "s.db", "machines")
    assert listed.returncode == 0 and "example" in listed.stdout
    drawn = run_ecsops(tmp_path / "s.db", "machines", "show", "example")
    assert drawn.returncode == 0
    assert "stateDiagram-v2" in drawn.stdout and "planned --> creating: plan" in drawn.stdout
    assert run_ecsops(tmp_path / "s.db", "machines", "show", "nope").returncode == 2


def test_ci_identity_from_common_ci_variables() -> None:
    github = ci_identity({"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "org/app", "GITHUB_RUN_ID": "42"})
    assert github == {"system": "github-actions", "url": "https://github.com/org/app/actions/runs/42",
                      "GITHUB_REPOSITORY": "org/app", "GITHUB_RUN_ID": "42"}
    assert ci_identity({"CI": "true"}) == {"system": "unknown-ci"}
    assert ci_identity({}) == {}


def _document(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "run_id": "run-1", "operation": "replace-instances", "target": "asg:prod-asg", "status": "failed",
        "state": "failed", "started_at": "2026-01-01T00:00:00+00:00", "started_by": "me@host",
        "ecsops_version": "0", "machine_version": "m", "transitions": [], "steps": [], "in_flight": [],
    }
    return base | fields


def test_status_text_shows_each_instance_replacement_and_notes() -> None:
    text = render_status(_document(instances=[
        {"instance_id": "i-old1", "state": "terminated", "replacement": "i-new1",
         "reason": "launch template lt-1 version 1", "failure": None, "reattach_error": None},
        {"instance_id": "i-old2", "state": "reattach_failed", "replacement": "i-new2",
         "reason": "launch template lt-1 version 1", "failure": "draining: timed out after 10m00s",
         "reattach_error": "step reattach:i-old2 failed: ValidationError: max-size=3"},
        {"instance_id": "i-old3", "state": "pending"},
    ]))
    lines = text.splitlines()
    instances = lines[lines.index("instances") + 1 :]
    assert instances[0].split() == ["i-old1", "terminated", "replacement", "i-new1"]
    assert instances[1].strip() == "out of date: launch template lt-1 version 1"
    assert instances[2].split() == ["i-old2", "reattach_failed", "replacement", "i-new2"]
    assert instances[4].strip() == "failed: draining: timed out after 10m00s"
    assert instances[5].strip() == "putting back failed: step reattach:i-old2 failed: ValidationError: max-size=3"
    assert instances[6].split() == ["i-old3", "pending"]
    assert len(instances) == 7, "fields that are missing or empty print nothing"


def test_status_text_of_a_run_without_instances_has_no_instances_section() -> None:
    text = render_status(_document(operation="deploy", deployment_id="ecs-svc/1"))
    assert "instances" not in text
    assert "deployment id" in text


def _fill(store: Path, count: int, first: int = 0) -> None:
    """count finished deploy-like runs, each with three transitions and two steps, written in bulk."""
    import json

    from store.sqlite_store import open_sqlite_store

    open_sqlite_store(store).close()
    runs, transitions, steps = [], [], []
    for n in range(first, first + count):
        run_id, at = f"run-{n:06d}", f"2026-01-01T00:00:00.{n:06d}+00:00"
        runs.append((run_id, "example", f"fake:w{n}", "succeeded", "done", 3, "v", "0", json.dumps({"n": n}),
                     "{}", "{}", None, "me", "{}", at, at, at))
        transitions += [(run_id, seq, None, src, dst, trig, at) for seq, (src, dst, trig) in
                        enumerate([("planned", "creating", "plan"), ("creating", "waiting", "created"),
                                   ("waiting", "done", "ready")], start=1)]
        steps += [(run_id, name, "succeeded", "{}", json.dumps({"id": n}), None, at, at) for name in ("a", "b")]
    with sqlite3.connect(store) as conn:
        conn.executemany(
            "INSERT INTO runs (run_id, operation, target, status, state, version, machine_version, ecsops_version, "
            "params, facts, timers, reason, started_by, ci, started_at, updated_at, finished_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", runs)
        conn.executemany('INSERT INTO transitions (run_id, seq, item, source, dest, "trigger", at) '
                         "VALUES (?, ?, ?, ?, ?, ?, ?)", transitions)
        conn.executemany("INSERT INTO steps (run_id, name, status, request, result, error, started_at, finished_at) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", steps)


def test_runs_reads_the_runs_it_lists_in_a_fixed_number_of_queries(tmp_path: Path) -> None:
    """Case 11: `runs` used to make three queries per run listed."""
    from store.models import RunFilter
    from store.sqlite_store import open_sqlite_store

    store_path = tmp_path / "s.db"
    statements: list[str] = []

    def queries_to_list(limit: int) -> int:
        store = open_sqlite_store(store_path)
        store.connection().set_trace_callback(statements.append)
        statements.clear()
        histories = store.histories(RunFilter(limit=limit))
        store.close()
        assert len(histories) == limit and all(len(h.transitions) == 3 and len(h.steps) == 2 for h in histories)
        return len(statements)

    _fill(store_path, 5)
    few = queries_to_list(5)
    _fill(store_path, 500, first=5)
    assert queries_to_list(505) == few
    assert few <= 7  # BEGIN, runs, transitions, steps, items, notes, COMMIT


def _listed_with_statements(store: Path, limit: int) -> tuple[list[dict[str, Any]], list[str], float]:
    """`ecsops runs --limit LIMIT --output json` (in this process): its documents, the SQL statements it ran and
    the CPU seconds it took (CPU, not wall time: a loaded machine does not make it look slow)."""
    started = time.process_time()
    with traced_statements() as statements:
        listed = run_ecsops(store, "runs", "--limit", str(limit), "--output", "json")
    cpu = time.process_time() - started
    assert listed.returncode == 0, listed.stderr
    documents: list[dict[str, Any]] = listed.json()
    return documents, statements, cpu


def test_runs_lists_ten_thousand_runs_quickly(tmp_path: Path) -> None:
    few_runs, many_runs = tmp_path / "few.db", tmp_path / "many.db"
    _fill(few_runs, 5)
    _fill(many_runs, 10_000)
    _, few_statements, _ = _listed_with_statements(few_runs, 5)
    documents, statements, cpu = _listed_with_statements(many_runs, 10_000)
    assert len(documents) == 10_000
    assert documents[0]["run_id"] == "run-009999" and len(documents[0]["transitions"]) == 3
    # Three queries per run took about 7 s for 10 000 runs (74 s for 100 000): the command, not only the store,
    # reads them in as many statements as it reads 5 runs in, a handful.
    assert few_statements, "the statements are traced in this process: the command must run in it"
    assert len(statements) == len(few_statements) <= 10, statements[:20]
    # Reading 10 000 runs so takes about 1.5 s of CPU here; the regressions named above took 7 s and more.
    assert cpu < 5, f"runs --limit 10000 took {cpu:.1f}s of CPU"
