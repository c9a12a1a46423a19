"""The phases of ``bench.attack``, one per acceptance figure of issue 14; each returns the
figures of one table row (a dict) and is bounded in time."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np

from bench.attack_clients import HOST, MB, HeaderAttack, MemorySampler, post
from bench.loadgen import run_load
from bench.serving import TOKEN, Launched, recommend_requests
from model.contract.patient import patient_example
from serving.audit_store import read_records

TODAY_MB_PER_10K = 40.0  # the audit store's growth per 10,000-row /predict before the issue


def big_list(n: int = 10_000, prefix: str = "P") -> bytes:
    """``n`` patients of the sample clinic list, cycled (answers as varied as a clinic's:
    what the audit store's compression meets)."""
    import pandas as pd

    from bench.serving import CLINIC_LIST
    from serving.patients import patients_from_table

    clinic = patients_from_table(pd.read_csv(CLINIC_LIST, dtype=str, keep_default_na=False))
    return json.dumps(
        [{**clinic[i % len(clinic)], "patient_id": f"{prefix}{i}"} for i in range(n)]
    ).encode()


def worker(server: Launched) -> MemorySampler:
    (process,) = [p for p in server.family() if "_bentoml_impl.worker" in " ".join(p.cmdline())]
    return MemorySampler(process)


def headers(server: Launched, header_timeout_s: float) -> dict:
    """8 connections without a token sending a 64 MB header that never ends (4 as fast as
    the server reads, 4 dribbling 1 kB every 0.2 s) while another client asks /recommend."""
    memory = worker(server)
    before = memory.rss()
    memory.start()
    attacks = [HeaderAttack(server.port, MB, 0.0) for _ in range(4)]
    attacks += [HeaderAttack(server.port, 1024, 0.2) for _ in range(4)]
    threads = [threading.Thread(target=a.run, args=(header_timeout_s + 30,)) for a in attacks]
    for thread in threads:
        thread.start()
    load = run_load(
        HOST,
        server.port,
        recommend_requests(server.port, [patient_example()]),
        duration_s=header_timeout_s + 4,
    )
    for thread in threads:
        thread.join()
    peak = memory.stop()
    said = sorted({a.answer.split(b"\r\n", 1)[0].decode(errors="replace") for a in attacks})
    return {
        "growth_mib": peak - before,
        "longest_s": max(a.lifetime_s for a in attacks),
        "sent_mb": [round(a.sent / MB, 2) for a in attacks],
        "answers": said,
        "p99_ms": load.percentile_ms(99),
        "recommend_errors": load.errors,
    }


def overload(server: Launched, body: bytes, clients: int = 64, settle_s: float = 15) -> dict:
    """``clients`` concurrent 10,000-row /predict."""
    memory = worker(server).start()

    async def all_at_once():
        return await asyncio.gather(
            *(post(server.port, "/predict", body, TOKEN) for _ in range(clients))
        )

    answers = asyncio.run(all_at_once())
    peak = memory.stop()
    time.sleep(settle_s)
    statuses: dict[str, int] = {}
    for a in answers:
        key = str(a.status or a.error)
        if a.status == 503 and "retry-after" not in a.headers:
            key = "503 without Retry-After"
        statuses[key] = statuses.get(key, 0) + 1
    return {"statuses": statuses, "peak_mib": peak, "after_mib": memory.rss()}


def beside(server: Launched, body: bytes, duration_s: float = 30) -> dict:
    """A 1-row /predict every 0.25 s while 2 clients send 10,000-row lists back to back."""
    one = json.dumps([patient_example()]).encode()

    async def scenario():
        end = time.monotonic() + duration_s

        async def heavy():
            while time.monotonic() < end:
                await post(server.port, "/predict", body, TOKEN)

        async def small():
            answers = []
            await asyncio.sleep(1.0)  # the heavy ones have started
            while time.monotonic() < end:
                answers.append(await post(server.port, "/predict", one, TOKEN, timeout_s=30))
                await asyncio.sleep(0.25)
            return answers

        *_, answers = await asyncio.gather(heavy(), heavy(), small())
        return answers

    answers = asyncio.run(scenario())
    served = [a.seconds * 1e3 for a in answers if a.status == 200]
    refused = [a.seconds * 1e3 for a in answers if a.status == 503]
    return {
        "served": len(served),
        "p50_ms": float(np.median(served)) if served else float("nan"),
        "refused": len(refused),
        "refused_max_ms": max(refused, default=float("nan")),
        "other": len(answers) - len(served) - len(refused),
    }


def audit_mb_per_10k(server: Launched, audit_db: Path, body: bytes) -> dict:
    """The audit database's growth for one 10,000-row /predict (WAL checkpointed)."""
    size_before = _checkpointed_size(audit_db)
    answer = asyncio.run(post(server.port, "/predict", body, TOKEN))
    grown = (_checkpointed_size(audit_db) - size_before) / MB
    return {"status": answer.status, "mb": grown, "sent_mb": answer.size / MB}


def _checkpointed_size(path: Path) -> int:
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path.stat().st_size


@dataclass
class Answered:
    """/recommend requests from 4 threads, each patient numbered: what was acknowledged,
    and when."""

    port: int
    acknowledged: list[tuple[float, float, str]] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self, tag: str) -> Answered:
        def load(n: int) -> None:
            with httpx.Client(
                base_url=f"http://{HOST}:{self.port}",
                timeout=10,
                headers={"authorization": f"Bearer {TOKEN}"},
            ) as client:
                for i in range(10**6):
                    if self.stop.is_set():
                        return
                    patient = {**patient_example(), "patient_id": f"{tag}{n}-{i}"}
                    started = time.monotonic()
                    try:
                        status = client.post("/recommend", json=patient).status_code
                    except httpx.HTTPError:
                        return
                    self.statuses[status] = self.statuses.get(status, 0) + 1
                    if status == 200:
                        self.acknowledged.append((started, time.monotonic(), patient["patient_id"]))
                    else:
                        time.sleep(0.05)

        self.threads = [threading.Thread(target=load, args=(n,)) for n in range(4)]
        for thread in self.threads:
            thread.start()
        return self

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)

    def unrecorded(self, audit_db: Path, since: float = 0.0) -> int:
        logged = {
            r["output"]["patient_id"]
            for r in read_records(audit_db)
            if r["endpoint"] == "recommend"
        }
        return sum(
            1 for started, _, pid in self.acknowledged if started >= since and pid not in logged
        )


