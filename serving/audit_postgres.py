"""The audit log on PostgreSQL (``IL2SELECT_AUDIT_URL=postgresql://…``), shared by every
replica: the same tables as the embedded store (``serving.audit_store``), the same
guarantee. A commit returns once PostgreSQL has it durably (``synchronous_commit`` on, its
default), so no answer is sent before its record is safe; each process writes its own rows
(identity keys), so several services writing one database lose and duplicate nothing.

A server that goes away breaks the connection: the group being written fails (503), and the
next group connects again. Nothing cheap tells a live connection from a dead one while no
request comes, so readiness asks the database itself (``intact`` is False: ``/readyz``
probes, at most once a second).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg

from serving.audit_store import (
    CODEC_NAME,
    READ,
    READ_NOTES,
    AuditUnavailable,
    Codec,
    decoded_output,
    note_record,
)

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS audit (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        time_utc TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        token_id TEXT NOT NULL,
        model_version TEXT,
        input_sha256 TEXT NOT NULL,
        output_json BYTEA NOT NULL,
        request_id TEXT,
        codec INTEGER
    )""",
    "CREATE INDEX IF NOT EXISTS audit_request_id ON audit (request_id)",
    """CREATE TABLE IF NOT EXISTS audit_health (
        writer TEXT PRIMARY KEY, checked_utc TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS codecs (
        id INTEGER GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        name TEXT NOT NULL,
        dictionary_sha256 TEXT NOT NULL UNIQUE,
        dictionary BYTEA NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS undelivered (
        request_id TEXT PRIMARY KEY, time_utc TEXT NOT NULL, reason TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS audit_notes (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        time_utc TEXT NOT NULL,
        request_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        token_id TEXT NOT NULL,
        note_json TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS audit_notes_request_id ON audit_notes (request_id)",
)
SCHEMA_LOCK = 0x1A2A5E1EC7  # an advisory lock: replicas starting together create it once
INSERT = (
    "INSERT INTO audit (time_utc, endpoint, token_id, model_version, input_sha256, "
    "output_json, request_id, codec) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
)
MARK = (
    "INSERT INTO undelivered (request_id, time_utc, reason) VALUES (%s, %s, %s) "
    "ON CONFLICT (request_id) DO UPDATE SET time_utc = EXCLUDED.time_utc, "
    "reason = EXCLUDED.reason"
)
NOTE = (
    "INSERT INTO audit_notes (time_utc, request_id, kind, token_id, note_json) "
    "VALUES (%s, %s, %s, %s, %s)"
)
HEALTH = (
    "INSERT INTO audit_health (writer, checked_utc) VALUES (%s, %s) "
    "ON CONFLICT (writer) DO UPDATE SET checked_utc = EXCLUDED.checked_utc"
)
CONNECT_TIMEOUT_S = 5
STATEMENT_TIMEOUT_MS = 10_000  # a hung server fails the group (503) instead of the worker


def is_postgres_url(url: str | None) -> bool:
    return bool(url) and url.split(":", 1)[0] in {"postgresql", "postgres"}


def connect(url: str) -> psycopg.Connection:
    return psycopg.connect(
        url,
        autocommit=True,
        connect_timeout=CONNECT_TIMEOUT_S,
        options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
        application_name="il2select-audit",
    )


def shown(url: str) -> str:
    """The URL without its password, for messages and logs."""
    info = psycopg.conninfo.conninfo_to_dict(url)
    return f"postgresql://{info.get('user', '')}@{info.get('host', '')}:{info.get('port', '')}/" + (
        info.get("dbname") or ""
    )


class PostgresStore:
    """``AuditLog``'s store on PostgreSQL: one connection, the writer thread's."""

    errors = (psycopg.Error, OSError)
    # a database cannot be swapped under an open connection (a new one re-registers the
    # codec): no need to re-check the codec's row before every group, a round trip each
    codec_may_change = False

    def __init__(self, url: str) -> None:
        self.url = url
        self.where = shown(url)
        self.writer = f"{socket.gethostname()}:{os.getpid()}"
        self._connection: psycopg.Connection | None = None

    def open(self) -> psycopg.Connection:
        """Connect, and create the tables if they are not there yet."""
        self._connection = connect(self.url)
        with self._connection.transaction():
            self._connection.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
            for statement in SCHEMA:
                self._connection.execute(statement)
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def current(self) -> tuple[psycopg.Connection, bool]:
        """The open connection while it works; else a new one (whether it is new)."""
        if self._connection is not None and not self._connection.closed:
            return self._connection, False
        self.close()
        try:
            return self.open(), True
        except psycopg.Error as exc:
            raise AuditUnavailable(f"the audit database {self.where} is unreachable") from exc

    def check_committed(self) -> None:
        """Nothing to check: a commit that returned is PostgreSQL's."""

    @staticmethod
    def intact() -> bool:
        return False

    @staticmethod
    def register_codec(connection: psycopg.Connection, dictionary: bytes) -> int:
        codec = Codec(0, dictionary)
        connection.execute(
            "INSERT INTO codecs (name, dictionary_sha256, dictionary) VALUES (%s, %s, %s) "
            "ON CONFLICT (dictionary_sha256) DO NOTHING",
            (CODEC_NAME, codec.sha256, dictionary),
        )
        (codec_id,) = connection.execute(
            "SELECT id FROM codecs WHERE dictionary_sha256 = %s", (codec.sha256,)
        ).fetchone()
        return codec_id

    @staticmethod
    def codec_sha256(connection: psycopg.Connection, codec_id: int | None) -> str | None:
        found = connection.execute(
            "SELECT dictionary_sha256 FROM codecs WHERE id = %s", (codec_id,)
        ).fetchone()
        return None if found is None else found[0]

    def commit(self, connection: psycopg.Connection, group: list) -> None:
        """One transaction for the group; each submission's records, then its marks. A
        failure breaks off the transaction (rolled back) and, when the server is gone, the
        connection: the next group connects again. Pipelined: the statements go out together
        and the commit waits for one round trip. A group with no records (a probe) writes
        this writer's health row, so that a probe needs the server to take a write."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        try:
            with connection.pipeline(), connection.transaction(), connection.cursor() as cursor:
                for records, undelivered, notes, _ in group:
                    if records:
                        cursor.executemany(INSERT, records)
                    if undelivered:
                        cursor.executemany(MARK, [(r, now, why) for r, why in undelivered])
                    if notes:
                        cursor.executemany(NOTE, notes)
                if not any(records or notes for records, _, notes, _ in group):
                    cursor.execute(HEALTH, (self.writer, now))
        except psycopg.OperationalError:
            self.close()
            raise


def read_records(url: str, undelivered_only: bool = False) -> Iterator[dict[str, Any]]:
    """Every record, oldest first, decoded as ``serving.audit_store.read_records`` gives
    them; streamed from a server-side cursor (a log of millions of rows is not loaded)."""
    with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S) as connection:
        codecs = {
            codec_id: Codec(codec_id, bytes(dictionary))
            for codec_id, dictionary in connection.execute("SELECT id, dictionary FROM codecs")
        }
        query = READ + (" WHERE undelivered.reason IS NOT NULL" if undelivered_only else "")
        with connection.cursor(name="il2select_audit_export") as cursor:
            cursor.execute(query + " ORDER BY 1")
            for row in cursor:
                yield decoded_output(codecs, row)


def read_notes(url: str) -> Iterator[dict[str, Any]]:
    """Every note (FHIR sources, CDS feedback), oldest first, as ``audit_store.read_notes``."""
    with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S) as connection:
        with connection.cursor(name="il2select_audit_notes") as cursor:
            cursor.execute(READ_NOTES + " ORDER BY 1")
            for row in cursor:
                yield note_record(row)
