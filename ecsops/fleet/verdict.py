"""The fleet's one verdict from its services' outcomes: the run's trigger (so its status and exit code) and reason."""

from __future__ import annotations

from collections.abc import Mapping

from store.models import ItemRecord

# Worst first: the first outcome some service has decides the run's status.
#   some rollback failed -> rollback_failed (exit 4); superseded -> 6, naming which services;
#   failed otherwise (failed, or skipped: never deployed) -> 1; some rolled back and nothing worse -> 3; else 0.
_ORDER = (
    ("rollback_failed", "some_rollback_failed"),
    ("superseded", "some_superseded"),
    ("failed", "some_failed"),
    ("rolled_back", "some_rolled_back"),
)


def fleet_verdict(items: Mapping[str, ItemRecord]) -> tuple[str, str]:
    """(trigger, reason) once every service is final."""
    by_state: dict[str, list[str]] = {}
    for item_id, item in items.items():
        by_state.setdefault(item.state, []).append(item_id)
    counts = ", ".join(f"{len(ids)} {state.replace('_', ' ')}" for state, ids in sorted(by_state.items()))
    head = f"{len(items)} services: {counts}"
    reverted = [item_id for item_id, item in items.items() if item.data.get("reverted_with_fleet")]
    if reverted:
        head += f" ({', '.join(reverted)} taken back with the fleet: --on-failure rollback-all)"
    for state, trigger in _ORDER:
        if by_state.get(state):
            # The services that failed by themselves are named with their reasons; those taken back, above.
            named = [item_id for item_id in by_state[state] if item_id not in reverted] or by_state[state]
            return trigger, f"{head}; {state.replace('_', ' ')}: {_named(named, items)}"
    if by_state.get("skipped"):
        return "some_failed", f"{head}; not deployed: {', '.join(by_state['skipped'])}"
    return "all_succeeded", head


def _named(item_ids: list[str], items: Mapping[str, ItemRecord]) -> str:
    """`demo/api (reason); demo/worker (reason)`, each service's own reason cut to one line's worth."""
    named = []
    for item_id in item_ids:
        reason = str(items[item_id].data.get("reason") or "").strip()
        named.append(f"{item_id} ({_cut(reason)})" if reason else item_id)
    return "; ".join(named)


def _cut(text: str, width: int = 160) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
