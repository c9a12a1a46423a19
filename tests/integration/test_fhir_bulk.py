"""A FHIR Bulk Data export of the 42 clinic-list patients through ``il2select triage`` and
``il2select predict`` as a user runs them: real subprocesses, real files, the same answers
as the CSV."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from data.synthetic.fhir_export import write_bulk_export
from model.rules.derive import DERIVED_COLUMNS
from tests.conftest import REPO, SAMPLES

CLINIC_LIST = SAMPLES / "clinic_list.csv"
REF = date(2025, 3, 1)
NO_IDENTIFIER_ROW = 40  # MAN-041's row has no patient_id: its Patient's resource id stands in


def il2select(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "il2select", *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
        env=env,
    )


def read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


@pytest.fixture()
def export(tmp_path) -> Path:
    raw = pd.read_csv(CLINIC_LIST, dtype=str, keep_default_na=False)
    write_bulk_export(raw, tmp_path / "export", REF)
    return tmp_path / "export"


def test_triage_of_the_export_gives_the_csvs_derived_columns(export, tmp_path):
    by_fhir = il2select("triage", "--in", str(export), "--out", str(tmp_path / "fhir.csv"),
                        "--reference-date", REF.isoformat(), "--summary")  # fmt: skip
    by_csv = il2select("triage", "--in", str(CLINIC_LIST), "--out", str(tmp_path / "csv.csv"))
    assert by_fhir.returncode == 0, by_fhir.stderr
    assert by_csv.returncode == 0, by_csv.stderr
    fhir, csv = read(tmp_path / "fhir.csv"), read(tmp_path / "csv.csv")
    assert len(fhir) == len(csv) == 42
    derived = [*DERIVED_COLUMNS, "warnings"]
    pd.testing.assert_frame_equal(fhir[derived], csv[derived])
    assert "Patient/p001" in fhir.loc[0, "fhir_resources"]  # provenance travels with the row
    assert "42 rows in: 42 triaged" in by_fhir.stderr


def test_a_bad_row_in_the_export_is_reported_by_row_number(export, tmp_path):
    path = export / "Observation.ndjson"
    resources = [json.loads(line) for line in path.read_text().splitlines()]
    for resource in resources:
        if resource["id"] == "p003-ecog":
            resource.update(valueInteger=7)
            resource.pop("interpretation")
    path.write_text("".join(json.dumps(r) + "\n" for r in resources))
    args = ["triage", "--in", str(export), "--reference-date", REF.isoformat()]
    done = il2select(*args, "--out", str(tmp_path / "out.csv"))
    assert done.returncode == 1
    assert "row 3: ecog=7: must be between 0 and 4" in " ".join(done.stderr.split())
    assert not (tmp_path / "out.csv").exists()
    kept = il2select(
        *args, "--out", str(tmp_path / "out.csv"), "--errors", str(tmp_path / "bad.csv")
    )
    assert kept.returncode == 1
    assert len(read(tmp_path / "out.csv")) == 41
    assert read(tmp_path / "bad.csv")["row"].tolist() == ["3"]


def test_a_folder_that_is_not_an_export_exits_2(tmp_path):
    done = il2select("triage", "--in", str(tmp_path), "--out", str(tmp_path / "out.csv"))
    assert done.returncode == 2 and "no .ndjson files" in " ".join(done.stderr.split())


def test_predict_on_the_export_equals_predict_on_the_csv(export, tmp_path, champion_tracking_uri):
    env = {**os.environ, "MLFLOW_TRACKING_URI": champion_tracking_uri}
    by_fhir = il2select("predict", "--in", str(export), "--out", str(tmp_path / "fhir.csv"),
                        "--reference-date", REF.isoformat(), env=env)  # fmt: skip
    by_csv = il2select("predict", "--in", str(CLINIC_LIST), "--out", str(tmp_path / "csv.csv"),
                       env=env)  # fmt: skip
    assert by_fhir.returncode == 0, by_fhir.stderr
    assert by_csv.returncode == 0, by_csv.stderr
    fhir, csv = read(tmp_path / "fhir.csv"), read(tmp_path / "csv.csv")
    assert list(fhir.columns) == list(csv.columns) and len(fhir) == 42
    assert fhir.loc[NO_IDENTIFIER_ROW, "patient_id"] == "p041"
    fhir.loc[NO_IDENTIFIER_ROW, "patient_id"] = csv.loc[NO_IDENTIFIER_ROW, "patient_id"]
    pd.testing.assert_frame_equal(fhir, csv)
