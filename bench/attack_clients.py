"""The hostile clients of ``bench.attack``: raw sockets on loopback, each bounded in time
and bytes, and a sampler of the worker's memory."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from dataclasses import dataclass, field

import psutil

HOST = "127.0.0.1"
MB = 2**20


@dataclass
class Answer:
    """What one raw request got: its status (None: the connection failed), headers, the
    body's length, its time, and the error when it failed."""

    status: int | None
    headers: dict[str, str]
    size: int
    seconds: float
    error: str = ""
    body: bytes = b""


async def post(
    port: int, path: str, body: bytes, token: str, timeout_s: float = 180, keep: bool = False
) -> Answer:
    """POST ``body``; the response is read while the body is still going out (a server
    refusing early answers before it reads the body)."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    start = time.perf_counter()
    try:
        reader, writer = await asyncio.open_connection(HOST, port, limit=2**27)
    except OSError as exc:
        return Answer(None, {}, 0, time.perf_counter() - start, type(exc).__name__)
    sending = asyncio.ensure_future(_send(writer, head + body))
    try:
        status, headers, data = await asyncio.wait_for(_response(reader), timeout_s)
        return Answer(
            status, headers, len(data), time.perf_counter() - start, body=data if keep else b""
        )
    except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as exc:
        return Answer(None, {}, 0, time.perf_counter() - start, type(exc).__name__)
    finally:
        sending.cancel()
        writer.close()


async def _send(writer: asyncio.StreamWriter, data: bytes) -> None:
    try:
        writer.write(data)
        await writer.drain()
    except OSError:
        pass  # the server stopped reading: its answer (if any) is read by the caller


async def _response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
    if "content-length" in headers:
        return status, headers, await reader.readexactly(int(headers["content-length"]))
    return status, headers, await reader.read()  # Connection: close


@dataclass
class HeaderAttack:
    """One connection sending a header that never ends, ``chunk`` bytes every ``pause_s``,
    up to ``total`` bytes: how long the server kept it and what it said."""

    port: int
    chunk: int
    pause_s: float
    total: int = 64 * MB
    sent: int = 0
    lifetime_s: float = float("nan")
    answer: bytes = b""

    def run(self, deadline_s: float) -> None:
        start = time.monotonic()
        with socket.create_connection((HOST, self.port), timeout=deadline_s) as s:
            s.sendall(f"POST /recommend HTTP/1.1\r\nHost: {HOST}\r\nX-Pad: ".encode())
            s.setblocking(False)
            try:
                while self.sent < self.total and time.monotonic() - start < deadline_s:
                    if self._closed(s):
                        break
                    try:
                        self.sent += s.send(b"a" * self.chunk)
                    except BlockingIOError:
                        pass
                    time.sleep(self.pause_s)
            except OSError:
                pass  # reset by the server
            self.lifetime_s = time.monotonic() - start

    def _closed(self, s: socket.socket) -> bool:
        try:
            data = s.recv(4096)
        except BlockingIOError:
            return False
        except OSError:
            return True
        self.answer += data
        return True  # an answer (431, 408) or the end of the connection


@dataclass
class MemorySampler:
    """The worker's RSS (MiB) every ``every_s`` in a thread, between ``start`` and
    ``stop``."""

    process: psutil.Process
    every_s: float = 0.05
    samples: list[float] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def rss(self) -> float:
        return self.process.memory_info().rss / MB

    def start(self) -> MemorySampler:
        def sample() -> None:
            while not self._stop.is_set():
                try:
                    self.samples.append(self.rss())
                except psutil.Error:
                    return
                time.sleep(self.every_s)

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> float:
        """The peak seen."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        return max(self.samples, default=float("nan"))
