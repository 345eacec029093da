"""How a retried deploy-fleet (`--run-id` again) differs from the run it names: one line per difference."""

from __future__ import annotations

from typing import Any

from ecsops.deploy.params import differences as deploy_differences
from ecsops.fleet.params import FleetParams, FleetService
from machines.durations import format_duration


def differences(typed: FleetParams, recorded: dict[str, Any]) -> list[str]:
    """How a retry's inputs (`typed`: as read from the file and flags, not resolved) differ from a run's recorded
    (resolved) params, e.g. `service api: container image app: recorded repo/shop:v42, now repo/shop:v43`.

    Services are matched by their place in the file; each pair is compared by deploy's own comparison, so a
    service's name and its ARN are no difference. The profile and region are the fleet's: compared once, not per
    service; a region left to the environment is no difference. Where the file is and its line numbers are not
    compared (comments may have been added)."""
    before = FleetParams.model_validate(recorded)
    found: list[str] = []
    found += _line("max parallel", _parallel(before.max_parallel), _parallel(typed.max_parallel))
    found += _line("on failure", before.on_failure, typed.on_failure)
    found += _line("poll interval", _interval(before.poll_interval), _interval(typed.poll_interval))
    found += _line("profile", before.profile, typed.profile)
    if typed.region is not None:
        found += _line("region", before.region, typed.region)
    was, now = before.services, typed.services
    if len(was) != len(now):
        found.append(f"services: recorded {len(was)}, now {len(now)}")
    for old, new in zip(was, now, strict=False):
        found += [f"service {_name(old)}: {line}" for line in _service_differences(old, new)]
    found += [f"service {_name(old)}: recorded, not in the file now" for old in was[len(now):]]
    found += [f"service {new.params.cluster}/{new.params.service}: in the file now, not recorded"
              for new in now[len(was):]]
    return found


def _service_differences(old: FleetService, new: FleetService) -> list[str]:
    # The fleet's profile, region and poll interval were compared once: per service they count as recorded.
    typed = new.params.model_copy(
        update={"profile": old.params.profile, "region": None, "poll_interval": old.params.poll_interval}
    )
    return deploy_differences(typed, old.params.recorded())


def _name(service: FleetService) -> str:
    return service.name


def _line(label: str, was: Any, now: Any) -> list[str]:
    return [] if was == now else [f"{label}: recorded {_shown(was)}, now {_shown(now)}"]


def _shown(value: Any) -> str:
    return "(not given)" if value is None else str(value)


def _parallel(limit: int | None) -> str:
    return "every service at once" if limit is None else str(limit)


def _interval(seconds: float | None) -> str:
    return "adaptive" if seconds is None else format_duration(seconds)
