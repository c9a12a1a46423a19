"""Evaluation of a recommender on a fresh synthetic hold-out with its truth: metrics,
reliability plots, the policy value of five policies, and a threshold sweep."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from data.synthetic.cohort import simulate_cohort
from data.synthetic.report import target_table
from data.synthetic.targets import DEFAULT_ERA, load_targets
from model.contract.columns import FEATURE_COLUMNS
from model.contract.tables import validate_table
from model.recommend.decision import policy_inputs
from model.recommend.recommender import Recommender
from model.rules.derive import derive
from training.metrics import (
    CLASSIFIERS,
    classifier_metrics,
    coverage_table,
    pattern_bias,
    survival_metrics,
)
from training.policy_value import (
    MEASURES,
    POLICIES,
    assignments,
    outcomes_under,
    policy_value_table,
    sweep,
)

SWEEP_GRID = np.round(np.arange(0.0, 0.1001, 0.005), 3)
TOXICITY_GRID = (0.15, 0.20, 0.25, 0.30)


@dataclass
class Evaluation:
    metrics: dict[str, float]
    policies: pd.DataFrame  # the default (targeted) era's policy-value table
    sweep: pd.DataFrame  # the trade-off table over both thresholds (targeted era)
    predictions: pd.DataFrame
    figures: dict[str, Path] = field(default_factory=dict)
    policies_by_era: dict[str, pd.DataFrame] = field(default_factory=dict)
    sweep_by_era: dict[str, pd.DataFrame] = field(default_factory=dict)


def holdout_cohort(n: int, seed: int, era: str = DEFAULT_ERA) -> pd.DataFrame:
    """A fresh synthetic cohort with potential outcomes and truth (the same patients in
    every era: only survival after progression differs)."""
    return simulate_cohort(n, seed, era=era).reset_index(drop=True)


def evaluate(
    recommender: Recommender,
    hold: pd.DataFrame,
    seed: int = 0,
    other_eras: dict[str, pd.DataFrame] | None = None,
) -> Evaluation:
    """Metrics against the truth of ``hold`` (the default era), and the policy value of
    five policies in the default era and in each of ``other_eras`` (hold-outs of the same
    patients, generated for another era: the predictions do not depend on the era)."""
    typed = validate_table(hold[list(FEATURE_COLUMNS)]).typed
    pred = recommender.predict_frame(typed)
    eligible = hold["il2_eligible"].to_numpy(dtype=bool)
    metrics = {
        **classifier_metrics(pred, hold, np.ones(len(hold), dtype=bool)),
        **classifier_metrics(pred, hold, eligible, prefix="eligible_"),
        **survival_metrics(pred, hold),
        **pattern_bias(pred, hold),
    }
    values = {k: typed[k].to_numpy() for k in typed.columns}
    inputs = policy_inputs(
        derive(values, len(typed)), values, pred, pred["diff_p_durable_cr_lo"].to_numpy()
    )
    holds = {DEFAULT_ERA: hold, **(other_eras or {})}
    tables, sweeps = {}, {}
    for era, cohort in holds.items():
        given = assignments(cohort, inputs, recommender.policy)
        outcomes = {name: outcomes_under(cohort, given[name]) for name in POLICIES}
        tables[era] = policy_value_table(outcomes, np.random.default_rng(seed))
        sweeps[era] = sweep(cohort, inputs, recommender.policy, SWEEP_GRID, TOXICITY_GRID)
        prefix = "policy_" if era == DEFAULT_ERA else f"policy_{era}_"
        for name in POLICIES:
            for column, value in tables[era].loc[name].items():
                metrics[f"{prefix}{name}_{column}"] = float(value)
    policies = tables[DEFAULT_ERA]
    metrics |= {f"policy_{k}": float(v) for k, v in recommender.policy.as_dict().items()}
    for era, table in tables.items():
        prefix = "policy_" if era == DEFAULT_ERA else f"policy_{era}_"
        for column in MEASURES:  # recommender minus Manchester, paired interval
            row = table.loc["manchester"]
            metrics[f"{prefix}gain_vs_manchester_{column}"] = -float(row[f"diff_{column}"])
            metrics[f"{prefix}gain_vs_manchester_{column}_lo"] = -float(row[f"diff_{column}_hi"])
            metrics[f"{prefix}gain_vs_manchester_{column}_hi"] = -float(row[f"diff_{column}_lo"])
    metrics["policy_durable_cr_gap_to_oracle_per_1000"] = (
        policies.loc["oracle", "durable_cr_per_1000"]
        - policies.loc["recommender", "durable_cr_per_1000"]
    )
    return Evaluation(
        metrics,
        policies,
        sweeps[DEFAULT_ERA],
        pred,
        policies_by_era=tables,
        sweep_by_era=sweeps,
    )


def log_evaluation(
    evaluation: Evaluation, hold: pd.DataFrame, written: dict[str, Path] | None = None
) -> None:
    """The evaluation's figures and tables (``written`` by ``write_tables``, else written
    here to a temporary folder) as artifacts of the active run, under ``evaluation/``."""
    import mlflow

    with tempfile.TemporaryDirectory() as folder:
        paths = written or write_tables(evaluation, hold, Path(folder))
        for path in paths.values():
            mlflow.log_artifact(str(path), "evaluation")
    mlflow.log_text(
        json.dumps(evaluation.metrics, indent=1, default=float), "evaluation/metrics.json"
    )


def write_tables(evaluation: Evaluation, hold: pd.DataFrame, folder: Path) -> dict[str, Path]:
    """Figures, the policy values, the threshold sweep and the hold-out's target table."""
    paths = write_figures(evaluation, hold, folder)
    paths |= {"synthetic_targets": folder / "synthetic_targets.csv"}
    for era, table in evaluation.policies_by_era.items():
        paths[f"policy_value_{era}"] = folder / f"policy_value_{era}.csv"
        table.to_csv(paths[f"policy_value_{era}"])
        paths[f"tradeoff_{era}"] = folder / f"tradeoff_{era}.csv"
        evaluation.sweep_by_era[era].to_csv(paths[f"tradeoff_{era}"], index=False)
    paths["coverage"] = folder / "coverage.csv"
    coverage_table(evaluation.metrics).to_csv(paths["coverage"], index=False)
    target_table(hold, load_targets().in_era(DEFAULT_ERA)).to_csv(
        paths["synthetic_targets"], index=False
    )
    return paths


def write_figures(evaluation: Evaluation, hold: pd.DataFrame, folder: Path) -> dict[str, Path]:
    """Reliability plots (against outcomes and against the truth) and the threshold sweep."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on these machines
    import matplotlib.pyplot as plt

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
    sw = sw[np.isclose(sw["max_p_toxicity"], evaluation.metrics["policy_max_p_toxicity"])]
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
