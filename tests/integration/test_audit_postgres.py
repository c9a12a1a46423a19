"""The audit log on PostgreSQL (issue 12, deliverable 2), at the store: a real cluster
(``initdb`` in a temporary folder, loopback) per module. Records come back as sent
(compressed, marks of undelivered answers after them); several logs writing one database at
once lose and duplicate nothing; with the server stopped, every commit fails (the service's
503) and the log takes records again once it is back, without a restart."""

from __future__ import annotations

import json
import threading

import pytest

from serving.audit import AuditLog, AuditUnavailable, audit_note, audit_store, check_writable
from serving.audit_postgres import PostgresStore, read_notes, read_records
from tests.engines import PostgreSQL
from tests.integration.service_fixtures import REPO, clean_env, run_cli

DICTIONARY = json.dumps({"patient_id": "P", "recommendation": "il2_first", "p": 0.1}).encode()


@pytest.fixture(scope="module")
def postgres():
    cluster = PostgreSQL().initialise()
    yield cluster
    cluster.remove()


@pytest.fixture
def url(postgres, request) -> str:
    return postgres.create_database(request.node.name.replace("[", "_").strip("]")[:60])


def answer(i: int, p: float = 0.0) -> bytes:
    return json.dumps({"patient_id": f"P{i}", "recommendation": "tki_first", "p": p}).encode()


def started(url: str) -> AuditLog:
    return AuditLog(PostgresStore(url)).start(dictionary=DICTIONARY)


def commit(log: AuditLog, request_id: str, outputs: list[bytes]) -> None:
    records = [
        log.record(request_id, "predict", "tester", "7", {"i": n}, out)
        for n, out in enumerate(outputs)
    ]
    log.submit(records).result(timeout=30)


def test_records_come_back_as_sent_with_their_marks(url):
    log = started(url)
    try:
        commit(log, "R1", [answer(1, 0.25), answer(2, 1 / 3)])
        commit(log, "R2", [answer(3)])
        log.submit([], (("R2", "client gone"),)).result(timeout=30)
    finally:
        log.close()
    records = list(read_records(url))
    assert [json.dumps(r["output"]).encode() for r in records] == [
        answer(1, 0.25),
        answer(2, 1 / 3),
        answer(3),
    ]
    assert [(r["request_id"], r["delivered"]) for r in records] == [
        ("R1", True),
        ("R1", True),
        ("R2", False),
    ]
    assert records[2]["undelivered_reason"] == "client gone"
    assert {r["model_version"] for r in records} == {"7"}
    assert [r["id"] for r in read_records(url, undelivered_only=True)] == [records[2]["id"]]


def test_audit_export_reads_the_postgresql_log(url, tmp_path):
    log = started(url)
    try:
        commit(log, "R1", [answer(1), answer(2)])
    finally:
        log.close()
    done = run_cli(clean_env(IL2SELECT_AUDIT_URL=url), REPO, "audit", "export")
    assert done.returncode == 0, done.stderr
    exported = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["output"]["patient_id"] for r in exported] == ["P1", "P2"]
    assert "2 records from postgresql://il2select@127.0.0.1:" in done.stderr


def test_notes_are_committed_with_their_records_and_exported(url):
    """The FHIR resources of an answer, and a CDS card's feedback, beside its request."""
    log = started(url)
    sources = {"resources": [{"resourceType": "Patient", "id": "p1", "date": None}]}
    feedback = {"card": "0b6f1f6e-4c1e-4a8e-9a57-3d1c2b9f1e01", "outcome": "accepted"}
    try:
        record = log.record("R1", "cds-hooks", "cds:issuer", "7", {"i": 1}, answer(1))
        log.submit([record], (), (audit_note("R1", "fhir_sources", "cds:issuer", sources),))
        log.submit([], (), (audit_note("R1", "cds_feedback", "cds:issuer", feedback),)).result(30)
    finally:
        log.close()
    notes = list(read_notes(url))
    assert [(n["request_id"], n["kind"], n["note"]) for n in notes] == [
        ("R1", "fhir_sources", sources),
        ("R1", "cds_feedback", feedback),
    ]
    done = run_cli(clean_env(IL2SELECT_AUDIT_URL=url), REPO, "audit", "export", "--notes")
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["kind"] for line in done.stdout.splitlines()] == [
        "fhir_sources",
        "cds_feedback",
    ]


