"""Evaluation of a recommender on a fresh synthetic hold-out with its truth: metrics,
reliability plots, the policy value of five policies, and a threshold sweep."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on these machines
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from data.synthetic.cohort import simulate_cohort  # noqa: E402
from model.columns import FEATURE_COLUMNS  # noqa: E402
from model.contract import validate_table  # noqa: E402
from model.recommender import Recommender  # noqa: E402
from model.respond import policy_inputs  # noqa: E402
from model.rules import derive  # noqa: E402
from training.metrics import CLASSIFIERS, classifier_metrics, survival_metrics  # noqa: E402
from training.policy_value import (  # noqa: E402
    POLICIES,
    assignments,
    outcomes_under,
    paired_difference,
    summarise,
    sweep,
)

SWEEP_GRID = np.round(np.arange(0.0, 0.1001, 0.005), 3)


@dataclass
class Evaluation:
    metrics: dict[str, float]
    policies: pd.DataFrame
    sweep: pd.DataFrame
    predictions: pd.DataFrame
    figures: dict[str, Path] = field(default_factory=dict)


def holdout_cohort(n: int, seed: int) -> pd.DataFrame:
    """A fresh synthetic cohort with potential outcomes and truth."""
    return simulate_cohort(n, seed).reset_index(drop=True)


def evaluate(recommender: Recommender, hold: pd.DataFrame, seed: int = 0) -> Evaluation:
    typed = validate_table(hold[list(FEATURE_COLUMNS)]).typed
    pred = recommender.predict_frame(typed)
    eligible = hold["il2_eligible"].to_numpy(dtype=bool)
    metrics = {
        **classifier_metrics(pred, hold, np.ones(len(hold), dtype=bool)),
        **classifier_metrics(pred, hold, eligible, prefix="eligible_"),
        **survival_metrics(pred, hold),
    }
    values = {k: typed[k].to_numpy() for k in typed.columns}
    inputs = policy_inputs(derive(values, len(typed)), values, pred)
    given = assignments(hold, inputs, recommender.policy)
    outcomes = {name: outcomes_under(hold, given[name]) for name in POLICIES}
    policies = pd.DataFrame({name: summarise(outcomes[name]) for name in POLICIES}).T
    rng = np.random.default_rng(seed)
    diff, lo, hi = paired_difference(
        outcomes["recommender"]["durable_cr"], outcomes["manchester"]["durable_cr"], rng
    )
    metrics.update(
        {
            "policy_durable_cr_gain_vs_manchester_per_1000": diff,
            "policy_durable_cr_gain_vs_manchester_lo": lo,
            "policy_durable_cr_gain_vs_manchester_hi": hi,
            "policy_durable_cr_gap_to_oracle_per_1000": policies.loc[
                "oracle", "durable_cr_per_1000"
            ]
            - policies.loc["recommender", "durable_cr_per_1000"],
        }
    )
    for name in POLICIES:
        for column, value in policies.loc[name].items():
            metrics[f"policy_{name}_{column}"] = float(value)
    return Evaluation(metrics, policies, sweep(hold, inputs, recommender.policy, SWEEP_GRID), pred)


def write_figures(evaluation: Evaluation, hold: pd.DataFrame, folder: Path) -> dict[str, Path]:
    """Reliability plots (against outcomes and against the truth) and the threshold sweep."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"reliability": folder / "reliability.png", "sweep": folder / "threshold_sweep.png"}
    fig, axes = plt.subplots(2, 4, figsize=(17, 8))
    for ax, (name, (truth_col, outcome_of)) in zip(axes.flat, CLASSIFIERS.items(), strict=True):
        p = evaluation.predictions[name].to_numpy()
        bins = np.searchsorted(np.quantile(p, np.linspace(0, 1, 11)[1:-1]), p, side="right")
        frame = pd.DataFrame(
            {
                "p": p,
                "truth": hold[truth_col].to_numpy(),
                "y": np.asarray(outcome_of(hold), dtype=float),
                "bin": bins,
            }
        )
        means = frame.groupby("bin").mean()
        top = max(means[["p", "truth", "y"]].max().max(), 0.05)
        ax.plot([0, top], [0, top], color="grey", lw=0.8, ls="--")
        ax.plot(means["p"], means["y"], "o-", label="observed outcome")
        ax.plot(means["p"], means["truth"], "s-", label="true probability")
        ax.set_title(name.replace("_", " "), fontsize=10)
        ax.set_xlabel("predicted (decile mean)")
    axes.flat[0].legend(fontsize=8)
    fig.suptitle("Reliability on a synthetic hold-out (model outputs on synthetic data)")
    fig.tight_layout()
    fig.savefig(paths["reliability"], dpi=90)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(8, 5))
    sw = evaluation.sweep
    x = sw["min_durable_gain"]
    ax.plot(x, sw["durable_cr_per_1000"], "o-", label="durable CR per 1,000")
    ax.plot(x, sw["il2_courses_per_1000"] / 10, "s-", label="IL-2 courses per 10,000")
    ax.plot(x, sw["cardiac_events_per_1000"], "^-", label="severe cardiac events per 1,000")
    for name, style in (("manchester", ":"), ("oracle", "--")):
        ax.axhline(
            evaluation.policies.loc[name, "durable_cr_per_1000"],
            ls=style,
            color="grey",
            label=f"{name}: durable CR per 1,000",
        )
    ax.set_xlabel("policy threshold: minimum gain in P(durable complete remission)")
    ax.legend(fontsize=8)
    ax.set_title("Threshold sweep of the recommendation policy (synthetic hold-out)")
    fig.tight_layout()
    fig.savefig(paths["sweep"], dpi=90)
    plt.close(fig)
    evaluation.figures.update(paths)
    return paths
