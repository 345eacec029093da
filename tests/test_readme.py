"""The README stays true: its machine diagrams match the declarations, and its walkthrough runs."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from devtools.readme_diagrams import current_section, diagrams_section
from ecsops.cli.operations import BUILTIN
from ecsops.sim.server import SimServer

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_diagrams_match_the_declared_machines() -> None:
    assert BUILTIN, "no built-in operations registered"
    assert current_section(README.read_text()) == diagrams_section(), (
        "README machine diagrams are stale: run `python -m devtools.readme_diagrams`"
    )


def walkthrough() -> list[tuple[list[str], int]]:
    text = README.read_text()
    block = text.split("<!-- readme-walkthrough:start -->")[1].split("<!-- readme-walkthrough:end -->")[0]
    commands = []
    for line in block.splitlines():
        if not line.startswith("$ "):
            continue
        command, _, comment = line[2:].partition("  #")
        match = re.search(r"exit (\d+)", comment)
        commands.append((shlex.split(command), int(match.group(1)) if match else 0))
    return commands


@pytest.mark.process
def test_readme_walkthrough_runs_as_shown(aws_env: SimServer, tmp_path: Path) -> None:
    aws_env.reset("bluegreen")  # as the README starts it: `ecsops sim serve --scenario bluegreen`
    env = dict(os.environ, ECSOPS_STORE=str(tmp_path / "readme.db"))
    bin_dir = Path(sys.executable).parent
    commands = walkthrough()
    assert len(commands) >= 10
    for argv, expected in commands:
        executable = bin_dir / argv[0]
        if not executable.exists():
            pytest.fail(f"README command {argv[0]} is not installed as a console script")
        result = subprocess.run([str(executable), *argv[1:]], capture_output=True, text=True, env=env, timeout=120)
        assert result.returncode == expected, (
            f"README: `{shlex.join(argv)}` exited {result.returncode}, README says {expected}\n{result.stderr}"
        )
