"""DynamoDB in the simulator at DynamoDB's speed: a base-table Query reads one partition.

moto 5.2.5 answers every Query by sorting the whole table and keeping the items of the asked partition,
so with 10 000 runs (80 000 items) each Query costs a tenth of a second where DynamoDB reads one item
collection. While moto answers a base-table Query, its table lists only that partition's items. Results
are unchanged (tests/test_sim_endpoint.py compares them); index queries are left as they are.
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
    if bound.arguments.get("index_name") is not None or self.range_key_attr is None:
        return _originals["query"](self, *args, **kwargs)
    _partition.table, _partition.hash_key = self, bound.arguments["hash_key"]
    try:
        return _originals["query"](self, *args, **kwargs)
    finally:
        _partition.table = None


def _all_items(self: Table) -> Any:
    if getattr(_partition, "table", None) is self:
        items = list(self.items.get(_partition.hash_key, {}).values())
        return sorted(items, key=lambda item: item.range_key)
    return _originals["all_items"](self)
