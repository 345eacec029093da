"""Poll one deployment until ECS gives a verdict or its durable deadline passes, reporting progress as it goes."""

from __future__ import annotations

from ecsops.aws.ecs import EcsGateway, EcsNotFound, short_name
from ecsops.aws.elbv2 import Elbv2Gateway
from ecsops.aws.errors import is_transient
from ecsops.deploy.facts import DeployFacts
from ecsops.deploy.params import DeployParams
from ecsops.deploy.verdict import Verdict, Watch, judge, new_events
from machines.context import RunContext
from machines.durations import format_duration

ADAPTIVE_FIRST_INTERVAL = 2.0
ADAPTIVE_MAX_INTERVAL = 15.0
PROGRESS_HEARTBEAT_SECONDS = 60.0


class DeploymentFollower:
    """One per process driving a deploy run; remembers only the service events already shown."""

    def __init__(self, params: DeployParams, ecs: EcsGateway, elbv2: Elbv2Gateway) -> None:
        self.params = params
        self.ecs = ecs
        self.elbv2 = elbv2
        self._seen_events: set[str] = set()

    def follow(
        self,
        ctx: RunContext[DeployFacts],
        deployment_id: str,
        deadline_name: str,
        budget_seconds: float,
        rollback_task_definition: str | None,
        until_draining: bool,
    ) -> Watch:
        """Poll until the deployment has a verdict or the named durable deadline passes (IN_PROGRESS).

        The deadline is fixed the first time its name is asked for (`budget_seconds` from then), kept across
        resumes."""
        p = self.params
        deadline = ctx.deadline(deadline_name, budget_seconds)
        started = deadline - budget_seconds
        last = Watch(Verdict.IN_PROGRESS, "", "(no answer from ECS yet)")
        polls = 0
        shown, shown_at = "", float("-inf")
        while True:
            try:
                service = self.ecs.describe_service(p.cluster, p.service)
                last = judge(service, deployment_id, rollback_task_definition)
                if last.verdict is Verdict.IN_PROGRESS and until_draining:
                    draining = self._draining_started(ctx)
                    if draining:
                        return Watch(Verdict.STABLE, draining, last.summary, last.primary_id)
            except EcsNotFound as exc:
                return Watch(Verdict.FAILED, exc.message, last.summary, last.primary_id)
            except Exception as exc:
                if not is_transient(exc):
                    raise
                ctx.progress(f"poll failed ({type(exc).__name__}: {exc}); trying again")
                service = None
            now = ctx.now()
            if service is not None:
                for message in new_events(service, self._seen_events, started):
                    ctx.progress(f"event: {message}")
                # A line when the counts change, else a heartbeat, so a slow rollout is not a wall of text.
                if last.summary != shown or now - shown_at >= PROGRESS_HEARTBEAT_SECONDS:
                    shown, shown_at = last.summary, now
                    ctx.progress(
                        f"{last.summary} | elapsed {format_duration(now - started)}, "
                        f"{format_duration(max(0.0, deadline - now))} left"
                    )
            if last.verdict is not Verdict.IN_PROGRESS:
                return last
            if now >= deadline:
                return last
            ctx.sleep(self._interval(polls))
            polls += 1

    def _interval(self, polls: int) -> float:
        if self.params.poll_interval is not None:
            return self.params.poll_interval
        return float(min(ADAPTIVE_MAX_INTERVAL, ADAPTIVE_FIRST_INTERVAL * 1.5**polls))

    def _draining_started(self, ctx: RunContext[DeployFacts]) -> str | None:
        group = ctx.facts.target_group
        if not group:
            return None
        initial = set(ctx.facts.initial_targets)
        health = self.elbv2.describe_target_health(group)
        draining = [t for t in health if t.state == "draining"]
        if draining:
            return f"target {draining[0].key} of {short_name(group)} started draining"
        if initial and not initial & {t.key for t in health}:
            return f"every target registered before the deploy has left {short_name(group)}"
        return None
