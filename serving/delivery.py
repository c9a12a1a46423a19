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

    async def receive(self) -> dict:
        """The server's ``receive``, noting a disconnect the app hears (Starlette's
        streaming response listens for one and stops sending)."""
        message = await self._receive()
        if message["type"] == "http.disconnect":
            self.reason = CLIENT_GONE
        return message

    async def send(self, message: dict) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        elif message["type"] == "http.response.body" and not message.get("more_body", False):
            gone = await client_gone(self._receive)
            await self._send(message)  # a server drops it quietly when the client is gone
            self.delivered = not gone
            if gone:
                self.reason = CLIENT_GONE
            return
        await self._send(message)

    def settle(self, state: dict[str, Any]) -> None:
        audited = state.get(AUDIT_REQUEST)
        if audited is None or (self.delivered and self.status == 200):
            return
        log, request_id = audited
        log.mark_undelivered(request_id, self.reason)


async def client_gone(receive: Receive) -> bool:
    """Whether the client has disconnected, without waiting (the request's body has been
    read: the server's next message can only be a disconnect)."""
    with anyio.CancelScope() as scope:
        scope.cancel()
        message = await receive()
        return message["type"] == "http.disconnect"
    return False
