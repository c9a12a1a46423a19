"""Two BentoML workers behind one ``il2select serve`` share the load: after a warm-up, 16
keep-alive connections opened at once are spread, and each worker does a fair part of the
work. Without ``UV_TCP_SINGLE_ACCEPT`` (``serving.connections.share_accepts_between_workers``)
the worker awake from the warm-up accepted all 16 and the other stayed idle: CPU seconds
[6.46, 0.01], this test failing."""

from __future__ import annotations

import json

import psutil
import pytest

from bench.loadgen import build_request, run_load
from model.contract.patient import patient_example
from tests.integration.service_fixtures import start_server

pytestmark = pytest.mark.slow
CLIENTS = 16


def workers_of(server) -> list[psutil.Process]:
    family = psutil.Process(server.process.pid).children(recursive=True)
    return [p for p in family if "_bentoml_impl.worker" in " ".join(p.cmdline())]


def test_two_workers_both_take_keep_alive_connections(champion_tracking_uri, tmp_path):
    server = start_server(
        champion_tracking_uri,
        tmp_path / "server",
        extra_env={
            "IL2SELECT_CHAMPION_POLL_S": "0",
            "BENTOML_CONFIG_OPTIONS": "services.il2select.workers=2",
        },
    )
    try:
        workers = workers_of(server)
        assert len(workers) == 2
        port = int(server.url.rsplit(":", 1)[1])
        body = json.dumps(patient_example()).encode()
        request = build_request("127.0.0.1", port, "POST", "/recommend", body, server.token)
        run_load("127.0.0.1", port, [request], concurrency=4, duration_s=3)  # as bench.serving
        before = [sum(w.cpu_times()[:2]) for w in workers]
        # 16 keep-alive connections opened at once, as a load balancer's pool opens them
        load = run_load("127.0.0.1", port, [request], concurrency=CLIENTS, duration_s=6)
        used = [sum(w.cpu_times()[:2]) - b for w, b in zip(workers, before, strict=True)]
    finally:
        server.kill()
    assert load.errors == 0 and load.count > 100
    assert min(used) > 0.25 * sum(used), f"CPU seconds per worker under load: {used}"
