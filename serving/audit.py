"""The audit log: every answer given, committed to SQLite before the response is sent.

WAL mode with ``synchronous=FULL``: a commit is on disk when ``append`` returns, so a
``kill -9`` (or a power cut) cannot lose an acknowledged answer. One writer thread groups
the records of concurrent requests into one transaction (group commit): one fsync serves
many requests under load, and a request still waits for its own commit.
"""

from __future__ import annotations

import asyncio
import hashlib
import queue
import sqlite3
import threading
from concurrent.futures import Future
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import orjson

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time_utc TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    token_id TEXT NOT NULL,
    model_version TEXT,
    input_sha256 TEXT NOT NULL,
    output_json TEXT NOT NULL
)
"""
# the output may come as the UTF-8 bytes sent to the client: stored as TEXT all the same
# (no decoding in the request, no re-encoding in the writer)
INSERT = (
    "INSERT INTO audit (time_utc, endpoint, token_id, model_version, input_sha256, "
    "output_json) VALUES (?, ?, ?, ?, ?, CAST(? AS TEXT))"
)
MAX_GROUP = 512
_SYNC_LEVELS = {"FULL": "FULL", "NORMAL": "NORMAL"}


class AuditRecord(NamedTuple):
    """One row of the audit table, in its column order (a tuple: inserted as it is)."""

    time_utc: str
    endpoint: str
    token_id: str
    model_version: str | None
    input_sha256: str
    output_json: str | bytes  # JSON, UTF-8


def canonical_json(value: Any) -> bytes:
    """The canonical JSON of an input: keys sorted at every level, compact, UTF-8
    (orjson; NaN as null)."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS, default=str)


def canonical_sha256(value: Any) -> str:
    """SHA-256 of ``canonical_json(value)``: the input hash kept in the audit log."""
    return hashlib.sha256(canonical_json(value)).hexdigest()


def make_record(
    endpoint: str,
    token_id: str,
    model_version: str | None,
    input_value: Any,
    output_json: str | bytes,
) -> AuditRecord:
    return AuditRecord(
        datetime.now(UTC).isoformat(timespec="microseconds"),
        endpoint,
        token_id,
        model_version,
        canonical_sha256(input_value),
        output_json,
    )


def open_audit_db(path: Path, synchronous: str = "FULL") -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute(f"PRAGMA synchronous={_SYNC_LEVELS[synchronous]}")
    connection.execute(SCHEMA)
    return connection


class AuditLog:
    """Append-only, durable before acknowledgement. ``start`` opens the writer thread."""

    def __init__(self, path: Path, synchronous: str = "FULL") -> None:
        self.path = path
        self.synchronous = synchronous
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def start(self) -> AuditLog:
        connection = open_audit_db(self.path, self.synchronous)
        self._thread = threading.Thread(
            target=self._write_forever, args=(connection,), name="audit-writer", daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=10)
            self._thread = None

    def submit(self, records: list[AuditRecord]) -> Future:
        """Queue records; the future resolves once they are committed."""
        if self._thread is None:
            raise RuntimeError("audit log is not started")
        done: Future = Future()
        self._queue.put((records, done))
        return done

    async def append(self, records: list[AuditRecord]) -> None:
        await asyncio.wrap_future(self.submit(records))

    def _write_forever(self, connection: sqlite3.Connection) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                break
            group = [first]
            while len(group) < MAX_GROUP:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)
                    break
                group.append(item)
            self._commit(connection, group)
        connection.close()

    @staticmethod
    def _commit(connection: sqlite3.Connection, group: list) -> None:
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.executemany(INSERT, [r for records, _ in group for r in records])
            connection.execute("COMMIT")
        except Exception as exc:  # every waiting request fails: no answer without its record
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            for _, done in group:
                done.set_exception(exc)
            return
        for _, done in group:
            done.set_result(None)
