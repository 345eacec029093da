"""The DynamoDB store's single-table layout: item kinds, their keys, the run-listing indexes, the schema.

Every run is one item collection (partition `RUN#<run_id>`), so one Query reads a run whole, and its
transitions come back in order because their sort keys carry the zero-padded sequence number:

    pk               sk                 item kind
    RUN#<run_id>     RUN                the run (state, version, facts, timers...; `tr_seq` = last seq)
    RUN#<run_id>     TR#<seq:010d>      one transition (seq from 1, shared by run and item transitions)
    RUN#<run_id>     STEP#<name>        one step (intent, then outcome)
    RUN#<run_id>     ITEM#<item_id>     one item (e.g. a container instance being replaced)
    RUN#<run_id>     NOTE#<seq:010d>    one note (append-only, unfenced: `ecsops approve`; seq from 1)
    RUN#<run_id>     ~MSG#<seq:010d>    one line of the driver's journal (append-only, fenced; seq from 1)
    LOCK#<target>    LOCK               the target's lock (run_id, owner, token, expires_at)
    META             META               the layout version, written by `ecsops store init`

Sort keys order a collection ITEM# < NOTE# < RUN < STEP# < TR# < ~MSG#, so one Query of the keys between NOTE# and
RUN, backwards, reads the run item and the run's last note: whether the run exists and the seq a new note takes.
Messages sort last ('~' after every letter): a listing reads a run's collection without its journal, which may
hold thousands of lines, with one key condition (below ~), and a follower reads the lines after the last it saw
with another (above ~MSG#<seq>).

Listing runs never scans: only run items carry `started_key` (`<started_at>#<run_id>`), so three sparse
global secondary indexes hold runs alone, newest first by `started_key`:

    by_started   hash list_pk (always "RUNS")   range started_key   (every run; operation is a filter)
    by_target    hash target                    range started_key   (runs of one service or group)
    by_status    hash status                    range started_key   (the runs of one status)

They project only the attributes a listing filters on, so a checkpoint (state, version, timestamps)
writes no index; only a run's creation and its status changes do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

LAYOUT_VERSION = 1
PK = "pk"
SK = "sk"
RUN_SK = "RUN"
LOCK_SK = "LOCK"
TRANSITION_PREFIX = "TR#"
STEP_PREFIX = "STEP#"
ITEM_PREFIX = "ITEM#"
NOTE_PREFIX = "NOTE#"
MESSAGE_PREFIX = "~MSG#"
LIST_PK = "list_pk"
LIST_PK_VALUE = "RUNS"
STARTED_KEY = "started_key"
WRITE_MARK = "w"  # id of the last logical write to this item: how an unknown outcome is settled
TRANSITION_SEQ = "tr_seq"
ORDER = "ord"  # insertion order of steps and items (SQLite keeps rowid order)

Key = dict[str, dict[str, str]]


def _key(pk: str, sk: str) -> Key:
    return {PK: {"S": pk}, SK: {"S": sk}}


def run_pk(run_id: str) -> str:
    return f"RUN#{run_id}"


def run_id_of(pk: str) -> str:
    return pk.removeprefix("RUN#")


def run_key(run_id: str) -> Key:
    return _key(run_pk(run_id), RUN_SK)


def transition_key(run_id: str, seq: int) -> Key:
    return _key(run_pk(run_id), transition_sk(seq))


def step_key(run_id: str, name: str) -> Key:
    return _key(run_pk(run_id), f"{STEP_PREFIX}{name}")


def item_key(run_id: str, item_id: str) -> Key:
    return _key(run_pk(run_id), f"{ITEM_PREFIX}{item_id}")


def note_key(run_id: str, seq: int) -> Key:
    return _key(run_pk(run_id), f"{NOTE_PREFIX}{seq:010d}")


def message_sk(seq: int) -> str:
    return f"{MESSAGE_PREFIX}{seq:010d}"


def message_key(run_id: str, seq: int) -> Key:
    return _key(run_pk(run_id), message_sk(seq))


def transition_sk(seq: int) -> str:
    return f"{TRANSITION_PREFIX}{seq:010d}"


def lock_key(target: str) -> Key:
    return _key(f"LOCK#{target}", LOCK_SK)


META_KEY: Key = _key("META", "META")


def started_key(started_at: str, run_id: str) -> str:
    return f"{started_at}#{run_id}"


@dataclass(frozen=True)
class IndexSpec:
    name: str
    hash_key: str
    projected: tuple[str, ...]
    range_key: str = STARTED_KEY


INDEXES: tuple[IndexSpec, ...] = (
    IndexSpec("by_started", LIST_PK, ("operation", "target", "status")),
    IndexSpec("by_target", "target", ("operation", "status")),
    IndexSpec("by_status", "status", ("operation", "target")),
)
INDEX_BY_NAME = {index.name: index for index in INDEXES}


def key_schema() -> list[dict[str, str]]:
    return [{"AttributeName": PK, "KeyType": "HASH"}, {"AttributeName": SK, "KeyType": "RANGE"}]


def attribute_definitions() -> list[dict[str, str]]:
    names = [PK, SK, LIST_PK, STARTED_KEY, "target", "status"]
    return [{"AttributeName": name, "AttributeType": "S"} for name in names]


def index_definitions() -> list[dict[str, Any]]:
    return [
        {
            "IndexName": index.name,
            "KeySchema": [
                {"AttributeName": index.hash_key, "KeyType": "HASH"},
                {"AttributeName": index.range_key, "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(index.projected)},
        }
        for index in INDEXES
    ]


def schema_differences(table: dict[str, Any]) -> list[str]:
    """What in a DescribeTable answer differs from this layout (empty when it matches)."""
    differences: list[str] = []
    keys = {(k["AttributeName"], k["KeyType"]) for k in table.get("KeySchema", [])}
    if keys != {(k["AttributeName"], k["KeyType"]) for k in key_schema()}:
        described = ", ".join(f"{name} ({kind})" for name, kind in sorted(keys, key=lambda k: k[1]))
        differences.append(f"its key is {described or 'unknown'}, ecsops needs pk (HASH) and sk (RANGE)")
    types = {a["AttributeName"]: a["AttributeType"] for a in table.get("AttributeDefinitions", [])}
    for definition in attribute_definitions():
        name = definition["AttributeName"]
        if name in types and types[name] != "S":
            differences.append(f"attribute {name} is of type {types[name]}, ecsops needs S (string)")
    found_indexes = {index["IndexName"]: index for index in table.get("GlobalSecondaryIndexes", [])}
    for index in INDEXES:
        found: dict[str, Any] | None = found_indexes.get(index.name)
        if found is None:
            differences.append(f"global secondary index {index.name} is missing")
            continue
        index_keys = {(k["AttributeName"], k["KeyType"]) for k in found.get("KeySchema", [])}
        if index_keys != {(index.hash_key, "HASH"), (index.range_key, "RANGE")}:
            differences.append(
                f"index {index.name} is keyed on {sorted(name for name, _ in index_keys)}, "
                f"ecsops needs {index.hash_key} (HASH) and {index.range_key} (RANGE)"
            )
        projection = found.get("Projection", {})
        projected = set(projection.get("NonKeyAttributes", []))
        if projection.get("ProjectionType") != "ALL" and not set(index.projected) <= projected:
            missing = sorted(set(index.projected) - projected)
            differences.append(f"index {index.name} does not project {', '.join(missing)}")
    return differences
