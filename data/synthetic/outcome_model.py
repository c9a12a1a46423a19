"""The outcome model: from a patient's covariate pattern to each strategy's mixture.

Outcomes depend on the features only through a few discrete covariates, taken from the
derived columns of ``model.rules.derive`` (never a second copy of a clinical rule), so a cohort
collapses to a few thousand covariate patterns: the truth is computed once per pattern.

IL-2 response: logit p = intercept + the named effects below; among responders
logit P(CR) = il2_cr_intercept + il2_cr_slope * (linear predictor), so the most
IL-2-sensitive patients respond most completely; a share of complete responders is cured
and a share of partial responders has a long durable response. TKI and IFN: an
intercept, non-clear-cell and MSKCC effects, a constant CR share, no cure. Prognosis
(MSKCC factors, the two IMDC blood counts, CAIX-low, non-clear cell, three or more
organs) scales the post-progression death hazard and, more weakly, the progression hazard.

Survival after progression depends on the treatment era (BRIEF "Treatment era and what
follows progression"). Each strategy is a sequence. In the *cytokine* era little
effective therapy followed progression (the base median,
``post_progression_median_months``). In the *targeted* era IL-2 first is followed by a
first TKI: survival after progression is ``il2_salvage_multiple`` times the base (fitted
to the TKI-era IL-2 series; bounded so that it never outdoes the same patient's whole
survival on a TKI first). TKI first (survival after progression
``second_line_targeted_multiple`` times the base: resistant disease, then a second
targeted agent) has no cytokine-era series: its outcomes are the same in both eras. IFN
first keeps the cytokine era's survival after progression: in the sunitinib trial that
anchors it (Motzer et al., J Clin Oncol 2009) the IFN arm's median OS, 21.8 months with
post-study therapy, is what the cytokine-era IFN medians give for its risk mix, below
sunitinib's 26.4. Prognosis scales survival after progression by one proportional factor
in every arm and era; response and progression do not depend on the era.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit

from data.synthetic.mixture_survival import Mixture
from data.synthetic.params import Parameters
from data.synthetic.targets import DEFAULT_ERA, ERAS

STRATEGIES = ("il2", "tki", "ifn")
COVARIATES = (
    "manchester_favourable",
    "upton_good",
    "upton_poor",
    "caix_high",
    "mskcc_factors",
    "three_plus_organs",
    "prior_nephrectomy",
    "prior_vegf",
    "ecog_1_plus",
    "non_clear_cell",
    "neutrophils_high",
    "platelets_high",
)
LN2 = np.log(2.0)


def covariate_frame(cohort: pd.DataFrame) -> pd.DataFrame:
    """The outcome model's covariates from features + derived columns (ints 0/1, factors
    0-5)."""
    return pd.DataFrame(
        {
            "manchester_favourable": cohort["manchester_histology"] == "favourable",
            "upton_good": cohort["upton_group"] == "good",
            "upton_poor": cohort["upton_group"] == "poor",
            "caix_high": cohort["caix_high"].astype(bool),
            "mskcc_factors": cohort["mskcc_risk_factors"].astype(int),
            "three_plus_organs": cohort["n_metastatic_organs"] >= 3,
            "prior_nephrectomy": cohort["prior_nephrectomy"].astype(bool),
            "prior_vegf": cohort["prior_tki"].astype(bool)
            | cohort["prior_bevacizumab"].astype(bool),
            "ecog_1_plus": cohort["ecog"] >= 1,
            "non_clear_cell": cohort["histology"] != "clear_cell",
            "neutrophils_high": cohort["neutrophils_above_uln"].astype(bool),
            "platelets_high": cohort["platelets_above_uln"].astype(bool),
        },
        index=cohort.index,
    ).astype(np.int64)


def pattern_index(covariates: pd.DataFrame) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Collapse covariate rows to unique patterns.

    Returns
    -------
    inverse : (n,) pattern number of each row.
    patterns : covariate name -> (P,) values of each unique pattern.
    """
    key = np.zeros(len(covariates), dtype=np.int64)
    for name in COVARIATES:  # mskcc_factors needs 3 bits, the rest 1
        key = (key << 3) | covariates[name].to_numpy(dtype=np.int64)
    unique, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    patterns = {name: covariates[name].to_numpy()[first].astype(float) for name in COVARIATES}
    return inverse.reshape(-1), patterns


def il2_linear_predictor(x: dict[str, np.ndarray], p: Parameters) -> np.ndarray:
    """Log-odds of IL-2 objective response."""
    return (
        p["il2_response_intercept"]
        + p["il2_response_manchester_favourable"] * x["manchester_favourable"]
        + p["il2_response_upton_good"] * x["upton_good"]
        + p["il2_response_upton_poor"] * x["upton_poor"]
        + p["il2_response_caix_high"] * x["caix_high"]
        + p["il2_response_per_mskcc_factor"] * x["mskcc_factors"]
        + p["il2_response_three_plus_organs"] * x["three_plus_organs"]
        + p["il2_response_prior_nephrectomy"] * x["prior_nephrectomy"]
        + p["il2_response_prior_vegf"] * x["prior_vegf"]
        + p["il2_response_ecog_1_plus"] * x["ecog_1_plus"]
    )


def prognosis(x: dict[str, np.ndarray], p: Parameters) -> np.ndarray:
    """Log-hazard prognostic index (0 = no MSKCC factor, normal blood counts, CAIX-high,
    clear cell, < 3 organs)."""
    return (
        p["prognosis_per_mskcc_factor"] * x["mskcc_factors"]
        + p["prognosis_neutrophils_above_uln"] * x["neutrophils_high"]
        + p["prognosis_platelets_above_uln"] * x["platelets_high"]
        + p["prognosis_caix_low"] * (1 - x["caix_high"])
        + p["prognosis_non_clear_cell"] * x["non_clear_cell"]
        + p["prognosis_three_plus_organs"] * x["three_plus_organs"]
    )


