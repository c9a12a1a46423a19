"""The observed view: one treatment per patient, as clinics choose and registries record.

The Manchester pathway decides (``il2_first`` -> IL-2; ``tki_first`` -> TKI; the
poor-risk branch ``temsirolimus_or_trial`` is recorded as ``tki``, BRIEF), except that in
every pathway stratum a share ``off_pathway_share`` of patients, chosen at random, get
the other treatment. Only that treatment's outcomes are kept, under the brief's observed
column names; no potential outcome and no truth column survives.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from data.synthetic.params import Parameters
from model.contract.columns import FEATURE_COLUMNS

OBSERVED_OUTCOMES = ("best_response", "pfs_months", "pfs_event", "os_months", "os_event")
TREATMENTS = ("il2", "tki")


def choose_treatment(pathway: pd.Series, u: np.ndarray, off_pathway_share: float) -> np.ndarray:
    """Pathway treatment, switched to the other one where ``u < off_pathway_share``."""
    on_pathway_il2 = pathway.to_numpy() == "il2_first"
    il2 = on_pathway_il2 ^ (u < off_pathway_share)
    return np.where(il2, "il2", "tki").astype(object)


def observed_view(cohort: pd.DataFrame, u_choice: np.ndarray, p: Parameters) -> pd.DataFrame:
    """Features, ``treatment`` and that treatment's outcomes.

    Parameters
    ----------
    cohort : DataFrame
        a full synthetic cohort (features, derived, potential outcomes, truth).
    u_choice : (2, n) array
        uniforms reserved for the treatment choice (row 0 is used).
    p : Parameters
        ``off_pathway_share`` is read from it.
    """
    treatment = choose_treatment(cohort["manchester_pathway"], u_choice[0], p["off_pathway_share"])
    is_il2 = treatment == "il2"
    view = cohort[list(FEATURE_COLUMNS)].copy()
    view["treatment"] = treatment
    for outcome in OBSERVED_OUTCOMES:
        il2, tki = cohort[f"il2_{outcome}"].to_numpy(), cohort[f"tki_{outcome}"].to_numpy()
        view[outcome] = np.where(is_il2, il2, tki)
    toxicity = cohort["il2_severe_cardiac_toxicity"].to_numpy(dtype=bool)
    view["severe_cardiac_toxicity"] = pd.array(np.where(is_il2, toxicity, False), dtype="boolean")
    view.loc[~is_il2, "severe_cardiac_toxicity"] = pd.NA
    return view
