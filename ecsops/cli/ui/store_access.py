"""How the ui reads the run store: a light reader per request on SQLite, one shared store on DynamoDB; a store that
cannot be read is StoreUnavailable, carrying the message the CLI prints for it."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from store.errors import RunNotFoundError, StoreError
from store.location import DynamoLocation, SqliteLocation, parse_store_location, raw_store_location

if TYPE_CHECKING:
    from store.reader import RunReader


class StoreUnavailable(Exception):
    """The store cannot be read; the message is what `ecsops runs` would say about it."""


class StoreAccess:
    """The store named by --store (or ECSOPS_STORE, or the default), resolved once when the ui starts.

    A SQLite store gets a reader per request: sqlite3 connections belong to the thread that opened them, and a plain
    reader opens in well under a millisecond. A DynamoDB store is opened once (a boto3 client and a check of the
    table) and shared: its reads are plain requests, and it caches only what its own process wrote, which the ui
    never does, so a run driven elsewhere is read fresh each time.
    """

    def __init__(self, explicit: str | None) -> None:
        self.location_text = raw_store_location(explicit)
        self._location: SqliteLocation | DynamoLocation | None = None
        self._problem: str | None = None
        try:
            self._location = parse_store_location(self.location_text)
        except StoreError as exc:  # a malformed dynamodb:// URL: every page says so
            self._problem = str(exc)
        self._shared: RunReader | None = None
        self._opening = threading.Lock()

    def describe(self) -> str:
        return self.location_text if self._location is None else self._location.describe()

    @property
    def shared(self) -> bool:
        return isinstance(self._location, DynamoLocation)

    @contextmanager
    def reader(self) -> Iterator[RunReader]:
        """A reader for one request; any failure to open or read the store becomes StoreUnavailable (a run that
        is not there is still RunNotFoundError)."""
        reader = self._shared_reader() if self.shared else self._sqlite_reader()
        try:
            yield reader
        except RunNotFoundError:
            raise
        except StoreError as exc:
            raise StoreUnavailable(str(exc)) from exc
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"the store {self.describe()} could not be read ({exc})") from exc
        finally:
            if not self.shared:
                reader.close()

    def check(self) -> None:
        """Open the store and read one run, as the runs page will; StoreUnavailable if that fails."""
        from store.models import RunFilter

        with self.reader() as reader:
            reader.list_runs(RunFilter(limit=1))

    def close(self) -> None:
        with self._opening:
            if self._shared is not None:
                self._shared.close()
                self._shared = None

    def _sqlite_reader(self) -> RunReader:
        from store.reader import open_reader

        if not isinstance(self._location, SqliteLocation):
            raise StoreUnavailable(self._problem or f"store {self.location_text} is not a SQLite file")
        path = self._location.path
        if not path.exists():
            # `ecsops runs` would create an empty store there; a read-only view never writes a file.
            raise StoreUnavailable(
                f"there is no store at {path}: nothing was recorded there yet; give the store's path with --store "
                "or ECSOPS_STORE"
            )
        try:
            return open_reader(self.location_text)
        except StoreError as exc:
            raise StoreUnavailable(str(exc)) from exc
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"the store {path} could not be read ({exc})") from exc

    def _shared_reader(self) -> RunReader:
        from store.reader import open_reader

        with self._opening:
            if self._shared is None:
                try:
                    self._shared = open_reader(self.location_text)
                except StoreError as exc:
                    raise StoreUnavailable(str(exc)) from exc
            return self._shared
