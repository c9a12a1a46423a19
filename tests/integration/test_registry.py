"""Training through a real (temporary) MLflow store and registry: register, gate,
promote, roll back, load in a fresh process, train on a real-format table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient

from data.synthetic.cohort import simulate_cohort
from model.settings import Settings
from training.train import train_and_register

REGISTRY_COHORT = Path(__file__).with_name("registry_cohort.csv")
SAMPLES = Path(__file__).resolve().parents[2] / "data" / "synthetic" / "samples"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    project = tmp_path_factory.mktemp("project")
    env = {"IL2SELECT_PROJECT_DIR": str(project), "MLFLOW_TRACKING_URI": ""}
    settings = Settings(project_dir=project, mlflow_tracking_uri=None)
    first = train_and_register(
        settings, n=6000, seed=1, holdout_n=10_000, holdout_seed=2, log=lambda _: None
    )
    return settings, env, first


def _cli(env: dict, *args: str) -> subprocess.CompletedProcess:
    import os

    full = {**os.environ, **env}
    full.pop("MLFLOW_TRACKING_URI", None)
    return subprocess.run(
        [sys.executable, "-m", "il2select", *args],
        capture_output=True,
        text=True,
        env=full,
        timeout=600,
    )


def test_first_passing_version_becomes_champion(store):
    settings, _, first = store
    assert first.passed and first.alias == "champion", first.reasons
    client = MlflowClient(settings.tracking_uri, settings.tracking_uri)
    assert str(client.get_model_version_by_alias("il2select", "champion").version) == first.version
    run = client.get_run(first.run_id)
    for tag in (
        "git_commit",
        "lock_file_sha256",
        "generator_parameter_version",
        "targets_sha256",
        "training_data_sha256",
    ):
        assert run.data.tags[tag] not in ("", None), tag
    assert "il2select_fit_seconds" not in run.data.metrics and "fit_seconds" in run.data.metrics
    artifacts = {a.path for a in client.list_artifacts(first.run_id, "evaluation")}
    assert {
        "evaluation/reliability.png",
        "evaluation/threshold_sweep.png",
        "evaluation/synthetic_targets.csv",
        "evaluation/policy_value.csv",
    } <= artifacts


def test_champion_loads_in_a_fresh_process(store):
    settings, _, _ = store
    code = (
        "import mlflow, pandas as pd, sys; mlflow.set_tracking_uri(sys.argv[1]); "
        "m = mlflow.pyfunc.load_model('models:/il2select@champion'); "
        "rows = pd.read_csv(sys.argv[2]).head(3); "
        "rows = rows.astype({c: float for c in rows.select_dtypes('number').columns}); "
        "print(m.unwrap_python_model().recommender.__class__.__module__); "
        "print(len(m.predict(rows.drop(columns=['note']))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, settings.tracking_uri, str(SAMPLES / "clinic_list.csv")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["model.recommend.recommender", "3"]


def test_shuffled_outcomes_are_registered_not_promoted(store):
    settings, _, first = store
    observed = simulate_cohort(6000, seed=5, observed=True).reset_index(drop=True)
    outcome_columns = [
        "treatment",
        "best_response",
        "pfs_months",
        "pfs_event",
        "os_months",
        "os_event",
        "severe_cardiac_toxicity",
    ]
    shuffled = observed.copy()
    order = pd.Series(range(len(observed))).sample(frac=1.0, random_state=3).to_numpy()
    shuffled[outcome_columns] = observed[outcome_columns].to_numpy()[order]
    result = train_and_register(settings, data=shuffled, seed=5, log=lambda _: None)
    assert not result.passed and result.alias == "challenger"
    client = MlflowClient(settings.tracking_uri, settings.tracking_uri)
    assert str(client.get_model_version_by_alias("il2select", "champion").version) == first.version
    reason = client.get_model_version(settings.model_name, result.version).tags[
        "alias_challenger_reason"
    ]
    assert "gate failed" in reason and ("slope" in reason or "Brier" in reason), reason
    moves = client.get_registered_model(settings.model_name).tags
    assert any("@challenger" in line and result.version in line for line in moves.values())


def test_real_format_csv_trains_registers_and_predicts(store, tmp_path):
    settings, env, _ = store
    done = _cli(env, "train", "--data", str(REGISTRY_COHORT))
    assert done.returncode in (0, 3), done.stderr[-3000:]
    version = done.stdout.split("version ")[1].split()[0]
    out = tmp_path / "pred.csv"
    predicted = _cli(
        env,
        "predict",
        "--in",
        str(SAMPLES / "clinic_list.csv"),
        "--out",
        str(out),
        "--model-uri",
        f"models:/il2select/{version}",
    )
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    frame = pd.read_csv(out)
    assert len(frame) == 42 and frame["patient_id"].iloc[0] == "MAN-001"
    for column in (
        "il2_p_response",
        "il2_p_response_lo",
        "il2_p_response_hi",
        "tki_p_complete_response",
        "il2_p_cure",
        "il2_p_severe_cardiac_toxicity",
        "il2_median_os_months",
        "tki_median_pfs_months",
        "il2_os_at_60_months",
        "tki_os_at_60_months",
        "recommendation",
        "reasons",
    ):
        assert frame[column].notna().all(), column
    assert (frame["il2_p_response_lo"] <= frame["il2_p_response"]).all()


def test_promote_rolls_back_and_compare_prints_both_runs(store):
    settings, env, first = store
    second = train_and_register(
        settings, n=6000, seed=9, holdout_n=10_000, holdout_seed=2, log=lambda _: None
    )
    done = _cli(env, "promote", "--version", first.version, "--reason", "roll back")
    assert done.returncode == 0, done.stderr
    client = MlflowClient(settings.tracking_uri, settings.tracking_uri)
    assert str(client.get_model_version_by_alias("il2select", "champion").version) == first.version
    compared = _cli(env, "compare", first.run_id, second.run_id)
    assert compared.returncode == 0
    assert first.run_id[:8] in compared.stdout and "il2_p_response_auc" in compared.stdout
    mlflow.set_tracking_uri(settings.tracking_uri)
