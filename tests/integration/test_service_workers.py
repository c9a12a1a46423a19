"""Several workers share the load (``serving/listener.py``): each listens on a socket of its
own, so keep-alive connections that arrive together reach both; a second server on the
same port is refused instead of silently sharing it."""

from __future__ import annotations

import os
import signal
import time
from urllib.parse import urlsplit

import httpx
import psutil

from model.contract.patient import patient_example
from tests.cds_hooks_client import (
    SERVICE_PATH,
    clinic_resources,
    hook_call,
    issuers_env,
    sandbox_jwt,
)
from tests.integration.service_fixtures import (  # noqa: F401  (fixtures)
    REPO,
    champion_tracking_uri,
    free_port,
    run_cli,
    start_server,
)

CONNECTIONS = 16


def _workers(process) -> list[psutil.Process]:
    family = psutil.Process(process.pid).children(recursive=True)
    return [p for p in family if "_bentoml_impl.worker" in " ".join(p.cmdline())]


def _sockets(worker: psutil.Process, port: int, status: str) -> int:
    return sum(
        1
        for c in worker.net_connections(kind="tcp")
        if c.laddr and c.laddr.port == port and c.status == status
    )


def _listening_inode(worker: psutil.Process, port: int) -> str:
    (fd,) = (
        c.fd
        for c in worker.net_connections(kind="tcp")
        if c.laddr and c.laddr.port == port and c.status == psutil.CONN_LISTEN
    )
    return os.readlink(f"/proc/{worker.pid}/fd/{fd}")  # "socket:[inode]"


def test_two_workers_each_listen_and_both_take_connections(tmp_path, champion_tracking_uri):
    two = {"BENTOML_CONFIG_OPTIONS": "services.il2select.workers=2"}
    server = start_server(champion_tracking_uri, tmp_path / "two", extra_env=two)
    port = urlsplit(server.url).port
    clients = []
    try:
        workers = _workers(server.process)
        assert len(workers) == 2
        # /readyz answers once one worker is ready; each listens once it can answer
        deadline = time.monotonic() + 60
        while [_sockets(w, port, psutil.CONN_LISTEN) for w in workers] != [1, 1]:
            assert time.monotonic() < deadline, "the second worker never listened"
            time.sleep(0.2)
        # sockets of their own, not one shared (the same socket has one inode)
        assert len({_listening_inode(w, port) for w in workers}) == 2
        # 16 keep-alive connections opened together, each kept open after its answer
        for _ in range(CONNECTIONS):
            client = server.client()
            clients.append(client)
            assert client.post("/recommend", json=patient_example()).status_code == 200
        held = [_sockets(w, port, psutil.CONN_ESTABLISHED) for w in workers]
        assert sum(held) == CONNECTIONS
        # the kernel hashes each connection to a listener: all 16 on one worker has
        # probability 2^-15; with one shared socket, the awake worker took them all
        assert min(held) > 0, held

        second = run_cli(server.env, REPO, "serve", "--port", str(port), timeout=60)
        assert second.returncode == 2, second.stderr
        assert f"127.0.0.1:{port} is in use" in second.stderr
        # and the first server is untouched
        assert clients[0].post("/recommend", json=patient_example()).status_code == 200
    finally:
        for client in clients:
            client.close()
        server.kill(signal.SIGTERM)


def test_a_single_worker_listens_on_its_own_socket_and_answers(tmp_path, champion_tracking_uri):
    server = start_server(champion_tracking_uri, tmp_path / "one")
    port = urlsplit(server.url).port
    try:
        (worker,) = _workers(server.process)
        assert _sockets(worker, port, psutil.CONN_LISTEN) == 1
        # the supervisor holds the port without listening: nothing queues there unanswered
        supervisor = psutil.Process(server.process.pid).children(recursive=True)
        listeners = [p for p in supervisor if _sockets(p, port, psutil.CONN_LISTEN)]
        assert [p.pid for p in listeners] == [worker.pid]
        with httpx.Client(base_url=server.url, headers={"authorization": "Bearer x"}) as c:
            assert c.get("/livez").status_code == 200
    finally:
        server.kill(signal.SIGTERM)


def test_a_cds_jwt_replayed_to_another_worker_or_replica_is_refused(
    tmp_path, champion_tracking_uri
):
    """``jti`` not replayed within its lifetime: the check is shared by the workers of a
    server and by servers on one audit folder, not kept in one worker's memory."""
    from datetime import date

    port, other_port = free_port(), free_port()
    folder = tmp_path / "cds"
    env = {
        "IL2SELECT_CDS_ISSUERS": issuers_env(),
        "IL2SELECT_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "IL2SELECT_CHAMPION_POLL_S": "0",
        "BENTOML_CONFIG_OPTIONS": "services.il2select.workers=2",
    }
    server = start_server(champion_tracking_uri, folder, port=port, extra_env=env)
    # a replica on the same audit folder (the same public URL, as behind a load balancer)
    replica = start_server(champion_tracking_uri, folder, port=other_port, extra_env=env)
    try:
        body = hook_call(clinic_resources(date.today())["MAN-001"])
        url = f"http://127.0.0.1:{port}{SERVICE_PATH}"
        token = sandbox_jwt(url)
        headers = {"authorization": f"Bearer {token}"}
        assert httpx.post(url, json=body, headers=headers, timeout=60).status_code == 200
        # 12 fresh connections: with two workers, about half land on the other one
        for target in [server.url] * 12 + [replica.url] * 4:
            with httpx.Client(timeout=60) as client:
                again = client.post(target + SERVICE_PATH, json=body, headers=headers)
            assert again.status_code == 401, again.text[:300]
            assert "replay" in again.json()["issue"][0]["diagnostics"]
        fresh = {"authorization": f"Bearer {sandbox_jwt(url)}"}
        answered = httpx.post(url, json=body, headers=fresh, timeout=60)
        assert answered.status_code == 200
        # feedback on that card reaches whichever worker or replica: each knows the card
        (card,) = answered.json()["cards"]
        item = {"card": card["uuid"], "outcome": "accepted"}
        item["outcomeTimestamp"] = "2026-12-02T10:05:31Z"
        for target in [server.url] * 6 + [replica.url] * 2:
            feedback = target + SERVICE_PATH + "/feedback"
            signed = {"authorization": f"Bearer {sandbox_jwt(url + '/feedback')}"}
            with httpx.Client(timeout=60) as client:
                noted = client.post(feedback, json={"feedback": [item]}, headers=signed)
            assert noted.status_code == 200, noted.text[:300]
    finally:
        replica.kill(signal.SIGTERM)
        server.kill(signal.SIGTERM)
