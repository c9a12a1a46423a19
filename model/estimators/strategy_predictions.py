"""A strategy's predictions for a batch of patients and every parameter draw.

Shapes: D draws (row 0 = the point estimate), n patients, T months. ``design`` is (n, p),
or (D, n, p) when each draw sees its own imputation of a patient's unknown inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from model.contract.columns import DURABLE_MONTHS, SURVIVAL_HORIZONS_MONTHS
from model.estimators.linear import linear_predictor
from model.estimators.pooling import PooledDesign
from model.estimators.strategy import StrategyDraws, StrategyModel
from model.estimators.survival import PreparedCurve

SURVIVAL_MONTHS = np.array(SURVIVAL_HORIZONS_MONTHS, dtype=float)
GRID_MONTHS = np.arange(0, 121, dtype=float)
DURABLE_AT_MONTHS = np.array([float(DURABLE_MONTHS)])


def group_probabilities(
    model: StrategyModel, draws: StrategyDraws, design: np.ndarray
) -> dict[str, np.ndarray]:
    """P(CR), P(PR), P(SD), P(PD), each (D, n)."""
    eta = linear_predictor(draws.response, design)
    p_response = expit(eta)
    if model.complete_on_response_index:
        given = expit(draws.complete[:, :1] + draws.complete[:, 1:2] * eta)
    else:
        given = model.complete_given_response.predict(design, draws.complete)
    p_cr = p_response * given
    p_stable = expit(linear_predictor(draws.stable, design))
    return {
        "CR": p_cr,
        "PR": p_response - p_cr,
        "SD": (1.0 - p_response) * p_stable,
        "PD": (1.0 - p_response) * (1.0 - p_stable),
    }


def prepare_groups(components, component_draws, groups, design) -> dict[str, PreparedCurve]:
    """Each response group's survival curve for these patients and draws, prepared once."""
    return {name: components[name].prepare(design, component_draws[name]) for name in groups}


def mixture(curves: dict[str, PreparedCurve], groups):
    """S(t) of the response mixture as a function of months, (D, n, T): the sum over
    groups of w (c exp(-b t) + (1 - c) exp(-H)), computed as the sum of w (1 - c) exp(-H)
    (each group one product and one sum over (D, n, T) beyond its own curve) plus the
    cured's w c exp(-b t)."""
    factors, cured = [], []
    for name, curve in curves.items():
        weight = groups[name][..., None].astype(curve.dtype, copy=False)
        if curve.cure is not None:
            cured.append((weight * curve.cure, curve))
            weight = weight * (1 - curve.cure)
        factors.append((weight, curve))

    def at(months: np.ndarray) -> np.ndarray:
        total = None
        for weight, curve in factors:
            part = curve.uncured_at(months)
            shape = np.broadcast_shapes(part.shape, weight.shape)
            part = np.multiply(part, weight, out=part if part.shape == shape else None)
            total = part if total is None else np.add(total, part, out=total)
        for share, curve in cured:  # the cured, dying of other causes only: w c exp(-b t)
            np.add(total, share * curve.cured_at(months), out=total)
        return total

    return at


@dataclass(frozen=True)
class PreparedStrategy:
    """A strategy's response groups and every group's PFS and OS curve, prepared once for
    fixed draws and patients."""

    model: StrategyModel
    draws: StrategyDraws
    design: np.ndarray
    groups: dict[str, np.ndarray]
    curves: dict[str, dict[str, PreparedCurve]]

    def survival(self, endpoint: str, months: np.ndarray) -> np.ndarray:
        """S(t) of the response mixture, (D, n, T)."""
        return mixture(self.curves[endpoint], self.groups)(months)


def prepare_strategy(
    model: StrategyModel,
    draws: StrategyDraws,
    design: np.ndarray,
    endpoints: tuple[str, ...] = ("pfs", "os"),
) -> PreparedStrategy:
    """The response groups and the curves of ``endpoints`` (PFS alone is enough for the
    probabilities: cure and durable remission read the complete responders' PFS)."""
    groups = group_probabilities(model, draws, design)
    curves = {
        endpoint: prepare_groups(getattr(model, endpoint), getattr(draws, endpoint), groups, design)
        for endpoint in endpoints
    }
    return PreparedStrategy(model, draws, design, groups, curves)


def strategy_quantities(
    prepared: PreparedStrategy, months: np.ndarray = SURVIVAL_MONTHS
) -> dict[str, np.ndarray]:
    """Every (D, n) quantity: response, complete response, cure, toxicity, and survival
    at ``months`` (none when empty)."""
    model, groups, complete = prepared.model, prepared.groups, prepared.curves["pfs"]["CR"]
    out = {
        "p_response": groups["CR"] + groups["PR"],
        "p_complete_response": groups["CR"],
        "p_cure": groups["CR"] * complete.cure_fraction(),
        # a complete remission still without progression at 60 months (BRIEF: durable)
        "p_durable_cr": groups["CR"] * complete.at(DURABLE_AT_MONTHS)[..., 0],
    }
    if model.toxicity is not None:
        tox_design = prepared.design[..., list(model.toxicity_columns)]
        out["p_severe_cardiac_toxicity"] = model.toxicity.predict(
            tox_design, prepared.draws.toxicity
        )
    months = np.asarray(months, dtype=float)
    if months.size:
        for endpoint in ("pfs", "os"):
            at_months = prepared.survival(endpoint, months)
            for i, month in enumerate(months.astype(int)):
                out[f"{endpoint}_at_{month}_months"] = at_months[..., i]
    return out


