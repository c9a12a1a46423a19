"""``il2select score-spark`` (real Spark in local mode, the real registered champion) gives
what ``il2select predict`` gives on the same rows: the same rows in the same order, the
same columns, numbers within 1e-9, the same bad rows under the same row numbers with the
same reasons. And a missing or wrong input, or no Java, is one clear line, no traceback.

The input is typed as the model's signature types it (numbers double, flags boolean with
nulls for unknown, labels text): the sample clinic list (every branch and unknown input),
3,000 synthetic patients, and bad rows scattered through them; ``predict`` reads it as one
file, ``score-spark`` as a folder of three parts whose sizes are not in name order (Spark
reads the largest first: the row key must still follow the files' names).
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from model.contract.columns import COLUMNS
from tests.integration.service_fixtures import REPO, TOLERANCE, clean_env, run_cli

pytestmark = pytest.mark.slow
SYNTHETIC_N = 3000
SPARK = ("--master", "local[2]", "--conf", "spark.ui.enabled=false")
PART_NAMES = ("part-0.parquet", "part-1.parquet", "part-2.parquet")
PART_BOUNDS = ((0, 500), (500, 2600), (2600, 42 + SYNTHETIC_N))
# (position in the table, the cells made bad, what predict says of the row)
BAD_ROWS = [
    (0, {"ecog": 7.0}, "ecog=7.0: must be between 0 and 4"),
    (20, {"age_years": np.nan}, "age_years=(empty): must not be empty"),
    (700, {"sex": "unknown"}, "sex=unknown: must be one of female, male"),
    (1500, {"caix_pct": 140.0}, "caix_pct=140.0: must be between 0 and 100 %"),
    (2222, {"met_lung": None, "ecog": 9.0}, "met_lung=(empty): must not be empty"),
    (
        3040,
        {"alveolar_pct": 60.0, "solid_pct": 60.0, "papillary_pct": 0.0},
        "alveolar_pct + solid_pct + papillary_pct must not exceed 100",
    ),
]


def typed_clinic_list() -> pd.DataFrame:
    """The sample clinic list as typed Parquet columns (empty cells: unknown)."""
    raw = pd.read_csv(
        REPO / "data/synthetic/samples/clinic_list.csv", dtype=str, keep_default_na=False
    )
    typed = {}
    for spec in COLUMNS:
        cells = raw[spec.name].str.strip().replace("", None)
        if spec.kind in ("float", "int"):
            typed[spec.name] = pd.to_numeric(cells).astype(float)
        elif spec.kind == "bool":
            typed[spec.name] = cells.map({"true": True, "false": False, None: None}).astype(object)
        else:
            typed[spec.name] = cells.astype(object)
    return pd.DataFrame(typed).assign(note=raw["note"])


def patients_with_bad_rows() -> pd.DataFrame:
    from data.synthetic.cohort import simulate_case_mix

    names = [spec.name for spec in COLUMNS]
    synthetic = simulate_case_mix(SYNTHETIC_N, seed=12)[names].reset_index(drop=True)
    for spec in COLUMNS:
        if spec.kind == "int":
            synthetic[spec.name] = synthetic[spec.name].astype(float)
        elif spec.kind == "bool":
            synthetic[spec.name] = synthetic[spec.name].astype(object)
    table = pd.concat([typed_clinic_list(), synthetic.assign(note="synthetic")], ignore_index=True)
    for position, cells, _ in BAD_ROWS:
        for column, value in cells.items():
            table.at[position, column] = value
    return table


@pytest.fixture(scope="module")
def scored(champion_tracking_uri, tmp_path_factory):
    """The same rows through ``predict`` (one file) and ``score-spark`` (a folder of parts),
    both with ``--errors``."""
    folder = tmp_path_factory.mktemp("score_spark")
    source, parts = folder / "patients.parquet", folder / "parts"
    table = patients_with_bad_rows()
    table.to_parquet(source, index=False)
    # the same rows as three files for Spark: name order is row order, size order is not
    parts.mkdir()
    for name, (start, stop) in zip(PART_NAMES, PART_BOUNDS, strict=True):
        table.iloc[start:stop].to_parquet(parts / name, index=False)
    env = clean_env(MLFLOW_TRACKING_URI=champion_tracking_uri)
    predicted = run_cli(
        env, folder, "predict", "--in", str(source), "--out", "predict.parquet",
        "--errors", "predict-errors.parquet",
    )  # fmt: skip
    assert predicted.returncode == 1, predicted.stderr[-3000:]  # 1: there are bad rows
    spark = run_cli(
        env, folder, "score-spark", "--in", str(parts), "--out", "spark",
        "--errors", "spark-errors", *SPARK, timeout=300,
    )  # fmt: skip
    assert spark.returncode == 1, spark.stderr[-5000:]
    yield folder, predicted, spark
    shutil.rmtree(folder, ignore_errors=True)


def read_parts(folder: Path) -> pd.DataFrame:
    """A Spark output folder's parts in name order, as written (no re-sorting here)."""
    parts = sorted(folder.glob("part-*.parquet"))
    assert parts and (folder / "_SUCCESS").exists()
    return pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)


