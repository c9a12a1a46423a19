"""The answer for one patient, its shape defined once: the pydantic models below are what
``Recommender.recommend_one`` returns, what ``POST /recommend`` sends (the service adds
``provenance``) and what the OpenAPI document publishes. ``answer_records`` builds the same
shape for a whole batch as plain dicts (validating thousands of nested models would cost
more than the predictions), field by field under the models' names; every model forbids
unknown fields, so a test that validates the records catches a misspelt or missing one.

Every probability is a model output on synthetic data; ``scope`` says so in every answer.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from model.contract.columns import SURVIVAL_HORIZONS_MONTHS
from model.contract.crossfield import CROSS_WARNINGS
from model.recommend.rows import rows_of
from model.rules.records import (
    derived_records,
    eligibility_records,
    needed_inputs,
    pathway_records,
)

if TYPE_CHECKING:  # types only: the shape loads without pandas or the estimators
    from model.estimators.predictions import BatchPrediction
    from model.recommend.assessment import Assessment

SCOPE = (
    "High-dose IL-2 versus VEGF-TKI first line, on evidence to about 2015; checkpoint-inhibitor "
    "regimens are not considered. Every probability is a model output from models trained on "
    "synthetic cohorts generated from published rates, not a measurement on real patients."
)
PROBABILITY_DECIMALS, MONTH_DECIMALS = 4, 2  # as answered: see ``_shown``
Recommendation = Literal[
    "il2_first",
    "tki_first",
    "temsirolimus_or_trial",
    "il2_after_wait",  # only temporary conditions stand between the patient and IL-2
    "complete_workup_first",  # provisional: the work-up could change the answer
]


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Estimate(_Shape):
    """A model output with its 95 % interval (probabilities, cure fraction, 60-month
    survival; survival at 12/24/36 months is a point estimate with null bounds)."""

    value: float
    lo: float | None = None
    hi: float | None = None


class Median(_Shape):
    """A median survival in months; ``value`` is null when the curve never reaches 0.5."""

    value: float | None
    reached: bool
    lo: float | None = None
    hi: float | None = None


class StrategyOutlook(_Shape):
    """Predictions under one first-line strategy."""

    p_response: Estimate
    p_complete_response: Estimate
    p_cure: Estimate | None = None
    p_severe_cardiac_toxicity: Estimate | None = None
    os_at_months: dict[str, Estimate] = Field(
        description="overall survival at each horizon (months: 12, 24, 36, 60)"
    )
    pfs_at_months: dict[str, Estimate] = Field(
        description="progression-free survival at each horizon (months: 12, 24, 36, 60)"
    )
    median_os_months: Median
    median_pfs_months: Median


class Eligibility(_Shape):
    il2_eligible: bool | None
    contraindications: list[str]
    contraindications_unknown: list[str]
    cautions: list[str]


class Pathway(_Shape):
    branch: Recommendation | None
    first_line: str | None
    second_line: str | None
    third_line: str | None


class Change(_Shape):
    """What the answer would be with one unknown input set to a low or a high value."""

    input: str
    low_value: float | bool
    low_recommendation: Recommendation
    high_value: float | bool
    high_recommendation: Recommendation


class Provenance(_Shape):
    model_name: str
    model_version: str | None
    model_alias: str | None
    run_id: str | None
    training_data_hash: str | None
    rules_version: str
    model_card: str = Field(
        "/model/card", description="where the serving version's model card is read"
    )
    policy: dict[str, float] = Field(
        default_factory=dict,
        description="the registered version's policy thresholds (min_durable_gain, "
        "max_p_toxicity): changed only by training a new version through the gate",
    )


class PatientAnswer(_Shape):
    """Everything a tumour board sees for one patient."""

    patient_id: str | None
    recommendation: Recommendation
    reasons: list[str]
    il2: StrategyOutlook
    tki: StrategyOutlook
    difference_il2_minus_tki: dict[str, Estimate] = Field(
        description="IL-2 minus TKI in P(response), P(complete response) and P(cure)"
    )
    eligibility: Eligibility
    pathway: Pathway
    derived: dict[str, str | int | bool | None]
    needed_inputs: list[str]
    what_would_change: list[Change]
    provisional: bool = Field(
        description="unknown inputs could change the recommendation: settle the work-up first"
    )
    workup: list[str] = Field(description="the work-up that would settle a provisional answer")
    deviates_from_pathway: bool | None = Field(
        description="the recommendation departs from the Manchester branch (null: branch unknown)"
    )
    deviation_reason: str | None
    extrapolated: bool
    warnings: list[str]
    scope: str = SCOPE
    provenance: Provenance | None = None


class SurvivalCurves(_Shape):
    """Both strategies' survival curves on a monthly grid (month 0 to 120), each with its
    95 % pointwise band (``_lo``, ``_hi``) over the models' parameter draws."""

    patient_id: str | None
    months: list[int]
    il2_os: list[float]
    il2_os_lo: list[float]
    il2_os_hi: list[float]
    il2_pfs: list[float]
    il2_pfs_lo: list[float]
    il2_pfs_hi: list[float]
    tki_os: list[float]
    tki_os_lo: list[float]
    tki_os_hi: list[float]
    tki_pfs: list[float]
    tki_pfs_lo: list[float]
    tki_pfs_hi: list[float]
    scope: str = SCOPE


