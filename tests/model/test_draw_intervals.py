"""Intervals over parameter draws: a batch mixing complete patients (draw 0 is their
point estimate, left out) and patients with unknown inputs (every draw counts) gets, row
for row, the bounds each kind gets alone."""

from __future__ import annotations

import numpy as np
import pytest

from model.estimators.draw_intervals import quantiles


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
