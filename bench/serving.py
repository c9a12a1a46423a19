"""Benchmark: the il2select BentoML service side by side with ``mlflow models serve`` of the
same champion pyfunc and with the service's own ``/livez`` (the HTTP floor), in one run.

    uv run python -m bench.serving [--sustained-s 120] [--fresh-champion]
        [--audit postgres] [--scaling]

``--audit postgres`` writes the audit log to a PostgreSQL cluster made here (``initdb`` in
a temporary folder, removed at the end); ``--scaling`` adds /recommend at concurrency 16
on 2 workers against 1, alternated round by round, as ratios, beside the machine's own
ceiling for two processes (``bench.ceiling``).

Every server is started here on 127.0.0.1 and stopped at the end; every phase is bounded
in time. Prints one table with the issue's targets.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import psutil
from rich.console import Console
from rich.table import Table

from bench.ceiling import ceiling
from bench.loadgen import build_request, run_load
from bench.phase_cost import measured_phase
from bench.unwind import unwind_on_sigterm
from model.settings import get_settings
from serving.auth import hash_token
from serving.listener import SERVE_COMMAND
from serving.patients import patients_from_table

HOST = "127.0.0.1"
TOKEN = "bench-token-0123456789abcdef"
SOURCE_DIR = Path(__file__).resolve().parents[1]
CLINIC_LIST = SOURCE_DIR / "data" / "synthetic" / "samples" / "clinic_list.csv"
READY_TIMEOUT_S = 120
console = Console(width=170)
# the service itself, without `il2select serve`'s checks ({port} filled in by `launch`)
SERVICE_COMMAND = [
    *SERVE_COMMAND,
    "--host",
    HOST,
    "--port",
    "{port}",
    "--working-dir",
    str(SOURCE_DIR),
]


@dataclass
class Launched:
    process: subprocess.Popen
    port: int
    cold_start_s: float

    def family(self) -> list[psutil.Process]:
        try:
            root = psutil.Process(self.process.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def worker_rss_mib(self) -> list[float]:
        return [
            p.memory_info().rss / 2**20
            for p in self.family()
            if "_bentoml_impl.worker" in " ".join(p.cmdline())
        ]

    def stop(self) -> None:
        family = self.family()
        for p in family:
            try:
                p.terminate()
            except psutil.NoSuchProcess:
                pass
        _, alive = psutil.wait_procs(family, timeout=15)
        for p in alive:
            p.kill()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def launch(
    command: list[str], env: dict, ready_path: str, log: Path, port: int | None = None
) -> Launched:
    """Start a server (on ``port``, else a free one) and time it until ``ready_path``
    answers 200."""
    port = port or free_port()
    command = [part.replace("{port}", str(port)) for part in command]
    start = time.perf_counter()
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command,
            env=env,
            cwd=SOURCE_DIR,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    launched = Launched(process, port, 0.0)
    try:
        while time.perf_counter() - start < READY_TIMEOUT_S:
            if process.poll() is not None:
                raise RuntimeError(f"{command[:4]} exited: {log.read_text()[-3000:]}")
            try:
                if httpx.get(f"http://{HOST}:{port}{ready_path}", timeout=1).status_code == 200:
                    launched.cold_start_s = time.perf_counter() - start
                    return launched
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(
            f"{command[:4]} not ready in {READY_TIMEOUT_S} s: {log.read_text()[-3000:]}"
        )
    except BaseException:  # a server that never became ready is stopped, workers and all
        launched.stop()
        raise


def service_env(tracking_uri: str, folder: Path) -> dict:
    """The servers' environment: this venv's ``bin/`` first on PATH (``mlflow models serve``
    starts ``uvicorn`` by name), so the benchmark runs from the venv's python alone."""
    venv_bin = str(Path(sys.executable).parent)
    return {
        **os.environ,
        "PATH": os.pathsep.join([venv_bin, os.environ.get("PATH", "")]),
        "MLFLOW_TRACKING_URI": tracking_uri,
        "IL2SELECT_TOKENS": f"bench:{hash_token(TOKEN)}",
        "IL2SELECT_TOKENS_FILE": str(folder / "no-tokens-file"),
        "IL2SELECT_AUDIT_DB": str(folder / "audit.db"),
        "BENTOML_HOME": str(folder / "bento"),
    }


