"""What a person is told about a run once the command is done with it: its document, exit code and next step."""

from __future__ import annotations

import json
import sys

from ecsops.cli import exit_codes
from ecsops.cli.documents import run_document
from ecsops.cli.render import render_status
from store.base import RunStore
from store.models import RunRecord


def report_run(store: RunStore, run: RunRecord, output: str) -> int:
    """Print the run's outcome (JSON on stdout, or text) and return its exit code."""
    document = run_document(store, run)
    if output == "json":
        sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")
    else:
        sys.stdout.write(render_status(document) + "\n")
    # What to do next is for a person, whatever the output format (a CI log shows stderr).
    hint = _hint(run)
    if hint:
        sys.stderr.write(hint + "\n")
    return exit_codes.exit_code_for(run)


def already_ended(run: RunRecord, outcome: str) -> str:
    """Why a finished run is not driven again: an abandoned run says who gave it up and why."""
    if run.status == "abandoned":
        return f"run {run.run_id} was abandoned (reason: {run.reason or 'none given'}); nothing was done"
    return f"run {run.run_id} already ended ({run.status}); {outcome}"


def _hint(run: RunRecord) -> str | None:
    if run.status == "interrupted":
        return f"run {run.run_id} stopped in state {run.state}; continue it with: ecsops resume {run.run_id}"
    if run.status == "paused":
        return (f"run {run.run_id} is paused at a deployment lifecycle hook: `ecsops approve {run.run_id}` lets the "
                f"deployment go on (`--rollback` rolls it back), then `ecsops resume {run.run_id}` follows it")
    if run.status == "rollback_failed":
        return f"run {run.run_id}: the rollback failed; the service needs a person (see reason above)"
    return None
