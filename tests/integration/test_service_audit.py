"""Security and audit against real servers: start-up refusals, the token ``serve`` creates,
and every acknowledged answer in the audit log after ``kill -9`` under load."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import threading
import time

import httpx
import pytest

from model.contract.patient import Patient, patient_example
from serving.audit_store import canonical_sha256, read_records
from serving.auth import hash_token
from tests.integration.service_fixtures import (  # noqa: F401  (fixtures)
    REPO,
    champion_tracking_uri,
    free_port,
    run_cli,
    start_server,
)

CONCURRENCY = 16


def serve(*args: str, env: dict, timeout: float = 60) -> subprocess.CompletedProcess:
    """``il2select serve ARGS`` expected to exit; a server it starts instead is killed."""
    return run_cli(env, REPO, "serve", *args, timeout=timeout)


def test_refuses_a_public_address_without_tokens(tmp_path, champion_tracking_uri):
    env = {**os.environ, "MLFLOW_TRACKING_URI": champion_tracking_uri, "IL2SELECT_TOKENS": ""}
    done = serve(
        "--host",
        "0.0.0.0",
        "--port",
        str(free_port()),
        "--tokens-file",
        str(tmp_path / "none"),
        env=env,
    )
    assert done.returncode == 2
    assert "refusing to serve on 0.0.0.0" in done.stderr
    assert not (tmp_path / "none").exists()


@pytest.mark.parametrize("host", ["localhost", "::1"])
def test_serves_on_a_loopback_name_and_on_ipv6_with_a_valid_url(
    tmp_path, champion_tracking_uri, host
):
    """Issue 14, defect 10: ``--host localhost`` passed the loopback check, created a token,
    then BentoML exited 1 ("Invalid host IP address"); ``::1`` printed ``http://::1:P/``."""
    server = start_server(champion_tracking_uri, tmp_path, token=None, host=host)
    try:
        with server.client() as client:
            assert client.post("/recommend", json=patient_example()).status_code == 200
        shown = "127.0.0.1" if host == "localhost" else "[::1]"
        port = server.url.rsplit(":", 1)[1]
        assert f"serving on http://{shown}:{port}/" in server.log()
    finally:
        server.kill()


def test_no_champion_is_a_clear_error(tmp_path):
    token_file = tmp_path / "tokens"
    token_file.write_text(f"t:{hash_token('x')}\n")
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'empty.db'}"}
    done = serve(
        "--no-train", "--port", str(free_port()), "--tokens-file", str(token_file), env=env
    )
    assert done.returncode == 3
    assert "no model il2select@champion" in " ".join(done.stderr.split())


@pytest.mark.slow
def test_every_acknowledged_answer_survives_kill_9(tmp_path, champion_tracking_uri):
    """Also: on loopback with no token configured, `serve` creates one, prints it once and
    stores only its hash."""
    server = start_server(champion_tracking_uri, tmp_path, token=None)
    try:
        stored = (tmp_path / "tokens").read_text()
        assert server.token not in stored and hash_token(server.token) in stored
        acknowledged: list[str] = []
        failures: list[str] = []
        stop = threading.Event()

        def load(worker: int) -> None:
            with server.client(timeout=10) as client:
                for i in range(100_000):
                    if stop.is_set():
                        return
                    patient = {**patient_example(), "patient_id": f"W{worker}-{i}"}
                    try:
                        response = client.post("/recommend", json=patient)
                    except httpx.HTTPError:
                        return  # the server died mid-request: not acknowledged
                    if response.status_code == 200:
                        canonical = Patient.model_validate(patient).model_dump()
                        acknowledged.append(canonical_sha256(canonical))
                    else:
                        failures.append(response.text)

        threads = [threading.Thread(target=load, args=(w,)) for w in range(CONCURRENCY)]
        for thread in threads:
            thread.start()
        time.sleep(3.0)
        server.kill(signal.SIGKILL)  # the whole process group, mid-load
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        server.kill()
    assert not failures, failures[:3]
    assert len(acknowledged) > 100
    records = list(read_records(server.audit_db))
    with sqlite3.connect(server.audit_db) as db:
        stored_as = {k for (k,) in db.execute("SELECT DISTINCT typeof(output_json) FROM audit")}
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    logged = {r["input_sha256"] for r in records if r["endpoint"] == "recommend"}
    missing = set(acknowledged) - logged
    assert not missing, f"{len(missing)} of {len(acknowledged)} acknowledged answers not logged"
    assert {r["token_id"] for r in records} == {"local"}
    assert stored_as == {"blob"}  # the answer sent, compressed
    output = records[0]["output"]
    assert output["recommendation"] in {
        "il2_first",
        "tki_first",
        "temsirolimus_or_trial",
        "il2_after_wait",
        "complete_workup_first",
    }


def _batches(metrics: str) -> float:
    """How many /recommend batches the instance has counted (its own histogram)."""
    lines = [s for s in metrics.splitlines() if s.startswith("recommend_batch_size_count")]
    assert lines, metrics[-2000:]
    return sum(float(line.split()[-1]) for line in lines)


