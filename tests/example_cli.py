"""Runs the example operation from a subprocess: `python example_cli.py LEDGER TARGET RUN_ID [key=value]...`.

Through the command flow every ecsops command uses (ecsops.cli.flow): a reused run id replays or resumes its run
when its params are the recorded ones."""

from __future__ import annotations

import sys
from typing import Any

from example_operation import SPEC

from ecsops.cli.flow import OperationCommand, Prepared, run_operation


def main() -> int:
    ledger, target, run_id, *extra = sys.argv[1:]
    params: dict[str, Any] = {"ledger": ledger}
    for pair in extra:
        key, _, value = pair.partition("=")
        params[key] = value

    def differences(typed: dict[str, Any], recorded: dict[str, Any]) -> list[str]:
        return [f"{key}: recorded {recorded.get(key)!r}, now {typed.get(key)!r}"
                for key in sorted(set(recorded) | set(typed)) if recorded.get(key) != typed.get(key)]

    command: OperationCommand[dict[str, Any], None] = OperationCommand(
        SPEC.name, differences, lambda typed: Prepared(target, typed, None), lambda plan, output: None
    )
    return run_operation(command, params, run_id=run_id, dry_run=False, output="json")


if __name__ == "__main__":
    sys.exit(main())
