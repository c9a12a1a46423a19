"""The patient data contract: one specification per column of the brief.

Everything else — the pydantic ``Patient`` the API takes, the pandera schema that
validates whole tables, the parsing of CSV cells — is generated from ``COLUMNS``
below, so a range or an allowed value is written exactly once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

Kind = Literal["float", "int", "bool", "choice", "text"]


@dataclass(frozen=True)
class Rule:
    """A vectorised check on one column: ``holds(values)`` is True where the value is
    acceptable (NaN never fails a rule: emptiness is judged separately)."""

    name: str
    message: str
    holds: Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class ColumnSpec:
    """One column of the data contract (BRIEF.md, "Data contract")."""

    name: str
    kind: Kind
    meaning: str
    unit: str = ""
    may_be_unknown: bool = False
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    step: float | None = None
    choices: tuple[str, ...] = ()
    plausible: tuple[float, float] | None = None
    below_plausible_hint: str = ""
    above_plausible_hint: str = ""
    example: object = None
    extra_rules: tuple[Rule, ...] = field(default=())

    @property
    def rules(self) -> tuple[Rule, ...]:
        """Range, step and plausibility rules, each with a message naming the rule."""
        rules: list[Rule] = []
        unit = f" {self.unit}" if self.unit else ""
        if self.ge is not None and self.le is not None:
            lo, hi = self.ge, self.le
            rules.append(
                Rule(
                    "range",
                    f"must be between {_fmt(lo)} and {_fmt(hi)}{unit}",
                    lambda v, lo=lo, hi=hi: (v >= lo) & (v <= hi),
                )
            )
        elif self.ge is not None:
            lo = self.ge
            rules.append(
                Rule("range", f"must be at least {_fmt(lo)}{unit}", lambda v, lo=lo: v >= lo)
            )
        if self.gt is not None:
            lo = self.gt
            rules.append(
                Rule("range", f"must be greater than {_fmt(lo)}{unit}", lambda v, lo=lo: v > lo)
            )
        if self.le is not None and self.ge is None:
            hi = self.le
            rules.append(
                Rule("range", f"must be at most {_fmt(hi)}{unit}", lambda v, hi=hi: v <= hi)
            )
        if self.kind == "int":
            rules.append(Rule("whole", "must be a whole number", lambda v: v == np.round(v)))
        if self.step is not None:
            step = self.step
            rules.append(
                Rule(
                    "step",
                    f"must be a multiple of {_fmt(step)}",
                    lambda v, step=step: np.isclose(np.mod(v, step), 0.0),
                )
            )
        if self.plausible is not None:
            lo, hi = self.plausible
            below = f"; {self.below_plausible_hint}" if self.below_plausible_hint else ""
            above = f"; {self.above_plausible_hint}" if self.above_plausible_hint else ""
            span = f"{_fmt(lo)}–{_fmt(hi)}{unit}"
            rules.append(
                Rule("plausible", f"is below the plausible {span}{below}", lambda v, lo=lo: v >= lo)
            )
            rules.append(
                Rule("plausible", f"is above the plausible {span}{above}", lambda v, hi=hi: v <= hi)
            )
        return tuple(rules) + self.extra_rules


def _fmt(x: float) -> str:
    return f"{x:g}"


def _bool(name: str, meaning: str, *, unknown: bool = False, example: bool = False) -> ColumnSpec:
    return ColumnSpec(name, "bool", meaning, may_be_unknown=unknown, example=example)


def _pct(name: str, meaning: str, example: float) -> ColumnSpec:
    return ColumnSpec(
        name, "float", meaning, unit="%", may_be_unknown=True, ge=0, le=100, example=example
    )


COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec(
        "patient_id",
        "text",
        "the caller's identifier; passed through, never interpreted",
        may_be_unknown=True,
        example="MAN-001",
    ),
    ColumnSpec(
        "age_years",
        "float",
        "age at start of systemic therapy",
        unit="years",
        ge=0,
        le=120,
        example=58.0,
    ),
    ColumnSpec("sex", "choice", "sex", choices=("female", "male"), example="male"),
    ColumnSpec("ecog", "int", "ECOG performance status", ge=0, le=4, example=0),
    ColumnSpec(
        "karnofsky",
        "int",
        "Karnofsky performance status",
        unit="%",
        may_be_unknown=True,
        ge=0,
        le=100,
        step=10,
        example=90,
    ),
    ColumnSpec(
        "months_from_diagnosis",
        "float",
        "initial diagnosis to systemic therapy",
        unit="months",
        ge=0,
        le=1200,
        example=18.0,
    ),
    ColumnSpec(
        "ldh_uln_ratio",
        "float",
        "LDH divided by the upper limit of normal",
        may_be_unknown=True,
        gt=0,
        le=100,
        example=0.9,
    ),
    _bool("hemoglobin_below_lln", "haemoglobin below the lower limit of normal", unknown=True),
    ColumnSpec(
        "corrected_calcium_mg_dl",
        "float",
        "corrected serum calcium",
        unit="mg/dL",
        may_be_unknown=True,
        gt=0,
        plausible=(5.0, 20.0),
        below_plausible_hint="looks like mmol/L (multiply by 4.008 for mg/dL)",
        example=9.4,
    ),
    ColumnSpec(
        "histology",
        "choice",
        "histological subtype",
        choices=("clear_cell", "papillary", "chromophobe", "other"),
        example="clear_cell",
    ),
    _pct("alveolar_pct", "alveolar architecture share", 70.0),
    _pct("solid_pct", "solid architecture share", 20.0),
    _pct("papillary_pct", "papillary architecture share", 0.0),
    _pct("granular_pct", "granular cytology share", 0.0),
    _pct("caix_pct", "CAIX-positive tumour cells", 95.0),
    _bool("met_lung", "lung metastases", example=True),
    _bool("met_bone", "bone metastases"),
    _bool("met_liver", "liver metastases"),
    _bool("met_lymph_node", "lymph-node metastases"),
    _bool("met_brain", "brain metastases"),
    _bool("met_other", "metastases in another organ"),
    _bool("brain_mets_untreated", "untreated brain metastases"),
    _bool("prior_nephrectomy", "prior nephrectomy", example=True),
    _bool("prior_tki", "prior sunitinib / sorafenib / pazopanib"),
    ColumnSpec(
        "months_since_tki",
        "float",
        "wash-out since the last TKI dose (empty without one)",
        unit="months",
        may_be_unknown=True,
        ge=0,
        le=600,
        example=None,
    ),
    _bool("prior_bevacizumab", "prior bevacizumab"),
    ColumnSpec(
        "creatinine_mg_dl",
        "float",
        "serum creatinine",
        unit="mg/dL",
        may_be_unknown=True,
        gt=0,
        plausible=(0.2, 15.0),
        above_plausible_hint="looks like µmol/L (divide by 88.4 for mg/dL)",
        example=1.0,
    ),
    ColumnSpec(
        "fev1_litres",
        "float",
        "forced expiratory volume in 1 s",
        unit="L",
        may_be_unknown=True,
        gt=0,
        le=10,
        example=3.1,
    ),
    ColumnSpec(
        "fev1_pct_predicted",
        "float",
        "FEV1 as a share of predicted",
        unit="%",
        may_be_unknown=True,
        gt=0,
        le=250,
        example=92.0,
    ),
    _bool("cardiac_stress_abnormal", "abnormal LVEF or wall motion on a stress test", unknown=True),
    _bool(
        "cardiac_disease", "heart failure, serious arrhythmia or coronary ischaemia", unknown=True
    ),
    _bool("active_infection", "active infection"),
    _bool("organ_allograft", "history of organ allograft"),
    _bool("steroids_last_4_weeks", "systemic corticosteroids in the last 4 weeks"),
    _bool("chemo_radio_last_6_weeks", "chemotherapy or radiotherapy in the last 6 weeks"),
)

SPECS: dict[str, ColumnSpec] = {spec.name: spec for spec in COLUMNS}
FEATURE_COLUMNS: tuple[str, ...] = tuple(spec.name for spec in COLUMNS)
# BRIEF "Unknown inputs": the inputs a tumour board may leave empty, in the brief's order.
UNKNOWABLE_COLUMNS: tuple[str, ...] = (
    "karnofsky",
    "ldh_uln_ratio",
    "hemoglobin_below_lln",
    "corrected_calcium_mg_dl",
    "alveolar_pct",
    "solid_pct",
    "papillary_pct",
    "granular_pct",
    "caix_pct",
    "creatinine_mg_dl",
    "fev1_litres",
    "fev1_pct_predicted",
    "cardiac_stress_abnormal",
    "cardiac_disease",
)
# Columns that must be present in every table (patient_id and the unknowable ones may be absent).
REQUIRED_COLUMNS: tuple[str, ...] = tuple(
    name
    for name in FEATURE_COLUMNS
    if name not in UNKNOWABLE_COLUMNS and name not in ("patient_id", "months_since_tki")
)
BOOL_COLUMNS: tuple[str, ...] = tuple(s.name for s in COLUMNS if s.kind == "bool")
NUMERIC_COLUMNS: tuple[str, ...] = tuple(s.name for s in COLUMNS if s.kind in ("float", "int"))

# An observed (real-format) cohort: the treatment received and its outcomes (BRIEF).
OBSERVED_OUTCOME_COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec(
        "treatment",
        "choice",
        "first-line treatment received (poor risk: tki)",
        choices=("il2", "tki"),
        example="il2",
    ),
    ColumnSpec(
        "best_response", "choice", "best response", choices=("CR", "PR", "SD", "PD"), example="PR"
    ),
    ColumnSpec(
        "pfs_months",
        "float",
        "progression-free survival time",
        unit="months",
        ge=0,
        le=600,
        example=14.0,
    ),
    _bool("pfs_event", "progression or death observed (false: censored)", example=True),
    ColumnSpec(
        "os_months", "float", "overall survival time", unit="months", ge=0, le=600, example=30.0
    ),
    _bool("os_event", "death observed (false: censored)", example=False),
    _bool(
        "severe_cardiac_toxicity",
        "grade 3-5 cardiovascular event on IL-2 (empty for TKI)",
        unknown=True,
    ),
)
