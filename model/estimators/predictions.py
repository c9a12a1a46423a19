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
from model.estimators.group_misfit import allowance_at, allowance_knots
from model.estimators.imputation import has_unknown
from model.estimators.misfit import Z, tau_at, widen
from model.estimators.pooling import PooledDesign
from model.estimators.strategy_predictions import (
    GRID_MONTHS,
    SURVIVAL_MONTHS,
    point_curves,
    point_outlook,
    prepare_strategy,
    strategy_quantities,
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
    estimators: FittedEstimators,
    values: Mapping,
    n: int,
    derived: Derived | None = None,
    survival: bool = True,
) -> BatchPrediction:
    """Predictions for ``n`` patients given as column arrays (unknown = NaN); ``derived``
    (the rules on these rows) saves deriving them again. Without ``survival``, only the
    probabilities (what the policy decides on; survival is most of the cost)."""
    unknown = has_unknown(values, n)
    parts = []
    for rows, imputed in ((np.flatnonzero(~unknown), False), (np.flatnonzero(unknown), True)):
        if rows.size:
            design = patient_design(estimators, values, rows, imputed, derived)
            parts.append((rows, _summarise(estimators, design, imputed, survival)))
    return _assemble(parts, n, unknown)


# every draw's survival is evaluated at the horizons (their intervals) and at a bracket of
# times around each patient's point median: the q-quantile over draws of the median is
# where the q-quantile of S(t) falls to 1/2 (S is monotone in t), so where the band's
# edges cross one half inside the bracket are the median's interval (beyond it: 0 or
# not reached, the conservative ends)
MEDIAN_BRACKET = np.array([0.25, 0.4, 0.6, 0.8, 1.0, 1.25, 1.6, 2.5, 4.0])
UNREACHED_BRACKET_CENTRE = 240.0  # months: where a curve that never halves is bracketed


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
    # the response-group allowance (none for a version fitted before it)
    knots = allowance_knots(prepared, getattr(estimators, "group_misfit", {}).get(name, {}))
    out = {}
    for endpoint in ("pfs", "os"):
        every = prepared.survival(endpoint, GRID_MONTHS)
        drawn = every if imputed else every[1:]
        low, high = np.quantile(drawn, [(1 - LEVEL) / 2, (1 + LEVEL) / 2], axis=0)
        taus = getattr(estimators, "misfit", {}).get(name)
        if taus:  # the same model-error allowance as the horizons' intervals (0 at month 0)
            tau = tau_at(taus, endpoint, GRID_MONTHS)
            if endpoint in knots:
                tau = np.maximum(tau, allowance_at(knots[endpoint], GRID_MONTHS))
            centre = every.mean(axis=0) if imputed else every[0]
            low, high = widen(centre, low, high, tau)
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


def _summarise(
    estimators: FittedEstimators, design: np.ndarray, imputed: bool, survival: bool = True
) -> BatchPrediction:
    point, medians, per_draw = {}, {}, {}
    endpoints, horizons = (("pfs", "os"), SURVIVAL_MONTHS) if survival else (("pfs",), ())
    pooled = PooledDesign.of(design)
    models, draws = estimators.models, estimators.draws
    # with unknown inputs, draw d sees imputation d mod n_imputations
    paired = design[np.arange(estimators.n_draws) % design.shape[0]] if imputed else design
    group_misfit = getattr(estimators, "group_misfit", {})  # none before it existed
    allowances = {}  # per strategy and endpoint, each patient's group allowance (n, M)
    for name in STRATEGIES:
        best, middle = point_outlook(models[name], draws[name], pooled, survival)
        for quantity, values in best.items():  # imputed: the average over imputations
            point[f"{name}_{quantity}"] = values
        for endpoint, median in middle.items():
            medians[f"{name}_median_{endpoint}_months"] = median
        prepared = prepare_strategy(models[name], draws[name], paired, endpoints)
        drawn = strategy_quantities(prepared, horizons)
        if survival and name in group_misfit:
            allowances[name] = allowance_knots(prepared, group_misfit[name])
        for endpoint in middle:  # the band around the point median, (D, n, B)
            months = _bracket(middle[endpoint])
            drawn[f"{endpoint}_bracket"] = prepared.survival(endpoint, months)
            drawn[f"{endpoint}_bracket_months"] = months
        for quantity, values in drawn.items():  # imputed: each draw its own imputation
            keep_all = imputed or quantity.endswith("_bracket_months")  # months: not draws
            per_draw[f"{name}_{quantity}"] = values if keep_all else values[1:]
    for quantity in ("p_response", "p_complete_response", "p_cure", "p_durable_cr"):
        key = f"diff_{quantity}"
        point[key] = point[f"il2_{quantity}"] - point[f"tki_{quantity}"]
        per_draw[key] = per_draw[f"il2_{quantity}"] - per_draw[f"tki_{quantity}"]
    brackets = {k: per_draw.pop(k) for k in list(per_draw) if "_bracket" in k}
    lo, hi = _intervals(per_draw)
    nearest = design[0] if imputed else design  # imputation-major, nearest donor first
    misfit = getattr(estimators, "misfit", {})  # versions fitted before it have none
    for name, taus in misfit.items():
        at_horizons = {  # each patient's group allowance at the horizons, (n, 4)
            endpoint: allowance_at(knots, SURVIVAL_MONTHS)
            for endpoint, knots in allowances.get(name, {}).items()
        }
        for quantity, tau in taus.items():
            key = f"{name}_{quantity}"
            if key in lo:
                tau = _with_allowance(tau, at_horizons, quantity)
                lo[key], hi[key] = widen(point[key], lo[key], hi[key], tau)
    if survival:
        _median_bounds(lo, hi, medians, brackets, misfit, allowances)
    return BatchPrediction(point, lo, hi, medians, np.full(design.shape[-2], imputed), nearest)


