"""The numpy evaluation of fitted survival components equals lifelines' own prediction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter, WeibullAFTFitter

from model.estimators.survival_fitting import MixtureCureFitter, fit_component

NAMES = ("intercept", "a", "b")
MONTHS = np.array([3.0, 12.0, 36.0, 60.0])


@pytest.fixture(scope="module")
def sample():
    rng = np.random.default_rng(3)
    n = 3000
    a = rng.integers(0, 2, n).astype(float)
    b = rng.normal(size=n)
    design = np.column_stack([np.ones(n), a, b])
    time = np.exp(2.0 + 0.6 * a - 0.3 * b) * rng.weibull(1.3, n)
    cured = rng.random(n) < 0.2 + 0.3 * a
    censor = rng.uniform(10, 150, n)
    time = np.where(cured, 1e6, time)
    return design, np.minimum(time, censor), time <= censor


def _frame(design, duration, event):
    return pd.DataFrame(
        {"a": design[:, 1], "b": design[:, 2], "duration": duration, "event": event}
    )


def test_weibull_matches_lifelines(sample):
    design, duration, event = sample
    component = fit_component(design, NAMES, duration, event, ("a", "b"), kind="weibull")
    fitter = WeibullAFTFitter(penalizer=0.01).fit(
        _frame(design, duration, event), "duration", "event", formula="a + b"
    )
    expected = fitter.predict_survival_function(
        _frame(design, duration, event).iloc[:20], times=MONTHS
    ).T.to_numpy()
    np.testing.assert_allclose(component.survival(design[:20], MONTHS)[0], expected, rtol=1e-6)


def test_cure_model_matches_lifelines_and_recovers_the_cure_fraction(sample):
    design, duration, event = sample
    component = fit_component(design, NAMES, duration, event, ("a", "b"), kind="cure_weibull")
    fitter = MixtureCureFitter(penalizer=0.01).fit(
        _frame(design, duration, event),
        "duration",
        "event",
        regressors={"cure_": "a + b", "lambda_": "a + b", "rho_": "1"},
    )
    frame = _frame(design, duration, event).iloc[:20]
    expected = fitter.predict_survival_function(frame, times=MONTHS).T.to_numpy()
    np.testing.assert_allclose(component.survival(design[:20], MONTHS)[0], expected, rtol=1e-6)
    cure = component.cure_fraction(design)[0]
    for group, truth in ((0.0, 0.2), (1.0, 0.5)):
        rows = design[:, 1] == group
        se = np.sqrt(truth * (1 - truth) / rows.sum())
        # the latency follows a and b as the data's does: no allowance for its misfit
        assert abs(cure[rows].mean() - truth) < 4 * se, (group, cure[rows].mean())


def test_cox_matches_lifelines(sample):
    design, duration, event = sample
    component = fit_component(design, NAMES, duration, event, ("a", "b"), kind="cox")
    frame = _frame(design, duration, event)
    fitter = CoxPHFitter(penalizer=0.01).fit(frame, "duration", "event")
    expected = fitter.predict_survival_function(frame.iloc[:20], times=MONTHS).T.to_numpy()
    # our baseline lives on a 0.1-month grid: agreement to a few thousandths
    np.testing.assert_allclose(component.survival(design[:20], MONTHS)[0], expected, atol=5e-3)


def test_too_few_events_fall_back_to_intercept_only(sample):
    design, duration, event = sample
    few = np.zeros_like(event)
    few[:12] = True
    component = fit_component(design, NAMES, duration, few, ("a", "b"), kind="cox")
    assert component.columns["beta_"] == (0,)
    curves = component.survival(design[:5], MONTHS)[0]
    assert np.allclose(curves, curves[0])  # no covariate can move it


def test_cox_draws_spread_as_refits_on_new_samples_do():
    """A Cox curve's draws (covariate effects and the Breslow baseline) spread as much as
    the curve itself moves between independent samples: R refits give the sampling sd of
    S(12 | a = 0) to a relative standard error of 1 / sqrt(2 (R - 1)); the draws' mean sd
    must lie within three of those. Drawing the covariate effects alone (the baseline
    taken as known) gave two thirds of the sampling sd (0.665)."""
    rng = np.random.default_rng(11)
    replicates, n = 60, 300
    point, spread = [], []
    at = np.array([[1.0, 0.0, 0.0]])
    for _ in range(replicates):
        a = rng.integers(0, 2, n).astype(float)
        b = rng.normal(size=n)
        design = np.column_stack([np.ones(n), a, b])
        time = rng.exponential(15.0 * np.exp(-0.5 * a + 0.2 * b))
        censor = rng.uniform(5, 40, n)
        component = fit_component(
            design, NAMES, np.minimum(time, censor), time <= censor, ("a", "b"), kind="cox"
        )
        point.append(component.survival(at, np.array([12.0]))[0, 0, 0])
        theta = component.draw(400, rng)
        spread.append(component.survival(at, np.array([12.0]), theta)[:, 0, 0].std())
    sampling = np.std(point, ddof=1)
    tolerance = 3 / np.sqrt(2 * (replicates - 1))
    assert abs(np.mean(spread) / sampling - 1) < tolerance, (np.mean(spread), sampling)


def test_a_cure_model_keeps_one_latency_when_its_events_cannot_carry_two_sets(sample):
    """Ten events a parameter: with 40 events, the cure fraction takes the covariates
    (4 parameters) but the latency stays one number for all (7 would be needed)."""
    design, duration, event = sample
    few = event & (np.cumsum(event) <= 40)
    component = fit_component(design, NAMES, duration, few, ("a", "b"), kind="cure_weibull")
    assert component.columns["cure_"] == (0, 1, 2)
    assert component.columns["lambda_"] == (0,)
    plenty = fit_component(design, NAMES, duration, event, ("a", "b"), kind="cure_weibull")
    assert plenty.columns["lambda_"] == (0, 1, 2)