def assert_same_column(local: pd.Series, spark: pd.Series, name: str) -> None:
    if pd.api.types.is_float_dtype(local) or pd.api.types.is_float_dtype(spark):
        a, b = local.to_numpy(dtype=float), spark.to_numpy(dtype=float)
        assert np.array_equal(np.isnan(a), np.isnan(b)), name
        assert np.array_equal(np.isinf(a), np.isinf(b)), name  # a median never reached
        finite = np.isfinite(a)
        assert np.array_equal(a[~finite & ~np.isnan(a)], b[~finite & ~np.isnan(b)]), name
        gap = np.abs(a[finite] - b[finite]).max(initial=0.0)
        assert gap <= TOLERANCE, f"{name}: {gap}"
    else:
        shown = [None if v is None or v is pd.NA else v for v in local.astype(object)]
        assert shown == [None if v is None else v for v in spark.astype(object)], name


def test_score_spark_equals_predict(scored):
    """Acceptance: the same rows, order, columns, numbers (1e-9) and bad rows."""
    folder, predicted, spark = scored
    local = pd.read_parquet(folder / "predict.parquet")
    on_spark = read_parts(folder / "spark")
    bad_rows = [position + 1 for position, *_ in BAD_ROWS]
    n_rows = 42 + SYNTHETIC_N
    # the valid rows, in input order, under their 1-based row numbers
    expected_rows = [row for row in range(1, n_rows + 1) if row not in bad_rows]
    assert on_spark["row"].tolist() == expected_rows
    assert list(on_spark.columns) == ["row", *local.columns]
    assert len(local) == len(on_spark) == n_rows - len(bad_rows)
    for name in local.columns:
        assert_same_column(local[name], on_spark[name], name)
    assert on_spark["recommendation"].nunique() >= 4  # every kind of answer compared
    assert not math.isclose(on_spark["il2_p_cure"].std(), 0.0)

    local_errors = pd.read_parquet(folder / "predict-errors.parquet")
    spark_errors = read_parts(folder / "spark-errors")
    assert spark_errors["row"].tolist() == local_errors["row"].tolist() == bad_rows
    assert list(spark_errors.columns) == list(local_errors.columns)
    for name in local_errors.columns:
        assert_same_column(local_errors[name], spark_errors[name], name)
    for (_, _, reason), text in zip(BAD_ROWS, spark_errors["errors"], strict=True):
        assert reason in text
    assert "ecog=9.0: must be between 0 and 4" in spark_errors["errors"].iloc[4]
    summary = f"{n_rows} rows in: {len(local)} predicted to spark, {len(bad_rows)} bad"
    assert summary in spark.stderr
    assert "Traceback" not in spark.stderr


@pytest.mark.parametrize("case", ["missing", "csv", "no-java"])
def test_a_bad_input_or_no_java_is_one_clear_line(case, champion_tracking_uri, tmp_path):
    env = clean_env(MLFLOW_TRACKING_URI=champion_tracking_uri)
    source = tmp_path / "no-such-folder" / "patients.parquet"
    if case == "csv":
        source = REPO / "data/synthetic/samples/clinic_list.csv"
    elif case == "no-java":
        source = tmp_path / "patients.parquet"
        typed_clinic_list().to_parquet(source, index=False)
        env = {**env, "JAVA_HOME": str(tmp_path / "no-jdk")}
    done = run_cli(env, tmp_path, "score-spark", "--in", str(source), "--out", "out", *SPARK)
    assert done.returncode == (3 if case == "no-java" else 2), done.stderr
    assert "Traceback" not in done.stderr and "Exception" not in done.stderr
    assert (str(source) if case != "no-java" else "Java") in done.stderr
    assert not (tmp_path / "out").exists()
