"""The truth columns are the exact distribution the outcomes are drawn from: realised
outcomes agree with the per-patient truth within sampling error."""

from __future__ import annotations

import numpy as np
import pytest

from data.synthetic.outcome_model import STRATEGIES
from data.synthetic.statistics import kaplan_meier


def binomial_tolerance(p: float, n: int, z: float = 4.0) -> float:
    """``z`` binomial standard errors of a proportion ``p`` on ``n`` draws."""
    return z * float(np.sqrt(max(p * (1 - p), 1e-12) / n))


@pytest.mark.parametrize("arm", STRATEGIES)
def test_response_rates_match_true_probabilities(cohort_50k, arm):
    realised = cohort_50k[f"{arm}_best_response"].isin(["CR", "PR"]).mean()
    truth = cohort_50k[f"{arm}_true_p_response"].mean()
    assert abs(realised - truth) < binomial_tolerance(truth, len(cohort_50k))
    realised_cr = (cohort_50k[f"{arm}_best_response"] == "CR").mean()
    truth_cr = cohort_50k[f"{arm}_true_p_complete_response"].mean()
    assert abs(realised_cr - truth_cr) < binomial_tolerance(truth_cr, len(cohort_50k))


@pytest.mark.parametrize("arm", STRATEGIES)
@pytest.mark.parametrize("endpoint", ["pfs", "os"])
def test_half_of_patients_outlive_their_true_median(cohort_50k, arm, endpoint):
    """P(T > own true median) = 1/2 for every patient, so the share is binomial(n, 1/2);
    medians lie well before the minimum follow-up, so censoring does not interfere."""
    median = cohort_50k[f"{arm}_true_median_{endpoint}_months"].to_numpy()
    time = cohort_50k[f"{arm}_{endpoint}_months"].to_numpy()
    assert np.nanmax(median) < 132
    share = np.mean(time > median)
    assert abs(share - 0.5) < binomial_tolerance(0.5, len(time))


@pytest.mark.parametrize("arm", STRATEGIES)
@pytest.mark.parametrize("months", [12, 36, 60])
def test_kaplan_meier_matches_mean_true_survival(cohort_50k, arm, months):
    for endpoint in ("pfs", "os"):
        curve = kaplan_meier(
            cohort_50k[f"{arm}_{endpoint}_months"].to_numpy(),
            cohort_50k[f"{arm}_{endpoint}_event"].to_numpy(),
        )
        value, se = curve.at(months)
        truth = cohort_50k[f"{arm}_true_{endpoint}_at_{months}_months"].mean()
        assert abs(value - truth) < 4 * se + 1e-4, (endpoint, value, truth)


def test_toxicity_and_cure_truth(cohort_50k):
    tox = cohort_50k["il2_true_p_severe_cardiac_toxicity"].mean()
    assert abs(cohort_50k["il2_severe_cardiac_toxicity"].mean() - tox) < binomial_tolerance(
        tox, len(cohort_50k)
    )
    cure = cohort_50k["il2_true_p_cure"]
    assert (cure <= cohort_50k["il2_true_p_complete_response"] + 1e-12).all()
    assert (cohort_50k["tki_true_p_complete_response"] < 0.05).all()


def test_shapes_il2_plateau_tki_keeps_falling(cohort_50k):
    cr = cohort_50k[cohort_50k["il2_best_response"] == "CR"]
    curve = kaplan_meier(cr["il2_pfs_months"].to_numpy(), cr["il2_pfs_event"].to_numpy())
    assert curve.at(60)[0] - curve.at(120)[0] < 0.15  # flat after ~30 months
    tki = kaplan_meier(
        cohort_50k["tki_pfs_months"].to_numpy(), cohort_50k["tki_pfs_event"].to_numpy()
    )
    assert tki.at(60)[0] < 0.05 and tki.at(36)[0] > tki.at(60)[0]
    responders = cohort_50k["il2_best_response"].isin(["CR", "PR"])
    assert (
        cohort_50k.loc[responders, "il2_os_months"].median()
        > 2 * cohort_50k.loc[~responders, "il2_os_months"].median()
    )
