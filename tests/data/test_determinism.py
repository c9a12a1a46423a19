"""Same seed, same rows (byte for byte on disk); blocks make long streams extend short
ones (the first rows of a longer cohort equal the shorter cohort)."""

from __future__ import annotations

import pandas as pd

from data.synthetic.cohort import BLOCK_SIZE, simulate_cohort
from data.synthetic.writer import read_cohort, write_cohort


def test_same_seed_same_frame(params):
    first = simulate_cohort(2_000, 11, params)
    again = simulate_cohort(2_000, 11, params)
    pd.testing.assert_frame_equal(first, again)
    other = simulate_cohort(2_000, 12, params)
    assert not first["age_years"].equals(other["age_years"])


def test_prefix_property_across_blocks(params):
    n = BLOCK_SIZE + 500
    long = simulate_cohort(n, 5, params)
    short = simulate_cohort(1_000, 5, params)
    pd.testing.assert_frame_equal(long.iloc[:1_000], short)
    tail = simulate_cohort(BLOCK_SIZE + 100, 5, params)
    pd.testing.assert_frame_equal(long.iloc[: BLOCK_SIZE + 100], tail)


def test_files_identical_bytes(tmp_path, params):
    a = write_cohort(tmp_path / "a.parquet", 3_000, 3, params, workers=2)
    b = write_cohort(tmp_path / "b.parquet", 3_000, 3, params, workers=1)
    assert a.read_bytes() == b.read_bytes()
    c = write_cohort(tmp_path / "c.csv", 500, 3, params, observed=True)
    d = write_cohort(tmp_path / "d.csv", 500, 3, params, observed=True)
    assert c.read_bytes() == d.read_bytes()
    back = read_cohort(a)
    assert len(back) == 3_000 and back["patient_id"].is_unique


def test_file_prefix_property(tmp_path, params):
    """The first rows of a longer stream on disk equal a shorter cohort of the seed."""
    long = read_cohort(write_cohort(tmp_path / "long.parquet", BLOCK_SIZE + 200, 9, params))
    short = read_cohort(write_cohort(tmp_path / "short.parquet", 1_500, 9, params))
    pd.testing.assert_frame_equal(long.iloc[:1_500], short)
