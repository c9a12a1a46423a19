"""How far the survival models' shape misses the data they were fitted on, measured on that
data alone (no truth): an allowance the survival intervals carry beside the parameter
uncertainty of the draws.

For each strategy, endpoint and horizon, the patients who received the strategy are
grouped by decile of their predicted survival; in each decile the mean prediction is
compared with the Kaplan–Meier estimate. The spread of those gaps beyond what sampling
explains (their squares less the KM variance, averaged) estimates the model error tau;
an interval's half-width then becomes sqrt(half-width^2 + (1.96 tau)^2). Parameter
draws shrink as the cohort grows; a model's shape error does not, and without this
allowance intervals from a large cohort missed the truth most of the time.
"""

from __future__ import annotations

import numpy as np

from model.estimators.strategy import StrategyDraws, StrategyModel
from model.estimators.strategy_predictions import (
    SURVIVAL_MONTHS,
    point_draws,
    prepare_strategy,
)

N_GROUPS = 10
Z = 1.959964


def survival_misfit(
    model: StrategyModel,
    draws: StrategyDraws,
    design: np.ndarray,
    outcomes: dict[str, tuple[np.ndarray, np.ndarray]],
) -> dict[str, float]:
    """tau per ``{endpoint}_at_{month}_months`` for one strategy's own patients;
    ``outcomes[endpoint]`` is their (time, event)."""
    prepared = prepare_strategy(model, point_draws(draws), design)
    out = {}
    for endpoint, (time, event) in outcomes.items():
        predicted = prepared.survival(endpoint, SURVIVAL_MONTHS)[0]  # (n, 4)
        for j, month in enumerate(SURVIVAL_MONTHS):
            out[f"{endpoint}_at_{int(month)}_months"] = _tau(predicted[:, j], time, event, month)
    return out


def _tau(predicted: np.ndarray, time: np.ndarray, event: np.ndarray, month: float) -> float:
    edges = np.quantile(predicted, np.linspace(0, 1, N_GROUPS + 1)[1:-1])
    groups = np.searchsorted(edges, predicted, side="right")
    excess = []
    for g in np.unique(groups):
        rows = groups == g
        km, variance = _kaplan_meier_at(time[rows], event[rows], month)
        excess.append((predicted[rows].mean() - km) ** 2 - variance)
    return float(np.sqrt(max(0.0, float(np.mean(excess)))))


def _kaplan_meier_at(time: np.ndarray, event: np.ndarray, month: float) -> tuple[float, float]:
    """Kaplan–Meier survival at ``month`` and its Greenwood variance."""
    event = np.asarray(event, dtype=bool)
    order = np.lexsort((~event, time))  # at a tied time, deaths before censorings
    t, e = time[order], event[order]
    at_risk = len(t) - np.arange(len(t))
    keep = e & (t <= month)
    factors = 1.0 - 1.0 / at_risk[keep]
    survival = float(np.prod(factors))
    terms = 1.0 / (at_risk[keep] * (at_risk[keep] - 1.0)).clip(min=1.0)
    return survival, survival**2 * float(np.sum(terms))


def widen(point: np.ndarray, lo: np.ndarray, hi: np.ndarray, tau: float):
    """An interval's bounds with the model-error allowance added in quadrature, in [0, 1]."""
    extra = (Z * tau) ** 2
    low = point - np.sqrt((point - lo) ** 2 + extra)
    high = point + np.sqrt((hi - point) ** 2 + extra)
    return np.clip(low, 0.0, 1.0), np.clip(high, 0.0, 1.0)
