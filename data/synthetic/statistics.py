"""Each target's statistic on a cohort, exactly as targets.yaml defines it, with its SE.

rate (binomial SE), Kaplan–Meier median (Greenwood SE over the local slope of the curve),
survival_at (Greenwood), odds_ratio (Woolf, delta method to the OR scale), hazard_ratio
(Cox on the two arms' time/event pairs stacked, via lifelines; Wald SE by the delta
method), median_ratio (delta method from the two medians).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from data.synthetic.targets import Target, TargetSet

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class KaplanMeier:
    """A Kaplan–Meier curve: step values ``survival`` from each of ``times`` on."""

    times: np.ndarray
    survival: np.ndarray
    greenwood: np.ndarray  # cumulative sum d / (n (n - d))

    def at(self, t: float) -> tuple[float, float]:
        """Survival at ``t`` and its Greenwood standard error."""
        i = np.searchsorted(self.times, t, side="right") - 1
        if i < 0:
            return 1.0, 0.0
        s = self.survival[i]
        return float(s), float(s * np.sqrt(self.greenwood[i]))

    def quantile_time(self, level: float) -> float:
        """First time the curve is at or below ``level`` (lifelines' convention)."""
        below = np.nonzero(self.survival <= level)[0]
        return float(self.times[below[0]]) if below.size else np.inf

    def median(self) -> tuple[float, float]:
        """Median and its SE: Greenwood SE at the median over the curve's slope there."""
        m = self.quantile_time(0.5)
        if not np.isfinite(m):
            return np.inf, np.nan
        t_lo, t_hi = self.quantile_time(0.55), self.quantile_time(0.45)
        if not np.isfinite(t_hi) or t_hi <= t_lo:
            return m, np.nan
        slope = (self.at(t_lo)[0] - self.at(t_hi)[0]) / (t_hi - t_lo)
        return m, float(self.at(m)[1] / slope)


def kaplan_meier(time: np.ndarray, event: np.ndarray) -> KaplanMeier:
    """Kaplan–Meier estimate with Greenwood's variance terms (vectorised)."""
    order = np.argsort(time, kind="stable")
    t, e = np.asarray(time, float)[order], np.asarray(event, bool)[order]
    times, start, counts = np.unique(t, return_index=True, return_counts=True)
    deaths = np.add.reduceat(e.astype(float), start) if t.size else np.zeros(0)
    at_risk = t.size - np.concatenate([[0], np.cumsum(counts)[:-1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = 1.0 - deaths / at_risk
        green = np.where(at_risk > deaths, deaths / (at_risk * (at_risk - deaths)), 0.0)
    return KaplanMeier(times, np.cumprod(factor), np.cumsum(green))


def rows_where(frame: pd.DataFrame, expression: str) -> np.ndarray:
    """Rows where ``expression`` holds. Evaluated on the columns it names alone: pandas
    builds a resolver for every column of the frame (a cohort has ~150) at each call."""
    named = [c for c in dict.fromkeys(_NAME.findall(expression)) if c in frame.columns]
    return frame[named].eval(expression).to_numpy(dtype=bool)


def target_statistic(cohort: pd.DataFrame, target: Target) -> tuple[float, float, int]:
    """(value, standard error, population size) of one target on a cohort."""
    spec = target.spec
    population = cohort[rows_where(cohort, target.population)]
    n = len(population)
    kind = target.statistic
    if kind == "rate":
        rate = float(rows_where(population, spec["outcome"]).mean()) if n else np.nan
        return rate, float(np.sqrt(rate * (1 - rate) / n)) if n else np.nan, n
    if kind in ("median", "survival_at"):
        curve = kaplan_meier(
            population[spec["time"]].to_numpy(), population[spec["event"]].to_numpy()
        )
        value, se = curve.median() if kind == "median" else curve.at(float(spec["at_months"]))
        return value, se, n
    if kind == "odds_ratio":
        return (
            *_odds_ratio(
                rows_where(population, spec["exposure"]), rows_where(population, spec["outcome"])
            ),
            n,
        )
    if kind == "median_ratio":
        return (*_median_ratio(population, spec), n)
    if kind == "hazard_ratio":
        return (*_hazard_ratio(population, spec["arms"]), n)
    raise ValueError(f"unknown statistic {kind!r} in target {target.id}")


def _odds_ratio(exposed: np.ndarray, outcome: np.ndarray) -> tuple[float, float]:
    a, b = np.sum(exposed & outcome), np.sum(exposed & ~outcome)
    c, d = np.sum(~exposed & outcome), np.sum(~exposed & ~outcome)
    if min(a, b, c, d) == 0:
        return np.nan, np.nan
    ratio = (a * d) / (b * c)
    return float(ratio), float(ratio * np.sqrt(1 / a + 1 / b + 1 / c + 1 / d))


def _median_ratio(population: pd.DataFrame, spec: dict) -> tuple[float, float]:
    medians = []
    for key in ("numerator_population", "denominator_population"):
        group = population[rows_where(population, spec[key])]
        medians.append(
            kaplan_meier(group[spec["time"]].to_numpy(), group[spec["event"]].to_numpy()).median()
        )
    (m1, s1), (m0, s0) = medians
    ratio = m1 / m0
    return float(ratio), float(ratio * np.hypot(s1 / m1, s0 / m0))


def _hazard_ratio(population: pd.DataFrame, arms: dict) -> tuple[float, float]:
    from lifelines import CoxPHFitter

    (t1, e1), (t0, e0) = arms["treated"], arms["control"]
    stacked = pd.DataFrame(
        {
            "time": np.concatenate([population[t1].to_numpy(), population[t0].to_numpy()]),
            "event": np.concatenate([population[e1].to_numpy(), population[e0].to_numpy()]),
            "treated": np.repeat([1.0, 0.0], len(population)),
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitter = CoxPHFitter().fit(stacked, "time", "event")
    beta, se = fitter.params_["treated"], fitter.standard_errors_["treated"]
    return float(np.exp(beta)), float(np.exp(beta) * se)


def evaluate_targets(cohort: pd.DataFrame, targets: TargetSet) -> pd.DataFrame:
    """One row per target: value, SE, band, met, and margin inside the band in SEs."""
    rows = []
    for target in targets:
        value, se, n = target_statistic(cohort, target)
        margin = min(value - target.low, target.high - value)
        rows.append(
            {
                "id": target.id,
                "kind": target.kind,
                "statistic": target.statistic,
                "n": n,
                "value": value,
                "se": se,
                "low": target.low,
                "high": target.high,
                "met": bool(target.low <= value <= target.high),
                "margin_se": margin / se
                if se and np.isfinite(se) and se > 0
                else (np.inf if margin >= 0 else -np.inf),
            }
        )
    return pd.DataFrame(rows)
