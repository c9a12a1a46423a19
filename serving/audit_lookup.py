"""Which requests the audit log holds answers of: a read beside the writer, so that CDS
feedback is stored only for a card some worker or replica answered (its uuid is the
answer's request id).

A connection of its own (the writer thread owns the other): read-only on the SQLite file,
or a second connection to the PostgreSQL audit database; opened on first use, re-opened
once after a failure. Raises ``AuditUnavailable`` when the store cannot be read.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from serving.audit_postgres import is_postgres_url, shown
from serving.audit_store import AuditUnavailable
from serving.side_connection import SideConnection


class AnsweredLookup:
    def __init__(self, audit_url: str | None, audit_path: Path) -> None:
        self.postgres = is_postgres_url(audit_url)
        self.url, self.path = audit_url, Path(audit_path)
        where = shown(audit_url) if self.postgres else str(self.path)
        self.side = SideConnection(self._connect, where, AuditUnavailable)

    def answered(self, request_ids: list[str], endpoint: str) -> set[str]:
        """The ``request_ids`` that have a record of ``endpoint`` in the audit log."""
        if not request_ids:
            return set()
        mark = "%s" if self.postgres else "?"
        query = (
            f"SELECT DISTINCT request_id FROM audit WHERE endpoint = {mark} "
            f"AND request_id IN ({', '.join([mark] * len(request_ids))})"
        )
        rows = self.side.run(
            lambda c: c.execute(query, (endpoint, *request_ids)).fetchall(),
            "reading the audit log",
        )
        return {row[0] for row in rows}

    def _connect(self):
        if self.postgres:
            from serving.audit_postgres import connect

            return connect(self.url)
        return sqlite3.connect(
            f"file:{self.path}?mode=ro", uri=True, check_same_thread=False, timeout=10.0
        )

    def close(self) -> None:
        self.side.close()
