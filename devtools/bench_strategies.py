"""`make bench`, ECS-native strategies: a BLUE_GREEN deploy with a 30-minute bake and a LINEAR deploy (the
simulator's "bluegreen" scenario, services demo/bg and demo/lin), followed two ways on virtual time:

- `ecsops deploy` as a subprocess at its default polling (ECSOPS_CLOCK=sim: its waits move the simulator's clock;
  the scenario's tick_seconds is 0, so nothing else does);
- an `aws ecs wait services-stable` loop after a plain UpdateService: DescribeServices every 15 s of virtual time,
  the acceptors, delay and maxAttempts of botocore's ECS `ServicesStable` waiter (40 x 15 s).

For each: its ECS requests, and its answer against the instant the service deployment turned SUCCESSFUL (the
simulator's record of status changes): how long after it the tool exited, or that it answered too early."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecsops.sim.scenario import Scenario, load_scenario
from ecsops.sim.server import SimServer

CLUSTER = "demo"
IMAGE = "nginx:1.27"
ECSOPS, WAITER = "ecsops deploy", "services-stable"
# How far to look past the end of a run for the deployment's SUCCESSFUL (a run that answered before it).
SETTLE_LIMIT_SECONDS = 4 * 3600.0
SETTLE_STEP_SECONDS = 30.0
FINAL_STATUSES = {"SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"}


@dataclass(frozen=True)
class StrategyCase:
    title: str
    service: str
    # Changes to the service's ServiceSpec in the "bluegreen" scenario (the test shortens the bake).
    overrides: dict[str, Any] = field(default_factory=dict)

    def scenario(self) -> Scenario:
        scenario = load_scenario("bluegreen")
        services = [s.model_copy(update=self.overrides) if s.name == self.service else s for s in scenario.services]
        return Scenario.model_validate(
            scenario.model_copy(update={"services": services, "tick_seconds": 0.0}).model_dump()
        )


CASES = (
    StrategyCase("BLUE_GREEN, 30-min bake", "bg"),
    StrategyCase("LINEAR 25%, 2-min step bakes, 5-min bake", "lin"),
    StrategyCase("CANARY 10%, 5-min canary bake, 5-min bake", "can"),
)


@dataclass(frozen=True)
class StrategyRun:
    case: StrategyCase
    tool: str
    counts: dict[str, int]
    # ecsops: its run status and exit code; the waiter: "stable", "failure" or "gave up" (the CLI exits 255).
    outcome: str
    exit_code: int
    started: float  # simulated instant the run began
    answered: float  # simulated instant of its answer (the process's exit, the waiter's last poll)
    # The run's own service deployment, as the simulator recorded it (None: the simulator has none).
    final_status: str | None
    final_at: float | None

    @property
    def requests(self) -> int:
        return sum(n for op, n in self.counts.items() if op.startswith("ecs:"))

    def calls(self, operation: str) -> int:
        return self.counts.get(f"ecs:{operation}", 0)

    @property
    def successful_at(self) -> float | None:
        return self.final_at if self.final_status == "SUCCESSFUL" else None

    @property
    def after_successful(self) -> float | None:
        """Simulated seconds from SUCCESSFUL to the answer; negative when the answer came first."""
        return None if self.successful_at is None else self.answered - self.successful_at


def own_deployment(server: SimServer, service: str, since: float) -> tuple[str | None, float | None]:
    """(final status, its instant) of the first service deployment of `service` created at or after `since`."""
    changes = [c for c in server.service_deployment_changes()
               if c["cluster"] == CLUSTER and c["service"] == service and float(c["at"]) >= since]
    if not changes:
        return None, None
    arn = changes[0]["serviceDeploymentArn"]
    final = [c for c in changes if c["serviceDeploymentArn"] == arn and c["status"] in FINAL_STATUSES]
    return (str(final[0]["status"]), float(final[0]["at"])) if final else (None, None)


def _settle(server: SimServer, service: str, since: float) -> tuple[str | None, float | None]:
    """Let virtual time run (no requests) until the run's service deployment is final, and say how it ended."""
    waited = 0.0
    while True:
        status, at = own_deployment(server, service, since)
        if status is not None or waited >= SETTLE_LIMIT_SECONDS:
            return status, at
        server.advance(SETTLE_STEP_SECONDS)
        waited += SETTLE_STEP_SECONDS


def _env(server: SimServer, store: Path) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "ECSOPS_CRASH_AT"):
        env.pop(name, None)
    env.update(AWS_ENDPOINT_URL=server.url, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_DEFAULT_REGION=server.scenario.region, ECSOPS_STORE=str(store), ECSOPS_CLOCK="sim")
    return env


