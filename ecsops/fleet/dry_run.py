"""A fleet's dry run: each service's own deploy dry run under a heading, then the order the services roll out in."""

from __future__ import annotations

from typing import Any

from ecsops.deploy import preflight as deploy_preflight
from ecsops.fleet.preflight import FleetPlan

_NOTHING_CHANGED = "nothing was changed"


def dry_run_lines(plan: FleetPlan) -> list[str]:
    lines: list[str] = []
    for service, service_plan in zip(plan.services, plan.plans, strict=True):
        lines.append(f"== {service.name} (line {service.line}) ==")
        own = deploy_preflight.dry_run_lines(service_plan)
        if own and own[-1] == _NOTHING_CHANGED:
            own = own[:-1]  # said once for the whole fleet, at the end
        lines += own
        lines.append(f"strategy: {_strategy(service_plan)}")
        lines.append("")
    lines.append(rollout_line(plan))
    lines.append(_NOTHING_CHANGED)
    return lines


def dry_run_document(plan: FleetPlan) -> dict[str, Any]:
    return {
        "operation": "deploy-fleet",
        "dry_run": True,
        "max_parallel": plan.params.max_parallel,
        "on_failure": plan.params.on_failure,
        "services": [
            {
                "name": service.name,
                "target": service_plan.target,
                "line": service.line,
                "strategy": _strategy(service_plan),
                "plan": deploy_preflight.dry_run_document(service_plan),
            }
            for service, service_plan in zip(plan.services, plan.plans, strict=True)
        ],
        "order": [service.name for service in plan.services],
    }


def rollout_line(plan: FleetPlan) -> str:
    """Services start in file order; with --max-parallel N the first N start at once and each later one when a
    running one ends (its slot frees)."""
    names = [service.name for service in plan.services]
    count = f"{len(names)} service{'' if len(names) == 1 else 's'}"
    limit = plan.params.max_parallel
    if len(names) == 1:
        return f"rollout: {count}: {names[0]}"
    if limit is None or limit >= len(names):
        return f"rollout: {count}, all at once: {', '.join(names)}"
    if limit == 1:
        return f"rollout: {count}, one at a time, in file order: {', '.join(names)}"
    return (f"rollout: {count}, at most {limit} at once: {', '.join(names[:limit])} start first; then "
            f"{', '.join(names[limit:])}, in file order as slots free")


def _strategy(plan: deploy_preflight.Plan) -> str:
    return plan.snapshot.strategy.strategy if plan.snapshot is not None else "ROLLING"
