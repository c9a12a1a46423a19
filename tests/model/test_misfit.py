"""The survival models' model-error allowance: measured on the training data alone, zero
where the model's shape is right, and it only ever widens an interval."""

from __future__ import annotations

import numpy as np
import pytest
from lifelines import KaplanMeierFitter

from model.estimators.misfit import MISFIT_MONTHS, _tau, kaplan_meier_at, widen


def test_kaplan_meier_at_a_month_matches_lifelines():
    rng = np.random.default_rng(3)
    time = np.round(rng.exponential(20, 2000), 1)  # ties included
    event = rng.random(2000) < 0.7
    value, variance = kaplan_meier_at(time, event, 24.0)
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
    one_cell = np.zeros(n)
    assert _tau(np.exp(-rate * 12.0), one_cell, _km(time, event, 12.0)) < 0.01
    biased = np.clip(np.exp(-rate * 12.0) + 0.08 * (rate > 0.05), 0, 1)  # a shape error
    assert _tau(biased, one_cell, _km(time, event, 12.0)) > 0.03


def _km(time, event, month):
    return lambda rows: kaplan_meier_at(time[rows], event[rows], month)


def test_an_error_that_cancels_across_deciles_shows_in_the_covariate_cells():
    """Two cells whose predictions are the same but whose true survival differs either
    way: every decile's mean is right, each cell's is not."""
    rng = np.random.default_rng(5)
    n = 40_000
    cell = rng.integers(0, 2, n)
    rate = np.where(cell == 1, 0.06, 0.02)  # truth: the cells differ
    time = rng.exponential(1 / rate)
    event = np.ones(n, dtype=bool)
    predicted = np.full(n, np.exp(-12.0 * rate).mean())  # the model: one curve for all
    assert _tau(predicted, np.zeros(n), _km(time, event, 12.0)) < 0.01
    assert _tau(predicted, cell.astype(float), _km(time, event, 12.0)) > 0.1


def test_the_allowance_only_widens(recommender):
    for name, taus in recommender.estimators.misfit.items():
        # both endpoints at every month, P(durable CR); IL-2's cardiac toxicity has one too
        expected = 2 * len(MISFIT_MONTHS) + 1 + (name == "il2")
        assert len(taus) == expected and all(t >= 0 for t in taus.values()), name
    assert "p_severe_cardiac_toxicity" in recommender.estimators.misfit["il2"]
    point = np.array([0.2, 0.5, 0.9])
    lo, hi = point - 0.01, point + 0.02
    wide_lo, wide_hi = widen(point, lo, hi, 0.02)
    assert (wide_lo <= lo).all() and (wide_hi >= hi).all()
    assert (wide_lo >= 0).all() and (wide_hi <= 1).all()
    assert widen(point, lo, hi, 0.0)[0] == pytest.approx(lo)


def test_unrecorded_toxicity_is_left_out_not_a_nan_allowance(recommender):
    """A registry that did not record every cardiac event: the allowance is measured on the
    recorded ones (as the fit is), never NaN (a NaN would blank every interval)."""
    from model.estimators.design import FEATURE_NAMES
    from model.estimators.misfit import survival_misfit

    rng = np.random.default_rng(6)
    n = 3000
    design = (rng.random((n, len(FEATURE_NAMES))) < 0.3).astype(float)
    design[:, 0] = 1.0  # the intercept
    toxicity = (rng.random(n) < 0.05).astype(float)
    toxicity[::3] = np.nan
    time = rng.exponential(20, n)
    model, draws = recommender.estimators.models["il2"], recommender.estimators.draws["il2"]
    taus = survival_misfit(model, draws, design, {"os": (time, np.ones(n, bool))}, toxicity)
    seen = ~np.isnan(toxicity)
    alone = survival_misfit(
        model, draws, design[seen], {"os": (time[seen], np.ones(seen.sum(), bool))}, toxicity[seen]
    )
    tau = taus["p_severe_cardiac_toxicity"]
    assert tau > 0 and tau == pytest.approx(alone["p_severe_cardiac_toxicity"])


def test_a_durable_remission_the_curve_promises_but_the_data_do_not_show_is_allowed_for(
    recommender,
):
    """P(durable CR) reads the complete responders' PFS at 60 months: when every complete
    response in the data relapses within two years, the allowance is at least the mean
    durable share the model promised (nothing of it is seen); without the responses, no
    allowance is measured."""
    from model.estimators.design import FEATURE_NAMES
    from model.estimators.misfit import survival_misfit
    from model.estimators.strategy_predictions import (
        point_draws,
        prepare_strategy,
        strategy_quantities,
    )

    rng = np.random.default_rng(7)
    n = 6000
    design = (rng.random((n, len(FEATURE_NAMES))) < 0.3).astype(float)
    design[:, 0] = 1.0
    model, draws = recommender.estimators.models["il2"], recommender.estimators.draws["il2"]
    response = np.where(rng.random(n) < 0.1, "CR", "PD").astype(object)
    time = np.where(response == "CR", rng.uniform(6, 24, n), rng.exponential(3, n))
    pfs = {"pfs": (time, np.ones(n, bool))}
    taus = survival_misfit(model, draws, design, pfs, best_response=response)
    prepared = prepare_strategy(model, point_draws(draws), design)
    promised = strategy_quantities(prepared, ())["p_durable_cr"][0].mean()
    assert promised > 0.01 and taus["p_durable_cr"] >= 0.9 * promised
    assert "p_durable_cr" not in survival_misfit(model, draws, design, pfs)


def test_a_version_measured_at_the_horizons_alone_keeps_its_median_allowance():
    """Before the early months were measured, a median's bounds read the 12-month
    allowance flat below 12 months; a curve's band starts from 0 at month 0."""
    from model.estimators.misfit import tau_at

    taus = {"os_at_12_months": 0.01, "os_at_24_months": 0.02, "pfs_at_12_months": 0.5}
    months = np.array([0.0, 6.0, 12.0, 18.0, 100.0])
    np.testing.assert_allclose(
        tau_at(taus, "os", months, from_zero=False), [0.01, 0.01, 0.01, 0.015, 0.02]
    )
    np.testing.assert_allclose(tau_at(taus, "os", months), [0.0, 0.005, 0.01, 0.015, 0.02])
