"""Where a store lives, parsed from --store / ECSOPS_STORE: a SQLite path or `dynamodb://TABLE?...`."""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from store.errors import StoreOpenError

DEFAULT_STORE_PATH = Path("~/.local/state/ecsops/ecsops.db")
STORE_ENV = "ECSOPS_STORE"
DYNAMODB_SCHEME = "dynamodb://"
SKEW_ENV = "ECSOPS_STORE_SKEW_SECONDS"
# Runners' clocks (NTP-synchronised CI hosts) disagree by well under a second; 5 s leaves a wide margin
# and costs a crashed run's successor only 5 s more wait.
DEFAULT_SKEW_SECONDS = 5.0
_TABLE_NAME = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
_QUERY_KEYS = ("region", "profile", "skew")


@dataclass(frozen=True)
class SqliteLocation:
    path: Path

    def describe(self) -> str:
        return str(self.path)


@dataclass(frozen=True)
class DynamoLocation:
    """A DynamoDB table; region and profile default to the standard AWS chain (AWS_ENDPOINT_URL too)."""

    table: str
    region: str | None = None
    profile: str | None = None
    skew_seconds: float = DEFAULT_SKEW_SECONDS

    def describe(self) -> str:
        return self.url()

    def url(self) -> str:
        options = [f"{k}={v}" for k, v in (("region", self.region), ("profile", self.profile)) if v]
        return f"{DYNAMODB_SCHEME}{self.table}" + (f"?{'&'.join(options)}" if options else "")


StoreLocation = SqliteLocation | DynamoLocation


def raw_store_location(explicit: str | None) -> str:
    """--store wins, then ECSOPS_STORE, then the default under ~/.local/state."""
    return explicit or os.environ.get(STORE_ENV) or str(DEFAULT_STORE_PATH)


def parse_store_location(raw: str) -> StoreLocation:
    """A SQLite path, or a dynamodb:// URL checked whole (StoreOpenError saying what to fix)."""
    if not raw.lower().startswith("dynamodb:"):
        return SqliteLocation(Path(raw).expanduser())
    if not raw.startswith(DYNAMODB_SCHEME):
        raise StoreOpenError(f"store {raw!r}: a DynamoDB store is written dynamodb://TABLE[?region=R&profile=P]")
    parts = urlsplit(raw)
    table = parts.netloc
    if parts.path not in ("", "/") or not _TABLE_NAME.match(table):
        raise StoreOpenError(
            f"store {raw!r}: the table name must be 3-255 letters, digits, '_', '-' or '.' "
            "(dynamodb://TABLE[?region=R&profile=P])"
        )
    try:
        query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError as exc:
        raise StoreOpenError(f"store {raw!r}: cannot read its options ({exc})") from exc
    unknown = sorted(set(query) - set(_QUERY_KEYS))
    if unknown:
        raise StoreOpenError(f"store {raw!r}: unknown option {unknown[0]!r}; known: {', '.join(_QUERY_KEYS)}")
    values = {key: query[key][-1] for key in query}
    if any(not value for value in values.values()):
        raise StoreOpenError(f"store {raw!r}: an option is empty; give region=R, profile=P or skew=S")
    skew_text = values.get("skew") or os.environ.get(SKEW_ENV)
    skew = DEFAULT_SKEW_SECONDS
    if skew_text is not None:
        try:
            skew = float(skew_text)
        except ValueError:
            skew = -1.0
        if not (math.isfinite(skew) and skew >= 0):
            raise StoreOpenError(f"store {raw!r}: the clock-skew margin must be seconds >= 0, not {skew_text!r}")
    return DynamoLocation(table=table, region=values.get("region"), profile=values.get("profile"), skew_seconds=skew)
