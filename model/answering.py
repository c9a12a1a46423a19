"""Per-patient answers (``PatientAnswer``) and survival curves from an ``Assessment``."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from model.answer import SCOPE, SURVIVAL_MONTHS, SurvivalCurves
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

MONTH_KEYS = tuple(str(m) for m in SURVIVAL_MONTHS)  # "12", "24", "36", "60"


def _estimates(pred, key: str) -> list[dict]:
    """Every row's estimate of one quantity, built in one comprehension over ``tolist()``
    (a fraction of the cost of converting numpy scalars row by row)."""
    point = pred.point[key].tolist()
    if key not in pred.lo:
        return [{"value": v, "lo": None, "hi": None} for v in point]
    return [
        {"value": v, "lo": lo, "hi": hi}
        for v, lo, hi in zip(point, pred.lo[key].tolist(), pred.hi[key].tolist(), strict=True)
    ]


def _medians(pred, key: str) -> list[dict]:
    return [
        {"value": None, "reached": False, "lo": None, "hi": None}
        if math.isinf(v)
        else {"value": v, "reached": True, "lo": None, "hi": None}
        for v in pred.medians[key].tolist()
    ]


def _outlooks(pred, name: str) -> list[dict]:
    """Every row's outlook under one strategy (``StrategyOutlook``'s shape); P(cure) and
    P(severe cardiac toxicity) are IL-2's alone."""
    il2_only = [None] * len(pred.imputed)
    columns = [
        _estimates(pred, f"{name}_p_response"),
        _estimates(pred, f"{name}_p_complete_response"),
        _estimates(pred, "il2_p_cure") if name == "il2" else il2_only,
        _estimates(pred, "il2_p_severe_cardiac_toxicity") if name == "il2" else il2_only,
        *(_estimates(pred, f"{name}_{e}_at_{m}_months") for e in ("os", "pfs") for m in MONTH_KEYS),
        _medians(pred, f"{name}_median_os_months"),
        _medians(pred, f"{name}_median_pfs_months"),
    ]
    return [
        {
            "p_response": r,
            "p_complete_response": c,
            "p_cure": cure,
            "p_severe_cardiac_toxicity": tox,
            "os_at_months": {"12": o12, "24": o24, "36": o36, "60": o60},
            "pfs_at_months": {"12": p12, "24": p24, "36": p36, "60": p60},
            "median_os_months": median_os,
            "median_pfs_months": median_pfs,
        }
        for (r, c, cure, tox, o12, o24, o36, o60, p12, p24, p36, p60, median_os, median_pfs) in zip(
            *columns, strict=True
        )
    ]


def answer_records(
    assessment: Assessment, values: Mapping, changes: list[list[dict]] | None = None
) -> list[dict]:
    """One answer per row of an assessment, as JSON-ready dicts in ``PatientAnswer``'s
    shape (``PatientAnswer.model_validate`` accepts each; a test holds it to that)."""
    pred, derived = assessment.prediction, assessment.derived
    n = len(assessment.recommendation)
    warnings = [[] for _ in range(n)]
    for rule in CROSS_WARNINGS:
        for i in np.flatnonzero(rule.breaks(values)):
            warnings[i].append(rule.message)
    ids = values.get("patient_id")
    ids = [None] * n if ids is None else [None if p is None or p != p else str(p) for p in ids]
    columns = (
        ids,
        np.asarray(assessment.recommendation).tolist(),
        assessment.reasons,
        _outlooks(pred, "il2"),
        _outlooks(pred, "tki"),
        _estimates(pred, "diff_p_response"),
        _estimates(pred, "diff_p_complete_response"),
        _estimates(pred, "diff_p_cure"),
        eligibility_records(derived),
        pathway_records(derived),
        derived_records(derived),
        needed_inputs(derived),
        [[]] * n if changes is None else changes,
        np.asarray(assessment.extrapolated, dtype=bool).tolist(),
        warnings,
    )
    return [
        {
            "patient_id": pid,
            "recommendation": choice,
            "reasons": reasons,
            "il2": il2,
            "tki": tki,
            "difference_il2_minus_tki": {
                "p_response": d_response,
                "p_complete_response": d_complete,
                "p_cure": d_cure,
            },
            "eligibility": eligibility,
            "pathway": pathway,
            "derived": derived_values,
            "needed_inputs": needed,
            "what_would_change": list(change),
            "extrapolated": extrapolated,
            "warnings": warning,
            "scope": SCOPE,
            "provenance": None,
        }
        for (
            pid,
            choice,
            reasons,
            il2,
            tki,
            d_response,
            d_complete,
            d_cure,
            eligibility,
            pathway,
            derived_values,
            needed,
            change,
            extrapolated,
            warning,
        ) in zip(*columns, strict=True)
    ]


def what_would_change(recommender, values: Mapping, assessment: Assessment) -> list[list[dict]]:
    """For every row: each unknown input set to its low and its high value, and the
    recommendation then (all rows' variations decided in one batch)."""
    rows, varied_inputs = [], []
    for i, unknown in enumerate(assessment.unknown_inputs):
        for name in unknown:
            for value in recommender.input_ranges[name]:
                row = {k: np.asarray(v)[i : i + 1].copy() for k, v in values.items()}
                row[name] = np.array([value], dtype=float)
                rows.append(row)
            varied_inputs.append((i, name))
    changes: list[list[dict]] = [[] for _ in assessment.unknown_inputs]
    if not rows:
        return changes
    batch = {k: np.concatenate([r[k] for r in rows]) for k in rows[0]}
    varied = decide_quickly(recommender, batch, len(rows)).tolist()
    for j, (i, name) in enumerate(varied_inputs):
        low, high = recommender.input_ranges[name]
        changes[i].append(
            {
                "input": name,
                "low_value": _shown(name, low),
                "low_recommendation": str(varied[2 * j]),
                "high_value": _shown(name, high),
                "high_recommendation": str(varied[2 * j + 1]),
            }
        )
    return changes


def _shown(name: str, value: float) -> float | bool:
    flags = {"hemoglobin_below_lln", "cardiac_stress_abnormal", "cardiac_disease"}
    return bool(value) if name in flags else round(float(value), 2)


def survival_curves(recommender, values: Mapping, n: int) -> list[SurvivalCurves]:
    """Point PFS and OS curves of both strategies on the monthly grid, per patient
    (averaged over imputations of unknown inputs)."""
    curves = {}
    for i in range(n):
        row = {k: np.asarray(v)[i : i + 1] for k, v in values.items()}
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
    return [
        SurvivalCurves(
            patient_id=None if ids is None or ids[i] is None else str(ids[i]),
            months=[int(m) for m in GRID_MONTHS],
            **{key: [float(x) for x in curves[key][i]] for key in curves},
        )
        for i in range(n)
    ]
