"""The SQLite store's schema by name, with no dependency: which migrations exist and which a reader can do without.

The migrations themselves (store.migrations) import sqlite-utils, which costs a command about 60 ms to import; a
store already at this schema is opened and read with plain sqlite3, so sqlite-utils is imported only to migrate.
tests/test_startup.py holds MIGRATIONS equal to the migrations store.migrations registers.
"""

from __future__ import annotations

MIGRATION_SET = "ecsops"
MIGRATIONS = frozenset(
    {
        "m001_initial", "m002_facts_timers_reason", "m003_lock_tokens", "m004_run_notes", "m005_finished_at",
        "m006_run_messages", "m007_listing_indexes",
    }
)
NOTES_MIGRATION = "m004_run_notes"
MESSAGES_MIGRATION = "m006_run_messages"

# Pending migrations a read-only open of the full backend can live without: they touch nothing `runs` or `status`
# read, or only add a table that a store without it reads as empty (m004: a store from before notes has none; m006:
# nor messages), or only fill what ecsops always wrote anyway (m005: read without it, only a run written by other
# means than ecsops and left without finished_at shows as unfinished), or only add indexes (m007: the same answers,
# found slower).
READ_COMPATIBLE_MIGRATIONS = frozenset(
    {"m003_lock_tokens", "m004_run_notes", "m005_finished_at", "m006_run_messages", "m007_listing_indexes"}
)

# What the plain reader (store.reader) can do without: m003 changes the locks table it reads for `status`.
OPTIONAL_FOR_READER = frozenset({"m004_run_notes", "m005_finished_at", "m006_run_messages", "m007_listing_indexes"})
