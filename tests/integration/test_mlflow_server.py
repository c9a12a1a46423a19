"""MLflow on a real server (issue 12, deliverable 1): every command works unchanged against
``MLFLOW_TRACKING_URI=http://…`` of an ``mlflow server`` whose backend store is PostgreSQL
(``initdb`` in a temporary folder) and whose artifacts go to an S3-compatible store (a
``moto`` server), all on loopback and started here. Trained with the session project's
arguments, the model answers as the embedded store's does (1e-9)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from tests.engines import S3_KEYS, PostgreSQL, start_mlflow_server, start_moto
from tests.integration.service_fixtures import (
    CHAMPION_HOLDOUT_N,
    CHAMPION_MIN_DURABLE_GAIN,
    CHAMPION_TRAIN_N,
    REPO,
    TOLERANCE,
    Project,
    assert_close,
    clean_env,
    clinic_patients,
    start_server,
)

pytestmark = pytest.mark.slow
CLINIC_LIST = REPO / "data/synthetic/samples/clinic_list.csv"
BUCKET = "il2select"


@dataclass
class RemoteStore:
    tracking_uri: str
    s3_url: str
    postgres: PostgreSQL
    project: Project  # commands run in `elsewhere`, with this tracking server configured
    train_run_id: str


@pytest.fixture(scope="module")
def remote(tmp_path_factory) -> RemoteStore:
    """PostgreSQL, moto and ``mlflow server`` on them; then ``il2select train`` against it,
    with the arguments of the session's embedded project."""
    root = tmp_path_factory.mktemp("remote-mlflow")
    postgres = PostgreSQL().initialise()
    started = []
    try:
        backend = postgres.create_database("mlflow").replace("postgresql:", "postgresql+psycopg:")
        s3 = start_moto(root, BUCKET)
        started.append(s3)
        server = start_mlflow_server(root, backend, f"s3://{BUCKET}/artifacts", s3.url)
        started.append(server)
        folder, elsewhere = root / "project", root / "elsewhere"
        folder.mkdir()
        elsewhere.mkdir()
        env = clean_env(IL2SELECT_PROJECT_DIR=str(folder), MLFLOW_TRACKING_URI=server.url)
        remote_project = Project(folder, elsewhere, env, "")
        done = remote_project.cli(
            "train", "--n", str(CHAMPION_TRAIN_N), "--holdout-n", str(CHAMPION_HOLDOUT_N),
            "--min-durable-gain", str(CHAMPION_MIN_DURABLE_GAIN),
        )  # fmt: skip
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
        run_id = re.search(r"run (\w+): version 1 -> @champion", done.stdout).group(1)
        yield RemoteStore(server.url, s3.url, postgres, remote_project, run_id)
    finally:
        for launched in reversed(started):
            launched.stop()
        postgres.remove()


def test_the_registry_is_in_postgresql_and_the_artifacts_in_object_storage(remote):
    import boto3
    import psycopg

    with psycopg.connect(remote.postgres.url("mlflow")) as connection:
        aliases = connection.execute(
            "SELECT name, alias, version FROM registered_model_aliases"
        ).fetchall()
        runs = connection.execute("SELECT run_uuid FROM runs").fetchall()
    assert aliases == [("il2select", "champion", 1)]
    assert (remote.train_run_id,) in runs
    s3 = boto3.client(
        "s3",
        endpoint_url=remote.s3_url,
        aws_access_key_id=S3_KEYS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=S3_KEYS["AWS_SECRET_ACCESS_KEY"],
        region_name=S3_KEYS["AWS_DEFAULT_REGION"],
    )
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, MaxKeys=1000)["Contents"]]
    assert any(key.endswith("/MLmodel") for key in keys), keys[:20]
    assert any(remote.train_run_id in key for key in keys)
    # nothing of the registry fell back to the project folder's embedded store
    assert not (remote.project.folder / "mlflow.db").exists()
    assert not (remote.project.folder / "mlartifacts").exists()


def runs_named(remote: RemoteStore, name: str) -> list[str]:
    import psycopg

    with psycopg.connect(remote.postgres.url("mlflow")) as connection:
        rows = connection.execute(
            "SELECT run_uuid FROM runs WHERE name = %s ORDER BY start_time", (name,)
        ).fetchall()
    return [run_id for (run_id,) in rows]


def test_evaluate_compare_and_promote_run_unchanged(remote, tmp_path):
    evaluated = remote.project.cli("evaluate", "--n", "2000", "--out", str(tmp_path / "eval"))
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    eval_run = runs_named(remote, "evaluate")[-1]  # logged on the server, like training
    compared = remote.project.cli("compare", remote.train_run_id, eval_run)
    assert compared.returncode == 0, compared.stderr[-3000:]
    assert remote.train_run_id[:8] in compared.stdout and eval_run[:8] in compared.stdout
    promoted = remote.project.cli("promote", "--version", "1", "--reason", "server test")
    assert promoted.returncode == 0, promoted.stderr[-3000:]


def test_predict_equals_the_embedded_stores(remote, project, tmp_path):
    tables = {}
    for name, where in (("remote", remote.project), ("embedded", project)):
        out = tmp_path / f"{name}.csv"
        done = where.cli("predict", "--in", str(CLINIC_LIST), "--out", str(out))
        assert done.returncode == 0, done.stderr[-3000:]
        tables[name] = pd.read_csv(out)
    remote_table, embedded = tables["remote"], tables["embedded"]
    assert list(remote_table.columns) == list(embedded.columns)
    assert len(remote_table) == len(embedded) == len(pd.read_csv(CLINIC_LIST))
    numbers = embedded.select_dtypes("number").columns.drop("run_id", errors="ignore")
    assert len(numbers) > 50
    pd.testing.assert_frame_equal(
        remote_table[numbers], embedded[numbers], check_exact=False, rtol=0, atol=TOLERANCE
    )
    words = [c for c in embedded.columns if c not in numbers and "run_id" not in c]
    pd.testing.assert_frame_equal(remote_table[words], embedded[words])


def test_serve_answers_as_the_embedded_store_does(remote, service, tmp_path: Path):
    server = start_server(remote.tracking_uri, tmp_path / "server")
    try:
        with server.client() as remote_client, service.client() as embedded_client:
            for patient in clinic_patients():
                served = remote_client.post("/recommend", json=patient)
                assert served.status_code == 200, served.text
                answer, expected = (
                    served.json(),
                    embedded_client.post("/recommend", json=patient).json(),
                )
                provenance, embedded_provenance = (
                    answer.pop("provenance"),
                    expected.pop("provenance"),
                )
                assert_close(answer, expected)
                assert provenance["run_id"] == remote.train_run_id
                assert provenance["model_version"] == "1"
                for key in ("training_data_hash", "policy", "rules_version"):
                    assert provenance[key] == embedded_provenance[key], key
    finally:
        server.kill()
