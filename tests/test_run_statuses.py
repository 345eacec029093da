"""Run statuses come from their declarations (issue 18): the engine's own and each operation's final ones; `runs
--status` accepts exactly those, and each has an exit code (the CLI's table, else 1)."""

from __future__ import annotations

from types import SimpleNamespace

from ecsops.cli import exit_codes
from ecsops.cli.operations import BUILTIN, BUILTIN_MACHINES, _attribute, get_operation, run_statuses
from machines.statuses import ENGINE_STATUSES


def test_the_light_machine_declarations_are_the_operations_own() -> None:
    assert set(BUILTIN_MACHINES) == set(BUILTIN)
    for name, location in BUILTIN_MACHINES.items():
        assert _attribute(location) is get_operation(name).definition


def test_known_statuses_are_the_engines_and_every_declared_final_status() -> None:
    declared = {status for name in BUILTIN for status in get_operation(name).definition.final_statuses.values()}
    assert set(run_statuses()) == declared | set(ENGINE_STATUSES)
    assert len(run_statuses()) == len(set(run_statuses()))


def test_every_status_has_an_exit_code_and_the_table_names_only_known_statuses() -> None:
    assert set(exit_codes.BY_STATUS) <= set(run_statuses())
    for status in run_statuses():
        code = exit_codes.exit_code_for(SimpleNamespace(status=status, reason=None))
        assert code == exit_codes.BY_STATUS.get(status, exit_codes.INTERRUPTED if status == "interrupted" else 1)
    assert exit_codes.exit_code_for(SimpleNamespace(status="interrupted", reason="the store failed")) == 1
    assert exit_codes.exit_code_for(SimpleNamespace(status="some_new_final_status", reason=None)) == 1
