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
    prepare_strategy,
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


# every draw's survival is evaluated on this grid (the horizons among it): the 95 % band
# at each point gives the intervals of survival at 12/24/36/60 months, and where the
# band's edges cross one half, the interval of the median (the q-quantile over draws of
# the median is where the q-quantile of S(t) falls to 1/2, S being monotone in t)
BAND_MONTHS = np.unique(
    np.concatenate(
        [
            SURVIVAL_MONTHS,
            [3.0, 6.0, 9.0, 15.0, 18.0, 30.0, 42.0, 48.0, 72.0, 84.0, 96.0, 120.0],
            [150.0, 180.0, 240.0, 300.0, 420.0, 600.0, 1200.0],
        ]
    )
)
INTERVAL_MONTHS = SURVIVAL_MONTHS[-1:]  # what the point-only path evaluates (durable CR)


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
    """PFS and OS curves (n, T) of both strategies on ``GRID_MONTHS`` (``il2_os``,
    ``tki_pfs``, …), averaged over the imputations of unknown inputs, with their 95 %
    pointwise bands (``il2_os_lo``, ``il2_os_hi``, …) over the parameter draws (each draw
    its own imputation)."""
    unknown = has_unknown(values, n)
    curves: dict[str, np.ndarray] = {}
    for rows, imputed in ((np.flatnonzero(~unknown), False), (np.flatnonzero(unknown), True)):
        if rows.size == 0:
            continue
        design = patient_design(estimators, values, rows, imputed)
        pooled = PooledDesign.of(design)
        for name in STRATEGIES:
            got = point_curves(estimators.models[name], estimators.draws[name], pooled)
            got |= _curve_bands(estimators, name, design, imputed)
            for key, curve in got.items():
                key = f"{name}_{key}"
                curves.setdefault(key, np.full((n, len(GRID_MONTHS)), np.nan))[rows] = curve
    return curves


def _curve_bands(
    estimators: FittedEstimators, name: str, design: np.ndarray, imputed: bool
) -> dict[str, np.ndarray]:
    """2.5 and 97.5 % quantiles over the draws of both curves on ``GRID_MONTHS``."""
    draws = estimators.draws[name]
    if imputed:  # draw d sees imputation d mod n_imputations
        design = design[np.arange(estimators.n_draws) % design.shape[0]]
    prepared = prepare_strategy(estimators.models[name], draws, design)
    out = {}
    for endpoint in ("pfs", "os"):
        drawn = prepared.survival(endpoint, GRID_MONTHS)
        drawn = drawn if imputed else drawn[1:]
        low, high = np.quantile(drawn, [(1 - LEVEL) / 2, (1 + LEVEL) / 2], axis=0)
        out[f"{endpoint}_lo"], out[f"{endpoint}_hi"] = low, high
    return out


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
        drawn = predict_strategy(models[name], draws[name], paired, BAND_MONTHS)
        for quantity, values in drawn.items():  # imputed: each draw its own imputation
            per_draw[f"{name}_{quantity}"] = values if imputed else values[1:]
    for quantity in ("p_response", "p_complete_response", "p_cure", "p_durable_cr"):
        key = f"diff_{quantity}"
        point[key] = point[f"il2_{quantity}"] - point[f"tki_{quantity}"]
        per_draw[key] = per_draw[f"il2_{quantity}"] - per_draw[f"tki_{quantity}"]
    lo, hi = _intervals(per_draw)
    _median_bounds(lo, hi, medians)
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


def _median_bounds(lo: dict, hi: dict, medians: dict) -> None:
    """Replace the band's grid points by the medians' intervals (``..._median_..._lo`` and
    ``_hi`` in ``lo``/``hi``): where the band's lower edge falls to 1/2 is the median's
    lower bound, where its upper edge does, the upper bound (inf: not reached in 100
    years); linear interpolation between grid points. Survival at the horizons stays."""
    horizons = {int(m) for m in SURVIVAL_MONTHS}
    for name in STRATEGIES:
        for endpoint in ("pfs", "os"):
            keys = [f"{name}_{endpoint}_at_{int(m)}_months" for m in BAND_MONTHS]
            median = f"{name}_median_{endpoint}_months"
            for bounds in (lo, hi):
                band = np.column_stack([bounds[k] for k in keys])
                bounds[median] = _first_crossing(band, BAND_MONTHS)
            for month, key in zip(BAND_MONTHS.astype(int), keys, strict=True):
                if month not in horizons:
                    del lo[key], hi[key]
            # the point median is of the draws' mean curve: keep it inside its interval
            lo[median] = np.minimum(lo[median], medians[median])
            hi[median] = np.maximum(hi[median], medians[median])


def _first_crossing(curves: np.ndarray, months: np.ndarray) -> np.ndarray:
    """Where each row of ``curves`` (n, T) on ``months`` first falls to 1/2, linearly
    interpolated (from S = 1 at month 0); inf where it never does."""
    s = np.concatenate([np.ones((curves.shape[0], 1)), curves], axis=1)
    t = np.concatenate([[0.0], months])
    below = s <= 0.5
    reached = below.any(axis=1)
    after = np.maximum(np.argmax(below, axis=1), 1)
    rows = np.arange(s.shape[0])
    s0, s1 = s[rows, after - 1], s[rows, after]
    step = np.where(s0 > s1, s0 - s1, 1.0)
    crossing = t[after - 1] + np.clip((s0 - 0.5) / step, 0.0, 1.0) * (t[after] - t[after - 1])
    return np.where(reached, crossing, np.inf)


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
