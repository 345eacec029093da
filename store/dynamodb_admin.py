"""`ecsops store init` for DynamoDB: create the table or verify an existing one; the check made on open."""

from __future__ import annotations

import time
from typing import Any

from store import dynamodb_layout as layout
from store.clock import utc_now_iso
from store.dynamodb_requests import DynamoTable, WriteRefused, new_write_id
from store.errors import StoreOpenError

ACTIVE_WAIT_SECONDS = 600.0
ACTIVE_POLL_SECONDS = 2.0


def check_layout(table: DynamoTable) -> None:
    """Refuse a table that is missing, keyed otherwise, not set up by `store init`, or of a newer layout."""
    meta = table.get(layout.META_KEY)
    if meta is None:
        raise StoreOpenError(
            f"{table.where()} exists but was not set up for ecsops; run "
            f"`ecsops store init --store {table.location.url()}` (it checks the table's schema first)"
        )
    version = int(meta.get("layout", {}).get("N", "0"))
    if version > layout.LAYOUT_VERSION:
        raise StoreOpenError(
            f"{table.where()} was set up by a newer ecsops (layout {version}, this one knows "
            f"{layout.LAYOUT_VERSION}); upgrade ecsops to use it. Nothing was changed."
        )


def init_table(table: DynamoTable, *, sleep: Any = time.sleep) -> list[str]:
    """Create the table (on-demand, deletion protection, point-in-time recovery) or verify the existing one.

    Idempotent. Returns one line per thing found or done. Raises StoreOpenError when the table has another
    schema (naming what differs) or an action is denied (naming it).
    """
    done: list[str] = []
    description = _describe(table)
    if description is None:
        _call(table, "CreateTable", **_create_request(table.name))
        done.append(
            f"created table {table.name} in {table.region}: on-demand billing, deletion protection on, "
            f"key pk/sk, indexes {', '.join(index.name for index in layout.INDEXES)}"
        )
        description = _wait_active(table, sleep)
    else:
        differences = layout.schema_differences(description)
        if differences:
            raise StoreOpenError(
                f"{table.where()} exists with another schema: {'; '.join(differences)}. "
                "Nothing was changed; choose another table name for ecsops"
            )
        done.append(f"table {table.name} in {table.region} exists with the expected key and indexes")
        if description.get("TableStatus") != "ACTIVE":
            description = _wait_active(table, sleep)
        if not description.get("DeletionProtectionEnabled", False):
            _call(table, "UpdateTable", TableName=table.name, DeletionProtectionEnabled=True)
            done.append("turned deletion protection on")
    backups = _call(table, "DescribeContinuousBackups", TableName=table.name)["ContinuousBackupsDescription"]
    recovery = backups.get("PointInTimeRecoveryDescription", {}).get("PointInTimeRecoveryStatus")
    if recovery != "ENABLED":
        _call(
            table,
            "UpdateContinuousBackups",
            TableName=table.name,
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
        )
        done.append("turned point-in-time recovery on")
    done.append(_record_layout(table))
    return done


def _call(table: DynamoTable, operation: str, **request: Any) -> dict[str, Any]:
    try:
        return table.admin(operation, **request)
    except Exception as exc:
        raise table.translate(exc, operation) from exc


def _describe(table: DynamoTable) -> dict[str, Any] | None:
    from botocore.exceptions import ClientError

    try:
        found: dict[str, Any] = table.admin("DescribeTable", TableName=table.name)["Table"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return None
        raise table.translate(exc, "DescribeTable") from exc
    except Exception as exc:
        raise table.translate(exc, "DescribeTable") from exc
    return found


def _create_request(name: str) -> dict[str, Any]:
    return {
        "TableName": name,
        "KeySchema": layout.key_schema(),
        "AttributeDefinitions": layout.attribute_definitions(),
        "GlobalSecondaryIndexes": layout.index_definitions(),
        "BillingMode": "PAY_PER_REQUEST",
        "DeletionProtectionEnabled": True,
        "Tags": [{"Key": "ecsops:layout", "Value": str(layout.LAYOUT_VERSION)}],
    }


def _wait_active(table: DynamoTable, sleep: Any) -> dict[str, Any]:
    """Until the table and its indexes are ACTIVE (seconds on AWS, at once on the simulator)."""
    deadline = time.monotonic() + ACTIVE_WAIT_SECONDS
    while True:
        description = _describe(table)
        if description is None:
            raise StoreOpenError(f"{table.where()} disappeared while it was being created")
        indexes = description.get("GlobalSecondaryIndexes", [])
        if description.get("TableStatus") == "ACTIVE" and all(
            index.get("IndexStatus", "ACTIVE") == "ACTIVE" for index in indexes
        ):
            return description
        if time.monotonic() > deadline:
            raise StoreOpenError(f"{table.where()} is still {description.get('TableStatus')}; run init again later")
        sleep(ACTIVE_POLL_SECONDS)


def _record_layout(table: DynamoTable) -> str:
    """The META item that every other command checks on open."""
    meta = table.get(layout.META_KEY)
    if meta is not None:
        version = int(meta.get("layout", {}).get("N", "0"))
        if version > layout.LAYOUT_VERSION:
            raise StoreOpenError(
                f"{table.where()} was set up by a newer ecsops (layout {version}); upgrade ecsops to use it"
            )
        return f"layout version {version} already recorded; nothing else to do"
    write_id = new_write_id()
    request = {
        "TableName": table.name,
        "Item": {
            **layout.META_KEY,
            "layout": {"N": str(layout.LAYOUT_VERSION)},
            "created_at": {"S": utc_now_iso()},
            layout.WRITE_MARK: {"S": write_id},
        },
        "ConditionExpression": "attribute_not_exists(pk)",
    }
    try:
        table.write("PutItem", request, applied=lambda: table.get(layout.META_KEY) is not None)
    except WriteRefused:
        return f"layout version {layout.LAYOUT_VERSION} already recorded by another init"
    return f"recorded layout version {layout.LAYOUT_VERSION}; the table is ready"
