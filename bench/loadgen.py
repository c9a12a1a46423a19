"""A small HTTP/1.1 keep-alive load generator on raw asyncio sockets (TCP_NODELAY), so the
client costs tens of microseconds per request and the numbers are the server's."""

from __future__ import annotations

import asyncio
import socket
import time
from dataclasses import dataclass, field
from itertools import cycle

import numpy as np


@dataclass
class LoadResult:
    latencies_s: list[float] = field(default_factory=list)
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    elapsed_s: float = 0.0

    @property
    def count(self) -> int:
        return len(self.latencies_s)

    def percentile_ms(self, q: float) -> float:
        return float(np.percentile(self.latencies_s, q)) * 1e3 if self.latencies_s else float("nan")

    @property
    def rate(self) -> float:
        return self.count / self.elapsed_s if self.elapsed_s else 0.0

    def stalls(self, over_ms: float = 50.0) -> int:
        return int(np.sum(np.asarray(self.latencies_s) * 1e3 > over_ms))


def build_request(
    host: str,
    port: int,
    method: str,
    path: str,
    body: bytes = b"",
    token: str | None = None,
    content_type: str = "application/json",
) -> bytes:
    head = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: keep-alive"]
    if token:
        head.append(f"Authorization: Bearer {token}")
    if body or method == "POST":
        head += [f"Content-Type: {content_type}", f"Content-Length: {len(body)}"]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = next(
        (
            int(line.split(b":", 1)[1])
            for line in lines[1:]
            if line.lower().startswith(b"content-length:")
        ),
        None,
    )
    if length is None:  # chunked: read to the terminating chunk
        while True:
            size = int((await reader.readline()).strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    else:
        await reader.readexactly(length)
    return status


async def _worker(
    host: str, port: int, requests, result: LoadResult, deadline: float, budget: list[int]
) -> None:
    reader, writer = await asyncio.open_connection(host, port, limit=2**26)
    writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        while time.perf_counter() < deadline and budget[0] > 0:
            budget[0] -= 1
            request = next(requests)
            start = time.perf_counter()
            try:
                writer.write(request)
                await writer.drain()
                status = await _read_response(reader)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                result.errors += 1
                writer.close()
                reader, writer = await asyncio.open_connection(host, port, limit=2**26)
                continue
            result.latencies_s.append(time.perf_counter() - start)
            result.statuses[status] = result.statuses.get(status, 0) + 1
            if status != 200:
                result.errors += 1
    finally:
        writer.close()


async def _run(host, port, requests, concurrency, duration_s, max_requests) -> LoadResult:
    result = LoadResult()
    source = cycle(requests)
    budget = [max_requests]
    start = time.perf_counter()
    await asyncio.gather(
        *(
            _worker(host, port, source, result, start + duration_s, budget)
            for _ in range(concurrency)
        )
    )
    result.elapsed_s = time.perf_counter() - start
    return result


def run_load(
    host: str,
    port: int,
    requests: list[bytes],
    *,
    concurrency: int = 1,
    duration_s: float = 10.0,
    max_requests: int = 10**9,
) -> LoadResult:
    """Send the requests (cycled) on ``concurrency`` connections until the time or the count
    runs out."""
    return asyncio.run(_run(host, port, requests, concurrency, duration_s, max_requests))
