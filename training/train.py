"""``il2select train``: fit on observed data, evaluate, log to MLflow, register, gate, and
move the alias. Synthetic data are scored on a fresh hold-out with its truth; real data
on a 20 % split of the user's own table."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd

from data.synthetic.params import load_parameters
from model.contract.columns import COLUMNS, FEATURE_COLUMNS
from model.estimators.imputation import has_unknown
from model.recommend.pyfunc import (
    MODEL_CARD_ARTIFACT,
    IncompatibleModel,
    NoChampion,
    find_version,
    load_version,
)
from model.recommend.recommender import Recommender
from model.recommend.training_config import TrainingConfig
from model.settings import Settings
from training.data import TrainingData, prepare, synthetic_training_data
from training.evaluate import evaluate, holdout_cohort, log_evaluation, write_tables
from training.gate import GateResult, gate_real, gate_synthetic
from training.metrics import calibration_slope
from training.model_card import CardFacts, render_card
from training.registry import move_alias
from training.tracking import lineage_tags, log_recommender, training_run

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
    config: TrainingConfig | None = None,
    log: Callable[[str], None] = print,
) -> TrainResult:
    """Train on synthetic observed data (``n``, ``seed``) or on a real-format table
    (``data``), then register the pyfunc and run the promotion gate. Every field of
    ``config`` (default ``TrainingConfig()``) is logged as a param of the run."""
    config = config or TrainingConfig()
    with training_run(settings, "train") as run:
        if data is None:
            log(f"simulating {n:,} observed patients (seed {seed})")
            training = synthetic_training_data(n, seed)
        else:
            training = prepare(data.reset_index(drop=True), "user table")
        mlflow.set_tags(lineage_tags(training.data_hash, str(load_parameters().version)))
        mlflow.log_params(
            {"source": training.source, "n_rows": len(training.typed), "seed": seed}
            | config.as_params()
        )
        fit_rows, split_rows = _split(training, real=data is not None, seed=seed)
        recommender = _fit(training, fit_rows, config, seed, log)
        evaluation, material = None, {}
        if data is None:
            evaluation, material, gate = _synthetic_checks(
                settings, recommender, holdout_n, holdout_seed, log
            )
            metrics = evaluation.metrics
        else:
            metrics = _split_metrics(recommender, training, split_rows)
            gate = gate_real(metrics)
        mlflow.log_metrics({k: float(v) for k, v in metrics.items() if np.isfinite(v)})
        example = _example_frame(training, fit_rows)
        version = log_recommender(recommender, example, settings.model_name)
        facts = CardFacts(
            model_name=settings.model_name,
            version=version,
            run_id=run.info.run_id,
            source=training.source,
            n_rows=len(fit_rows),
            config=config.as_params(),
            generator_version=str(load_parameters().version),
            metrics=metrics,
            gate=gate.reasons,
            policies_by_era=evaluation.policies_by_era if evaluation else {},
            tradeoff=evaluation.sweep if evaluation else None,
            **material,
        )
        mlflow.log_text(render_card(facts), MODEL_CARD_ARTIFACT)
        alias = _promote(settings, version, gate, log)
        return TrainResult(run.info.run_id, version, alias, gate.passed, gate.reasons, metrics)


def _fit(
    training: TrainingData, rows: np.ndarray, config: TrainingConfig, seed: int, log
) -> Recommender:
    started = time.perf_counter()
    recommender = Recommender.fit(
        training.typed.iloc[rows], training.outcomes.iloc[rows], config, seed
    )
    seconds = time.perf_counter() - started
    complete = recommender.metadata["n_complete_rows"]
    mlflow.log_metrics({"fit_seconds": seconds, "n_complete_training_rows": complete})
    log(
        f"fitted on {len(rows):,} patients ({complete:,} with every input known fit the "
        f"models; all of them feed the imputation) in {seconds:.1f} s"
    )
    return recommender


def _promote(settings: Settings, version: str, gate: GateResult, log) -> str:
    """Move @champion (gate passed) or @challenger (failed) to the new version."""
    alias = settings.champion_alias if gate.passed else settings.challenger_alias
    verdict = "passed" if gate.passed else "failed"
    reason = f"gate {verdict}: " + "; ".join(gate.reasons)
    line = move_alias(settings, alias, version, reason)
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
    return alias


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


def _synthetic_checks(settings: Settings, recommender, holdout_n, holdout_seed, log):
    log(f"scoring on fresh synthetic hold-outs of {holdout_n:,} (seed {holdout_seed}, both eras)")
    hold = holdout_cohort(holdout_n, holdout_seed)
    cytokine = holdout_cohort(holdout_n, holdout_seed, era="cytokine")
    evaluation = evaluate(recommender, hold, other_eras={"cytokine": cytokine})
    champion_metrics = _champion_metrics(settings, hold, log)
    with tempfile.TemporaryDirectory() as folder:
        written = write_tables(evaluation, hold, Path(folder))
        log_evaluation(evaluation, hold, written)
        material = {
            "figures": {k: v.read_bytes() for k, v in written.items() if v.suffix == ".png"},
            "targets": pd.read_csv(written["synthetic_targets"]),
            "coverage": pd.read_csv(written["coverage"]),
        }
    return evaluation, material, gate_synthetic(evaluation.metrics, champion_metrics)


def _champion_metrics(settings: Settings, hold: pd.DataFrame, log) -> dict[str, float] | None:
    """The current champion scored on the same hold-out (None when there is none, or when
    it was registered by an earlier layout: then the new version is judged alone)."""
    try:
        current = find_version(settings.tracking_uri, settings.model_name, settings.champion_alias)
    except NoChampion:
        return None
    except IncompatibleModel as exc:
        log(f"not compared with the current champion: {exc}")
        return None
    metrics = evaluate(load_version(current, settings.tracking_uri), hold).metrics
    mlflow.log_metrics(
        {
            f"champion_v{current.version}_{k}": v
            for k, v in metrics.items()
            if k.endswith(("_auc", "_calibration_error_vs_truth"))
        }
    )
    return metrics


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
