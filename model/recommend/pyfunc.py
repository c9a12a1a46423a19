"""The MLflow face of the core: the pyfunc around the recommender (one model that returns
everything the service and ``il2select predict`` need), and how a registered version is
found and loaded back — the one champion look-up, through MLflow's public client API.

Only classes under ``model/`` are pickled, by module path. A version carries the layout it
was pickled with (``MODEL_FORMAT`` in its MLmodel metadata): one registered by an earlier
layout is refused with one message that names the fix, before anything is unpickled.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.models import get_model_info
from mlflow.pyfunc import PythonModel

from model.contract.tables import validate_table
from model.recommend.recommender import Recommender

# model/{contract,rules,estimators,recommend}, a TrainingConfig in every Recommender
MODEL_FORMAT = "3"  # 3: IMDC counts and cardiac history among the predictors
MODEL_CARD_ARTIFACT = "model_card.html"  # logged by each training run beside the model
MODEL_FORMAT_KEY = "il2select_model_format"
PICKLE_ERRORS = (ModuleNotFoundError, AttributeError, ImportError, TypeError, EOFError)


class RecommenderModel(PythonModel):
    """``predict(frame)`` -> the prediction table, row for row; a row that breaks the data
    contract gets its reasons in ``errors`` and empty predictions (no row is lost)."""

    def __init__(self, recommender: Recommender) -> None:
        self.recommender = recommender

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        return predict_table(self.recommender, pd.DataFrame(model_input))


def predict_table(recommender: Recommender, raw: pd.DataFrame) -> pd.DataFrame:
    """Validate, predict the valid rows, and give bad rows their reasons."""
    raw = raw.reset_index(drop=True)
    report = validate_table(raw)
    valid = report.valid
    predicted = recommender.predict_frame(report.typed[valid].reset_index(drop=True))
    predicted.index = raw.index[valid]
    out = predicted.reindex(raw.index)
    out["errors"] = report.reasons_by_row().reindex(raw.index + 1).fillna("").to_numpy()
    if "patient_id" in raw.columns:
        out["patient_id"] = raw["patient_id"].to_numpy()
    return out


class NoChampion(LookupError):
    """The registry has no version under the alias (or no such version)."""

    def __init__(self, model_uri: str, tracking_uri: str) -> None:
        super().__init__(
            f"no model {model_uri} in the MLflow registry at {tracking_uri}: train one with "
            "`il2select train` (`il2select serve` trains one when there is none), or point "
            "the alias at a version with `il2select promote --version N`"
        )


class IncompatibleModel(RuntimeError):
    """A registered version pickled by an earlier layout of the code."""

    def __init__(self, model_uri: str, found: str | None) -> None:
        super().__init__(
            f"{model_uri} was registered by an earlier version of il2select (model format "
            f"{found or 'unversioned'}; this one reads format {MODEL_FORMAT}) and cannot be "
            "loaded: retrain it with `il2select train` (it registers and gates a new version)"
        )


@dataclass(frozen=True)
class RegisteredVersion:
    """A registered version, found (not yet loaded): where it came from and its tags."""

    name: str
    version: str
    alias: str | None
    run_id: str | None
    tags: dict[str, str]
    metrics: dict[str, float]

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"


def find_version(
    tracking_uri: str, name: str, alias: str | None = None, version: str | None = None
) -> RegisteredVersion:
    """The version under ``alias`` (or ``version``), its run's tags and metrics; checks
    that this code can load it.

    Raises
    ------
    NoChampion
        when the registry has no such alias or version.
    IncompatibleModel
        when the version was pickled by an earlier layout.
    """
    client = registry_client(tracking_uri)
    wanted = f"{name}@{alias}" if alias else f"{name} version {version}"
    try:
        found = client.get_model_version(name, str(version)) if version else None
    except MlflowException:
        found = None
    found = aliased_version(client, name, alias) if alias else found
    if found is None:
        raise NoChampion(wanted, tracking_uri)
    run = client.get_run(found.run_id) if found.run_id else None
    registered = RegisteredVersion(
        name,
        str(found.version),
        alias,
        found.run_id,
        {**(run.data.tags if run else {}), **(found.tags or {})},
        dict(run.data.metrics) if run else {},
    )
    _check_format(registered.uri, tracking_uri, wanted)
    return registered


def aliased_version(client: MlflowClient, name: str, alias: str) -> ModelVersion | None:
    """The version under ``name@alias``, or None: the one alias look-up."""
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def registry_client(tracking_uri: str) -> MlflowClient:
    """A client of the store (tracking and registry). A SQLite store is created here when
    it does not exist yet, with its artifacts in ``mlartifacts`` beside it (MLflow would
    put its default experiment's under the working directory, wherever that is)."""
    if tracking_uri.startswith("sqlite:///"):
        database = Path(tracking_uri.removeprefix("sqlite:///"))
        if not database.exists():
            from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

            database.parent.mkdir(parents=True, exist_ok=True)
            SqlAlchemyStore(tracking_uri, (database.parent / "mlartifacts").as_uri())
    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def load_recommender(model_uri: str, tracking_uri: str) -> Recommender:
    """The recommender inside a pyfunc: ``models:/name@alias``, ``models:/name/N`` or any
    MLflow model URI.

    Raises
    ------
    NoChampion
        when the registry has no such alias or version.
    IncompatibleModel
        when the model was pickled by an earlier layout.
    """
    if model_uri.startswith("models:/") and not model_uri.startswith("models:/m-"):
        name, _, version = model_uri.removeprefix("models:/").partition("/")
        name, _, alias = name.partition("@")
        return load_version(
            find_version(tracking_uri, name, alias or None, version or None), tracking_uri
        )
    _check_format(model_uri, tracking_uri, model_uri)
    return _unpickle(model_uri, model_uri)


def load_version(registered: RegisteredVersion, tracking_uri: str) -> Recommender:
    """The recommender of a version ``find_version`` found (and checked)."""
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    return _unpickle(registered.uri, registered.uri)


def _unpickle(model_uri: str, shown: str) -> Recommender:
    try:
        return mlflow.pyfunc.load_model(model_uri).unwrap_python_model().recommender
    except PICKLE_ERRORS as exc:
        raise IncompatibleModel(shown, None) from exc


def model_metadata() -> dict[str, str]:
    """What ``mlflow.pyfunc.log_model`` stores beside a recommender (``metadata=``)."""
    return {MODEL_FORMAT_KEY: MODEL_FORMAT}


def _check_format(model_uri: str, tracking_uri: str, shown: str) -> None:
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    try:
        info = get_model_info(model_uri)
    except MlflowException as exc:
        raise NoChampion(shown, tracking_uri) from exc
    found = (info.metadata or {}).get(MODEL_FORMAT_KEY)
    if found != MODEL_FORMAT:
        raise IncompatibleModel(shown, found)
