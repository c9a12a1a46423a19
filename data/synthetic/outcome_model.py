"""The outcome model: from a patient's covariate pattern to each strategy's mixture.

Outcomes depend on the features only through a few discrete covariates, taken from the
derived columns of ``model.rules.derive`` (never a second copy of a clinical rule), so a cohort
collapses to a few thousand covariate patterns: the truth is computed once per pattern.

IL-2 response: logit p = intercept + the named effects below; among responders
logit P(CR) = il2_cr_intercept + il2_cr_slope * (linear predictor), so the most
IL-2-sensitive patients respond most completely; a share of complete responders is cured
and a share of partial responders has a long durable response. TKI and IFN: an
intercept, non-clear-cell and MSKCC effects, a constant CR share, no cure. Prognosis
(MSKCC factors, CAIX-low, non-clear cell, three or more organs) scales the
post-progression death hazard and, more weakly, the progression hazard.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit

from data.synthetic.mixture_survival import Mixture
from data.synthetic.params import Parameters

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
    """Log-hazard prognostic index (0 = no MSKCC factor, CAIX-high, clear cell, < 3 organs)."""
    return (
        p["prognosis_per_mskcc_factor"] * x["mskcc_factors"]
        + p["prognosis_caix_low"] * (1 - x["caix_high"])
        + p["prognosis_non_clear_cell"] * x["non_clear_cell"]
        + p["prognosis_three_plus_organs"] * x["three_plus_organs"]
    )


def strategy_mixtures(
    x: dict[str, np.ndarray], p: Parameters, il2_cr_scale: float = 1.0
) -> dict[str, Mixture]:
    """Each strategy's outcome mixture for the patterns ``x``.

    ``il2_cr_scale`` multiplies every IL-2 complete-response probability (taken from the
    partial responses); 1 is the model, other values exist for mutation tests.
    """
    lp = prognosis(x, p)
    return {
        "il2": _il2_mixture(x, p, lp, il2_cr_scale),
        "tki": _conventional_mixture(x, p, lp, "tki"),
        "ifn": _conventional_mixture(x, p, lp, "ifn"),
    }


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


def _il2_mixture(x, p: Parameters, lp: np.ndarray, cr_scale: float) -> Mixture:
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
        p["post_progression_median_months"] * p["il2_post_progression_multiple"],
    )


def _conventional_mixture(x, p: Parameters, lp: np.ndarray, name: str) -> Mixture:
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
    post = p["post_progression_median_months"]
    if name == "tki":
        post *= p["tki_post_progression_multiple"]
    return _mixture(probs, medians, lp, p, p[f"{name}_response_shift_months"], post)


def _mixture(
    probs, medians, lp, p: Parameters, response_shift: float, post_median: float
) -> Mixture:
    shift = np.array([response_shift] * 4 + [p["sd_shift_months"], p["pd_first_assessment_months"]])
    base_rate = np.where(np.isinf(medians), 0.0, LN2 / medians)
    progression = base_rate[None, :] * np.exp(p["progression_prognosis_weight"] * lp)[:, None]
    post = LN2 / post_median * np.exp(lp)
    background = -np.log(1 - p["background_mortality_per_year"]) / 12.0
    return Mixture(probs, shift, progression, post, background)


def cardiac_toxicity_probability(cohort: pd.DataFrame, p: Parameters) -> np.ndarray:
    """Severe (grade 3-5) cardiovascular toxicity on HD IL-2: rises with age, a prior
    TKI and a short wash-out (excess fading over ``washout_toxicity_scale_months``)."""
    prior_tki = cohort["prior_tki"].to_numpy(dtype=bool)
    washout = np.nan_to_num(cohort["months_since_tki"].to_numpy(dtype=float), nan=np.inf)
    recent = np.where(prior_tki, np.exp(-washout / p["washout_toxicity_scale_months"]), 0.0)
    logit = (
        p["cardiac_toxicity_intercept"]
        + p["cardiac_toxicity_prior_tki"] * prior_tki
        + p["cardiac_toxicity_short_washout"] * recent
        + p["cardiac_toxicity_per_decade"] * (cohort["age_years"].to_numpy() - 60) / 10
    )
    return expit(logit)
