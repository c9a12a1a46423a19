"""The shape of an answer for one patient: what ``Recommender.recommend_one`` returns and
what ``POST /recommend`` sends (the service adds ``provenance``).

Every probability is a model output on synthetic data; ``scope`` says so in every answer.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

SCOPE = (
    "High-dose IL-2 versus VEGF-TKI first line, on evidence to about 2015; checkpoint-inhibitor "
    "regimens are not considered. Every probability is a model output from models trained on "
    "synthetic cohorts generated from published rates, not a measurement on real patients."
)
Recommendation = Literal["il2_first", "tki_first", "temsirolimus_or_trial"]
SURVIVAL_MONTHS = (12, 24, 36, 60)


class Estimate(BaseModel):
    """A model output with its 95 % interval (probabilities, cure fraction, 60-month
    survival; survival at 12/24/36 months is a point estimate with null bounds)."""

    value: float
    lo: float | None = None
    hi: float | None = None


class Median(BaseModel):
    """A median survival in months; ``value`` is null when the curve never reaches 0.5."""

    value: float | None
    reached: bool
    lo: float | None = None
    hi: float | None = None


class StrategyOutlook(BaseModel):
    """Predictions under one first-line strategy."""

    p_response: Estimate
    p_complete_response: Estimate
    p_cure: Estimate | None = None
    p_severe_cardiac_toxicity: Estimate | None = None
    os_at_months: dict[str, Estimate] = Field(description="overall survival at 12/24/36/60 months")
    pfs_at_months: dict[str, Estimate] = Field(
        description="progression-free survival at 12/24/36/60 months"
    )
    median_os_months: Median
    median_pfs_months: Median


class Eligibility(BaseModel):
    il2_eligible: bool | None
    contraindications: list[str]
    contraindications_unknown: list[str]
    cautions: list[str]


class Pathway(BaseModel):
    branch: Recommendation | None
    first_line: str | None
    second_line: str | None
    third_line: str | None


class Change(BaseModel):
    """What the answer would be with one unknown input set to a low or a high value."""

    input: str
    low_value: float | bool
    low_recommendation: Recommendation
    high_value: float | bool
    high_recommendation: Recommendation


class Provenance(BaseModel):
    model_name: str
    model_version: str | None
    model_alias: str | None
    run_id: str | None
    training_data_hash: str | None
    rules_version: str


class PatientAnswer(BaseModel):
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
    extrapolated: bool
    warnings: list[str]
    scope: str = SCOPE
    provenance: Provenance | None = None


class SurvivalCurves(BaseModel):
    """Both strategies' survival curves on a monthly grid (month 0 to 120)."""

    patient_id: str | None
    months: list[int]
    il2_os: list[float]
    il2_pfs: list[float]
    tki_os: list[float]
    tki_pfs: list[float]
    scope: str = SCOPE
