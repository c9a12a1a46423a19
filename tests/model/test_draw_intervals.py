"""Intervals over parameter draws: a batch mixing complete patients (draw 0 is their
point estimate, left out) and patients with unknown inputs (every draw counts) gets, row
for row, the bounds each kind gets alone."""

from __future__ import annotations

import numpy as np
import pytest

from model.estimators.draw_intervals import intervals, quantiles


@pytest.mark.parametrize("shape", [(201, 9), (201, 9, 4)])
def test_per_row_draw_choice_gives_each_kind_its_own_bounds(shape):
    rng = np.random.default_rng(11)
    values = rng.normal(size=shape).astype(np.float32)
    with_point = np.array([True, False, False, True, False, True, True, False, False])
    lo, hi = quantiles(values, with_point)
    for kind in (True, False):
        rows = with_point == kind
        alone_lo, alone_hi = quantiles(values[:, rows], kind)
        np.testing.assert_array_equal(lo[rows], alone_lo)
        np.testing.assert_array_equal(hi[rows], alone_hi)
    # and those are numpy's percentiles over the draws that count
    np.testing.assert_allclose(
        lo[~with_point], np.percentile(values[1:, ~with_point], 2.5, axis=0), rtol=1e-6
    )
    np.testing.assert_allclose(
        hi[with_point], np.percentile(values[:, with_point], 97.5, axis=0), rtol=1e-6
    )
    assert np.isfinite(values[0]).all()  # the caller's draws are left as they were


def test_a_complete_row_with_unusable_draws_gets_the_bounds_it_gets_alone():
    """A NaN or an infinite draw (an overflow) gives a complete row in a mixed batch the
    same bounds as alone: never a finite bound made of the left-out point estimate."""
    rng = np.random.default_rng(5)
    values = rng.normal(size=(201, 4))
    values[1:6, 1] = np.nan
    values[1:9, 2] = np.inf
    with_point = np.array([True, False, False, True])
    lo, hi = quantiles(values, with_point)
    alone_lo, alone_hi = quantiles(values[:, [1, 2]], False)
    np.testing.assert_array_equal(lo[[1, 2]], alone_lo)
    np.testing.assert_array_equal(hi[[1, 2]], alone_hi)
    assert np.isnan(hi[1]) and np.isinf(hi[2])


def test_each_quantity_gets_its_own_interval_when_sorted_together():
    rng = np.random.default_rng(8)
    per_draw = {
        "a": rng.normal(size=(201, 5)).astype(np.float32),
        "b": rng.uniform(size=(201, 5)).astype(np.float32),
        "c": rng.normal(3.0, size=(201, 5)),
        "d": rng.normal(size=(201, 5, 3)).astype(np.float32),
    }
    with_point = np.array([False, True, False, True, True])
    lo, hi = intervals(per_draw, with_point)
    for key, values in per_draw.items():
        alone_lo, alone_hi = quantiles(values, with_point)
        np.testing.assert_array_equal(lo[key], alone_lo, err_msg=key)
        np.testing.assert_array_equal(hi[key], alone_hi, err_msg=key)
        np.testing.assert_allclose(
            hi[key][~with_point], np.percentile(values[1:, ~with_point], 97.5, axis=0), rtol=1e-6
        )
