"""Benchmark: ``il2select score-spark`` beside the in-process ``il2select predict`` on the
same patients, in one run: rows/s of each and their ratio, after checking that the two
give the same rows in the same order (numbers within 1e-9, the same bad rows and reasons).

    .venv/bin/python -m bench.spark [--n 1000000] [--fresh-champion] [--master local[*]]

Patients: synthetic, one in 1,000 a sample clinic-list patient (with its unknown inputs),
one in 1,000 made bad, in one Parquet file typed as the model's signature. Both commands
run as the user runs them (model load, reading and writing included); every process and
temporary file this starts is removed at the end, also on failure.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from bench.unwind import unwind_on_sigterm
from model.contract.columns import COLUMNS
from model.settings import get_settings

SOURCE_DIR = Path(__file__).resolve().parents[1]
CLINIC_LIST = SOURCE_DIR / "data" / "synthetic" / "samples" / "clinic_list.csv"
TOLERANCE = 1e-9
SHARE = 1_000  # one row in SHARE from the clinic list, one in SHARE bad
TIMEOUT_S = 3 * 3600
LOAD: dict[str, float] = {}
console = Console(width=150)


def patients(n: int, seed: int = 5) -> pd.DataFrame:
    """``n`` patients typed as the pyfunc's signature: numbers double, flags boolean (null:
    unknown), labels text."""
    from data.synthetic.cohort import simulate_case_mix
    from model.contract.tables import validate_table

    names = [spec.name for spec in COLUMNS]
    frame = simulate_case_mix(n, seed)[names].reset_index(drop=True)
    clinic = validate_table(pd.read_csv(CLINIC_LIST, dtype=str, keep_default_na=False)).typed
    for spec in COLUMNS:
        if spec.kind == "int":
            frame[spec.name] = frame[spec.name].astype(float)
        elif spec.kind == "bool":  # 1.0/0.0/NaN -> True/False/None
            clinic[spec.name] = clinic[spec.name].map({1.0: True, 0.0: False}).astype(object)
            frame[spec.name] = frame[spec.name].astype(object)
    rows = np.arange(0, n, SHARE)
    chosen = clinic.iloc[np.arange(len(rows)) % len(clinic)]
    for name in names:
        frame.loc[rows, name] = chosen[name].to_numpy(dtype=frame[name].dtype)
    bad = np.arange(SHARE // 2, n, SHARE)
    kinds = np.arange(len(bad)) % 3
    frame.loc[bad[kinds == 0], "ecog"] = 7.0
    frame.loc[bad[kinds == 1], "caix_pct"] = 140.0
    frame.loc[bad[kinds == 2], "sex"] = "unknown"
    return frame


def run(command: list[str], env: dict, cwd: Path) -> tuple[float, subprocess.CompletedProcess]:
    """``il2select COMMAND`` timed to completion; it and everything it started is killed
    if this is interrupted or times out (``run_cli``)."""
    from tests.integration.service_fixtures import run_cli

    start = time.perf_counter()
    done = run_cli(env, cwd, *command, timeout=TIMEOUT_S)
    seconds = time.perf_counter() - start
    LOAD[command[0]] = os.getloadavg()[1]  # 5-minute load average: other work on the machine
    if done.returncode not in (0, 1) or " rows in: " not in done.stderr:  # 1: bad rows
        raise RuntimeError(
            f"il2select {command[0]} exited {done.returncode}:\n{done.stderr[-4000:]}"
        )
    return seconds, done


def spark_parts(folder: Path) -> pd.DataFrame:
    """A Spark output's parts in name order, as written."""
    return pd.concat(
        [pd.read_parquet(p) for p in sorted(folder.glob("part-*.parquet"))], ignore_index=True
    )


def differences(local: pd.DataFrame, spark: pd.DataFrame) -> list[str]:
    """Where two tables differ: columns, then each column (numbers within 1e-9, NaN and
    infinity where the other has them, everything else exactly)."""
    if list(local.columns) != list(spark.columns) or len(local) != len(spark):
        return [f"shape/columns: {local.shape} {spark.shape}"]
    found = []
    for name in local.columns:
        a, b = local[name], spark[name]
        if pd.api.types.is_float_dtype(a) or pd.api.types.is_float_dtype(b):
            x, y = a.to_numpy(dtype=float), b.to_numpy(dtype=float)
            with np.errstate(invalid="ignore"):  # inf - inf: compared by == already
                same = (x == y) | (np.isnan(x) & np.isnan(y)) | (np.abs(x - y) <= TOLERANCE)
        else:
            same = (
                a.astype(object).where(a.notna(), "∅") == b.astype(object).where(b.notna(), "∅")
            ).to_numpy()
        if not same.all():
            found.append(f"{name}: {int((~same).sum())} rows differ")
    return found


