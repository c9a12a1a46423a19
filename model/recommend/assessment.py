"""One batch of patients assessed: the rules, both strategies' predictions, the policy's
decision and the reasons a clinician reads. The flat table ``il2select predict`` writes and
the answer ``POST /recommend`` returns are both views of an ``Assessment``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from model.estimators.imputation import IMPUTED_INPUTS
from model.estimators.predictions import BatchPrediction
from model.recommend.policy import PolicyConfig, PolicyInputs, choose, decide
from model.rules.derive import Derived, derive


class Predictor(Protocol):
    """What an assessment asks of a recommender (``Recommender`` is one)."""

    @property
    def policy(self) -> PolicyConfig: ...

    def predict_values(
        self, values: Mapping, n: int, derived: Derived | None = None
    ) -> BatchPrediction: ...

    def predict_points(
        self, values: Mapping, n: int, derived: Derived | None = None
    ) -> dict[str, np.ndarray]: ...

    def extrapolated(self, prediction: BatchPrediction) -> np.ndarray: ...


@dataclass(frozen=True)
class Assessment:
    """Everything known about a batch of patients: rules, predictions, the decision."""

    derived: Derived
    prediction: BatchPrediction
    recommendation: np.ndarray
    reasons: list[list[str]]
    extrapolated: np.ndarray
    unknown_inputs: list[list[str]]


def assess(recommender: Predictor, values: Mapping, n: int) -> Assessment:
    """Rules, predictions and the policy's decision with its reasons, row for row."""
    derived = derive(values, n)
    prediction = recommender.predict_values(values, n, derived)
    extrapolated = recommender.extrapolated(prediction)
    inputs = policy_inputs(derived, values, prediction.point)
    choice, decided_by = decide(inputs, recommender.policy)
    unknown: list[list[str]] = [[] for _ in range(n)]
    for name in IMPUTED_INPUTS:
        if name in values:
            for i in np.flatnonzero(np.isnan(np.asarray(values[name], dtype=float))).tolist():
                unknown[i].append(name)
    differences = _differences(prediction)
    reasons = [
        _reasons(differences, i, decided_by[i], unknown[i], extrapolated[i]) for i in range(n)
    ]
    return Assessment(derived, prediction, choice, reasons, extrapolated, unknown)


def decide_quickly(recommender: Predictor, values: Mapping, n: int) -> np.ndarray:
    """The recommendation alone, from point estimates (``assess`` without its intervals,
    medians and reasons): the same rules, the same numbers, a fraction of the work."""
    derived = derive(values, n)
    point = recommender.predict_points(values, n, derived)
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
