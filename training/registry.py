"""The MLflow side: the embedded store, lineage, the pyfunc, the promotion gate and the
aliases (``@champion``, ``@challenger``), each move logged with its reason."""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature, infer_signature
from mlflow.types import ColSpec, Schema

from model.columns import COLUMNS
from model.pyfunc import RecommenderModel, predict_table
from model.recommender import Recommender
from model.settings import Settings

REPO = Path(__file__).resolve().parents[1]
GATE_AUC_SLACK = 0.03
GATE_CALIBRATION = 0.03
GATE_C_INDEX_SLACK = 0.03
CHAMPION_SLACK = 0.005
GATED_CLASSIFIERS = (
    "il2_p_response",
    "il2_p_complete_response",
    "tki_p_response",
    "tki_p_complete_response",
    "il2_p_severe_cardiac_toxicity",
)
GATED_SURVIVAL = ("il2_os", "il2_pfs", "tki_os", "tki_pfs")


def connect(settings: Settings) -> MlflowClient:
    """Point MLflow at the store (MLFLOW_TRACKING_URI, else SQLite in the project) and
    make sure the experiment keeps its artifacts in the project folder."""
    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_registry_uri(settings.tracking_uri)
    if mlflow.get_experiment_by_name(settings.experiment) is None:
        mlflow.create_experiment(settings.experiment, artifact_location=settings.artifact_root)
    mlflow.set_experiment(settings.experiment)
    return MlflowClient(settings.tracking_uri, settings.tracking_uri)


def file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "missing"


def lineage_tags(data_hash: str, generator_version: str) -> dict[str, str]:
    try:
        commit = (
            subprocess.run(
                ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=10
            ).stdout.strip()
            or "unknown"
        )
    except OSError:
        commit = "unknown"
    return {
        "git_commit": commit,
        "lock_file_sha256": file_hash(REPO / "uv.lock"),
        "generator_parameter_version": generator_version,
        "targets_sha256": file_hash(REPO / "data" / "synthetic" / "targets.yaml"),
        "training_data_sha256": data_hash,
    }


def input_schema() -> Schema:
    """The pyfunc's input columns, from the data contract: numbers as double, flags as
    boolean, labels as string; the inputs that may be unknown are optional."""
    mlflow_type = {
        "float": "double",
        "int": "double",
        "bool": "boolean",
        "choice": "string",
        "text": "string",
    }
    return Schema(
        [
            ColSpec(mlflow_type[spec.kind], spec.name, required=not spec.may_be_unknown)
            for spec in COLUMNS
        ]
    )


def log_recommender(recommender: Recommender, example: pd.DataFrame, name: str) -> str:
    """Log the pyfunc (signature, input example) in the active run; returns its URI."""
    output = predict_table(recommender, example)
    signature = ModelSignature(
        inputs=input_schema(), outputs=infer_signature(example, output).outputs
    )
    info = mlflow.pyfunc.log_model(
        name="model",
        python_model=RecommenderModel(recommender),
        signature=signature,
        input_example=example,
        registered_model_name=name,
    )
    return info.model_uri


@dataclass(frozen=True)
class GateResult:
    passed: bool
    reasons: list[str]


def gate_synthetic(metrics: dict[str, float], champion: dict[str, float] | None) -> GateResult:
    """Synthetic hold-out: AUC >= truth - 0.03, calibration error <= 0.03, C-index >=
    truth - 0.03; not worse than the champion on the same hold-out (0.005)."""
    failures = []
    for name in GATED_CLASSIFIERS:
        auc, truth = metrics.get(f"{name}_auc"), metrics.get(f"{name}_auc_truth")
        if auc is not None and auc < truth - GATE_AUC_SLACK:
            failures.append(f"{name} AUC {auc:.3f} < truth {truth:.3f} - {GATE_AUC_SLACK}")
        # against the true probabilities: the hold-out knows them, and outcome noise would
        # otherwise dominate the binned error of a small hold-out
        error = metrics[f"{name}_calibration_error_vs_truth"]
        if error > GATE_CALIBRATION:
            failures.append(f"{name} calibration error {error:.3f} > {GATE_CALIBRATION}")
        if champion is not None and f"{name}_auc" in champion and auc is not None:
            if auc < champion[f"{name}_auc"] - CHAMPION_SLACK:
                failures.append(
                    f"{name} AUC {auc:.3f} worse than the champion's {champion[f'{name}_auc']:.3f}"
                )
            theirs = champion[f"{name}_calibration_error_vs_truth"]
            if error > theirs + CHAMPION_SLACK:
                failures.append(
                    f"{name} calibration error {error:.3f} worse than the champion's {theirs:.3f}"
                )
    for name in GATED_SURVIVAL:
        c, truth = metrics[f"{name}_c_index"], metrics[f"{name}_c_index_truth"]
        if c < truth - GATE_C_INDEX_SLACK:
            failures.append(f"{name} C-index {c:.3f} < truth {truth:.3f} - {GATE_C_INDEX_SLACK}")
    return GateResult(not failures, failures or ["every synthetic hold-out check passed"])


def gate_real(metrics: dict[str, float]) -> GateResult:
    """Real data, 20 % split: calibration slope 0.8-1.2 and Brier below prevalence-only."""
    failures = []
    for name in ("il2_p_response", "tki_p_response"):
        slope = metrics.get(f"split_{name}_calibration_slope")
        if slope is None:
            continue
        if not 0.8 <= slope <= 1.2:
            failures.append(f"{name} calibration slope {slope:.2f} outside 0.8-1.2")
        brier, base = metrics[f"split_{name}_brier"], metrics[f"split_{name}_brier_prevalence"]
        if brier >= base:
            failures.append(f"{name} Brier {brier:.4f} not below prevalence-only {base:.4f}")
    return GateResult(not failures, failures or ["every 20 % split check passed"])


def champion_version(client: MlflowClient, settings: Settings) -> str | None:
    try:
        return str(
            client.get_model_version_by_alias(settings.model_name, settings.champion_alias).version
        )
    except MlflowException:
        return None


def move_alias(
    client: MlflowClient, settings: Settings, alias: str, version: str, reason: str
) -> str:
    """Point ``alias`` at ``version`` and record the move and its reason on the version
    and in the model's alias history (a tag per move)."""
    before = None
    try:
        before = client.get_model_version_by_alias(settings.model_name, alias).version
    except MlflowException:
        pass
    client.set_registered_model_alias(settings.model_name, alias, version)
    line = f"@{alias}: {before or 'none'} -> {version}: {reason}"
    client.set_model_version_tag(settings.model_name, version, f"alias_{alias}_reason", reason)
    history = client.get_registered_model(settings.model_name).tags
    n = sum(1 for k in history if k.startswith("alias_move_"))
    client.set_registered_model_tag(settings.model_name, f"alias_move_{n + 1:04d}", line)
    return line


class NoChampionError(LookupError):
    pass


def load_recommender(uri: str) -> Recommender:
    """The recommender inside a registered pyfunc; a clear error when the alias or version
    does not exist."""
    try:
        return mlflow.pyfunc.load_model(uri).unwrap_python_model().recommender
    except MlflowException as exc:
        raise NoChampionError(
            f"no model at {uri} in {mlflow.get_tracking_uri()}: run "
            "`il2select train` first (or pass --model-uri)"
        ) from exc