def measure_ecsops(server: SimServer, case: StrategyCase, workdir: Path) -> StrategyRun:
    """`ecsops deploy` at its default polling (and default timeout) on a fresh account."""
    server.use_clock("virtual")
    server.reset(case.scenario())
    script = Path(sys.executable).parent / "ecsops"
    argv = [str(script), "deploy", "--cluster", CLUSTER, "--service", case.service,
            "--container-image", f"app={IMAGE}", "--run-id", f"bench-{case.service}", "--output", "json"]
    started = server.now()
    completed = subprocess.run(argv, env=_env(server, workdir / f"strategies-{case.service}.db"),
                               capture_output=True, text=True, check=False, timeout=600)
    answered = server.now()
    counts = server.counts()
    try:
        outcome = str(json.loads(completed.stdout)["status"])
    except (ValueError, KeyError, TypeError):
        outcome = f"exit {completed.returncode}: {(completed.stderr.strip().splitlines() or [''])[-1][:80]}"
    status, at = _settle(server, case.service, started)
    return StrategyRun(case, ECSOPS, counts, outcome, completed.returncode, started, answered, status, at)


def _services_stable() -> Any:
    """botocore's ECS `ServicesStable` waiter (the one `aws ecs wait services-stable` runs)."""
    import botocore.session
    from botocore.waiter import WaiterModel

    loader = botocore.session.get_session().get_component("data_loader")
    return WaiterModel(loader.load_service_model("ecs", "waiters-2")).get_waiter("ServicesStable")


def measure_waiter(server: SimServer, case: StrategyCase) -> StrategyRun:
    """A plain UpdateService to a new revision with the new image, then the ServicesStable waiter's loop, its
    15-second delay taken on the simulator's clock."""
    server.use_clock("virtual")
    server.reset(case.scenario())
    ecs = server.client("ecs")
    started = server.now()
    family = next(s.task_definition for s in server.scenario.services if s.name == case.service)
    current = ecs.describe_task_definition(taskDefinition=family)["taskDefinition"]  # the family's latest
    containers = [{**c, "image": IMAGE} if c["name"] == "app" else c for c in current["containerDefinitions"]]
    registered = ecs.register_task_definition(family=current["family"], containerDefinitions=containers)
    ecs.update_service(cluster=CLUSTER, service=case.service,
                       taskDefinition=registered["taskDefinition"]["taskDefinitionArn"])
    waiter = _services_stable()
    outcome = "gave up"
    for attempt in range(1, waiter.max_attempts + 1):
        response = ecs.describe_services(cluster=CLUSTER, services=[case.service])
        states = [a.state for a in waiter.acceptors if a.matcher_func(response)]
        if states:
            outcome = "stable" if states[0] == "success" else "failure"
            break
        if attempt < waiter.max_attempts:
            server.advance(float(waiter.delay))
    answered = server.now()
    counts = server.counts()
    status, at = _settle(server, case.service, started)
    return StrategyRun(case, WAITER, counts, outcome, 0 if outcome == "stable" else 255, started, answered,
                       status, at)


def run_cases(server: SimServer, workdir: Path, cases: tuple[StrategyCase, ...] = CASES) -> list[StrategyRun]:
    runs = []
    for case in cases:
        runs.append(measure_ecsops(server, case, workdir))
        runs.append(measure_waiter(server, case))
    return runs


# --- rendering ----------------------------------------------------------------------------------------------


def _minutes(seconds: float) -> str:
    seconds = abs(seconds)
    return f"{seconds:.0f}s" if seconds < 90 else f"{seconds / 60:.1f}m"


def timing(run: StrategyRun) -> str:
    """The answer against SUCCESSFUL, in words."""
    took = run.answered - run.started
    if run.successful_at is None:
        return f"answered after {_minutes(took)}; deployment ended {run.final_status or 'never'}"
    after = run.answered - run.successful_at
    if run.tool == WAITER and run.outcome == "gave up":
        polls = run.calls("DescribeServices")
        return f"gave up after {polls} polls ({_minutes(took)}), {_minutes(after)} before SUCCESSFUL"
    if after < 0:
        return f"said {run.outcome} {_minutes(after)} before SUCCESSFUL"
    return f"+{after:.0f}s after SUCCESSFUL"


def verdict(run: StrategyRun) -> str:
    after = run.after_successful
    if run.tool == WAITER:
        if run.outcome == "gave up":
            return "no answer (exit 255)"
        if run.outcome == "stable":
            return "wrong: stable before SUCCESSFUL" if after is None or after < 0 else "right"
        return f"wrong: {run.outcome}" if after is not None else "failure"
    if run.exit_code == 0 and run.outcome == "succeeded":
        return "right" if after is not None and after >= 0 else "wrong: succeeded before SUCCESSFUL"
    return f"{run.outcome} (exit {run.exit_code})"


def render(runs: list[StrategyRun]) -> str:
    table = [("strategy", "tool", "requests", "polls", "SUCCESSFUL -> answer", "verdict")]
    for run in runs:
        polls = (f"{run.calls('DescribeServiceDeployments')} DescribeServiceDeployments" if run.tool == ECSOPS
                 else f"{run.calls('DescribeServices')} DescribeServices")
        table.append((run.case.title, run.tool, str(run.requests), polls, timing(run), verdict(run)))
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    return "\n".join("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
                     for row in table)


def render_counts(runs: list[StrategyRun]) -> str:
    lines = []
    for run in runs:
        calls = ", ".join(f"{op.split(':', 1)[1]} {n}" for op, n in sorted(run.counts.items()))
        lines.append(f"  {run.case.service} / {run.tool}: {calls}")
    return "\n".join(lines)
