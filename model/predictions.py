"""Batch predictions of both strategies with 95 % intervals, for validated inputs.

Complete patients: intervals from parameter draws. Patients with unknown inputs: each draw
pairs with one imputation (``DonorImputer``), the point estimate averages the imputations,
and the interval spans both sources of uncertainty.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from model.columns import UNKNOWABLE_COLUMNS
from model.engine import point_draws, point_medians, predict_strategy
from model.features import design_matrix
from model.imputation import DonorImputer
from model.rules import Derived
from model.strategy import StrategyDraws, StrategyModel

LEVEL = 0.95
POINT_IMPUTATIONS = 25
STRATEGIES = ("il2", "tki")


@dataclass(frozen=True)
class BatchPrediction:
    """``point[name]``, ``lo[name]``, ``hi[name]`` arrays (n,) for every quantity
    (``il2_p_cure``, ``tki_os_at_60_months``, ``diff_p_complete_response``, …), medians,
    and which rows had unknown inputs."""

    point: dict[str, np.ndarray]
    lo: dict[str, np.ndarray]
    hi: dict[str, np.ndarray]
    medians: dict[str, np.ndarray]
    imputed: np.ndarray


def has_unknown(values: Mapping, n: int) -> np.ndarray:
    unknown = np.zeros(n, dtype=bool)
    for name in UNKNOWABLE_COLUMNS:
        if name in values:
            unknown |= np.isnan(np.asarray(values[name], dtype=float))
    return unknown


def predict_batch(values: Mapping, n: int, models: dict[str, StrategyModel],
                  draws: dict[str, StrategyDraws], imputer: DonorImputer,
                  derived: Derived | None = None) -> BatchPrediction:
    """Predictions for ``n`` patients given as column arrays (unknown = NaN); ``derived``
    (the rules on these rows) saves deriving them again."""
    unknown = has_unknown(values, n)
    n_draws = next(iter(draws.values())).response.shape[0]
    parts = []
    complete_rows = np.flatnonzero(~unknown)
    if complete_rows.size:
        subset = {k: np.asarray(v)[complete_rows] for k, v in values.items()}
        design = design_matrix(subset, complete_rows.size,
                               None if derived is None else derived.take(complete_rows))
        parts.append((complete_rows, _summarise(models, draws, design, imputed=False)))
    incomplete_rows = np.flatnonzero(unknown)
    if incomplete_rows.size:
        completed = imputer.impute(values, incomplete_rows, n_draws)
        flat = design_matrix(completed, n_draws * incomplete_rows.size)
        design = flat.reshape(n_draws, incomplete_rows.size, -1)
        parts.append((incomplete_rows, _summarise(models, draws, design, imputed=True)))
    return _assemble(parts, n, unknown)


# intervals are drawn for these (the probabilities, the cure fraction, 60-month survival);
# 12/24/36-month survival is given as a point estimate
INTERVAL_MONTHS = np.array([60.0])


def predict_points(values: Mapping, n: int, models: dict[str, StrategyModel],
                   draws: dict[str, StrategyDraws], imputer: DonorImputer) -> dict[str, np.ndarray]:
    """Point estimates only (no intervals, no medians): what the policy needs, cheaply —
    for 'what would change the answer', where each unknown input is varied."""
    unknown = has_unknown(values, n)
    point: dict[str, np.ndarray] = {}
    for rows, imputed in ((np.flatnonzero(~unknown), False), (np.flatnonzero(unknown), True)):
        if rows.size == 0:
            continue
        if imputed:
            d = next(iter(draws.values())).response.shape[0]
            design = design_matrix(imputer.impute(values, rows, d), d * rows.size)
            design = design.reshape(d, rows.size, -1)
        else:
            design = design_matrix({k: np.asarray(v)[rows] for k, v in values.items()},
                                   rows.size)
        for name in STRATEGIES:
            got = predict_strategy(models[name], point_draws(draws[name]),
                                   point_design(design), INTERVAL_MONTHS)
            for quantity, value in got.items():
                point.setdefault(f"{name}_{quantity}", np.full(n, np.nan))[rows] = \
                    value.mean(axis=0)
    point["diff_p_durable_cr"] = point["il2_p_durable_cr"] - point["tki_p_durable_cr"]
    return point


def point_design(design: np.ndarray) -> np.ndarray:
    """The imputations a point estimate averages: the nearest POINT_IMPUTATIONS donors (the
    intervals use every draw's own imputation). A patient with unknown inputs then costs
    a few times a complete one for its point estimates, medians and curves, not 200 times."""
    return design[:POINT_IMPUTATIONS] if design.ndim == 3 else design


def _summarise(models, draws, design, imputed: bool) -> BatchPrediction:
    point, medians, per_draw = {}, {}, {}
    for name in STRATEGIES:
        best = predict_strategy(models[name], point_draws(draws[name]), point_design(design))
        drawn = predict_strategy(models[name], draws[name], design, INTERVAL_MONTHS)
        if imputed:  # each draw sees its own imputation; the point averages them
            centre, spread = {k: v.mean(axis=0) for k, v in best.items()}, drawn
        else:
            centre, spread = {k: v[0] for k, v in best.items()}, {
                k: v[1:] for k, v in drawn.items()}
        for quantity, values in centre.items():
            point[f"{name}_{quantity}"] = values
        for quantity, values in spread.items():
            per_draw[f"{name}_{quantity}"] = values
        for endpoint, median in point_medians(models[name], draws[name],
                                              point_design(design)).items():
            medians[f"{name}_median_{endpoint}_months"] = median
    for quantity in ("p_response", "p_complete_response", "p_cure", "p_durable_cr"):
        key = f"diff_{quantity}"
        point[key] = point[f"il2_{quantity}"] - point[f"tki_{quantity}"]
        per_draw[key] = per_draw[f"il2_{quantity}"] - per_draw[f"tki_{quantity}"]
    lo, hi = _intervals(per_draw)
    return BatchPrediction(point, lo, hi, medians, np.full(design.shape[-2], imputed))


def _intervals(per_draw: dict[str, np.ndarray]) -> tuple[dict, dict]:
    """2.5 and 97.5 % quantiles over the draws of every quantity at once (one partial sort
    of a (quantities, n, draws) block; linear interpolation between order statistics, as
    numpy's default percentile)."""
    keys = list(per_draw)
    block = np.ascontiguousarray(np.stack([per_draw[k] for k in keys]).transpose(0, 2, 1))
    d = block.shape[-1]
    positions = np.array([(1 - LEVEL) / 2, (1 + LEVEL) / 2]) * (d - 1)
    below, above = np.floor(positions).astype(int), np.ceil(positions).astype(int)
    ordered = np.partition(block, np.unique(np.concatenate([below, above])), axis=-1)
    weight = positions - below
    bounds = ordered[..., below] * (1 - weight) + ordered[..., above] * weight
    return ({k: bounds[i, :, 0] for i, k in enumerate(keys)},
            {k: bounds[i, :, 1] for i, k in enumerate(keys)})


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
    return BatchPrediction(*out, unknown)
