"""The audit log: every answer given, committed to SQLite before the response is sent.
(The tables, the compression of outputs and the reading back: ``serving.audit_store``.)

WAL mode with ``synchronous=FULL``: a commit is on disk when ``append`` returns, so a
``kill -9`` (or a power cut) cannot lose an acknowledged answer. One writer thread groups
the records of concurrent requests into one transaction (group commit): one fsync serves
many requests under load, and a request still waits for its own commit.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
import time
from concurrent.futures import Future
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from serving.audit_store import (
    AuditUnavailable,
    Codec,
    canonical_sha256,
    file_identity,
    open_audit_db,
    register_codec,
)

# every transaction also rewrites this row: a commit with no records (a probe) still
# needs the disk, so a full disk or a read-only store shows on a probe as on an answer
HEALTH = "INSERT OR REPLACE INTO audit_health (id, checked_utc) VALUES (1, ?)"
INSERT = (
    "INSERT INTO audit (time_utc, endpoint, token_id, model_version, input_sha256, "
    "output_json, request_id, codec) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
MARK = "INSERT OR REPLACE INTO undelivered (request_id, time_utc, reason) VALUES (?, ?, ?)"
MAX_GROUP = 512
PROBE_TIMEOUT_S = 2.0
PROBE_INTERVAL_S = 1.0
logger = logging.getLogger("il2select.audit")


class AuditRecord(NamedTuple):
    """One row of the audit table, in its column order (a tuple: inserted as it is)."""

    time_utc: str
    endpoint: str
    token_id: str
    model_version: str | None
    input_sha256: str
    output: bytes  # the JSON sent, compressed by ``codec`` (None: the JSON itself)
    request_id: str
    codec: int | None


def check_writable(path: Path, synchronous: str = "FULL") -> None:
    """Open (or create) the audit database and commit a probe: raises ``AuditUnavailable``
    naming the path and the cause when it cannot be written (what ``serve`` checks before
    starting the server)."""
    try:
        connection = open_audit_db(path, synchronous)
        try:
            AuditLog._commit(connection, [])
        finally:
            connection.close()
    except (OSError, sqlite3.Error) as exc:
        raise AuditUnavailable(f"the audit database {path} cannot be written ({exc})") from exc


class AuditLog:
    """Append-only, durable before acknowledgement. ``start`` opens the writer thread.

    The store is watched: a commit that fails, or a database file deleted or replaced under
    the service (checked before every commit: the file at the path must be the file
    opened), fails its requests with ``AuditUnavailable`` and marks the log unhealthy;
    the next commit or ``probe`` that succeeds marks it healthy again. A replaced file is
    re-opened (never created): the service answers again once a database is back at the
    path.
    """

    def __init__(self, path: Path, synchronous: str = "FULL") -> None:
        self.path = path
        self.synchronous = synchronous
        self.healthy = True
        self.codec: Codec | None = None
        self._codec_here: int | None = None  # the codec's id in the database open now
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._identity: tuple[int, int] | None = None
        self._connection: sqlite3.Connection | None = None  # the writer thread's
        self._last_probe = float("-inf")

    def start(self, dictionary: bytes | None = None) -> AuditLog:
        """Open the store and the writer thread; with ``dictionary`` (an example answer),
        outputs are compressed with it (``serving.audit_store.Codec``)."""
        self._connection = open_audit_db(self.path, self.synchronous)
        if dictionary is not None:
            self.codec = register_codec(self._connection, dictionary)
            self._codec_here = self.codec.id
        self._identity = file_identity(self.path)
        self._thread = threading.Thread(
            target=self._write_forever, name="audit-writer", daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=10)
            self._thread = None

    def record(
        self,
        request_id: str,
        endpoint: str,
        token_id: str,
        model_version: str | None,
        input_value: Any,
        output: bytes,
    ) -> AuditRecord:
        """One answer's record (compressed here, in the caller's thread)."""
        codec = self.codec
        return AuditRecord(
            datetime.now(UTC).isoformat(timespec="microseconds"),
            endpoint,
            token_id,
            model_version,
            canonical_sha256(input_value),
            output if codec is None else codec.encode(output),
            request_id,
            None if codec is None else codec.id,
        )

    def submit(self, records: list[AuditRecord], undelivered: tuple = ()) -> Future:
        """Queue records, or marks of requests not delivered (``(request_id, reason)``);
        the future resolves once they are committed, in the order submitted (an empty
        submission is a probe of the store)."""
        if self._thread is None:
            raise RuntimeError("audit log is not started")
        done: Future = Future()
        self._queue.put((records, undelivered, done))
        return done

    def mark_undelivered(self, request_id: str, reason: str) -> None:
        """Mark a request's records as not delivered (committed after them: the writer
        keeps the order of submissions). A mark the store cannot take is logged."""
        marked = self.submit([], ((request_id, reason),))

        def logged(done: Future) -> None:
            if done.exception() is not None:
                logger.error("request %s was not delivered; the mark failed", request_id)

        marked.add_done_callback(logged)

    async def append(self, records: list[AuditRecord]) -> None:
        """Commit the records (a request cancelled meanwhile does not cancel the commit:
        shielded, so the writer always settles what it was given)."""
        await asyncio.shield(asyncio.wrap_future(self.submit(records)))

    def intact(self) -> bool:
        """Whether the writer runs and the file at the path is the one it writes (a cheap
        stat: what readiness asks even while no request comes)."""
        alive = self._thread is not None and self._thread.is_alive()
        return alive and file_identity(self.path) == self._identity

    def probe(self) -> bool:
        """Whether a commit goes through now (what ``/readyz`` asks while unhealthy); at
        most one probe a second, so that a flood of readiness checks costs nothing."""
        now = time.monotonic()
        if now - self._last_probe < PROBE_INTERVAL_S:
            return self.healthy
        self._last_probe = now
        try:
            self.submit([]).result(timeout=PROBE_TIMEOUT_S)
        except Exception:  # noqa: BLE001  (any failure is "not ready")
            return False
        return True

    def _write_forever(self) -> None:
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
            try:
                self._write(group)
            except Exception:  # noqa: BLE001  (the writer never dies: log, go on)
                logger.exception("the audit writer failed on a group")
        if self._connection is not None:
            self._connection.close()

    def _write(self, group: list) -> None:
        """Commit one group; every request in it fails alike when the store cannot take it."""
        try:
            connection = self._current()
            self._commit(connection, self._in_this_store(connection, group))
            if file_identity(self.path) != self._identity:  # replaced during the transaction
                raise AuditUnavailable(f"the audit database {self.path} was replaced")
        except Exception as exc:  # every waiting request fails: no answer without its record
            if self.healthy:
                logger.error("audit store unavailable, answers refused: %s", exc)
            self.healthy = False
            failure = AuditUnavailable(f"the audit log cannot be written: {exc}")
            for *_, done in group:
                if not done.done():
                    done.set_exception(failure)
            return
        if not self.healthy:
            logger.warning("audit store back at %s: answering again", self.path)
        self.healthy = True
        for *_, done in group:
            if not done.done():  # a caller that gave up leaves its future cancelled
                done.set_result(None)

    def _current(self) -> sqlite3.Connection:
        """The connection to write with: the open one while the file at the path is still
        the file it opened; else the database now at the path, re-opened (never created)."""
        identity = file_identity(self.path)
        if self._connection is not None and identity == self._identity:
            return self._connection
        if self._connection is not None:
            self._connection.close()
            self._connection = None
            logger.error("the audit database %s was deleted or replaced", self.path)
        if identity is None:
            raise AuditUnavailable(f"the audit database {self.path} is gone")
        connection = open_audit_db(self.path, self.synchronous, create=False)
        if self.codec is not None:  # the database back at the path needs the dictionary too
            self._codec_here = register_codec(connection, self.codec.dictionary).id
        self._connection, self._identity = connection, identity
        return connection

    def _in_this_store(self, connection: sqlite3.Connection, group: list) -> list:
        """The group with its records naming the codec's id in the database open now (a
        database replaced under the service, or overwritten in place, numbers its codecs
        its own way: checked on every group, re-registered when it differs)."""
        if self.codec is None:
            return group
        found = connection.execute(
            "SELECT dictionary_sha256 FROM codecs WHERE id = ?", (self._codec_here,)
        ).fetchone()
        if found is None or found[0] != self.codec.sha256:
            self._codec_here = register_codec(connection, self.codec.dictionary).id
        if self._codec_here == self.codec.id:
            return group
        here = self._codec_here
        return [
            ([r._replace(codec=here) for r in records], marks, done)
            for records, marks, done in group
        ]

    @staticmethod
    def _commit(connection: sqlite3.Connection, group: list) -> None:
        """One transaction for the group; each submission's records, then its marks."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        try:
            connection.execute("BEGIN IMMEDIATE")
            for records, undelivered, _ in group:
                connection.executemany(INSERT, records)
                connection.executemany(MARK, [(r, now, why) for r, why in undelivered])
            connection.execute(HEALTH, (datetime.now(UTC).isoformat(timespec="seconds"),))
            connection.execute("COMMIT")
        except Exception:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
