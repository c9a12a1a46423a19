"""From predictions to what a user reads: the flat table ``il2select predict`` writes and
the per-patient answer ``POST /recommend`` returns. Both come from ``assess``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from model.columns import UNKNOWABLE_COLUMNS
from model.eligibility import CAUTIONS, CONTRAINDICATIONS
from model.pathway import PATHWAY_LINES, PATHWAYS
from model.policy import PolicyInputs, choose, decide
from model.predictions import BatchPrediction, has_unknown, predict_points
from model.rules import Derived, derive
from model.scores import MANCHESTER_HISTOLOGY, MSKCC_RISK, UPTON_GROUPS

INTERVAL_QUANTITIES = ("p_response", "p_complete_response")
SURVIVAL_KEYS = tuple(f"{e}_at_{m}_months" for e in ("pfs", "os") for m in (12, 24, 36, 60))
REASON_SEPARATOR = " | "


@dataclass(frozen=True)
class Assessment:
    """Everything known about a batch of patients: rules, predictions, the decision."""

    derived: Derived
    prediction: BatchPrediction
    recommendation: np.ndarray
    reasons: list[list[str]]
    extrapolated: np.ndarray
    unknown_inputs: list[list[str]]


def assess(recommender, values: Mapping, n: int) -> Assessment:
    """Rules, predictions and the policy's decision with its reasons, row for row."""
    derived = derive(values, n)
    prediction = recommender.predict_values(values, n, derived)
    extrapolated = recommender.extrapolated(prediction)
    inputs = policy_inputs(derived, values, prediction.point)
    choice, decided_by = decide(inputs, recommender.policy)
    unknown: list[list[str]] = [[] for _ in range(n)]
    for name in UNKNOWABLE_COLUMNS:
        if name in values:
            for i in np.flatnonzero(np.isnan(np.asarray(values[name], dtype=float))).tolist():
                unknown[i].append(name)
    differences = _differences(prediction)
    reasons = [
        _reasons(differences, i, decided_by[i], unknown[i], extrapolated[i]) for i in range(n)
    ]
    return Assessment(derived, prediction, choice, reasons, extrapolated, unknown)


def decide_quickly(recommender, values: Mapping, n: int) -> np.ndarray:
    """The recommendation alone, from point estimates (``assess`` without its intervals,
    medians and reasons): the same rules, the same numbers, a fraction of the work."""
    derived = derive(values, n)
    point = predict_points(
        values, n, recommender.strategies, recommender.draws, recommender.imputer, derived
    )
    return choose(policy_inputs(derived, values, point), recommender.policy)


def policy_inputs(derived: Derived, values: Mapping, point: Mapping) -> PolicyInputs:
    """What the policy decides on: the rules' flags and the point predictions (a mapping
    with ``il2_p_cure``, ``il2_p_severe_cardiac_toxicity`` and ``diff_p_durable_cr``)."""
    n = len(point["il2_p_cure"])
    contraindicated = [
        [k for k, v in derived.contraindications.items() if v[i] == 1.0] for i in range(n)
    ]
    return PolicyInputs(
        derived.mskcc_poor,
        derived.il2_eligible,
        contraindicated,
        derived.cautions["tki_washout_under_8_weeks"],
        np.asarray(values["months_since_tki"], dtype=float),
        np.asarray(point["il2_p_cure"]),
        np.asarray(point["il2_p_severe_cardiac_toxicity"]),
        np.asarray(point["diff_p_durable_cr"]),
    )


def _differences(pred: BatchPrediction) -> dict[str, list[float]]:
    """The IL-2 minus TKI estimates the reasons quote, as Python floats (formatting numpy
    scalars row by row costs several times more)."""
    return {
        f"{key}_{q}": getattr(pred, key)[f"diff_{q}"].tolist()
        for key in ("point", "lo", "hi")
        for q in ("p_complete_response", "p_cure", "p_durable_cr")
    }


