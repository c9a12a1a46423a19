"""What the policy decides on, taken from the rules and a prediction, and the decision
alone for a batch (what ``what_would_change`` asks for every variation of a row)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import numpy as np

from model.estimators.predictions import BatchPrediction
from model.recommend.policy import PolicyConfig, PolicyInputs, choose, reads_predictions
from model.rules.derive import Derived, derive


class Predictor(Protocol):
    """What an assessment asks of a recommender (``Recommender`` is one)."""

    @property
    def policy(self) -> PolicyConfig: ...

    @property
    def input_ranges(self) -> dict[str, tuple[float, float]]: ...

    def predict_values(
        self, values: Mapping, n: int, derived: Derived | None = None, survival: bool = True
    ) -> BatchPrediction: ...

    def extrapolated(self, prediction: BatchPrediction) -> np.ndarray: ...


POLICY_PREDICTIONS = ("il2_p_cure", "il2_p_severe_cardiac_toxicity", "diff_p_durable_cr")


def policy_inputs(
    derived: Derived, values: Mapping, point: Mapping, gain_lo: np.ndarray
) -> PolicyInputs:
    """The rules' flags and the predictions the policy reads: ``point`` with
    ``il2_p_cure``, ``il2_p_severe_cardiac_toxicity`` and ``diff_p_durable_cr`` (a
    prediction's point estimates or a prediction table), and that gain's 95 % lower
    bound ``gain_lo``."""
    n = len(derived.il2_eligible)
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
        np.asarray(gain_lo, dtype=float),
    )


def decide_only(recommender: Predictor, values: Mapping, n: int) -> np.ndarray:
    """The recommendation alone (``assess`` without reasons or answers): the same rules
    and the same numbers, intervals included, since rule 4 reads the gain's lower bound.
    Only the rows rule 4 decides are predicted, and without survival (it reads none)."""
    derived = derive(values, n)
    washout = derived.cautions["tki_washout_under_8_weeks"]
    rows = np.flatnonzero(reads_predictions(derived.mskcc_poor, derived.il2_eligible, washout))
    point = {name: np.full(n, np.nan) for name in POLICY_PREDICTIONS}
    gain_lo = np.full(n, np.nan)
    if rows.size:
        subset = {key: np.asarray(column)[rows] for key, column in values.items()}
        got = recommender.predict_values(subset, rows.size, derived.take(rows), survival=False)
        for name in POLICY_PREDICTIONS:
            point[name][rows] = got.point[name]
        gain_lo[rows] = got.lo["diff_p_durable_cr"]
    return choose(policy_inputs(derived, values, point, gain_lo), recommender.policy)
