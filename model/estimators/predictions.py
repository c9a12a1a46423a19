"""Batch predictions of both strategies with 95 % intervals, for validated inputs.

Complete patients: intervals from parameter draws. Patients with unknown inputs: their
``n_imputations`` nearest donors (``DonorImputer``) complete them; the point estimate averages
over those imputations, and each parameter draw pairs with one of them in turn, so the
interval spans both sources of uncertainty.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from model.estimators.design import design_matrix
from model.estimators.fitted import STRATEGIES, FittedEstimators
from model.estimators.imputation import has_unknown
from model.estimators.pooling import PooledDesign
from model.estimators.strategy_predictions import (
    GRID_MONTHS,
    SURVIVAL_MONTHS,
    point_curves,
    point_draws,
    point_outlook,
    predict_strategy,
)
from model.rules.derive import Derived

LEVEL = 0.95


@dataclass(frozen=True)
class BatchPrediction:
    """``point[name]``, ``lo[name]``, ``hi[name]`` arrays (n,) for every quantity
    (``il2_p_cure``, ``tki_os_at_60_months``, ``diff_p_complete_response``, …), medians,
    which rows had unknown inputs, and the predictors (n, p) with those inputs completed
    by the nearest donor (what the extrapolation check judges)."""

    point: dict[str, np.ndarray]
    lo: dict[str, np.ndarray]
    hi: dict[str, np.ndarray]
    medians: dict[str, np.ndarray]
    imputed: np.ndarray
    nearest_design: np.ndarray


def predict_batch(
    estimators: FittedEstimators, values: Mapping, n: int, derived: Derived | None = None
) -> BatchPrediction:
    """Predictions for ``n`` patients given as column arrays (unknown = NaN); ``derived``
    (the rules on these rows) saves deriving them again."""
    unknown = has_unknown(values, n)
    parts = []
    for rows, imputed in ((np.flatnonzero(~unknown), False), (np.flatnonzero(unknown), True)):
        if rows.size:
            design = patient_design(estimators, values, rows, imputed, derived)
            parts.append((rows, _summarise(estimators, design, imputed)))
    return _assemble(parts, n, unknown)


# intervals are drawn for the probabilities, the cure fraction and survival at the last
# horizon (60 months); survival at the earlier horizons is given as a point estimate
INTERVAL_MONTHS = SURVIVAL_MONTHS[-1:]


def predict_points(
    estimators: FittedEstimators, values: Mapping, n: int, derived: Derived | None = None
) -> dict[str, np.ndarray]:
    """Point estimates only (no intervals, no medians): what the policy needs, cheaply —
    for 'what would change the answer', where each unknown input is varied. ``derived``
    (the rules on these rows) saves deriving them again."""
    unknown = has_unknown(values, n)
    point: dict[str, np.ndarray] = {}
    for rows, imputed in ((np.flatnonzero(~unknown), False), (np.flatnonzero(unknown), True)):
        if rows.size == 0:
            continue
        pooled = PooledDesign.of(patient_design(estimators, values, rows, imputed, derived))
        for name in STRATEGIES:
            got = predict_strategy(
                estimators.models[name],
                point_draws(estimators.draws[name]),
                pooled.design,
                INTERVAL_MONTHS,
            )
            for quantity, value in got.items():
                point.setdefault(f"{name}_{quantity}", np.full(n, np.nan))[rows] = pooled.pool(
                    value[0]
                )
    point["diff_p_durable_cr"] = point["il2_p_durable_cr"] - point["tki_p_durable_cr"]
    return point


def predict_curves(estimators: FittedEstimators, values: Mapping, n: int) -> dict[str, np.ndarray]:
    """Point PFS and OS curves (n, T) of both strategies on ``GRID_MONTHS``
    (``il2_os``, ``tki_pfs``, …), averaged over the imputations of unknown inputs."""
    unknown = has_unknown(values, n)
    curves: dict[str, np.ndarray] = {}
    for rows, imputed in ((np.flatnonzero(~unknown), False), (np.flatnonzero(unknown), True)):
        if rows.size == 0:
            continue
        pooled = PooledDesign.of(patient_design(estimators, values, rows, imputed))
        for name in STRATEGIES:
            got = point_curves(estimators.models[name], estimators.draws[name], pooled)
            for endpoint, curve in got.items():
                key = f"{name}_{endpoint}"
                curves.setdefault(key, np.full((n, len(GRID_MONTHS)), np.nan))[rows] = curve
    return curves


def patient_design(
    estimators: FittedEstimators,
    values: Mapping,
    rows: np.ndarray,
    imputed: bool,
    derived: Derived | None = None,
) -> np.ndarray:
    """Predictors of ``rows``: (len(rows), p) for complete inputs, or (K, len(rows), p)
    completed by each patient's K nearest donors, nearest first."""
    if imputed:
        k = estimators.n_imputations
        completed = estimators.imputer.impute(values, rows, k)
        return design_matrix(completed, k * rows.size).reshape(k, rows.size, -1)
    subset = {key: np.asarray(column)[rows] for key, column in values.items()}
    return design_matrix(subset, rows.size, None if derived is None else derived.take(rows))