def test_logs_writing_one_database_at_once_lose_and_duplicate_nothing(url):
    logs = [started(url) for _ in range(3)]  # three connections: three replicas' writers
    threads_per_log, commits_each = 4, 40

    def write(log: AuditLog, name: str) -> None:
        for k in range(commits_each):
            commit(log, f"{name}-{k}", [answer(hash((name, k, j)) % 10**9) for j in range(3)])

    threads = [
        threading.Thread(target=write, args=(log, f"L{n}T{t}"))
        for n, log in enumerate(logs)
        for t in range(threads_per_log)
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    finally:
        for log in logs:
            log.close()
    records = list(read_records(url))
    expected = len(logs) * threads_per_log * commits_each * 3
    assert len(records) == expected
    assert len({r["id"] for r in records}) == expected
    per_request: dict[str, int] = {}
    for record in records:
        per_request[record["request_id"]] = per_request.get(record["request_id"], 0) + 1
    assert len(per_request) == expected // 3 and set(per_request.values()) == {3}


def test_a_stopped_server_fails_every_commit_and_its_return_heals_the_log(tmp_path):
    cluster = PostgreSQL().initialise()  # its own: this test stops it
    try:
        url = cluster.create_database("audit")
        log = started(url)
        try:
            commit(log, "before", [answer(1)])
            cluster.stop()
            with pytest.raises(AuditUnavailable):
                commit(log, "while-down", [answer(2)])
            assert not log.healthy
            assert not log.intact()  # readiness never trusts a PostgreSQL connection: it probes
            log._last_probe = float("-inf")
            assert not log.probe()
            cluster.start()
            commit(log, "after", [answer(3)])
            assert log.healthy
        finally:
            log.close()
        assert [r["request_id"] for r in read_records(url)] == ["before", "after"]
    finally:
        cluster.remove()


def test_serve_refuses_to_start_on_an_unreachable_or_foreign_audit_url(tmp_path):
    with pytest.raises(AuditUnavailable, match="must be postgresql"):
        audit_store("mysql://somewhere/audit", tmp_path / "audit.db")
    unreachable = PostgresStore("postgresql://il2select@127.0.0.1:9/audit")
    with pytest.raises(AuditUnavailable, match="127.0.0.1:9/audit cannot be written"):
        check_writable(unreachable)


def test_cds_jwt_replays_are_shared_through_the_audit_database(url):
    """Replicas on one PostgreSQL audit database refuse each other's replays."""
    from types import SimpleNamespace

    from serving.cds_replays import SharedReplays

    settings = SimpleNamespace(audit_url=url, audit_path=None)
    first, second = (SharedReplays.for_settings(settings, 30.0) for _ in range(2))
    try:
        assert first.claim("https://sandbox", "a", 4e9) is True
        assert second.claim("https://sandbox", "a", 4e9) is False
        assert second.claim("https://sandbox", "b", 4e9) is True
        assert first.claim("https://sandbox", "b", 4e9) is False
    finally:
        first.close()
        second.close()


def test_answered_requests_are_found_by_a_second_connection(url, tmp_path):
    """CDS feedback asks the audit log whether a card was answered (by any replica)."""
    from serving.audit_lookup import AnsweredLookup

    log = started(url)
    try:
        commit(log, "R1", [answer(1)])
    finally:
        log.close()
    lookup = AnsweredLookup(url, tmp_path / "unused.db")
    try:
        assert lookup.answered(["R1", "R2"], "predict") == {"R1"}
        assert lookup.answered(["R1"], "cds-hooks") == set()  # another endpoint's answer
    finally:
        lookup.close()
