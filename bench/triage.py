"""Benchmark: 1,000,000 rows through ``il2select triage`` (validation on, Parquet in and
out, 1 % bad rows set aside with ``--errors``). Prints rows/s and peak memory.

    uv run python -m bench.triage [--rows N]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from model.contract.columns import COLUMNS
from model.contract.tables import validate_table

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "synthetic" / "samples"
BAD_SHARE = 0.01
TARGET_SECONDS = 10.0
TARGET_PEAK_MIB = 2048


def make_input(rows: int, seed: int = 0) -> pd.DataFrame:
    """Rows drawn from the sample clinic list (with its unknowns), 1 % made bad."""
    typed = validate_table(
        pd.read_csv(SAMPLES / "clinic_list.csv", dtype=str, keep_default_na=False)
    ).typed
    rng = np.random.default_rng(seed)
    frame = typed.iloc[rng.integers(0, len(typed), rows)].reset_index(drop=True)
    frame["patient_id"] = np.char.add("P", np.arange(rows).astype(str))
    frame["age_years"] = np.round(rng.uniform(30, 80, rows), 1)
    for spec in COLUMNS:
        if spec.kind == "bool":
            values = frame[spec.name]
            known = values.notna().to_numpy()
            frame[spec.name] = (
                (values == 1.0)
                if known.all()
                else pd.arrays.BooleanArray((values == 1.0).to_numpy(), ~known)
            )
    bad = rng.random(rows) < BAD_SHARE
    kind = rng.integers(0, 3, rows)
    frame.loc[bad & (kind == 0), "ecog"] = 7
    frame.loc[bad & (kind == 1), "caix_pct"] = 140.0
    frame.loc[bad & (kind == 2), "creatinine_mg_dl"] = 110.0
    return frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "in.parquet"
        make_input(args.rows).to_parquet(source)
        out, errors = Path(folder) / "out.parquet", Path(folder) / "errors.parquet"
        start = time.perf_counter()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "il2select",
                "triage",
                "--in",
                str(source),
                "--out",
                str(out),
                "--errors",
                str(errors),
            ],
            capture_output=True,
            text=True,
        )
        seconds = time.perf_counter() - start
        peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        if done.returncode not in (0, 1):
            sys.exit(f"triage failed:\n{done.stderr}")
        rows_out = pd.read_parquet(out, columns=["patient_id"]).shape[0]
        rows_bad = pd.read_parquet(errors, columns=["row"]).shape[0]
    table = Table(title="il2select triage, Parquet in and out, validation on")
    for name in (
        "rows in",
        "triaged",
        "bad",
        "seconds",
        "rows/s",
        "peak MiB",
        f"< {TARGET_SECONDS:g} s",
        f"< {TARGET_PEAK_MIB} MiB",
    ):
        table.add_column(name, justify="right")
    table.add_row(
        f"{args.rows:,}",
        f"{rows_out:,}",
        f"{rows_bad:,}",
        f"{seconds:.2f}",
        f"{args.rows / seconds:,.0f}",
        f"{peak_mib:,.0f}",
        "yes" if seconds < TARGET_SECONDS else "NO",
        "yes" if peak_mib < TARGET_PEAK_MIB else "NO",
    )
    Console(width=120).print(table)
    if rows_out + rows_bad != args.rows:
        sys.exit(f"rows lost: {args.rows} in, {rows_out} + {rows_bad} out")


if __name__ == "__main__":
    main()