def answer_records(assessment: Assessment, values: Mapping) -> list[dict]:
    """One answer per row of an assessment, as JSON-ready dicts in ``PatientAnswer``'s
    shape (``PatientAnswer.model_validate`` accepts each; a test holds it to that)."""
    pred, derived = assessment.prediction, assessment.derived
    n = len(assessment.recommendation)
    ids = values.get("patient_id")
    return rows_of(
        patient_id=[None] * n if ids is None else [_text(p) for p in ids],
        recommendation=np.asarray(assessment.recommendation).tolist(),
        reasons=assessment.reasons,
        il2=_outlooks(pred, "il2"),
        tki=_outlooks(pred, "tki"),
        difference_il2_minus_tki=rows_of(**{q: _estimates(pred, f"diff_{q}") for q in DIFFERENCES}),
        eligibility=eligibility_records(derived),
        pathway=pathway_records(derived),
        derived=derived_records(derived),
        needed_inputs=needed_inputs(derived),
        what_would_change=[list(c) for c in assessment.changes],
        provisional=np.asarray(assessment.provisional, dtype=bool).tolist(),
        workup=assessment.workup,
        deviates_from_pathway=assessment.deviates_from_pathway,
        deviation_reason=assessment.deviation_reason,
        extrapolated=np.asarray(assessment.extrapolated, dtype=bool).tolist(),
        warnings=_warnings(values, n),
        scope=[SCOPE] * n,
        provenance=[None] * n,
    )


DIFFERENCES = ("p_response", "p_complete_response", "p_cure")


def _outlooks(pred: BatchPrediction, name: str) -> list[dict]:
    """Every row's outlook under one strategy (``StrategyOutlook``'s shape); P(cure) and
    P(severe cardiac toxicity) are IL-2's alone."""
    il2_only = [None] * len(pred.imputed)
    return rows_of(
        p_response=_estimates(pred, f"{name}_p_response"),
        p_complete_response=_estimates(pred, f"{name}_p_complete_response"),
        p_cure=_estimates(pred, "il2_p_cure") if name == "il2" else il2_only,
        p_severe_cardiac_toxicity=_estimates(pred, "il2_p_severe_cardiac_toxicity")
        if name == "il2"
        else il2_only,
        os_at_months=_by_horizon(pred, name, "os"),
        pfs_at_months=_by_horizon(pred, name, "pfs"),
        median_os_months=_medians(pred, f"{name}_median_os_months"),
        median_pfs_months=_medians(pred, f"{name}_median_pfs_months"),
    )


def _by_horizon(pred: BatchPrediction, name: str, endpoint: str) -> list[dict]:
    return rows_of(
        **{
            str(month): _estimates(pred, f"{name}_{endpoint}_at_{month}_months")
            for month in SURVIVAL_HORIZONS_MONTHS
        }
    )


def _estimates(pred: BatchPrediction, key: str) -> list[dict]:
    """Every row's ``Estimate`` of one quantity, built over ``tolist()`` (a fraction of the
    cost of converting numpy scalars row by row)."""
    point = _shown(pred.point[key], PROBABILITY_DECIMALS)
    if key not in pred.lo:
        return rows_of(value=point, lo=[None] * len(point), hi=[None] * len(point))
    return rows_of(
        value=point,
        lo=_shown(pred.lo[key], PROBABILITY_DECIMALS),
        hi=_shown(pred.hi[key], PROBABILITY_DECIMALS),
    )


def _shown(values, decimals: int) -> list[float]:
    """Values as answered: rounded to a precision far finer than their intervals (the
    17 digits of a double would claim a precision no model of this has)."""
    return np.round(np.asarray(values, dtype=np.float64), decimals).tolist()


def _medians(pred: BatchPrediction, key: str) -> list[dict]:
    """Every row's ``Median`` with its 95 % interval: a curve that never reaches one half
    has no median (null, ``reached`` false), and an interval whose upper end is not
    reached within 100 years has ``hi`` null."""

    def finite(values):
        return [None if math.isinf(m) else m for m in values]

    months = _shown(pred.medians[key], MONTH_DECIMALS)
    return rows_of(
        value=finite(months),
        reached=[not math.isinf(m) for m in months],
        lo=finite(_shown(pred.lo[key], MONTH_DECIMALS)),
        hi=finite(_shown(pred.hi[key], MONTH_DECIMALS)),
    )


def _warnings(values: Mapping, n: int) -> list[list[str]]:
    warnings: list[list[str]] = [[] for _ in range(n)]
    for rule in CROSS_WARNINGS:
        for i in np.flatnonzero(rule.breaks(values)):
            warnings[i].append(rule.message)
    return warnings


def _text(value: object) -> str | None:
    return None if value is None or value != value else str(value)
