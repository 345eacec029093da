"""Running ecsops (and the example operation) as real subprocesses, the way a CI job would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TESTS_DIR = Path(__file__).parent


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def cli_env(store: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("ECSOPS_CRASH_AT", None)
    env["ECSOPS_STORE"] = str(store)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS_DIR), env.get("PYTHONPATH")]))
    env["ECSOPS_OPERATION_PLUGINS"] = "example_operation:SPEC"
    env.update(extra)
    return env


def run_ecsops(store: Path, *args: str, timeout: float = 60, **extra_env: str) -> Result:
    completed = subprocess.run(
        [sys.executable, "-m", "ecsops", *args],
        capture_output=True, text=True, env=cli_env(store, **extra_env), timeout=timeout,
    )
    return Result(completed.returncode, completed.stdout, completed.stderr)


def run_example(store: Path, ledger: Path, target: str, run_id: str, *params: str, **extra_env: str) -> Result:
    completed = subprocess.run(
        [sys.executable, str(TESTS_DIR / "example_cli.py"), str(ledger), target, run_id, *params],
        capture_output=True, text=True, env=cli_env(store, **extra_env), timeout=60,
    )
    return Result(completed.returncode, completed.stdout, completed.stderr)
