"""The champion: ``models:/il2select@champion`` from the MLflow registry, with where it
came from (version, run, training-data hash) and the metrics it was promoted on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from model.answer import Provenance
from model.rules import RULES_VERSION

# Tag names the trainer may use for the hash of the training data (model version or run).
TRAINING_DATA_HASH_TAGS = ("training_data_hash", "training_data_sha256", "data_hash")


class ChampionMissingError(RuntimeError):
    """No model version carries the alias: the service cannot start."""


@dataclass(frozen=True)
class Champion:
    recommender: Any
    provenance: Provenance
    metrics: dict[str, float]
    tracking_uri: str


def load_champion(tracking_uri: str, name: str, alias: str) -> Champion:
    """Load the aliased pyfunc and unwrap its ``Recommender``.

    Raises
    ------
    ChampionMissingError
        when the registry has no ``name@alias`` (says how to make one).
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    client = mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    try:
        version = client.get_model_version_by_alias(name, alias)
    except MlflowException as exc:
        raise ChampionMissingError(
            f"no model '{name}@{alias}' in the MLflow registry at {tracking_uri}: run "
            "`il2select serve` (it trains and registers one) or promote a version with the "
            f"alias '{alias}'"
        ) from exc
    pyfunc = mlflow.pyfunc.load_model(f"models:/{name}@{alias}")
    recommender = pyfunc.unwrap_python_model().recommender
    run = client.get_run(version.run_id) if version.run_id else None
    tags = {**(run.data.tags if run else {}), **(version.tags or {})}
    provenance = Provenance(
        model_name=name,
        model_version=str(version.version),
        model_alias=alias,
        run_id=version.run_id,
        training_data_hash=next((tags[t] for t in TRAINING_DATA_HASH_TAGS if t in tags), None),
        rules_version=RULES_VERSION,
    )
    metrics = dict(run.data.metrics) if run else {}
    return Champion(recommender, provenance, metrics, tracking_uri)
