"""The write units the DynamoDB store spends, measured for `make bench` on the simulator (moto reports none).

While a WriteUnitMeter is active it wraps the writes of every store table of this process (DynamoTable.write and
batch_write) and reads each item a write touched from the simulator's own tables, in this process, just before
and just after it: no request is added, and the store's write path knows nothing of it. A write that took effect
is billed by DynamoDB's rules:

- an item written (put, updated or deleted): one unit per KB started of the larger of its two versions, twice
  inside a transaction (prepare and commit);
- a transaction's ConditionCheck: as a transactional write of the item it checks;
- each global secondary index: one unit when the write adds, changes (a projected attribute) or removes the item's
  entry, two when it changes the entry's key (the old entry is deleted, the new one put).
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

from store import dynamodb_layout as layout
from store.dynamodb_codec import item_size
from store.dynamodb_requests import DynamoTable

Item = dict[str, dict[str, Any]]
KB = 1024


def units_of(size: int) -> int:
    """Write units of writing size bytes once: 1 per KB started."""
    return max(1, math.ceil(size / KB))


def index_units(before: Item | None, after: Item | None) -> int:
    """What a write costs in the global secondary indexes, from the item before and after it (None: absent)."""
    units = 0
    for index in layout.INDEXES:
        old, new = _entry(before, index), _entry(after, index)
        if old is None and new is None:
            continue
        if old is None or new is None:
            units += units_of(item_size(old or new or {}))
        elif _key(old, index) != _key(new, index):
            units += units_of(item_size(old)) + units_of(item_size(new))
        elif old != new:
            units += units_of(item_size(new))
    return units


def write_units(touched: list[tuple[str, Item | None, Item | None]], *, transactional: bool) -> int:
    """Units of one write: each (action, item before, item after) it touched; action is Put, Update, Delete or
    ConditionCheck (PutItem, UpdateItem and a batch's puts are Put or Update outside a transaction)."""
    factor = 2 if transactional else 1
    total = 0
    for action, before, after in touched:
        size = max(item_size(before or {}), item_size(after or {}))
        total += factor * units_of(size)
        if action != "ConditionCheck":
            total += index_units(before, after)
    return total


def _entry(item: Item | None, index: layout.IndexSpec) -> Item | None:
    if item is None or index.hash_key not in item or index.range_key not in item:
        return None
    names = (layout.PK, layout.SK, index.hash_key, index.range_key, *index.projected)
    return {name: item[name] for name in names if name in item}


def _key(entry: Item, index: layout.IndexSpec) -> tuple[Any, ...]:
    return tuple(str(entry.get(name)) for name in (layout.PK, layout.SK, index.hash_key, index.range_key))


class WriteUnitMeter:
    """Write units of the store's writes while active (`with meter.active():`), read off the simulator."""

    def __init__(self, server: Any) -> None:
        self._server = server  # an ecsops.sim.server.SimServer serving this process's tables
        self._lock = threading.Lock()  # one metered write at a time: its before and after are its own
        self.units = 0

    @contextlib.contextmanager
    def active(self) -> Iterator[WriteUnitMeter]:
        original_write, original_batch = DynamoTable.write, DynamoTable.batch_write

        def write(
            table: DynamoTable, operation: str, request: dict[str, Any], *, applied: Callable[[], bool]
        ) -> dict[str, Any]:
            actions = _actions(operation, request)
            with self._lock:
                before = self._items(table, actions)
                response = original_write(table, operation, request, applied=applied)
                after = self._items(table, actions)
                self._add(actions, before, after, transactional=operation == "TransactWriteItems")
            return response

        def batch_write(table: DynamoTable, items: list[dict[str, Any]]) -> None:
            actions = [("Put", _key_of(item)) for item in items]
            with self._lock:
                before = self._items(table, actions)
                original_batch(table, items)
                after = self._items(table, actions)
                self._add(actions, before, after, transactional=False)

        with mock.patch.object(DynamoTable, "write", write), mock.patch.object(DynamoTable, "batch_write", batch_write):
            yield self

    def _add(
        self, actions: list[tuple[str, Item]], before: list[Item | None], after: list[Item | None], *,
        transactional: bool,
    ) -> None:
        touched = [(action, old, new) for (action, _), old, new in zip(actions, before, after, strict=True)]
        self.units += write_units(touched, transactional=transactional)

    def _items(self, table: DynamoTable, actions: list[tuple[str, Item]]) -> list[Item | None]:
        """The items at these keys as the simulator holds them now, as DynamoDB attribute values."""
        from moto.dynamodb.models import dynamodb_backends
        from moto.dynamodb.models.dynamo_type import DynamoType

        with self._server.lock:
            stored = dynamodb_backends[self._server.scenario.account][table.region].get_table(table.name)
            found = []
            for _, key in actions:
                item = stored.get_item(DynamoType(key[layout.PK]), DynamoType(key[layout.SK]))
                found.append(None if item is None else {
                    name: value.to_regular_json() for name, value in item.attrs.items()
                })
            return found


def _actions(operation: str, request: dict[str, Any]) -> list[tuple[str, Item]]:
    """(action, key) of each item a write request touches."""
    if operation == "TransactWriteItems":
        return [(kind, _key_of(body.get("Item") or body["Key"]))
                for action in request["TransactItems"] for kind, body in action.items()]
    kind = {"PutItem": "Put", "UpdateItem": "Update", "DeleteItem": "Delete"}[operation]
    return [(kind, _key_of(request.get("Item") or request["Key"]))]


def _key_of(item: Item) -> Item:
    return {layout.PK: item[layout.PK], layout.SK: item[layout.SK]}
