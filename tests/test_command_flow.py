"""The one command flow (ecsops.cli.flow.run_operation) every operation's command goes through (issue 18):
the operation brings its typed inputs, their comparison with a recorded run, its preflight and its dry run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from example_operation import SPEC

from ecsops.cli import exit_codes
from ecsops.cli.flow import OperationCommand, Prepared, run_operation
from ecsops.cli.options import STATE, fail, fail_usage


class Calls:
    """An operation's own parts, recording what the flow asked of them."""

    def __init__(self, ledger: Path, refuse: str | None = None) -> None:
        self.ledger = ledger
        self.refuse = refuse
        self.asked: list[str] = []

    def command(self) -> OperationCommand[dict[str, Any], str]:
        return OperationCommand(SPEC.name, self.differences, self.preflight, self.print_dry_run)

    def differences(self, typed: dict[str, Any], recorded: dict[str, Any]) -> list[str]:
        self.asked.append("differences")
        return [] if typed == recorded else ["params: differ"]

    def preflight(self, typed: dict[str, Any]) -> Prepared[str]:
        self.asked.append("preflight")
        if self.refuse == "usage":
            fail_usage("--widget 'x': no such widget")
        if self.refuse == "aws":
            fail("reading the widgets failed")
        return Prepared("fake:widgets", typed, "the plan")

    def print_dry_run(self, plan: str, output: str) -> None:
        self.asked.append(f"dry run: {plan} ({output})")


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "s.db"
    monkeypatch.setattr(STATE, "store_path", str(path))
    monkeypatch.setenv("ECSOPS_OPERATION_PLUGINS", "example_operation:SPEC")
    return path


def test_a_dry_run_prints_the_plan_and_needs_no_store(store: Path, tmp_path: Path) -> None:
    calls = Calls(tmp_path / "ledger.json")
    code = run_operation(calls.command(), {"ledger": str(calls.ledger)}, run_id=None, dry_run=True, output="json")
    assert code == exit_codes.SUCCEEDED
    assert calls.asked == ["preflight", "dry run: the plan (json)"]
    assert not store.exists() and not calls.ledger.exists()


@pytest.mark.parametrize(("refuse", "code", "line"), [
    ("usage", exit_codes.BAD_INPUT, "error: --widget 'x': no such widget (see "),
    ("aws", exit_codes.FAILED, "error: reading the widgets failed\n"),
])
def test_a_refused_preflight_is_an_exit_code_before_any_change(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], refuse: str, code: int, line: str
) -> None:
    calls = Calls(tmp_path / "ledger.json", refuse=refuse)
    assert run_operation(calls.command(), {"ledger": str(calls.ledger)}, run_id="r1", dry_run=False,
                         output="json") == code
    assert capsys.readouterr().err.startswith(line)
    assert not calls.ledger.exists()


def test_a_reused_run_id_replays_without_preflight_or_is_refused_with_other_inputs(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    calls = Calls(tmp_path / "ledger.json")
    params = {"ledger": str(calls.ledger)}
    assert run_operation(calls.command(), params, run_id="r1", dry_run=False, output="json", quiet=True) == 0
    assert calls.asked == ["preflight"]
    capsys.readouterr()

    calls.asked.clear()
    assert run_operation(calls.command(), params, run_id="r1", dry_run=False, output="json") == 0
    assert calls.asked == ["differences"]
    assert "run r1 already ended (succeeded); nothing was done again" in capsys.readouterr().err

    other = {**params, "ready_after_polls": "5"}
    assert run_operation(calls.command(), other, run_id="r1", dry_run=False, output="json") == 2
    assert "run id r1 was recorded with other inputs (params: differ)" in capsys.readouterr().err