def recommend_requests(port: int, patients: list[dict]) -> list[bytes]:
    return [
        build_request(HOST, port, "POST", "/recommend", json.dumps(p).encode(), TOKEN)
        for p in patients
    ]


def in_process_p50_ms(recommender, patients: list[dict], duration_s: float) -> float:
    """``recommend_one`` over the patients, one after another, for ``duration_s``."""
    times, i, end = [], 0, time.perf_counter() + duration_s
    while time.perf_counter() < end:
        start = time.perf_counter()
        recommender.recommend_one(patients[i % len(patients)])
        times.append(time.perf_counter() - start)
        i += 1
    return float(np.median(times)) * 1e3


def serving_overhead_ms(
    port: int, requests: list[bytes], recommender, patients: list[dict], rounds: int = 6
) -> tuple[float, float, list[float]]:
    """What serving adds to the model's own time: ``rounds`` alternations of 2 s of
    ``/recommend`` at concurrency 1 and 2 s of the same patients in process, the median of
    each round's p50 difference (the machine's drift falls on both sides of a round).
    Returns (median served p50, median in-process p50, the rounds' differences)."""
    served, inproc = [], []
    for _ in range(rounds):
        served.append(run_load(HOST, port, requests, duration_s=2).percentile_ms(50))
        inproc.append(in_process_p50_ms(recommender, patients, 2))
    gaps = [a - b for a, b in zip(served, inproc, strict=True)]
    return float(np.median(served)), float(np.median(inproc)), gaps


def bench(
    tracking_uri: str,
    sustained_s: float,
    phase_s: float,
    workers: int,
    audit_url: str | None = None,
    scaling: bool = False,
) -> list[tuple]:
    """Every measurement's rows. The servers' logs and audit database go to a temporary
    folder, removed when the run ends; kept (and named) when it fails."""
    folder = Path(tempfile.mkdtemp(prefix="il2select-bench-"))
    try:
        rows = _measured(folder, tracking_uri, sustained_s, phase_s, workers, audit_url, scaling)
    except BaseException:
        console.print(f"[red]the benchmark failed: its servers' logs are in {folder}[/red]")
        raise
    shutil.rmtree(folder, ignore_errors=True)
    return rows


