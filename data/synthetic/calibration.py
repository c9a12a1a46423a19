"""Calibrate the generator's named effects to every outcome target by optimisation.

The objective is a least-squares fit of each outcome target's expected statistic (see
``calibration_expected``) to the centre of its accept band, in band half-widths (log
scale for ratio statistics) beyond a central dead zone of 0.15 half-widths, plus a steep
hinge once a statistic leaves the middle 70 % of its band, so that every target keeps
margin rather than a few sitting on an edge. Effects are optimised in box-normalised
coordinates within the bounds of the parameter file (the bounds carry the literature's
signs); a small pull toward each effect's literature ``prior`` keeps effects that no
target identifies near plausible values instead of drifting to a bound.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from scipy.optimize import least_squares

from data.synthetic.calibration_expected import (
    CalibrationCohort,
    expected_statistics,
    prepare_cohort,
)
from data.synthetic.cohort import simulate_case_mix
from data.synthetic.params import Parameters, dump_parameters
from data.synthetic.targets import DEFAULT_ERA, Target, TargetSet

log = logging.getLogger(__name__)
RATIO_STATISTICS = ("odds_ratio", "hazard_ratio", "median_ratio")
DEAD_ZONE = 0.15
HINGE_START = 0.7
HINGE_WEIGHT = 5.0
PRIOR_WEIGHT = 0.05


@dataclass
class CalibrationResult:
    """What a calibration run found."""

    parameters: Parameters
    start: dict[str, float]
    final: dict[str, float]
    cost_start: float
    cost_final: float
    evaluations: int
    status: str
    seconds: float
    trace: list[tuple[int, float]] = field(default_factory=list)


def band_position(target: Target, value: float) -> float:
    """Signed distance of ``value`` from the band centre in half-widths (log scale for
    ratios): 0 at the centre, ±1 on the edges."""
    low, high, v = target.low, target.high, value
    if target.statistic in RATIO_STATISTICS:
        low, high, v = np.log(low), np.log(high), np.log(max(value, 1e-12))
    if not np.isfinite(v):
        return 10.0
    return float(np.clip((v - 0.5 * (low + high)) / (0.5 * (high - low)), -10, 10))


def residuals(values: dict[str, float], targets: TargetSet) -> np.ndarray:
    """Band positions of the outcome targets beyond a small central dead zone, plus a
    steep hinge near the edges."""
    pos = np.array([band_position(t, values[t.id]) for t in targets if t.is_outcome])
    central = np.sign(pos) * np.maximum(np.abs(pos) - DEAD_ZONE, 0.0)
    return np.concatenate([central, HINGE_WEIGHT * np.maximum(np.abs(pos) - HINGE_START, 0.0)])


def prior_vector(start: Parameters) -> np.ndarray:
    """Each effect's literature prior (``prior`` in the file; else its current value)."""
    effects = start.document["effects"]
    return np.array(
        [float(effects[n].get("prior", effects[n]["value"])) for n in start.effect_names]
    )


def calibrate(
    start: Parameters,
    targets: TargetSet,
    n: int = 200_000,
    seed: int = 20260,
    max_evaluations: int = 3000,
    cohort: CalibrationCohort | None = None,
    on_evaluation: Callable[[int, float, float], None] | None = None,
) -> CalibrationResult:
    """Fit the effects of ``start`` to ``targets`` on a cohort of ``n`` patients.

    Parameters
    ----------
    start : Parameters
        starting values, bounds and the fixed assumptions.
    targets : TargetSet
        only ``kind: outcome`` targets enter the objective.
    n, seed : int
        size and seed of the calibration case mix (drawn once: common random numbers).
    max_evaluations : int
        budget of objective evaluations for the optimiser.
    cohort : CalibrationCohort, optional
        a prepared cohort (skips drawing and preparing one).
    on_evaluation : callable, optional
        called with (evaluation number, cost, best cost so far) after each evaluation.
    """
    began = time.perf_counter()
    if cohort is None:
        cohort = prepare_cohort(simulate_case_mix(n, seed, start), targets)
    objective = _Objective(start, targets, cohort, max_evaluations, on_evaluation)
    start_values = expected_statistics(cohort, targets, start)
    cost_start = 0.5 * float(np.sum(objective(objective.u0) ** 2))
    try:
        fit = least_squares(
            objective,
            objective.u0,
            bounds=(0.0, 1.0),
            method="trf",
            diff_step=1e-4,
            x_scale=1.0,
            max_nfev=max_evaluations,
            xtol=1e-10,
            ftol=1e-10,
        )
        status = fit.message
    except _BudgetSpent:
        status = f"stopped after the budget of {max_evaluations} evaluations"
    best = objective.parameters(objective.best_u)
    log.info("calibration: %s; best cost %.5f", status, objective.best)
    return CalibrationResult(
        parameters=best,
        start=start_values,
        final=expected_statistics(cohort, targets, best),
        cost_start=cost_start,
        cost_final=float(objective.best),
        evaluations=objective.count,
        status=status,
        seconds=time.perf_counter() - began,
        trace=objective.trace,
    )


