"""A connection of a worker's own to the audit database, beside the audit writer's: opened
on first use, re-opened once after any failure, closed as well as a broken one can be.
The shared JWT replay check (``serving.cds_replays``) and the answered-card lookup
(``serving.audit_lookup``) run their statements through one."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class SideConnection:
    def __init__(self, connect: Callable[[], Any], where: str, failure: type[Exception]):
        self._connect, self.where, self.failure = connect, where, failure
        self._connection: Any = None
        self._lock = threading.Lock()  # callers may be worker threads

    def run(self, work: Callable[[Any], T], what: str) -> T:
        """``work(connection)``, retried once on a new connection; then ``failure`` naming
        ``what`` could not be done and where."""
        with self._lock:
            for attempt in (1, 2):
                try:
                    if self._connection is None:
                        self._connection = self._connect()
                    return work(self._connection)
                except Exception as exc:  # noqa: BLE001 - any driver's error: reconnect once
                    self._close()
                    if attempt == 2:
                        raise self.failure(f"{what} at {self.where} failed: {exc}") from None
        raise AssertionError("unreachable")

    def close(self) -> None:
        with self._lock:
            self._close()

    def _close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            except Exception:  # noqa: BLE001 - a broken connection closes as it can
                pass
            self._connection = None
