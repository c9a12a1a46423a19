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
        regressors={"cure_": "a + b", "lambda_": "1", "rho_": "1"},
    )
    frame = _frame(design, duration, event).iloc[:20]
    expected = fitter.predict_survival_function(frame, times=MONTHS).T.to_numpy()
    np.testing.assert_allclose(component.survival(design[:20], MONTHS)[0], expected, rtol=1e-6)
    cure = component.cure_fraction(design)[0]
    for group, truth in ((0.0, 0.2), (1.0, 0.5)):
        rows = design[:, 1] == group
        se = np.sqrt(truth * (1 - truth) / rows.sum())
        assert abs(cure[rows].mean() - truth) < 4 * se + 0.03  # latency misfit allowance


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
