"""Crash points read from the machine declarations, so a new state or step cannot be left out of the kill tests."""

from __future__ import annotations

from collections.abc import Iterable

from machines.definition import MachineDefinition

ITEM_PLACEHOLDER = "FIRST"  # the tests replace it with the first instance's id


def points_along(definition: MachineDefinition, triggers: Iterable[str], *, item: bool = False) -> list[str]:
    """Every crash point a run (or an item) passes when it follows `triggers` from its initial state: entering each
    state (runs only), each declared step's intent and call windows, and each committed transition."""
    checkpoint = "item-checkpoint" if item else "checkpoint"
    state, points = definition.initial, []
    for trigger in triggers:
        if not item:
            points.append(f"enter:{state}")
        points += _step_points(definition, state)
        state = definition.fire(state, trigger)
        points.append(f"{checkpoint}:{state}")
    return points


def required_points(definition: MachineDefinition, *, item: bool = False) -> set[str]:
    """What the kill tests must cover: every non-final state entered and reached, every declared step."""
    checkpoint = "item-checkpoint" if item else "checkpoint"
    points = {f"{checkpoint}:{state}" for state in definition.non_final_states if state != definition.initial}
    if not item:
        points |= {f"enter:{state}" for state in definition.non_final_states}
    for state in definition.steps:
        points |= set(_step_points(definition, state))
    return points


def _step_points(definition: MachineDefinition, state: str) -> list[str]:
    return [
        f"{when}:{template.format(item=ITEM_PLACEHOLDER)}"
        for template in definition.steps.get(state, ())
        for when in ("intent", "call")
    ]


def new_points(points: list[str], *covered: list[str]) -> list[str]:
    """points not already in the covered lists (each scenario kills only where earlier ones did not)."""
    seen = {point for earlier in covered for point in earlier}
    return [point for point in points if point not in seen]
