"""The requests of one DynamoDB table: reads retried by botocore, writes retried here and settled by reading.

Reads are idempotent, so botocore's standard retries (throttling, 5xx, dropped connections) are used
as they are. Writes are sent by a client whose retries are off: a write whose answer was lost (a 500
after it took effect, a reset connection, a timeout) must not be blindly sent again. `write` instead:

- on throttling or a transaction conflict (the write was refused, so it did not happen): waits with
  exponential backoff and sends it again;
- on an unknown outcome: waits, then READS the written item back (consistent read) and asks whether it
  carries this write's id (`w`); only if it does not is the write sent again, under the same
  ClientRequestToken (DynamoDB's 10-minute idempotency window for TransactWriteItems);
- every write is conditional (versions, attribute_not_exists, the lock's token), so even a resend that
  crossed its own first attempt is refused instead of applied twice, and that refusal is settled by the
  same read.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from store.errors import StoreError, StoreOpenError, StoreWriteError
from store.location import DynamoLocation

READ_MAX_ATTEMPTS = 10
WRITE_MAX_ATTEMPTS = 8
BACKOFF_BASE_SECONDS = 0.05
BACKOFF_CAP_SECONDS = 5.0
THROTTLED = frozenset(
    {
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "TransactionConflictException",
        "LimitExceededException",
    }
)
# Answers after which the write may or may not have happened (besides any HTTP 5xx).
OUTCOME_UNKNOWN = frozenset({"InternalServerError", "ServiceUnavailable", "TransactionInProgressException"})
ACCESS_DENIED = frozenset({"AccessDeniedException", "AccessDenied", "UnrecognizedClientException"})

Sleep = Callable[[float], None]


class WriteRefused(Exception):
    """A conditional write or transaction was refused; `reasons` are its cancellation reasons."""

    def __init__(self, code: str, reasons: list[dict[str, Any]], old_item: dict[str, Any] | None) -> None:
        super().__init__(code)
        self.code = code
        self.reasons = reasons
        self.old_item = old_item

    def failed(self, index: int) -> bool:
        """Did the action at index (of a transaction) fail its condition?"""
        if not self.reasons:
            return index == 0
        return index < len(self.reasons) and self.reasons[index].get("Code") == "ConditionalCheckFailed"

    def item(self, index: int) -> dict[str, Any] | None:
        """The item as it was when the action at index failed (when DynamoDB returned it)."""
        if not self.reasons:
            return self.old_item if index == 0 else None
        return self.reasons[index].get("Item") if index < len(self.reasons) else None


@dataclass
class Usage:
    """What this process asked of DynamoDB: requests by operation. (What writes cost is measured from outside
    the store: devtools/dynamodb_units.py.)"""

    requests: Counter[str] = field(default_factory=Counter)

    def total_requests(self) -> int:
        return sum(self.requests.values())


PROCESS_USAGE = Usage()  # every table of this process together
_USAGE_LOCK = threading.Lock()


class DynamoTable:
    """One table of one account and region; the store's only door to DynamoDB."""

    def __init__(self, location: DynamoLocation, *, sleep: Sleep | None = None) -> None:
        self.location = location
        self.name = location.table
        self._sleep: Sleep = sleep or time.sleep
        self.usage = Usage()
        self.region, self._reader, self._writer = _clients(location)

    def _count(self, operation: str) -> None:
        with _USAGE_LOCK:
            self.usage.requests[operation] += 1
            PROCESS_USAGE.requests[operation] += 1

    # ---- errors -------------------------------------------------------------------------------------
    def where(self) -> str:
        return f"DynamoDB table {self.name} ({self.region})"

    def _translate(self, exc: Exception, operation: str) -> StoreError:
        """A store error naming the table and what to do, for a failure that retries did not cure."""
        from botocore.exceptions import ClientError, NoCredentialsError

        if isinstance(exc, NoCredentialsError):
            return StoreOpenError(f"{self.where()}: no AWS credentials found (profile, environment or SSO)")
        if isinstance(exc, ClientError):
            code = exc.response.get("Error", {}).get("Code", "")
            message = exc.response.get("Error", {}).get("Message", "")
            if code == "ResourceNotFoundException":
                return StoreOpenError(
                    f"{self.where()} does not exist; create it with "
                    f"`ecsops store init --store {self.location.url()}`"
                )
            if code in ACCESS_DENIED:
                return StoreOpenError(
                    f"not allowed to call dynamodb:{operation} on table {self.name} ({self.region}): {message}; "
                    "grant it (README: IAM policy of the DynamoDB store)"
                )
            if code == "ValidationException" and "key element does not match the schema" in message:
                return StoreOpenError(
                    f"{self.where()} has another key schema than ecsops's (pk, sk); "
                    f"check it with `ecsops store init --store {self.location.url()}` or choose another table"
                )
            return StoreError(f"{self.where()}: dynamodb:{operation} failed: {code}: {message}")
        return StoreError(f"{self.where()}: dynamodb:{operation} failed: {type(exc).__name__}: {exc}")

    # ---- reads --------------------------------------------------------------------------------------
    def read(self, operation: str, **request: Any) -> dict[str, Any]:
        """One read request (botocore retries throttling, 5xx and dropped connections)."""
        self._count(operation)
        try:
            response: dict[str, Any] = getattr(self._reader, _method(operation))(**request)
        except Exception as exc:
            raise self._translate(exc, operation) from exc
        return response

    def get(self, key: dict[str, Any], *, consistent: bool = True) -> dict[str, Any] | None:
        response = self.read("GetItem", TableName=self.name, Key=key, ConsistentRead=consistent)
        item: dict[str, Any] | None = response.get("Item")
        return item

    def query_pages(self, **request: Any) -> Iterator[list[dict[str, Any]]]:
        """Pages of a Query, following LastEvaluatedKey."""
        start: dict[str, Any] | None = None
        while True:
            page = self.read("Query", TableName=self.name, **request, **({"ExclusiveStartKey": start} if start else {}))
            yield page.get("Items", [])
            start = page.get("LastEvaluatedKey")
            if not start:
                return

    def query(self, **request: Any) -> list[dict[str, Any]]:
        return [item for page in self.query_pages(**request) for item in page]

    def batch_get(self, keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Items by key, 100 a request, unprocessed keys asked again (order not kept)."""
        found: list[dict[str, Any]] = []
        pending = list(keys)
        attempt = 0
        while pending:
            chunk, pending = pending[:100], pending[100:]
            response = self.read("BatchGetItem", RequestItems={self.name: {"Keys": chunk, "ConsistentRead": True}})
            found.extend(response.get("Responses", {}).get(self.name, []))
            unprocessed = response.get("UnprocessedKeys", {}).get(self.name, {}).get("Keys", [])
            if unprocessed:
                attempt += 1
                self._backoff(attempt)
                pending = unprocessed + pending
        return found

    def batch_write(self, items: list[dict[str, Any]]) -> None:
        """Unconditional puts, 25 a request, unprocessed ones sent again: only for items whose content is
        final and whose run item is written after them (store copy, bench loading)."""
        pending = [{"PutRequest": {"Item": item}} for item in items]
        attempt = 0
        while pending:
            chunk, pending = pending[:25], pending[25:]
            response = self.read("BatchWriteItem", RequestItems={self.name: chunk})
            unprocessed = response.get("UnprocessedItems", {}).get(self.name, [])
            if unprocessed:
                attempt += 1
                self._backoff(attempt)
                pending = unprocessed + pending

    # ---- writes -------------------------------------------------------------------------------------
    def write(
        self,
        operation: str,
        request: dict[str, Any],
        *,
        applied: Callable[[], bool],
    ) -> dict[str, Any]:
        """Send a conditional write once in effect; see the module docstring.

        `applied` reads the written item back and tells whether this write took effect. Raises
        WriteRefused when a condition failed (and the write is known not to be ours), StoreWriteError when
        DynamoDB kept refusing or stayed unreachable.
        """
        from botocore.exceptions import BotoCoreError, ClientError

        if operation == "TransactWriteItems":
            request = {"ClientRequestToken": uuid.uuid4().hex, **request}
        outcome_unknown = False
        last_error = ""
        for attempt in range(1, WRITE_MAX_ATTEMPTS + 1):
            if outcome_unknown and applied():
                return {}
            self._count(operation)
            try:
                response: dict[str, Any] = getattr(self._writer, _method(operation))(**request)
            except ClientError as exc:
                answer: dict[str, Any] = dict(exc.response)
                code = answer.get("Error", {}).get("Code", "")
                status = answer.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
                last_error = f"{code or status}"
                if code in ("ConditionalCheckFailedException", "TransactionCanceledException"):
                    reasons: list[dict[str, Any]] = answer.get("CancellationReasons", [])
                    if code == "TransactionCanceledException" and _conflict_only(reasons):
                        self._backoff(attempt)
                        continue
                    if outcome_unknown and applied():
                        return {}
                    raise WriteRefused(code, reasons, answer.get("Item")) from exc
                if code in THROTTLED:
                    self._backoff(attempt)
                    continue
                if status >= 500 or code in OUTCOME_UNKNOWN:
                    outcome_unknown = True
                    self._backoff(attempt)
                    continue
                raise _as_write_error(self._translate(exc, operation)) from exc
            except BotoCoreError as exc:
                from botocore.exceptions import NoCredentialsError

                if isinstance(exc, NoCredentialsError):
                    raise self._translate(exc, operation) from exc
                # Reset, timeout, refused connection: the request may or may not have been applied.
                last_error = type(exc).__name__
                outcome_unknown = True
                self._backoff(attempt)
                continue
            return response
        if outcome_unknown and applied():
            return {}
        raise StoreWriteError(
            f"{self.where()}: dynamodb:{operation} failed {WRITE_MAX_ATTEMPTS} times ({last_error}); "
            "nothing more was written, the last committed state stays valid"
        )

    def _backoff(self, attempt: int) -> None:
        ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempt - 1))
        self._sleep(random.uniform(ceiling / 2, ceiling))

    # ---- administration (store init) ---------------------------------------------------------------------
    def admin(self, operation: str, **request: Any) -> dict[str, Any]:
        """A table-management request (CreateTable, DescribeTable...), errors raised as botocore's."""
        self._count(operation)
        response: dict[str, Any] = getattr(self._reader, _method(operation))(**request)
        return response

    def translate(self, exc: Exception, operation: str) -> StoreError:
        return self._translate(exc, operation)


_CLIENTS: dict[tuple[str | None, ...], tuple[str, Any, Any]] = {}
_CLIENTS_LOCK = threading.Lock()


def _clients(location: DynamoLocation) -> tuple[str, Any, Any]:
    """(region, reader, writer) for the location; made once per process and configuration, since building
    a botocore client loads the service model (a tenth of a second)."""
    import os

    key = (
        location.profile,
        location.region,
        os.environ.get("AWS_ENDPOINT_URL"),
        os.environ.get("AWS_DEFAULT_REGION"),
        os.environ.get("AWS_ACCESS_KEY_ID"),
        os.environ.get("AWS_PROFILE"),
    )
    with _CLIENTS_LOCK:
        if key not in _CLIENTS:
            _CLIENTS[key] = _new_clients(location)
        return _CLIENTS[key]


def _new_clients(location: DynamoLocation) -> tuple[str, Any, Any]:
    import boto3
    from botocore.config import Config

    try:
        session = boto3.session.Session(profile_name=location.profile, region_name=location.region)
    except Exception as exc:  # botocore.exceptions.ProfileNotFound and friends
        raise StoreOpenError(f"store {location.url()}: {exc}") from exc
    if session.region_name is None:
        raise StoreOpenError(
            f"store {location.url()}: no AWS region; add ?region=R to the store or set AWS_DEFAULT_REGION"
        )
    reads = Config(retries={"mode": "standard", "max_attempts": READ_MAX_ATTEMPTS})
    writes = Config(retries={"mode": "standard", "total_max_attempts": 1})
    reader = session.client("dynamodb", config=reads)
    writer = session.client("dynamodb", config=writes)
    return session.region_name, reader, writer


def _as_write_error(error: StoreError) -> StoreError:
    return error if isinstance(error, StoreOpenError) else StoreWriteError(str(error))


def _conflict_only(reasons: list[dict[str, Any]]) -> bool:
    codes = {reason.get("Code") for reason in reasons} - {"None", None}
    return bool(codes) and codes <= {"TransactionConflict"}


def _method(operation: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in operation).lstrip("_")


def new_write_id() -> str:
    return uuid.uuid4().hex
