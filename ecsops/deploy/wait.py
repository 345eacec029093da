"""Poll one deployment until ECS gives a verdict or its durable deadline passes, saying what happens as it goes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ecsops.aws.ecs import EcsGateway, EcsNotFound
from ecsops.aws.elbv2 import Elbv2Gateway
from ecsops.aws.errors import is_transient
from ecsops.deploy.events import events_after, shown, target_group_name
from ecsops.deploy.facts import DeployFacts
from ecsops.deploy.params import DeployParams
from ecsops.deploy.task_failures import headline, merged
from ecsops.deploy.verdict import Verdict, Watch, deployment_lines, judge
from machines.context import RunContext
from machines.durations import format_duration
from machines.polling import AdaptiveInterval

# Adaptive polling: 2s, 3s, 4.5s, then every 6s: completion is noticed within 6s, at 10 DescribeServices a
# minute (fabfuel's ecs-deploy polls every second: 60 a minute).
ADAPTIVE_FIRST_INTERVAL = 2.0
ADAPTIVE_MAX_INTERVAL = 6.0
# Nothing printed for longer than this during a wait: a line says the run is alive and what it waits for.
MAX_SILENCE_SECONDS = 15.0
# Stopped tasks are read again only when failedTasks grew, and at most this often (and once more at the end).
FAILURE_READ_INTERVAL = 30.0
# Consecutive failed polls back off up to this (run clock), each one said.
FAILED_POLL_MAX_BACKOFF = 30.0

Context = RunContext[DeployFacts]


def adaptive_polling(params: DeployParams) -> AdaptiveInterval:
    """--poll-interval, else adaptive: 2s, 3s, 4.5s, then every 6s."""
    return AdaptiveInterval(ADAPTIVE_FIRST_INTERVAL, ADAPTIVE_MAX_INTERVAL, fixed=params.poll_interval)


def failed_poll_backoff(interval: float, failed_in_a_row: int) -> float:
    """The wait before polling again after `failed_in_a_row` failed polls: 1s, 2s, 4s... up to 30s."""
    return max(interval, min(FAILED_POLL_MAX_BACKOFF, 2.0 ** (failed_in_a_row - 1)))


def phase_clock(phase: str, deadline: float, budget_seconds: float) -> Callable[[float], str]:
    """`deploy: 12s elapsed, 14m48s left` at a given instant of the run's clock."""
    started = deadline - budget_seconds

    def line(now: float) -> str:
        return (f"{phase}: {format_duration(max(0.0, now - started))} elapsed, "
                f"{format_duration(max(0.0, deadline - now))} left")

    return line


def pause_in_pieces(
    ctx: Context, seconds: float, clock_line: Callable[[float], str], say: Callable[[Context, str], None]
) -> None:
    """Sleep between polls; a long pause is slept in pieces so the log never goes quiet."""
    while seconds > MAX_SILENCE_SECONDS:
        ctx.sleep(MAX_SILENCE_SECONDS)
        seconds -= MAX_SILENCE_SECONDS
        say(ctx, f"{clock_line(ctx.now())}; next poll in {format_duration(seconds)}")
    ctx.sleep(seconds)


