"""The handlers of a fleet's service items: deploy's own stages, driven by one batched poll per round.

States that change the service (planned, snapshotted, registering, updating, the start of rolling_back and of
stopping) are deploy's own handlers, run on the item (ecsops.fleet.item_context). States that wait judge this
round's answer with deploy's own judgement and verdicts, and return None until they have one: waiting, the wait of
rolling_back and ecs_rolling_back on DescribeServices (DeploymentFollower.look, waiting_verdict, rollback_verdict);
following, paused and the wait of stopping on DescribeServiceDeployments (ServiceDeploymentFollower.judge,
following_verdict, rollback_end). queued and binding look once a round. The fleet's policy decides `pending`
(start or skip) and `rolled_out` (keep or revert).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from ecsops.aws.ecs import EcsGateway
from ecsops.aws.elbv2 import Elbv2Gateway
from ecsops.deploy.facts import DeployFacts
from ecsops.deploy.handlers import ROLLBACK_DEADLINE, DeployHandlers, RetryNotices
from ecsops.deploy.service_deployment_verdict import Look, Phase, look_at
from ecsops.deploy.service_deployment_wait import Followed, paused_lines
from ecsops.deploy.verdict import Verdict, Watch
from ecsops.deploy.wait import phase_clock
from ecsops.fleet.facts import ServiceFacts
from ecsops.fleet.item_context import ServiceRunContext
from ecsops.fleet.observation import UNCHANGED_STATES, failed_services
from ecsops.fleet.params import FleetParams
from machines.context import RunContext
from machines.items import ItemContext, ItemHandler
from store.clock import utc_now_iso

DEPLOY_DEADLINE = "deploy"
Context = ItemContext[ServiceFacts]
DeployContext = RunContext[DeployFacts]


def _deploy(ctx: ServiceRunContext) -> DeployContext:
    # ServiceRunContext provides everything deploy's handlers use of a RunContext (see its docstring).
    return cast(DeployContext, ctx)


class ServiceHandlers:
    """One instance per process driving a fleet run; per service, deploy's handlers and an item context."""

    def __init__(
        self,
        fleet: FleetParams,
        ecs: EcsGateway,
        elbv2: Elbv2Gateway,
        poll_ecs: EcsGateway,
        notices: RetryNotices,
    ) -> None:
        self.fleet = fleet
        self.notices = notices
        self._services = {service.name: service for service in fleet.services}
        self._gateways = (ecs, elbv2, poll_ecs)
        # Per service: deploy's handlers on preflight's reads (`fresh`), made once its snapshot is known (the
        # params this process built from, or the item's record), and without them (`reread`: the service changed
        # since preflight, or a resumed run cannot tell); each keeps its own memory of the drive.
        self._fresh: dict[str, DeployHandlers] = {}
        self._reread = {
            name: DeployHandlers(s.params.model_copy(update={"snapshot": None}), ecs, elbv2, poll_ecs, notices)
            for name, s in self._services.items()
        }
        self._contexts = {name: ServiceRunContext(name, s.index) for name, s in self._services.items()}
        self._shown: dict[str, str] = {}
        # Per service: the last look at its service deployment and when it was taken (run clock): a bake is noticed
        # by the change from one look to the next.
        self._looks: dict[str, tuple[Look | None, float | None]] = {}

    def mapping(self) -> dict[str, ItemHandler]:
        handlers: dict[str, Callable[[Context], str | None]] = {
            "pending": self.pending,
            "planned": self.planned,
            "snapshotted": self._deploy_stage("snapshotted"),
            "registering": self._deploy_stage("registering"),
            "updating": self._deploy_stage("updating"),
            "waiting": self.waiting,
            "rolled_out": self.rolled_out,
            "rolling_back": self.rolling_back,
            "ecs_rolling_back": self.ecs_rolling_back,
            "queued": self.queued,
            "binding": self.binding,
            "following": self.following,
            "paused": self.paused,
            "stopping": self.stopping,
        }
        return {state: cast(ItemHandler, self._saving(handler)) for state, handler in handlers.items()}

    def _saving(self, handler: Callable[[Context], str | None]) -> Callable[[Context], str | None]:
        """What a handler learned is kept when it waits for the next round (a trigger's write carries it)."""

        def run(item: Context) -> str | None:
            ctx = self._contexts[item.item_id].bind(item)
            self.notices.say = ctx.progress
            trigger = handler(item)
            if trigger is None:
                ctx.carry()  # written with the service's next transition or step, not now
                return None
            ctx.written()  # the transition's write carries it all
            if trigger in ("updated", "started"):
                # The wait's deadline runs from the update: recorded with this transition, not by a write of its own.
                timeout = self._handlers(item).params.timeout_seconds
                item.note(timers={**item.facts.timers, DEPLOY_DEADLINE: ctx.now() + timeout})
            if trigger in _ENDING:
                item.note(ended_at=utc_now_iso())
            return trigger

        return run

    # ---- which of deploy's handlers ----------------------------------------------------------------
    def _context(self, item: Context) -> ServiceRunContext:
        return self._contexts[item.item_id].bind(item)

    def _fresh_handlers(self, item: Context) -> DeployHandlers | None:
        """Deploy's handlers on preflight's reads of the service, if they are known."""
        name = item.item_id
        if name not in self._fresh:
            params = self._services[name].params
            snapshot = params.snapshot or item.facts.preflight
            if snapshot is None:
                return None
            ecs, elbv2, poll_ecs = self._gateways
            self._fresh[name] = DeployHandlers(params.model_copy(update={"snapshot": snapshot}), ecs, elbv2, poll_ecs,
                                               self.notices)
        return self._fresh[name]

    def _handlers(self, item: Context) -> DeployHandlers:
        """`fresh` while the item runs on preflight's reads (its snapshot is theirs), else `reread`."""
        fresh = self._fresh_handlers(item)
        snapshot = fresh.params.snapshot if fresh is not None else None
        if fresh is not None and snapshot is not None and item.facts.snapshot_read_at == snapshot.read_at:
            return fresh
        return self._reread[item.item_id]

    def _cancelled(self, item: Context) -> bool:
        """rollback-all, some service failed, and this one was not changed yet: it is left as it is (`cancel`).
        A service passes these states within one round; only a resumed run finds one here after a failure."""
        failed = failed_services(item.siblings)
        if not failed or self.fleet.on_failure != "rollback-all":
            return False
        item.note(reason=f"not changed: {failed[0]} failed first (--on-failure rollback-all)")
        return True

    def _deploy_stage(self, state: str) -> Callable[[Context], str | None]:
        def run(item: Context) -> str | None:
            if state in UNCHANGED_STATES and self._cancelled(item):
                return "cancel"
            deploy_handler: Callable[[DeployContext], str] = getattr(self._handlers(item), state)
            return deploy_handler(_deploy(self._context(item)))

        return run

    # ---- pending: the policy decides ------------------------------------------------------------------
    def pending(self, item: Context) -> str | None:
        siblings = item.siblings
        failed = failed_services(siblings)
        if failed and self.fleet.on_failure in ("stop", "rollback-all"):
            item.note(reason=f"not started: {failed[0]} failed first (--on-failure {self.fleet.on_failure})")
            return "skip"
        observation = item.observation
        if observation is None or item.item_id not in observation.startable:
            return None  # its turn comes when a slot frees (--max-parallel), in file order
        if not (observation.preflight_is_fresh or observation.service(item.item_id)[0]):
            return None  # and in a round that looked at it
        item.note(started_at=utc_now_iso(), index=self._services[item.item_id].index)
        return "start"

    def planned(self, item: Context) -> str | None:
        """Deploy's `planned` on preflight's reads when the service still is as they saw it, else on a new read."""
        if self._cancelled(item):
            return "cancel"
        fresh = self._fresh_handlers(item)
        handlers = self._reread[item.item_id]
        fresh_enough = item.observation is not None and item.observation.preflight_is_fresh
        if fresh is not None and item.facts.rollback_target is None and (
            fresh_enough or _unchanged_since_preflight(fresh, item)
        ):
            handlers = fresh
        return handlers.planned(_deploy(self._context(item)))

    # ---- waiting: our deployment, judged from this round's answer ------------------------------------
    def waiting(self, item: Context) -> str | None:
        ctx = self._context(item)
        handlers = self._handlers(item)
        p = handlers.params
        failed = failed_services(item.siblings)
        if failed and self.fleet.on_failure == "rollback-all":
            ctx.record(rollback_cause=f"rolled back with the fleet: {failed[0]} failed (--on-failure rollback-all)",
                       reverted_with_fleet=True)
            ctx.progress(f"rolling back with the fleet: {failed[0]} failed")
            return "revert"
        deadline = ctx.deadline(DEPLOY_DEADLINE, p.timeout_seconds)
        watch = self._look(item, ctx, handlers, str(item.facts.deployment_id), item.facts.target().task_definition,
                           p.wait_until == "draining-started", deadline)
        if watch is None:
            return None
        return self._held(handlers.waiting_verdict(_deploy(ctx), watch))

    def rolled_out(self, item: Context) -> str | None:
        siblings = item.siblings
        if self.fleet.on_failure != "rollback-all":
            return "keep"
        failed = failed_services(siblings)
        if failed:
            item.note(rollback_cause=f"rolled back with the fleet: {failed[0]} failed (--on-failure rollback-all)",
                      reason=None, reverted_with_fleet=True)
            self._context(item).progress(f"rolling back with the fleet: {failed[0]} failed")
            return "revert"
        if all(sibling.state in ("rolled_out", "succeeded") for sibling in siblings.values()):
            return "keep"
        return None

    # ---- rolling back ---------------------------------------------------------------------------------
    def rolling_back(self, item: Context) -> str | None:
        ctx = self._context(item)
        handlers = self._handlers(item)
        rollback = handlers.rollback_in_progress(_deploy(ctx))
        if rollback is None:
            begun = handlers.begin_rollback(_deploy(ctx))
            # Sent (or ECS's found): its answer is judged from the next round's poll, made after the call.
            return begun if isinstance(begun, str) else None
        deadline = ctx.deadline(ROLLBACK_DEADLINE, handlers.params.rollback_budget_seconds)
        watch = self._look(item, ctx, handlers, rollback.deployment_id, None, False, deadline)
        if watch is None:
            return None
        return handlers.rollback_verdict(_deploy(ctx), rollback, watch)

    def ecs_rolling_back(self, item: Context) -> str | None:
        ctx = self._context(item)
        handlers = self._handlers(item)
        if item.facts.service_deployment_arn is not None:  # ECS rolls its service deployment back
            return self._follow_rollback(item, ctx, handlers, stopping=False)
        rollback = handlers.ecs_rollback(_deploy(ctx))
        deadline = ctx.deadline(ROLLBACK_DEADLINE, handlers.params.rollback_budget_seconds)
        watch = self._look(item, ctx, handlers, rollback.deployment_id, None, False, deadline)
        if watch is None:
            return None
        return handlers.rollback_verdict(_deploy(ctx), rollback, watch)

    # ---- BLUE_GREEN, LINEAR, CANARY: ECS's own service deployment ------------------------------------
    def queued(self, item: Context) -> str | None:
        """Another deployment of the service is in progress: one ListServiceDeployments a round until it ended."""
        ctx = self._context(item)
        trigger, waiting = self._handlers(item).native.queue_look(_deploy(ctx))
        if trigger is None and waiting != self._shown.get(item.item_id):
            self._shown[item.item_id] = waiting
            ctx.progress(waiting)
        return trigger

    def binding(self, item: Context) -> str | None:
        """Our UpdateService's service deployment: looked for once a round until found or --timeout passed."""
        return self._handlers(item).native.bind_look(_deploy(self._context(item)))

    def following(self, item: Context) -> str | None:
        ctx = self._context(item)
        handlers = self._handlers(item)
        native = handlers.native
        # No rollback-all here: preflight refuses it for a service ECS deploys itself (see ecsops.fleet.preflight).
        deadline = ctx.deadline(DEPLOY_DEADLINE, handlers.params.timeout_seconds)
        followed, done = self._judge(item, ctx, handlers, DEPLOY_DEADLINE, handlers.params.timeout_seconds,
                                     until_paused=True, failure_limit=native.failure_limit(_deploy(ctx)))
        if followed.look is None or (not done and ctx.now() < deadline):
            return None  # not looked at this round (a bake skips rounds), or in progress
        return native.following_verdict(_deploy(ctx), followed)

    def _held(self, trigger: str) -> str:
        """Under rollback-all a stable service is held (`rolled_out`) until the fleet's verdict; else it is done."""
        return "hold" if trigger == "stable" and self.fleet.on_failure == "rollback-all" else trigger

    def paused(self, item: Context) -> str | None:
        """A PAUSE hook awaits a person: the service waits (the fleet goes on) until the round's answer shows the
        hook acted on, or timed out by ECS; then it is followed again, its --timeout extended by the wait."""
        ctx = self._context(item)
        polled, deployment = item.observation.deployment(item.item_id) if item.observation else (False, None)
        if not polled or deployment is None:
            return None
        look = look_at(deployment)
        hook_id = item.facts.paused_hook_id
        awaiting = look.awaiting_hook
        if look.phase is Phase.PAUSED and not (hook_id and awaiting and awaiting.get("hookId") != hook_id):
            head = paused_lines(item.run.run_id, look)[0]
            if head != self._shown.get(item.item_id):  # said once per hook; the other services go on meanwhile
                self._shown[item.item_id] = head
                approve = f"ecsops approve {item.run.run_id} --service {item.item_id}"
                for line in (head, f"  to continue: {approve}", f"  to roll back: {approve} --rollback"):
                    ctx.progress(line)
            return None
        return self._handlers(item).native.pause_ended(_deploy(ctx))

    def stopping(self, item: Context) -> str | None:
        """StopServiceDeployment(ROLLBACK) sent once; then ECS's rollback judged from each round's answer."""
        ctx = self._context(item)
        handlers = self._handlers(item)
        if not item.facts.stop_sent:
            handlers.native.begin_stop(_deploy(ctx))
            item.note(stop_sent=True)
            item.save()  # the round reads it from the record: the rollback's service deployment is polled from now
            return None  # judged from the next round's answer, read after the call
        return self._follow_rollback(item, ctx, handlers, stopping=True)

    def _follow_rollback(
        self, item: Context, ctx: ServiceRunContext, handlers: DeployHandlers, *, stopping: bool
    ) -> str | None:
        budget = handlers.params.rollback_budget_seconds
        deadline = ctx.deadline(ROLLBACK_DEADLINE, budget)
        followed, done = self._judge(item, ctx, handlers, ROLLBACK_DEADLINE, budget, until_paused=False)
        if followed.look is None or (not done and ctx.now() < deadline):
            return None
        cause = item.facts.rollback_cause or ("the deploy failed" if stopping else "ECS rolled the deployment back")
        return handlers.native.rollback_end(_deploy(ctx), followed, cause, stopping=stopping)

    def _judge(
        self,
        item: Context,
        ctx: ServiceRunContext,
        handlers: DeployHandlers,
        phase: str,
        budget: float,
        *,
        until_paused: bool,
        failure_limit: int | None = None,
    ) -> tuple[Followed, bool]:
        """This round's look at the service deployment, judged by deploy's follower: (the look, whether the wait is
        over). Not polled, or not in the answer: no look, not over."""
        polled, deployment = item.observation.deployment(item.item_id) if item.observation else (False, None)
        if not polled or deployment is None:
            return Followed(None, None), False
        followed = Followed(look_at(deployment), deployment)
        stage = followed.look.stage if followed.look is not None else None
        if stage and stage != item.facts.stage_seen:  # marked on the run's timeline (deploy's mark_stage), by service
            item.run.mark("stage", stage, item.item_id)
        before, previous_poll = self._looks.get(item.item_id, (None, None))
        self._looks[item.item_id] = (followed.look, ctx.now())
        handlers.native.follower.note_bake(_deploy(ctx), followed, before, previous_poll)
        deadline = ctx.deadline(phase, budget)
        done = handlers.native.follower.judge(_deploy(ctx), followed, phase, phase_clock(phase, deadline, budget),
                                              until_paused=until_paused, failure_limit=failure_limit)
        return followed, done

    def _look(
        self,
        item: Context,
        ctx: ServiceRunContext,
        handlers: DeployHandlers,
        deployment_id: str,
        rollback_task_definition: str | None,
        until_draining: bool,
        deadline: float,
    ) -> Watch | None:
        """This round's verdict on a deployment of the service; None while it is in progress before the deadline
        (or the service was not polled this round)."""
        polled, service = item.observation.service(item.item_id) if item.observation is not None else (False, None)
        if not polled:
            return None
        if service is None:
            why = item.observation.reasons.get(item.item_id, "MISSING") if item.observation is not None else ""
            return Watch(Verdict.FAILED, f"service {self._services[item.item_id].params.service} not found ({why})",
                         "(no answer from ECS)")
        watch = handlers.follower.look(_deploy(ctx), service, deployment_id, rollback_task_definition,
                                       until_draining, deadline)
        if watch.summary != self._shown.get(item.item_id):
            self._shown[item.item_id] = watch.summary
            ctx.progress(watch.summary)
        if watch.verdict is Verdict.IN_PROGRESS and ctx.now() < deadline:
            return None
        return watch


# The triggers that end a service's rollout (`hold`: rolled out; `keep` only confirms it): its end time is taken.
_ENDING = frozenset({"stable", "hold", "skip", "cancel", "rollback_done", "rollback_failed", "superseded", "gave_up",
                     "fail", "stopped", "unbound", "finished_anyway"})


def _unchanged_since_preflight(fresh: DeployHandlers, item: Context) -> bool:
    """Whether this round's answer shows the service as preflight read it: same task definition, desired count
    and deployments. Then preflight's reads are the snapshot, as a single deploy takes them."""
    snapshot = fresh.params.snapshot
    if snapshot is None or item.observation is None:
        return False
    polled, answer = item.observation.service(item.item_id)
    if not polled or answer is None:
        return False
    return (
        answer.get("taskDefinition") == snapshot.task_definition
        and answer.get("desiredCount") == snapshot.desired_count
        and {str(d.get("id")) for d in answer.get("deployments", [])}
        == {str(d.get("id")) for d in snapshot.deployments}
    )
