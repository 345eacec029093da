"""Records to DynamoDB items and back; structured fields as JSON, compressed when large; item sizes.

Structured fields (params, facts, a step's request and result...) are stored as the same sorted JSON the
SQLite backend writes. Above COMPRESS_ABOVE bytes they are zlib-compressed into a binary attribute: a
task definition near ECS's 64 KB limit appears in a run's facts and twice in its register step (request
and result), and compression keeps those items far below DynamoDB's 400 KB and their write units low.
"""

from __future__ import annotations

import json
import math
import zlib
from dataclasses import fields
from typing import Any

from store import dynamodb_layout as layout
from store.errors import StoreWriteError
from store.models import ItemRecord, LockRecord, Record, RunMessage, RunNote, RunRecord, StepRecord, TransitionRecord

COMPRESS_ABOVE = 2048
MAX_ITEM_BYTES = 400 * 1024
RUN_JSON_FIELDS = frozenset({"params", "facts", "timers", "ci"})
STEP_JSON_FIELDS = frozenset({"request", "result", "error"})
ITEM_JSON_FIELDS = frozenset({"data"})

Item = dict[str, dict[str, Any]]


# ---- attribute values -------------------------------------------------------------------------------
def s(value: str) -> dict[str, Any]:
    return {"S": value}


def n(value: float) -> dict[str, Any]:
    return {"N": repr(value) if isinstance(value, float) else str(value)}


def encode_json(value: Any) -> dict[str, Any]:
    text = json.dumps(value, sort_keys=True, default=str)
    if len(text) > COMPRESS_ABOVE:
        return {"B": zlib.compress(text.encode(), 6)}
    return {"S": text}


def decode_json(value: dict[str, Any]) -> Any:
    if "B" in value:
        return json.loads(zlib.decompress(bytes(value["B"])).decode())
    return json.loads(value["S"])


def scalar(value: dict[str, Any]) -> Any:
    if "S" in value:
        return value["S"]
    if "N" in value:
        text = value["N"]
        return int(text) if text.lstrip("-").isdigit() else float(text)
    if "NULL" in value:
        return None
    if "BOOL" in value:
        return bool(value["BOOL"])
    raise ValueError(f"unexpected attribute value {sorted(value)}")


def encode_field(name: str, value: Any, json_fields: frozenset[str]) -> dict[str, Any] | None:
    """One record field as an attribute value; None means "leave the attribute out" (a None scalar)."""
    if name in json_fields:
        return encode_json(value)
    if value is None:
        return None
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | float):
        return n(value)
    return s(str(value))


def _fields(record: Record, json_fields: frozenset[str]) -> Item:
    item: Item = {}
    for declared in fields(record):
        encoded = encode_field(declared.name, getattr(record, declared.name), json_fields)
        if encoded is not None:
            item[declared.name] = encoded
    return item


def _values(item: Item, model: type[Record], json_fields: frozenset[str]) -> dict[str, Any]:
    """The record's fields present in the item (an item also carries its keys and layout attributes)."""
    values: dict[str, Any] = {}
    for declared in fields(model):
        name = declared.name
        if name in item:
            values[name] = decode_json(item[name]) if name in json_fields else scalar(item[name])
    return values


# ---- runs -------------------------------------------------------------------------------------------
def run_item(run: RunRecord, *, transition_seq: int, write_id: str) -> Item:
    item = {**layout.run_key(run.run_id), **_fields(run, RUN_JSON_FIELDS)}
    item[layout.LIST_PK] = s(layout.LIST_PK_VALUE)
    item[layout.STARTED_KEY] = s(layout.started_key(run.started_at, run.run_id))
    item[layout.TRANSITION_SEQ] = n(transition_seq)
    item[layout.WRITE_MARK] = s(write_id)
    return item


def run_from_item(item: Item) -> RunRecord:
    return RunRecord.from_dict(_values(item, RunRecord, RUN_JSON_FIELDS))


def transition_seq(item: Item) -> int:
    return int(item[layout.TRANSITION_SEQ]["N"]) if layout.TRANSITION_SEQ in item else 0


# ---- transitions, steps, items, notes ---------------------------------------------------------------------
def transition_item(transition: TransitionRecord) -> Item:
    return {**layout.transition_key(transition.run_id, transition.seq), **_fields(transition, frozenset())}


def transition_from_item(item: Item) -> TransitionRecord:
    return TransitionRecord.from_dict(_values(item, TransitionRecord, frozenset()))


def step_item(step: StepRecord, *, order: int, write_id: str) -> Item:
    item = {**layout.step_key(step.run_id, step.name), **_fields(step, STEP_JSON_FIELDS)}
    item[layout.ORDER] = n(order)
    item[layout.WRITE_MARK] = s(write_id)
    return item


def step_from_item(item: Item) -> StepRecord:
    return StepRecord.from_dict(_values(item, StepRecord, STEP_JSON_FIELDS))


def item_item(record: ItemRecord, *, order: int, write_id: str) -> Item:
    item = {**layout.item_key(record.run_id, record.item_id), **_fields(record, ITEM_JSON_FIELDS)}
    item[layout.ORDER] = n(order)
    item[layout.WRITE_MARK] = s(write_id)
    return item


def item_from_item(item: Item) -> ItemRecord:
    return ItemRecord.from_dict(_values(item, ItemRecord, ITEM_JSON_FIELDS))


def note_item(note: RunNote, *, write_id: str) -> Item:
    item = {**layout.note_key(note.run_id, note.seq), **_fields(note, frozenset())}
    item[layout.WRITE_MARK] = s(write_id)
    return item


def note_from_item(item: Item) -> RunNote:
    return RunNote.from_dict(_values(item, RunNote, frozenset()))


def message_item(message: RunMessage) -> Item:
    return {**layout.message_key(message.run_id, message.seq), **_fields(message, frozenset())}


def message_from_item(item: Item) -> RunMessage:
    return RunMessage.from_dict(_values(item, RunMessage, frozenset()))


def order_of(item: Item) -> int:
    return int(item[layout.ORDER]["N"]) if layout.ORDER in item else 0


# ---- locks --------------------------------------------------------------------------------------------
def lock_from_item(item: Item) -> LockRecord:
    values = _values(item, LockRecord, frozenset())
    values.setdefault("run_id", None)
    values.setdefault("owner", None)
    values.setdefault("acquired_at", None)
    values["expires_at"] = float(values.get("expires_at", 0.0))
    return LockRecord.from_dict(values)


# ---- sizes --------------------------------------------------------------------------------------------
def _value_size(value: dict[str, Any]) -> int:
    (kind, content), = value.items()
    if kind == "S":
        return len(content.encode())
    if kind == "B":
        return len(content)
    if kind == "N":
        return math.ceil(len(content.lstrip("-").replace(".", "")) / 2) + 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + 1 + _value_size(v) for k, v in content.items())
    if kind == "L":
        return 3 + sum(1 + _value_size(v) for v in content)
    return 1


def item_size(item: Item) -> int:
    """Bytes as DynamoDB counts them: attribute names plus values."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def check_size(item: Item, what: str) -> None:
    """Refuse before sending an item DynamoDB would reject (400 KB), saying which record is too big."""
    size = item_size(item)
    if size > MAX_ITEM_BYTES:
        raise StoreWriteError(
            f"{what} is {size // 1024} KB once encoded, over DynamoDB's 400 KB item limit; nothing was written"
        )
