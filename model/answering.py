"""Per-patient answers (``PatientAnswer``) and survival curves from an ``Assessment``."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from model.answer import SCOPE, SURVIVAL_MONTHS, PatientAnswer, SurvivalCurves
from model.columns import UNKNOWABLE_COLUMNS
from model.crossfield import CROSS_WARNINGS
from model.engine import GRID_MONTHS, point_curves
from model.features import design_matrix
from model.pooling import PooledDesign
from model.predictions import imputed_design
from model.respond import (
    Assessment,
    decide_quickly,
    derived_records,
    eligibility_records,
    needed_inputs,
    pathway_records,
)


class _Columns:
    """The prediction's arrays as per-row JSON-ready values, converted once per batch and
    quantity (a comprehension over ``tolist()`` costs a fraction of converting numpy
    scalars row by row)."""

    def __init__(self, pred) -> None:
        self.pred = pred
        self._estimates: dict[str, list[dict]] = {}
        self._medians: dict[str, list[dict]] = {}

    def estimate(self, key: str, i: int) -> dict:
        if key not in self._estimates:
            point = self.pred.point[key].tolist()
            if key in self.pred.lo:
                self._estimates[key] = [
                    {"value": v, "lo": lo, "hi": hi} for v, lo, hi in
                    zip(point, self.pred.lo[key].tolist(), self.pred.hi[key].tolist(),
                        strict=True)]
            else:
                self._estimates[key] = [{"value": v, "lo": None, "hi": None} for v in point]
        return self._estimates[key][i]

    def median(self, key: str, i: int) -> dict:
        if key not in self._medians:
            self._medians[key] = [
                {"value": None, "reached": False, "lo": None, "hi": None} if math.isinf(v)
                else {"value": v, "reached": True, "lo": None, "hi": None}
                for v in self.pred.medians[key].tolist()]
        return self._medians[key][i]

    def outlook(self, name: str, i: int) -> dict:
        il2 = name == "il2"
        return {
            "p_response": self.estimate(f"{name}_p_response", i),
            "p_complete_response": self.estimate(f"{name}_p_complete_response", i),
            "p_cure": self.estimate("il2_p_cure", i) if il2 else None,
            "p_severe_cardiac_toxicity":
                self.estimate("il2_p_severe_cardiac_toxicity", i) if il2 else None,
            "os_at_months": {m: self.estimate(f"{name}_os_at_{m}_months", i)
                             for m in MONTH_KEYS},
            "pfs_at_months": {m: self.estimate(f"{name}_pfs_at_{m}_months", i)
                              for m in MONTH_KEYS},
            "median_os_months": self.median(f"{name}_median_os_months", i),
            "median_pfs_months": self.median(f"{name}_median_pfs_months", i),
        }


MONTH_KEYS = tuple(str(m) for m in SURVIVAL_MONTHS)
DIFFERENCES = ("p_response", "p_complete_response", "p_cure")


def answer_records(assessment: Assessment, values: Mapping,
                   changes: list[list[dict]] | None = None) -> list[dict]:
    """One answer per row of an assessment, as JSON-ready dicts in ``PatientAnswer``'s
    shape (``PatientAnswer.model_validate`` accepts each; a test holds it to that)."""
    pred, derived = assessment.prediction, assessment.derived
    n = len(assessment.recommendation)
    columns = _Columns(pred)
    warnings = [[] for _ in range(n)]
    for rule in CROSS_WARNINGS:
        for i in np.flatnonzero(rule.breaks(values)):
            warnings[i].append(rule.message)
    eligibility, pathway = eligibility_records(derived), pathway_records(derived)
    derived_values, needed = derived_records(derived), needed_inputs(derived)
    ids = values.get("patient_id")
    recommendation = np.asarray(assessment.recommendation).tolist()
    extrapolated = np.asarray(assessment.extrapolated, dtype=bool).tolist()
    out = []
    for i in range(n):
        pid = None if ids is None else ids[i]
        out.append({
            "patient_id": None if pid is None or pid != pid else str(pid),
            "recommendation": recommendation[i],
            "reasons": assessment.reasons[i],
            "il2": columns.outlook("il2", i),
            "tki": columns.outlook("tki", i),
            "difference_il2_minus_tki": {q: columns.estimate(f"diff_{q}", i)
                                         for q in DIFFERENCES},
            "eligibility": eligibility[i],
            "pathway": pathway[i],
            "derived": derived_values[i],
            "needed_inputs": needed[i],
            "what_would_change": [] if changes is None else changes[i],
            "extrapolated": extrapolated[i],
            "warnings": warnings[i],
            "scope": SCOPE,
            "provenance": None,
        })
    return out


def answers(assessment: Assessment, values: Mapping, changes: list[list[dict]] | None = None
            ) -> list[PatientAnswer]:
    """One validated ``PatientAnswer`` per row of an assessment."""
    return [PatientAnswer.model_validate(record)
            for record in answer_records(assessment, values, changes)]


def what_would_change(recommender, values: Mapping, assessment: Assessment) -> list[dict]:
    """For one patient: each unknown input set to its low and its high value."""
    unknown = assessment.unknown_inputs[0]
    if not unknown:
        return []
    rows = []
    for name in unknown:
        for value in recommender.input_ranges[name]:
            row = {k: np.asarray(v)[:1].copy() for k, v in values.items()}
            row[name] = np.array([value], dtype=float)
            rows.append(row)
    batch = {k: np.concatenate([r[k] for r in rows]) for k in rows[0]}
    varied = decide_quickly(recommender, batch, len(rows))
    return [{"input": name,
             "low_value": _shown(name, recommender.input_ranges[name][0]),
             "low_recommendation": str(varied[2 * j]),
             "high_value": _shown(name, recommender.input_ranges[name][1]),
             "high_recommendation": str(varied[2 * j + 1])}
            for j, name in enumerate(unknown)]


def _shown(name: str, value: float) -> float | bool:
    flags = {"hemoglobin_below_lln", "cardiac_stress_abnormal", "cardiac_disease"}
    return bool(value) if name in flags else round(float(value), 2)


def survival_curves(recommender, values: Mapping, n: int) -> list[SurvivalCurves]:
    """Point PFS and OS curves of both strategies on the monthly grid, per patient
    (averaged over imputations of unknown inputs)."""
    curves = {}
    for i in range(n):
        row = {k: np.asarray(v)[i:i + 1] for k, v in values.items()}
        unknown = any(np.isnan(float(row[c][0])) for c in UNKNOWABLE_COLUMNS if c in row)
        if unknown:
            design = imputed_design(row, np.array([0]), recommender.imputer)
        else:
            design = design_matrix(row, 1)
        pooled = PooledDesign.of(design)
        for name in ("il2", "tki"):
            got = point_curves(recommender.strategies[name], recommender.draws[name], pooled)
            for endpoint, curve in got.items():
                curves.setdefault(f"{name}_{endpoint}", []).append(curve[0])
    ids = values.get("patient_id")
    return [SurvivalCurves(
        patient_id=None if ids is None or ids[i] is None else str(ids[i]),
        months=[int(m) for m in GRID_MONTHS],
        **{key: [float(x) for x in curves[key][i]] for key in curves})
        for i in range(n)]
