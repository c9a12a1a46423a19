"""The embedded audit store: one SQLite file (WAL, ``synchronous=FULL``: a commit is on disk
when it returns). What only a file has is here: a database deleted or replaced under the
service is noticed (the file at the path must be the file opened, checked before and after
every commit) and re-opened, never re-created, once one is back at the path.
"""

from __future__ import annotations

import logging
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from serving.audit_store import AuditUnavailable, file_identity, open_audit_db, register_codec

# every transaction also rewrites this row: a commit with no records (a probe) still
# needs the disk, so a full disk or a read-only store shows on a probe as on an answer
HEALTH = "INSERT OR REPLACE INTO audit_health (id, checked_utc) VALUES (1, ?)"
INSERT = (
    "INSERT INTO audit (time_utc, endpoint, token_id, model_version, input_sha256, "
    "output_json, request_id, codec) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
MARK = "INSERT OR REPLACE INTO undelivered (request_id, time_utc, reason) VALUES (?, ?, ?)"
NOTE = (
    "INSERT INTO audit_notes (time_utc, request_id, kind, token_id, note_json) "
    "VALUES (?, ?, ?, ?, ?)"
)
logger = logging.getLogger("il2select.audit")


class SqliteStore:
    """The audit database at ``path`` (``AuditLog``'s store: one connection, the writer
    thread's)."""

    errors = (OSError, sqlite3.Error)
    codec_may_change = True  # a file overwritten in place numbers its codecs its own way

    def __init__(self, path: Path, synchronous: str = "FULL") -> None:
        self.path, self.synchronous = path, synchronous
        self.where = str(path)
        self._connection: sqlite3.Connection | None = None
        self._identity: tuple[int, int] | None = None

    def open(self) -> sqlite3.Connection:
        """Open (or create) the database with its tables."""
        self._connection = open_audit_db(self.path, self.synchronous)
        self._identity = file_identity(self.path)
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def current(self) -> tuple[sqlite3.Connection, bool]:
        """The connection to write with, and whether it is newly (re)opened: the open one
        while the file at the path is still the file it opened; else the database now at
        the path, re-opened (never created)."""
        identity = file_identity(self.path)
        if self._connection is not None and identity == self._identity:
            return self._connection, False
        if self._connection is not None:
            self.close()
            logger.error("the audit database %s was deleted or replaced", self.path)
        if identity is None:
            raise AuditUnavailable(f"the audit database {self.path} is gone")
        self._connection = open_audit_db(self.path, self.synchronous, create=False)
        self._identity = identity
        return self._connection, True

    def check_committed(self) -> None:
        """A database replaced during the transaction fails it."""
        if file_identity(self.path) != self._identity:
            raise AuditUnavailable(f"the audit database {self.path} was replaced")

    def intact(self) -> bool:
        """Whether the file at the path is the one written (a cheap stat)."""
        return file_identity(self.path) == self._identity

    @staticmethod
    def register_codec(connection: sqlite3.Connection, dictionary: bytes) -> int:
        return register_codec(connection, dictionary).id

    @staticmethod
    def codec_sha256(connection: sqlite3.Connection, codec_id: int | None) -> str | None:
        found = connection.execute(
            "SELECT dictionary_sha256 FROM codecs WHERE id = ?", (codec_id,)
        ).fetchone()
        return None if found is None else found[0]

    @staticmethod
    def commit(connection: sqlite3.Connection, group: list) -> None:
        """One transaction for the group; each submission's records, its marks, its notes."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        try:
            connection.execute("BEGIN IMMEDIATE")
            for records, undelivered, notes, _ in group:
                connection.executemany(INSERT, records)
                connection.executemany(MARK, [(r, now, why) for r, why in undelivered])
                connection.executemany(NOTE, notes)
            connection.execute(HEALTH, (datetime.now(UTC).isoformat(timespec="seconds"),))
            connection.execute("COMMIT")
        except Exception:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
