"""``il2select train``: fit on observed data, evaluate, log to MLflow, register, gate, and
move the alias. Synthetic data are scored on a fresh hold-out with its truth; real data
on a 20 % split of the user's own table."""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd

from data.synthetic.params import load_parameters
from data.synthetic.report import target_table
from data.synthetic.targets import load_targets
from model.columns import COLUMNS, FEATURE_COLUMNS
from model.policy import PolicyConfig
from model.predictions import has_unknown
from model.recommender import N_DRAWS, Recommender
from model.settings import Settings
from training.data import TrainingData, prepare, synthetic_training_data
from training.evaluate import evaluate, holdout_cohort, write_figures
from training.metrics import calibration_slope
from training.registry import (
    champion_version,
    connect,
    gate_real,
    gate_synthetic,
    lineage_tags,
    load_recommender,
    log_recommender,
    move_alias,
)

SPLIT_SHARE = 0.2


@dataclass(frozen=True)
class TrainResult:
    run_id: str
    version: str
    alias: str
    passed: bool
    reasons: list[str]
    metrics: dict[str, float]


def train_and_register(
    settings: Settings,
    n: int = 20_000,
    seed: int = 1,
    data: pd.DataFrame | None = None,
    holdout_n: int = 50_000,
    holdout_seed: int = 2,
    n_draws: int = N_DRAWS,
    log: Callable[[str], None] = print,
) -> TrainResult:
    """Train on synthetic observed data (``n``, ``seed``) or on a real-format table
    (``data``), then register the pyfunc and run the promotion gate."""
    client = connect(settings)
    policy = PolicyConfig(settings.min_durable_gain, settings.max_p_toxicity)
    with mlflow.start_run() as run:
        if data is None:
            log(f"simulating {n:,} observed patients (seed {seed})")
            training = synthetic_training_data(n, seed)
        else:
            training = prepare(data.reset_index(drop=True), "user table")
        mlflow.set_tags(lineage_tags(training.data_hash, str(load_parameters().version)))
        mlflow.log_params(
            {
                "source": training.source,
                "n_rows": len(training.typed),
                "seed": seed,
                "n_draws": n_draws,
                **policy.as_dict(),
            }
        )
        fit_rows, split_rows = _split(training, real=data is not None, seed=seed)
        started = time.perf_counter()
        recommender = Recommender.fit(
            training.typed.iloc[fit_rows], training.outcomes.iloc[fit_rows], policy, n_draws, seed
        )
        mlflow.log_metric("fit_seconds", time.perf_counter() - started)
        complete = recommender.metadata["n_complete_rows"]
        mlflow.log_metric("n_complete_training_rows", complete)
        log(
            f"fitted on {len(fit_rows):,} patients ({complete:,} with every input known fit "
            f"the models; all of them feed the imputation) in "
            f"{time.perf_counter() - started:.1f} s"
        )
        if data is None:
            metrics, gate = _synthetic_checks(
                client, settings, recommender, holdout_n, holdout_seed, log
            )
        else:
            metrics = _split_metrics(recommender, training, split_rows)
            gate = gate_real(metrics)
        mlflow.log_metrics({k: float(v) for k, v in metrics.items() if np.isfinite(v)})
        log_recommender(recommender, _example_frame(training, fit_rows), settings.model_name)
        version = _latest_version(client, settings, run.info.run_id)
        alias = settings.champion_alias if gate.passed else settings.challenger_alias
        verdict = "passed" if gate.passed else "failed"
        reason = f"gate {verdict}: " + "; ".join(gate.reasons)
        line = move_alias(client, settings, alias, version, reason)
        mlflow.set_tags(
            {
                "gate": verdict,
                "gate_reasons": "; ".join(gate.reasons),
                "registered_version": version,
                "alias": alias,
            }
        )
        mlflow.log_text(line + "\n", "alias_move.txt")
        log(line)
        return TrainResult(run.info.run_id, version, alias, gate.passed, gate.reasons, metrics)


