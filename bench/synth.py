"""Benchmark of the synthetic cohort generator: ``uv run python -m bench.synth``.

Case 1: 1,000,000 patients generated and written to Parquet (target < 10 s).
Case 2: 10,000,000 patients streamed to Parquet in blocks (target: peak memory < 2 GB).
Each case runs in its own process so its peak resident memory is its own.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CASES = {
    "1M": {"n": 1_000_000, "target": "< 10 s", "limit_s": 10.0, "limit_mb": None},
    "10M": {"n": 10_000_000, "target": "peak < 2 GB", "limit_s": None, "limit_mb": 2048.0},
}


def run_case(n: int, out: Path, seed: int = 1) -> dict:
    """Generate and write ``n`` patients; time it and report this process's peak RSS."""
    from data.synthetic.params import load_parameters
    from data.synthetic.writer import write_cohort

    params = load_parameters()
    began = time.perf_counter()
    write_cohort(out, n, seed, params)
    seconds = time.perf_counter() - began
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return {"n": n, "seconds": seconds, "peak_mb": peak_mb, "file_mb": out.stat().st_size / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--case", choices=list(CASES), help="run one case in this process")
    parser.add_argument("--out", type=Path, help="with --case: output file")
    parser.add_argument("--keep", action="store_true", help="keep the Parquet files")
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(CASES[args.case]["n"], args.out)))
        return
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-synth-") as tmp:
        for name, case in CASES.items():
            out = Path(tmp) / f"cohort_{name}.parquet"
            done = subprocess.run(
                [sys.executable, "-m", "bench.synth", "--case", name, "--out", str(out)],
                capture_output=True,
                text=True,
                check=True,
            )
            result = json.loads(done.stdout.strip().splitlines()[-1])
            ok = (case["limit_s"] is None or result["seconds"] < case["limit_s"]) and (
                case["limit_mb"] is None or result["peak_mb"] < case["limit_mb"]
            )
            rows.append((name, result, case["target"], ok))
            if not args.keep:
                out.unlink(missing_ok=True)
    print(
        f"{'case':<6}{'patients':>12}{'seconds':>10}{'rows/s':>12}{'file MB':>10}"
        f"{'peak MB':>10}  {'target':<12}{'ok':>4}"
    )
    for name, r, target, ok in rows:
        print(
            f"{name:<6}{r['n']:>12,}{r['seconds']:>10.2f}{r['n'] / r['seconds']:>12,.0f}"
            f"{r['file_mb']:>10.0f}{r['peak_mb']:>10.0f}  {target:<12}{'yes' if ok else 'NO':>4}"
        )


if __name__ == "__main__":
    main()
