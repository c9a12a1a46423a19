"""A strategy's predictions for a batch of patients and every parameter draw.

Shapes: D draws (row 0 = the point estimate), n patients, T months. ``design`` is (n, p),
or (D, n, p) when each draw sees its own imputation of a patient's unknown inputs.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from model.linear import linear_predictor
from model.strategy import StrategyDraws, StrategyModel

SURVIVAL_MONTHS = np.array([12.0, 24.0, 36.0, 60.0])
GRID_MONTHS = np.arange(0, 121, dtype=float)
DURABLE_MONTHS = np.array([60.0])


def group_probabilities(model: StrategyModel, draws: StrategyDraws,
                        design: np.ndarray) -> dict[str, np.ndarray]:
    """P(CR), P(PR), P(no response), each (D, n)."""
    eta = linear_predictor(draws.response, design)
    p_response = expit(eta)
    if model.complete_on_response_index:
        given = expit(draws.complete[:, :1] + draws.complete[:, 1:2] * eta)
    else:
        given = model.complete_given_response.predict(design, draws.complete)
    p_cr = p_response * given
    return {"CR": p_cr, "PR": p_response - p_cr, "NR": 1.0 - p_response}


def mixture_survival(components, component_draws, groups, design, months) -> np.ndarray:
    """S(t) of the response mixture, (D, n, T)."""
    total = 0.0
    for name, weight in groups.items():
        curve = components[name].survival(design, months, component_draws[name])
        total = total + weight[..., None] * curve
    return total


def predict_strategy(model: StrategyModel, draws: StrategyDraws, design: np.ndarray,
                     months: np.ndarray = SURVIVAL_MONTHS) -> dict[str, np.ndarray]:
    """Every (D, n) quantity: response, complete response, cure, toxicity, and survival
    at ``months`` (12/24/36/60 by default)."""
    groups = group_probabilities(model, draws, design)
    out = {
        "p_response": groups["CR"] + groups["PR"],
        "p_complete_response": groups["CR"],
        "p_cure": groups["CR"] * model.pfs["CR"].cure_fraction(design, draws.pfs["CR"]),
        # a complete remission still without progression at 60 months (BRIEF: durable)
        "p_durable_cr": groups["CR"] * model.pfs["CR"].survival(
            design, DURABLE_MONTHS, draws.pfs["CR"])[..., 0],
    }
    if model.toxicity is not None:
        tox_design = design[..., list(model.toxicity_columns)]
        out["p_severe_cardiac_toxicity"] = model.toxicity.predict(tox_design, draws.toxicity)
    for endpoint in ("pfs", "os"):
        curves = mixture_survival(getattr(model, endpoint), getattr(draws, endpoint), groups,
                                  design, np.asarray(months, dtype=float))
        for i, month in enumerate(np.asarray(months).astype(int)):
            out[f"{endpoint}_at_{month}_months"] = curves[..., i]
    return out


def point_curves(model: StrategyModel, draws: StrategyDraws, design: np.ndarray,
                 months: np.ndarray = GRID_MONTHS) -> dict[str, np.ndarray]:
    """Point-estimate PFS and OS curves (n, T), averaged over imputations when given."""
    groups = group_probabilities(model, point_draws(draws), design)
    return {endpoint: mixture_survival(getattr(model, endpoint),
                                       getattr(point_draws(draws), endpoint), groups, design,
                                       months).mean(axis=0)
            for endpoint in ("pfs", "os")}


# a median is bracketed on this coarse grid, then located on a fine grid inside the bracket
MEDIAN_GRID_MONTHS = np.concatenate([np.arange(0.0, 121.0, 1.0), np.arange(132.0, 1201.0, 12.0)])
FINE_STEPS = np.linspace(0.0, 1.0, 33)  # a 1-month bracket in steps of 1/32 month


def point_medians(model: StrategyModel, draws: StrategyDraws,
                  design: np.ndarray) -> dict[str, np.ndarray]:
    """Median PFS and OS (n,) of the point curve (averaged over imputations); inf when the
    curve stays above 0.5 (a cure fraction of one half or more, or beyond 100 years).
    Two evaluations of the curve: a coarse grid brackets the crossing, a fine grid inside
    the bracket locates it, and linear interpolation finishes."""
    point = point_draws(draws)
    groups = group_probabilities(model, point, design)
    out = {}
    for endpoint in ("pfs", "os"):
        components, comp_draws = getattr(model, endpoint), getattr(point, endpoint)

        def curve(months, components=components, comp_draws=comp_draws):
            return mixture_survival(components, comp_draws, groups, design, months).mean(axis=0)

        coarse = curve(MEDIAN_GRID_MONTHS)
        below = coarse <= 0.5
        reached = below.any(axis=1)
        first = np.maximum(np.argmax(below, axis=1), 1)
        lo, hi = MEDIAN_GRID_MONTHS[first - 1], MEDIAN_GRID_MONTHS[first]
        fine_months = lo[:, None] + (hi - lo)[:, None] * FINE_STEPS[None, :]
        fine = curve(fine_months)
        out[endpoint] = np.where(reached, _crossing(fine, fine_months), np.inf)
    return out


def _crossing(curves: np.ndarray, months: np.ndarray) -> np.ndarray:
    """Where each row of ``curves`` (n, T) first falls to 0.5, linearly interpolated."""
    below = curves <= 0.5
    after = np.maximum(np.argmax(below, axis=1), 1)[:, None]
    s0, s1 = (np.take_along_axis(curves, i, 1)[:, 0] for i in (after - 1, after))
    t0, t1 = (np.take_along_axis(months, i, 1)[:, 0] for i in (after - 1, after))
    step = np.where(s0 > s1, s0 - s1, 1.0)
    return t0 + np.clip((s0 - 0.5) / step, 0.0, 1.0) * (t1 - t0)


def point_draws(draws: StrategyDraws) -> StrategyDraws:
    """Only the point estimate (draw 0) of every part."""
    def first(a):
        return None if a is None else a[:1]

    return StrategyDraws(first(draws.response), first(draws.complete), first(draws.toxicity),
                         {k: v[:1] for k, v in draws.pfs.items()},
                         {k: v[:1] for k, v in draws.os.items()})