def _reasons(
    differences: dict[str, list[float]],
    i: int,
    decided_by: str,
    unknown: list[str],
    extrapolated: bool,
) -> list[str]:
    def diff(q):
        return (
            f"{differences[f'point_{q}'][i]:+.3f} (95 % interval "
            f"{differences[f'lo_{q}'][i]:+.3f} to {differences[f'hi_{q}'][i]:+.3f})"
        )

    reasons = [
        decided_by,
        f"IL-2 minus TKI: P(complete response) {diff('p_complete_response')}; "
        f"P(cure) {diff('p_cure')}; P(durable complete remission) "
        f"{diff('p_durable_cr')}",
    ]
    if unknown:
        reasons.append(
            "averaged over the unknown inputs "
            + ", ".join(unknown)
            + " (their spread is in the intervals)"
        )
    if extrapolated:
        reasons.append(
            "extrapolated: patients like this almost never received one of the "
            "strategies in the training data"
        )
    return reasons


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
            columns[key] = pred.point[key]
            if key in pred.lo:
                columns[f"{key}_lo"], columns[f"{key}_hi"] = pred.lo[key], pred.hi[key]
        for endpoint in ("os", "pfs"):
            key = f"{name}_median_{endpoint}_months"
            columns[key] = pred.medians[key]
    for q in ("p_response", "p_complete_response", "p_cure", "p_durable_cr"):
        key = f"diff_{q}"
        columns[key], columns[f"{key}_lo"], columns[f"{key}_hi"] = (
            pred.point[key],
            pred.lo[key],
            pred.hi[key],
        )
    columns["recommendation"] = assessment.recommendation
    columns["reasons"] = [REASON_SEPARATOR.join(r) for r in assessment.reasons]
    columns["extrapolated"] = assessment.extrapolated
    columns["unknown_inputs"] = [";".join(u) for u in assessment.unknown_inputs]
    return pd.DataFrame(columns)


def derived_records(derived: Derived) -> list[dict[str, object]]:
    """The rules' derived values of every row as JSON-ready values (None when unknown)."""

    def labels(codes, names):
        return [None if c < 0 else names[c] for c in np.asarray(codes).astype(int).tolist()]

    def numbers(x):
        return [None if v != v else int(v) for v in np.asarray(x, dtype=float).tolist()]

    def flags(x):
        return [None if v != v else v == 1.0 for v in np.asarray(x, dtype=float).tolist()]

    fav = np.asarray(derived.manchester_favourable, dtype=float)
    columns = {
        "mskcc_risk_factors": numbers(derived.mskcc_risk_factors),
        "mskcc_risk": labels(derived.mskcc_risk, MSKCC_RISK),
        "upton_group": labels(derived.upton_group, UPTON_GROUPS),
        "manchester_good_features": numbers(derived.manchester_good_features),
        "manchester_histology": [
            None if v != v else MANCHESTER_HISTOLOGY[int(v)] for v in fav.tolist()
        ],
        "caix_high": flags(derived.caix_high),
        "n_metastatic_organs": numbers(derived.n_metastatic_organs),
        "il2_eligible": flags(derived.il2_eligible),
        "manchester_pathway": labels(derived.manchester_pathway, PATHWAYS),
    }
    return [dict(zip(columns, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def eligibility_records(derived: Derived) -> list[dict[str, object]]:
    """Eligibility, every contraindication and caution by name, per row."""
    n = len(derived.il2_eligible)
    eligible = [
        None if v != v else v == 1.0 for v in np.asarray(derived.il2_eligible, dtype=float).tolist()
    ]
    present, unknown, cautions = ([[] for _ in range(n)] for _ in range(3))
    for name in CONTRAINDICATIONS:
        flags = np.asarray(derived.contraindications[name], dtype=float)
        for i in np.flatnonzero(flags == 1.0).tolist():
            present[i].append(name)
        for i in np.flatnonzero(np.isnan(flags)).tolist():
            unknown[i].append(name)
    for name in CAUTIONS:
        for i in np.flatnonzero(np.asarray(derived.cautions[name]) == 1.0).tolist():
            cautions[i].append(name)
    return [
        {
            "il2_eligible": eligible[i],
            "contraindications": present[i],
            "contraindications_unknown": unknown[i],
            "cautions": cautions[i],
        }
        for i in range(n)
    ]


# each pathway code's branch and lines of therapy (-1: the branch is not known)
_PATHWAY_BY_CODE = {
    -1: {"branch": None, "first_line": None, "second_line": None, "third_line": None}
} | {
    code: {
        "branch": branch,
        "first_line": PATHWAY_LINES[branch][0],
        "second_line": PATHWAY_LINES[branch][1] or None,
        "third_line": PATHWAY_LINES[branch][2] or None,
    }
    for code, branch in enumerate(PATHWAYS)
}


def pathway_records(derived: Derived) -> list[dict[str, object]]:
    """The Manchester branch and its lines of therapy, per row."""
    return [
        dict(_PATHWAY_BY_CODE[c if c >= 0 else -1])
        for c in np.asarray(derived.manchester_pathway).astype(int).tolist()
    ]


def needed_inputs(derived: Derived) -> list[list[str]]:
    """The unknown inputs each row's answer depends on."""
    n = len(derived.il2_eligible)
    out: list[list[str]] = [[] for _ in range(n)]
    for name in UNKNOWABLE_COLUMNS:
        for i in np.flatnonzero(derived.needed[name]).tolist():
            out[i].append(name)
    return out


__all__ = ["Assessment", "assess", "prediction_frame", "has_unknown"]