def predict_strategy(
    model: StrategyModel,
    draws: StrategyDraws,
    design: np.ndarray,
    months: np.ndarray = SURVIVAL_MONTHS,
) -> dict[str, np.ndarray]:
    """Every (D, n) quantity at ``months`` (12/24/36/60 by default) for every draw."""
    return strategy_quantities(prepare_strategy(model, draws, design), months)


def point_curves(
    model: StrategyModel,
    draws: StrategyDraws,
    pooled: PooledDesign,
    months: np.ndarray = GRID_MONTHS,
) -> dict[str, np.ndarray]:
    """Point-estimate PFS and OS curves (n, T), averaged over imputations when given."""
    prepared = prepare_strategy(model, point_draws(draws), pooled.design)
    return {
        endpoint: pooled.pool(prepared.survival(endpoint, months)[0]) for endpoint in ("pfs", "os")
    }


# a median is bracketed on this coarse grid (3-monthly to 10 years, then 12 % steps to 100
# years), and the bracket is divided in 16 twice: located to 3/256 month, then interpolated.
# The grid holds SURVIVAL_MONTHS: the point survival at 12/24/36/60 months is read off it.
MEDIAN_GRID_MONTHS = np.concatenate([np.arange(0.0, 120.0, 3.0), np.geomspace(120.0, 1200.0, 21)])
REFINE_STEPS = np.linspace(0.0, 1.0, 17)
REFINEMENTS = 2
_SURVIVAL_COLUMNS = np.searchsorted(MEDIAN_GRID_MONTHS, SURVIVAL_MONTHS)
assert np.array_equal(MEDIAN_GRID_MONTHS[_SURVIVAL_COLUMNS], SURVIVAL_MONTHS)


def point_outlook(
    model: StrategyModel, draws: StrategyDraws, pooled: PooledDesign, survival: bool = True
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Point estimates (n,) of every quantity, survival at 12/24/36/60 months included, and
    the median PFS and OS (n,), of the point curves averaged over imputations. A median is
    inf when the curve stays above 0.5 (a cure fraction of one half or more, or beyond 100
    years): a coarse grid brackets the crossing, two finer grids inside the bracket narrow
    it, and linear interpolation finishes (about 95 evaluations of the curve). Without
    ``survival``, the probabilities alone (no survival, no medians)."""
    endpoints = ("pfs", "os") if survival else ("pfs",)
    prepared = prepare_strategy(model, point_draws(draws), pooled.design, endpoints)
    point = {k: pooled.pool(v[0]) for k, v in strategy_quantities(prepared, ()).items()}
    medians = {}
    for endpoint in endpoints if survival else ():

        def curve(months, endpoint=endpoint):
            return pooled.pool(prepared.survival(endpoint, pooled.rows_of(months))[0])

        coarse = curve(MEDIAN_GRID_MONTHS)
        for month, column in zip(SURVIVAL_MONTHS.astype(int), _SURVIVAL_COLUMNS, strict=True):
            point[f"{endpoint}_at_{month}_months"] = coarse[:, column]
        below = coarse <= 0.5
        reached = below.any(axis=1)
        first = np.maximum(np.argmax(below, axis=1), 1)
        lo, hi = MEDIAN_GRID_MONTHS[first - 1], MEDIAN_GRID_MONTHS[first]
        rows = np.arange(len(lo))
        for _ in range(REFINEMENTS - 1):
            months = lo[:, None] + (hi - lo)[:, None] * REFINE_STEPS[None, :]
            after = np.maximum(np.argmax(curve(months) <= 0.5, axis=1), 1)
            lo, hi = months[rows, after - 1], months[rows, after]
        fine_months = lo[:, None] + (hi - lo)[:, None] * REFINE_STEPS[None, :]
        medians[endpoint] = np.where(reached, _crossing(curve(fine_months), fine_months), np.inf)
    return point, medians


def _crossing(curves: np.ndarray, months: np.ndarray) -> np.ndarray:
    """Where each row of ``curves`` (n, T) first falls to 0.5, linearly interpolated."""
    rows = np.arange(curves.shape[0])
    after = np.maximum(np.argmax(curves <= 0.5, axis=1), 1)
    s0, s1 = curves[rows, after - 1], curves[rows, after]
    t0, t1 = months[rows, after - 1], months[rows, after]
    step = np.where(s0 > s1, s0 - s1, 1.0)
    return t0 + np.clip((s0 - 0.5) / step, 0.0, 1.0) * (t1 - t0)


def point_draws(draws: StrategyDraws) -> StrategyDraws:
    """Only the point estimate (draw 0) of every part."""

    def first(a):
        return None if a is None else a[:1]

    return StrategyDraws(
        first(draws.response),
        first(draws.complete),
        first(draws.toxicity),
        {k: v[:1] for k, v in draws.pfs.items()},
        {k: v[:1] for k, v in draws.os.items()},
        first(draws.stable),
    )
