"""Benchmark: the hostile clients of issue 14 against a real server on loopback, one
bounded phase per acceptance figure, in one run.

    uv run python -m bench.attack [--fresh-champion] [--clients 64] [--only PHASE ...]

Every server is started here on 127.0.0.1 and stopped at the end, also on a failure; the
full-disk phase mounts an 8 MiB tmpfs (root only) and unmounts it. Prints one table with
the issue's targets; exits 1 when one is missed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import traceback
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench import attack_phases as phases
from bench.serving import SERVICE_COMMAND, Launched, benchmarked_champion, launch, service_env
from bench.unwind import unwind_on_sigterm
from model.settings import get_settings

console = Console(width=170)
HEADER_TIMEOUT_S = get_settings().header_timeout_s
PHASES = ("headers", "overload", "beside", "audit_size", "audit_gone", "audit_full", "kill_9")


def run(tracking_uri: str, clients: int, only: list[str] | None = None) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="il2select-attack-"))
    audit_db = folder / "audit.db"
    started: list[Launched] = []

    def start(audit_path: Path) -> Launched:
        env = {**service_env(tracking_uri, folder), "IL2SELECT_AUDIT_DB": str(audit_path)}
        env["BENTOML_HOME"] = str(folder / f"bento-{len(started)}")
        server = launch(SERVICE_COMMAND, env, "/readyz", folder / f"server-{len(started)}.log")
        started.append(server)
        return server

    figures: dict = {"folder": str(folder)}
    try:
        server = start(audit_db)
        body = phases.big_list()
        steps = [
            ("headers", lambda: phases.headers(server, HEADER_TIMEOUT_S)),
            ("overload", lambda: phases.overload(server, body, clients)),
            ("beside", lambda: phases.beside(server, body)),
            ("audit_size", lambda: phases.audit_mb_per_10k(server, audit_db, body)),
            ("audit_gone", lambda: phases.audit_gone(server, audit_db)),
            ("audit_full", lambda: phases.audit_full(start, folder)),
            ("kill_9", lambda: phases.kill_9(server, audit_db)),
        ]
        for name, step in steps:
            if only and name not in only:
                continue
            console.print(f"{name} …")
            try:
                figures[name] = step()
            except Exception:  # noqa: BLE001  (the other phases still run and report)
                figures[name] = {"failed": traceback.format_exc(limit=3)}
            console.print(figures[name], highlight=False)
    finally:
        for server in started:
            server.stop()
    return figures


def report(f: dict) -> bool:
    table = Table(title="il2select under attack (one run, loopback, this machine)")
    for column in ("attack", "measured", "target", "ok"):
        table.add_column(column, overflow="fold")
    rows = []

    def row(name: str, key: str, measured, target: str, ok) -> None:
        figures = f.get(key, {})
        if key not in f:
            return  # not run (--only)
        if "failed" in figures or "not_run" in figures:
            rows.append((name, figures.get("failed") or figures["not_run"], target, False))
        else:
            rows.append((name, measured(figures), target, ok(figures)))

    row(
        "8 unfinished 64 MB headers, no token",
        "headers",
        lambda h: (
            f"RSS +{h['growth_mib']:.0f} MiB; longest held {h['longest_s']:.1f} s; "
            f"answers {h['answers']}; /recommend p99 {h['p99_ms']:.1f} ms "
            f"({h['recommend_errors']} errors)"
        ),
        f"< 50 MiB; closed within {HEADER_TIMEOUT_S:.0f} s; p99 < 30 ms",
        lambda h: (
            h["growth_mib"] < 50
            and h["longest_s"] <= HEADER_TIMEOUT_S + 1
            and h["p99_ms"] < 30
            and not h["recommend_errors"]
        ),
    )
    row(
        "concurrent 10,000-row /predict",
        "overload",
        lambda o: f"{o['statuses']}; RSS peak {o['peak_mib']:.0f} MiB, after {o['after_mib']:.0f}",
        "only 200 / 503+Retry-After; < 1024 MiB peak, < 600 after",
        lambda o: (
            set(o["statuses"]) <= {"200", "503"} and o["peak_mib"] < 1024 and o["after_mib"] < 600
        ),
    )
    row(
        "1-row /predict beside 2 heavy clients",
        "beside",
        lambda b: (
            f"{b['served']} answered, p50 {b['p50_ms']:.0f} ms; {b['refused']} refused "
            f"(slowest refusal {b['refused_max_ms']:.0f} ms); {b['other']} other"
        ),
        "p50 < 200 ms or 503 at once",
        lambda b: (
            not b["other"]
            and (not b["served"] or b["p50_ms"] < 200)
            and (not b["refused"] or b["refused_max_ms"] < 200)
        ),
    )
    row(
        "audit database per 10,000-row /predict",
        "audit_size",
        lambda a: (
            f"{a['mb']:.1f} MB ({phases.TODAY_MB_PER_10K / a['mb']:.1f}× smaller than "
            f"~{phases.TODAY_MB_PER_10K:.0f} MB; the answer sent: {a['sent_mb']:.1f} MB)"
        ),
        "≥ 4× smaller",
        lambda a: a["status"] == 200 and a["mb"] * 4 <= phases.TODAY_MB_PER_10K,
    )
    row(
        "audit database deleted under load",
        "audit_gone",
        lambda g: (
            f"statuses {g['statuses']}; /readyz {g['readyz_while_gone']}; "
            f"{g['answered_while_gone']} answered while gone; back in {g['recovery_s']:.1f} s; "
            f"{g['unrecorded_after']} unrecorded"
        ),
        "503, /readyz 503, 0 answered without record, recovers",
        lambda g: (
            g["readyz_while_gone"] == 503
            and g["statuses"].get(503, 0) > 0
            and g["answered_while_gone"] == 0
            and g["recovery_s"] == g["recovery_s"]
            and g["unrecorded_after"] == 0
        ),
    )
    row(
        "audit disk full under load",
        "audit_full",
        lambda g: (
            f"statuses {g['statuses']}; /readyz {g['readyz_when_full']} and "
            f"{g['answered_last_second_full']} answered in the last second full; "
            f"back in {g['recovery_s']:.1f} s; {g['unrecorded']} acknowledged unrecorded"
        ),
        "503, /readyz 503, 0 unrecorded, recovers",
        lambda g: (
            set(g["readyz_when_full"]) == {503}
            and g["answered_last_second_full"] == 0
            and set(g["statuses"]) <= {200, 503}
            and g["recovery_s"] == g["recovery_s"]
            and g["unrecorded"] == 0
        ),
    )
    row(
        "kill -9 under /recommend and /predict load",
        "kill_9",
        lambda k: f"{k['acknowledged']:,} acknowledged answers, {k['lost']} not in the log",
        "0 lost",
        lambda k: k["acknowledged"] > 0 and k["lost"] == 0,
    )
    for name, measured, target, ok in rows:
        table.add_row(name, measured, target, "PASS" if ok else "FAIL")
    console.print(table)
    console.print(f"server logs and audit databases: {f['folder']}")
    return all(ok for *_, ok in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--fresh-champion", action="store_true")
    parser.add_argument("--only", action="append", choices=PHASES, help="run this phase only")
    args = parser.parse_args()
    unwind_on_sigterm()
    with benchmarked_champion(args.fresh_champion) as tracking_uri:
        ok = report(run(tracking_uri, args.clients, args.only))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