class DeploymentFollower:
    """Follows one deployment of the service; everything it must remember across a resume is in the facts."""

    def __init__(self, params: DeployParams, ecs: EcsGateway, elbv2: Elbv2Gateway) -> None:
        self.params = params
        self.ecs = ecs  # a client that does not retry inside a call: the loop retries, and says so
        self.elbv2 = elbv2
        self._said_at = float("-inf")

    def follow(
        self,
        ctx: Context,
        deployment_id: str,
        phase: str,
        budget_seconds: float,
        rollback_task_definition: str | None,
        until_draining: bool,
    ) -> Watch:
        """Poll until the deployment has a verdict or the phase's durable deadline passes (IN_PROGRESS).

        `phase` ("deploy" or "rollback") names the deadline and prefixes every line, with its own elapsed
        time and the time left, both on the run's clock. The deadline is fixed the first time the phase asks
        for it (`budget_seconds` from then: --timeout, or --rollback-timeout) and kept across resumes.
        """
        p = self.params
        deadline = ctx.deadline(phase, budget_seconds)
        clock_line = phase_clock(phase, deadline, budget_seconds)
        last = Watch(Verdict.IN_PROGRESS, "", "(no answer from ECS yet)")
        polling = adaptive_polling(p)
        failed_polls = 0
        shown_lines: list[str] = []
        previous_poll = poll_gap = None

        while True:
            interval = polling.current
            polled = ctx.now()
            poll_gap, previous_poll = (polled - previous_poll if previous_poll is not None else None), polled
            try:
                service = self.ecs.describe_service(p.cluster, p.service)
            except EcsNotFound as exc:
                return Watch(Verdict.FAILED, exc.message, last.summary, last.primary_id, last.failed_tasks)
            except Exception as exc:
                if not is_transient(exc):
                    raise
                failed_polls += 1
                interval = failed_poll_backoff(interval, failed_polls)
                now = ctx.now()
                self._say(ctx, f"{clock_line(now)}; DescribeServices failed ({type(exc).__name__}: {exc}); "
                               f"polling again in {format_duration(interval)} ({failed_polls} failed in a row)")
            else:
                failed_polls = 0
                last = self.look(ctx, service, deployment_id, rollback_task_definition, until_draining, deadline)
                final = last.verdict is not Verdict.IN_PROGRESS or ctx.now() >= deadline
                now = ctx.now()
                lines = deployment_lines(service, deployment_id)
                if lines != shown_lines or final:
                    shown_lines = lines
                    self._say(ctx, clock_line(now))
                    for line in lines:
                        self._say(ctx, line)
                    if last.verdict is Verdict.STABLE and until_draining:
                        self._say(ctx, last.reason)
                elif now - self._said_at + min(max(interval, poll_gap or 0.0), MAX_SILENCE_SECONDS) > (
                    MAX_SILENCE_SECONDS
                ):
                    # The next line would come after the next poll: too late; say the run is alive now.
                    self._say(ctx, f"{clock_line(now)}; no change")
            if last.verdict is not Verdict.IN_PROGRESS or now >= deadline:
                return last
            pause_in_pieces(ctx, min(interval, max(0.0, deadline - now)), clock_line, self._say)
            polling.after()

    def look(
        self,
        ctx: Context,
        service: dict[str, Any],
        deployment_id: str,
        rollback_task_definition: str | None,
        until_draining: bool,
        deadline: float,
    ) -> Watch:
        """One poll's judgement of the deployment from a DescribeServices answer: its verdict (and, with
        `until_draining`, whether a target started draining), the service events since the last look said, and the
        stopped tasks read when it has new failures (once more when the wait ends: a verdict, or the deadline).
        deploy-fleet calls it with its own batched answers."""
        last = judge(service, deployment_id, rollback_task_definition, self.params.failure_limit)
        if last.verdict is Verdict.IN_PROGRESS and until_draining:
            draining = self._draining_started(ctx)
            if draining:
                last = Watch(Verdict.STABLE, draining, last.summary, last.primary_id, last.failed_tasks)
        self._report_events(ctx, service)
        final = last.verdict is not Verdict.IN_PROGRESS or ctx.now() >= deadline
        self.read_failures(ctx, deployment_id, last.failed_tasks, final)
        return last

    def _say(self, ctx: Context, line: str) -> None:
        ctx.progress(line)
        self._said_at = ctx.now()

    def _report_events(self, ctx: Context, service: dict[str, object]) -> None:
        """Print the service events newer than the watermark (folded), then move the watermark."""
        messages, newest = events_after(service, ctx.facts.event_watermark)
        for message in shown(messages):
            self._say(ctx, f"event: {message}")
        if newest != ctx.facts.event_watermark:
            ctx.record(event_watermark=newest)

    def read_failures(self, ctx: Context, deployment_id: str, failed_tasks: int | None, final: bool) -> None:
        """Read the deployment's stopped tasks when it has new failures (ListTasks + DescribeTasks of the new
        ones), at most every FAILURE_READ_INTERVAL, and once more when the wait ends; record the reasons."""
        previous = ctx.facts.task_failures.get(deployment_id)
        known = previous.failed_tasks if previous else 0
        now = ctx.now()
        if failed_tasks is not None and failed_tasks <= known:
            return
        if failed_tasks is None and (previous is not None or not final):
            return  # the deployment is gone (ECS dropped it); read its stopped tasks once, at the end
        recently = previous is not None and previous.read_at is not None and (
            now - previous.read_at < FAILURE_READ_INTERVAL
        )
        if recently and not final:
            return
        try:
            arns = self.ecs.list_stopped_tasks(self.params.cluster, deployment_id)
            seen = set(previous.task_ids) if previous else set()
            fresh = [arn for arn in arns if arn.rsplit("/", 1)[-1] not in seen]
            tasks = self.ecs.describe_tasks(self.params.cluster, fresh) if fresh else []
        except Exception as exc:
            if not is_transient(exc) and not _is_client_error(exc):
                raise
            # Knowing why is worth a line, not a failed deploy: the next poll tries again.
            self._say(ctx, f"could not read the stopped tasks of {deployment_id}: {type(exc).__name__}: {exc}")
            return
        failures = merged(previous, tasks, failed_tasks or 0, now)
        ctx.record(task_failures={**ctx.facts.task_failures, deployment_id: failures})
        line = headline(failures)
        if line and (previous is None or headline(previous) != line):
            self._say(ctx, line)

    def _draining_started(self, ctx: Context) -> str | None:
        group = ctx.facts.target_group
        if not group:
            return None
        initial = set(ctx.facts.initial_targets)
        health = self.elbv2.describe_target_health(group)
        draining = [t for t in health if t.state == "draining"]
        name = target_group_name(group)
        if draining:
            more = f" (and {len(draining) - 1} more)" if len(draining) > 1 else ""
            return f"target {draining[0].key} of {name} started draining{more}"
        if initial and not initial & {t.key for t in health}:
            return f"every target registered before the deploy has left {name}"
        return None


def _is_client_error(exc: BaseException) -> bool:
    from botocore.exceptions import ClientError

    return isinstance(exc, ClientError)
