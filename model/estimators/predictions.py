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
from model.estimators.draw_intervals import (
    LEVEL,
    bracket,
    intervals,
    median_bounds,
    with_allowance,
)
from model.estimators.fitted import STRATEGIES, FittedEstimators
from model.estimators.group_misfit import allowance_at, allowance_knots
from model.estimators.imputation import has_unknown
from model.estimators.misfit import tau_at, widen
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
    probabilities (what the policy decides on; survival is most of the cost). A small
    batch with both complete patients and patients with unknown inputs is computed in one
    pass (``PatientDesigns.mixed``); a large one in two, one per kind."""
    unknown = has_unknown(values, n)
    kinds = [(np.flatnonzero(~unknown), False), (np.flatnonzero(unknown), True)]
    built = [
        (rows, patient_design(estimators, values, rows, imputed, derived), imputed)
        for rows, imputed in kinds
        if rows.size
    ]
    n_draws = estimators.n_draws
    if len(built) == 2 and n <= MIXED_BATCH_MAX_ROWS:
        designs = PatientDesigns.mixed(built, n, n_draws)
        return _summarise(estimators, designs, survival)
    parts = [
        (rows, _summarise(estimators, PatientDesigns.of(design, imputed, n_draws), survival))
        for rows, design, imputed in built
    ]
    return _assemble(parts, n, unknown)


# a batch this small is computed in one pass even when it mixes complete patients and
# patients with unknown inputs: its cost is the numpy calls, not the arithmetic (CPU in
# process, 150 alternated rounds: 4 complete + 1 unknown 21.2 ms in two passes, 16.2 in
# one; 5 random clinic-list patients 22.4 and 17.9); /predict's chunks of 1,000 keep one
# pass per kind (a complete patient's draws share one design row there, not one per draw)
MIXED_BATCH_MAX_ROWS = 64


@dataclass(frozen=True)
class PatientDesigns:
    """What ``_summarise`` reads for a batch: the distinct predictor rows its point
    estimates average (``pooled``), the predictors each parameter draw sees (``paired``:
    (n, p) shared, or (D, n, p) where draw d sees imputation d mod K), which rows' draw 0
    counts in their intervals (``with_point``: rows with unknown inputs), which rows had
    unknown inputs, and the nearest donor's completion of each row (``nearest``)."""

    pooled: PooledDesign
    paired: np.ndarray
    with_point: bool | np.ndarray
    imputed: np.ndarray
    nearest: np.ndarray

    @classmethod
    def of(cls, design: np.ndarray, imputed: bool, n_draws: int) -> PatientDesigns:
        """One kind of patient: ``design`` (n, p) complete, or (K, n, p) imputed."""
        n = design.shape[-2]
        paired = design[np.arange(n_draws) % design.shape[0]] if imputed else design
        nearest = design[0] if imputed else design  # imputation-major, nearest donor first
        return cls(PooledDesign.of(design), paired, imputed, np.full(n, imputed), nearest)

    @classmethod
    def mixed(cls, built: list, n: int, n_draws: int) -> PatientDesigns:
        """Both kinds in row order: ``built`` is [(rows, design, imputed)] for the complete
        then the imputed rows."""
        (complete, own, _), (unknown, donors, _) = built
        k, p = donors.shape[0], donors.shape[-1]
        paired = np.empty((n_draws, n, p))
        paired[:, complete] = own
        paired[:, unknown] = donors[np.arange(n_draws) % k]
        nearest = np.empty((n, p))
        nearest[complete], nearest[unknown] = own, donors[0]
        imputed = np.zeros(n, dtype=bool)
        imputed[unknown] = True
        pooled = PooledDesign.joined(
            [(complete, PooledDesign.of(own)), (unknown, PooledDesign.of(donors))], n
        )
        return cls(pooled, paired, imputed, imputed, nearest)


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
    estimators: FittedEstimators, designs: PatientDesigns, survival: bool = True
) -> BatchPrediction:
    point, medians, per_draw = {}, {}, {}
    endpoints, horizons = (("pfs", "os"), SURVIVAL_MONTHS) if survival else (("pfs",), ())
    models, draws = estimators.models, estimators.draws
    group_misfit = getattr(estimators, "group_misfit", {})  # none before it existed
    allowances = {}  # per strategy and endpoint, each patient's group allowance (n, M)
    for name in STRATEGIES:
        best, middle = point_outlook(models[name], draws[name], designs.pooled, survival)
        for quantity, values in best.items():  # imputed: the average over imputations
            point[f"{name}_{quantity}"] = values
        for endpoint, median in middle.items():
            medians[f"{name}_median_{endpoint}_months"] = median
        prepared = prepare_strategy(models[name], draws[name], designs.paired, endpoints)
        drawn = strategy_quantities(prepared, horizons)
        if survival and name in group_misfit:
            allowances[name] = allowance_knots(prepared, group_misfit[name])
        for endpoint in middle:  # the band around the point median, (D, n, B)
            months = bracket(middle[endpoint])
            drawn[f"{endpoint}_bracket"] = prepared.survival(endpoint, months)
            per_draw[f"{name}_{endpoint}_bracket_months"] = months  # months, not draws
        for quantity, values in drawn.items():  # every draw: ``with_point`` picks
            per_draw[f"{name}_{quantity}"] = values
    for quantity in ("p_response", "p_complete_response", "p_cure", "p_durable_cr"):
        key = f"diff_{quantity}"
        point[key] = point[f"il2_{quantity}"] - point[f"tki_{quantity}"]
        per_draw[key] = per_draw[f"il2_{quantity}"] - per_draw[f"tki_{quantity}"]
    brackets = {k: per_draw.pop(k) for k in list(per_draw) if "_bracket" in k}
    lo, hi = intervals(per_draw, designs.with_point)
    misfit = getattr(estimators, "misfit", {})  # versions fitted before it have none
    for name, taus in misfit.items():
        at_horizons = {  # each patient's group allowance at the horizons, (n, 4)
            endpoint: allowance_at(knots, SURVIVAL_MONTHS)
            for endpoint, knots in allowances.get(name, {}).items()
        }
        for quantity, tau in taus.items():
            key = f"{name}_{quantity}"
            if key in lo:
                tau = with_allowance(tau, at_horizons, quantity)
                lo[key], hi[key] = widen(point[key], lo[key], hi[key], tau)
    median_bounds(lo, hi, medians, brackets, misfit, allowances, designs.with_point)
    return BatchPrediction(point, lo, hi, medians, designs.imputed, designs.nearest)


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
