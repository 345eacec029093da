"""The run's message journal in the process that drives it: what handlers say, kept within bounds and written with
the run's next write, so that another process can follow the run from the store (`ecsops status --follow`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from store.base import RunStore
from store.clock import utc_now_iso
from store.errors import MessageSeqTakenError
from store.models import MESSAGE_TEXT_LIMIT, Fence, RunMessage

MAX_MESSAGES = 2000  # lines per run, the notice that ends a full journal included
CUT = "…"
FULL_KIND = "journal"
FULL_NOTICE = (
    f"the journal of this run is full ({MAX_MESSAGES} lines): later messages are printed by the process that "
    "drives it, not recorded"
)


@dataclass(frozen=True)
class _Said:
    kind: str
    text: str
    at: str
    item: str | None


def journal_lines(text: str) -> list[str]:
    """A message as journal lines: one per line of text (blank ones dropped, trailing spaces too), each cut to
    MESSAGE_TEXT_LIMIT characters with a closing '…'."""
    lines = [line.rstrip() for line in text.splitlines()]
    return [
        line if len(line) <= MESSAGE_TEXT_LIMIT else line[: MESSAGE_TEXT_LIMIT - len(CUT)] + CUT
        for line in lines
        if line.strip()
    ]


class MessageJournal:
    """Buffers what is said while a run is driven and appends it to the store under the run's fence.

    `say` never touches the store. What was said since the last write goes to the store either with the run's next
    checkpoint (`batch`, then `written`: one write for both) or on its own (`flush`: one fenced append; nothing is
    sent when nothing was said). Each line is numbered after the ones the store already holds: a new run holds none
    (`recorded=0`); for a resumed run (`recorded=None`) the store is read when there is first something to write.
    Once the run holds MAX_MESSAGES - 1 lines, the next one becomes FULL_NOTICE and nothing more is recorded.
    """

    def __init__(
        self,
        store: RunStore,
        run_id: str,
        fence: Fence,
        *,
        recorded: int | None,
        limit: int = MAX_MESSAGES,
        now: Callable[[], str] = utc_now_iso,
    ) -> None:
        if limit < 1:
            raise ValueError(f"a journal holds at least its notice, not {limit} lines")
        self._store = store
        self._run_id = run_id
        self._fence = fence
        self._recorded = recorded  # the last seq in the store; None until read (a resumed run)
        self._limit = limit
        self._now = now
        self._pending: list[_Said] = []
        self._full = recorded is not None and recorded >= limit
        self._kinds: set[str] = set()  # kinds already checked

    @property
    def full(self) -> bool:
        """True once the notice that ends the journal was recorded (or found): what is said is dropped."""
        return self._full

    @property
    def pending(self) -> int:
        return len(self._pending)

    def say(self, kind: str, text: str, item: str | None = None) -> None:
        """Keep a message to be written at the next flush, stamped now (when it was said)."""
        if kind not in self._kinds:
            # A kind the store would refuse is the caller's mistake: said here, not at a later write of the run.
            RunMessage(run_id=self._run_id, seq=1, kind=kind, text="-", at="-")
            self._kinds.add(kind)
        if self._full or len(self._pending) > self._limit:
            return  # more than a journal can ever hold: its notice is already due
        at = self._now()
        self._pending.extend(_Said(kind, line, at, item) for line in journal_lines(text))

    def batch(self) -> list[RunMessage]:
        """What was said since the last write, numbered, for the run's next write to carry (empty: nothing to
        write). Kept until `written` (or `refused`) is told the outcome."""
        if not self._pending:
            return []
        if self._recorded is None:
            recorded = self._store.messages(self._run_id)
            self._recorded = recorded[-1].seq if recorded else 0
            self._full = self._recorded >= self._limit
        if self._full:
            self._pending.clear()
            return []
        room = self._limit - self._recorded  # lines left, the notice's included
        said = self._pending
        if len(said) >= room:
            said = [*said[: room - 1], _Said(FULL_KIND, FULL_NOTICE, said[room - 1].at, None)]
        return [
            RunMessage(run_id=self._run_id, seq=self._recorded + n, kind=line.kind, text=line.text, at=line.at,
                       item=line.item)
            for n, line in enumerate(said, start=1)
        ]

    def written(self, batch: list[RunMessage]) -> None:
        """`batch` is in the store: what it holds is no longer pending."""
        if not batch:
            return
        del self._pending[: len(batch)]
        self._recorded = batch[-1].seq
        self._full = self._recorded >= self._limit
        if self._full:
            self._pending.clear()

    def refused(self) -> None:
        """The store already holds a seq of the batch: only a store changed behind the run's fence could do that.
        The journal is an account of the run, never a reason to stop it: recording stops, printing goes on."""
        self._pending.clear()
        self._full = True

    def flush(self) -> None:
        """Append what was said since the last write, under the run's fence, in one store write (none when nothing
        was said). LockLostError (nothing written) when the fence no longer holds, as for any write of the run."""
        batch = self.batch()
        if not batch:
            return
        try:
            self._store.append_messages(self._run_id, batch, self._fence)
        except MessageSeqTakenError:
            self.refused()
            return
        self.written(batch)
