"""Follow one ECS service deployment (BLUE_GREEN, LINEAR, CANARY) with one DescribeServiceDeployments per poll."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ecsops.aws.ecs import EcsGateway
from ecsops.aws.errors import is_transient
from ecsops.deploy.facts import DeployFacts
from ecsops.deploy.params import DeployParams
from ecsops.deploy.service_deployment_verdict import Look, Phase, hook_lines, look_at
from ecsops.deploy.strategy import StrategyPlan, strategy_of
from ecsops.deploy.wait import (
    ADAPTIVE_MAX_INTERVAL,
    MAX_SILENCE_SECONDS,
    DeploymentFollower,
    adaptive_polling,
    failed_poll_backoff,
    pause_in_pieces,
    phase_clock,
)
from machines.context import RunContext
from machines.durations import format_duration

Context = RunContext[DeployFacts]

# While more than a minute of a bake is left, one request per 30 s is enough: nothing ECS reports can change
# but a rollback, which ECS carries out by itself. In the last minute the adaptive 2-6 s polling comes back,
# so the end is still noticed within 6 s.
BAKE_POLL_INTERVAL = 30.0
BAKE_FAST_POLLING_SECONDS = 60.0
# A PAUSE hook waits for a person: a poll every 15 s notices `ecsops approve`, and the log says so once a minute.
PAUSED_POLL_INTERVAL = 15.0
PAUSED_NOTICE_INTERVAL = 60.0


@dataclass(frozen=True)
class Followed:
    """The last look at the deployment, and the deployment as ECS described it then (None: no answer yet)."""

    look: Look | None
    deployment: Mapping[str, Any] | None

    @property
    def phase(self) -> Phase | None:
        return self.look.phase if self.look is not None else None


class _Quiet:
    """A bake of known length whose start lies between two polls: how long it certainly still runs."""

    def __init__(self) -> None:
        self.ends_not_before: float | None = None

    def start(self, not_before: float, minutes: int) -> None:
        self.ends_not_before = not_before + minutes * 60.0 if minutes > 0 else None

    def left(self, now: float) -> float:
        return max(0.0, self.ends_not_before - now) if self.ends_not_before is not None else 0.0


class ServiceDeploymentFollower:
    """Polls DescribeServiceDeployments for one service deployment; never DescribeServices."""

    def __init__(self, params: DeployParams, ecs: EcsGateway, failures: DeploymentFollower) -> None:
        self.params = params
        self.ecs = ecs  # a client that does not retry inside a call: the loop retries, and says so
        self.failures = failures  # reads the stopped tasks of the new revision, as a rolling deploy does
        self._said_at = float("-inf")
        self._shown: tuple[Any, ...] | None = None  # what the last lines said of the deployment

    def describe(self, arn: str) -> Mapping[str, Any] | None:
        found = self.ecs.describe_service_deployments([arn])
        return found[0] if found else None

    def follow(
        self, ctx: Context, arn: str, phase: str, budget_seconds: float, *, until_paused: bool,
        failure_limit: int | None = None,
    ) -> Followed:
        """Poll until the deployment is final, or rolling back (phase "deploy" only), or paused at a PAUSE hook
        (`until_paused`), or its new revision's failed tasks reach `failure_limit` while in progress, or the
        phase's durable deadline passes; say what changes as it goes."""
        deadline = ctx.deadline(phase, budget_seconds)
        clock_line = phase_clock(phase, deadline, budget_seconds)
        quiet = _Quiet()
        # A bake noticed before a crash: its end is known, so a resumed run polls slowly through it too.
        quiet.ends_not_before = ctx.facts.bake_ends_not_before
        last = Followed(None, None)
        self._shown = None
        polling = adaptive_polling(self.params)
        failed = 0
        previous_poll: float | None = None

        while True:
            polled = ctx.now()
            interval = polling.current
            try:
                deployment = self.describe(arn)
            except Exception as exc:
                if not is_transient(exc):
                    raise
                deployment = None
                failed += 1
                interval = failed_poll_backoff(interval, failed)
                self._say(ctx, f"{clock_line(ctx.now())}; DescribeServiceDeployments failed "
                               f"({type(exc).__name__}: {exc}); polling again in {format_duration(interval)}")
            if deployment is not None:
                failed = 0
                look = look_at(deployment)
                before = last.look
                last = Followed(look, deployment)
                mark_stage(ctx, look)
                quiet.ends_not_before = self.note_bake(ctx, last, before, previous_poll)
                if self.judge(ctx, last, phase, clock_line, quiet.left(ctx.now()), until_paused=until_paused,
                              failure_limit=failure_limit):
                    return last
                now = ctx.now()
                if quiet.left(now) > BAKE_FAST_POLLING_SECONDS:
                    interval = max(interval, min(BAKE_POLL_INTERVAL, quiet.left(now) - BAKE_FAST_POLLING_SECONDS))
                elif quiet.ends_not_before is not None:
                    interval = min(interval, ADAPTIVE_MAX_INTERVAL)
                if look.phase is Phase.PAUSED:
                    interval = max(interval, PAUSED_POLL_INTERVAL)
            now = ctx.now()
            if now >= deadline:
                return last
            previous_poll = polled
            pause_in_pieces(ctx, min(interval, max(0.0, deadline - now)), clock_line, self._say)
            polling.after()

    def note_bake(
        self, ctx: Context, followed: Followed, before: Look | None, previous_poll: float | None
    ) -> float | None:
        """A bake (or step bake) that began since the previous look (`before`, at `previous_poll`): its earliest end
        recorded at once (bake_ends_not_before), so a resumed run polls slowly through it too. That end, if any."""
        look, deployment = followed.look, followed.deployment
        if look is None or deployment is None:
            return ctx.facts.bake_ends_not_before
        plan = strategy_of(deployment) if deployment.get("deploymentConfiguration") else (
            ctx.facts.strategy_plan or StrategyPlan())
        quiet = _Quiet()
        quiet.ends_not_before = ctx.facts.bake_ends_not_before
        self._note_quiet(quiet, plan, before, look, previous_poll)
        if quiet.ends_not_before != ctx.facts.bake_ends_not_before:
            ctx.record(bake_ends_not_before=quiet.ends_not_before)
            ctx.flush()
        return quiet.ends_not_before

    def judge(
        self,
        ctx: Context,
        followed: Followed,
        phase: str,
        clock_line: Callable[[float], str],
        bake_left: float = 0.0,
        *,
        until_paused: bool,
        failure_limit: int | None = None,
    ) -> bool:
        """One poll's look at the deployment (DescribeServiceDeployments' answer in `followed`): the stage seen and
        the new revision's stopped tasks recorded, what changed said; True when the wait is over: final, rolling back
        (phase "deploy"), paused at a PAUSE hook (`until_paused`), or its failed tasks at `failure_limit`. A fleet
        calls it with its own batched answers."""
        look, deployment = followed.look, followed.deployment
        if look is None or deployment is None:
            return False
        if look.stage and look.stage != ctx.facts.stage_seen:
            ctx.record(stage_seen=look.stage)
        self.failures.read_failures(ctx, str(ctx.facts.deployment_id), look.failure_count, look.phase.final)
        now = ctx.now()
        state = (look.status, look.stage, look.production_weight, look.test_weight, tuple(hook_lines(deployment)))
        if state != self._shown or look.phase.final:
            self._shown = state
            self._say(ctx, clock_line(now))
            for line in self._lines(look, deployment, bake_left):
                self._say(ctx, line)
        elif now - self._said_at >= MAX_SILENCE_SECONDS:
            bake = f"; bake: at least {format_duration(bake_left)} left" if bake_left else ""
            self._say(ctx, f"{clock_line(now)}; no change{bake}")
        if look.phase.final or (phase == "deploy" and look.phase is Phase.ROLLING_BACK):
            return True
        if until_paused and look.phase is Phase.PAUSED:
            return True
        return bool(failure_limit and look.phase is Phase.IN_PROGRESS and look.failure_count >= failure_limit)

    def wait_while_paused(self, ctx: Context, arn: str, hook_id: str | None) -> Followed:
        """Poll every PAUSED_POLL_INTERVAL until the PAUSE hook is acted on (or times out, or the deployment
        ends); once a minute say what is awaited and the commands that act on it. No deadline of ecsops's
        counts here: the hook's own timeout governs the wait."""
        said = float("-inf")
        while True:
            deployment = None
            try:
                deployment = self.describe(arn)
            except Exception as exc:
                if not is_transient(exc):
                    raise
                self._say(ctx, f"paused: DescribeServiceDeployments failed ({type(exc).__name__}: {exc})")
            if deployment is not None:
                look = look_at(deployment)
                awaiting = look.awaiting_hook
                if look.phase is not Phase.PAUSED or (hook_id and awaiting and awaiting.get("hookId") != hook_id):
                    return Followed(look, deployment)
                now = ctx.now()
                if now - said >= PAUSED_NOTICE_INTERVAL:
                    said = now
                    for line in paused_lines(ctx.run_id, look):
                        self._say(ctx, line)
            ctx.sleep(PAUSED_POLL_INTERVAL)

    def _note_quiet(
        self, quiet: _Quiet, plan: StrategyPlan, before: Look | None, look: Look, previous_poll: float | None
    ) -> None:
        """A bake began since the previous poll: entering BAKE_TIME, or a traffic step short of 100%. Its start
        is taken as the previous poll (the earliest it can have been), so its end is never overestimated. A
        bake already running when this process first looked is not known: polling stays fast."""
        if before is None or previous_poll is None:
            return
        if look.stage == "BAKE_TIME" and before.stage != "BAKE_TIME":
            quiet.start(previous_poll, plan.bake_minutes)
        elif (
            look.stage == "PRODUCTION_TRAFFIC_SHIFT"
            and look.production_weight is not None
            and look.production_weight != before.production_weight
            and look.production_weight < 100.0
        ):
            bakes = dict(plan.traffic_steps())
            quiet.start(previous_poll, bakes.get(look.production_weight, 0))
        elif look.stage != before.stage and look.stage not in ("BAKE_TIME", "PRODUCTION_TRAFFIC_SHIFT"):
            quiet.ends_not_before = None

    def _lines(self, look: Look, deployment: Mapping[str, Any], bake_left: float) -> list[str]:
        weights = []
        if look.production_weight is not None:
            weights.append(f"production {look.production_weight:g}%")
        if look.test_weight is not None:
            weights.append(f"test {look.test_weight:g}%")
        line = f"  ours   {look.status} stage {look.stage or '?'}"
        if weights:
            line += f": traffic {', '.join(weights)}"
        lines = [line]
        target = deployment.get("targetServiceRevision") or {}
        if target:
            lines.append(f"  new revision running {target.get('runningTaskCount', 0)}/"
                         f"{target.get('requestedTaskCount', 0)}"
                         + (f", {look.failure_count} failed" if look.failure_count else ""))
        lines += hook_lines(deployment)
        if bake_left:
            lines.append(f"  bake: at least {format_duration(bake_left)} left")
        return lines

    def _say(self, ctx: Context, line: str) -> None:
        ctx.progress(line)
        self._said_at = ctx.now()


def mark_stage(ctx: Context, look: Look, item: str | None = None) -> None:
    """A lifecycle stage the deployment entered since the last look (BAKE_TIME, TEST_TRAFFIC_SHIFT...): marked on
    the run's timeline (not printed), so a timeline can show the bake and hook periods. `judge` records it seen."""
    if look.stage and look.stage != ctx.facts.stage_seen:
        ctx.mark("stage", look.stage, item)


def paused_lines(run_id: str, look: Look) -> list[str]:
    """What a person reads while a PAUSE hook awaits action: the hook, its expiry, the commands that act on it."""
    hook = look.awaiting_hook or {}
    expires = hook.get("expiresAt")
    when = f", expires {expires}" if expires else ""
    action = hook.get("timeoutAction")
    then = f" (then ECS does {action})" if action else ""
    return [
        f"paused at {look.stage or '?'}: PAUSE hook {hook.get('hookId')} awaits action{when}{then}",
        f"  to continue: ecsops approve {run_id}",
        f"  to roll back: ecsops approve {run_id} --rollback",
    ]