def _with_allowance(tau: float, at_horizons: dict[str, np.ndarray], quantity: str):
    """A horizon's model-error allowance: the mixture's ``tau`` or, where larger, the
    patient's response-group allowance at that month ((n,) then; ``at_horizons``: per
    endpoint, (n, 4) at ``SURVIVAL_MONTHS``)."""
    endpoint, _, rest = quantity.partition("_at_")
    if endpoint not in at_horizons or not rest.endswith("_months"):
        return tau
    column = np.flatnonzero(SURVIVAL_MONTHS == float(rest.removesuffix("_months")))
    return np.maximum(tau, at_horizons[endpoint][:, column[0]])


def _intervals(per_draw: dict[str, np.ndarray]) -> tuple[dict, dict]:
    """2.5 and 97.5 % quantiles over the draws (axis 0) of every quantity, linearly
    interpolated between order statistics as numpy's default percentile."""
    lo, hi = {}, {}
    for key, values in per_draw.items():
        lo[key], hi[key] = _quantiles(values)
    return lo, hi


def _quantiles(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d = values.shape[0]
    positions = np.array([(1 - LEVEL) / 2, (1 + LEVEL) / 2]) * (d - 1)
    below, above = np.floor(positions).astype(int), np.ceil(positions).astype(int)
    weight = (positions - below).astype(values.dtype)
    # a full sort beats a partition at four order statistics: numpy's vectorised sort is
    # 3-5 times faster on 200 draws (bench: 35 ms against 9 ms for 199 x 9,000 doubles)
    order = np.sort(values, axis=0)
    lift = (slice(None), *([None] * (values.ndim - 1)))
    bounds = order[below] * (1 - weight)[lift] + order[above] * weight[lift]
    bounds = bounds.astype(np.float64)  # single-precision draws: no float32 digits shown
    return bounds[0], bounds[1]


def _bracket(median: np.ndarray) -> np.ndarray:
    """(n, B) months around each point median (a fixed centre where it is never reached)."""
    centre = np.where(np.isfinite(median), median, UNREACHED_BRACKET_CENTRE)
    return centre[:, None] * MEDIAN_BRACKET[None, :]


def _median_bounds(
    lo: dict, hi: dict, medians: dict, brackets: dict, misfit: dict, allowances: dict
) -> None:
    """The medians' intervals (``..._median_..._months`` in ``lo``/``hi``): where the band's
    lower edge falls to 1/2 is the median's lower bound, where its upper edge does, the
    upper bound; 0 before the bracket, inf (not reached) beyond it. The band carries the
    model-error allowance of the nearest horizons (``misfit``, or the patient's
    response-group allowance where larger) in quadrature, as every other interval does
    (``misfit.widen``). Added to the edges linearly instead, the allowance over-covered the
    TKI medians (0.991 mean coverage over 6 training seeds, 0.998 on one) and covered the
    IL-2 medians on one seed only by luck of that seed's fit (``bench.train
    --coverage-seeds``)."""
    for name in STRATEGIES:
        for endpoint in ("pfs", "os"):
            months = brackets[f"{name}_{endpoint}_bracket_months"]
            low, high = _quantiles(brackets[f"{name}_{endpoint}_bracket"])
            taus = misfit.get(name, {})
            if taus:
                tau = tau_at(taus, endpoint, months, from_zero=False)
                knots = allowances.get(name, {}).get(endpoint)
                if knots is not None:
                    tau = np.maximum(tau, allowance_at(knots, months))
                middle, half = (low + high) / 2, (high - low) / 2
                half = np.sqrt(half**2 + (Z * tau) ** 2)
                low, high = middle - half, middle + half
            median = f"{name}_median_{endpoint}_months"
            lo[median] = np.minimum(_first_crossing(low, months, before=0.0), medians[median])
            hi[median] = np.maximum(_first_crossing(high, months), medians[median])


def _first_crossing(curves: np.ndarray, months: np.ndarray, before: float | None = None):
    """Where each row of ``curves`` (n, T) on its ``months`` (n, T, increasing) first falls
    to 1/2, linearly interpolated; ``before`` where it is already there at the first
    month (None: interpolate from S = 1 at month 0), inf where it never falls."""
    below = curves <= 0.5
    reached = below.any(axis=1)
    after = np.argmax(below, axis=1)
    rows = np.arange(curves.shape[0])
    first = after == 0
    prev = np.maximum(after - 1, 0)
    s0 = np.where(first, 1.0, curves[rows, prev])
    t0 = np.where(first, 0.0, months[rows, prev])
    s1, t1 = curves[rows, after], months[rows, after]
    step = np.where(s0 > s1, s0 - s1, 1.0)
    crossing = t0 + np.clip((s0 - 0.5) / step, 0.0, 1.0) * (t1 - t0)
    if before is not None:
        crossing = np.where(first, before, crossing)
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