def _measured(
    folder: Path,
    tracking_uri: str,
    sustained_s: float,
    phase_s: float,
    workers: int,
    audit_url: str | None,
    scaling: bool,
) -> list[tuple]:
    patients = patients_from_table(pd.read_csv(CLINIC_LIST, dtype=str, keep_default_na=False))
    rows: list[tuple] = []
    env = service_env(tracking_uri, folder)
    if audit_url:
        env["IL2SELECT_AUDIT_URL"] = audit_url
    if workers != 1:
        env["BENTOML_CONFIG_OPTIONS"] = f"services.il2select.workers={workers}"

    console.print("cold start: `il2select serve` …")
    cli = launch(
        [sys.executable, "-m", "il2select", "serve", "--port", "{port}", "--no-train"],
        env,
        "/readyz",
        folder / "cli.log",
    )
    cli.stop()
    console.print("cold start: `bentoml serve` of the service …")
    svc = launch(
        SERVICE_COMMAND,
        env,
        "/readyz",
        folder / "service.log",
    )
    console.print("starting `mlflow models serve` …")
    mlf = launch(
        [
            sys.executable,
            "-m",
            "mlflow",
            "models",
            "serve",
            "-m",
            "models:/il2select@champion",
            "--env-manager",
            "local",
            "-h",
            HOST,
            "-p",
            "{port}",
        ],
        env,
        "/ping",
        folder / "mlflow.log",
    )
    try:
        rec = recommend_requests(svc.port, patients)
        livez = [build_request(HOST, svc.port, "GET", "/livez")]
        # an authenticated route with no body and no model: the floor with the guard
        model = [build_request(HOST, svc.port, "GET", "/model", token=TOKEN)]
        invocations = [
            build_request(
                HOST,
                mlf.port,
                "POST",
                "/invocations",
                json.dumps({"dataframe_records": [p]}).encode(),
            )
            for p in patients
        ]
        run_load(HOST, svc.port, rec, concurrency=4, duration_s=3)  # warm-up
        run_load(HOST, mlf.port, invocations, concurrency=4, duration_s=3)

        console.print("latency at concurrency 1 …")
        live1 = run_load(HOST, svc.port, livez, duration_s=phase_s)
        model1 = run_load(HOST, svc.port, model, duration_s=phase_s)
        rec1 = run_load(HOST, svc.port, rec, duration_s=phase_s)
        mlf1 = run_load(HOST, mlf.port, invocations, duration_s=phase_s)
        console.print("throughput at concurrency 16 …")
        live16 = run_load(HOST, svc.port, livez, concurrency=16, duration_s=phase_s)
        model16 = run_load(HOST, svc.port, model, concurrency=16, duration_s=phase_s)
        rec16 = run_load(HOST, svc.port, rec, concurrency=16, duration_s=phase_s)
        mlf16 = run_load(HOST, mlf.port, invocations, concurrency=16, duration_s=phase_s)
        for name, one, sixteen in (
            ("il2select /recommend", rec1, rec16),
            ("mlflow models serve /invocations", mlf1, mlf16),
            ("il2select /livez (HTTP floor)", live1, live16),
            ("il2select GET /model (token, no body, no model)", model1, model16),
        ):
            rows.append(("latency", name, one, sixteen))

        console.print("/predict with 10,000 patients …")
        big = [dict(patients[i % len(patients)], patient_id=f"P{i}") for i in range(10_000)]
        body = json.dumps(big).encode()
        timings = []
        with httpx.Client(timeout=120) as client:
            for _ in range(3):
                if timings and timings[-1] > 5.0:  # one slow answer is figure enough
                    break
                start = time.perf_counter()
                response = client.post(
                    f"http://{HOST}:{svc.port}/predict",
                    content=body,
                    headers={
                        "authorization": f"Bearer {TOKEN}",
                        "content-type": "application/json",
                    },
                )
                timings.append(time.perf_counter() - start)
                assert response.status_code == 200, response.text[:300]
        rows.append(("predict", timings, len(body), max(svc.worker_rss_mib())))

        console.print(f"sustained load: {sustained_s:.0f} s at concurrency 16 …")
        rss_before = sum(svc.worker_rss_mib())
        sustained = run_load(HOST, svc.port, rec, concurrency=16, duration_s=sustained_s)
        rss_after = sum(svc.worker_rss_mib())
        rows.append(("sustained", sustained, rss_before, rss_after, max(svc.worker_rss_mib())))
        rows.append(("cold", cli.cold_start_s, svc.cold_start_s))
        if scaling:
            rows.append(("scaling", *worker_scaling(svc, env, rec, folder, phase_s)))
            console.print("the machine's own ceiling: 2 compute processes against 1 …")
            rows.append(("ceiling", ceiling(tracking_uri)))
        console.print("serving overhead: /recommend and recommend_one in process, alternated …")
        from model.recommend.pyfunc import load_recommender

        recommender = load_recommender("models:/il2select@champion", tracking_uri)
        rows.append(("inproc", *serving_overhead_ms(svc.port, rec, recommender, patients)))
    finally:
        svc.stop()
        mlf.stop()
    return rows


def worker_scaling(
    svc: Launched, env: dict, rec: list[bytes], folder: Path, phase_s: float, rounds: int = 3
):
    """/recommend at concurrency 16 on 1 worker and on 2 (a second service beside, idle
    while the other is measured), alternated ``rounds`` times, so that the machine's drift
    falls on both sides: each round's 2-worker rate is set against the mean of the
    1-worker rates around it. Returns (1-worker rates, 2-worker rates, each round's
    ratio, CPU seconds per worker in the 2-worker phases, and where the CPU went in the
    last phase of each: ``PhaseCost`` for 1 and for 2 workers)."""
    two_env = {
        **env,
        "BENTOML_CONFIG_OPTIONS": "services.il2select.workers=2",
        # a home of its own: a server empties its home's Prometheus directory at start,
        # which would blind the first service's /metrics (the batch sizes read here)
        "BENTOML_HOME": str(folder / "bento-2-workers"),
    }
    console.print("2 workers: starting a second service beside the first …")
    two = launch(SERVICE_COMMAND, two_env, "/readyz", folder / "service-2-workers.log")
    try:
        two_rec = [r.replace(f":{svc.port}".encode(), f":{two.port}".encode(), 1) for r in rec]
        run_load(HOST, two.port, two_rec, concurrency=16, duration_s=3)  # both workers warm
        workers = {port: _workers(service) for port, service in ((svc.port, svc), (two.port, two))}
        before = [sum(w.cpu_times()[:2]) for w in workers[two.port]]
        ones, twos, costs = [], [], {}

        def phase(port, requests, rates):
            result, costs[port] = measured_phase(
                f"http://{HOST}:{port}",
                TOKEN,
                workers[port],
                lambda: run_load(HOST, port, requests, concurrency=16, duration_s=phase_s),
            )
            rates.append(result.rate)

        for _ in range(rounds):
            phase(svc.port, rec, ones)
            phase(two.port, two_rec, twos)
        phase(svc.port, rec, ones)
        split = [sum(w.cpu_times()[:2]) - b for w, b in zip(workers[two.port], before, strict=True)]
    finally:
        two.stop()
    ratios = [t / ((ones[i] + ones[i + 1]) / 2) for i, t in enumerate(twos)]
    return ones, twos, ratios, split, (costs[svc.port], costs[two.port])


