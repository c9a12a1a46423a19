"""The predictors the response, toxicity and survival models see, built from a patient's
inputs and the clinical rules' derived values (``model.rules.derive``), as a numpy matrix.

Every column has a clinical reason to be there (BRIEF "Predictors of response to HD
IL-2"); inputs must be complete here: unknown inputs are imputed before (``imputation``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from model.rules.derive import Derived, derive
from model.rules.logic import column

FEATURE_NAMES = (
    "intercept",
    "manchester_favourable",  # Manchester modified histology, score 2 and papillary <= 10 %
    "upton_good",  # Upton groups (good / poor vs intermediate)
    "upton_poor",
    "non_clear_cell",
    "caix_high",  # CAIX > 85 % (Bui)
    "mskcc_factors",  # Motzer risk-factor count, 0-5
    "mskcc_poor",
    "organs",  # organs with metastases
    "three_plus_organs",
    "prior_nephrectomy",
    "prior_tki",
    "prior_bevacizumab",
    "ecog_1",
    "ecog_2_plus",
    "age_decades",  # (age - 60) / 10
    "washout_recent",  # exp(-months_since_tki / 2) after a TKI, 0 otherwise
    "male",
    "neutrophils_above_uln",  # IMDC (Heng) blood counts: prognosis on targeted therapy
    "platelets_above_uln",
    "cardiac_history",  # cardiac disease or an abnormal stress test: cardiac toxicity
)
WASHOUT_SCALE_MONTHS = 2.0  # events cluster at wash-outs of 1.4 vs 2.2 months (BRIEF)


def design_matrix(
    values: Mapping, n_rows: int | None = None, derived: Derived | None = None
) -> np.ndarray:
    """Predictor matrix (n, len(FEATURE_NAMES)) from complete inputs (and their derived
    values when the caller has them already)."""
    derived = derive(values, n_rows) if derived is None else derived
    n = len(derived.mskcc_risk_factors)
    ecog = column(values, "ecog", n)
    prior_tki = column(values, "prior_tki", n)
    washout = np.nan_to_num(column(values, "months_since_tki", n), nan=np.inf)
    organs = derived.n_metastatic_organs.astype(float)
    factors = derived.mskcc_risk_factors
    columns = (
        np.ones(n),
        derived.manchester_favourable,
        (derived.upton_group == 0).astype(float),
        (derived.upton_group == 2).astype(float),
        (np.asarray(values["histology"], dtype=object) != "clear_cell").astype(float),
        derived.caix_high,
        factors,
        (factors >= 3).astype(float),
        organs,
        (organs >= 3).astype(float),
        column(values, "prior_nephrectomy", n),
        prior_tki,
        column(values, "prior_bevacizumab", n),
        (ecog == 1).astype(float),
        (ecog >= 2).astype(float),
        (column(values, "age_years", n) - 60.0) / 10.0,
        np.where(prior_tki == 1.0, np.exp(-washout / WASHOUT_SCALE_MONTHS), 0.0),
        (np.asarray(values["sex"], dtype=object) == "male").astype(float),
        column(values, "neutrophils_above_uln", n),
        column(values, "platelets_above_uln", n),
        np.maximum(
            column(values, "cardiac_disease", n), column(values, "cardiac_stress_abnormal", n)
        ),
    )
    matrix = np.column_stack(columns)
    if np.isnan(matrix).any():
        raise ValueError("design_matrix needs complete inputs: impute unknown ones first")
    return matrix
