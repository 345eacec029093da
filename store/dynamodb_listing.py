"""Reading runs back from the DynamoDB table: listings through the indexes (never a Scan), a run's whole
item collection in one Query."""

from __future__ import annotations

from typing import Any

from store import dynamodb_codec as codec
from store import dynamodb_layout as layout
from store.dynamodb_requests import DynamoTable
from store.models import RunFilter, RunHistory, RunRecord

QUERY_PAGE_LIMIT = 1000


def named_runs(table: DynamoTable, run_filter: RunFilter) -> list[RunRecord]:
    """The runs of run_filter.run_ids that its other filters select, ordered and cut as the indexes would list them
    (newest first by started_key): their run items by BatchGetItem, 100 a request."""
    run_ids = dict.fromkeys(run_filter.run_ids or ())
    since, until = run_filter.since, run_filter.until
    chosen: list[tuple[str, RunRecord]] = []
    for item in table.batch_get([layout.run_key(run_id) for run_id in run_ids]):
        run = codec.run_from_item(item)
        key = layout.started_key(run.started_at, run.run_id)
        if (
            all(getattr(run_filter, name) in (None, getattr(run, name)) for name in ("operation", "target", "status"))
            and (since is None or key >= since)
            and (until is None or key < until)
        ):
            chosen.append((key, run))
    chosen.sort(key=lambda keyed: keyed[0], reverse=True)
    return [run for _, run in chosen[: run_filter.limit]]


def listed_run_ids(table: DynamoTable, run_filter: RunFilter) -> list[str]:
    """Ids of the runs the filter selects, newest first, from the index that narrows most: by_target when a
    target is given, by_status when a status is, else by_started. `since` and `until` bound the sort key; the
    other filters are applied by DynamoDB to the index's projected attributes. Named runs (run_ids) are read by
    their keys instead."""
    if run_filter.run_ids is not None:
        return [run.run_id for run in named_runs(table, run_filter)]
    if run_filter.target is not None:
        index, hash_value = layout.INDEX_BY_NAME["by_target"], run_filter.target
    elif run_filter.status is not None:
        index, hash_value = layout.INDEX_BY_NAME["by_status"], run_filter.status
    else:
        index, hash_value = layout.INDEX_BY_NAME["by_started"], layout.LIST_PK_VALUE
    since, until = run_filter.since, run_filter.until
    if since is not None and until is not None and since >= until:
        return []  # an empty window (and DynamoDB refuses a BETWEEN whose bounds are reversed)
    names = {"#h": index.hash_key}
    values: dict[str, Any] = {":h": codec.s(hash_value)}
    condition = "#h = :h"
    # The sort key is `<started_at>#<run_id>`: '#' sorts before every character of an ISO time, so comparing it
    # with a time compares started_at, except that a run started exactly at `since` or `until` sorts after it.
    if since is not None or until is not None:
        names["#r"] = index.range_key
    if since is not None and until is not None:
        # One condition on the sort key only; BETWEEN includes its upper end, which only a key equal to
        # `until` itself can reach: it is dropped below.
        values[":since"], values[":until"] = codec.s(since), codec.s(until)
        condition += " AND #r BETWEEN :since AND :until"
    elif since is not None:
        values[":since"] = codec.s(since)
        condition += " AND #r >= :since"
    elif until is not None:
        values[":until"] = codec.s(until)
        condition += " AND #r < :until"
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
        # Without a filter every item read is a match: read no more than asked for.
        "Limit": QUERY_PAGE_LIMIT if filters else max(1, min(run_filter.limit, QUERY_PAGE_LIMIT)),
    }
    if filters:
        request["FilterExpression"] = " AND ".join(filters)
    run_ids: list[str] = []
    for page in table.query_pages(**request):
        run_ids.extend(
            layout.run_id_of(item[layout.PK]["S"])
            for item in page
            if until is None or item[index.range_key]["S"] < until
        )
        if len(run_ids) >= run_filter.limit:
            break
    return run_ids[: run_filter.limit]


