"""Whether an answer reached its client, for the audit log's truth.

An endpoint commits its records, then names its request in the ASGI scope's state
(``AUDIT_REQUEST``: the audit log and the request's id). The guard watches the response
going out; when the request ends without its answer having been handed whole to a client
still there (a time-out, a client gone, a failure while sending), the records are marked
undelivered in the audit log (``AuditLog.mark_undelivered``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio

AUDIT_REQUEST = "il2select_audit_request"  # scope["state"] key: (AuditLog, request id)
AUDIT_HEADER = "x-il2select-audit-id"  # the response header naming the request's records
NOT_SENT = "the answer was not sent (a time-out, or a failure while sending)"
CLIENT_GONE = "the client went away before the whole answer was sent"

Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]


class Delivery:
    """One request's response, watched: ``send`` wraps the server's; ``settle`` marks the
    audit records of an answer that did not get through."""

    def __init__(self, receive: Receive, send: Send) -> None:
        self._receive, self._send = receive, send  # the server's own, below any replay
        self.status: int | None = None
        self.delivered = False
        self.reason = NOT_SENT
        self._length: int | None = None  # the declared Content-Length
        self._sent = 0

    async def receive(self) -> dict:
        """The server's ``receive``, noting a disconnect the app hears (Starlette's
        streaming response listens for one and stops sending)."""
        message = await self._receive()
        if message["type"] == "http.disconnect" and not self.delivered:
            self.reason = CLIENT_GONE
        return message

    async def send(self, message: dict) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self._length = _content_length(message.get("headers", ()))
        elif message["type"] == "http.response.body" and not self.delivered:
            last = not message.get("more_body", False)
            size = len(message.get("body", b""))
            whole = self._length is not None and self._sent + size >= self._length
            if last or whole:  # the answer's last bytes: is the client still there?
                gone = await client_gone(self._receive)
                await self._send(message)  # a server drops it quietly when the client is gone
                self._sent += size
                self.delivered = not gone  # once whole, a later disconnect changes nothing
                if gone:
                    self.reason = CLIENT_GONE
                return
            self._sent += size
        await self._send(message)

    def settle(self, state: dict[str, Any]) -> None:
        audited = state.get(AUDIT_REQUEST)
        if audited is None or (self.delivered and self.status == 200):
            return
        log, request_id = audited
        log.mark_undelivered(request_id, self.reason)


def _content_length(headers) -> int | None:
    for name, value in headers:
        if name.lower() == b"content-length" and value.strip().isdigit():
            return int(value)
    return None


async def client_gone(receive: Receive) -> bool:
    """Whether the client has disconnected, without waiting (the request's body has been
    read: the server's next message can only be a disconnect)."""
    with anyio.CancelScope() as scope:
        scope.cancel()
        message = await receive()
        return message["type"] == "http.disconnect"
    return False


async def drain(receive: Receive, limit: int) -> None:
    """Read and drop a request body refused before it was read (up to ``limit`` bytes, or
    until the client goes), before the refusal is sent: a connection closed with a body
    still unread is reset, and a client still sending it read the 503 it was given as a
    connection error. Nothing is kept; the body time-out bounds a slow sender."""
    size = 0
    while size <= limit:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        size += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


def replay_body(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the application a body already read (and checked), then
    the connection's own messages (a disconnect)."""
    sent = False

    async def replay() -> dict:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
