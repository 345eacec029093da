"""The DynamoDB backend of RunStore: one table shared by every runner (layout in dynamodb_layout).

Every fenced write is one request: a TransactWriteItems whose last action is a ConditionCheck (or, for
record_intent, the lease renewal) on the target's lock item, so it happens only while the lock still has
the fence's run_id and token. A checkpoint is one TransactWriteItems: the transition, the run update
under its version condition, the item's move if any, and the lock check — which, in the checkpoint that
ends the run, also frees the lock (the engine's release that follows then costs nothing).

The store keeps the last version of each run it read or wrote. A write conditioned on version v that
succeeds proves the table held exactly the cached version v, so the new record is computed here instead
of read back: a checkpoint costs one request. What this process wrote about the runs it created is kept
too (dynamodb_journal), so it does not read back its own steps or a finished run's history.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from store import dynamodb_codec as codec
from store import dynamodb_layout as layout
from store.base import RunStore
from store.clock import utc_now_iso
from store.dynamodb_journal import Journals
from store.dynamodb_listing import (
    history_from,
    in_order,
    listed_run_ids,
    messages_after,
    named_runs,
    note_tail,
    partition,
    partition_without_messages,
    transitions_after,
)
from store.dynamodb_locks import DynamoLocks, fence_check, fence_condition, fence_release
from store.dynamodb_requests import DynamoTable, Usage, WriteRefused, new_write_id
from store.errors import ConcurrentUpdateError, MessageSeqTakenError, RunNotFoundError
from store.location import DynamoLocation
from store.models import (
    NO_CHANGE,
    Fence,
    ItemRecord,
    LockRecord,
    RunFilter,
    RunHistory,
    RunMessage,
    RunNote,
    RunRecord,
    RunUpdate,
    StepRecord,
    StepStatus,
    TransitionRecord,
    check_message_batch,
)

HISTORY_READERS = 8
TRANSACTION_ACTIONS = 100  # the most one TransactWriteItems takes
MESSAGES_PER_TRANSACTION = TRANSACTION_ACTIONS - 1  # the puts, and the lock's ConditionCheck
NOTE_ATTEMPTS = 20  # a note loses its seq only to another note that won it: every round, one writer succeeds
_ORDER_STRIDE = 10**20  # steps and items: fencing token first, then this process's time


class DynamoRunStore(RunStore):
    """RunStore on one DynamoDB table. Open with `open_dynamodb_store`."""

    def __init__(self, table: DynamoTable, *, skew_margin_seconds: float) -> None:
        self._table = table
        self._locks = DynamoLocks(table, skew_margin_seconds)
        self._journals = Journals()
        self._runs: dict[str, tuple[RunRecord, int]] = {}
        self._steps: dict[tuple[str, str], StepRecord] = {}
        self._released: set[Fence] = set()
        self._last_order = 0
        self._cache_lock = threading.Lock()

    @property
    def table(self) -> DynamoTable:
        return self._table

    @property
    def usage(self) -> Usage:
        return self._table.usage

    def describe(self) -> str:
        return self._table.location.url()

    # ---- plumbing ---------------------------------------------------------------------------------
    def _remember(self, run: RunRecord, seq: int) -> None:
        with self._cache_lock:
            self._runs[run.run_id] = (run, seq)

    def _cached(self, run_id: str) -> RunRecord | None:
        with self._cache_lock:
            cached = self._runs.get(run_id)
        return None if cached is None else cached[0]

    def _remember_step(self, step: StepRecord) -> None:
        with self._cache_lock:
            self._steps[(step.run_id, step.name)] = step
        self._journals.wrote_step(step)

    @contextlib.contextmanager
    def _writing(self, run_id: str) -> Iterator[None]:
        """A write of the run: if it fails in any way, what this process remembers of the run is dropped."""
        try:
            yield
        except BaseException:
            with self._cache_lock:
                self._runs.pop(run_id, None)
            self._journals.distrust(run_id)
            raise

    def _next_order(self, token: int) -> int:
        with self._cache_lock:
            self._last_order = max(self._last_order + 1, token * _ORDER_STRIDE + time.time_ns())
            return self._last_order

    def _marked(self, key: dict[str, Any], write_id: str) -> bool:
        item = self._table.get(key)
        return item is not None and item.get(layout.WRITE_MARK, {}).get("S") == write_id

    def _transact(self, actions: list[dict[str, Any]], *, key: dict[str, Any], write_id: str) -> None:
        """One TransactWriteItems; `key` is the item carrying write_id, read to settle a lost answer."""
        self._table.write(
            "TransactWriteItems",
            {"TransactItems": actions},
            applied=lambda: self._marked(key, write_id),
        )

    @staticmethod
    def _fence_is_for(fence: Fence, run_id: str) -> None:
        if fence.run_id != run_id:
            raise ValueError(f"fence of run {fence.run_id} cannot write run {run_id}")

    def _not_found(self, run_id: str) -> RunNotFoundError:
        return RunNotFoundError(f"no run with id {run_id!r} in store {self.describe()}")

    def _stale(self, run_id: str, expected_version: int, found: dict[str, Any] | None) -> Exception:
        if found is None:
            return self._not_found(run_id)
        return ConcurrentUpdateError(
            f"run {run_id} was changed by another process (expected version {expected_version}, "
            f"found {found.get('version', {}).get('N', '?')})"
        )

    def _current(self, run_id: str, expected_version: int) -> tuple[RunRecord, int]:
        """The run at expected_version with its last transition seq: from the cache, else read."""
        with self._cache_lock:
            cached = self._runs.get(run_id)
        if cached is not None and cached[0].version == expected_version:
            return cached
        item = self._table.get(layout.run_key(run_id))
        if item is None or int(item["version"]["N"]) != expected_version:
            raise self._stale(run_id, expected_version, item)
        current = codec.run_from_item(item), codec.transition_seq(item)
        self._remember(*current)
        return current

    def _run_update(
        self,
        base: RunRecord,
        update: RunUpdate,
        *,
        updated_at: str,
        write_id: str,
        seq: int | None,
        state: str | None = None,
    ) -> tuple[RunRecord, dict[str, Any]]:
        """The run after update (and state, when a checkpoint moves it), and the Update action that makes it so
        under the version condition."""
        fields = {**update.changes(), **({"state": state} if state is not None else {}), "updated_at": updated_at}
        updated = replace(base, **fields, version=base.version + 1)
        names = {"#version": "version", "#w": layout.WRITE_MARK}
        values: dict[str, Any] = {
            ":expected": codec.n(base.version),
            ":version": codec.n(updated.version),
            ":w": codec.s(write_id),
        }
        sets = ["#version = :version", "#w = :w"]
        removes: list[str] = []
        for index, name in enumerate(fields):
            names[f"#f{index}"] = name
            encoded = codec.encode_field(name, getattr(updated, name), codec.RUN_JSON_FIELDS)
            if encoded is None:
                removes.append(f"#f{index}")
            else:
                sets.append(f"#f{index} = :f{index}")
                values[f":f{index}"] = encoded
        if seq is not None:
            names["#seq"] = layout.TRANSITION_SEQ
            sets.append("#seq = :seq")
            values[":seq"] = codec.n(seq)
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        action = {
            "TableName": self._table.name,
            "Key": layout.run_key(base.run_id),
            "UpdateExpression": expression,
            "ConditionExpression": "#version = :expected",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        codec.check_size(codec.run_item(updated, transition_seq=seq or 0, write_id=write_id), f"run {base.run_id}")
        return updated, action

    # ---- runs -------------------------------------------------------------------------------------
    def create_run(self, run: RunRecord, fence: Fence) -> None:
        self._fence_is_for(fence, run.run_id)
        write_id = new_write_id()
        item = codec.run_item(run, transition_seq=0, write_id=write_id)
        codec.check_size(item, f"run {run.run_id}")
        actions = [
            {"Put": {"TableName": self._table.name, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}},
            fence_check(self._table.name, fence),
        ]
        try:
            self._transact(actions, key=layout.run_key(run.run_id), write_id=write_id)
        except WriteRefused as refused:
            if refused.failed(1):
                raise self._locks.lost(fence, refused.item(1)) from None
            raise ValueError(f"run {run.run_id} already exists") from None
        self._remember(run, 0)
        self._journals.created(run.run_id)

    def find_run(self, run_id: str) -> RunRecord | None:
        item = self._table.get(layout.run_key(run_id))
        if item is None:
            return None
        run = codec.run_from_item(item)
        self._remember(run, codec.transition_seq(item))
        return run

    def get_run(self, run_id: str) -> RunRecord:
        run = self.find_run(run_id)
        if run is None:
            raise self._not_found(run_id)
        return run

    def update_run(self, run_id: str, expected_version: int, fence: Fence | None, update: RunUpdate) -> RunRecord:
        if fence is not None:
            self._fence_is_for(fence, run_id)
        with self._writing(run_id):
            base, seq = self._current(run_id, expected_version)
            write_id = new_write_id()
            updated, action = self._run_update(base, update, updated_at=utc_now_iso(), write_id=write_id, seq=None)
            key = layout.run_key(run_id)
            try:
                if fence is None:
                    self._table.write(
                        "UpdateItem",
                        action,
                        applied=lambda: self._marked(key, write_id),
                    )
                else:
                    self._transact(
                        [{"Update": action}, fence_check(self._table.name, fence)],
                        key=key,
                        write_id=write_id,
                    )
            except WriteRefused as refused:
                if fence is not None and refused.failed(1):
                    raise self._locks.lost(fence, refused.item(1)) from None
                raise self._stale(run_id, expected_version, refused.item(0)) from None
        if fence is None:
            self._journals.distrust(run_id)  # written from outside the run's fence: not ours alone any more
        self._remember(updated, seq)
        return updated

    def checkpoint(
        self,
        run_id: str,
        expected_version: int,
        fence: Fence,
        *,
        source: str,
        dest: str,
        trigger: str,
        item: str | None = None,
        item_data: dict[str, Any] | None = None,
        update: RunUpdate = NO_CHANGE,
        messages: Sequence[RunMessage] = (),
    ) -> RunRecord:
        """One TransactWriteItems: the transition, the run's update, the item's move, the messages said before it
        (those beyond what one transaction takes are appended first) and the lock's check or release."""
        self._fence_is_for(fence, run_id)
        check_message_batch(run_id, messages)
        room = TRANSACTION_ACTIONS - (4 if item is not None else 3)
        if len(messages) > room:
            self.append_messages(run_id, messages[: len(messages) - room], fence)
            messages = messages[len(messages) - room:]
        with self._writing(run_id):
            at = utc_now_iso()
            base, seq = self._current(run_id, expected_version)
            write_id = new_write_id()
            updated, run_action = self._run_update(
                base, update, updated_at=at, write_id=write_id, seq=seq + 1, state=dest if item is None else None
            )
            transition = TransitionRecord(
                run_id=run_id, seq=seq + 1, item=item, source=source, dest=dest, trigger=trigger, at=at
            )
            transition_item = codec.transition_item(transition)
            actions: list[dict[str, Any]] = [
                {
                    "Put": {
                        "TableName": self._table.name,
                        "Item": transition_item,
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {"Update": run_action},
            ]
            if item is not None:
                actions.append({"Update": self._item_move(run_id, item, source, dest, item_data, at, write_id)})
            said = len(actions)
            actions += self._message_puts(run_id, messages)
            ends_run = item is None and updated.finished
            lock = fence_release if ends_run else fence_check
            actions.append(lock(self._table.name, fence))
            try:
                self._transact(actions, key=layout.run_key(run_id), write_id=write_id)
            except WriteRefused as refused:
                last = len(actions) - 1
                if refused.failed(last):
                    raise self._locks.lost(fence, refused.item(last)) from None
                if refused.failed(1):
                    raise self._stale(run_id, expected_version, refused.item(1)) from None
                if item is not None and refused.failed(2):
                    raise ConcurrentUpdateError(f"item {item} of run {run_id} is no longer in {source}") from None
                if any(refused.failed(index) for index in range(said, said + len(messages))):
                    raise MessageSeqTakenError(run_id, messages[0].seq, messages[-1].seq) from None
                raise ConcurrentUpdateError(f"transition {seq + 1} of run {run_id} is already recorded") from None
            self._journals.wrote_transition(transition)
            self._journals.wrote_messages(run_id, list(messages))
            if item is not None:
                self._moved_item(run_id, item, dest, item_data, at)
        if ends_run:
            with self._cache_lock:
                self._released.add(fence)
        self._remember(updated, seq + 1)
        return updated

    def _item_move(
        self,
        run_id: str,
        item_id: str,
        source: str,
        dest: str,
        data: dict[str, Any] | None,
        at: str,
        write_id: str,
    ) -> dict[str, Any]:
        names = {"#state": "state", "#updated": "updated_at", "#w": layout.WRITE_MARK}
        values: dict[str, Any] = {
            ":dest": codec.s(dest),
            ":source": codec.s(source),
            ":at": codec.s(at),
            ":w": codec.s(write_id),
        }
        sets = ["#state = :dest", "#updated = :at", "#w = :w"]
        if data is not None:
            names["#data"] = "data"
            values[":data"] = codec.encode_json(data)
            sets.append("#data = :data")
        return {
            "TableName": self._table.name,
            "Key": layout.item_key(run_id, item_id),
            "UpdateExpression": "SET " + ", ".join(sets),
            "ConditionExpression": "attribute_exists(pk) AND #state = :source",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }

    def _moved_item(self, run_id: str, item_id: str, dest: str, data: dict[str, Any] | None, at: str) -> None:
        known = self._journals.item(run_id, item_id)
        if known is None:
            self._journals.distrust(run_id)
            return
        update: dict[str, Any] = {"state": dest, "updated_at": at}
        if data is not None:
            update["data"] = data
        self._journals.wrote_item(replace(known, **update))

    # ---- reading runs back ------------------------------------------------------------------------------
    def list_runs(self, run_filter: RunFilter) -> list[RunRecord]:
        """One index Query (more pages only when filters discard), then the runs by BatchGetItem (named runs: only
        that)."""
        if run_filter.run_ids is not None:
            return named_runs(self._table, run_filter)
        run_ids = listed_run_ids(self._table, run_filter)
        found = {
            item["run_id"]["S"]: codec.run_from_item(item)
            for item in self._table.batch_get([layout.run_key(run_id) for run_id in run_ids])
        }
        return [found[run_id] for run_id in run_ids if run_id in found]

    def targets(self) -> list[str] | None:
        """Unknown: the by_target index's keys can only be listed by a Scan of it, which reads every run."""
        return None

    def histories(self, run_filter: RunFilter) -> list[RunHistory]:
        """One index Query, then each run's item collection but its messages in one Query, HISTORY_READERS at a
        time: the round trips are 1 + runs / HISTORY_READERS (DynamoDB cannot join)."""
        run_ids = listed_run_ids(self._table, run_filter)
        if not run_ids:
            return []
        with ThreadPoolExecutor(max_workers=min(HISTORY_READERS, len(run_ids))) as pool:
            found = list(pool.map(self._listed_history, run_ids))
        return [history for history in found if history is not None]

    def _listed_history(self, run_id: str) -> RunHistory | None:
        cached = self._cached(run_id)
        if cached is not None:
            known = self._journals.history(cached)
            if known is not None:
                return replace(known, notes=self.notes(run_id), messages=[])
        return history_from(partition_without_messages(self._table, run_id))

    def history(self, run_id: str) -> RunHistory | None:
        """The run's whole item collection in one Query (for a finished run this process wrote, only its
        notes: others write those, without the run's fence)."""
        cached = self._cached(run_id)
        if cached is not None:
            known = self._journals.history(cached)
            if known is not None:
                return replace(known, notes=self.notes(run_id))
        return history_from(partition(self._table, run_id))

    def notes(self, run_id: str) -> list[RunNote]:
        """Never from the journal: notes are written by others than the run's driver."""
        return [codec.note_from_item(i) for i in partition(self._table, run_id, layout.NOTE_PREFIX)]

    def add_note(self, run_id: str, kind: str, text: str, who: str) -> RunNote:
        """One Query for the run and its last note, then a put conditioned on that seq being free; a writer
        that lost the seq to another note reads again and takes the next."""
        at = utc_now_iso()
        RunNote(run_id=run_id, seq=1, kind=kind, text=text, who=who, at=at)  # refuse a bad note before writing
        for _ in range(NOTE_ATTEMPTS):
            exists, last_seq = note_tail(self._table, run_id)
            if not exists:
                raise self._not_found(run_id)
            note = RunNote(run_id=run_id, seq=last_seq + 1, kind=kind, text=text, who=who, at=at)
            write_id = new_write_id()
            item = codec.note_item(note, write_id=write_id)
            codec.check_size(item, f"a note on run {run_id}")
            key = layout.note_key(run_id, note.seq)
            put = {"TableName": self._table.name, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}
            try:
                self._put_note(put, key, write_id)
            except WriteRefused:
                continue  # another note took this seq
            return note
        raise ConcurrentUpdateError(
            f"a note on run {run_id} lost its seq to other notes {NOTE_ATTEMPTS} times; nothing was written, retry"
        )

    def transitions(self, run_id: str, after_seq: int = 0) -> list[TransitionRecord]:
        known = self._journals.transitions(run_id)
        if known is not None:
            return [transition for transition in known if transition.seq > after_seq]
        return [codec.transition_from_item(i) for i in transitions_after(self._table, run_id, after_seq)]

    def items(self, run_id: str) -> list[ItemRecord]:
        known = self._journals.items(run_id)
        if known is not None:
            return known
        return [codec.item_from_item(i) for i in in_order(partition(self._table, run_id, layout.ITEM_PREFIX))]

    def steps(self, run_id: str) -> list[StepRecord]:
        known = self._journals.steps(run_id)
        if known is not None:
            return known
        return [codec.step_from_item(i) for i in in_order(partition(self._table, run_id, layout.STEP_PREFIX))]

    # ---- messages ---------------------------------------------------------------------------------------
    def append_messages(self, run_id: str, messages: Sequence[RunMessage], fence: Fence) -> None:
        """One TransactWriteItems per MESSAGES_PER_TRANSACTION messages: a put of each, conditioned on its seq
        being free, and the lock's ConditionCheck."""
        if not messages:
            return
        self._fence_is_for(fence, run_id)
        check_message_batch(run_id, messages)
        for start in range(0, len(messages), MESSAGES_PER_TRANSACTION):
            chunk = messages[start:start + MESSAGES_PER_TRANSACTION]
            actions = [*self._message_puts(run_id, chunk), fence_check(self._table.name, fence)]
            # Only this run's driver writes its messages, under its fence: the chunk's last message there means
            # this transaction was applied.
            last = layout.message_key(run_id, chunk[-1].seq)
            try:
                self._table.write(
                    "TransactWriteItems",
                    {"TransactItems": actions},
                    applied=lambda key=last: self._table.get(key) is not None,  # type: ignore[misc]
                )
            except WriteRefused as refused:
                if refused.failed(len(chunk)):
                    raise self._locks.lost(fence, refused.item(len(chunk))) from None
                raise MessageSeqTakenError(run_id, chunk[0].seq, chunk[-1].seq) from None
            self._journals.wrote_messages(run_id, list(chunk))

    def _message_puts(self, run_id: str, messages: Sequence[RunMessage]) -> list[dict[str, Any]]:
        """A put of each message, conditioned on its seq being free."""
        puts: list[dict[str, Any]] = []
        for message in messages:
            item = codec.message_item(message)
            codec.check_size(item, f"a message of run {run_id}")
            puts.append({"Put": {"TableName": self._table.name, "Item": item,
                                 "ConditionExpression": "attribute_not_exists(pk)"}})
        return puts

    def messages(self, run_id: str, after_seq: int = 0) -> list[RunMessage]:
        """Never from the journal: a follower reads what another process wrote."""
        return [codec.message_from_item(i) for i in messages_after(self._table, run_id, after_seq)]

    def _put_note(self, put: dict[str, Any], key: dict[str, Any], write_id: str) -> None:
        self._table.write("PutItem", put, applied=lambda: self._marked(key, write_id))

    # ---- items ------------------------------------------------------------------------------------------
    def put_item(self, run_id: str, item_id: str, state: str, data: dict[str, Any], fence: Fence) -> ItemRecord:
        """A new item is one conditional put; an existing one (its state read from the refusal) an update."""
        self._fence_is_for(fence, run_id)
        with self._writing(run_id):
            record = self._put_item(run_id, item_id, state, data, fence)
        self._journals.wrote_item(record)
        return record

    def _put_item(self, run_id: str, item_id: str, state: str, data: dict[str, Any], fence: Fence) -> ItemRecord:
        at = utc_now_iso()
        write_id = new_write_id()
        key = layout.item_key(run_id, item_id)
        record = ItemRecord(run_id=run_id, item_id=item_id, state=state, data=data, updated_at=at)
        item = codec.item_item(record, order=self._next_order(fence.token), write_id=write_id)
        codec.check_size(item, f"item {item_id} of run {run_id}")
        put = {
            "TableName": self._table.name,
            "Item": item,
            "ConditionExpression": "attribute_not_exists(pk)",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        try:
            self._transact([{"Put": put}, fence_check(self._table.name, fence)], key=key, write_id=write_id)
            return record
        except WriteRefused as refused:
            if refused.failed(1):
                raise self._locks.lost(fence, refused.item(1)) from None
            existing = refused.item(0) or self._table.get(key)
        if existing is None:
            raise ConcurrentUpdateError(f"item {item_id} of run {run_id} changed while it was written")
        kept = codec.item_from_item(existing)
        update = {
            "TableName": self._table.name,
            "Key": key,
            "UpdateExpression": "SET #data = :data, #updated = :at, #w = :w",
            "ConditionExpression": "#state = :state",
            "ExpressionAttributeNames": {
                "#data": "data", "#updated": "updated_at", "#w": layout.WRITE_MARK, "#state": "state",
            },
            "ExpressionAttributeValues": {
                ":data": codec.encode_json(data), ":at": codec.s(at), ":w": codec.s(write_id),
                ":state": codec.s(kept.state),
            },
        }
        try:
            self._transact([{"Update": update}, fence_check(self._table.name, fence)], key=key, write_id=write_id)
        except WriteRefused as refused:
            if refused.failed(1):
                raise self._locks.lost(fence, refused.item(1)) from None
            raise ConcurrentUpdateError(f"item {item_id} of run {run_id} changed while it was written") from None
        return replace(kept, data=data, updated_at=at)

    # ---- steps --------------------------------------------------------------------------------------
    def get_step(self, run_id: str, name: str) -> StepRecord | None:
        if self._journals.knows(run_id):
            return self._journals.step(run_id, name)
        item = self._table.get(layout.step_key(run_id, name))
        if item is None:
            return None
        step = codec.step_from_item(item)
        self._remember_step(step)
        return step

    def record_intent(
        self,
        run_id: str,
        name: str,
        request: dict[str, Any],
        fence: Fence,
        *,
        lease_seconds: float,
        now: float,
    ) -> StepRecord:
        """The step's put and the lease renewal (which also proves the fence) in one transaction."""
        self._fence_is_for(fence, run_id)
        write_id = new_write_id()
        step = StepRecord(run_id=run_id, name=name, status="intent", request=request, started_at=utc_now_iso())
        item = codec.step_item(step, order=self._next_order(fence.token), write_id=write_id)
        codec.check_size(item, f"step {name} of run {run_id}")
        renewal = {
            "TableName": self._table.name,
            "Key": layout.lock_key(fence.target),
            "UpdateExpression": "SET #expires = :expires",
            **fence_condition(
                fence, extra_names={"#expires": "expires_at"},
                extra_values={":expires": codec.n(float(now + lease_seconds))},
            ),
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        actions = [
            {"Put": {"TableName": self._table.name, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}},
            {"Update": renewal},
        ]
        with self._writing(run_id):
            try:
                self._transact(actions, key=layout.step_key(run_id, name), write_id=write_id)
            except WriteRefused as refused:
                if refused.failed(1):
                    raise self._locks.lost(fence, refused.item(1)) from None
                raise ValueError(f"step {name} of run {run_id} is already recorded; it is never rewritten") from None
        self._remember_step(step)
        return step

    def record_outcome(
        self,
        run_id: str,
        name: str,
        status: StepStatus,
        fence: Fence,
        *,
        result: Any = None,
        error: dict[str, Any] | None = None,
    ) -> StepRecord:
        self._fence_is_for(fence, run_id)
        write_id = new_write_id()
        finished_at = utc_now_iso()
        key = layout.step_key(run_id, name)
        values = {
            ":status": codec.s(status),
            ":result": codec.encode_json(result),
            ":error": codec.encode_json(error),
            ":finished": codec.s(finished_at),
            ":w": codec.s(write_id),
            ":intent": codec.s("intent"),
        }
        update = {
            "TableName": self._table.name,
            "Key": key,
            "UpdateExpression": "SET #status = :status, #result = :result, #error = :error, "
            "#finished = :finished, #w = :w",
            "ConditionExpression": "#status = :intent",
            "ExpressionAttributeNames": {"#status": "status", "#result": "result", "#error": "error",
                                         "#finished": "finished_at", "#w": layout.WRITE_MARK},
            "ExpressionAttributeValues": values,
        }
        with self._cache_lock:
            cached = self._steps.get((run_id, name))
        known = None
        if cached is not None and cached.status == "intent":
            known = replace(cached, status=status, result=result, error=error, finished_at=finished_at)
        with self._writing(run_id):
            try:
                self._transact([{"Update": update}, fence_check(self._table.name, fence)], key=key,
                               write_id=write_id)
            except WriteRefused as refused:
                if refused.failed(1):
                    raise self._locks.lost(fence, refused.item(1)) from None
                raise ConcurrentUpdateError(f"step {name} of run {run_id} is not awaiting an outcome") from None
        if known is None:
            found = self._table.get(key)
            assert found is not None
            known = codec.step_from_item(found)
        self._remember_step(known)
        return known

    # ---- locks ----------------------------------------------------------------------------------------
    @property
    def skew_margin_seconds(self) -> float:
        return self._locks.skew_margin_seconds

    def get_lock(self, target: str) -> LockRecord | None:
        return self._locks.get(target)

    def acquire_lock(
        self,
        target: str,
        run_id: str,
        owner: str,
        lease_seconds: float,
        *,
        now: float,
        replace_owner: str | None = None,
    ) -> LockRecord:
        return self._locks.acquire(target, run_id, owner, lease_seconds, now=now, replace_owner=replace_owner)

    def renew_lock(self, fence: Fence, owner: str, lease_seconds: float, *, now: float) -> LockRecord:
        return self._locks.renew(fence, owner, lease_seconds, now=now)

    def release_lock(self, fence: Fence) -> None:
        with self._cache_lock:
            if fence in self._released:
                return  # the run's final checkpoint freed it, in the same transaction
        self._locks.release(fence)

    def break_lock(self, target: str, run_id: str) -> None:
        self._locks.break_(target, run_id)

    # ---- moving history -------------------------------------------------------------------------------
    def import_history(self, history: RunHistory) -> bool:
        """Write a whole run if its id is absent: its children first (idempotent puts), the run item last
        and conditionally, so a run item present means its history is complete."""
        run = history.run
        if self._table.get(layout.run_key(run.run_id)) is not None:
            return False
        children: list[dict[str, Any]] = [codec.transition_item(t) for t in history.transitions]
        children += [codec.step_item(s, order=i + 1, write_id="import") for i, s in enumerate(history.steps)]
        children += [codec.item_item(r, order=i + 1, write_id="import") for i, r in enumerate(history.items)]
        children += [codec.note_item(note, write_id="import") for note in history.notes]
        children += [codec.message_item(message) for message in history.messages]
        for child in children:
            codec.check_size(child, f"a record of run {run.run_id}")
        self._table.batch_write(children)
        write_id = new_write_id()
        seq = max((t.seq for t in history.transitions), default=0)
        item = codec.run_item(run, transition_seq=seq, write_id=write_id)
        codec.check_size(item, f"run {run.run_id}")
        put = {"TableName": self._table.name, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}
        try:
            self._table.write(
                "PutItem", put, applied=lambda: self._marked(layout.run_key(run.run_id), write_id)
            )
        except WriteRefused:
            return False
        return True

    def close(self) -> None:
        with self._cache_lock:
            self._runs.clear()
            self._steps.clear()
            self._released.clear()
        self._journals.clear()


def open_dynamodb_store(location: DynamoLocation, *, sleep: Any = None) -> DynamoRunStore:
    """Open the table at location, checking it was set up by `ecsops store init` (one GetItem)."""
    from store.dynamodb_admin import check_layout

    table = DynamoTable(location, sleep=sleep)
    check_layout(table)
    return DynamoRunStore(table, skew_margin_seconds=location.skew_seconds)
