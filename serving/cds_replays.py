"""The CDS JWT replay check shared by every worker and replica (``jti`` "not replayed within
its lifetime", CDS Hooks 2.0): each accepted token's ``(iss, jti)`` is inserted into one
table, and a token whose key is already there is a replay.

Where: beside the audit log. With ``IL2SELECT_AUDIT_URL`` (PostgreSQL, shared by replicas)
in the table ``cds_jwt_ids`` of that database; otherwise in a SQLite file beside the audit
database (``cds-jwt-ids.db``: the workers and servers of one machine share it; kept apart
from the audit file so that a claim never waits for, or disturbs, the audit writer). A
claim is one autocommitted insert (~0.1 ms on SQLite, one round trip on PostgreSQL); rows
are deleted once their token has expired. A store that cannot be reached refuses the token
(fail closed: a replay must not pass because the check could not run).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from serving.side_connection import SideConnection

TABLE = "cds_jwt_ids"
SWEEP_EVERY = 256  # claims between deletions of expired rows
CREATE = f"""CREATE TABLE IF NOT EXISTS {TABLE} (
    issuer TEXT NOT NULL, jti TEXT NOT NULL, expires_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (issuer, jti))"""


class ReplayStoreError(RuntimeError):
    """The shared replay table cannot be read or written."""


class SharedReplays:
    """``claim(issuer, jti, exp)`` -> False when the key was claimed before (a replay)."""

    def __init__(
        self,
        connect: Callable[[], Any],
        placeholder: str,
        where: str,
        leeway_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.side = SideConnection(lambda: _created(connect()), where, ReplayStoreError)
        self._insert = (
            f"INSERT INTO {TABLE} (issuer, jti, expires_at) VALUES "
            f"({placeholder}, {placeholder}, {placeholder}) ON CONFLICT DO NOTHING"
        )
        self._sweep = f"DELETE FROM {TABLE} WHERE expires_at < {placeholder}"
        self.leeway_s, self.clock = leeway_s, clock
        self._claims = 0

    @classmethod
    def for_settings(cls, settings: Any, leeway_s: float) -> SharedReplays:
        from serving.audit_postgres import is_postgres_url, shown

        if is_postgres_url(settings.audit_url):
            url = settings.audit_url
            return cls(lambda: _postgres(url), "%s", shown(url), leeway_s)
        path = Path(settings.audit_path).with_name("cds-jwt-ids.db")
        return cls(lambda: _sqlite(path), "?", str(path), leeway_s)

    def claim(self, issuer: str, jti: str, exp: float) -> bool:
        """Record the token; False when it was recorded before. Raises
        ``ReplayStoreError`` when the table cannot be reached (after one reconnection)."""
        return self.side.run(lambda c: self._claim(c, issuer, jti, exp), "the JWT replay check")

    def _claim(self, connection, issuer: str, jti: str, exp: float) -> bool:
        self._claims += 1
        if self._claims % SWEEP_EVERY == 1:
            connection.execute(self._sweep, (self.clock() - self.leeway_s,))
        return connection.execute(self._insert, (issuer, jti, exp)).rowcount == 1

    def close(self) -> None:
        self.side.close()


def _created(connection):
    connection.execute(CREATE)
    return connection


def _sqlite(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    # used from the worker's threads in turn (SideConnection's lock), never at once
    connection = sqlite3.connect(path, isolation_level=None, timeout=5.0, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    return connection


def _postgres(url: str):
    import psycopg

    return psycopg.connect(
        url,
        autocommit=True,
        connect_timeout=5,
        options="-c statement_timeout=5000",
        application_name="il2select-cds-replays",
    )
