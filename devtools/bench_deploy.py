"""`make bench`, deploys: ecsops and fabfuel's `ecs deploy` (ecs-deploy) run as subprocesses against one simulator,
case by case: the requests each makes, its wall time, its outcome, and how long after ECS completed it exited."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ecsops.sim.scenario import ClusterSpec, Scenario, demo_scenario, load_scenario
from ecsops.sim.server import SimServer

# The simulator scenario (a built-in name for load_scenario) whose deploys first meet "unable to place a task"
# and then become healthy; until the simulator has it, the bench makes the cluster full itself (see below).
UNABLE_SCENARIO = "unable_to_place_then_healthy"
FAILING_TIMEOUT_SECONDS = 30
GOOD_TIMEOUT_SECONDS = 600
# Old tasks drain 5 s (the demo: 20 s), so a good rollout takes about 20 s of wall clock.
DEREGISTRATION_DELAY_SECONDS = 5
ECSOPS, FABFUEL = "ecsops", "fabfuel"
TOOLS = (ECSOPS, FABFUEL)


@dataclass(frozen=True)
class Case:
    title: str
    image: str
    clock: str
    timeout_seconds: int
    scenario: Callable[[], tuple[Scenario | None, str]]
    # Both tools poll without sleeping (the simulator's virtual clock: every read moves it 5 s).
    no_sleep: bool = False


@dataclass(frozen=True)
class ToolRun:
    tool: str
    exit_code: int
    outcome: str
    wall_seconds: float
    counts: dict[str, int]
    # The service's task definition once the tool has exited: what it really left running.
    final_task_definition: str
    # Seconds from ECS completing the tool's own deployment to the tool's exit (wall clock, when it completed).
    after_completion: float | None
    rollout_seconds: float | None

    @property
    def requests(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class CaseResult:
    case: Case
    note: str
    runs: dict[str, ToolRun]


def _demo_with(**service_changes: Any) -> Scenario:
    """The demo scenario (demo/web, desired 2, circuit breaker with rollback) with faster draining."""
    scenario = demo_scenario()
    web = scenario.services[0]
    assert web.load_balancer is not None
    load_balancer = web.load_balancer.model_copy(update={"deregistration_delay": DEREGISTRATION_DELAY_SECONDS})
    web = web.model_copy(update={"load_balancer": load_balancer, **service_changes})
    return scenario.model_copy(update={"services": [web]})


def _unable_to_place_then_healthy() -> tuple[Scenario | None, str]:
    try:
        return load_scenario(UNABLE_SCENARIO), f"scenario {UNABLE_SCENARIO}"
    except (OSError, ValueError):
        pass
    # No such scenario yet: a full cluster does the same with ECS's own rules. Two instances hold one task each;
    # the new tasks cannot be placed ("unable to place a task") until, at 50% minimum healthy, an old task has
    # stopped and freed its instance; then the rollout goes on to complete.
    scenario = _demo_with(minimum_healthy_percent=50)
    asg = scenario.asgs[0].model_copy(update={"desired_capacity": 2, "out_of_date": 0})
    return scenario.model_copy(update={
        "clusters": [ClusterSpec(name="demo", max_tasks_per_instance=1)], "asgs": [asg],
    }), f"cluster full at the start (no scenario {UNABLE_SCENARIO} in the simulator)"


CASES = (
    Case("good deploy, both polling without sleep (virtual clock, 5 s per read)", "nginx:1.27", "virtual",
         GOOD_TIMEOUT_SECONDS, lambda: (_demo_with(), "demo"), no_sleep=True),
    Case("good deploy at each tool's default polling (wall clock)", "nginx:1.27", "wall",
         GOOD_TIMEOUT_SECONDS, lambda: (_demo_with(), "demo")),
    Case(f"failing image, ECS circuit breaker with rollback (wall clock, --timeout {FAILING_TIMEOUT_SECONDS}s)",
         "nginx:broken", "wall", FAILING_TIMEOUT_SECONDS, lambda: (_demo_with(), "demo")),
    Case(f"failing image, no circuit breaker (wall clock, --timeout {FAILING_TIMEOUT_SECONDS}s)", "nginx:broken",
         "wall", FAILING_TIMEOUT_SECONDS, lambda: (_demo_with(circuit_breaker=False, rollback=False), "demo")),
    Case("\"unable to place a task\" at the start, then healthy (wall clock)", "nginx:1.27", "wall",
         GOOD_TIMEOUT_SECONDS, _unable_to_place_then_healthy),
)


def tool_path(name: str) -> Path | None:
    """A console script of this environment (ecsops, ecs), or None when it is not installed."""
    path = Path(sys.executable).parent / name
    return path if path.exists() else None


def _argv(tool: str, case: Case, run_id: str) -> list[str]:
    if tool == ECSOPS:
        argv = [str(tool_path("ecsops")), "deploy", "--cluster", "demo", "--service", "web",
                "--container-image", f"app={case.image}", "--timeout", f"{case.timeout_seconds}s",
                "--run-id", run_id, "--output", "json"]
        return [*argv, "--poll-interval", "0"] if case.no_sleep else argv
    # fabfuel rolls back only when asked; ecsops always does, so ask.
    argv = [str(tool_path("ecs")), "deploy", "demo", "web", "--image", "app", case.image,
            "--timeout", str(case.timeout_seconds), "--rollback"]
    return [*argv, "--sleep-time", "0"] if case.no_sleep else argv


def _env(server: SimServer, case: Case, store: Path) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "ECSOPS_CLOCK",
                 "ECSOPS_CRASH_AT"):
        env.pop(name, None)
    env.update(AWS_ENDPOINT_URL=server.url, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_DEFAULT_REGION=server.scenario.region, ECSOPS_STORE=str(store))
    # Each tool keeps its own clock, the system's, as in production: on the virtual-clock case neither sleeps, and
    # the simulator's time moves with their reads. (ECSOPS_CLOCK=sim would add a clock request per reading.)
    return env


def _outcome(tool: str, completed: subprocess.CompletedProcess[str]) -> str:
    if tool == ECSOPS:
        try:
            return str(json.loads(completed.stdout)["status"])
        except (ValueError, KeyError, TypeError):
            return f"exit {completed.returncode}"
    if completed.returncode == 0:
        return "succeeded"
    text = completed.stdout + completed.stderr
    return "rolled back" if "Rollback successful" in text else "failed"


def _own_rollout(server: SimServer, since: float) -> tuple[float, float] | None:
    """(created, completed) of the tool's deployment, the first one created at or after `since`, if it completed."""
    changes = server.rollouts()
    created = [c for c in changes if c["rollout_state"] == "IN_PROGRESS" and c["at"] >= since]
    if not created:
        return None
    own = created[0]["deployment_id"]
    completed = [c["at"] for c in changes if c["deployment_id"] == own and c["rollout_state"] == "COMPLETED"]
    return (float(created[0]["at"]), float(completed[0])) if completed else None


