"""``il2select triage`` as a user runs it: a real subprocess, real files."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from model.rules.derive import DERIVED_COLUMNS
from tests.conftest import SAMPLES

CLINIC_LIST = SAMPLES / "clinic_list.csv"
WITH_ERRORS = SAMPLES / "clinic_list_with_errors.csv"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "il2select", *args], capture_output=True, text=True, timeout=120
    )


def test_help_on_every_subcommand():
    import typer.main
    from typer.testing import CliRunner

    from il2select.cli import app

    commands = typer.main.get_command(app).commands
    assert "triage" in commands
    runner = CliRunner()
    for name in commands:
        helped = runner.invoke(app, [name, "--help"])
        assert helped.exit_code == 0, (name, helped.output)
        assert "Usage" in helped.output and len(helped.output) > 100
    assert run("--help").returncode == 0


def test_sample_clinic_list_triages_clean(tmp_path):
    out = tmp_path / "triaged.csv"
    done = run("triage", "--in", str(CLINIC_LIST), "--out", str(out), "--summary")
    assert done.returncode == 0, done.stderr
    raw = pd.read_csv(CLINIC_LIST, dtype=str, keep_default_na=False)
    triaged = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert list(triaged.columns[: raw.shape[1]]) == list(raw.columns)
    pd.testing.assert_frame_equal(triaged[raw.columns], raw)  # every input cell unchanged
    assert set(DERIVED_COLUMNS) <= set(triaged.columns)
    for branch in ("il2_first", "tki_first", "temsirolimus_or_trial"):
        assert (triaged["manchester_pathway"] == branch).any()
        assert branch in done.stdout
    assert (triaged["manchester_pathway"] == "").any()  # the unknown branch
    assert "stress echocardiogram" in done.stdout and "CAIX stain" in done.stdout
    assert "TKI wash-out" in done.stdout and "lung function tests" in done.stdout


def test_sample_list_covers_every_contraindication_and_caution(tmp_path):
    from model.rules.eligibility import CAUTIONS, CONTRAINDICATIONS

    out = tmp_path / "triaged.parquet"
    assert run("triage", "--in", str(CLINIC_LIST), "--out", str(out)).returncode == 0
    triaged = pd.read_parquet(out)
    named = ";".join(triaged["il2_contraindications"]) + ";" + ";".join(triaged["il2_cautions"])
    for name in [*CONTRAINDICATIONS, *CAUTIONS]:
        assert name in named.split(";"), name
    assert 30 <= len(triaged) <= 50


def test_bad_rows_named_and_nothing_written(tmp_path):
    out = tmp_path / "out.csv"
    done = run("triage", "--in", str(WITH_ERRORS), "--out", str(out))
    assert done.returncode == 1
    assert not out.exists()
    text = " ".join(done.stderr.split())
    for expected in (
        "row 1: ecog=7: must be between 0 and 4",
        "row 2: caix_pct=140: must be between 0 and 100",
        "row 3: sex=unknown: must be one of female, male",
        "row 4: karnofsky=ninety: must be a number",
        "row 5: creatinine_mg_dl=110: is above the plausible 0.2–15 mg/dL; looks like µmol/L",
    ):
        assert expected in text, text


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_errors_file_accounts_for_every_row(tmp_path, suffix):
    source = tmp_path / f"in{suffix}"
    raw = pd.read_csv(WITH_ERRORS, dtype=str, keep_default_na=False)
    if suffix == ".parquet":
        raw.to_parquet(source)
    else:
        raw.to_csv(source, index=False)
    out, errors = tmp_path / f"out{suffix}", tmp_path / f"errors{suffix}"
    done = run("triage", "--in", str(source), "--out", str(out), "--errors", str(errors))
    assert done.returncode == 1
    read = pd.read_parquet if suffix == ".parquet" else pd.read_csv
    triaged, rejected = read(out), read(errors)
    assert len(triaged) + len(rejected) == len(raw) == 6
    assert rejected["row"].tolist() == [1, 2, 3, 4, 5]
    assert rejected["errors"].str.contains("ecog=7").iloc[0]
    assert triaged["patient_id"].tolist() == [raw["patient_id"].iloc[5]]


def test_missing_required_column_exits_2_naming_it(tmp_path):
    source = tmp_path / "in.csv"
    pd.read_csv(CLINIC_LIST, dtype=str).drop(columns=["histology"]).to_csv(source, index=False)
    done = run("triage", "--in", str(source), "--out", str(tmp_path / "o.csv"))
    assert done.returncode == 2
    assert "missing required column(s): histology" in " ".join(done.stderr.split())


def test_unknown_file_type_is_a_clear_error(tmp_path):
    done = run("triage", "--in", str(CLINIC_LIST), "--out", str(tmp_path / "o.xlsx"))
    assert done.returncode == 2 and "use .csv or .parquet" in done.stderr


def test_row_numbers_continue_across_chunks(tmp_path, monkeypatch):
    from serving import tables
    from serving.triage import triage_frame

    raw = pd.read_csv(WITH_ERRORS, dtype=str, keep_default_na=False)
    chunks = [raw.iloc[:3], raw.iloc[3:]]
    rows = [
        triage_frame(c, first_row=1 + 3 * i).rejected["row"].tolist() for i, c in enumerate(chunks)
    ]
    assert rows == [[1, 2, 3], [4, 5]]
    assert tables.CHUNK_ROWS > 0