def strategy_mixtures(
    x: dict[str, np.ndarray], p: Parameters, era: str = DEFAULT_ERA, il2_cr_scale: float = 1.0
) -> dict[str, Mixture]:
    """Each strategy's outcome mixture for the patterns ``x`` in treatment era ``era``.

    ``il2_cr_scale`` multiplies every IL-2 complete-response probability (taken from the
    partial responses); 1 is the model, other values exist for mutation tests.
    """
    if era not in ERAS:
        raise ValueError(f"unknown era {era!r}: one of {', '.join(ERAS)}")
    lp = prognosis(x, p)
    base = LN2 / p["post_progression_median_months"] * np.exp(lp)  # death rate after it
    after_tki = base / p["second_line_targeted_multiple"]
    tki = _conventional_mixture(x, p, lp, "tki", after_tki)
    if era == "cytokine":
        il2 = _il2_mixture(x, p, lp, il2_cr_scale, base / p["il2_post_progression_multiple"])
    else:
        il2 = _il2_mixture(x, p, lp, il2_cr_scale, base / p["il2_salvage_multiple"])
    return {"il2": il2, "tki": tki, "ifn": _conventional_mixture(x, p, lp, "ifn", base)}


def _probabilities(p_response, p_cr_given_response, cure, durable, sd_share) -> np.ndarray:
    cr = p_response * p_cr_given_response
    pr = p_response - cr
    return np.stack(
        [
            cr * cure,
            cr * (1 - cure),
            pr * durable,
            pr * (1 - durable),
            (1 - p_response) * sd_share,
            (1 - p_response) * (1 - sd_share),
        ],
        axis=1,
    )


def _il2_mixture(x, p: Parameters, lp: np.ndarray, cr_scale: float, post_rate) -> Mixture:
    eta = il2_linear_predictor(x, p)
    p_cr = np.clip(expit(p["il2_cr_intercept"] + p["il2_cr_slope"] * eta) * cr_scale, 0, 1)
    probs = _probabilities(
        expit(eta),
        p_cr,
        p["il2_cure_given_cr"],
        p["il2_pr_durable_share"],
        p["il2_sd_share_of_nonresponders"],
    )
    medians = np.array(
        [
            np.inf,
            p["il2_cr_relapse_median_months"],
            p["il2_pr_durable_median_months"],
            p["il2_pr_short_median_months"],
            p["il2_sd_median_months"],
            p["pd_median_after_assessment_months"],
        ]
    )
    return _mixture(
        probs,
        medians,
        lp,
        p,
        p["il2_response_shift_months"],
        post_rate,
    )


def _conventional_mixture(x, p: Parameters, lp: np.ndarray, name: str, post_rate) -> Mixture:
    eta = (
        p[f"{name}_response_intercept"]
        + p[f"{name}_non_clear_cell_response"] * x["non_clear_cell"]
        + p["tki_ifn_response_per_mskcc_factor"] * x["mskcc_factors"]
    )
    p_cr = np.full_like(eta, p[f"{name}_cr_given_response"])
    probs = _probabilities(expit(eta), p_cr, 0.0, 0.0, p[f"{name}_sd_share_of_nonresponders"])
    pr = p[f"{name}_sd_median_months"] * p["pr_duration_multiple_of_sd"]
    medians = np.array(
        [
            np.inf,
            pr * p["cr_duration_multiple_of_pr"],
            pr,
            pr,
            p[f"{name}_sd_median_months"],
            p["pd_median_after_assessment_months"],
        ]
    )
    return _mixture(probs, medians, lp, p, p[f"{name}_response_shift_months"], post_rate)


def _mixture(probs, medians, lp, p: Parameters, response_shift: float, post_rate) -> Mixture:
    """``post_rate``: (P,) death rate after progression (prognosis already in it)."""
    shift = np.array([response_shift] * 4 + [p["sd_shift_months"], p["pd_first_assessment_months"]])
    base_rate = np.where(np.isinf(medians), 0.0, LN2 / medians)
    progression = base_rate[None, :] * np.exp(p["progression_prognosis_weight"] * lp)[:, None]
    post = np.broadcast_to(np.asarray(post_rate, dtype=float), lp.shape)
    background = -np.log(1 - p["background_mortality_per_year"]) / 12.0
    return Mixture(probs, shift, progression, post, background)


def cardiac_toxicity_probability(cohort: pd.DataFrame, p: Parameters) -> np.ndarray:
    """Severe (grade 3-5) cardiovascular toxicity on HD IL-2: rises with age, cardiac
    history (disease or an abnormal stress test), a prior TKI and a short wash-out
    (excess fading over ``washout_toxicity_scale_months``)."""
    prior_tki = cohort["prior_tki"].to_numpy(dtype=bool)
    cardiac = cohort["cardiac_disease"].to_numpy(dtype=bool) | cohort[
        "cardiac_stress_abnormal"
    ].to_numpy(dtype=bool)
    washout = np.nan_to_num(cohort["months_since_tki"].to_numpy(dtype=float), nan=np.inf)
    recent = np.where(prior_tki, np.exp(-washout / p["washout_toxicity_scale_months"]), 0.0)
    logit = (
        p["cardiac_toxicity_intercept"]
        + p["cardiac_toxicity_prior_tki"] * prior_tki
        + p["cardiac_toxicity_short_washout"] * recent
        + p["cardiac_toxicity_per_decade"] * (cohort["age_years"].to_numpy() - 60) / 10
        + p["cardiac_toxicity_cardiac_history"] * cardiac
    )
    return expit(logit)
