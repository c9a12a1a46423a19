"""Benchmark: a CDS Hooks call (``patient-view``, a realistic prefetch of about 40 FHIR
resources, the sandbox's JWT) beside ``/recommend`` of the same patient, at concurrency 1,
in one run.

    .venv/bin/python -m bench.cds_hooks [--fresh-champion] [--phase-s 10] [--rounds 2]

The patient is the clinic list's first (``MAN-001``): its FHIR resources
(``data/synthetic/fhir_export.py``) with six older laboratory results added, as a record
has them (the mapping keeps the latest). Measured, alternated over ``--rounds`` so that the
machine's drift falls on every row: ``/recommend`` in contract form, ``/recommend`` with
the FHIR Bundle, the CDS call with a REST token, and the CDS call as the sandbox makes it
(a fresh ES384 JWT per call: the replay cache refuses a JWT twice, so each is signed
beforehand). The server is started here on 127.0.0.1 and stopped at the end.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.loadgen import LoadResult, build_request, run_load
from bench.serving import HOST, SERVICE_COMMAND, TOKEN, benchmarked_champion, free_port, launch
from bench.serving import service_env as rest_env
from bench.unwind import unwind_on_sigterm
from tests.cds_hooks_client import (
    SERVICE_PATH,
    clinic_resources,
    hook_call,
    issuers_env,
    sandbox_jwt,
    validated,
)

PATIENT = "MAN-001"
HISTORY = (("-hb", 90), ("-creat", 90), ("-ldh", 90), ("-hb", 180), ("-creat", 180), ("-ca", 180))
JWTS_PER_SECOND = 250  # more than the CDS call's rate at concurrency 1: never a JWT twice
TARGET_P99_MS = 50.0
console = Console(width=150)


def realistic_record(reference_date: date) -> list[dict]:
    """The patient's resources and older results of a few of its laboratory tests."""
    resources = clinic_resources(reference_date)[PATIENT]
    by_id = {r["id"]: r for r in resources}
    patient_id = next(r["id"] for r in resources if r["resourceType"] == "Patient")
    for suffix, days in HISTORY:
        older = copy.deepcopy(by_id[patient_id + suffix])
        older["id"] = f"{older['id']}-{days}d"
        day = date.fromisoformat(older["effectiveDateTime"]) - timedelta(days=days)
        older["effectiveDateTime"] = day.isoformat()
        resources.append(validated(older))
    return resources


def requests_of(port: int, record: list[dict], phase_s: float) -> dict[str, object]:
    """Each measure's requests; the JWT measure's as a function (signed just before)."""
    from data.synthetic.fhir_export import bundle_of
    from model.contract.fhir import patient_from_resources

    contract = json.dumps(patient_from_resources(record).values).encode()
    bundle = json.dumps(bundle_of(record)).encode()
    call = json.dumps(hook_call(record)).encode()
    url = f"http://{HOST}:{port}{SERVICE_PATH}"

    def post(path, body, token=TOKEN, content_type="application/json"):
        return build_request(HOST, port, "POST", path, body, token, content_type)

    def signed() -> list[bytes]:
        count = int(phase_s * JWTS_PER_SECOND)
        return [post(SERVICE_PATH, call, sandbox_jwt(url)) for _ in range(count)]

    return {
        "/recommend, contract form": [post("/recommend", contract)],
        "/recommend, FHIR Bundle": [
            post("/recommend", bundle, content_type="application/fhir+json")
        ],
        "CDS Hooks call, REST token": [post(SERVICE_PATH, call)],
        "CDS Hooks call, sandbox JWT (ES384)": signed,
    }


def measure(port: int, record: list[dict], phase_s: float, rounds: int) -> dict[str, LoadResult]:
    kinds = requests_of(port, record, phase_s)
    for requests in kinds.values():  # warm-up: every path once for a few seconds
        run_load(HOST, port, requests() if callable(requests) else requests, duration_s=2)
    results: dict[str, LoadResult] = {name: LoadResult() for name in kinds}
    for round_ in range(rounds):
        console.print(f"round {round_ + 1} of {rounds} at concurrency 1 …")
        for name, requests in kinds.items():
            batch = requests() if callable(requests) else requests
            limit = len(batch) if callable(requests) else 10**9
            done = run_load(HOST, port, batch, duration_s=phase_s, max_requests=limit)
            merged = results[name]
            merged.latencies_s += done.latencies_s
            merged.errors += done.errors
            merged.elapsed_s += done.elapsed_s
            for status, count in done.statuses.items():
                merged.statuses[status] = merged.statuses.get(status, 0) + count
    return results


def report(results: dict[str, LoadResult], record: list[dict]) -> bool:
    table = Table(title=f"CDS Hooks beside /recommend, {PATIENT}, concurrency 1 (one run)")
    for column in ("measure", "requests", "p50 ms", "p99 ms", "max ms", "errors", "target", "ok"):
        table.add_column(column, justify="left" if column in ("measure", "target") else "right")
    base = results["/recommend, contract form"].percentile_ms(50)
    ok_all = True
    for name, result in results.items():
        is_cds = name.startswith("CDS")
        ok = result.errors == 0 and (not is_cds or result.percentile_ms(99) < TARGET_P99_MS)
        ok_all &= ok
        table.add_row(
            name,
            f"{result.count:,}",
            f"{result.percentile_ms(50):.2f}",
            f"{result.percentile_ms(99):.2f}",
            f"{max(result.latencies_s) * 1e3:.1f}",
            f"{result.errors}",
            f"p99 < {TARGET_P99_MS:.0f} ms; +{result.percentile_ms(50) - base:.2f} ms p50 vs "
            "contract"
            if is_cds
            else "",
            "PASS" if ok else "FAIL",
        )
    console.print(table)
    kinds = sorted({r["resourceType"] for r in record})
    console.print(f"prefetch: {len(record)} FHIR resources ({', '.join(kinds)})")
    return ok_all


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phase-s", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--fresh-champion",
        action="store_true",
        help="train a small champion in a throw-away store (default: the project's @champion)",
    )
    args = parser.parse_args()
    unwind_on_sigterm()
    with benchmarked_champion(args.fresh_champion) as tracking_uri:
        folder = Path(tempfile.mkdtemp(prefix="il2select-bench-cds-"))
        port = free_port()
        env = rest_env(tracking_uri, folder) | {
            "IL2SELECT_CDS_ISSUERS": issuers_env(),
            "IL2SELECT_PUBLIC_URL": f"http://{HOST}:{port}",
            "IL2SELECT_CHAMPION_POLL_S": "0",
        }
        record = realistic_record(date.today())
        console.print("starting the service …")
        server = launch(SERVICE_COMMAND, env, "/readyz", folder / "service.log", port=port)
        try:
            results = measure(server.port, record, args.phase_s, args.rounds)
        finally:
            server.stop()
    sys.exit(0 if report(results, record) else 1)


if __name__ == "__main__":
    main()
