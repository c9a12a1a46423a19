"""Batch predictions of both strategies with 95 % intervals, for validated inputs.

Complete patients: intervals from parameter draws. Patients with unknown inputs: their
IMPUTATIONS nearest donors (``DonorImputer``) complete them; the point estimate averages
over those imputations, and each parameter draw pairs with one of them in turn, so the
interval spans both sources of uncertainty.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from model.columns import UNKNOWABLE_COLUMNS
from model.engine import point_draws, point_outlook, predict_strategy
from model.features import design_matrix
from model.imputation import DonorImputer
from model.pooling import PooledDesign
from model.rules import Derived
from model.strategy import StrategyDraws, StrategyModel

LEVEL = 0.95
IMPUTATIONS = 25
STRATEGIES = ("il2", "tki")


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


def has_unknown(values: Mapping, n: int) -> np.ndarray:
    unknown = np.zeros(n, dtype=bool)
    for name in UNKNOWABLE_COLUMNS:
        if name in values:
            unknown |= np.isnan(np.asarray(values[name], dtype=float))
    return unknown


def predict_batch(
    values: Mapping,
    n: int,
    models: dict[str, StrategyModel],
    draws: dict[str, StrategyDraws],
    imputer: DonorImputer,
    derived: Derived | None = None,
) -> BatchPrediction:
    """Predictions for ``n`` patients given as column arrays (unknown = NaN); ``derived``
    (the rules on these rows) saves deriving them again."""
    unknown = has_unknown(values, n)
    parts = []
    complete_rows = np.flatnonzero(~unknown)
    if complete_rows.size:
        subset = {k: np.asarray(v)[complete_rows] for k, v in values.items()}
        design = design_matrix(
            subset, complete_rows.size, None if derived is None else derived.take(complete_rows)
        )
        parts.append((complete_rows, _summarise(models, draws, design, imputed=False)))
    incomplete_rows = np.flatnonzero(unknown)
    if incomplete_rows.size:
        design = imputed_design(values, incomplete_rows, imputer)
        parts.append((incomplete_rows, _summarise(models, draws, design, imputed=True)))
    return _assemble(parts, n, unknown)


# intervals are drawn for these (the probabilities, the cure fraction, 60-month survival);
# 12/24/36-month survival is given as a point estimate
INTERVAL_MONTHS = np.array([60.0])


def predict_points(
    values: Mapping,
    n: int,
    models: dict[str, StrategyModel],
    draws: dict[str, StrategyDraws],
    imputer: DonorImputer,
    derived: Derived | None = None,
) -> dict[str, np.ndarray]:
    """Point estimates only (no intervals, no medians): what the policy needs, cheaply —
    for 'what would change the answer', where each unknown input is varied. ``derived``
    (the rules on these rows) saves deriving them again."""
    unknown = has_unknown(values, n)
    point: dict[str, np.ndarray] = {}
    for rows, imputed in ((np.flatnonzero(~unknown), False), (np.flatnonzero(unknown), True)):
        if rows.size == 0:
            continue
        if imputed:
            design = imputed_design(values, rows, imputer)
        else:
            design = design_matrix(
                {k: np.asarray(v)[rows] for k, v in values.items()},
                rows.size,
                None if derived is None else derived.take(rows),
            )
        pooled = PooledDesign.of(design)
        for name in STRATEGIES:
            got = predict_strategy(
                models[name], point_draws(draws[name]), pooled.design, INTERVAL_MONTHS
            )
            for quantity, value in got.items():
                point.setdefault(f"{name}_{quantity}", np.full(n, np.nan))[rows] = pooled.pool(
                    value[0]
                )
    point["diff_p_durable_cr"] = point["il2_p_durable_cr"] - point["tki_p_durable_cr"]
    return point


def imputed_design(values: Mapping, rows: np.ndarray, imputer: DonorImputer) -> np.ndarray:
    """Predictors (IMPUTATIONS, len(rows), p) of ``rows`` completed by their nearest donors,
    nearest first."""
    completed = imputer.impute(values, rows, IMPUTATIONS)
    return design_matrix(completed, IMPUTATIONS * rows.size).reshape(IMPUTATIONS, rows.size, -1)


def _summarise(models, draws, design, imputed: bool) -> BatchPrediction:
    point, medians, per_draw = {}, {}, {}
    pooled = PooledDesign.of(design)
    n_draws = draws[STRATEGIES[0]].response.shape[0]
    # with unknown inputs, draw d sees imputation d mod IMPUTATIONS
    paired = design[np.arange(n_draws) % design.shape[0]] if imputed else design
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
