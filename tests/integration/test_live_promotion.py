"""Live promotion (issue 12, deliverable 4): the service follows ``@champion`` without a
restart. A version promoted under load (16 clients) is taken up within the poll interval
(plus its load), every request is answered 200, each client sees the version switch once,
and every audit record names the version that computed its answer; a version that cannot
be loaded leaves the old one serving, says so on ``POST /admin/reload`` and on
``/metrics``."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time

from model.contract.patient import patient_example
from serving.audit_store import read_records
from tests.integration.service_fixtures import start_server

CLIENTS = 16
POLL_S = 1.0
LOAD_ALLOWANCE_S = 10.0  # finding and loading a version on a busy 2-core machine

REGISTER = """
import sys
from mlflow import MlflowClient
client = MlflowClient()
serving = client.get_model_version_by_alias("il2select", "champion")
source = serving.source if sys.argv[1] == "same" else sys.argv[1]
made = client.create_model_version("il2select", source, run_id=serving.run_id, tags=serving.tags)
client.set_registered_model_alias("il2select", "champion", made.version)
print(made.version)
"""


def promote(tracking_uri: str, source: str = "same") -> str:
    """Register a version (the serving one's model, or ``source``) and move the alias to it,
    as ``il2select promote`` does after its gate; in a child process with its own
    tracking URI."""
    done = subprocess.run(
        [sys.executable, "-c", REGISTER, source],
        env={**os.environ, "MLFLOW_TRACKING_URI": tracking_uri},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.split()[-1]


def copied_registry(champion_tracking_uri: str, folder) -> str:
    """A copy of the session's registry (the artifacts stay where they are, read-only)."""
    source = champion_tracking_uri.removeprefix("sqlite:///")
    folder.mkdir()
    with sqlite3.connect(source) as original, sqlite3.connect(folder / "mlflow.db") as copy:
        original.backup(copy)
    return f"sqlite:///{folder / 'mlflow.db'}"


def test_a_version_promoted_under_load_is_taken_up_once_without_a_failed_request(
    tmp_path, champion_tracking_uri
):
    tracking_uri = copied_registry(champion_tracking_uri, tmp_path / "registry")
    server = start_server(
        tracking_uri, tmp_path / "server", extra_env={"IL2SELECT_CHAMPION_POLL_S": str(POLL_S)}
    )
    seen: list[list[tuple[float, int, str | None]]] = [[] for _ in range(CLIENTS)]
    stop = threading.Event()

    def load(n: int) -> None:
        with server.client(timeout=30) as client:
            while not stop.is_set():
                response = client.post("/recommend", json=patient_example())
                version = (
                    response.json()["provenance"]["model_version"]
                    if response.status_code == 200
                    else None
                )
                seen[n].append((time.monotonic(), response.status_code, version))

    threads = [threading.Thread(target=load, args=(n,)) for n in range(CLIENTS)]
    try:
        for thread in threads:
            thread.start()
        time.sleep(2)
        first = seen[0][-1][2]
        promoted_at = time.monotonic()
        new = promote(tracking_uri)
        deadline = promoted_at + POLL_S + LOAD_ALLOWANCE_S
        while not any(v == new for row in seen for _, _, v in row[-3:]):
            assert time.monotonic() < deadline, "the promoted version was not taken up"
            time.sleep(0.1)
        time.sleep(2)  # the other clients get the new version too
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        with server.client() as client:
            again = client.post("/admin/reload")
            metrics = client.get("/metrics").text
    finally:
        stop.set()
        server.kill(signal.SIGTERM)
    assert again.status_code == 200 and again.json()["changed"] is False
    assert again.json()["serving"] == new
    statuses = {status for row in seen for _, status, _ in row}
    assert statuses == {200}
    for row in seen:  # each client: the old version, then the new one, never back
        versions = [v for _, _, v in row]
        switch = versions.index(new)
        assert set(versions[:switch]) == {first} and set(versions[switch:]) == {new}
    taken_up = min(t for row in seen for t, _, v in row if v == new) - promoted_at
    assert taken_up < POLL_S + LOAD_ALLOWANCE_S, taken_up
    gauge = [line for line in metrics.splitlines() if line.startswith("champion_version")]
    assert gauge and all(float(line.split()[-1]) == float(new) for line in gauge), gauge
    records = list(read_records(server.audit_db))
    assert {r["model_version"] for r in records} == {first, new}
    assert all(r["model_version"] == r["output"]["provenance"]["model_version"] for r in records)


def test_a_version_that_cannot_be_loaded_leaves_the_old_one_serving(
    tmp_path, champion_tracking_uri
):
    tracking_uri = copied_registry(champion_tracking_uri, tmp_path / "registry")
    server = start_server(
        tracking_uri, tmp_path / "server", extra_env={"IL2SELECT_CHAMPION_POLL_S": "0"}
    )
    try:
        with server.client() as client:
            before = client.get("/model").json()["provenance"]["model_version"]
            broken = promote(tracking_uri, f"file://{tmp_path / 'no-model-here'}")
            reload = client.post("/admin/reload")
            answer = client.post("/recommend", json=patient_example())
            metrics = client.get("/metrics").text
            unauthenticated = server.client(token=None).post("/admin/reload")
    finally:
        server.kill(signal.SIGTERM)
    assert reload.status_code == 503, reload.text
    body = reload.json()
    assert body["serving"] == before and body["changed"] is False and broken != before
    assert f"version {before} serves on" in body["error"]
    assert answer.status_code == 200
    assert answer.json()["provenance"]["model_version"] == before
    failures = [line for line in metrics.splitlines() if "champion_reload_failures" in line]
    assert any(line.split()[-1] == "1.0" for line in failures if "_total" in line), failures
    assert unauthenticated.status_code == 401