def compare(folder: Path) -> list[str]:
    """``predict``'s files against ``score-spark``'s: predictions, row keys, bad rows."""
    local = pd.read_parquet(folder / "predict.parquet")
    spark = spark_parts(folder / "spark")
    local_errors = pd.read_parquet(folder / "predict-errors.parquet")
    spark_errors = spark_parts(folder / "spark-errors")
    found = differences(local, spark.drop(columns="row"))
    rows = np.arange(1, len(local) + len(local_errors) + 1)
    expected = rows[~np.isin(rows, local_errors["row"].to_numpy())]
    if not np.array_equal(spark["row"].to_numpy(), expected):
        found.append("row keys: not the valid rows in input order")
    return found + differences(local_errors, spark_errors)


def bench(n: int, tracking_uri: str, master: str, folder: Path) -> dict:
    console.print(f"writing {n:,} patients to Parquet …")
    source = folder / "patients.parquet"
    patients(n).to_parquet(source, index=False)
    venv_bin = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "PATH": os.pathsep.join([venv_bin, os.environ.get("PATH", "")]),
        "MLFLOW_TRACKING_URI": tracking_uri,
    }
    console.print("il2select predict (in process) …")
    local_s, _ = run(
        ["predict", "--in", str(source), "--out", "predict.parquet"]
        + ["--errors", "predict-errors.parquet"],
        env,
        folder,
    )
    console.print(f"il2select score-spark --master {master} …")
    spark_s, spark = run(
        ["score-spark", "--in", str(source), "--out", "spark", "--errors", "spark-errors"]
        + ["--master", master],
        env,
        folder,
    )
    console.print("comparing …")
    return {
        "n": n,
        "local_s": local_s,
        "spark_s": spark_s,
        "differences": compare(folder),
        "summary": spark.stderr.strip().splitlines()[-1],
    }


def report(result: dict, master: str) -> bool:
    n, local_s, spark_s = result["n"], result["local_s"], result["spark_s"]
    table = Table(title=f"{n:,} patients, one run, this machine ({os.cpu_count()} cores)")
    for column in ("command", "wall s", "rows/s", "rows/s ratio spark / in-process", "load 5m"):
        table.add_column(column, justify="left" if column == "command" else "right")
    table.add_row(
        "il2select predict (in process)",
        f"{local_s:.1f}",
        f"{n / local_s:,.0f}",
        "1.00×",
        f"{LOAD.get('predict', float('nan')):.1f}",
    )
    table.add_row(
        f"il2select score-spark --master {master}",
        f"{spark_s:.1f}",
        f"{n / spark_s:,.0f}",
        f"{local_s / spark_s:.2f}×",
        f"{LOAD.get('score-spark', float('nan')):.1f}",
    )
    console.print(table)
    console.print(
        "load 5m: the machine's 5-minute load average as the command ended, itself included "
        "(predict about 1; Spark's JVM and one Python worker a core); above that, other work",
        highlight=False,
    )
    console.print(f"score-spark: {result['summary']}", highlight=False)
    equal = not result["differences"]
    console.print(
        "equal to predict (1e-9, same rows, same order, same bad rows): "
        + ("yes" if equal else "NO: " + "; ".join(result["differences"]))
    )
    return equal


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--master", default="local[*]")
    parser.add_argument(
        "--fresh-champion",
        action="store_true",
        help="train a small champion in a throw-away store (default: the project's @champion)",
    )
    args = parser.parse_args()
    unwind_on_sigterm()
    folder = Path(tempfile.mkdtemp(prefix="il2select-bench-spark-"))
    try:
        tracking_uri = get_settings().tracking_uri
        if args.fresh_champion:
            from tests.integration.service_fixtures import train_champion

            console.print("training a throw-away champion …")
            tracking_uri = train_champion(folder / "champion")
        result = bench(args.n, tracking_uri, args.master, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    sys.exit(0 if report(result, args.master) else 1)


if __name__ == "__main__":
    main()
