"""Training through a real (temporary) MLflow store and registry, used from another folder
as a data scientist would: register, gate, promote, roll back, load in a fresh process,
train on a real-format table, ``mlflow run`` with and without an experiment name."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from mlflow import MlflowClient

from data.synthetic.cohort import simulate_cohort
from model.recommend.training_config import TrainingConfig
from tests.integration.service_fixtures import Project, clean_env
from training.registry import move_alias
from training.train import train_and_register

REPO = Path(__file__).resolve().parents[2]
REGISTRY_COHORT = Path(__file__).with_name("registry_cohort.csv")
SAMPLES = REPO / "data" / "synthetic" / "samples"
LINEAGE_TAGS = (
    "git_commit",
    "lock_file_sha256",
    "generator_parameter_version",
    "targets_sha256",
    "training_data_sha256",
)


@pytest.fixture(scope="module", autouse=True)
def champion_put_back(project):
    """The tests here move @champion: the session's other tests expect version 1."""
    yield
    move_alias(project.settings, "champion", "1", "put back after the registry tests")


def _client(project: Project) -> MlflowClient:
    uri = project.settings.tracking_uri
    return MlflowClient(uri, uri)


def _champion(project: Project) -> str:
    return str(_client(project).get_model_version_by_alias("il2select", "champion").version)


