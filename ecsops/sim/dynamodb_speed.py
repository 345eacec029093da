"""DynamoDB in the simulator at DynamoDB's speed: a Query reads one partition (of the table or an index).

moto 5.2.5 answers every Query by sorting the whole table (DynamoType comparisons in Python) and then
keeping the items of the asked partition: with 10 000 runs (80 000 items) a Query takes seconds where
DynamoDB reads one item collection. While moto answers a Query, its table lists only the items of that
partition, unsorted for an index (moto sorts an index's matches itself). Results are unchanged
(tests/test_sim_dynamodb.py compares them with moto's own). Tables without a sort key are left as they are.
"""

from __future__ import annotations

import inspect
import threading
from typing import Any

from moto.dynamodb.models.table import Table

_partition = threading.local()
_originals: dict[str, Any] = {}


def install() -> None:
    """Patch moto's Table once per process; idempotent."""
    if _originals:
        return
    _originals["query"] = Table.query
    _originals["all_items"] = Table.all_items
    _originals["signature"] = inspect.signature(Table.query)
    Table.query = _query  # type: ignore[method-assign]
    Table.all_items = _all_items  # type: ignore[method-assign]


def _query(self: Table, *args: Any, **kwargs: Any) -> Any:
    bound = _originals["signature"].bind(self, *args, **kwargs)
    index_name = bound.arguments.get("index_name")
    if index_name is None:
        attribute: str | None = self.hash_key_attr
    else:
        index = next((i for i in self.all_indexes() if i.name == index_name), None)
        hashes = [key["AttributeName"] for key in getattr(index, "schema", []) if key["KeyType"] == "HASH"]
        attribute = hashes[0] if len(hashes) == 1 else None
    conditions = dict(bound.arguments.get("hash_key_conditions") or [])
    value = conditions.get(attribute) if attribute is not None else None
    if value is None and index_name is None:
        value = bound.arguments.get("hash_key")
    if self.range_key_attr is None or attribute is None or getattr(value, "type", None) is None:
        return _originals["query"](self, *args, **kwargs)
    _partition.table, _partition.value = self, value
    _partition.attribute = None if index_name is None else attribute
    try:
        return _originals["query"](self, *args, **kwargs)
    finally:
        _partition.table = None


def _all_items(self: Table) -> Any:
    if getattr(_partition, "table", None) is not self:
        return _originals["all_items"](self)
    if _partition.attribute is None:
        items = list(self.items.get(_partition.value, {}).values())
        return sorted(items, key=lambda item: item.range_key)
    attribute, value = _partition.attribute, _partition.value
    matching = []
    for partition in self.items.values():
        for item in partition.values():
            found = item.attrs.get(attribute)
            if found is not None and found == value:
                matching.append(item)
    return matching
