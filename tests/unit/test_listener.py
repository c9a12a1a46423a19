"""A listening socket per worker (``serving/listener.py``): the supervisor binds the port
with ``SO_REUSEPORT`` without listening, each worker puts its own listener on the inherited
descriptor, and the kernel spreads connections over them."""

from __future__ import annotations

import os
import select
import socket

import pytest

from serving.listener import PortInUse, check_port_free, inherited_fd, listen_on_own_socket


def _supervisor_socket() -> socket.socket:
    """What the patched supervisor holds: bound with SO_REUSEPORT, not listening."""
    held = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    held.bind(("127.0.0.1", 0))
    return held


def _accepted(listener: socket.socket) -> int:
    """Connections waiting on a listener (accepted here, then closed)."""
    count = 0
    while select.select([listener], [], [], 0.2)[0]:
        connection, _ = listener.accept()
        connection.close()
        count += 1
    return count


def test_each_worker_gets_a_listener_of_its_own_and_connections_spread_over_them():
    held = _supervisor_socket()
    port = held.getsockname()[1]
    workers = [os.dup(held.fileno()) for _ in range(2)]  # what each worker inherits
    try:
        assert all(listen_on_own_socket(fd) for fd in workers)
        listeners = [socket.socket(fileno=os.dup(fd)) for fd in workers]
        assert {s.getsockname()[1] for s in listeners} == {port}
        for s in listeners:
            assert s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 1
        # the supervisor's own socket never listens: no connection waits where none accepts
        assert held.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 0
        clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(64)]
        counts = [_accepted(s) for s in listeners]
        for c in clients:
            c.close()
        for s in listeners:
            s.close()
    finally:
        for fd in workers:
            os.close(fd)
        held.close()
    # every connection reached a worker, and both workers had some (the kernel hashes
    # each connection's addresses: all 64 on one side has probability 2^-63)
    assert sum(counts) == 64
    assert min(counts) > 0, counts


def test_a_socket_that_already_listens_is_shared_as_bentoml_gives_it():
    shared = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    shared.bind(("127.0.0.1", 0))
    shared.listen(8)
    with shared:
        fd = os.dup(shared.fileno())
        try:
            assert listen_on_own_socket(fd) is False
            with socket.socket(fileno=os.dup(fd)) as same:
                assert same.getsockname() == shared.getsockname()
        finally:
            os.close(fd)


def test_outside_a_worker_nothing_changes(monkeypatch):
    monkeypatch.setattr("sys.argv", ["python", "-m", "something"])
    assert inherited_fd() is None
    assert listen_on_own_socket() is False
    assert inherited_fd(["worker", "--fd", "7", "--backlog", "2048"]) == 7


def test_a_port_held_by_another_server_is_refused_a_free_one_is_not():
    busy = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    with busy:
        port = busy.getsockname()[1]
        with pytest.raises(PortInUse, match=f"127.0.0.1:{port} is in use"):
            check_port_free("127.0.0.1", port)
    # a socket with SO_REUSEPORT (another il2select server) is refused too
    with _supervisor_socket() as other:
        with pytest.raises(PortInUse):
            check_port_free("127.0.0.1", other.getsockname()[1])
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    check_port_free("127.0.0.1", free)
