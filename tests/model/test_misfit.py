"""The survival models' model-error allowance: measured on the training data alone, zero
where the model's shape is right, and it only ever widens an interval."""

from __future__ import annotations

import numpy as np
import pytest
from lifelines import KaplanMeierFitter

from model.estimators.misfit import _kaplan_meier_at, _tau, widen


def test_kaplan_meier_at_a_month_matches_lifelines():
    rng = np.random.default_rng(3)
    time = np.round(rng.exponential(20, 2000), 1)  # ties included
    event = rng.random(2000) < 0.7
    value, variance = _kaplan_meier_at(time, event, 24.0)
    fitter = KaplanMeierFitter().fit(time, event)
    assert value == pytest.approx(float(fitter.survival_function_at_times(24.0).iloc[0]), abs=1e-9)
    upper = fitter.confidence_interval_survival_function_.loc[:24.0].iloc[-1, 1]
    assert np.sqrt(variance) == pytest.approx((upper - value) / 1.96, rel=0.35)  # log-log CI


def test_no_allowance_where_the_predicted_curves_are_right():
    """Each patient's time drawn from exactly the predicted exponential curve: the decile
    gaps are sampling noise alone, so tau is (almost) zero."""
    rng = np.random.default_rng(4)
    n = 20_000
    rate = rng.uniform(0.01, 0.1, n)
    time = rng.exponential(1 / rate)
    event = np.ones(n, dtype=bool)
    assert _tau(np.exp(-rate * 12.0), time, event, 12.0) < 0.01
    biased = np.clip(np.exp(-rate * 12.0) + 0.08 * (rate > 0.05), 0, 1)  # a shape error
    assert _tau(biased, time, event, 12.0) > 0.03


def test_the_allowance_only_widens(recommender):
    for name, taus in recommender.estimators.misfit.items():
        assert len(taus) == 8 and all(t >= 0 for t in taus.values()), name
    point = np.array([0.2, 0.5, 0.9])
    lo, hi = point - 0.01, point + 0.02
    wide_lo, wide_hi = widen(point, lo, hi, 0.02)
    assert (wide_lo <= lo).all() and (wide_hi >= hi).all()
    assert (wide_lo >= 0).all() and (wide_hi <= 1).all()
    assert widen(point, lo, hi, 0.0)[0] == pytest.approx(lo)