def mlflow_run(project: Project, entry: str, *params: str, experiment: str | None = None):
    """``mlflow run <repo> -e ENTRY -P … --env-manager local`` from the other folder, on
    the project's store (MLflow Projects passes it to the command it starts)."""
    command = [sys.executable, "-m", "mlflow", "run", str(REPO), "-e", entry]
    for param in params:
        command += ["-P", param]
    command += ["--env-manager", "local"]
    if experiment:
        command += ["--experiment-name", experiment]
    env = clean_env(MLFLOW_TRACKING_URI=project.settings.tracking_uri)
    done = subprocess.run(
        command, capture_output=True, text=True, cwd=project.elsewhere, env=env, timeout=600
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return re.search(r"=== Run \(ID '(\w+)'\) succeeded ===", done.stderr).group(1)


@pytest.fixture(scope="module")
def second_run(project) -> str:
    """A second version, trained by ``mlflow run . -e train --experiment-name board-study``:
    the first one's data, other hyper-parameters (so it passes the gate beside it)."""
    return mlflow_run(
        project,
        "train",
        "n=6000",
        "seed=1",
        "holdout_n=20000",
        "n_draws=100",
        "max_p_toxicity=0.3",
        "min_durable_gain=0.035",
        experiment="board-study",
    )


def test_first_passing_version_becomes_champion_in_the_project_folder(project):
    assert _champion(project) == "1"
    client = _client(project)
    run = client.get_run(project.first_run_id)
    for tag in LINEAGE_TAGS:
        assert run.data.tags[tag] not in ("", None), tag
    assert "fit_seconds" in run.data.metrics
    assert set(TrainingConfig.model_fields) <= set(run.data.params)  # every hyper-parameter
    artifacts = {a.path for a in client.list_artifacts(project.first_run_id, "evaluation")}
    assert {
        "evaluation/reliability.png",
        "evaluation/threshold_sweep.png",
        "evaluation/synthetic_targets.csv",
        "evaluation/policy_value_targeted.csv",
        "evaluation/policy_value_cytokine.csv",
        "evaluation/tradeoff_targeted.csv",
        "evaluation/coverage.csv",
    } <= artifacts
    assert "model_card.html" in {a.path for a in client.list_artifacts(project.first_run_id)}
    assert (project.folder / "mlflow.db").exists() and (project.folder / "mlartifacts").is_dir()
    assert sorted(p.name for p in project.elsewhere.iterdir()) == []  # nothing written there


def test_hyper_parameters_are_set_from_train_and_travel_with_the_version(project, second_run):
    """``second_run`` set ``n_draws`` and ``max_p_toxicity``: logged as params, and the
    registered version predicts with them."""
    from model.recommend.pyfunc import load_recommender

    params = _client(project).get_run(second_run).data.params
    assert params["n_draws"] == "100" and params["max_p_toxicity"] == "0.3"
    assert params["n_imputations"] == str(TrainingConfig().n_imputations)  # the default, logged
    version = _client(project).get_run(second_run).data.tags["registered_version"]
    loaded = load_recommender(f"models:/il2select/{version}", project.settings.tracking_uri)
    assert loaded.config == TrainingConfig(n_draws=100, max_p_toxicity=0.3, min_durable_gain=0.035)
    assert loaded.estimators.n_draws == 101  # the point estimate and 100 draws
    from typer.testing import CliRunner

    from il2select.cli import app

    refused = CliRunner().invoke(app, ["train", "--n", "3000", "--n-draws", "5"])
    assert refused.exit_code == 2 and "--n-draws=5" in refused.output  # out of range, not fitted


def test_champion_loads_in_a_fresh_process(project):
    code = (
        "import mlflow, pandas as pd, sys; mlflow.set_tracking_uri(sys.argv[1]); "
        "m = mlflow.pyfunc.load_model('models:/il2select@champion'); "
        "rows = pd.read_csv(sys.argv[2]).head(3); "
        "rows = rows.astype({c: float for c in rows.select_dtypes('number').columns}); "
        "print(m.unwrap_python_model().recommender.__class__.__module__); "
        "print(len(m.predict(rows.drop(columns=['note']))))"
    )
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            project.settings.tracking_uri,
            str(SAMPLES / "clinic_list.csv"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["model.recommend.recommender", "3"]


def test_shuffled_outcomes_are_registered_not_promoted(project):
    settings, before = project.settings, _champion(project)
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
    assert _champion(project) == before
    client = _client(project)
    reason = client.get_model_version("il2select", result.version).tags["alias_challenger_reason"]
    assert "gate failed" in reason and ("slope" in reason or "Brier" in reason), reason
    moves = client.get_registered_model("il2select").tags
    assert any("@challenger" in line and result.version in line for line in moves.values())


def test_real_format_csv_trains_registers_and_predicts(project, tmp_path):
    done = project.cli("train", "--data", str(REGISTRY_COHORT))
    assert done.returncode in (0, 3), done.stderr[-3000:]
    version = done.stdout.split("version ")[1].split()[0]
    out = tmp_path / "pred.csv"
    predicted = project.cli(
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


def test_mlflow_run_train_logs_into_its_run_and_experiment_and_registers(project, second_run):
    """With ``--experiment-name``: MLflow Projects' run, in that experiment, is the one
    ``il2select train`` logs into, and it registers a version from that run."""
    client = _client(project)
    run = client.get_run(second_run)
    assert run.info.status == "FINISHED"
    assert client.get_experiment(run.info.experiment_id).name == "board-study"
    assert run.data.params["n_rows"] == "6000" and "n_draws" in run.data.params
    version = client.get_model_version("il2select", run.data.tags["registered_version"])
    assert version.run_id == second_run


def test_mlflow_run_evaluate_logs_into_its_run_without_an_experiment_name(
    project, second_run, tmp_path
):
    """Without ``--experiment-name``: MLflow Projects' run in its Default experiment."""
    run_id = mlflow_run(project, "evaluate", "n=2000", f"out={tmp_path}")
    client = _client(project)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and run.info.experiment_id == "0"
    assert run.data.params["model_uri"] == "models:/il2select@champion"
    assert "il2_p_response_auc" in run.data.metrics
    logged = {a.path for a in client.list_artifacts(run_id, "evaluation")}
    assert "evaluation/metrics.json" in logged
    assert (tmp_path / "reliability.png").exists()


def test_promote_rolls_back_and_compare_prints_both_runs(project, second_run):
    done = project.cli("promote", "--version", "1", "--reason", "roll back")
    assert done.returncode == 0, done.stderr
    assert _champion(project) == "1"
    compared = project.cli("compare", project.first_run_id, second_run)
    assert compared.returncode == 0
    assert project.first_run_id[:8] in compared.stdout and "il2_p_response_auc" in compared.stdout
    from model.recommend.pyfunc import NoChampion, find_version

    with pytest.raises(NoChampion, match="no model il2select version 999"):  # what promote checks
        find_version(project.settings.tracking_uri, "il2select", version="999")
