"""The response-group allowance: where one group's curve misses its own patients, measured
on the training data alone; zero where the curve is right, and it only ever widens."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from model.estimators.group_misfit import _slices, allowance_at
from model.estimators.misfit import MISFIT_MONTHS, kaplan_meier_at


def _exponential_patients(n: int, seed: int):
    rng = np.random.default_rng(seed)
    rate = rng.uniform(0.01, 0.2, n)
    time = rng.exponential(1 / rate)
    predicted = np.exp(-rate[:, None] * MISFIT_MONTHS[None, :])  # the true curves
    return rate, time, np.ones(n, dtype=bool), predicted


def test_no_allowance_where_the_group_curve_is_right():
    """Every time drawn from exactly its predicted curve: a slice's gap is sampling noise,
    whose excess over the Kaplan-Meier variance is zero about half the time and beyond
    three standard errors in one slice of a hundred or so (100 slices here)."""
    _, time, event, predicted = _exponential_patients(20_000, seed=7)
    fitted = _slices(predicted, time, event, 10)
    se = np.sqrt(0.25 / 2_000)  # the largest KM standard error of a slice of 2,000
    assert np.mean(fitted.allowance == 0) > 0.3
    assert np.quantile(fitted.allowance, 0.95) < 2 * se
    assert fitted.allowance.mean() < se / 2


def test_a_slice_the_curve_misses_gets_its_gap():
    """The best-prognosis tenth predicted 0.06 too high at every month: their slice's
    allowance is that gap (to three KM standard errors); the others stay near zero."""
    rate, time, event, predicted = _exponential_patients(20_000, seed=8)
    best = rate < np.quantile(rate, 0.1)
    biased = np.where(best[:, None], np.clip(predicted + 0.06, 0, 1), predicted)
    fitted = _slices(biased, time, event, 10)
    top = fitted.allowance[:, -1]  # the slice of the highest predicted survival
    for j, month in enumerate(MISFIT_MONTHS):
        truth = np.clip(np.exp(-rate[best] * month) + 0.06, 0, 1).mean()
        _, variance = kaplan_meier_at(time[best], event[best], month)
        if truth < 1.0 - 1e-9:  # a gap the clip does not cap
            assert top[j] == pytest.approx(0.06, abs=3 * np.sqrt(variance) + 0.01), month
    assert np.median(fitted.allowance[:, :-1]) < 0.01


def test_the_allowance_interpolates_between_the_months_it_was_measured_at():
    knots = np.tile(np.arange(1.0, len(MISFIT_MONTHS) + 1), (2, 1)) / 100  # (2, M)
    at_knots = allowance_at(knots, MISFIT_MONTHS)
    np.testing.assert_allclose(at_knots, knots)
    assert allowance_at(knots, np.array([0.0]))[:, 0] == pytest.approx([0.0, 0.0])
    beyond = allowance_at(knots, np.array([500.0]))[:, 0]
    assert beyond == pytest.approx(knots[:, -1])  # flat past the last month
    middle = (MISFIT_MONTHS[0] + MISFIT_MONTHS[1]) / 2
    per_patient = allowance_at(knots, np.array([[middle], [MISFIT_MONTHS[1]]]))[:, 0]
    assert per_patient == pytest.approx([(knots[0, 0] + knots[0, 1]) / 2, knots[1, 1]])


def test_the_group_allowance_only_widens(recommender, holdout):
    """Every interval with the response-group allowance holds the one without it."""
    from model.contract.columns import FEATURE_COLUMNS
    from model.contract.tables import validate_table

    estimators = recommender.estimators
    assert set(estimators.group_misfit) == {"il2", "tki"}
    for groups in estimators.group_misfit.values():
        assert set(groups) == {"pfs", "os"}
        assert all((g.allowance >= 0).all() for e in groups.values() for g in e.values())
    typed = validate_table(holdout[list(FEATURE_COLUMNS)].head(400)).typed
    with_it = recommender.predict_frame(typed)
    without = dataclasses.replace(
        recommender, estimators=dataclasses.replace(estimators, group_misfit={})
    ).predict_frame(typed)
    widened = 0
    for column in (c for c in with_it.columns if c.endswith("_lo")):
        assert (with_it[column] <= without[column] + 1e-12).all(), column
        hi = column.removesuffix("_lo") + "_hi"
        assert (with_it[hi] >= without[hi] - 1e-12).all(), hi
        widened += int((with_it[column] < without[column] - 1e-9).sum())
    assert widened > 0  # and somewhere it did widen
