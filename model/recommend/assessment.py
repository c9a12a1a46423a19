"""One batch of patients assessed: the rules, both strategies' predictions, the policy's
decision and the reasons a clinician reads. The flat table ``il2select predict`` writes and
the answer ``POST /recommend`` returns are both views of an ``Assessment``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from model.contract.crossfield import CROSS_WARNINGS
from model.estimators.predictions import BatchPrediction
from model.recommend.decision import Predictor, policy_inputs
from model.recommend.policy import decide
from model.recommend.review import next_step, pathway_deviation, provisional
from model.recommend.sensitivity import unknown_inputs, varied_inputs, what_would_change
from model.rules.derive import Derived, derive

__all__ = ["Assessment", "Predictor", "assess"]


@dataclass(frozen=True)
class Assessment:
    """Everything known about a batch of patients: rules, predictions, the decision, what
    would change it, and how it stands against the pathway."""

    derived: Derived
    prediction: BatchPrediction
    recommendation: np.ndarray
    reasons: list[list[str]]
    extrapolated: np.ndarray
    unknown_inputs: list[list[str]]
    changes: list[list[dict]]
    provisional: np.ndarray
    workup: list[list[str]]
    deviates_from_pathway: list[bool | None]
    deviation_reason: list[str | None]
    policy_recommendation: np.ndarray  # the policy's, before what to do first (next_step)


def assess(recommender: Predictor, values: Mapping, n: int) -> Assessment:
    """Rules, predictions and the policy's decision with its reasons, row for row."""
    derived = derive(values, n)
    prediction = recommender.predict_values(values, n, derived)
    extrapolated = recommender.extrapolated(prediction)
    inputs = policy_inputs(derived, values, prediction.point, prediction.lo["diff_p_durable_cr"])
    policy_choice, decided_by = decide(inputs, recommender.policy)
    unknown = unknown_inputs(values, n)
    varied = varied_inputs(unknown, derived)
    changes = what_would_change(recommender, values, varied)
    discordant = next(r for r in CROSS_WARNINGS if r.name == "performance_discordant")
    flags, workup = provisional(derived, policy_choice, changes, discordant.breaks(values))
    choice, lead, flags, workup = next_step(
        recommender, values, derived, policy_choice, flags, workup
    )
    deciding = [first or said for first, said in zip(lead, decided_by, strict=True)]
    deviates, deviation_reason = pathway_deviation(derived, choice, deciding)
    differences = _differences(prediction)
    reasons = [
        _reasons(differences, i, decided_by[i], unknown[i], extrapolated[i]) for i in range(n)
    ]
    for i, first in enumerate(lead):
        if first is not None:  # what to do first leads; the policy's reason follows
            reasons[i].insert(0, first)
    for i in _shorter_median_os(prediction, choice):
        il2, tki = (prediction.medians[f"{a}_median_os_months"][i] for a in ("il2", "tki"))
        reasons[i].insert(
            1,
            f"predicted median overall survival is shorter on IL-2 first ({il2:.1f} vs "
            f"{tki:.1f} months): IL-2 is recommended for its chance of a durable complete "
            "remission, which a median does not show",
        )
    return Assessment(
        derived,
        prediction,
        choice,
        reasons,
        extrapolated,
        unknown,
        changes,
        flags,
        workup,
        deviates,
        deviation_reason,
        policy_choice,
    )


def _shorter_median_os(prediction: BatchPrediction, choice: np.ndarray) -> list[int]:
    """Rows recommended IL-2 first whose predicted median OS is shorter on IL-2."""
    il2 = prediction.medians["il2_median_os_months"]
    tki = prediction.medians["tki_median_os_months"]
    il2_first = np.isin(np.asarray(choice), ("il2_first", "il2_after_wait"))
    return np.flatnonzero(il2_first & (il2 < tki)).tolist()


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
