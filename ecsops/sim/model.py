"""The simulated account's behaviour over time: ties the ECS, Auto Scaling and ELB models to one clock."""

from __future__ import annotations

from dataclasses import dataclass, field

from ecsops.sim.asg_model import AsgModel
from ecsops.sim.clock import VirtualClock
from ecsops.sim.ecs_model import EcsModel
from ecsops.sim.ecs_tasks import StartFailure, TaskRunner, TaskTiming
from ecsops.sim.elb_model import ElbModel
from ecsops.sim.rollouts import RolloutLog
from ecsops.sim.scenario import Scenario
from ecsops.sim.service_deployments import ServiceDeploymentBook
from ecsops.sim.strategies import ScenarioEvents, StrategyRunner

MAX_STEPS_PER_ADVANCE = 100_000


@dataclass
class SimModel:
    """Every effect is a function of virtual time: `advance` walks the clock from event to event."""

    clock: VirtualClock
    scenario: Scenario
    ecs: EcsModel
    asg: AsgModel
    elb: ElbModel
    rollouts: RolloutLog = field(default_factory=RolloutLog)

    @classmethod
    def build(cls, scenario: Scenario, clock: VirtualClock) -> SimModel:
        account, region = scenario.account, scenario.region
        elb = ElbModel(clock, account, region, scenario.target_healthy_seconds)
        runner = TaskRunner(
            clock,
            account,
            region,
            TaskTiming(scenario.task_start_seconds, scenario.task_stop_seconds, scenario.drain_seconds),
            elb,
            {c.name: c.max_tasks_per_instance for c in scenario.clusters},
        )
        failures = {image: StartFailure() for image in scenario.failing_images}
        failures.update({f.image: StartFailure(f.kind, f.exit_code) for f in scenario.image_failures})
        ecs = EcsModel(
            clock,
            account,
            region,
            runner,
            failures,
            set(scenario.stuck_services),
            placement_outages={o.cluster: o.seconds for o in scenario.placement_outages},
        )
        ecs.strategies = StrategyRunner(
            ecs, ServiceDeploymentBook(region, account), ScenarioEvents(scenario)
        )
        asg = AsgModel(
            clock,
            account,
            region,
            scenario.boot_seconds,
            {a.name: a.cluster for a in scenario.asgs if a.cluster is not None},
            ecs.on_instance_lost,
        )
        return cls(clock, scenario, ecs, asg, elb)

    def handles(self, account: str, region: str) -> bool:
        return account == self.scenario.account and region == self.scenario.region

    def observe(self) -> None:
        """Run the model at the current instant (after a mutating call: new instances, new deployments)."""
        self.asg.step()
        self.ecs.step()
        self.elb.step()
        self.rollouts.observe(self.ecs.services, self.clock.now())

    def advance(self, seconds: float) -> None:
        """Move virtual time forward by `seconds`, running every event that falls due on the way."""
        target = self.clock.now() + max(0.0, seconds)
        self.observe()
        for _ in range(MAX_STEPS_PER_ADVANCE):
            due = [d for d in (self.asg.next_due(), self.ecs.next_due(), self.elb.next_due()) if d is not None]
            upcoming = min(due, default=None)
            if upcoming is None or upcoming > target:
                break
            self.clock.move_to(upcoming)
            self.observe()
        self.clock.move_to(target)
        self.observe()
