"""The flat table ``il2select predict`` writes (and the pyfunc returns): one row per
patient, every quantity of both strategies with its interval, the recommendation and its
reasons, under the data contract's prediction names (``il2_p_cure``, ``tki_os_at_60_months``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from model.contract.columns import SURVIVAL_HORIZONS_MONTHS
from model.recommend.answer import MONTH_DECIMALS, PROBABILITY_DECIMALS, SCOPE
from model.recommend.assessment import Assessment
from model.rules.derive import derived_table

INTERVAL_QUANTITIES = ("p_response", "p_complete_response")
SURVIVAL_KEYS = tuple(
    f"{endpoint}_at_{month}_months"
    for endpoint in ("pfs", "os")
    for month in SURVIVAL_HORIZONS_MONTHS
)
REASON_SEPARATOR = " | "


def prediction_frame(assessment: Assessment, patient_ids: np.ndarray | None) -> pd.DataFrame:
    """The table ``il2select predict`` writes, one row per input row in order."""
    pred = assessment.prediction
    columns: dict[str, object] = {}
    if patient_ids is not None:
        columns["patient_id"] = patient_ids
    for name in ("il2", "tki"):
        quantities = [*INTERVAL_QUANTITIES, "p_durable_cr"]
        if name == "il2":
            quantities += ["p_severe_cardiac_toxicity", "p_cure"]
        for q in [*quantities, *SURVIVAL_KEYS]:
            key = f"{name}_{q}"
            columns[key] = _p(pred.point[key])
            if key in pred.lo:
                columns[f"{key}_lo"], columns[f"{key}_hi"] = _p(pred.lo[key]), _p(pred.hi[key])
        for endpoint in ("os", "pfs"):
            key = f"{name}_median_{endpoint}_months"
            columns[key] = _months(pred.medians[key])
            columns[f"{key}_lo"], columns[f"{key}_hi"] = (
                _months(pred.lo[key]),
                _months(pred.hi[key]),
            )
    for q in ("p_response", "p_complete_response", "p_cure", "p_durable_cr"):
        key = f"diff_{q}"
        columns[key], columns[f"{key}_lo"], columns[f"{key}_hi"] = (
            _p(pred.point[key]),
            _p(pred.lo[key]),
            _p(pred.hi[key]),
        )
    columns["recommendation"] = assessment.recommendation
    columns["reasons"] = [REASON_SEPARATOR.join(r) for r in assessment.reasons]
    columns["provisional"] = assessment.provisional
    columns["workup"] = [REASON_SEPARATOR.join(w) for w in assessment.workup]
    columns["deviates_from_pathway"] = pd.array(assessment.deviates_from_pathway, dtype="boolean")
    columns["deviation_reason"] = assessment.deviation_reason
    columns["extrapolated"] = assessment.extrapolated
    columns["unknown_inputs"] = [";".join(u) for u in assessment.unknown_inputs]
    columns["scope"] = SCOPE
    frame = pd.DataFrame(columns)
    return pd.concat([frame, derived_table(assessment.derived, frame.index)], axis=1)


def _p(values: np.ndarray) -> np.ndarray:
    """A probability as answered by the service (``model.recommend.answer``)."""
    return np.round(values.astype(np.float64), PROBABILITY_DECIMALS)


def _months(values: np.ndarray) -> np.ndarray:
    return np.round(values.astype(np.float64), MONTH_DECIMALS)
