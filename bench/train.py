"""Benchmark and acceptance run of the models (issue 4): fit every model on a 100,000-
patient observed cohort, score a 200,000-patient hold-out of another seed against its
truth, and print the figures beside their thresholds.

    uv run python -m bench.train [--n 100000] [--holdout-n 200000] [--coverage-seeds 6]

``--coverage-seeds K`` also trains on the cohorts of K - 1 further seeds and scores each on
the same hold-out: one fit's coverage is one draw of a wide distribution (every patient's
interval shares the same fitted coefficients: a fit off by 1.5 standard errors misses
many patients at once), so an interval method is judged by its coverage over fits.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from model.contract.columns import FEATURE_COLUMNS
from model.contract.tables import validate_table
from model.recommend.recommender import Recommender
from model.runtime import use_single_threaded_blas
from training.data import synthetic_training_data
from training.evaluate import evaluate, holdout_cohort
from training.metrics import SURVIVAL, classifier_metrics, coverage_table, survival_metrics

CLASSIFIERS = (
    "il2_p_response",
    "il2_p_complete_response",
    "tki_p_response",
    "tki_p_complete_response",
    "il2_p_severe_cardiac_toxicity",
)
PROBABILITIES = (*CLASSIFIERS, "il2_p_cure")
COVERAGE_BAND = (0.90, 0.99)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--holdout-n", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--holdout-seed", type=int, default=2)
    parser.add_argument(
        "--coverage-seeds",
        type=int,
        default=1,
        help="training seeds to judge coverage over (the first is --seed)",
    )
    args = parser.parse_args()
    use_single_threaded_blas()
    console = Console(width=130)
    started = time.perf_counter()
    data = synthetic_training_data(args.n, args.seed)
    simulated = time.perf_counter()
    recommender = Recommender.fit(data.typed, data.outcomes, seed=0)
    fitted = time.perf_counter()
    hold = holdout_cohort(args.holdout_n, args.holdout_seed)
    evaluation = evaluate(recommender, hold)
    scored = time.perf_counter()
    m = evaluation.metrics
    table = Table(
        title=f"models trained on {args.n:,}, scored on {args.holdout_n:,} "
        f"(seed {args.holdout_seed})"
    )
    for name in ("check", "value", "threshold", "met"):
        table.add_column(name, justify="left" if name == "check" else "right")

    def row(check, value, threshold, met):
        table.add_row(check, f"{value:.4f}", threshold, "yes" if met else "NO")

    for name in CLASSIFIERS:
        gap = m[f"{name}_auc_truth"] - m[f"{name}_auc"]
        row(f"{name}: truth AUC - AUC", gap, "<= 0.02", gap <= 0.02)
        error = m[f"{name}_calibration_error_vs_truth"]
        row(f"{name}: calibration error vs truth", error, "<= 0.02", error <= 0.02)
    for name in SURVIVAL:
        gap = m[f"{name}_c_index_truth"] - m[f"{name}_c_index"]
        row(f"{name}: truth C-index - C-index", gap, "<= 0.02", gap <= 0.02)
        for month in (12, 36):
            worst = m[f"{name}_{month}m_max_decile_gap"]
            row(f"{name}: worst decile |pred - true S({month})|", worst, "<= 0.03", worst <= 0.03)
    for name in PROBABILITIES:
        width = m[f"{name}_median_width"]
        row(f"{name}: median interval width", width, "<= 0.05", width <= 0.05)
    for r in coverage_table(m).itertuples():  # every interval column (issue 11)
        row(
            f"{r.quantity}: coverage of the truth",
            r.coverage,
            "0.90-0.99",
            0.90 <= r.coverage <= 0.99,
        )
    bias = m["il2_p_cure_max_pattern_bias"]
    row(
        f"P(cure): worst |mean pred - mean true| over "
        f"{int(m['il2_p_cure_patterns_judged'])} patterns of >= 1,000",
        bias,
        "<= 0.02",
        bias <= 0.02,
    )
    key = "policy_gain_vs_manchester_durable_cr_per_1000"
    gain, lo, hi = m[key], m[f"{key}_lo"], m[f"{key}_hi"]
    table.add_row(
        "durable CR per 1,000, recommender - Manchester",
        f"{gain:+.2f} ({lo:+.2f} to {hi:+.2f})",
        "interval > 0",
        "yes" if lo > 0 else "NO",
    )
    policies = evaluation.policies
    rec, man = policies.loc["recommender"], policies.loc["manchester"]
    row(
        "cardiac events per 1,000: recommender - Manchester",
        rec["cardiac_events_per_1000"] - man["cardiac_events_per_1000"],
        "<= 0",
        rec["cardiac_events_per_1000"] <= man["cardiac_events_per_1000"],
    )
    ratio = rec["il2_courses_per_1000"] / man["il2_courses_per_1000"]
    row("IL-2 courses, recommender / Manchester", ratio, "<= 1.05", ratio <= 1.05)
    drop = man["rmst60_months"] - rec["rmst60_months"]
    row("RMST60 months, Manchester - recommender", drop, "<= 0.1", drop <= 0.1)
    row(
        "durable CR gap to the oracle per 1,000",
        m["policy_durable_cr_gap_to_oracle_per_1000"],
        "(reported)",
        True,
    )
    console.print(table)
    console.print(policies.round(2).to_string())
    timing = Table(title="time")
    for name in ("step", "seconds"):
        timing.add_column(name)
    for step, seconds in (
        ("simulate training cohort", simulated - started),
        ("fit every model", fitted - simulated),
        ("simulate + score hold-out", scored - fitted),
    ):
        timing.add_row(step, f"{seconds:.1f}")
    timing.add_row("full training (simulate + fit), target < 300", f"{fitted - started:.1f}")
    console.print(timing)
    if args.coverage_seeds > 1:
        seeds = range(args.seed + 1, args.seed + args.coverage_seeds)
        coverage = seed_coverage(args.n, seeds, hold, console)
        coverage.insert(0, args.seed, coverage_table(m).set_index("quantity")["coverage"])
        console.print(coverage_over_seeds(coverage))


def seed_coverage(n: int, seeds, hold: pd.DataFrame, console: Console) -> pd.DataFrame:
    """Coverage of the truth of every interval column (rows) for models trained on each
    seed's cohort of ``n`` (columns), all scored on ``hold``."""
    typed = validate_table(hold[list(FEATURE_COLUMNS)]).typed
    everyone = np.ones(len(hold), dtype=bool)
    columns = {}
    for seed in seeds:
        console.print(f"training seed {seed} …")
        data = synthetic_training_data(n, seed)
        pred = Recommender.fit(data.typed, data.outcomes, seed=0).predict_frame(typed)
        metrics = {**classifier_metrics(pred, hold, everyone), **survival_metrics(pred, hold)}
        columns[seed] = coverage_table(metrics).set_index("quantity")["coverage"]
    return pd.DataFrame(columns)


def coverage_over_seeds(coverage: pd.DataFrame) -> Table:
    """Each column's coverage per training seed and its mean, judged on the mean; the
    columns out of the band per seed underneath."""
    low, high = COVERAGE_BAND
    table = Table(title=f"coverage of the truth over {coverage.shape[1]} training seeds")
    for name in ("interval", *map(str, coverage.columns), "mean", f"mean in {low}-{high}"):
        table.add_column(name, justify="left" if name == "interval" else "right")
    for quantity, values in coverage.iterrows():
        mean = float(values.mean())
        table.add_row(
            quantity,
            *(f"{v:.3f}" for v in values),
            f"{mean:.3f}",
            "yes" if low <= mean <= high else "NO",
        )
    out = ((coverage < low) | (coverage > high)).sum()
    means = coverage.mean(axis=1)
    table.add_row(
        "columns out of the band",
        *(str(int(v)) for v in out),
        str(int(((means < low) | (means > high)).sum())),
        "",
    )
    return table


if __name__ == "__main__":
    main()
