"""The lock decision both backends enforce (store/lock_decision.py), as a table: pure, no store.

The backends' behaviour under it (tokens, takeovers, races, conditional writes) is in test_store_contract.py.
"""

from __future__ import annotations

import pytest

from store.lock_decision import LockDecision, LockRequest, Verdict, decide_lock, refusal
from store.models import LockRecord

SKEW = 5.0
EXPIRES = 100.0
LIVE = 50.0  # well inside the lease
FREE, RENEW, TAKE_OVER, REFUSE = Verdict.FREE, Verdict.RENEW, Verdict.TAKE_OVER, Verdict.REFUSE
NOT_ASKED = None  # the holder's run must not be read for this row


def _held(run_id: str = "a", owner: str = "host:1", token: int = 3) -> LockRecord:
    return LockRecord(target="t", run_id=run_id, owner=owner, token=token, acquired_at="x", expires_at=EXPIRES)


RELEASED = LockRecord(target="t", run_id=None, owner=None, token=4, acquired_at=None, expires_at=0.0)

ROWS = [
    # (id, lock, request, now, holder finished, verdict, token after, reason contains, holder check)
    ("never locked", None, LockRequest("b", "host:2"), LIVE, NOT_ASKED, FREE, 1, "never locked", False),
    ("released", RELEASED, LockRequest("b", "host:2"), LIVE, NOT_ASKED, FREE, 5, "released", False),
    ("released, replace_owner ignored", RELEASED, LockRequest("b", "host:2", "host:1"), LIVE, NOT_ASKED, FREE, 5,
     "released", False),
    ("own process renews", _held(), LockRequest("a", "host:1"), LIVE, NOT_ASKED, RENEW, 3, "this process", False),
    ("own process renews past expiry", _held(), LockRequest("a", "host:1"), EXPIRES + 60, NOT_ASKED, RENEW, 3,
     "this process", False),
    ("expired past the skew margin", _held(), LockRequest("b", "host:2"), EXPIRES + SKEW, NOT_ASKED, TAKE_OVER, 4,
     "lease of run a expired", False),
    ("expired but inside the skew margin", _held(), LockRequest("b", "host:2"), EXPIRES + SKEW - 0.001, False,
     REFUSE, 3, "target t is locked by run a", False),
    ("another run's live lease", _held(), LockRequest("b", "host:2"), LIVE, False, REFUSE, 3,
     "target t is locked by run a", False),
    ("another run's, its run finished", _held(), LockRequest("b", "host:2"), LIVE, True, TAKE_OVER, 4,
     "run a has finished or does not exist", True),
    ("dead owner replaced (compare and swap)", _held(), LockRequest("a", "host:2", "host:1"), LIVE, NOT_ASKED,
     TAKE_OVER, 4, "process host:1, which drove this run, is gone", False),
    ("same run, another live process", _held(), LockRequest("a", "host:2"), LIVE, False, REFUSE, 3,
     "run a is being driven by another process (host:1)", False),
    ("same run, replace_owner is not the holder", _held(), LockRequest("a", "host:3", "host:9"), LIVE, False, REFUSE,
     3, "run a is being driven by another process (host:1)", False),
    ("replace_owner never takes another run's lock", _held(), LockRequest("b", "host:2", "host:1"), LIVE, False,
     REFUSE, 3, "target t is locked by run a", False),
    ("same run, another process, the run finished", _held(), LockRequest("a", "host:2"), LIVE, True, TAKE_OVER, 4,
     "run a has finished or does not exist", True),
]


@pytest.mark.parametrize(
    ("lock", "request_", "now", "finished", "verdict", "token", "reason", "holder_check"),
    [pytest.param(*row[1:], id=row[0]) for row in ROWS],
)
def test_decide_lock(
    lock: LockRecord | None,
    request_: LockRequest,
    now: float,
    finished: bool | None,
    verdict: Verdict,
    token: int,
    reason: str,
    holder_check: bool,
) -> None:
    asked: list[str] = []

    def holder_finished(run_id: str) -> bool:
        asked.append(run_id)
        assert finished is not None, "the holder's run was read although nothing depended on it"
        return finished

    decision = decide_lock(lock, request_, now=now, skew_margin_seconds=SKEW, holder_finished=holder_finished)
    assert (decision.verdict, decision.token(lock), decision.holder_finished) == (verdict, token, holder_check)
    assert reason in decision.reason
    assert asked == ([] if finished is None else [lock.run_id if lock else None])
    if verdict is REFUSE:
        assert lock is not None
        assert decision.reason == str(refusal(lock, request_))  # what LockHeldError says, word for word


def test_a_refusal_names_the_other_process_only_for_the_same_run() -> None:
    same = refusal(_held(), LockRequest("a", "host:2"))
    other = refusal(_held(), LockRequest("b", "host:2"))
    assert (same.holder_run_id, same.holder_owner, same.expires_at) == ("a", "host:1", EXPIRES)
    assert (other.holder_run_id, other.holder_owner) == ("a", None)


def test_taking_the_lock_raises_its_token_and_nothing_else_does() -> None:
    for verdict in Verdict:
        assert LockDecision(verdict, "").token(_held(token=7)) == (8 if verdict in (FREE, TAKE_OVER) else 7)
