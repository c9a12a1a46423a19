"""The champion the service answers with: ``models:/il2select@champion`` from the MLflow
registry, where it came from (version, run, training-data hash) and the metrics it was
promoted on."""

from __future__ import annotations

from dataclasses import dataclass

from model.recommend.answer import Provenance
from model.recommend.pyfunc import MODEL_CARD_ARTIFACT, find_version, load_version
from model.recommend.recommender import Recommender
from model.rules.derive import RULES_VERSION
from model.settings import Settings


@dataclass(frozen=True)
class Champion:
    recommender: Recommender
    provenance: Provenance
    metrics: dict[str, float]
    tracking_uri: str
    card: str | None = None  # the version's model card (HTML), None for a version without


def load_champion(settings: Settings) -> Champion:
    """Find the aliased version, check this code can read it, and load it.

    Raises
    ------
    NoChampion, IncompatibleModel
        from ``model.recommend.pyfunc`` (each says how to fix it).
    """
    version = find_version(settings.tracking_uri, settings.model_name, settings.champion_alias)
    provenance = Provenance(
        model_name=version.name,
        model_version=version.version,
        model_alias=version.alias,
        run_id=version.run_id,
        training_data_hash=version.tags.get("training_data_sha256"),
        rules_version=RULES_VERSION,
    )
    recommender = load_version(version, settings.tracking_uri)
    provenance = provenance.model_copy(update={"policy": recommender.policy.as_dict()})
    card = _model_card(settings.tracking_uri, version.run_id)
    return Champion(recommender, provenance, version.metrics, settings.tracking_uri, card)


def _model_card(tracking_uri: str, run_id: str | None) -> str | None:
    """The model card logged by the version's training run (None when it has none)."""
    import tempfile
    from pathlib import Path

    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    if run_id is None:
        return None
    with tempfile.TemporaryDirectory() as folder:
        try:
            path = MlflowClient(tracking_uri).download_artifacts(
                run_id, MODEL_CARD_ARTIFACT, folder
            )
        except (MlflowException, OSError):
            return None
        return Path(path).read_text(encoding="utf-8")
