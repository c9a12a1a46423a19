"""The audit log tells the truth (issue 14, defect 2): a list's records are committed
together and named by the response's ``x-il2select-audit-id``; an answer that never
reached its client is marked undelivered; outputs are stored compressed and read back
whole by ``il2select audit export``."""

from __future__ import annotations

import json
import socket
import sqlite3
import threading
import time

import orjson

from model.contract.patient import patient_example
from serving.audit_store import read_records
from serving.delivery import AUDIT_HEADER, CLIENT_GONE
from tests.integration.service_fixtures import REPO, clean_env, clinic_patients, run_cli

ROWS = 1000
# today's store kept ~40 MB per 10,000-row /predict (4 kB a row); the issue asks 4x less
MAX_STORED_BYTES_PER_ROW = 1000
STORED_BYTES = """
SELECT count(*), sum(length(time_utc) + length(endpoint) + length(token_id)
       + ifnull(length(model_version), 0) + length(input_sha256) + length(output_json)
       + length(request_id) + 16), min(id), max(id)
FROM audit WHERE request_id = ?
"""


def _rows(prefix: str, n: int = ROWS) -> list[dict]:
    """The sample clinic list's patients, cycled: answers as varied as a clinic's."""
    clinic = clinic_patients()
    return [{**clinic[i % len(clinic)], "patient_id": f"{prefix}{i}"} for i in range(n)]


def _records(service, request_id: str) -> list[dict]:
    return [r for r in read_records(service.audit_db) if r["request_id"] == request_id]


def test_a_list_is_one_block_of_compressed_records_named_by_its_response(service):
    """Single answers given meanwhile do not interleave with the list's records; each
    record holds the row's answer as sent, in a quarter of the bytes or less."""
    stop = threading.Event()
    singles: list[int] = []

    def recommend_meanwhile() -> None:
        with service.client() as client:
            while not stop.is_set():
                singles.append(client.post("/recommend", json=patient_example()).status_code)

    thread = threading.Thread(target=recommend_meanwhile)
    thread.start()
    try:
        with service.client() as client:
            response = client.post("/predict", json=_rows("BLOCK-"))
    finally:
        stop.set()
        thread.join(timeout=30)
    assert response.status_code == 200, response.text[:500]
    assert singles and set(singles) == {200}
    request_id = response.headers[AUDIT_HEADER]
    with sqlite3.connect(service.audit_db) as db:
        count, stored, first, last = db.execute(STORED_BYTES, (request_id,)).fetchone()
    assert count == ROWS and last - first == ROWS - 1  # one transaction: contiguous ids
    sent_per_row = len(response.content) / ROWS
    assert stored / ROWS <= min(MAX_STORED_BYTES_PER_ROW, sent_per_row / 4), (
        stored / ROWS,
        sent_per_row,
    )
    records = _records(service, request_id)
    assert [r["output"] for r in records] == response.json()  # decoded: the answer as sent
    assert {r["endpoint"] for r in records} == {"predict"}
    assert not any(r["undelivered_reason"] for r in records)


def test_an_answer_the_client_left_before_is_marked_undelivered(service):
    """The client sends a list and hangs up at once: the answer is computed and recorded,
    and its records are marked as never delivered."""
    body = orjson.dumps(_rows("GONE-", 400))
    host, port = service.url.removeprefix("http://").rsplit(":", 1)
    head = (
        f"POST /predict HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n"
        f"authorization: Bearer {service.token}\r\ncontent-length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        raw.sendall(head + body)
    deadline = time.monotonic() + 60
    while True:
        marked = [
            r
            for r in read_records(service.audit_db, undelivered_only=True)
            if r["output"]["patient_id"].startswith("GONE-")
        ]
        if len(marked) == 400 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert len(marked) == 400
    assert {r["undelivered_reason"] for r in marked} == {CLIENT_GONE}
    assert len({r["request_id"] for r in marked}) == 1
    with service.client() as client:  # the service goes on answering
        assert client.post("/recommend", json=patient_example()).status_code == 200


def test_audit_export_prints_every_record_decoded(service, tmp_path):
    with service.client() as client:
        response = client.post("/triage", json=_rows("EXPORT-", 3) + [{"age_years": -1}])
    assert response.status_code == 200
    request_id = response.headers[AUDIT_HEADER]
    done = run_cli(clean_env(), REPO, "audit", "export", "--db", str(service.audit_db))
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    exported = [r for r in lines if r["request_id"] == request_id]
    assert [r["output"] for r in exported] == response.json()[:3]  # the refused row: no record
    assert {r["endpoint"] for r in exported} == {"triage"}
    assert {r["model_version"] for r in exported} == {None}  # the rules answered, not a model
    assert f"{len(lines)} records from" in done.stderr
    missing = run_cli(clean_env(), REPO, "audit", "export", "--db", str(tmp_path / "none.db"))
    assert missing.returncode == 2 and "no audit database at" in missing.stderr