def partition(table: DynamoTable, run_id: str, prefix: str = "") -> list[dict[str, Any]]:
    """The items of a run's collection (those whose sort key starts with prefix), in sort-key order."""
    if not prefix:
        return _collection(table, run_id, "")
    return _collection(table, run_id, " AND begins_with(#sk, :prefix)", {":prefix": codec.s(prefix)})


def partition_without_messages(table: DynamoTable, run_id: str) -> list[dict[str, Any]]:
    """A run's collection but its journal, which sorts last (dynamodb_layout): what a listing shows of a run."""
    return _collection(table, run_id, " AND #sk < :messages", {":messages": codec.s(layout.MESSAGE_PREFIX)})


def transitions_after(table: DynamoTable, run_id: str, after_seq: int) -> list[dict[str, Any]]:
    """The run's transition items with seq > after_seq, in seq order."""
    return _collection(table, run_id, " AND #sk BETWEEN :first AND :last", {
        ":first": codec.s(layout.transition_sk(after_seq + 1)), ":last": codec.s(layout.transition_sk(10**10 - 1)),
    })


def messages_after(table: DynamoTable, run_id: str, after_seq: int) -> list[dict[str, Any]]:
    """The run's message items with seq > after_seq, in seq order: every key above that message's is one."""
    return _collection(table, run_id, " AND #sk > :seen", {":seen": codec.s(layout.message_sk(after_seq))})


def _collection(
    table: DynamoTable, run_id: str, sort_key_condition: str, sort_key_values: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    names = {"#pk": layout.PK}
    values: dict[str, Any] = {":pk": codec.s(layout.run_pk(run_id)), **(sort_key_values or {})}
    condition = "#pk = :pk" + sort_key_condition
    if sort_key_condition:
        names["#sk"] = layout.SK
    return table.query(
        KeyConditionExpression=condition,
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
        ConsistentRead=True,
    )


def history_from(items: list[dict[str, Any]]) -> RunHistory | None:
    """A run's history from its whole item collection (None without its run item)."""
    run = [item for item in items if item[layout.SK]["S"] == layout.RUN_SK]
    if not run:
        return None
    return RunHistory(
        run=codec.run_from_item(run[0]),
        transitions=[codec.transition_from_item(i) for i in of_kind(items, layout.TRANSITION_PREFIX)],
        steps=[codec.step_from_item(i) for i in in_order(of_kind(items, layout.STEP_PREFIX))],
        items=[codec.item_from_item(i) for i in in_order(of_kind(items, layout.ITEM_PREFIX))],
        notes=[codec.note_from_item(i) for i in of_kind(items, layout.NOTE_PREFIX)],
        messages=[codec.message_from_item(i) for i in of_kind(items, layout.MESSAGE_PREFIX)],
    )


def note_tail(table: DynamoTable, run_id: str) -> tuple[bool, int]:
    """Whether the run exists, and the seq of its last note (0 for none), in one single-page Query: the keys
    from NOTE# to RUN, backwards, are the run item then the notes, newest first (dynamodb_layout)."""
    page = table.read(
        "Query",
        TableName=table.name,
        KeyConditionExpression="#pk = :pk AND #sk BETWEEN :first AND :run",
        ExpressionAttributeNames={"#pk": layout.PK, "#sk": layout.SK},
        ExpressionAttributeValues={
            ":pk": codec.s(layout.run_pk(run_id)),
            ":first": codec.s(layout.NOTE_PREFIX),
            ":run": codec.s(layout.RUN_SK),
        },
        ScanIndexForward=False,
        Limit=2,
        ProjectionExpression="#pk, #sk, seq",
        ConsistentRead=True,
    )
    found = page.get("Items", [])
    exists = any(item[layout.SK]["S"] == layout.RUN_SK for item in found)
    seqs = [int(item["seq"]["N"]) for item in found if item[layout.SK]["S"].startswith(layout.NOTE_PREFIX)]
    return exists, max(seqs, default=0)


def of_kind(items: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    return [item for item in items if item[layout.SK]["S"].startswith(prefix)]


def in_order(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Steps or items in the order they were first recorded."""
    return sorted(items, key=codec.order_of)