def _summarise(estimators: FittedEstimators, design: np.ndarray, imputed: bool) -> BatchPrediction:
    point, medians, per_draw = {}, {}, {}
    pooled = PooledDesign.of(design)
    models, draws = estimators.models, estimators.draws
    # with unknown inputs, draw d sees imputation d mod n_imputations
    paired = design[np.arange(estimators.n_draws) % design.shape[0]] if imputed else design
    for name in STRATEGIES:
        best, middle = point_outlook(models[name], draws[name], pooled)
        for quantity, values in best.items():  # imputed: the average over imputations
            point[f"{name}_{quantity}"] = values
        for endpoint, median in middle.items():
            medians[f"{name}_median_{endpoint}_months"] = median
        drawn = predict_strategy(models[name], draws[name], paired, INTERVAL_MONTHS)
        for quantity, values in drawn.items():  # imputed: each draw its own imputation
            per_draw[f"{name}_{quantity}"] = values if imputed else values[1:]
    for quantity in ("p_response", "p_complete_response", "p_cure", "p_durable_cr"):
        key = f"diff_{quantity}"
        point[key] = point[f"il2_{quantity}"] - point[f"tki_{quantity}"]
        per_draw[key] = per_draw[f"il2_{quantity}"] - per_draw[f"tki_{quantity}"]
    lo, hi = _intervals(per_draw)
    nearest = design[0] if imputed else design  # imputation-major, nearest donor first
    return BatchPrediction(point, lo, hi, medians, np.full(design.shape[-2], imputed), nearest)


def _intervals(per_draw: dict[str, np.ndarray]) -> tuple[dict, dict]:
    """2.5 and 97.5 % quantiles over the draws of every quantity at once: one sort of a
    (quantities, n, draws) block along its last axis (numpy's vectorised sort beats a
    partition at four order statistics several times over), then linear interpolation
    between order statistics, as numpy's default percentile."""
    keys = list(per_draw)
    d, n = per_draw[keys[0]].shape
    block = np.empty((len(keys), n, d))
    for i, key in enumerate(keys):
        block[i] = per_draw[key].T
    block.sort(axis=-1)
    positions = np.array([(1 - LEVEL) / 2, (1 + LEVEL) / 2]) * (d - 1)
    below, above = np.floor(positions).astype(int), np.ceil(positions).astype(int)
    weight = positions - below
    bounds = block[..., below] * (1 - weight) + block[..., above] * weight
    return (
        {k: bounds[i, :, 0] for i, k in enumerate(keys)},
        {k: bounds[i, :, 1] for i, k in enumerate(keys)},
    )


def _assemble(parts, n: int, unknown: np.ndarray) -> BatchPrediction:
    if len(parts) == 1 and parts[0][0].size == n:
        return parts[0][1]
    out = []
    for field in ("point", "lo", "hi", "medians"):
        merged = {}
        for rows, part in parts:
            for key, values in getattr(part, field).items():
                merged.setdefault(key, np.full(n, np.nan))[rows] = values
        out.append(merged)
    nearest = np.empty((n, parts[0][1].nearest_design.shape[-1]))
    for rows, part in parts:
        nearest[rows] = part.nearest_design
    return BatchPrediction(*out, unknown, nearest)
