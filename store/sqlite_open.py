"""Opening the SQLite store file: create it owner-only, migrate it once under contention, know it again."""

from __future__ import annotations

import os
import random
import sqlite3
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from store.errors import StoreOpenError
from store.schema import MIGRATION_SET, MIGRATIONS, READ_COMPATIBLE_MIGRATIONS

BUSY_TIMEOUT_ENV = "ECSOPS_STORE_BUSY_TIMEOUT"
_MAGIC = b"SQLite format 3\x00"
_HEADER_BYTES = 100
_USER_VERSION_AT = slice(60, 64)


def busy_timeout_seconds() -> float:
    """How long to wait for another process's write lock before giving up (default 10s)."""
    return float(os.environ.get(BUSY_TIMEOUT_ENV, "10"))


def connect(uri: str) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), usable from the thread that owns it."""
    conn = sqlite3.connect(
        uri, timeout=busy_timeout_seconds(), isolation_level=None, uri=True, check_same_thread=False
    )
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


class FileIdentity:
    """What makes the store file the one a process opened: its inode, and the store id in its header.

    The store id is the random `user_version` migration m003 stamps; a file that had no SQLite header
    yet when opened (everything still in the WAL) is only known by its inode.

    The file is read through one descriptor kept open until the store closes: closing any descriptor
    of a file drops every POSIX lock this process holds on it, SQLite's included, and another process
    could then checkpoint and delete the WAL under us.
    """

    def __init__(self, path: Path, store_id: int) -> None:
        self._fd = os.open(path, os.O_RDONLY)
        status = os.fstat(self._fd)
        self.device, self.inode = status.st_dev, status.st_ino
        self.store_id = store_id
        header = os.pread(self._fd, _HEADER_BYTES, 0)
        self.header_valid_at_open = header.startswith(_MAGIC) and len(header) == _HEADER_BYTES
        self.header_id_at_open = int.from_bytes(header[_USER_VERSION_AT], "big") if self.header_valid_at_open else 0

    def close(self) -> None:
        """Only once SQLite's own connections to the file are closed."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def problem(self, path: Path) -> str | None:
        """Why the file at path is no longer this store, or None when it still is."""
        try:
            status = os.stat(path)
        except FileNotFoundError:
            return f"the store file {path} was removed or renamed while in use; nothing more can be recorded in it"
        except OSError as exc:
            return f"the store file {path} cannot be read any more ({exc.strerror})"
        if (status.st_dev, status.st_ino) != (self.device, self.inode):
            return f"the store file {path} was replaced by another file while in use; nothing was written to it"
        if not self.header_valid_at_open:
            return None
        header = os.pread(self._fd, _HEADER_BYTES, 0)  # the same inode as the path: its current content
        if not header.startswith(_MAGIC) or len(header) < _HEADER_BYTES:
            return f"the store file {path} was overwritten (it is no SQLite database any more); nothing was written"
        header_id = int.from_bytes(header[_USER_VERSION_AT], "big")
        if header_id not in (self.store_id, self.header_id_at_open):
            return f"the store file {path} was overwritten with another store while in use; nothing was written"
        return None


@dataclass
class OpenedFile:
    conn: sqlite3.Connection
    uri: str
    identity: FileIdentity
    read_only: bool


def _uri(path: Path, **query: str) -> str:
    quoted = urllib.parse.quote(str(path.resolve()))
    return f"file:{quoted}" + (f"?{urllib.parse.urlencode(query)}" if query else "")


def prepare_file(path: Path) -> None:
    """Create the store's directory (0700) and file (0600) if missing, with errors that say what to fix."""
    for ancestor in path.parents:
        if ancestor.exists():
            if not ancestor.is_dir():
                raise StoreOpenError(
                    f"cannot create the store at {path}: {ancestor} is not a directory; "
                    "choose another path with --store or ECSOPS_STORE"
                )
            break
    if path.is_dir():
        raise StoreOpenError(f"the store path {path} is a directory; give a file path with --store or ECSOPS_STORE")
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not path.exists():
            fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
            os.close(fd)
    except OSError as exc:
        raise StoreOpenError(
            f"cannot create the store at {path}: {exc.strerror}; "
            "choose a writable path with --store or ECSOPS_STORE"
        ) from exc
    if not os.access(path, os.R_OK | os.W_OK) or not os.access(path.parent, os.W_OK):
        raise StoreOpenError(
            f"the store {path} (or its directory) is not writable; "
            "choose a writable path with --store or ECSOPS_STORE"
        )


def is_writable(path: Path) -> bool:
    return os.access(path, os.R_OK | os.W_OK) and os.access(path.parent, os.W_OK)


