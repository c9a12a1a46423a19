"""The statistics module agrees with lifelines, and with the calibration engine's
expected statistics on the same case mix."""

from __future__ import annotations

import numpy as np
import pytest
from lifelines import KaplanMeierFitter

from data.synthetic.calibration_expected import expected_statistics, prepare_cohort
from data.synthetic.statistics import kaplan_meier


def test_kaplan_meier_matches_lifelines():
    rng = np.random.default_rng(0)
    time = np.round(rng.exponential(10, 3_000), 1)
    event = rng.random(3_000) < 0.7
    ours = kaplan_meier(time, event)
    theirs = KaplanMeierFitter().fit(time, event)
    assert ours.quantile_time(0.5) == pytest.approx(theirs.median_survival_time_)
    for t in (1.0, 5.5, 12.0, 30.0):
        assert ours.at(t)[0] == pytest.approx(float(theirs.survival_function_at_times(t).iloc[0]))


def test_expected_statistics_match_realised(cohort_50k, targets, params, outcome_table):
    """The calibration objective's smooth statistics equal the realised ones on the
    cohort they describe, within sampling error."""
    features = cohort_50k.loc[:, :"needed_inputs"]
    expected = expected_statistics(prepare_cohort(features, targets), targets, params)
    for row in outcome_table.itertuples():
        assert abs(row.value - expected[row.id]) < 4.5 * row.se + 1e-9, (
            row.id,
            row.value,
            expected[row.id],
        )