class _Objective:
    """The residuals of effects in box-normalised coordinates ``u`` (0–1 within the
    bounds), counting evaluations and keeping the best seen."""

    def __init__(self, start, targets, cohort, max_evaluations, on_evaluation) -> None:
        self.start, self.targets, self.cohort = start, targets, cohort
        self.low, self.high = start.bounds()
        self.u0 = self._unit(start.effect_vector())
        self.u_prior = self._unit(prior_vector(start))
        self.max_evaluations, self.on_evaluation = max_evaluations, on_evaluation
        self.count, self.best, self.best_u = 0, np.inf, self.u0
        self.trace: list[tuple[int, float]] = []

    def _unit(self, effects: np.ndarray) -> np.ndarray:
        return np.clip((effects - self.low) / (self.high - self.low), 0.0, 1.0)

    def parameters(self, u: np.ndarray) -> Parameters:
        return self.start.with_effects(self.low + u * (self.high - self.low))

    def __call__(self, u: np.ndarray) -> np.ndarray:
        statistics = expected_statistics(self.cohort, self.targets, self.parameters(u))
        r = np.concatenate([residuals(statistics, self.targets), PRIOR_WEIGHT * (u - self.u_prior)])
        cost = 0.5 * float(r @ r)
        self.count += 1
        if cost < self.best:
            self.best, self.best_u = cost, u.copy()
            self.trace.append((self.count, cost))
        if self.on_evaluation is not None:
            self.on_evaluation(self.count, cost, self.best)
        if self.count >= self.max_evaluations:  # finite-difference calls count too
            raise _BudgetSpent
        return r


class _BudgetSpent(Exception):
    """Raised inside the objective when the evaluation budget is used up."""


def write_calibration(
    result: CalibrationResult,
    targets: TargetSet,
    params_path: Path,
    report_path: Path,
    n: int,
    seed: int,
    targets_source: str,
) -> None:
    """Write the calibrated parameter file (version bumped) and its Markdown report."""
    document = result.parameters.document
    document["version"] = int(document.get("version", 0)) + 1
    document["calibration"] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cohort_n": int(n),
        "cohort_seed": int(seed),
        "targets": targets_source,
        "evaluations": int(result.evaluations),
        "cost": round(result.cost_final, 6),
        "report": report_path.name,
    }
    for name in result.parameters.effect_names:
        entry = document["effects"][name]
        entry["value"] = float(np.round(entry["value"], 6))
    dump_parameters(
        result.parameters,
        params_path,
        header=(
            "IL2Select synthetic cohort generator parameters.\n"
            "effects: fitted by `il2select calibrate` (bounds keep the literature's signs).\n"
            "assumptions: figures no target pins down, each with its rationale."
        ),
    )
    report_path.write_text(calibration_report(result, targets, document), encoding="utf-8")


def calibration_report(result: CalibrationResult, targets: TargetSet, document: dict) -> str:
    """Markdown: run summary, each target's expected statistic before/after, effects."""
    lines = [
        f"# Calibration report (parameters version {document['version']})",
        "",
        f"- date: {document['calibration']['date']}",
        f"- cohort: n = {document['calibration']['cohort_n']:,}, "
        f"seed = {document['calibration']['cohort_seed']} (case mix drawn once)",
        f"- optimiser: scipy least_squares (trf, bounded); {result.evaluations} evaluations "
        f"in {result.seconds:.0f} s; {result.status}",
        f"- cost: {result.cost_start:.4f} -> {result.cost_final:.4f}",
        "",
        "Expected statistic of each target on the calibration case mix, in the target's "
        "era (untagged targets in the default era); position in the band in half-widths "
        "(0 = centre, ±1 = edge; log scale for ratios).",
        "",
        "| target | era | kind | band | start | calibrated | position |",
        "|---|---|---|---|---|---|---|",
    ]
    for t in targets:
        lines.append(
            f"| {t.id} | {t.era or DEFAULT_ERA} | {t.kind} | [{t.low:g}, {t.high:g}] | "
            f"{result.start[t.id]:.4g} | {result.final[t.id]:.4g} | "
            f"{band_position(t, result.final[t.id]):+.2f} |"
        )
    lines += ["", "## Effects", "", "| effect | value | bounds | rationale |", "|---|---|---|---|"]
    for name, entry in document["effects"].items():
        lines.append(
            f"| {name} | {entry['value']:.4g} | {entry['bounds']} | {entry['rationale']} |"
        )
    lines += ["", "## Trace (evaluation, best cost)", ""]
    lines += [f"- {count}: {cost:.5f}" for count, cost in result.trace[-40:]]
    return "\n".join(lines) + "\n"
