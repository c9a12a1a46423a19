"""Which requests the audit log holds answers of: a read beside the writer, so that CDS
feedback is stored only for a card some worker or replica answered (its uuid is the
answer's request id).

A connection of its own (the writer thread owns the other): read-only on the SQLite file,
or a second connection to the PostgreSQL audit database; opened on first use, re-opened
once after a failure. Raises ``AuditUnavailable`` when the store cannot be read.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

from serving.audit_postgres import is_postgres_url, shown
from serving.audit_store import AuditUnavailable


class AnsweredLookup:
    def __init__(self, audit_url: str | None, audit_path: Path) -> None:
        self.postgres = is_postgres_url(audit_url)
        self.url, self.path = audit_url, Path(audit_path)
        self.where = shown(audit_url) if self.postgres else str(self.path)
        self._connection: Any = None
        self._lock = threading.Lock()  # feedback calls read from worker threads

    def answered(self, request_ids: list[str], endpoint: str) -> set[str]:
        """The ``request_ids`` that have a record of ``endpoint`` in the audit log."""
        if not request_ids:
            return set()
        mark = "%s" if self.postgres else "?"
        query = (
            f"SELECT DISTINCT request_id FROM audit WHERE endpoint = {mark} "
            f"AND request_id IN ({', '.join([mark] * len(request_ids))})"
        )
        with self._lock:
            for attempt in (1, 2):
                try:
                    if self._connection is None:
                        self._connection = self._connect()
                    rows = self._connection.execute(query, (endpoint, *request_ids)).fetchall()
                    return {row[0] for row in rows}
                except Exception as exc:  # noqa: BLE001 - any driver's error: reconnect once
                    self.close()
                    if attempt == 2:
                        raise AuditUnavailable(
                            f"the audit log at {self.where} cannot be read: {exc}"
                        ) from None
        raise AssertionError("unreachable")

    def _connect(self):
        if self.postgres:
            from serving.audit_postgres import connect

            return connect(self.url)
        return sqlite3.connect(
            f"file:{self.path}?mode=ro", uri=True, check_same_thread=False, timeout=10.0
        )

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            except Exception:  # noqa: BLE001 - a broken connection closes as it can
                pass
            self._connection = None
