"""Expected target statistics of a simulated cohort, smooth in the parameters.

The calibration cohort's features are drawn once (common random numbers); for given
parameters each target's statistic is its expectation over the outcome draws of that
cohort: rates are sums of true probabilities, Kaplan–Meier medians and survival are
those of the pooled true survival curve (KM is consistent for it under independent
censoring), the odds ratio comes from expected 2x2 counts, and the Cox hazard ratio of
stacked arms solves the expected partial-likelihood score equation on a time grid. No
outcome is sampled, so the objective is smooth and free of Monte Carlo noise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import brentq

from data.synthetic.mixture_survival import (
    RESPONSES,
    Mixture,
    pooled_median,
    pooled_survival,
)
from data.synthetic.outcome_model import (
    cardiac_toxicity_probability,
    covariate_frame,
    pattern_index,
    strategy_mixtures,
)
from data.synthetic.params import Parameters
from data.synthetic.statistics import rows_where
from data.synthetic.targets import DEFAULT_ERA, Target, TargetSet

_SUBCLASS_RESPONSE = np.array([0, 0, 1, 1, 2, 3])  # sub-class -> index in RESPONSES
_STRATEGY = re.compile(r"\b(il2|tki|ifn)_best_response\b")
_HR_GRID = np.concatenate([np.linspace(0, 36, 361)[1:], np.linspace(36, 240, 205)[1:]])


@dataclass
class CalibrationCohort:
    """A fixed case mix collapsed to covariate patterns, with per-target weights.

    ``counts[target_id][key]`` is a (P, 4) array: patients of each pattern in the
    population ``key`` if their best response to the target's strategy were each of
    CR/PR/SD/PD.
    """

    frame: pd.DataFrame
    patterns: dict[str, np.ndarray]
    counts: dict[str, dict[str, np.ndarray]]
    masks: dict[str, np.ndarray]
    strategy: dict[str, str]


def prepare_cohort(frame: pd.DataFrame, targets: TargetSet) -> CalibrationCohort:
    """Collapse a features + derived frame and evaluate every target's populations."""
    inverse, patterns = pattern_index(covariate_frame(frame))
    n_patterns = len(next(iter(patterns.values())))
    cohort = CalibrationCohort(frame, patterns, {}, {}, {})
    for target in targets:
        spec = target.spec
        expressions = _population_expressions(target)
        found = _STRATEGY.findall(" ".join(expressions.values()))
        strategy = found[0] if found else _strategy_of_time(spec)
        cohort.strategy[target.id] = strategy
        cohort.counts[target.id] = {}
        for key, expression in expressions.items():
            cohort.counts[target.id][key] = _class_counts(
                frame, expression, strategy, inverse, n_patterns
            )
        if "severe_cardiac_toxicity" in spec.get("outcome", ""):
            cohort.masks[target.id] = rows_where(frame, target.population)
    return cohort


def _strategy_of_time(spec: dict) -> str:
    """Strategy of a survival target's time column (the treated arm for a hazard ratio);
    IL-2 for case-mix rates, whose value no strategy changes."""
    if "arms" in spec:
        return spec["arms"]["treated"][0].split("_")[0]
    return str(spec["time"]).split("_")[0] if "time" in spec else "il2"


def _population_expressions(target: Target) -> dict[str, str]:
    """The populations whose counts a statistic needs, by role."""
    spec, pop = target.spec, f"({target.population})"
    if target.statistic == "rate":
        if "severe_cardiac_toxicity" in spec["outcome"]:
            return {"population": pop}
        return {"population": pop, "outcome": f"{pop} and ({spec['outcome']})"}
    if target.statistic == "odds_ratio":
        exposed, out = f"({spec['exposure']})", f"({spec['outcome']})"
        return {
            "exposed": f"{pop} and {exposed}",
            "exposed_outcome": f"{pop} and {exposed} and {out}",
            "unexposed": f"{pop} and not {exposed}",
            "unexposed_outcome": f"{pop} and not {exposed} and {out}",
        }
    if target.statistic == "median_ratio":
        return {
            "numerator": f"{pop} and ({spec['numerator_population']})",
            "denominator": f"{pop} and ({spec['denominator_population']})",
        }
    return {"population": pop}


def _class_counts(
    frame: pd.DataFrame, expression: str, strategy: str, inverse: np.ndarray, n_patterns: int
) -> np.ndarray:
    column = f"{strategy}_best_response"
    counts = np.zeros((n_patterns, len(RESPONSES)))
    if column not in expression:
        mask = rows_where(frame, expression)
        counts[:] = np.bincount(inverse[mask], minlength=n_patterns)[:, None]
        return counts
    for j, response in enumerate(RESPONSES):
        mask = rows_where(frame.assign(**{column: response}), expression)
        counts[:, j] = np.bincount(inverse[mask], minlength=n_patterns)
    return counts


