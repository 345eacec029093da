"""One adaptive poll interval (machines/polling.py), each operation with its own bounds (issue 18)."""

from __future__ import annotations

from ecsops.deploy.params import DeployParams
from ecsops.deploy.wait import adaptive_polling
from ecsops.replace.handlers import ADAPTIVE_FIRST_POLL, ADAPTIVE_MAX_POLL
from machines.polling import AdaptiveInterval


def _intervals(polling: AdaptiveInterval, changes: list[bool]) -> list[float]:
    return [polling.current, *(polling.after(changed) for changed in changes)]


def test_a_deploy_polls_at_2s_growing_to_6s() -> None:
    polling = adaptive_polling(DeployParams(cluster="c", service="s"))
    assert _intervals(polling, [False] * 5) == [2.0, 3.0, 4.5, 6.0, 6.0, 6.0]


def test_replace_instances_polls_at_2s_growing_to_15s_and_starts_over_on_a_change() -> None:
    polling = AdaptiveInterval(ADAPTIVE_FIRST_POLL, ADAPTIVE_MAX_POLL)
    assert _intervals(polling, [False] * 6) == [2.0, 3.0, 4.5, 6.75, 10.125, 15.0, 15.0]
    assert polling.after(True) == 2.0


def test_a_poll_interval_given_is_used_as_it_is() -> None:
    fixed = adaptive_polling(DeployParams(cluster="c", service="s", poll_interval=0))
    assert _intervals(fixed, [False, True]) == [0, 0, 0]
    assert _intervals(AdaptiveInterval(2, 15, fixed=5), [False, True]) == [5, 5, 5]
