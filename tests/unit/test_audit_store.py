"""The audit database: schema 2 over schema 1, compressed outputs read back as sent, marks
of undelivered answers committed after their records."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from serving.audit import AuditLog, audit_note
from serving.audit_store import Codec, open_audit_db, read_notes, read_records

SCHEMA_1 = """
CREATE TABLE audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT, time_utc TEXT NOT NULL, endpoint TEXT NOT NULL,
    token_id TEXT NOT NULL, model_version TEXT, input_sha256 TEXT NOT NULL,
    output_json TEXT NOT NULL
)
"""


def answer(i: int) -> bytes:
    return json.dumps({"patient_id": f"P{i}", "recommendation": "il2_first", "p": i / 7}).encode()


def schema_1_database(folder) -> Path:
    """An audit database as schema 1 wrote it, with one record (P0's answer)."""
    path = folder / "audit.db"
    with sqlite3.connect(path) as db:
        db.executescript(SCHEMA_1)
        db.execute(
            "INSERT INTO audit (time_utc, endpoint, token_id, model_version, input_sha256,"
            " output_json) VALUES ('t', 'recommend', 'old', '1', 'h', ?)",
            (answer(0).decode(),),
        )
    return path


def test_a_schema_1_database_keeps_its_records_and_takes_new_ones(tmp_path):
    path = schema_1_database(tmp_path)
    log = AuditLog(path).start(dictionary=answer(99))
    try:
        log.submit([log.record("R1", "predict", "new", "2", {"a": 1}, answer(1))]).result(10)
    finally:
        log.close()
    records = list(read_records(path))
    assert [r["output"]["patient_id"] for r in records] == ["P0", "P1"]
    assert [r["request_id"] for r in records] == [None, "R1"]
    assert all(r["delivered"] for r in records)


def test_compressed_outputs_decode_to_the_bytes_sent():
    dictionary = b"".join(answer(i) for i in range(3))
    codec = Codec(1, dictionary)
    text = answer(12345)
    packed = codec.encode(text)
    assert codec.decode(packed) == text
    assert len(packed) < len(text) / 2  # the keys are in the dictionary


def test_undelivered_marks_follow_their_records_and_name_the_reason(tmp_path):
    path = tmp_path / "audit.db"
    log = AuditLog(path).start(dictionary=answer(99))
    try:
        log.submit([log.record("A", "predict", "t", "1", {"i": i}, answer(i)) for i in range(3)])
        log.mark_undelivered("A", "the client went away")
        log.submit([log.record("B", "recommend", "t", "1", {}, answer(9))]).result(10)
    finally:
        log.close()
    records = list(read_records(path))
    assert [(r["request_id"], r["delivered"]) for r in records] == [
        ("A", False),
        ("A", False),
        ("A", False),
        ("B", True),
    ]
    assert {r["undelivered_reason"] for r in read_records(path, undelivered_only=True)} == {
        "the client went away"
    }


def test_notes_are_committed_with_their_records_and_read_back(tmp_path):
    """An answer's FHIR sources and a CDS card's feedback, beside its request's id; a
    database written before notes existed has none to read, and gets the table on open."""
    (tmp_path / "old").mkdir()
    assert list(read_notes(schema_1_database(tmp_path / "old"))) == []
    path = tmp_path / "audit.db"
    log = AuditLog(path).start(dictionary=answer(99))
    sources = {"resources": [{"resourceType": "Patient", "id": "p1", "date": None}]}
    try:
        record = log.record("R", "cds-hooks", "cds:x", "1", {}, answer(1))
        log.submit([record], (), (audit_note("R", "fhir_sources", "cds:x", sources),))
        log.submit([], (), (audit_note("R", "cds_feedback", "cds:x", {"outcome": "accepted"}),))
        log.submit([]).result(10)
    finally:
        log.close()
    notes = list(read_notes(path))
    assert [(n["request_id"], n["kind"], n["token_id"]) for n in notes] == [
        ("R", "fhir_sources", "cds:x"),
        ("R", "cds_feedback", "cds:x"),
    ]
    assert notes[0]["note"] == sources and [r["request_id"] for r in read_records(path)] == ["R"]


def test_a_database_replaced_under_the_log_gets_the_dictionary_too(tmp_path):
    """A replaced database numbers its codecs its own way: the records written into it
    name its codec, and read back as sent."""
    path = tmp_path / "audit.db"
    log = AuditLog(path).start(dictionary=answer(99))
    try:
        log.submit([log.record("A", "recommend", "t", "1", {}, answer(1))]).result(10)
        for suffix in ("", "-wal", "-shm"):
            (tmp_path / f"audit.db{suffix}").unlink(missing_ok=True)
        with open_audit_db(path) as db:  # another database with a codec row of its own
            db.execute(
                "INSERT INTO codecs (name, dictionary_sha256, dictionary) VALUES "
                "('zlib-preset-dictionary', 'other', x'00')"
            )
        log.submit([log.record("B", "recommend", "t", "1", {}, answer(2))]).result(10)
    finally:
        log.close()
    assert [r["output"]["patient_id"] for r in read_records(path)] == ["P2"]


def test_reading_a_file_that_is_not_an_audit_database_fails_clearly(tmp_path):
    path = tmp_path / "audit.db"
    path.write_bytes(b"not sqlite")
    with pytest.raises(sqlite3.DatabaseError):
        list(read_records(path))


def test_a_schema_1_database_reads_without_being_changed(tmp_path):
    path = schema_1_database(tmp_path)
    before = path.read_bytes()
    assert [r["output"]["patient_id"] for r in read_records(path)] == ["P0"]
    assert list(read_records(path, undelivered_only=True)) == []
    assert path.read_bytes() == before


def test_a_request_cancelled_while_its_records_wait_does_not_stop_the_writer(tmp_path):
    """The 60 s time-out cancels a request waiting for its commit: the commit goes on (the
    guard marks the answer undelivered), and the writer thread lives to commit the next."""
    import asyncio

    path = tmp_path / "audit.db"
    log = AuditLog(path).start(dictionary=answer(99))
    other = sqlite3.connect(path, isolation_level=None)
    try:

        async def scenario():
            other.execute("BEGIN IMMEDIATE")  # the writer waits for the lock
            waiting = asyncio.ensure_future(
                log.append([log.record("R1", "predict", "t", "1", {}, answer(1))])
            )
            await asyncio.sleep(0.2)
            waiting.cancel()
            await asyncio.sleep(0.05)
            other.execute("ROLLBACK")
            await asyncio.wait_for(
                log.append([log.record("R2", "predict", "t", "1", {}, answer(2))]), 10
            )

        asyncio.run(scenario())
        assert log.intact() and log.healthy
    finally:
        other.close()
        log.close()
    assert [r["request_id"] for r in read_records(path)] == ["R1", "R2"]
