"""replace-instances' run states: plan, then poll while the engine moves each instance through its machine."""

from __future__ import annotations

from ecsops.aws.autoscaling import AutoScalingGroupNotFound
from ecsops.aws.ecs import ClusterNotFound
from ecsops.aws.errors import is_transient
from ecsops.replace.facts import InstanceFacts, ReplaceFacts
from ecsops.replace.gateways import ReplaceGateways
from ecsops.replace.instances import DRAINING_STATES, FINAL_STATES, Observation, needs_a_person
from ecsops.replace.launch_settings import LaunchSettingsError
from ecsops.replace.params import ReplaceParams
from ecsops.replace.plan import plan_replacement
from ecsops.replace.poll import ClusterPoller
from machines.context import RunContext
from machines.polling import AdaptiveInterval
from store.models import ItemRecord

# Adaptive polling: 2s, growing by half while nothing changes, up to 15s; back to 2s once something did.
ADAPTIVE_FIRST_POLL = 2.0
ADAPTIVE_MAX_POLL = 15.0


Context = RunContext[ReplaceFacts]


class ReplaceHandlers:
    """Handlers for the run states `planned` and `replacing`."""

    def __init__(self, params: ReplaceParams, gateways: ReplaceGateways) -> None:
        self.params = params
        self.aws = gateways

    # ---- planned --------------------------------------------------------------------------------
    def planned(self, ctx: Context) -> str:
        p = self.params
        try:
            plan = plan_replacement(self.aws.reader, self.aws.ecs, p.asg, p.cluster)
        except (AutoScalingGroupNotFound, ClusterNotFound, LaunchSettingsError) as exc:
            ctx.set_reason(str(exc))
            return "plan_failed"
        for planned in plan.to_replace:
            ctx.add_item(planned.instance_id, InstanceFacts.model_validate(planned.document()))
        ctx.record(
            not_in_cluster=[planned.document() for planned in plan.not_in_cluster],
            skipped=[{"instance_id": v.instance_id, "reason": v.skip_reason} for v in plan.skipped],
            plan_summary=plan.summary(),
        )
        ctx.progress(plan.summary())
        for planned in plan.to_replace:
            ctx.progress(f"{planned.instance_id}: out of date: {planned.reason}")
        if not plan.to_replace:
            ctx.set_reason(f"nothing to replace: {plan.summary()}")
            return "nothing_to_replace"
        return "plan"

    # ---- replacing ------------------------------------------------------------------------------
    def replacing(self, ctx: Context) -> str:
        poller = ClusterPoller(self.aws.reader, self.aws.ecs, self.params.asg, self.params.cluster)
        interval = AdaptiveInterval(ADAPTIVE_FIRST_POLL, ADAPTIVE_MAX_POLL, fixed=self.params.poll_interval)
        while True:
            items = ctx.items()
            if all(item.state in FINAL_STATES for item in items.values()):
                return self._finish(ctx, items)
            in_flight = [i for i in items.values() if i.state not in FINAL_STATES]
            try:
                snapshot = poller.poll(
                    watch={i.item_id for i in in_flight if i.state in DRAINING_STATES},
                    new_instances=any(i.state == "waiting_replacement" for i in in_flight),
                    services=any(i.state == "draining" for i in in_flight),
                    now=ctx.now(),
                )
            except Exception as exc:
                if not is_transient(exc):
                    raise
                # Throttled or 5xx even after botocore's retries: skip this poll, try again at the next.
                ctx.progress(f"poll failed ({exc}); trying again")
                ctx.sleep(interval.after(False))
                continue
            changed = ctx.drive_items(Observation(snapshot, poller))
            if any(i.state not in FINAL_STATES for i in ctx.items().values()):
                ctx.sleep(interval.after(changed))

    # ---- the end --------------------------------------------------------------------------------
    def _finish(self, ctx: Context, items: dict[str, ItemRecord]) -> str:
        problems = [needs_a_person(item, self.params.asg) for item in items.values() if item.state != "terminated"]
        replaced = sum(1 for item in items.values() if item.state == "terminated")
        if not problems:
            ctx.set_reason(f"replaced {replaced} instance(s) of {self.params.asg}")
            return "all_replaced"
        ctx.set_reason(f"replaced {replaced} of {len(items)} instance(s); needs a person: " + " | ".join(problems))
        return "some_failed"