def _is_contention(exc: sqlite3.OperationalError) -> bool:
    code = (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF
    return code in (5, 6) or "locked" in str(exc) or "busy" in str(exc)


def _applied(conn: sqlite3.Connection) -> set[str]:
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = '_sqlite_migrations'").fetchone():
        return set()
    rows = conn.execute("SELECT name FROM _sqlite_migrations WHERE migration_set = ?", [MIGRATION_SET])
    return {row[0] for row in rows}


def _refuse_newer(path: Path, applied: set[str]) -> None:
    unknown = applied - MIGRATIONS
    if unknown:
        raise StoreOpenError(
            f"the store {path} was written by a newer ecsops (unknown schema migrations: "
            f"{', '.join(sorted(unknown))}); upgrade ecsops to read it. Nothing was changed."
        )


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    """WAL, then every pending migration in one IMMEDIATE transaction: concurrent first users queue."""
    if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        mode = conn.execute("PRAGMA journal_mode = wal").fetchone()[0]
        if mode != "wal":
            # Another connection held the file: SQLite kept the old mode. Let the caller retry.
            raise sqlite3.OperationalError("database is locked (journal mode)")
    if not (MIGRATIONS - _applied(conn)):
        return
    from sqlite_utils import Database  # only to migrate: a current store opens without it

    from store.migrations import migrations

    conn.execute("PRAGMA foreign_keys = OFF")  # a transform() inside the transaction rebuilds tables
    conn.execute("BEGIN IMMEDIATE")
    try:
        applied = _applied(conn)  # another process may have migrated while we waited
        _refuse_newer(path, applied)
        if MIGRATIONS - applied:
            migrations.apply(Database(conn))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    finally:
        conn.execute("PRAGMA foreign_keys = ON")
    # Put the store id into the file header now, so a copy laid over this file is told apart.
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _open_once(path: Path, read_only: bool) -> OpenedFile:
    if read_only:
        uri = _uri(path, mode="ro")
        conn = connect(uri)
        try:
            applied = _applied(conn)
        except sqlite3.OperationalError:
            # A WAL store in a read-only place without its -shm file: read the file as it is.
            conn.close()
            uri = _uri(path, mode="ro", immutable="1")
            conn = connect(uri)
            applied = _applied(conn)
        _refuse_newer(path, applied)
        missing = MIGRATIONS - applied
        if missing - READ_COMPATIBLE_MIGRATIONS:
            conn.close()
            raise StoreOpenError(
                f"the store {path} has an older schema (pending migrations: {', '.join(sorted(missing))}) "
                "and is read-only here; copy it to a writable place and run `ecsops runs --store COPY` once "
                "to upgrade the copy"
            )
    else:
        uri = _uri(path)
        conn = connect(uri)
        try:
            _refuse_newer(path, _applied(conn))
            _migrate(conn, path)
        except BaseException:
            conn.close()
            raise
    store_id = int(conn.execute("PRAGMA user_version").fetchone()[0])
    return OpenedFile(conn, uri, FileIdentity(path, store_id), read_only)


def open_sqlite_store_files(path: Path, *, read_only: bool) -> OpenedFile:
    """Open (and unless read_only create and migrate) the store file, retrying while others hold it."""
    if read_only:
        if not path.is_file():
            raise StoreOpenError(f"there is no store at {path}")
    else:
        prepare_file(path)
    deadline = time.monotonic() + busy_timeout_seconds()
    old_umask = os.umask(0o077)
    try:
        while True:
            try:
                return _open_once(path, read_only)
            except sqlite3.OperationalError as exc:
                if _is_contention(exc) and time.monotonic() < deadline:
                    time.sleep(random.uniform(0.005, 0.05))
                    continue
                raise _open_error(path, exc) from exc
            except sqlite3.DatabaseError as exc:
                raise _open_error(path, exc) from exc
            except OSError as exc:
                raise StoreOpenError(f"cannot open the store {path}: {exc.strerror}") from exc
    finally:
        os.umask(old_umask)


def _open_error(path: Path, exc: sqlite3.DatabaseError) -> StoreOpenError:
    message = str(exc)
    if isinstance(exc, sqlite3.OperationalError) and _is_contention(exc):
        return StoreOpenError(
            f"the store {path} stayed locked by another process for over "
            f"{busy_timeout_seconds():g}s; retry when it is free"
        )
    code = (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF
    if code == 13:
        return StoreOpenError(f"the store {path} cannot be opened: the disk is full; free some space and retry")
    if code in (8, 14):
        return StoreOpenError(f"the store {path} cannot be opened for writing ({message})")
    return StoreOpenError(
        f"the store {path} is not a readable ecsops database ({message}); "
        "it was left untouched — move it aside or point --store elsewhere"
    )
