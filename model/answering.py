"""Per-patient answers (``PatientAnswer``) and survival curves from an ``Assessment``."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from model.answer import Change, Estimate, Median, PatientAnswer, StrategyOutlook, SurvivalCurves
from model.columns import UNKNOWABLE_COLUMNS
from model.crossfield import CROSS_WARNINGS
from model.engine import GRID_MONTHS, point_curves
from model.features import design_matrix
from model.predictions import point_design
from model.respond import (
    Assessment,
    decide_quickly,
    derived_record,
    eligibility_record,
    needed_inputs,
    pathway_record,
)


def _estimate(pred, key: str, i: int) -> Estimate:
    if key not in pred.lo:
        return Estimate(value=float(pred.point[key][i]))
    return Estimate(value=float(pred.point[key][i]), lo=float(pred.lo[key][i]),
                    hi=float(pred.hi[key][i]))


def _median(value: float) -> Median:
    if np.isinf(value):
        return Median(value=None, reached=False)
    return Median(value=float(value), reached=True)


def _outlook(pred, name: str, i: int) -> StrategyOutlook:
    months = ("12", "24", "36", "60")
    return StrategyOutlook(
        p_response=_estimate(pred, f"{name}_p_response", i),
        p_complete_response=_estimate(pred, f"{name}_p_complete_response", i),
        p_cure=_estimate(pred, "il2_p_cure", i) if name == "il2" else None,
        p_severe_cardiac_toxicity=_estimate(pred, "il2_p_severe_cardiac_toxicity", i)
        if name == "il2" else None,
        os_at_months={m: _estimate(pred, f"{name}_os_at_{m}_months", i) for m in months},
        pfs_at_months={m: _estimate(pred, f"{name}_pfs_at_{m}_months", i) for m in months},
        median_os_months=_median(pred.medians[f"{name}_median_os_months"][i]),
        median_pfs_months=_median(pred.medians[f"{name}_median_pfs_months"][i]),
    )


def answers(assessment: Assessment, values: Mapping, changes: list[list[Change]] | None = None
            ) -> list[PatientAnswer]:
    """One PatientAnswer per row of an assessment."""
    pred, derived = assessment.prediction, assessment.derived
    n = len(assessment.recommendation)
    warnings = [[] for _ in range(n)]
    for rule in CROSS_WARNINGS:
        for i in np.flatnonzero(rule.breaks(values)):
            warnings[i].append(rule.message)
    ids = values.get("patient_id")
    out = []
    for i in range(n):
        pid = None if ids is None else ids[i]
        out.append(PatientAnswer(
            patient_id=None if pid is None or pid != pid else str(pid),
            recommendation=assessment.recommendation[i],
            reasons=assessment.reasons[i],
            il2=_outlook(pred, "il2", i),
            tki=_outlook(pred, "tki", i),
            difference_il2_minus_tki={q: _estimate(pred, f"diff_{q}", i)
                                      for q in ("p_response", "p_complete_response", "p_cure")},
            eligibility=eligibility_record(derived, i),
            pathway=pathway_record(derived, i),
            derived=derived_record(derived, i),
            needed_inputs=needed_inputs(derived, i),
            what_would_change=[] if changes is None else changes[i],
            extrapolated=bool(assessment.extrapolated[i]),
            warnings=warnings[i],
        ))
    return out


def what_would_change(recommender, values: Mapping, assessment: Assessment) -> list[Change]:
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
    return [Change(input=name,
                   low_value=_shown(name, recommender.input_ranges[name][0]),
                   low_recommendation=varied[2 * j],
                   high_value=_shown(name, recommender.input_ranges[name][1]),
                   high_recommendation=varied[2 * j + 1])
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
            d = next(iter(recommender.draws.values())).response.shape[0]
            completed = recommender.imputer.impute(row, np.array([0]), d)
            design = point_design(design_matrix(completed, d).reshape(d, 1, -1))
        else:
            design = design_matrix(row, 1)
        for name in ("il2", "tki"):
            got = point_curves(recommender.strategies[name], recommender.draws[name], design)
            for endpoint, curve in got.items():
                curves.setdefault(f"{name}_{endpoint}", []).append(curve[0])
    ids = values.get("patient_id")
    return [SurvivalCurves(
        patient_id=None if ids is None or ids[i] is None else str(ids[i]),
        months=[int(m) for m in GRID_MONTHS],
        **{key: [float(x) for x in curves[key][i]] for key in curves})
        for i in range(n)]
