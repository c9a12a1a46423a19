"""The audit log: every answer given, committed before the response is sent, to SQLite
(the embedded default, ``serving.audit_sqlite``) or PostgreSQL (``IL2SELECT_AUDIT_URL``,
``serving.audit_postgres``). (The tables, the compression of outputs and the reading back:
``serving.audit_store``.)

A commit is durable when ``append`` returns (SQLite in WAL mode with ``synchronous=FULL``;
PostgreSQL's own commit), so a ``kill -9`` (or a power cut) cannot lose an acknowledged
answer. One writer thread groups the records of concurrent requests into one transaction
(group commit): one flush serves many requests under load, and a request still waits for
its own commit.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from concurrent.futures import Future
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from serving.audit_sqlite import SqliteStore
from serving.audit_store import AuditUnavailable, Codec, canonical_json, canonical_sha256

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


class AuditNote(NamedTuple):
    """One row of ``audit_notes``: what a request's records do not hold, beside its id."""

    time_utc: str
    request_id: str
    kind: str  # "fhir_sources" | "cds_feedback"
    token_id: str
    note_json: str


def audit_note(request_id: str, kind: str, token_id: str, note: Any) -> AuditNote:
    return AuditNote(
        datetime.now(UTC).isoformat(timespec="microseconds"),
        request_id,
        kind,
        token_id,
        canonical_json(note).decode(),
    )


def audit_store(url: str | None, path: Path, synchronous: str = "FULL"):
    """The store the settings name: PostgreSQL at ``url`` when it is a ``postgresql://``
    URL, else the SQLite file at ``path``."""
    from serving.audit_postgres import PostgresStore, is_postgres_url

    if url:
        if not is_postgres_url(url):
            raise AuditUnavailable(f"IL2SELECT_AUDIT_URL must be postgresql://…, not {url!r}")
        return PostgresStore(url)
    return SqliteStore(path, synchronous)


def check_writable(store) -> None:
    """Open (or create) the audit database and commit a probe: raises ``AuditUnavailable``
    naming the store and the cause when it cannot be written (what ``serve`` checks before
    starting the server)."""
    try:
        connection = store.open()
        try:
            store.commit(connection, [])
        finally:
            store.close()
    except store.errors as exc:
        raise AuditUnavailable(
            f"the audit database {store.where} cannot be written ({exc})"
        ) from exc


class AuditLog:
    """Append-only, durable before acknowledgement. ``start`` opens the writer thread.

    The store is watched: a commit that fails (or, for SQLite, a database file deleted or
    replaced under the service) fails its requests with ``AuditUnavailable`` and marks the
    log unhealthy; the next commit or ``probe`` that succeeds marks it healthy again. The
    store is re-opened, never created, once it is back: the service answers again.
    ``store`` is a path (SQLite) or a store of ``serving.audit_sqlite`` /
    ``serving.audit_postgres``.
    """

    def __init__(self, store, synchronous: str = "FULL") -> None:
        self.store = SqliteStore(store, synchronous) if isinstance(store, Path) else store
        self.path = getattr(self.store, "path", None)
        self.healthy = True
        self.codec: Codec | None = None
        self._codec_here: int | None = None  # the codec's id in the database open now
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._last_probe = float("-inf")

    def start(self, dictionary: bytes | None = None) -> AuditLog:
        """Open the store and the writer thread; with ``dictionary`` (an example answer),
        outputs are compressed with it (``serving.audit_store.Codec``)."""
        connection = self.store.open()
        if dictionary is not None:
            self.codec = Codec(self.store.register_codec(connection, dictionary), dictionary)
            self._codec_here = self.codec.id
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

    def submit(
        self, records: list[AuditRecord], undelivered: tuple = (), notes: tuple = ()
    ) -> Future:
        """Queue records, marks of requests not delivered (``(request_id, reason)``) and
        notes (``AuditNote``), committed together; the future resolves once they are, in the
        order submitted (an empty submission is a probe of the store)."""
        if self._thread is None:
            raise RuntimeError("audit log is not started")
        done: Future = Future()
        self._queue.put((records, undelivered, tuple(notes), done))
        return done

    def mark_undelivered(self, request_id: str, reason: str) -> None:
        """Mark a request's records as not delivered (committed after them: the writer
        keeps the order of submissions). A mark the store cannot take is logged."""
        marked = self.submit([], ((request_id, reason),))

        def logged(done: Future) -> None:
            if done.exception() is not None:
                logger.error("request %s was not delivered; the mark failed", request_id)

        marked.add_done_callback(logged)

    async def append(self, records: list[AuditRecord], notes: tuple = ()) -> None:
        """Commit the records and notes (a request cancelled meanwhile does not cancel the
        commit: shielded, so the writer always settles what it was given)."""
        await asyncio.shield(asyncio.wrap_future(self.submit(records, (), notes)))

    def intact(self) -> bool:
        """Whether the writer runs and the store is the one it writes (for SQLite, a cheap
        stat: what readiness asks even while no request comes; PostgreSQL: never sure, so
        readiness probes)."""
        alive = self._thread is not None and self._thread.is_alive()
        return alive and self.store.intact()

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
        self.store.close()

    def _write(self, group: list) -> None:
        """Commit one group; every request in it fails alike when the store cannot take it."""
        try:
            connection, reopened = self.store.current()
            if reopened and self.codec is not None:  # a store back needs the dictionary too
                self._codec_here = self.store.register_codec(connection, self.codec.dictionary)
            self.store.commit(connection, self._in_this_store(connection, group))
            self.store.check_committed()
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
            logger.warning("audit store back at %s: answering again", self.store.where)
        self.healthy = True
        for *_, done in group:
            if not done.done():  # a caller that gave up leaves its future cancelled
                done.set_result(None)

    def _in_this_store(self, connection, group: list) -> list:
        """The group with its records naming the codec's id in the database open now (a
        database replaced under the service, or overwritten in place, numbers its codecs
        its own way: checked on every group, re-registered when it differs)."""
        if self.codec is None or not self.store.codec_may_change:
            return group
        if self.store.codec_sha256(connection, self._codec_here) != self.codec.sha256:
            self._codec_here = self.store.register_codec(connection, self.codec.dictionary)
        if self._codec_here == self.codec.id:
            return group
        here = self._codec_here
        return [([r._replace(codec=here) for r in records], *rest) for records, *rest in group]