def _workers(service: Launched) -> list[psutil.Process]:
    return [p for p in service.family() if "_bentoml_impl.worker" in " ".join(p.cmdline())]


def _listed(values, spec: str) -> str:
    return ", ".join(format(v, spec) for v in values)


def report(rows: list[tuple]) -> bool:
    table = Table(title="il2select serving benchmark (one run, this machine)")
    for column in (
        "measure",
        "p50 ms",
        "p99 ms",
        "max ms",
        ">50 ms",
        "req/s c=16",
        "vs mlflow",
        "target",
        "ok",
    ):
        table.add_column(column, justify="left" if column in ("measure", "target") else "right")
    latency = {
        name: (one, sixteen) for kind, name, one, sixteen in (r for r in rows if r[0] == "latency")
    }
    rec1, rec16 = latency["il2select /recommend"]
    mlf1, mlf16 = latency["mlflow models serve /invocations"]
    ((_, served_p50, inproc, gaps),) = [r for r in rows if r[0] == "inproc"]
    overhead = float(np.median(gaps))
    checks = []
    for name, (one, sixteen) in latency.items():
        ratio = sixteen.rate / mlf16.rate if mlf16.rate else float("nan")
        target, ok = "", None
        if name.startswith("il2select /recommend"):
            parts = {
                "≥10× mlflow": ratio >= 10,
                # what serving adds to the model's own time (HTTP, guard, audit, JSON)
                "p50 − in-process p50 ≤ 1.5 (alternated)": overhead <= 1.5,
                "p99 < 30": one.percentile_ms(99) < 30,
            }
            ok = all(parts.values())
            target = "; ".join(f"{k} {'yes' if v else 'NO'}" for k, v in parts.items())
        checks.append(ok)
        table.add_row(
            name,
            f"{one.percentile_ms(50):.2f}",
            f"{one.percentile_ms(99):.2f}",
            f"{max(one.latencies_s) * 1e3:.1f}",
            f"{one.stalls()}/{one.count}",
            f"{sixteen.rate:,.0f}",
            f"{ratio:.1f}×",
            target,
            _mark(ok),
        )
    errors = sum(one.errors + sixteen.errors for one, sixteen in latency.values())
    ((_, timings, size, predict_rss),) = [r for r in rows if r[0] == "predict"]
    ok = float(np.median(timings)) < 2.0  # the typical request, not the luckiest
    checks.append(ok)
    table.add_row(
        f"/predict 10,000 patients ({size / 2**20:.1f} MB)",
        f"{np.median(timings) * 1e3:.0f}",
        "",
        f"{max(timings) * 1e3:.0f}",
        "",
        "",
        "",
        "< 2000 ms",
        _mark(ok),
    )
    ((_, sustained, before, after, worst),) = [r for r in rows if r[0] == "sustained"]
    growth = (after - before) / before * 100 if before else float("nan")
    worst = max(worst, predict_rss)  # right after the largest request, too
    ok = sustained.errors == 0 and growth < 10 and worst < 600
    checks.append(ok)
    table.add_row(
        f"sustained {sustained.elapsed_s:.0f} s c=16: {sustained.count:,} req, "
        f"{sustained.errors} errors, RSS {before:.0f}→{after:.0f} MiB ({growth:+.1f} %)",
        f"{sustained.percentile_ms(50):.2f}",
        f"{sustained.percentile_ms(99):.2f}",
        f"{max(sustained.latencies_s) * 1e3:.1f}",
        f"{sustained.stalls()}",
        f"{sustained.rate:,.0f}",
        "",
        "0 errors; < 10 % growth; < 600 MiB/worker",
        _mark(ok),
    )
    ((_, cli_s, svc_s),) = [r for r in rows if r[0] == "cold"]
    ok = svc_s < 10
    checks.append(ok)
    table.add_row(
        f"cold start to /readyz: service {svc_s:.1f} s; `il2select serve` {cli_s:.1f} s",
        "",
        "",
        "",
        "",
        "",
        "",
        "< 10 s",
        _mark(ok),
    )
    for _, ones, twos, ratios, split, costs in (r for r in rows if r[0] == "scaling"):
        ratio = float(np.median(ratios))
        ok = ratio >= 1.5
        checks.append(ok)
        table.add_row(
            f"/recommend c=16, 2 workers vs 1, alternated: 1 worker {_listed(ones, ',.0f')}; "
            f"2 workers {_listed(twos, ',.0f')} req/s; rounds {_listed(ratios, '.2f')}×; "
            f"CPU s per worker {_listed(split, '.1f')}",
            "", "", "", "", f"{float(np.median(twos)):,.0f}", f"{ratio:.2f}× 1 worker (median)",
            "≥ 1.5× 1 worker", _mark(ok),
        )  # fmt: skip
        for label, cost in zip(("1 worker", "2 workers"), costs, strict=True):
            table.add_row(f"  last {label} phase: {cost.shown()}", *[""] * 8)
    for _, ratios in (r for r in rows if r[0] == "ceiling"):
        table.add_row(
            "ceiling: 2 processes of in-process compute vs 1 (bench.ceiling), rounds "
            + _listed(ratios, ".2f"),
            "", "", "", "", "", f"{float(np.median(ratios)):.2f}×", "what 2 workers can reach", "",
        )  # fmt: skip
    ok = inproc < 3
    checks.append(ok)
    table.add_row(
        "recommend_one in process (alternated with /recommend)",
        f"{inproc:.2f}",
        "",
        "",
        "",
        "",
        "",
        "< 3 ms",
        _mark(ok),
    )
    table.add_row(
        f"/recommend p50 minus in process, 6 rounds: {', '.join(f'{g:.2f}' for g in gaps)}",
        f"{overhead:.2f}",
        "",
        "",
        "",
        "",
        "",
        f"≤ 1.5 ms (served p50 {served_p50:.2f})",
        "",
    )
    console.print(table)
    console.print(
        f"load-generator errors in the latency phases: {errors}; worst worker RSS "
        f"{worst:.0f} MiB (right after /predict 10,000: {predict_rss:.0f} MiB)"
    )
    return all(c is not False for c in checks)