def expected_statistics(
    cohort: CalibrationCohort, targets: TargetSet, p: Parameters, il2_cr_scale: float = 1.0
) -> dict[str, float]:
    """Every target's expected statistic under parameters ``p``, each in its era."""
    eras = {t.era or DEFAULT_ERA for t in targets}
    by_era = {e: strategy_mixtures(cohort.patterns, p, e, il2_cr_scale) for e in eras}
    p_tox = None
    values = {}
    for target in targets:
        counts = cohort.counts[target.id]
        mixtures = by_era[target.era or DEFAULT_ERA]
        mix = mixtures[cohort.strategy[target.id]]
        if target.id in cohort.masks:
            if p_tox is None:
                p_tox = cardiac_toxicity_probability(cohort.frame, p)
            values[target.id] = float(p_tox[cohort.masks[target.id]].mean())
        else:
            values[target.id] = _statistic(target, counts, mix, mixtures)
    return values


def _weights(counts: np.ndarray, mix: Mixture) -> np.ndarray:
    """Expected patients per pattern and sub-class: (P, 6)."""
    return counts[:, _SUBCLASS_RESPONSE] * mix.probs


def _statistic(target: Target, counts: dict, mix: Mixture, mixtures: dict) -> float:
    spec, kind = target.spec, target.statistic
    if kind == "rate":
        return float(
            _weights(counts["outcome"], mix).sum() / _weights(counts["population"], mix).sum()
        )
    if kind == "median":
        return pooled_median(mix, _endpoint(spec["time"]), _weights(counts["population"], mix))
    if kind == "survival_at":
        w = _weights(counts["population"], mix)
        return float(
            pooled_survival(mix, np.array([float(spec["at_months"])]), _endpoint(spec["time"]), w)[
                0
            ]
        )
    if kind == "odds_ratio":
        r1 = _weights(counts["exposed_outcome"], mix).sum() / _weights(counts["exposed"], mix).sum()
        r0 = (
            _weights(counts["unexposed_outcome"], mix).sum()
            / _weights(counts["unexposed"], mix).sum()
        )
        return float(r1 / (1 - r1) / (r0 / (1 - r0)))
    if kind == "median_ratio":
        endpoint = _endpoint(spec["time"])
        top = pooled_median(mix, endpoint, _weights(counts["numerator"], mix))
        bottom = pooled_median(mix, endpoint, _weights(counts["denominator"], mix))
        return top / bottom
    if kind == "hazard_ratio":
        (t1, _), (t0, _) = spec["arms"]["treated"], spec["arms"]["control"]
        return _expected_hazard_ratio(
            mixtures[t1.split("_")[0]],
            mixtures[t0.split("_")[0]],
            _endpoint(t1),
            counts["population"][:, 0],
        )
    raise ValueError(f"unknown statistic {kind!r}")


def _endpoint(time_column: str) -> str:
    return "pfs" if "_pfs_" in time_column else "os"


def _expected_hazard_ratio(
    treated: Mixture,
    control: Mixture,
    endpoint: str,
    patients: np.ndarray,
    follow_up=(132.0, 192.0),
) -> float:
    """Limit of the Cox estimate on stacked arms: root in beta of the expected score
    sum over events of (treated - e^b S1 / (e^b S1 + S0)), censoring G(t) uniform."""
    keep = patients > 0
    weights = patients[keep]
    grid = _HR_GRID
    curves = []
    for mix in (treated, control):
        m = mix.take(keep)
        curves.append(pooled_survival(m, grid, endpoint, weights[:, None] * m.probs))
    s1, s0 = (np.concatenate([[1.0], c]) for c in curves)
    censor = np.clip((follow_up[1] - grid) / (follow_up[1] - follow_up[0]), 0, 1)
    d1, d0 = -np.diff(s1) * censor, -np.diff(s0) * censor
    r1, r0 = 0.5 * (s1[1:] + s1[:-1]), 0.5 * (s0[1:] + s0[:-1])

    def score(beta: float) -> float:
        share = np.exp(beta) * r1 / (np.exp(beta) * r1 + r0)
        return float(np.sum(d1 - share * (d1 + d0)))

    return float(np.exp(brentq(score, -5.0, 5.0, xtol=1e-10)))
