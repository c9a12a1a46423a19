"""The audit database: its tables, how records are compressed, and how they are read back.

``audit`` holds one row per answer. Since schema 2 each row also names its request
(``request_id``, one per HTTP request: a list's rows share it) and how its output is
stored (``codec``): NULL for the JSON text itself (rows written before compression), or
the id of a ``codecs`` row for zlib with that row's preset dictionary (an example answer
of the champion served; kept in the database, so that every record stays readable
whatever the code becomes). ``undelivered`` names the requests whose answers were
recorded but never reached the client (a time-out, a client gone): their records are the
truth of what was computed, marked as not delivered. ``audit_notes`` holds what a request's
records do not: the FHIR resources an answer was computed from (``fhir_sources``) and a CDS
client's feedback on a card (``cds_feedback``), each beside its request's id.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time_utc TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    token_id TEXT NOT NULL,
    model_version TEXT,
    input_sha256 TEXT NOT NULL,
    output_json TEXT NOT NULL,
    request_id TEXT,
    codec INTEGER
);
CREATE TABLE IF NOT EXISTS audit_health (id INTEGER PRIMARY KEY, checked_utc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS codecs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    dictionary_sha256 TEXT NOT NULL UNIQUE,
    dictionary BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS undelivered (
    request_id TEXT PRIMARY KEY,
    time_utc TEXT NOT NULL,
    reason TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_notes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time_utc TEXT NOT NULL,
    request_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    token_id TEXT NOT NULL,
    note_json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_notes_request_id ON audit_notes (request_id)
"""
# after the columns of schema 2: feedback finds the answer a CDS card showed by request
REQUEST_INDEX = "CREATE INDEX IF NOT EXISTS audit_request_id ON audit (request_id)"
ADDED_COLUMNS = {"request_id": "TEXT", "codec": "INTEGER"}  # schema 1 -> 2
CODEC_NAME = "zlib-preset-dictionary"
LEVEL = 6  # a clinic-list /predict row: ~0.75 kB stored against 3.6 kB sent; ~60 us
READ = """
SELECT audit.id, audit.time_utc, endpoint, token_id, model_version, input_sha256,
       output_json, request_id, codec, undelivered.reason
FROM audit LEFT JOIN undelivered USING (request_id)
"""
READ_SCHEMA_1 = """
SELECT id, time_utc, endpoint, token_id, model_version, input_sha256, output_json,
       NULL, NULL, NULL
FROM audit
"""


READ_NOTES = "SELECT id, time_utc, request_id, kind, token_id, note_json FROM audit_notes"


class AuditUnavailable(RuntimeError):
    """The audit store cannot take records now: the answer is refused (503), never sent
    without its record."""


SYNC_LEVELS = {"FULL": "FULL", "NORMAL": "NORMAL"}


def open_audit_db(path: Path, synchronous: str = "FULL", create: bool = True) -> sqlite3.Connection:
    """The audit database at ``path`` (created with its tables when ``create``; otherwise
    only a file that exists already is opened, never an empty one made in its place)."""
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=30.0
        )
    else:
        uri = f"file:{path}?mode=rw"
        connection = sqlite3.connect(
            uri, uri=True, isolation_level=None, check_same_thread=False, timeout=30.0
        )
        found = connection.execute("SELECT 1 FROM sqlite_master WHERE name = 'audit'").fetchone()
        if found is None:  # an empty or foreign file: no history to continue
            connection.close()
            raise AuditUnavailable(f"{path} is not an audit database")
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute(f"PRAGMA synchronous={SYNC_LEVELS[synchronous]}")
    create_tables(connection)
    return connection


def file_identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the file at ``path``; None when there is none."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return stat.st_dev, stat.st_ino


def canonical_json(value: Any) -> bytes:
    """The canonical JSON of an input: keys sorted at every level, compact, UTF-8
    (orjson; NaN as null)."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS, default=str)


def canonical_sha256(value: Any) -> str:
    """SHA-256 of ``canonical_json(value)``: the input hash kept in the audit log."""
    return hashlib.sha256(canonical_json(value)).hexdigest()


def create_tables(connection: sqlite3.Connection) -> None:
    """The tables, and the columns of schema 2 added to an audit table written before, in
    one transaction (a failure half-way leaves schema 1 as it was)."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        for statement in SCHEMA.split(";"):
            connection.execute(statement)
        present = {row[1] for row in connection.execute("PRAGMA table_info(audit)")}
        for column, kind in ADDED_COLUMNS.items():
            if column not in present:
                connection.execute(f"ALTER TABLE audit ADD COLUMN {column} {kind}")
        connection.execute(REQUEST_INDEX)
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise


class Codec:
    """zlib with a preset dictionary: an answer's keys and words are in the dictionary, so
    each record, compressed alone, costs little more than its numbers."""

    def __init__(self, codec_id: int, dictionary: bytes) -> None:
        self.id, self.dictionary = codec_id, dictionary
        self.sha256 = hashlib.sha256(dictionary).hexdigest()

    def encode(self, text: bytes) -> bytes:
        packer = zlib.compressobj(LEVEL, zdict=self.dictionary)
        return packer.compress(text) + packer.flush()

    def decode(self, packed: bytes) -> bytes:
        unpacker = zlib.decompressobj(zdict=self.dictionary)
        return unpacker.decompress(packed) + unpacker.flush()


def register_codec(connection: sqlite3.Connection, dictionary: bytes) -> Codec:
    """The codec of this dictionary, stored once (a restart with the same champion reuses
    its row)."""
    digest = hashlib.sha256(dictionary).hexdigest()
    connection.execute(
        "INSERT OR IGNORE INTO codecs (name, dictionary_sha256, dictionary) VALUES (?, ?, ?)",
        (CODEC_NAME, digest, dictionary),
    )
    (codec_id,) = connection.execute(
        "SELECT id FROM codecs WHERE dictionary_sha256 = ?", (digest,)
    ).fetchone()
    return Codec(codec_id, dictionary)


def read_records(path: Path, undelivered_only: bool = False) -> Iterator[dict[str, Any]]:
    """Every record, oldest first, with its output decoded (as the client got it) and
    whether it was delivered. Opens the database read-only."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = {name for (name,) in connection.execute("SELECT name FROM sqlite_master")}
        columns = {row[1] for row in connection.execute("PRAGMA table_info(audit)")}
        if "codecs" not in tables or "codec" not in columns:  # schema 1
            query = READ_SCHEMA_1 + (" WHERE 0" if undelivered_only else "")
            codecs = {}
        else:
            query = READ + (" WHERE undelivered.reason IS NOT NULL" if undelivered_only else "")
            codecs = {
                codec_id: Codec(codec_id, dictionary)
                for codec_id, dictionary in connection.execute("SELECT id, dictionary FROM codecs")
            }
        for row in connection.execute(query + " ORDER BY 1"):
            yield decoded_output(codecs, row)
    finally:
        connection.close()


def decoded_output(codecs: dict[int, Codec], row: tuple) -> dict[str, Any]:
    """One row of ``READ`` as a record, its output decoded (as the client got it); a record
    whose codec is missing or is not the one it was written with gets ``"output": None``
    and ``"unreadable"``, why (reported, never skipped)."""
    record_id, time_utc, endpoint, token_id, version, sha, output, request, codec, why = row
    record = {
        "id": record_id,
        "time_utc": time_utc,
        "endpoint": endpoint,
        "token_id": token_id,
        "model_version": version,
        "input_sha256": sha,
        "request_id": request,
        "delivered": why is None,
        "undelivered_reason": why,
    }
    try:
        text = codecs[codec].decode(output) if codec is not None else output
        return {**record, "output": orjson.loads(text)}
    except (KeyError, zlib.error, orjson.JSONDecodeError) as exc:
        return {**record, "output": None, "unreadable": f"cannot decode (codec {codec}: {exc!r})"}


def read_notes(path: Path) -> Iterator[dict[str, Any]]:
    """Every note (FHIR sources, CDS feedback), oldest first, beside its request's id."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = {name for (name,) in connection.execute("SELECT name FROM sqlite_master")}
        if "audit_notes" in tables:
            for row in connection.execute(READ_NOTES + " ORDER BY 1"):
                yield note_record(row)
    finally:
        connection.close()


def note_record(row: tuple) -> dict[str, Any]:
    note_id, time_utc, request_id, kind, token_id, note = row
    return {
        "id": note_id,
        "time_utc": time_utc,
        "request_id": request_id,
        "kind": kind,
        "token_id": token_id,
        "note": orjson.loads(note),
    }
