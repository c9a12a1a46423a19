"""95 % intervals from parameter draws: quantiles over the draws, and a median's interval
from the band of the curves around it.

Which draws count: a complete patient's draw 0 is the point estimate itself, so its
interval is read from draws 1… only; a patient with unknown inputs pairs every draw, draw 0
included, with one of their imputations. ``with_point`` says which, for the whole batch or
per row (a batch that mixes both kinds, computed in one pass).
"""

from __future__ import annotations

import numpy as np

from model.estimators.fitted import STRATEGIES
from model.estimators.group_misfit import allowance_at
from model.estimators.misfit import Z, tau_at
from model.estimators.strategy_predictions import SURVIVAL_MONTHS

LEVEL = 0.95
_TAILS = np.array([(1 - LEVEL) / 2, (1 + LEVEL) / 2])

# every draw's survival is evaluated at the horizons (their intervals) and at a bracket of
# times around each patient's point median: the q-quantile over draws of the median is
# where the q-quantile of S(t) falls to 1/2 (S is monotone in t), so where the band's
# edges cross one half inside the bracket are the median's interval (beyond it: 0 or
# not reached, the conservative ends)
MEDIAN_BRACKET = np.array([0.25, 0.4, 0.6, 0.8, 1.0, 1.25, 1.6, 2.5, 4.0])
UNREACHED_BRACKET_CENTRE = 240.0  # months: where a curve that never halves is bracketed
# each median's strategy and endpoint, by its name in the answers
MEDIAN_KEYS = {
    f"{name}_median_{endpoint}_months": (name, endpoint)
    for name in STRATEGIES
    for endpoint in ("pfs", "os")
}


def intervals(per_draw: dict[str, np.ndarray], with_point: bool | np.ndarray) -> tuple[dict, dict]:
    """2.5 and 97.5 % quantiles over the draws (axis 0, all of them) of every quantity,
    linearly interpolated between order statistics as numpy's default percentile. The
    quantities of one precision and shape are sorted together, stacked on a last axis:
    the same numbers, a few numpy calls a batch instead of a few per quantity."""
    alike: dict[tuple, list[str]] = {}
    for key, values in per_draw.items():
        alike.setdefault((values.dtype.str, values.shape), []).append(key)
    lo, hi = {}, {}
    for keys in alike.values():
        low, high = quantiles(np.stack([per_draw[k] for k in keys], axis=-1), with_point)
        for j, key in enumerate(keys):
            lo[key], hi[key] = low[..., j], high[..., j]
    return lo, hi


def quantiles(
    values: np.ndarray, with_point: bool | np.ndarray = True
) -> tuple[np.ndarray, np.ndarray]:
    """The interval's ends over the draws (D, n, ...), draw 0 counted where ``with_point``
    (one flag, or one bool per row (n,)). Per row, a complete patient's draw 0 is moved
    past every other draw (NaN sorts last, after +inf and with any NaN draw) and its order
    statistics are read among the D - 1 left: the same numbers as over draws 1… alone."""
    if np.ndim(with_point) == 0:
        return _ordered(np.sort(values if with_point else values[1:], axis=0), None)
    values = values.copy()
    values[0, ~np.asarray(with_point, dtype=bool)] = np.nan
    counts = np.where(with_point, values.shape[0], values.shape[0] - 1)
    # a full sort beats a partition at four order statistics: numpy's vectorised sort is
    # 3-5 times faster on 200 draws (bench: 35 ms against 9 ms for 199 x 9,000 doubles)
    return _ordered(np.sort(values, axis=0), counts)


def _ordered(order: np.ndarray, counts: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Interpolated order statistics of sorted draws; ``counts`` (n,): how many of each
    row's draws count (None: all)."""
    if counts is None:
        positions = _TAILS * (order.shape[0] - 1)  # (2,)
    else:
        positions = _TAILS[:, None] * (counts - 1)[None, :]  # (2, n)
    below, above = np.floor(positions).astype(int), np.ceil(positions).astype(int)
    weight = (positions - below).astype(order.dtype)
    if counts is None:
        lift = (slice(None), *([None] * (order.ndim - 1)))
        bounds = order[below] * (1 - weight)[lift] + order[above] * weight[lift]
    else:  # per row: indices (2, n, 1, ...) along the draws
        shape = (*positions.shape, *([1] * (order.ndim - 2)))
        below, above, weight = (a.reshape(shape) for a in (below, above, weight))
        bounds = np.take_along_axis(order, below, 0) * (1 - weight)
        bounds += np.take_along_axis(order, above, 0) * weight
    bounds = bounds.astype(np.float64)  # single-precision draws: no float32 digits shown
    return bounds[0], bounds[1]


def with_allowance(tau: float, at_horizons: dict[str, np.ndarray], quantity: str):
    """A horizon's model-error allowance: the mixture's ``tau`` or, where larger, the
    patient's response-group allowance at that month ((n,) then; ``at_horizons``: per
    endpoint, (n, 4) at ``SURVIVAL_MONTHS``)."""
    endpoint, _, rest = quantity.partition("_at_")
    if endpoint not in at_horizons or not rest.endswith("_months"):
        return tau
    column = np.flatnonzero(SURVIVAL_MONTHS == float(rest.removesuffix("_months")))
    return np.maximum(tau, at_horizons[endpoint][:, column[0]])


def bracket(median: np.ndarray) -> np.ndarray:
    """(n, B) months around each point median (a fixed centre where it is never reached)."""
    centre = np.where(np.isfinite(median), median, UNREACHED_BRACKET_CENTRE)
    return centre[:, None] * MEDIAN_BRACKET[None, :]


def median_bounds(
    lo: dict,
    hi: dict,
    medians: dict,
    brackets: dict,
    misfit: dict,
    allowances: dict,
    with_point: bool | np.ndarray,
) -> None:
    """The medians' intervals (``..._median_..._months`` in ``lo``/``hi``): where the band's
    lower edge falls to 1/2 is the median's lower bound, where its upper edge does, the
    upper bound; 0 before the bracket, inf (not reached) beyond it. The band carries the
    model-error allowance of the nearest horizons (``misfit``, or the patient's
    response-group allowance where larger: ``allowances``) in quadrature, as every other
    interval does (``misfit.widen``). Added to the edges linearly instead, the allowance
    over-covered the TKI medians (0.991 mean coverage over 6 training seeds, 0.998 on one)
    and covered the IL-2 medians on one seed only by luck of that seed's fit
    (``bench.train --coverage-seeds``)."""
    for key in medians:
        name, endpoint = MEDIAN_KEYS[key]
        months = brackets[f"{name}_{endpoint}_bracket_months"]
        low, high = quantiles(brackets[f"{name}_{endpoint}_bracket"], with_point)
        taus = misfit.get(name, {})
        if taus:
            tau = tau_at(taus, endpoint, months, from_zero=False)
            knots = allowances.get(name, {}).get(endpoint)
            if knots is not None:
                tau = np.maximum(tau, allowance_at(knots, months))
            middle, half = (low + high) / 2, (high - low) / 2
            half = np.sqrt(half**2 + (Z * tau) ** 2)
            low, high = middle - half, middle + half
        lo[key] = np.minimum(_first_crossing(low, months, before=0.0), medians[key])
        hi[key] = np.maximum(_first_crossing(high, months), medians[key])


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
