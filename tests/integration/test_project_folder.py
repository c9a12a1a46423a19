"""One project folder whatever the working directory: ``il2select train``, ``promote`` and
``serve`` run from another folder with ``IL2SELECT_PROJECT_DIR`` share its registry, tokens
and audit log, and write nothing into the source tree; a version registered by an earlier
layout of the code is refused, with the fix named, by every command that would load it."""

from __future__ import annotations

import sqlite3
import sys
import types
from pathlib import Path

import pytest

from model.contract.patient import Patient, patient_example
from model.recommend.pyfunc import IncompatibleModel, load_recommender, registry_client
from serving.audit_store import canonical_sha256
from serving.champion import load_champion
from tests.integration.service_fixtures import free_port

REPO = Path(__file__).resolve().parents[2]


def _source_tree_state() -> dict[str, float]:
    """What the service or training could write into the source tree, with mtimes."""
    candidates = [REPO / "mlflow.db", REPO / "mlartifacts", REPO / ".il2select"]
    candidates += list((REPO / ".il2select").glob("*"))
    return {str(p): p.stat().st_mtime for p in candidates if p.exists()}


def test_train_promote_and_serve_share_one_project_folder(project, service):
    """The session's server is ``il2select serve`` run from the other folder with only
    ``IL2SELECT_PROJECT_DIR`` set (``project`` trained and registered from there too)."""
    before = _source_tree_state()
    state = project.folder / ".il2select"
    patient = {**patient_example(), "patient_id": "PROJECT-FOLDER-1"}
    with service.client() as client:
        answer = client.post("/recommend", json=patient)
    assert answer.status_code == 200, answer.text
    assert answer.json()["provenance"]["model_version"] == "1"
    assert service.audit_db == state / "audit.db"
    with sqlite3.connect(state / "audit.db") as db:
        records = db.execute(
            "SELECT endpoint, model_version FROM audit WHERE input_sha256 = ?",
            (canonical_sha256(Patient(**patient).model_dump()),),
        ).fetchall()
    assert records == [("recommend", "1")]
    assert "tester:" in (state / "tokens").read_text()  # the tokens serve read: hashed
    for name in ("mlflow.db", "mlartifacts", ".il2select", "mlruns"):
        assert not (project.elsewhere / name).exists(), name
    assert _source_tree_state() == before  # nothing of the service went to the source tree


def _register_earlier_layout(tracking_uri: str) -> str:
    """What a version registered before the four-part layout looks like: a pyfunc pickled
    by reference to ``model.pyfunc`` (a module path this code no longer has) and without a
    model format. That module exists only while the version is logged."""
    import mlflow
    from mlflow.pyfunc import PythonModel

    class RecommenderModel(PythonModel):
        def predict(self, context, model_input, params=None):
            return model_input

    legacy = types.ModuleType("model.pyfunc")
    RecommenderModel.__module__, RecommenderModel.__qualname__ = legacy.__name__, "RecommenderModel"
    legacy.RecommenderModel = RecommenderModel
    sys.modules[legacy.__name__] = legacy
    try:
        mlflow.set_tracking_uri(tracking_uri)
        with mlflow.start_run(experiment_id="0"):
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=RecommenderModel(),
                pip_requirements=[],
                registered_model_name="il2select",
            )
    finally:
        del sys.modules[legacy.__name__]
    return str(info.registered_model_version)


@pytest.fixture
def earlier_layout_champion(project):
    """@champion on a version of the earlier layout, for one test; version 1 after it."""
    settings = project.settings
    client = registry_client(settings.tracking_uri)
    old = _register_earlier_layout(settings.tracking_uri)
    client.set_registered_model_alias("il2select", "champion", old)  # as before this change
    yield old
    client.set_registered_model_alias("il2select", "champion", "1")


def test_a_version_of_an_earlier_layout_is_refused_with_the_fix_named(
    project, earlier_layout_champion
):
    old = earlier_layout_champion
    fix = "retrain it with `il2select train`"
    with pytest.raises(IncompatibleModel, match="retrain it"):
        load_champion(project.settings)
    served = project.cli("serve", "--no-train", "--port", str(free_port()), timeout=120)
    assert served.returncode == 4, served.stderr[-2000:]
    assert fix in " ".join(served.stderr.split()) and "il2select@champion" in served.stderr
    with pytest.raises(IncompatibleModel, match="retrain it"):  # what predict and evaluate load
        load_recommender(f"models:/il2select/{old}", project.settings.tracking_uri)
    promoted = project.cli("promote", "--version", old)
    assert promoted.returncode == 2 and fix in " ".join(promoted.stderr.split())
