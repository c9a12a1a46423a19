"""Connection limits in front of the application (issue 14, defect 1). BentoML runs uvicorn
with its httptools protocol, which reads a request's headers without a size limit or a
deadline and keeps a connection that never sends a byte: eight clients dribbling 64 MB
headers held the worker's memory and connections at will, without a token.

``install_connection_limits`` (called by the service's start-up, before any connection is
accepted: uvicorn creates a protocol per connection after the app's start-up) patches
that protocol class:

- a request's headers (request line included) above ``max_header_bytes`` -> 431, closed;
- headers not complete ``header_timeout_s`` after the connection opened or the previous
  response ended -> 408, closed (an idle connection that sends nothing is closed alike);
- a body not complete ``body_timeout_s`` after its headers -> 408, closed;
- beyond ``max_connections`` open connections, a new one is closed at once.

Idle keep-alive connections are closed by uvicorn's own keep-alive timeout. The patch is
written for uvicorn 0.3x-0.54's ``HttpToolsProtocol`` and refuses another version.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

WRITTEN_FOR = ((0, 30), (0, 54))  # uvicorn minor versions these hooks were checked against
REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


@dataclass(frozen=True)
class ConnectionLimits:
    max_header_bytes: int = 64 * 1024
    header_timeout_s: float = 10.0
    body_timeout_s: float = 60.0
    max_connections: int = 512


HOOKED = (
    "connection_made",
    "connection_lost",
    "data_received",
    "on_headers_complete",
    "on_message_complete",
    "on_response_complete",
)
_ORIGINAL: dict = {}  # uvicorn's own methods, called by the hooks


def install_connection_limits(limits: ConnectionLimits) -> None:
    """Patch ``HttpToolsProtocol`` (idempotent: a second call only changes the limits)."""
    version = tuple(int(part) for part in uvicorn.__version__.split(".")[:2])
    if not WRITTEN_FOR[0] <= version <= WRITTEN_FOR[1]:
        raise RuntimeError(
            f"serving/connections.py was written for uvicorn {WRITTEN_FOR}, found "
            f"{uvicorn.__version__}: re-check the hooks before serving"
        )
    cls = HttpToolsProtocol
    cls._il2select_limits = limits
    if _ORIGINAL:
        return
    hooks = {
        "connection_made": _connection_made,
        "connection_lost": _connection_lost,
        "data_received": _data_received,
        "on_headers_complete": _on_headers_complete,
        "on_message_complete": _on_message_complete,
        "on_response_complete": _on_response_complete,
    }
    for name in HOOKED:
        _ORIGINAL[name] = getattr(cls, name)
        setattr(cls, name, hooks[name])


def _connection_made(self, transport):
    _ORIGINAL["connection_made"](self, transport)
    if len(self.connections) > self._il2select_limits.max_connections:
        transport.close()
        return
    _await_headers(self)


def _connection_lost(self, exc):
    _cancel(self)
    _ORIGINAL["connection_lost"](self, exc)


def _data_received(self, data):
    if getattr(self, "_il2select_phase", None) == "headers":
        self._il2select_header_bytes += len(data)
    _ORIGINAL["data_received"](self, data)
    if (
        getattr(self, "_il2select_phase", None) == "headers"
        and self._il2select_header_bytes > self._il2select_limits.max_header_bytes
    ):
        _refuse(self, 431, "the request's headers are larger than the limit")


def _on_headers_complete(self):
    _ORIGINAL["on_headers_complete"](self)
    _cancel(self)
    self._il2select_phase = "body"
    self._il2select_timer = self.loop.call_later(
        self._il2select_limits.body_timeout_s, _expire, self, "body"
    )


def _on_message_complete(self):
    _cancel(self)
    self._il2select_phase = "app"
    _ORIGINAL["on_message_complete"](self)


def _on_response_complete(self):
    _ORIGINAL["on_response_complete"](self)
    if not self.transport.is_closing():
        _await_headers(self)


def _await_headers(protocol) -> None:
    _cancel(protocol)
    protocol._il2select_phase = "headers"
    protocol._il2select_header_bytes = 0
    protocol._il2select_timer = protocol.loop.call_later(
        protocol._il2select_limits.header_timeout_s, _expire, protocol, "headers"
    )


def _cancel(protocol) -> None:
    timer = getattr(protocol, "_il2select_timer", None)
    if timer is not None:
        timer.cancel()
        protocol._il2select_timer = None


def _expire(protocol, phase: str) -> None:
    if getattr(protocol, "_il2select_phase", None) == phase:
        _refuse(protocol, 408, f"the request's {phase} did not arrive in time")


def _refuse(protocol, status: int, error: str) -> None:
    """Answer ``status`` with a JSON error and close, unless this request's response has
    started (while headers are read, the cycle is the previous request's, if any)."""
    _cancel(protocol)
    reading_headers = protocol._il2select_phase == "headers"
    protocol._il2select_phase = "refused"
    transport = protocol.transport
    if transport.is_closing():
        return
    cycle = None if reading_headers else protocol.cycle
    if cycle is None or not cycle.response_started:
        body = json.dumps({"error": error}).encode()
        transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
            b"connection: close\r\n\r\n" % (status, REASONS[status], len(body)) + body
        )
    if cycle is not None:
        cycle.disconnected = True
        cycle.message_event.set()
    transport.close()
