"""A listening socket per worker, so that several workers share the load.

BentoML's supervisor (circus) opens one listening socket and every worker inherits it. With
keep-alive clients, whichever worker is awake accepts the connections that arrive together
(measured: 16 connections, one worker at 106 % CPU, the other at 0.1 %), and a second
worker adds nothing. Here the supervisor only *binds* the port, with ``SO_REUSEPORT``,
and each worker listens on a socket of its own bound to the same address: the kernel
spreads new connections over the workers' sockets.

Two halves, both explicit calls (nothing happens at import):

- ``serve_main()`` runs ``bentoml`` (``il2select serve`` starts the server through it),
  with the supervisor's API socket bound but not listening, after checking that no other
  server holds the port (``SO_REUSEPORT`` would otherwise let two servers share it);
- ``listen_on_own_socket()``, in each worker's start-up (before uvicorn listens), replaces
  the inherited descriptor with the worker's own listening socket.

A worker started by plain ``bentoml serve`` inherits a socket already listening: it is kept,
as BentoML shares it. Written for BentoML 1.4 (``serving/overrides.py``'s cap).
"""

from __future__ import annotations

import os
import socket
import sys

API_SOCKET = "_bento_api_server"  # _bento_impl.server.serving.API_SERVER_NAME
# how ``il2select serve`` and the benchmarks start the service (add --host, --port, …)
SERVE_COMMAND = [sys.executable, "-m", "serving.listener", "serve", "serving.service:IL2Select"]


class PortInUse(OSError):
    """Another process listens on the address."""


def serve_main() -> None:
    """``python -m serving.listener serve …``: ``bentoml`` with a per-worker listener."""
    _bind_without_listening()
    from bentoml_cli.cli import cli

    cli(prog_name="bentoml")


def _bind_without_listening() -> None:
    """The supervisor's API socket: ``SO_REUSEPORT``, bound (the port is held for the
    workers), never listening (no connection waits in a queue nobody accepts from)."""
    from circus.sockets import CircusSocket

    original = CircusSocket.bind_and_listen

    def bind_and_listen(self) -> None:
        if self.name != API_SOCKET or self.is_unix:
            return original(self)
        check_port_free(self.host, self.port, self.family)
        self.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        self.bind((self.host, self.port))
        self.setblocking(0)
        self.host, self.port = self.getsockname()[:2]
        return None

    CircusSocket.bind_and_listen = bind_and_listen


def check_port_free(host: str, port: int, family: int = socket.AF_INET) -> None:
    """Raise ``PortInUse`` when something holds ``host:port`` (a bind without
    ``SO_REUSEPORT`` fails then, even against sockets that have it)."""
    if port == 0:
        return
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is free
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise PortInUse(exc.errno, f"{host}:{port} is in use by another process") from exc


def inherited_fd(argv: list[str] | None = None) -> int | None:
    """The descriptor BentoML's worker was given (``--fd N``), None outside a worker."""
    argv = sys.argv if argv is None else argv
    for i, arg in enumerate(argv[:-1]):
        if arg == "--fd" and argv[i + 1].isdigit():
            return int(argv[i + 1])
    return None


def listen_on_own_socket(fd: int | None = None, backlog: int = 2048) -> bool:
    """Put a listening socket of this process's own on descriptor ``fd`` (default: the
    worker's ``--fd``), bound to the inherited socket's address with ``SO_REUSEPORT``.
    Returns False (and changes nothing) when there is no such descriptor, or when the
    inherited socket already listens (shared, as plain ``bentoml serve`` gives it)."""
    fd = inherited_fd() if fd is None else fd
    if fd is None:
        return False
    try:
        inherited = socket.socket(fileno=os.dup(fd))
    except OSError:
        return False
    with inherited:
        if inherited.type != socket.SOCK_STREAM or inherited.family not in (
            socket.AF_INET,
            socket.AF_INET6,
        ):
            return False
        listening = inherited.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
        shared = inherited.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT)
        if listening or not shared:
            return False
        own = socket.socket(inherited.family, socket.SOCK_STREAM)
        address = inherited.getsockname()
    with own:
        own.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        own.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        own.bind(address)
        own.listen(backlog)
        own.setblocking(False)
        os.dup2(own.fileno(), fd)  # the descriptor uvicorn serves on is now this one
    return True


if __name__ == "__main__":
    serve_main()