def readyz(port: int) -> int:
    try:
        return httpx.get(f"http://{HOST}:{port}/readyz", timeout=5).status_code
    except httpx.HTTPError:
        return 0


def wait_ready(port: int, limit_s: float = 30) -> float:
    """Seconds until /readyz answers 200 again (nan: not within ``limit_s``)."""
    start = time.monotonic()
    while time.monotonic() - start < limit_s:
        if readyz(port) == 200:
            return time.monotonic() - start
        time.sleep(0.1)
    return float("nan")


def audit_gone(server: Launched, audit_db: Path) -> dict:
    """The audit database deleted under load, then an operator's fresh one put back."""
    from serving.audit_store import open_audit_db

    load = Answered(server.port).start("GONE")
    time.sleep(2)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{audit_db}{suffix}").unlink(missing_ok=True)
    gone_at = time.monotonic()
    time.sleep(2)
    ready_while_gone = readyz(server.port)
    open_audit_db(audit_db).close()
    back_at = time.monotonic()
    recovery = wait_ready(server.port)
    time.sleep(2)
    load.finish()
    while_gone = sum(1 for s, e, _ in load.acknowledged if s > gone_at + 0.5 and e < back_at)
    return {
        "readyz_while_gone": ready_while_gone,
        "statuses": dict(load.statuses),
        "answered_while_gone": while_gone,
        "recovery_s": recovery,
        "unrecorded_after": load.unrecorded(audit_db, since=back_at),
    }


def audit_full(start_server, folder: Path) -> dict:
    """A second server whose audit database is on an 8 MiB tmpfs: under /recommend load
    the file system is filled to the last byte, then the filler is removed."""
    disk = folder / "small-disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        return {"not_run": f"mounting a tmpfs needs root: {mounted.stderr.strip()}"}
    server = None
    try:
        server = start_server(disk / "audit.db")
        load = Answered(server.port).start("FULL")
        time.sleep(1)
        _fill(disk / "filler")
        full_at = time.monotonic()
        deadline = full_at + 30
        while load.statuses.get(503, 0) < 20 and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1)
        ready_when_full = [readyz(server.port) for _ in range(3)]
        answered_when_full = sum(1 for s, _, _ in load.acknowledged if s > time.monotonic() - 1)
        (disk / "filler").unlink()
        recovery = wait_ready(server.port)
        time.sleep(2)
        load.finish()
        return {
            "readyz_when_full": ready_when_full,
            "answered_last_second_full": answered_when_full,
            "statuses": dict(load.statuses),
            "recovery_s": recovery,
            "unrecorded": load.unrecorded(disk / "audit.db"),
        }
    finally:
        if server is not None:
            server.stop()
        subprocess.run(["umount", str(disk)], capture_output=True)


def _fill(path: Path) -> None:
    """Write ``path`` until the file system has no byte left."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        for size in (65536, 4096, 512, 1):
            try:
                while True:
                    os.write(fd, bytes(size))
            except OSError:
                pass  # full at this size: try a smaller one
    finally:
        os.close(fd)


def kill_9(server: Launched, audit_db: Path) -> dict:
    """``kill -9`` of the server under /recommend and /predict load: every acknowledged
    answer must be in the log."""
    import signal

    load = Answered(server.port).start("KILL")
    lists: list[tuple[str, int]] = []
    body = big_list(500, "K")

    def predict() -> None:
        while not load.stop.is_set():
            answer = asyncio.run(post(server.port, "/predict", body, TOKEN))
            if answer.status == 200:
                lists.append((answer.headers["x-il2select-audit-id"], 500))
            elif answer.status is None:
                return

    thread = threading.Thread(target=predict)
    thread.start()
    time.sleep(4)
    for process in server.family():
        process.send_signal(signal.SIGKILL)
    load.finish()
    thread.join(timeout=60)
    counts: dict[str, int] = {}
    for record in read_records(audit_db):
        counts[record["request_id"]] = counts.get(record["request_id"], 0) + 1
    return {
        "acknowledged": len(load.acknowledged) + sum(n for _, n in lists),
        "lost": load.unrecorded(audit_db) + sum(n - counts.get(rid, 0) for rid, n in lists),
    }
