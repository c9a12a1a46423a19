"""IMDC in the generated cohort: both counts drawn, rising with frailty as the published
case mix has them, and the IMDC group never milder than the factors MSKCC shares with it."""

from __future__ import annotations

import numpy as np


def test_counts_are_drawn_and_rise_with_poor_performance(cohort_50k):
    frail = cohort_50k["ecog"] >= 2
    for name in ("neutrophils_above_uln", "platelets_above_uln"):
        flag = cohort_50k[name].to_numpy(dtype=bool)
        overall = flag.mean()
        assert 0.08 <= overall <= 0.30, (name, overall)  # a minority, as in the IMDC series
        fit, poor = flag[~frail].mean(), flag[frail].mean()
        se = np.sqrt(fit * (1 - fit) / (~frail).sum() + poor * (1 - poor) / frail.sum())
        assert poor - fit > 5 * se, (name, fit, poor)


def test_imdc_groups_follow_their_factor_counts(cohort_50k):
    """Every patient of a generated cohort has a known IMDC group (no unknowns), set by
    the count of its six factors: 0 favourable, 1-2 intermediate, 3 or more poor."""
    factors = cohort_50k["imdc_risk_factors"].to_numpy()
    expected = np.select([factors == 0, factors <= 2], ["favourable", "intermediate"], "poor")
    assert (cohort_50k["imdc_risk"].astype(str).to_numpy() == expected).all()
    assert set(np.unique(factors)) <= set(range(7)) and factors.max() >= 4
    shared = (
        (cohort_50k["karnofsky"] < 80)
        | cohort_50k["hemoglobin_below_lln"]
        | (cohort_50k["corrected_calcium_mg_dl"] > 10)
        | (cohort_50k["months_from_diagnosis"] < 12)
    )
    assert (factors[shared.to_numpy()] >= 1).all()  # a shared factor always counts