def _mark(ok: bool | None) -> str:
    return "" if ok is None else ("PASS" if ok else "FAIL")


@contextmanager
def benchmarked_champion(fresh: bool) -> Iterator[str]:
    """The tracking URI a benchmark serves: with ``fresh``, a small champion trained in a
    temporary store, removed when the benchmark ends, however it ends; else the project's
    ``@champion``."""
    if not fresh:
        yield get_settings().tracking_uri
        return
    from tests.integration.service_fixtures import train_champion

    store = Path(tempfile.mkdtemp(prefix="il2select-bench-champion-"))
    try:
        yield train_champion(store)
    finally:
        shutil.rmtree(store, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sustained-s", type=float, default=120.0)
    parser.add_argument("--phase-s", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--fresh-champion",
        action="store_true",
        help="train a small champion in a throw-away store (default: the project's @champion)",
    )
    parser.add_argument("--audit", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--scaling", action="store_true", help="2 workers against 1")
    args = parser.parse_args()
    unwind_on_sigterm()
    cluster = None
    with benchmarked_champion(args.fresh_champion) as tracking_uri:
        try:
            audit_url = None
            if args.audit == "postgres":
                from tests.engines import PostgreSQL

                cluster = PostgreSQL().initialise()
                audit_url = cluster.create_database("audit")
                console.print(f"audit log on PostgreSQL: {audit_url}")
            rows = bench(
                tracking_uri, args.sustained_s, args.phase_s, args.workers, audit_url, args.scaling
            )
        finally:
            if cluster is not None:
                cluster.remove()
    console.print(f"audit store: {args.audit}")
    sys.exit(0 if report(rows) else 1)


if __name__ == "__main__":
    main()
