"""Treatment eras: the same patients and seed give the same responses and progression in
both eras, and only survival after progression changes; in the targeted era IL-2 first
(then a TKI) never shortens survival against a TKI first (then a second agent), and IFN
first stays below TKI first as in the sunitinib trial."""

from __future__ import annotations

import numpy as np
import pytest

from data.synthetic.outcome_model import STRATEGIES
from data.synthetic.statistics import kaplan_meier, rows_where

FIRST_LINE_ELIGIBLE = "il2_eligible and not prior_tki and not prior_bevacizumab"


@pytest.mark.parametrize("arm", STRATEGIES)
def test_response_and_progression_do_not_depend_on_the_era(cohort_50k, cohort_50k_cytokine, arm):
    for column in (f"{arm}_best_response", f"{arm}_pfs_months", f"{arm}_pfs_event"):
        assert (cohort_50k[column].to_numpy() == cohort_50k_cytokine[column].to_numpy()).all()


def test_a_tki_after_il2_lengthens_survival(cohort_50k, cohort_50k_cytokine):
    """The targeted era gives IL-2 patients a TKI at progression: their survival is longer
    patient by patient (same uniforms, longer survival after progression). IFN first
    keeps the cytokine era's, and TKI first, which has no cytokine-era series, is the same
    in both."""
    gained = {}
    for arm in STRATEGIES:
        targeted = cohort_50k[f"{arm}_true_median_os_months"].to_numpy()
        cytokine = cohort_50k_cytokine[f"{arm}_true_median_os_months"].to_numpy()
        assert (targeted >= cytokine - 1e-9).all(), arm
        gained[arm] = np.median(targeted / cytokine)
    assert gained["il2"] > 1.3 and gained["tki"] == gained["ifn"] == 1.0, gained


def _km_median(frame, time, event):
    return kaplan_meier(frame[time].to_numpy(), frame[event].to_numpy()).median()


@pytest.mark.parametrize("risk", ["favourable", "intermediate"])
def test_il2_first_does_not_shorten_survival_in_the_targeted_era(cohort_50k, risk):
    """BRIEF: no published series suggests IL-2 first shortens survival against a TKI
    first. Eligible untreated patients of each MSKCC group: the IL-2 arm's median OS is
    not below the TKI arm's by more than two standard errors of the difference."""
    group = cohort_50k[rows_where(cohort_50k, f"{FIRST_LINE_ELIGIBLE} and mskcc_risk == '{risk}'")]
    (il2, se_il2), (tki, se_tki) = (
        _km_median(group, f"{a}_os_months", f"{a}_os_event") for a in ("il2", "tki")
    )
    assert il2 > tki - 2 * np.hypot(se_il2, se_tki), (risk, il2, tki)


def test_ifn_first_stays_below_tki_first(cohort_50k, targets):
    """Sunitinib vs IFN (Motzer et al. 2009): median OS 26.4 vs 21.8 months in the TKI
    era; the trial's population, the default era, TKI ahead by more than two SEs."""
    population = targets.populations["first_line_trial"]
    group = cohort_50k[rows_where(cohort_50k, population)]
    (tki, se_tki), (ifn, se_ifn) = (
        _km_median(group, f"{a}_os_months", f"{a}_os_event") for a in ("tki", "ifn")
    )
    assert tki - ifn > 2 * np.hypot(se_tki, se_ifn), (tki, ifn)


def test_a_tki_after_il2_does_not_outdo_a_tki_first(cohort_50k, params):
    """Survival after progression on IL-2 first (a TKI then) stays below the same
    patient's whole overall survival on a TKI first, pattern by pattern: the TKI-era IL-2
    series' longer survival must not come from a TKI working better after IL-2."""
    from data.synthetic.mixture_survival import pattern_medians
    from data.synthetic.outcome_model import covariate_frame, pattern_index, strategy_mixtures

    _, patterns = pattern_index(covariate_frame(cohort_50k))
    mixtures = strategy_mixtures(patterns, params, "targeted")
    after_il2 = np.log(2.0) / mixtures["il2"].post_progression_rate
    tki_first = pattern_medians(mixtures["tki"], "os")
    assert (after_il2 <= tki_first).all(), float(np.max(after_il2 / tki_first))
