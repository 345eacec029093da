"""`--output json`: exactly one JSON document on stdout whatever the outcome; nothing on stdout without a run."""

from __future__ import annotations

import json
from pathlib import Path

from deploy_helpers import demo_with, deploy, revisions

from ecsops.sim.server import SimServer

DEPLOY_FIELDS = ("previous_task_definition", "new_task_definition", "deployment_id")


def only_document(stdout: str) -> dict[str, object]:
    document, end = json.JSONDecoder().raw_decode(stdout)
    assert stdout[end:].strip() == "", "more than one document on stdout"
    assert isinstance(document, dict)
    return document


def test_success_and_rollback_print_one_document_with_the_deploy_fields(tmp_path: Path, aws_env: SimServer) -> None:
    store = tmp_path / "s.db"
    good = deploy(store, "--container-image", "app=nginx:1.27", "--output", "json")
    assert good.returncode == 0, good.stderr
    assert only_document(good.stdout)["status"] == "succeeded"
    same = deploy(store, "--output", "json")  # no change: the current revision again
    assert same.returncode == 0, same.stderr
    broken = deploy(store, "--container-image", "app=nginx:broken", "--output", "json")
    assert broken.returncode == 3, broken.stderr
    for result in (good, same, broken):
        document = only_document(result.stdout)
        for field in DEPLOY_FIELDS:
            assert document[field], (field, document["status"])
        assert "run " in result.stderr  # progress went to stderr


def test_failed_before_any_change_still_has_the_deploy_fields(tmp_path: Path, aws_env: SimServer) -> None:
    aws_env.reset(demo_with(circuit_breaker=True, rollback=False))
    aws_env.add_fault({"service": "ecs", "operation": "RegisterTaskDefinition", "kind": "throttling", "count": 100})
    result = deploy(tmp_path / "s.db", "--container-image", "app=nginx:1.27", "--output", "json")
    assert result.returncode == 1, result.stderr  # failed (resumably: it stopped at the throttled step)
    document = only_document(result.stdout)
    assert set(DEPLOY_FIELDS) <= set(document)
    assert document["previous_task_definition"]
    # Before any change: no revision registered, the service never updated.
    assert (document["state"], document["new_task_definition"], document["deployment_id"]) == (
        "registering", None, None)
    assert revisions(aws_env) == [document["previous_task_definition"]]
    assert "ecs:UpdateService" not in aws_env.counts()


def test_bad_input_prints_nothing_on_stdout(tmp_path: Path, aws_env: SimServer) -> None:
    for args in (["--container-image", "nope=x"], ["--timeout", "soon"], ["--output", "yaml"]):
        result = deploy(tmp_path / "s.db", *args, "--output", "json") if args[0] != "--output" else deploy(
            tmp_path / "s.db", *args)
        assert result.returncode == 2, result.stderr
        assert result.stdout == "", args
        assert result.stderr.startswith("error: "), result.stderr


def test_dry_run_json_is_the_change_document(tmp_path: Path, aws_env: SimServer) -> None:
    result = deploy(tmp_path / "s.db", "--container-image", "app=nginx:1.27", "--desired-count", "3", "--dry-run",
                    "--output", "json")
    assert result.returncode == 0, result.stderr
    document = only_document(result.stdout)
    assert document["dry_run"] is True and document["registers_new_revision"] is True
    assert document["changes"]["containers"]["app"]["image"] == {"before": "nginx:1.25", "after": "nginx:1.27"}
    assert aws_env.mutating_calls() == {}
