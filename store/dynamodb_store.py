"""The DynamoDB backend of RunStore: one table shared by every runner (layout in dynamodb_layout).

Every fenced write is one request: a TransactWriteItems whose last action is a ConditionCheck (or, for
record_intent, the lease renewal) on the target's lock item, so it happens only while the lock still has
the fence's run_id and token. A checkpoint is one TransactWriteItems: the transition, the run update
under its version condition, the item's move if any, and the lock check.

The store keeps the last version of each run it read or wrote (and of each step it recorded). A write
conditioned on version v that succeeds proves the table held exactly the cached version v, so the new
record is computed here instead of read back: a checkpoint costs one request.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from store import dynamodb_codec as codec
from store import dynamodb_layout as layout
from store.base import RunStore
from store.clock import utc_now_iso
from store.dynamodb_requests import DynamoTable, Usage, WriteRefused, new_write_id
from store.errors import ConcurrentUpdateError, LockHeldError, LockLostError, RunNotFoundError, StoreOpenError
from store.models import (
    FINISHED_STATUSES,
    Fence,
    ItemRecord,
    LockRecord,
    RunFilter,
    RunHistory,
    RunRecord,
    StepRecord,
    StepStatus,
    TransitionRecord,
)

HISTORY_READERS = 8
ACQUIRE_ATTEMPTS = 5
_ORDER_STRIDE = 10**20  # steps and items: fencing token first, then this process's time


class DynamoRunStore(RunStore):
    """RunStore on one DynamoDB table. Open with `open_dynamodb_store`."""

    def __init__(self, table: DynamoTable, *, skew_margin_seconds: float) -> None:
        self._table = table
        self._skew = skew_margin_seconds
        self._runs: dict[str, tuple[RunRecord, int]] = {}
        self._steps: dict[tuple[str, str], StepRecord] = {}
        # Runs this store created: their only steps are the ones it recorded (every step write is fenced,
        # so a step another process might add would first take the lock and fence this one out).
        self._created: set[str] = set()
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

    def _forget(self, run_id: str) -> None:
        with self._cache_lock:
            self._runs.pop(run_id, None)

    def _next_order(self, token: int) -> int:
        with self._cache_lock:
            self._last_order = max(self._last_order + 1, token * _ORDER_STRIDE + time.time_ns())
            return self._last_order

    def _fence_check(self, fence: Fence) -> dict[str, Any]:
        return {
            "ConditionCheck": {
                "TableName": self._table.name,
                "Key": layout.lock_key(fence.target),
                **_fence_condition(fence),
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }

    def _lock_lost(self, fence: Fence, item: dict[str, Any] | None) -> LockLostError:
        lock = codec.lock_from_item(item) if item else self.get_lock(fence.target)
        return LockLostError(
            fence.target,
            fence.run_id,
            fence.token,
            holder_run_id=None if lock is None else lock.run_id,
            holder_owner=None if lock is None else lock.owner,
        )

    def _marked(self, key: dict[str, Any], write_id: str) -> bool:
        item = self._table.get(key)
        return item is not None and item.get(layout.WRITE_MARK, {}).get("S") == write_id

    def _transact(self, actions: list[dict[str, Any]], *, key: dict[str, Any], write_id: str, units: float) -> None:
        self._table.write(
            "TransactWriteItems",
            {"TransactItems": actions},
            applied=lambda: self._marked(key, write_id),
            write_units=units,
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
        self, base: RunRecord, fields: dict[str, Any], write_id: str, seq: int | None
    ) -> tuple[RunRecord, dict[str, Any]]:
        """The run after fields, and the Update action that makes it so under the version condition."""
        if "run_id" in fields or "version" in fields:
            raise ValueError("a run's id and version are not updated by hand")
        updated = RunRecord.model_validate({**base.model_dump(), **fields, "version": base.version + 1})
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
        if "started_at" in fields:
            names["#started"] = layout.STARTED_KEY
            sets.append("#started = :started")
            values[":started"] = codec.s(layout.started_key(updated.started_at, updated.run_id))
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
        return updated, action

    def _run_units(self, run: RunRecord, seq: int, write_id: str, transactional: bool) -> float:
        units = codec.write_units(codec.run_item(run, transition_seq=seq, write_id=write_id))
        return units * (2 if transactional else 1)

    # ---- runs -------------------------------------------------------------------------------------
    def create_run(self, run: RunRecord, fence: Fence) -> None:
        self._fence_is_for(fence, run.run_id)
        write_id = new_write_id()
        item = codec.run_item(run, transition_seq=0, write_id=write_id)
        codec.check_size(item, f"run {run.run_id}")
        actions = [
            {
                "Put": {
                    "TableName": self._table.name,
                    "Item": item,
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            self._fence_check(fence),
        ]
        # 2 units a KB for the transactional put and the lock check, 1 for each index the run enters.
        units = 2 * codec.write_units(item) + 2 + len(layout.INDEXES)
        try:
            self._transact(actions, key=layout.run_key(run.run_id), write_id=write_id, units=units)
        except WriteRefused as refused:
            if refused.failed(1):
                raise self._lock_lost(fence, refused.item(1)) from None
            raise ValueError(f"run {run.run_id} already exists") from None
        self._remember(run, 0)
        with self._cache_lock:
            self._created.add(run.run_id)

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

    def update_run(self, run_id: str, expected_version: int, fence: Fence | None, **fields: Any) -> RunRecord:
        if fence is not None:
            self._fence_is_for(fence, run_id)
        base, seq = self._current(run_id, expected_version)
        fields = {**fields, "updated_at": fields.get("updated_at") or utc_now_iso()}
        write_id = new_write_id()
        updated, action = self._run_update(base, fields, write_id, None)
        codec.check_size(codec.run_item(updated, transition_seq=seq, write_id=write_id), f"run {run_id}")
        status_changed = updated.status != base.status
        try:
            if fence is None:
                self._table.write(
                    "UpdateItem",
                    action,
                    applied=lambda: self._marked(layout.run_key(run_id), write_id),
                    write_units=self._run_units(updated, seq, write_id, False) + 4 * status_changed,
                )
            else:
                self._transact(
                    [{"Update": action}, self._fence_check(fence)],
                    key=layout.run_key(run_id),
                    write_id=write_id,
                    units=self._run_units(updated, seq, write_id, True) + 2 + 4 * status_changed,
                )
        except WriteRefused as refused:
            self._forget(run_id)
            if fence is not None and refused.failed(1):
                raise self._lock_lost(fence, refused.item(1)) from None
            raise self._stale(run_id, expected_version, refused.item(0)) from None
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
        **run_fields: Any,
    ) -> RunRecord:
        self._fence_is_for(fence, run_id)
        at = utc_now_iso()
        base, seq = self._current(run_id, expected_version)
        fields = dict(run_fields)
        if item is None:
            fields["state"] = dest
        fields["updated_at"] = at
        write_id = new_write_id()
        updated, run_action = self._run_update(base, fields, write_id, seq + 1)
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
        units = 2 * (codec.write_units(transition_item) + codec.write_units(
            codec.run_item(updated, transition_seq=seq + 1, write_id=write_id)
        ) + 1) + 4 * (updated.status != base.status)
        if item is not None:
            actions.append({"Update": self._item_move(run_id, item, source, dest, item_data, at, write_id)})
            units += 2 * (1 + (codec.write_units({"data": codec.encode_json(item_data)}) if item_data else 0))
        actions.append(self._fence_check(fence))
        try:
            self._transact(actions, key=layout.run_key(run_id), write_id=write_id, units=units)
        except WriteRefused as refused:
            self._forget(run_id)
            if refused.failed(len(actions) - 1):
                raise self._lock_lost(fence, refused.item(len(actions) - 1)) from None
            if refused.failed(1):
                raise self._stale(run_id, expected_version, refused.item(1)) from None
            if item is not None and refused.failed(2):
                raise ConcurrentUpdateError(f"item {item} of run {run_id} is no longer in {source}") from None
            raise ConcurrentUpdateError(f"transition {seq + 1} of run {run_id} is already recorded") from None
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

    # ---- listing ------------------------------------------------------------------------------------
    def _listed_run_ids(self, run_filter: RunFilter) -> list[str]:
        """Run ids matching the filter, newest first, from the best index (never a Scan)."""
        if run_filter.target is not None:
            index, hash_value = layout.INDEX_BY_NAME["by_target"], run_filter.target
        elif run_filter.status is not None:
            index, hash_value = layout.INDEX_BY_NAME["by_status"], run_filter.status
        else:
            index, hash_value = layout.INDEX_BY_NAME["by_started"], layout.LIST_PK_VALUE
        names = {"#h": index.hash_key}
        values: dict[str, Any] = {":h": codec.s(hash_value)}
        condition = "#h = :h"
        if run_filter.since is not None:
            names["#r"] = index.range_key
            condition += " AND #r >= :since"
            values[":since"] = codec.s(run_filter.since)
        filters = []
        for name in ("operation", "target", "status"):
            value = getattr(run_filter, name)
            if value is not None and name != index.hash_key:
                names[f"#{name}"] = name
                values[f":{name}"] = codec.s(value)
                filters.append(f"#{name} = :{name}")
        request: dict[str, Any] = {
            "IndexName": index.name,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": False,
        }
        if filters:
            request["FilterExpression"] = " AND ".join(filters)
        else:
            request["Limit"] = max(1, run_filter.limit)
        run_ids: list[str] = []
        for page in self._table.query_pages(**request):
            run_ids.extend(layout.run_id_of(item[layout.PK]["S"]) for item in page)
            if len(run_ids) >= run_filter.limit:
                break
        return run_ids[: run_filter.limit]

    def list_runs(self, run_filter: RunFilter) -> list[RunRecord]:
        run_ids = self._listed_run_ids(run_filter)
        found = {
            item["run_id"]["S"]: codec.run_from_item(item)
            for item in self._table.batch_get([layout.run_key(run_id) for run_id in run_ids])
        }
        return [found[run_id] for run_id in run_ids if run_id in found]

    def histories(self, run_filter: RunFilter) -> list[RunHistory]:
        """One index query, then each run's partition in one Query, HISTORY_READERS at a time."""
        run_ids = self._listed_run_ids(run_filter)
        if not run_ids:
            return []
        with ThreadPoolExecutor(max_workers=min(HISTORY_READERS, len(run_ids))) as pool:
            found = list(pool.map(self.history, run_ids))
        return [history for history in found if history is not None]

    def history(self, run_id: str) -> RunHistory | None:
        """The run's whole item collection in one Query."""
        items = self._table.query(
            KeyConditionExpression="#pk = :pk",
            ExpressionAttributeNames={"#pk": layout.PK},
            ExpressionAttributeValues={":pk": codec.s(layout.run_pk(run_id))},
            ConsistentRead=True,
        )
        run = [i for i in items if i[layout.SK]["S"] == layout.RUN_SK]
        if not run:
            return None
        return RunHistory(
            run=codec.run_from_item(run[0]),
            transitions=[codec.transition_from_item(i) for i in _kind(items, layout.TRANSITION_PREFIX)],
            steps=[codec.step_from_item(i) for i in _ordered(_kind(items, layout.STEP_PREFIX))],
            items=[codec.item_from_item(i) for i in _ordered(_kind(items, layout.ITEM_PREFIX))],
        )

    # ---- transitions and items ------------------------------------------------------------------------
    def _children(self, run_id: str, prefix: str) -> list[dict[str, Any]]:
        return self._table.query(
            KeyConditionExpression="#pk = :pk AND begins_with(#sk, :prefix)",
            ExpressionAttributeNames={"#pk": layout.PK, "#sk": layout.SK},
            ExpressionAttributeValues={":pk": codec.s(layout.run_pk(run_id)), ":prefix": codec.s(prefix)},
            ConsistentRead=True,
        )

    def transitions(self, run_id: str) -> list[TransitionRecord]:
        return [codec.transition_from_item(i) for i in self._children(run_id, layout.TRANSITION_PREFIX)]

    def items(self, run_id: str) -> list[ItemRecord]:
        return [codec.item_from_item(i) for i in _ordered(self._children(run_id, layout.ITEM_PREFIX))]

    def put_item(self, run_id: str, item_id: str, state: str, data: dict[str, Any], fence: Fence) -> ItemRecord:
        """A new item is one conditional put; an existing one (its state read from the refusal) an update."""
        self._fence_is_for(fence, run_id)
        at = utc_now_iso()
        write_id = new_write_id()
        key = layout.item_key(run_id, item_id)
        record = ItemRecord(run_id=run_id, item_id=item_id, state=state, data=data, updated_at=at)
        item = codec.item_item(record, order=self._next_order(fence.token), write_id=write_id)
        codec.check_size(item, f"item {item_id} of run {run_id}")
        put = {"TableName": self._table.name, "Item": item, "ConditionExpression": "attribute_not_exists(pk)",
               "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}
        try:
            self._transact([{"Put": put}, self._fence_check(fence)], key=key, write_id=write_id,
                           units=2 * codec.write_units(item) + 2)
            return record
        except WriteRefused as refused:
            if refused.failed(1):
                raise self._lock_lost(fence, refused.item(1)) from None
            existing = refused.item(0) or self._table.get(key)
        if existing is None:
            raise ConcurrentUpdateError(f"item {item_id} of run {run_id} changed while it was written")
        kept = codec.item_from_item(existing)
        update = {
            "TableName": self._table.name,
            "Key": key,
            "UpdateExpression": "SET #data = :data, #updated = :at, #w = :w",
            "ConditionExpression": "#state = :state",
            "ExpressionAttributeNames": {"#data": "data", "#updated": "updated_at", "#w": layout.WRITE_MARK,
                                         "#state": "state"},
            "ExpressionAttributeValues": {":data": codec.encode_json(data), ":at": codec.s(at),
                                          ":w": codec.s(write_id), ":state": codec.s(kept.state)},
        }
        try:
            self._transact([{"Update": update}, self._fence_check(fence)], key=key, write_id=write_id,
                           units=2 * codec.write_units(item) + 2)
        except WriteRefused as refused:
            if refused.failed(1):
                raise self._lock_lost(fence, refused.item(1)) from None
            raise ConcurrentUpdateError(f"item {item_id} of run {run_id} changed while it was written") from None
        return kept.model_copy(update={"data": data, "updated_at": at})

    # ---- steps --------------------------------------------------------------------------------------
    def get_step(self, run_id: str, name: str) -> StepRecord | None:
        with self._cache_lock:
            if run_id in self._created:
                return self._steps.get((run_id, name))
        item = self._table.get(layout.step_key(run_id, name))
        if item is None:
            return None
        step = codec.step_from_item(item)
        with self._cache_lock:
            self._steps[(run_id, name)] = step
        return step

    def steps(self, run_id: str) -> list[StepRecord]:
        return [codec.step_from_item(i) for i in _ordered(self._children(run_id, layout.STEP_PREFIX))]

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
            **_fence_condition(fence, extra_names={"#expires": "expires_at"},
                               extra_values={":expires": codec.n(float(now + lease_seconds))}),
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        actions = [
            {"Put": {"TableName": self._table.name, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}},
            {"Update": renewal},
        ]
        try:
            self._transact(actions, key=layout.step_key(run_id, name), write_id=write_id,
                           units=2 * codec.write_units(item) + 2)
        except WriteRefused as refused:
            if refused.failed(1):
                raise self._lock_lost(fence, refused.item(1)) from None
            raise ValueError(f"step {name} of run {run_id} is already recorded; it is never rewritten") from None
        with self._cache_lock:
            self._steps[(run_id, name)] = step
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
        size = codec.item_size({**key, **{k.lstrip(":"): v for k, v in values.items()}})
        if cached is not None:
            size += codec.item_size({"request": codec.encode_json(cached.request)})
        try:
            self._transact([{"Update": update}, self._fence_check(fence)], key=key, write_id=write_id,
                           units=2 * max(1, -(-size // 1024)) + 2)
        except WriteRefused as refused:
            if refused.failed(1):
                raise self._lock_lost(fence, refused.item(1)) from None
            raise ConcurrentUpdateError(f"step {name} of run {run_id} is not awaiting an outcome") from None
        if cached is not None and cached.status == "intent":
            step = cached.model_copy(update={"status": status, "result": result, "error": error,
                                             "finished_at": finished_at})
        else:
            found = self.get_step(run_id, name)
            assert found is not None
            step = found
        with self._cache_lock:
            self._steps[(run_id, name)] = step
        return step

    # ---- locks ----------------------------------------------------------------------------------------
    @property
    def skew_margin_seconds(self) -> float:
        return self._skew

    def get_lock(self, target: str) -> LockRecord | None:
        item = self._table.get(layout.lock_key(target))
        return codec.lock_from_item(item) if item is not None else None

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
        """First try to take a free lock in one conditional update (the usual case: one request). If it
        is held, decide from what the refusal returned, then write conditioned on the lock being exactly
        as seen (compare and swap); a lock that moved in between is read and decided again."""
        expires_at = float(now + lease_seconds)
        try:
            return self._take_free(target, run_id, owner, expires_at)
        except WriteRefused as refused:
            seen = refused.item(0)
        lock = codec.lock_from_item(seen) if seen else self.get_lock(target)
        for _ in range(ACQUIRE_ATTEMPTS):
            decision = self._decide(lock, run_id, owner, now, replace_owner)
            if decision is None:
                assert lock is not None and lock.run_id is not None
                raise LockHeldError(
                    target, lock.run_id, lock.expires_at, holder_owner=lock.owner if lock.run_id == run_id else None
                )
            taken = LockRecord(
                target=target,
                run_id=run_id,
                owner=owner,
                token=(lock.token if lock is not None else 0) + (decision != "renew"),
                acquired_at=lock.acquired_at if decision == "renew" and lock is not None else utc_now_iso(),
                expires_at=expires_at,
            )
            try:
                self._swap_lock(lock, taken, decision)
            except WriteRefused:
                lock = self.get_lock(target)
                continue
            return taken
        assert lock is not None and lock.run_id is not None
        raise LockHeldError(target, lock.run_id, lock.expires_at)

    def _take_free(self, target: str, run_id: str, owner: str, expires_at: float) -> LockRecord:
        """Take the lock if nobody holds it (no item yet, or a free one), raising its token by one."""
        write_id = new_write_id()
        key = layout.lock_key(target)
        request = {
            "TableName": self._table.name,
            "Key": key,
            "UpdateExpression": "SET #target = :target, #run_id = :run_id, #owner = :owner, #acquired = :at, "
            "#expires = :expires, #w = :w, #token = if_not_exists(#token, :zero) + :one",
            "ConditionExpression": "attribute_not_exists(#run_id)",
            "ExpressionAttributeNames": {
                "#target": "target", "#run_id": "run_id", "#owner": "owner", "#acquired": "acquired_at",
                "#expires": "expires_at", "#w": layout.WRITE_MARK, "#token": "token",
            },
            "ExpressionAttributeValues": {
                ":target": codec.s(target), ":run_id": codec.s(run_id), ":owner": codec.s(owner),
                ":at": codec.s(utc_now_iso()), ":expires": codec.n(expires_at), ":w": codec.s(write_id),
                ":zero": codec.n(0), ":one": codec.n(1),
            },
            "ReturnValues": "ALL_NEW",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        response = self._table.write("UpdateItem", request, applied=lambda: self._marked(key, write_id), write_units=1)
        if "Attributes" in response:
            return codec.lock_from_item(response["Attributes"])
        lock = self.get_lock(target)  # the answer was lost; the read that settled it says it took effect
        assert lock is not None
        return lock

    def _decide(
        self, lock: LockRecord | None, run_id: str, owner: str, now: float, replace_owner: str | None
    ) -> str | None:
        """How the lock may be taken: 'renew', 'take', 'take_from_finished', or None (held)."""
        if lock is None or lock.run_id is None:
            return "take"
        if lock.run_id == run_id and lock.owner == owner:
            return "renew"
        if lock.expires_at + self._skew <= now:
            return "take"
        if replace_owner is not None and replace_owner == lock.owner and lock.run_id == run_id:
            return "take"
        holder = self._table.get(layout.run_key(lock.run_id))
        if holder is None or holder["status"]["S"] in FINISHED_STATUSES:
            return "take_from_finished"
        return None

    def _swap_lock(self, seen: LockRecord | None, taken: LockRecord, decision: str) -> None:
        write_id = new_write_id()
        item = {
            **layout.lock_key(taken.target),
            "target": codec.s(taken.target),
            "run_id": codec.s(taken.run_id or ""),
            "owner": codec.s(taken.owner or ""),
            "token": codec.n(taken.token),
            "acquired_at": codec.s(taken.acquired_at or ""),
            "expires_at": codec.n(taken.expires_at),
            layout.WRITE_MARK: codec.s(write_id),
        }
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        if seen is None:
            condition = "attribute_not_exists(pk)"
        else:
            names = {"#token": "token", "#run_id": "run_id", "#expires": "expires_at", "#owner": "owner"}
            values = {":token": codec.n(seen.token), ":expires": codec.n(seen.expires_at)}
            condition = "#token = :token AND #expires = :expires"
            if seen.run_id is None:
                condition += " AND attribute_not_exists(#run_id)"
            else:
                condition += " AND #run_id = :run_id"
                values[":run_id"] = codec.s(seen.run_id)
            if seen.owner is None:
                condition += " AND attribute_not_exists(#owner)"
            else:
                condition += " AND #owner = :owner"
                values[":owner"] = codec.s(seen.owner)
        put: dict[str, Any] = {"TableName": self._table.name, "Item": item, "ConditionExpression": condition}
        if names:
            put["ExpressionAttributeNames"] = names
            put["ExpressionAttributeValues"] = values
        key = layout.lock_key(taken.target)
        if decision == "take_from_finished" and seen is not None and seen.run_id is not None:
            # The holder's run must still be finished (or absent) when the lock changes hands.
            holder_check = {
                "ConditionCheck": {
                    "TableName": self._table.name,
                    "Key": layout.run_key(seen.run_id),
                    "ConditionExpression": "attribute_not_exists(pk) OR #status IN ("
                    + ", ".join(f":s{i}" for i in range(len(FINISHED_STATUSES))) + ")",
                    "ExpressionAttributeNames": {"#status": "status"},
                    "ExpressionAttributeValues": {
                        f":s{i}": codec.s(status) for i, status in enumerate(sorted(FINISHED_STATUSES))
                    },
                }
            }
            self._transact([{"Put": put}, holder_check], key=key, write_id=write_id, units=4)
            return
        self._table.write("PutItem", put, applied=lambda: self._marked(key, write_id), write_units=1)

    def renew_lock(self, fence: Fence, owner: str, lease_seconds: float, *, now: float) -> LockRecord:
        write_id = new_write_id()
        key = layout.lock_key(fence.target)
        request = {
            "TableName": self._table.name,
            "Key": key,
            "UpdateExpression": "SET #expires = :expires, #owner = :new_owner, #w = :w",
            **_fence_condition(
                fence,
                extra_names={"#expires": "expires_at", "#owner": "owner", "#w": layout.WRITE_MARK},
                extra_values={
                    ":expires": codec.n(float(now + lease_seconds)),
                    ":new_owner": codec.s(owner),
                    ":w": codec.s(write_id),
                },
            ),
            "ReturnValues": "ALL_NEW",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        try:
            response = self._table.write(
                "UpdateItem", request, applied=lambda: self._marked(key, write_id), write_units=1
            )
        except WriteRefused as refused:
            raise self._lock_lost(fence, refused.item(0)) from None
        if "Attributes" in response:
            return codec.lock_from_item(response["Attributes"])
        lock = self.get_lock(fence.target)
        assert lock is not None
        return lock

    def _free_lock(self, key: dict[str, Any], condition: dict[str, Any], *, raise_token: bool) -> None:
        write_id = new_write_id()
        sets = "#expires = :zero, #w = :w" + (", #token = #token + :one" if raise_token else "")
        names = {"#expires": "expires_at", "#w": layout.WRITE_MARK, "#run_id": "run_id", "#owner": "owner",
                 "#acquired": "acquired_at", **condition["ExpressionAttributeNames"]}
        values = {":zero": codec.n(0), ":w": codec.s(write_id), **condition["ExpressionAttributeValues"]}
        if raise_token:
            names["#token"] = "token"
            values[":one"] = codec.n(1)
        request = {
            "TableName": self._table.name,
            "Key": key,
            "UpdateExpression": f"SET {sets} REMOVE #run_id, #owner, #acquired",
            "ConditionExpression": condition["ConditionExpression"],
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        try:
            self._table.write("UpdateItem", request, applied=lambda: self._marked(key, write_id), write_units=1)
        except WriteRefused:
            return  # not held as asked: nothing to free

    def release_lock(self, fence: Fence) -> None:
        self._free_lock(layout.lock_key(fence.target), _fence_condition(fence), raise_token=False)

    def break_lock(self, target: str, run_id: str) -> None:
        condition = {
            "ConditionExpression": "#run_id = :holder",
            "ExpressionAttributeNames": {"#run_id": "run_id"},
            "ExpressionAttributeValues": {":holder": codec.s(run_id)},
        }
        self._free_lock(layout.lock_key(target), condition, raise_token=True)

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
                "PutItem", put, applied=lambda: self._marked(layout.run_key(run.run_id), write_id),
                write_units=codec.write_units(item) + len(layout.INDEXES),
            )
        except WriteRefused:
            return False
        return True

    def close(self) -> None:
        with self._cache_lock:
            self._runs.clear()
            self._steps.clear()
            self._created.clear()


def _fence_condition(
    fence: Fence, *, extra_names: dict[str, str] | None = None, extra_values: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The lock item still names the fence's run at the fence's token (expiry is not part of it)."""
    return {
        "ConditionExpression": "#run_id = :fence_run AND #token = :fence_token",
        "ExpressionAttributeNames": {"#run_id": "run_id", "#token": "token", **(extra_names or {})},
        "ExpressionAttributeValues": {
            ":fence_run": codec.s(fence.run_id),
            ":fence_token": codec.n(fence.token),
            **(extra_values or {}),
        },
    }


def _kind(items: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    return [item for item in items if item[layout.SK]["S"].startswith(prefix)]


def _ordered(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(items, key=codec.order_of)


def open_dynamodb_store(location: Any, *, sleep: Any = None) -> DynamoRunStore:
    """Open the table at location, checking it was set up by `ecsops store init` (one GetItem)."""
    from store.dynamodb_admin import check_layout

    table = DynamoTable(location, sleep=sleep)
    check_layout(table)
    return DynamoRunStore(table, skew_margin_seconds=location.skew_seconds)


__all__ = ["DynamoRunStore", "StoreOpenError", "open_dynamodb_store"]
