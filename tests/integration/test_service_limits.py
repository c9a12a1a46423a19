"""Connection limits against a real server (issue 14, defect 1): oversized or unfinished
headers, silent connections and stalled bodies are refused and closed, within their
limits, without a token; ordinary requests are untouched."""

from __future__ import annotations

import signal
import socket
import threading
import time

import psutil
import pytest

from model.contract.patient import patient_example
from tests.integration.service_fixtures import (  # noqa: F401  (fixtures)
    champion_tracking_uri,
    start_server,
)

HEADER_TIMEOUT_S = 2.0
LIMITS = {
    "IL2SELECT_MAX_HEADER_BYTES": "16384",
    "IL2SELECT_HEADER_TIMEOUT_S": str(HEADER_TIMEOUT_S),
    "IL2SELECT_BODY_TIMEOUT_S": str(HEADER_TIMEOUT_S),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory, champion_tracking_uri):
    started = start_server(
        champion_tracking_uri, tmp_path_factory.mktemp("limits"), extra_env=LIMITS
    )
    yield started
    started.kill(signal.SIGTERM)


def _connect(server) -> socket.socket:
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    return socket.create_connection((host, int(port)), timeout=10)


def _answer(sock: socket.socket) -> tuple[bytes, float]:
    """Everything the server sends until it closes, and how long that took."""
    started, chunks = time.monotonic(), []
    while True:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, TimeoutError):
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks), time.monotonic() - started


def test_oversized_headers_are_431_and_closed(server):
    with _connect(server) as sock:
        sock.sendall(b"POST /recommend HTTP/1.1\r\nHost: a\r\nX-Big: " + b"a" * 40_000)
        answer, _ = _answer(sock)
    assert answer.startswith(b"HTTP/1.1 431"), answer[:200]


@pytest.mark.parametrize(
    "sent",
    [b"", b"GET /livez HTTP/1.1\r\nHost: a\r\n", b"POST /recommend HTTP/1.1\r\nHost: a\r\nX-A: b"],
)
def test_unfinished_or_silent_connections_are_closed_within_the_header_timeout(server, sent):
    with _connect(server) as sock:
        sock.sendall(sent)
        answer, seconds = _answer(sock)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert HEADER_TIMEOUT_S - 0.5 <= seconds <= HEADER_TIMEOUT_S + 2.0


def test_a_stalled_body_is_408_and_closed(server):
    head = (
        b"POST /recommend HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer " + server.token.encode() + b"\r\nContent-Length: 1000\r\n\r\n"
    )
    with _connect(server) as sock:
        sock.sendall(head + b'{"age_years"')
        answer, seconds = _answer(sock)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert seconds <= HEADER_TIMEOUT_S + 2.0


def test_dribbled_huge_headers_hold_no_memory_and_requests_go_on(server):
    """8 clients without a token each try to send a 64 MB header: each is closed after
    the limit; the worker's memory barely moves and /recommend is answered meanwhile."""
    family = [
        psutil.Process(server.process.pid),
        *psutil.Process(server.process.pid).children(True),
    ]
    before = sum(p.memory_info().rss for p in family)
    closed = []

    def attack():
        with _connect(server) as sock:
            sock.sendall(b"POST /predict HTTP/1.1\r\nHost: a\r\nX-Big: ")
            try:
                for _ in range(64 * 16):  # 64 MB in 64 kB pieces
                    sock.sendall(b"a" * 65536)
            except OSError:
                closed.append(True)

    threads = [threading.Thread(target=attack) for _ in range(8)]
    for thread in threads:
        thread.start()
    with server.client() as client:
        for _ in range(20):
            assert client.post("/recommend", json=patient_example()).status_code == 200
    for thread in threads:
        thread.join(timeout=60)
    after = sum(p.memory_info().rss for p in family)
    assert len(closed) == 8
    assert (after - before) / 2**20 < 50