def _split(training: TrainingData, real: bool, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rows = np.arange(len(training.typed))
    if not real:
        return rows, rows[:0]
    rng = np.random.default_rng(seed)
    held = rng.random(len(rows)) < SPLIT_SHARE
    return rows[~held], rows[held]


def _example_frame(training: TrainingData, rows: np.ndarray) -> pd.DataFrame:
    """A few complete training rows as a user would send them: flags as booleans (rows with
    unknown inputs are skipped: an unknown flag must not turn into false)."""
    typed = training.typed.iloc[rows]
    complete = ~has_unknown(typed, len(typed))
    frame = typed[complete].head(5)[list(FEATURE_COLUMNS)].reset_index(drop=True)
    for spec in COLUMNS:
        if spec.kind == "bool":
            frame[spec.name] = frame[spec.name] == 1.0
    frame["patient_id"] = frame["patient_id"].astype(str)
    return frame


def _synthetic_checks(client, settings, recommender, holdout_n, holdout_seed, log):
    log(f"scoring on a fresh synthetic hold-out of {holdout_n:,} (seed {holdout_seed})")
    hold = holdout_cohort(holdout_n, holdout_seed)
    evaluation = evaluate(recommender, hold)
    champion_metrics = None
    current = champion_version(client, settings)
    if current is not None:
        champion = load_recommender(f"models:/{settings.model_name}/{current}")
        champion_metrics = evaluate(champion, hold).metrics
        mlflow.log_metrics(
            {
                f"champion_v{current}_{k}": v
                for k, v in champion_metrics.items()
                if k.endswith(("_auc", "_calibration_error_vs_truth"))
            }
        )
    with tempfile.TemporaryDirectory() as folder:
        figures = write_figures(evaluation, hold, Path(folder))
        for path in figures.values():
            mlflow.log_artifact(str(path), "evaluation")
        evaluation.policies.to_csv(Path(folder) / "policy_value.csv")
        evaluation.sweep.to_csv(Path(folder) / "threshold_sweep.csv", index=False)
        target_table(hold, load_targets()).to_csv(
            Path(folder) / "synthetic_targets.csv", index=False
        )
        for name in ("policy_value.csv", "threshold_sweep.csv", "synthetic_targets.csv"):
            mlflow.log_artifact(str(Path(folder) / name), "evaluation")
    mlflow.log_text(
        json.dumps(evaluation.metrics, indent=1, default=float), "evaluation/metrics.json"
    )
    return evaluation.metrics, gate_synthetic(evaluation.metrics, champion_metrics)


def _split_metrics(recommender, training: TrainingData, rows: np.ndarray) -> dict[str, float]:
    """Response classifiers on the held-out 20 % (each on the patients who got it)."""
    typed, outcomes = training.typed.iloc[rows], training.outcomes.iloc[rows]
    pred = recommender.predict_frame(typed.reset_index(drop=True))
    metrics = {}
    for name in ("il2", "tki"):
        got = outcomes["treatment"].to_numpy() == name
        y = outcomes["best_response"].isin(["CR", "PR"]).to_numpy()[got].astype(float)
        p = pred[f"{name}_p_response"].to_numpy()[got]
        if got.sum() < 20 or y.min() == y.max():
            continue
        metrics[f"split_{name}_p_response_calibration_slope"] = calibration_slope(p, y)
        metrics[f"split_{name}_p_response_brier"] = float(np.mean((p - y) ** 2))
        metrics[f"split_{name}_p_response_brier_prevalence"] = float(np.mean((y.mean() - y) ** 2))
    return metrics


def _latest_version(client, settings: Settings, run_id: str) -> str:
    versions = client.search_model_versions(f"name='{settings.model_name}' and run_id='{run_id}'")
    return str(max(versions, key=lambda v: int(v.version)).version)
