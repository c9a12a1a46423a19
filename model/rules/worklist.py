"""What would settle a patient: the clinic's actions for unknown inputs and deferrals."""

from __future__ import annotations

import numpy as np
import pandas as pd

from model.rules.eligibility import TKI_WASHOUT_MONTHS

DAYS_PER_MONTH = 30.4375

# unknown input -> the action that would supply it
ACTION_FOR_INPUT = {
    "karnofsky": "Karnofsky assessment",
    "ldh_uln_ratio": "blood tests: LDH",
    "hemoglobin_below_lln": "blood tests: haemoglobin",
    "corrected_calcium_mg_dl": "blood tests: corrected calcium",
    "alveolar_pct": "histology review (pattern shares)",
    "solid_pct": "histology review (pattern shares)",
    "papillary_pct": "histology review (pattern shares)",
    "granular_pct": "histology review (pattern shares)",
    "caix_pct": "CAIX stain",
    "creatinine_mg_dl": "blood tests: creatinine",
    "fev1_litres": "lung function tests",
    "fev1_pct_predicted": "lung function tests",
    "cardiac_stress_abnormal": "stress echocardiogram",
    "cardiac_disease": "cardiac history review",
    "neutrophils_above_uln": "blood tests: neutrophils",
    "platelets_above_uln": "blood tests: platelets",
}


def washout_weeks_remaining(months_since_tki: float) -> float:
    """Weeks until 8 weeks have passed since the last TKI dose."""
    return max(0.0, (TKI_WASHOUT_MONTHS - months_since_tki) * DAYS_PER_MONTH / 7.0)


def patient_actions(needed_inputs: str, cautions: str, months_since_tki: float) -> list[str]:
    """The actions that would settle one patient, each once, in a stable order."""
    actions: list[str] = []
    for name in filter(None, (needed_inputs or "").split(";")):
        action = ACTION_FOR_INPUT[name]
        kind, _, detail = action.partition(": ")
        same_kind = [i for i, a in enumerate(actions) if a.partition(": ")[0] == kind]
        if detail and same_kind:  # one blood draw for every pending analyte
            actions[same_kind[0]] += f", {detail}"
        elif action not in actions:
            actions.append(action)
    caution_names = (cautions or "").split(";")
    if "tki_washout_under_8_weeks" in caution_names and not np.isnan(months_since_tki):
        weeks = washout_weeks_remaining(months_since_tki)
        actions.append(f"TKI wash-out: no IL-2 for another {weeks:.1f} weeks")
    return actions


def build_worklist(triaged: pd.DataFrame) -> pd.DataFrame:
    """One row per patient with at least one action: patient_id (or row), branch, actions."""
    months = pd.to_numeric(triaged.get("months_since_tki"), errors="coerce")
    if months is None:
        months = pd.Series(np.nan, index=triaged.index)
    actions = [
        patient_actions(needed, cautions, m)
        for needed, cautions, m in zip(
            triaged["needed_inputs"], triaged["il2_cautions"], months, strict=True
        )
    ]
    ids = triaged["patient_id"] if "patient_id" in triaged else pd.Series("", index=triaged.index)
    out = pd.DataFrame(
        {
            "patient_id": ids.to_numpy(),
            # an unknown branch is said so, not printed as a missing value
            "manchester_pathway": triaged["manchester_pathway"]
            .astype(object)
            .fillna("unknown")
            .to_numpy(),
            "actions": ["; ".join(a) for a in actions],
        }
    )
    return out[out["actions"] != ""]
