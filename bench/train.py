"""Benchmark and acceptance run of the models (issue 4): fit every model on a 100,000-
patient observed cohort, score a 200,000-patient hold-out of another seed against its
truth, and print the figures beside their thresholds.

    uv run python -m bench.train [--n 100000] [--holdout-n 200000]
"""

from __future__ import annotations

import argparse
import time

from rich.console import Console
from rich.table import Table

from model.recommend.recommender import Recommender
from model.runtime import use_single_threaded_blas
from training.data import synthetic_training_data
from training.evaluate import evaluate, holdout_cohort
from training.metrics import SURVIVAL, coverage_table

CLASSIFIERS = (
    "il2_p_response",
    "il2_p_complete_response",
    "tki_p_response",
    "tki_p_complete_response",
    "il2_p_severe_cardiac_toxicity",
)
PROBABILITIES = (*CLASSIFIERS, "il2_p_cure")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--holdout-n", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--holdout-seed", type=int, default=2)
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


if __name__ == "__main__":
    main()