def test_each_instance_keeps_its_own_metrics(tmp_path, champion_tracking_uri):
    """Issue 14, defect 7: every `bentoml serve` empties the Prometheus multiprocess
    directory of its BentoML home, so a second server sharing the home left the first's
    /metrics blind; `il2select serve` gives each instance a home of its own."""
    shared = {"BENTOML_HOME": str(tmp_path / "shared-home")}
    first = start_server(champion_tracking_uri, tmp_path / "a", extra_env=shared)
    try:
        with first.client() as client:
            for _ in range(3):
                assert client.post("/recommend", json=patient_example()).status_code == 200
            before = _batches(client.get("/metrics").text)
            assert before >= 3
            second = start_server(champion_tracking_uri, tmp_path / "b", extra_env=shared)
            try:
                for _ in range(2):
                    assert client.post("/recommend", json=patient_example()).status_code == 200
                assert _batches(client.get("/metrics").text) >= before + 2
            finally:
                second.kill(signal.SIGTERM)
    finally:
        first.kill(signal.SIGTERM)


def test_an_audit_store_that_is_gone_refuses_answers_until_it_is_back(
    tmp_path, champion_tracking_uri
):
    """Issue 14, defects 4 and 9: the audit database deleted under the service gives 503
    with Retry-After (not a 500, not an answer into a deleted file) and /readyz 503; a
    database back at the path is taken up again by itself."""
    from serving.audit_store import open_audit_db

    server = start_server(champion_tracking_uri, tmp_path)
    try:
        with server.client() as client:
            assert client.post("/recommend", json=patient_example()).status_code == 200
            for suffix in ("", "-wal", "-shm"):
                (tmp_path / f"audit.db{suffix}").unlink(missing_ok=True)
            for route, body in (
                ("/recommend", patient_example()),
                ("/predict", [patient_example()]),
            ):
                refused = client.post(route, json=body)
                assert refused.status_code == 503, (route, refused.text)
                assert refused.headers["retry-after"] and "audit" in refused.json()["error"]
            assert httpx.get(f"{server.url}/readyz", timeout=10).status_code == 503
            open_audit_db(tmp_path / "audit.db").close()  # an operator restores a database
            deadline = time.monotonic() + 10  # readiness probes the store once a second
            while httpx.get(f"{server.url}/readyz", timeout=10).status_code != 200:
                assert time.monotonic() < deadline, "not ready again after the store came back"
                time.sleep(0.2)
            answered = client.post("/recommend", json={**patient_example(), "patient_id": "BACK"})
            assert answered.status_code == 200
        outputs = [r["output"] for r in read_records(tmp_path / "audit.db")]
        assert [o["patient_id"] for o in outputs] == ["BACK"]  # nothing answered unrecorded
    finally:
        server.kill(signal.SIGTERM)


def test_an_unwritable_audit_store_stops_serve_before_it_starts(tmp_path, champion_tracking_uri):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the audit folder should be")
    token_file = tmp_path / "tokens"
    token_file.write_text(f"t:{hash_token('x')}\n")
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": champion_tracking_uri,
        "IL2SELECT_AUDIT_DB": str(blocker / "audit.db"),
    }
    started = time.monotonic()
    done = serve("--port", str(free_port()), "--tokens-file", str(token_file), env=env)
    assert done.returncode == 5, done.stderr[-2000:]
    assert "cannot serve" in done.stderr and "audit database" in done.stderr
    assert time.monotonic() - started < 30


def test_patient_lists_beyond_the_queue_are_refused_at_once(tmp_path, champion_tracking_uri):
    """Issue 14, defect 8: lists ran one at a time and queued without bound. Now at most
    IL2SELECT_MAX_LIST_REQUESTS run and IL2SELECT_MAX_LIST_WAITING wait; any more get 503
    with Retry-After at once, and /recommend is answered meanwhile, as is a list of a few
    patients (a lane of its own, not a place behind the long lists)."""
    import asyncio

    limits = {"IL2SELECT_MAX_LIST_REQUESTS": "1", "IL2SELECT_MAX_LIST_WAITING": "1"}
    server = start_server(champion_tracking_uri, tmp_path, extra_env=limits)
    rows = [{**patient_example(), "patient_id": f"L{i}"} for i in range(1500)]
    headers = {"authorization": f"Bearer {server.token}"}

    async def post(client, route, body):
        started = time.monotonic()
        response = await client.post(route, json=body, headers=headers)
        return response, time.monotonic() - started

    async def scenario():
        async with httpx.AsyncClient(base_url=server.url, timeout=120) as client:
            lists = [asyncio.create_task(post(client, "/predict", rows)) for _ in range(4)]
            await asyncio.sleep(0.5)
            single = await post(client, "/recommend", patient_example())
            few = await post(client, "/predict", [patient_example()])  # the small lists' lane
            return await asyncio.gather(*lists), single, few

    try:
        lists, (single, _), (few, few_seconds) = asyncio.run(scenario())
    finally:
        server.kill(signal.SIGTERM)
    statuses = sorted(response.status_code for response, _ in lists)
    assert statuses.count(200) >= 2 and statuses.count(503) >= 1, statuses
    assert set(statuses) <= {200, 503}
    for response, seconds in lists:
        if response.status_code == 503:
            assert response.headers["retry-after"] and "busy" in response.json()["error"]
            assert seconds < 1.0, seconds
        else:
            assert len(response.json()) == len(rows)
    assert single.status_code == 200
    assert few.status_code == 200 and len(few.json()) == 1
    assert few_seconds < max(seconds for r, seconds in lists if r.status_code == 200)
