"""What workers and replicas share beside the audit log, on SQLite: the JWT replay check
(``serving/cds_replays.py``) and the answered-card lookup (``serving/audit_lookup.py``);
two checkers on one file stand for two workers."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from serving.cds_replays import SWEEP_EVERY, ReplayStoreError, SharedReplays

LEEWAY_S = 30.0


def checker(tmp_path, clock=lambda: 1000.0) -> SharedReplays:
    settings = SimpleNamespace(audit_url=None, audit_path=tmp_path / ".il2select" / "audit.db")
    replays = SharedReplays.for_settings(settings, LEEWAY_S)
    replays.clock = clock
    return replays


def test_a_key_claimed_by_one_worker_is_a_replay_for_another(tmp_path):
    first, second = checker(tmp_path), checker(tmp_path)
    assert first.claim("https://sandbox", "a", 2000.0) is True
    assert second.claim("https://sandbox", "a", 2000.0) is False
    assert first.claim("https://sandbox", "a", 2000.0) is False
    # another jti, or the same jti of another issuer, is a token of its own
    assert second.claim("https://sandbox", "b", 2000.0) is True
    assert second.claim("https://other", "a", 2000.0) is True
    assert (tmp_path / ".il2select" / "cds-jwt-ids.db").exists()


def test_expired_keys_are_swept_and_live_ones_kept(tmp_path):
    now = [1000.0]
    replays = checker(tmp_path, clock=lambda: now[0])
    assert replays.claim("iss", "old", 1010.0)
    assert replays.claim("iss", "live", 5000.0)
    now[0] = 1010.0 + LEEWAY_S + 1  # "old" expired beyond the leeway
    for i in range(SWEEP_EVERY):  # a sweep runs within SWEEP_EVERY claims
        replays.claim("iss", f"filler-{i}", 5000.0)
    assert replays.claim("iss", "live", 5000.0) is False
    count = replays.side.run(
        lambda c: c.execute("SELECT count(*) FROM cds_jwt_ids WHERE jti = 'old'").fetchone()[0],
        "counting",
    )
    assert count == 0


def test_a_store_that_cannot_be_written_fails_closed(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    settings = SimpleNamespace(audit_url=None, audit_path=blocked / "audit.db")
    replays = SharedReplays.for_settings(settings, LEEWAY_S)
    with pytest.raises(ReplayStoreError, match="replay check at .*file/cds-jwt-ids.db failed"):
        replays.claim("iss", "a", 2000.0)


def test_answered_requests_are_read_beside_the_sqlite_writer(tmp_path):
    """The read-only lookup CDS feedback uses; a missing file is a clear AuditUnavailable."""
    from serving.audit import AuditLog, audit_store
    from serving.audit_lookup import AnsweredLookup
    from serving.audit_store import AuditUnavailable

    path = tmp_path / "audit.db"
    log = AuditLog(audit_store(None, path, "FULL")).start()
    try:
        record = log.record("R1", "cds-hooks", "cds:iss", "7", {"i": 1}, b"{}")
        log.submit([record]).result(timeout=30)
    finally:
        log.close()
    lookup = AnsweredLookup(None, path)
    assert lookup.answered(["R1", "R2"], "cds-hooks") == {"R1"}
    assert lookup.answered([], "cds-hooks") == set()
    with pytest.raises(AuditUnavailable, match="reading the audit log at .*none.db failed"):
        AnsweredLookup(None, tmp_path / "none.db").answered(["R1"], "cds-hooks")


def test_claims_from_the_workers_threads_share_one_connection(tmp_path):
    """The guard claims off the event loop, from a pool's threads in turn: one SQLite
    connection serves them all (not refused by sqlite3's same-thread check, then
    re-opened for every call)."""
    from concurrent.futures import ThreadPoolExecutor

    replays = checker(tmp_path)
    with ThreadPoolExecutor(4) as pool:
        fresh = list(pool.map(lambda i: replays.claim("iss", f"t{i % 50}", 2000.0), range(200)))
    assert sum(fresh) == 50
    first = replays.side._connection
    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(replays.claim, "iss", "late", 2000.0).result() is True
    assert replays.side._connection is first
