"""What a person sees about a run's lock, deadlines and next step: status, abandon, resume, refusals (issue 12)."""

from __future__ import annotations

import re
from pathlib import Path

from replace_helpers import fleet_scenario, replace

from ecsops.sim.server import SimServer


def test_replace_waits_show_elapsed_and_time_left(aws_env: SimServer, tmp_path: Path) -> None:
    seeded = aws_env.reset(fleet_scenario(instances=3, out_of_date=2, stuck=True)).asgs["prod-asg"]
    first = seeded.out_of_date_instances[0]

    result = replace(tmp_path / "ecsops.db", "--timeout", "10m")

    assert result.returncode == 1, result.stderr
    lines = _unwrapped(result.stderr)
    waits = [line for line in lines if line.startswith(f"{first}: draining: ") and " elapsed, " in line]
    assert waits, result.stderr
    elapsed, left = re.search(r"\| (\S+) elapsed, (\S+) left$", waits[-1]).groups()  # type: ignore[union-attr]
    assert left != "10m00s" and elapsed != "0s"
    # The wait repeats its line while nothing changes, so a long drain is never silent.
    assert len(waits) >= 3


def _unwrapped(stderr: str) -> list[str]:
    """Progress lines without their stamps, a wrapped line joined back to one."""
    lines: list[str] = []
    for line in stderr.splitlines():
        if line.startswith(" ") and lines:
            lines[-1] += " " + line.strip()
        else:
            lines.append(re.sub(r"^\[\s*[\d.]+s\] ", "", line))
    return lines