def measure(server: SimServer, case: Case, scenario: Scenario, tool: str, workdir: Path) -> ToolRun:
    """One deploy by one tool on a fresh simulated account."""
    server.use_clock(case.clock)
    server.reset(scenario)
    run_id = f"bench-{CASES.index(case) if case in CASES else 'case'}"
    argv = _argv(tool, case, run_id)
    env = _env(server, case, workdir / f"{tool}.db")
    started = time.time()
    started_sim = server.now()
    completed = subprocess.run(argv, env=env, capture_output=True, text=True, check=False,
                               timeout=case.timeout_seconds * 3 + 600)
    exited = time.time()
    counts = server.counts()
    rollout = _own_rollout(server, started_sim) if case.clock == "wall" else None
    service = server.client("ecs").describe_services(cluster="demo", services=["web"])["services"][0]
    return ToolRun(
        tool, completed.returncode, _outcome(tool, completed), exited - started, counts,
        str(service["taskDefinition"]).rsplit("/", 1)[-1],
        None if rollout is None else exited - rollout[1], None if rollout is None else rollout[1] - rollout[0],
    )


def run_cases(server: SimServer, workdir: Path, cases: tuple[Case, ...] = CASES) -> list[CaseResult]:
    tools = [tool for tool, script in ((ECSOPS, "ecsops"), (FABFUEL, "ecs")) if tool_path(script) is not None]
    results = []
    for case in cases:
        scenario, note = case.scenario()
        if scenario is None:
            results.append(CaseResult(case, "(scenario not available)", {}))
            continue
        runs = {tool: measure(server, case, scenario, tool, workdir) for tool in tools}
        results.append(CaseResult(case, note, runs))
    return results


# --- rendering ----------------------------------------------------------------------------------------------


def ratio(ours: float | None, theirs: float | None) -> str:
    if ours is None or theirs is None:
        return "-"
    if theirs == 0:
        return "-" if ours == 0 else "inf"
    return f"{ours / theirs:.2f}"


def rows(result: CaseResult) -> list[tuple[str, str, str, str]]:
    """(figure, ecsops, fabfuel, ecsops/fabfuel) for one case."""
    ours, theirs = result.runs.get(ECSOPS), result.runs.get(FABFUEL)
    if ours is None or theirs is None:
        missing = "(ecs-deploy not installed)" if ours is not None else result.note
        return [("", missing, "", "")]

    def figure(name: str, value: Callable[[ToolRun], float | None], form: str) -> tuple[str, str, str, str]:
        a, b = value(ours), value(theirs)
        return (name, "-" if a is None else format(a, form), "-" if b is None else format(b, form), ratio(a, b))

    lines = [
        ("outcome", f"{ours.outcome} (exit {ours.exit_code})", f"{theirs.outcome} (exit {theirs.exit_code})", ""),
        ("service then runs", ours.final_task_definition, theirs.final_task_definition, ""),
        figure("requests", lambda r: r.requests, "d"),
    ]
    if result.case.clock == "wall":
        lines.append(figure("wall time, s", lambda r: r.wall_seconds, ".1f"))
        if ours.after_completion is not None or theirs.after_completion is not None:
            lines.append(figure("s from ECS completing it to exit", lambda r: r.after_completion, ".1f"))
            lines.append(figure("its rollout (ECS), s", lambda r: r.rollout_seconds, ".1f"))
    return lines


def render(results: list[CaseResult]) -> str:
    table: list[tuple[str, str, str, str]] = [("", ECSOPS, "fabfuel ecs deploy", "ratio")]
    headings: dict[int, str] = {}
    for result in results:
        headings[len(table)] = f"{result.case.title}" + (f" [{result.note}]" if result.note != "demo" else "")
        table.extend(rows(result))
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    lines = []
    for index, row in enumerate(table):
        if index in headings:
            lines.append(headings[index])
        lines.append("  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)


def render_counts(results: list[CaseResult]) -> str:
    lines = []
    for result in results:
        for tool, run in result.runs.items():
            calls = ", ".join(f"{op.split(':', 1)[1]} {n}" for op, n in sorted(run.counts.items()))
            lines.append(f"{result.case.title.split(' (')[0]} / {tool}: {calls}")
    return "\n".join(lines)
