"""Locks of the DynamoDB store: one item per target, taken by compare-and-swap, and the fence check that
every fenced write carries."""

from __future__ import annotations

from typing import Any

from store import dynamodb_codec as codec
from store import dynamodb_layout as layout
from store.clock import utc_now_iso
from store.dynamodb_requests import DynamoTable, WriteRefused, new_write_id
from store.errors import LockHeldError, LockLostError
from store.lock_decision import LockDecision, LockRequest, Verdict, decide_lock, refusal
from store.models import Fence, LockRecord

ACQUIRE_ATTEMPTS = 5
FINISHED_AT = "finished_at"  # the run item's attribute that is there once the run has finished


def fence_condition(
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


def fence_check(table: str, fence: Fence) -> dict[str, Any]:
    """The transaction action proving the fence holds."""
    return {
        "ConditionCheck": {
            "TableName": table,
            "Key": layout.lock_key(fence.target),
            **fence_condition(fence),
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
    }


def fence_release(table: str, fence: Fence) -> dict[str, Any]:
    """The transaction action that proves the fence holds and frees the lock (a run's last checkpoint)."""
    return {
        "Update": {
            "TableName": table,
            "Key": layout.lock_key(fence.target),
            "UpdateExpression": "SET #expires = :zero REMOVE #owner, #acquired, #run_id",
            **fence_condition(
                fence,
                extra_names={"#expires": "expires_at", "#owner": "owner", "#acquired": "acquired_at"},
                extra_values={":zero": codec.n(0)},
            ),
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
    }


class DynamoLocks:
    """The lock items of one table."""

    def __init__(self, table: DynamoTable, skew_margin_seconds: float) -> None:
        self._table = table
        self.skew_margin_seconds = skew_margin_seconds

    def _marked(self, key: dict[str, Any], write_id: str) -> bool:
        item = self._table.get(key)
        return item is not None and item.get(layout.WRITE_MARK, {}).get("S") == write_id

    def get(self, target: str) -> LockRecord | None:
        item = self._table.get(layout.lock_key(target))
        return codec.lock_from_item(item) if item is not None else None

    def lost(self, fence: Fence, item: dict[str, Any] | None) -> LockLostError:
        """The error for a fence found not to hold; item is the lock as the refusal returned it, if it did."""
        lock = codec.lock_from_item(item) if item else self.get(fence.target)
        return LockLostError(
            fence.target,
            fence.run_id,
            fence.token,
            holder_run_id=None if lock is None else lock.run_id,
            holder_owner=None if lock is None else lock.owner,
        )

    # ---- acquiring --------------------------------------------------------------------------------------
    def acquire(
        self, target: str, run_id: str, owner: str, lease_seconds: float, *, now: float, replace_owner: str | None
    ) -> LockRecord:
        """A lock nobody holds is free whatever the request (decide_lock), so that is tried first: one conditional
        update (the usual case: one request). If it is held, decide from what the refusal returned, then write
        what was decided conditioned on the lock being exactly as seen (compare and swap); a lock that moved in
        between is read and decided again."""
        expires_at = float(now + lease_seconds)
        request = LockRequest(run_id, owner, replace_owner)
        try:
            return self._take_free(target, run_id, owner, expires_at)
        except WriteRefused as refused:
            seen = refused.item(0)
        lock = codec.lock_from_item(seen) if seen else self.get(target)
        for _ in range(ACQUIRE_ATTEMPTS):
            decision = self._decide(lock, request, now)
            if decision.verdict is Verdict.REFUSE:
                assert lock is not None
                raise refusal(lock, request)
            taken = LockRecord(
                target=target,
                run_id=run_id,
                owner=owner,
                token=decision.token(lock),
                acquired_at=(
                    lock.acquired_at if decision.verdict is Verdict.RENEW and lock is not None else utc_now_iso()
                ),
                expires_at=expires_at,
            )
            try:
                self._swap(lock, taken, decision)
            except WriteRefused:
                lock = self.get(target)
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
        response = self._table.write("UpdateItem", request, applied=lambda: self._marked(key, write_id))
        if "Attributes" in response:
            return codec.lock_from_item(response["Attributes"])
        lock = self.get(target)  # the answer was lost; the read that settled it says it took effect
        assert lock is not None
        return lock

    def _decide(self, lock: LockRecord | None, request: LockRequest, now: float) -> LockDecision:
        return decide_lock(
            lock, request, now=now, skew_margin_seconds=self.skew_margin_seconds,
            holder_finished=self._finished_or_absent,
        )

    def _finished_or_absent(self, run_id: str) -> bool:
        """Whether the run has finished (its finished_at is set) or does not exist.

        A finished run's item always has finished_at: every ecsops wrote it in the same write that gave a run a
        final status (the SQLite store's m005 mends rows written otherwise; no DynamoDB item was written without
        ecsops), and `store copy` copies runs as they are.
        """
        holder = self._table.get(layout.run_key(run_id))
        return holder is None or FINISHED_AT in holder

    def _swap(self, seen: LockRecord | None, taken: LockRecord, decision: LockDecision) -> None:
        """Write taken, only if the lock is still exactly seen."""
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
        put: dict[str, Any] = {"TableName": self._table.name, "Item": item, **_unchanged(seen)}
        key = layout.lock_key(taken.target)
        if decision.holder_finished and seen is not None and seen.run_id is not None:
            # The holder's run must still be finished (or absent) when the lock changes hands.
            holder_check = {
                "ConditionCheck": {
                    "TableName": self._table.name,
                    "Key": layout.run_key(seen.run_id),
                    "ConditionExpression": "attribute_not_exists(pk) OR attribute_exists(#finished)",
                    "ExpressionAttributeNames": {"#finished": FINISHED_AT},
                }
            }
            self._table.write(
                "TransactWriteItems",
                {"TransactItems": [{"Put": put}, holder_check]},
                applied=lambda: self._marked(key, write_id),
            )
            return
        self._table.write("PutItem", put, applied=lambda: self._marked(key, write_id))

    # ---- holding and letting go -------------------------------------------------------------------------------
    def renew(self, fence: Fence, owner: str, lease_seconds: float, *, now: float) -> LockRecord:
        write_id = new_write_id()
        key = layout.lock_key(fence.target)
        request = {
            "TableName": self._table.name,
            "Key": key,
            "UpdateExpression": "SET #expires = :expires, #owner = :new_owner, #w = :w",
            **fence_condition(
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
            response = self._table.write("UpdateItem", request, applied=lambda: self._marked(key, write_id))
        except WriteRefused as refused:
            raise self.lost(fence, refused.item(0)) from None
        if "Attributes" in response:
            return codec.lock_from_item(response["Attributes"])
        lock = self.get(fence.target)
        assert lock is not None
        return lock

    def release(self, fence: Fence) -> None:
        self._free(layout.lock_key(fence.target), fence_condition(fence), raise_token=False)

    def break_(self, target: str, run_id: str) -> None:
        condition = {
            "ConditionExpression": "#run_id = :holder",
            "ExpressionAttributeNames": {"#run_id": "run_id"},
            "ExpressionAttributeValues": {":holder": codec.s(run_id)},
        }
        self._free(layout.lock_key(target), condition, raise_token=True)

    def _free(self, key: dict[str, Any], condition: dict[str, Any], *, raise_token: bool) -> None:
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
            self._table.write("UpdateItem", request, applied=lambda: self._marked(key, write_id))
        except WriteRefused:
            return  # not held as asked: nothing to free


def _unchanged(seen: LockRecord | None) -> dict[str, Any]:
    """The condition that the lock item is still exactly as seen (or still absent)."""
    if seen is None:
        return {"ConditionExpression": "attribute_not_exists(pk)"}
    names = {"#token": "token", "#run_id": "run_id", "#expires": "expires_at", "#owner": "owner"}
    values: dict[str, Any] = {":token": codec.n(seen.token), ":expires": codec.n(seen.expires_at)}
    condition = "#token = :token AND #expires = :expires"
    for name, value in (("run_id", seen.run_id), ("owner", seen.owner)):
        if value is None:
            condition += f" AND attribute_not_exists(#{name})"
        else:
            condition += f" AND #{name} = :{name}"
            values[f":{name}"] = codec.s(value)
    return {"ConditionExpression": condition, "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}
