"""Where training logs: the MLflow store of the settings, the experiment, the run (or the
run ``mlflow run`` already started), lineage tags, and the pyfunc with its signature.

The core (``model/``) knows nothing of experiments: they are chosen here. Inside ``mlflow
run`` (``MLFLOW_RUN_ID`` set) every command logs into that run and its experiment; with
``MLFLOW_EXPERIMENT_NAME`` or ``MLFLOW_EXPERIMENT_ID`` set, MLflow's own choice stands;
otherwise runs go to the experiment ``il2select``, artifacts in the project folder.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import Run
from mlflow.environment_variables import (
    MLFLOW_EXPERIMENT_ID,
    MLFLOW_EXPERIMENT_NAME,
    MLFLOW_RUN_ID,
)
from mlflow.models import ModelSignature, infer_signature
from mlflow.types import ColSpec, Schema

from model.contract.columns import COLUMNS
from model.recommend.pyfunc import (
    RecommenderModel,
    model_metadata,
    predict_table,
    registry_client,
)
from model.recommend.recommender import Recommender
from model.settings import Settings

SOURCE_DIR = Path(__file__).resolve().parents[1]  # the code's checkout, for lineage
EXPERIMENT = "il2select"
MLFLOW_TYPES = {
    "float": "double",
    "int": "double",
    "bool": "boolean",
    "choice": "string",
    "text": "string",
}


def connect(settings: Settings) -> MlflowClient:
    """Point MLflow at the settings' store (tracking and registry)."""
    client = registry_client(settings.tracking_uri)
    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_registry_uri(settings.tracking_uri)
    return client


def experiment_id(client: MlflowClient, settings: Settings) -> str:
    """MLflow's own choice (``MLFLOW_EXPERIMENT_ID`` or ``MLFLOW_EXPERIMENT_NAME``), else
    ``il2select``, created with its artifacts in the project folder. Never through
    ``mlflow.set_experiment``, which would leave its choice in this process's environment."""
    if MLFLOW_EXPERIMENT_ID.is_set():
        return MLFLOW_EXPERIMENT_ID.get()
    name = MLFLOW_EXPERIMENT_NAME.get() if MLFLOW_EXPERIMENT_NAME.is_set() else EXPERIMENT
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    location = settings.artifact_root if name == EXPERIMENT else None
    return client.create_experiment(name, artifact_location=location)


@contextmanager
def training_run(settings: Settings, run_name: str) -> Iterator[Run]:
    """A run of this command: the one ``mlflow run`` started (``MLFLOW_RUN_ID``: its
    experiment too), or a new one named ``run_name`` in ``experiment_id``'s experiment."""
    client = connect(settings)
    if MLFLOW_RUN_ID.is_set():
        started = mlflow.start_run()
    else:
        started = mlflow.start_run(experiment_id=experiment_id(client, settings), run_name=run_name)
    with started as run:
        yield run


def file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "missing"


def lineage_tags(data_hash: str, generator_version: str) -> dict[str, str]:
    """Git commit, lock-file and targets hashes of the code that trained, the generator's
    parameter version and the training data's hash."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=SOURCE_DIR, capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except OSError:
        commit = ""
    return {
        "git_commit": commit or "unknown",
        "lock_file_sha256": file_hash(SOURCE_DIR / "uv.lock"),
        "generator_parameter_version": generator_version,
        "targets_sha256": file_hash(SOURCE_DIR / "data" / "synthetic" / "targets.yaml"),
        "training_data_sha256": data_hash,
    }


def input_schema() -> Schema:
    """The pyfunc's input columns, from the data contract: numbers as double, flags as
    boolean, labels as string; the inputs that may be unknown are optional."""
    return Schema(
        [
            ColSpec(MLFLOW_TYPES[spec.kind], spec.name, required=not spec.may_be_unknown)
            for spec in COLUMNS
        ]
    )


def pinned_requirements() -> list[str]:
    """This distribution's run-time requirements pinned to the installed versions (what
    MLflow would otherwise infer by loading the model in a subprocess: ~3 s a version)."""
    requirements = [req for req in metadata.requires("il2select") if "extra ==" not in req]
    names = [re.split(r"[ ;<>=!~\[]", req, maxsplit=1)[0] for req in requirements]
    return sorted(f"{name}=={metadata.version(name)}" for name in names)


def log_recommender(recommender: Recommender, example: pd.DataFrame, name: str) -> str:
    """Log the pyfunc (signature, input example, model format) in the active run and
    register it under ``name``; returns the new version."""
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
        metadata=model_metadata(),
        pip_requirements=pinned_requirements(),
    )
    return str(info.registered_model_version)
