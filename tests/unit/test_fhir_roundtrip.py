"""The clinic list → FHIR (``data.synthetic.fhir_export``) → the contract gives back the
same values, in conventional and SI units; a Bulk Data folder reads as a table with the
CSV's per-row accounting."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pandas as pd
import pytest

from data.synthetic.fhir_export import bundle_of, table_resources, write_bulk_export
from model.contract.columns import COLUMNS, FEATURE_COLUMNS
from model.contract.errors import ContractError
from model.contract.fhir import patient_from_resources, patients_from_bundle
from model.contract.patient import Patient
from model.contract.tables import validate_table
from serving.fhir_bulk import read_bulk_export
from serving.tables import TableWriter, read_table
from tests.conftest import SAMPLES

REF = date(2025, 3, 1)


@pytest.fixture(scope="module")
def clinic_list() -> pd.DataFrame:
    return pd.read_csv(SAMPLES / "clinic_list.csv", dtype=str, keep_default_na=False)


def _same_values(mapped_rows: list[dict], clinic_list: pd.DataFrame) -> None:
    expected = validate_table(clinic_list).typed
    got = validate_table(pd.DataFrame(mapped_rows, columns=FEATURE_COLUMNS)).typed
    for spec in COLUMNS:
        a, b = expected[spec.name], got[spec.name]
        if spec.name == "patient_id":  # a row without one gets its Patient's resource id
            given = a.fillna("") != ""
            assert a[given].equals(b[given]) and b[~given].str.startswith("p").all()
        elif spec.kind in ("choice", "text"):
            assert a.equals(b), spec.name
        else:
            np.testing.assert_allclose(b, a, atol=1e-9, err_msg=spec.name)


@pytest.mark.parametrize("si_units", [False, True], ids=["conventional", "si"])
def test_clinic_list_round_trip(clinic_list, si_units):
    patients = table_resources(clinic_list, REF, si_units=si_units)
    mapped = [patient_from_resources(resources, REF) for resources in patients]
    assert all(not m.invalid for m in mapped)
    _same_values([m.values for m in mapped], clinic_list)
    complete = mapped[0]  # MAN-001 knows everything: a valid API body as it is
    assert not complete.unknown
    Patient(**complete.values)


def test_unknown_contract_values_are_absent_resources(clinic_list):
    referral_only = table_resources(clinic_list, REF)[39]  # MAN-040: every optional unknown
    kinds = {r["resourceType"] for r in referral_only}
    codes = {c["code"] for r in referral_only for c in r.get("code", {}).get("coding", [])}
    assert "2532-0" not in codes and "caix-pct" not in codes  # LDH, CAIX unknown
    row = patient_from_resources(referral_only, REF)
    assert row.values["ldh_uln_ratio"] is None and "ldh_uln_ratio" in row.unknown
    assert kinds <= {"Patient", "Observation", "Condition", "Procedure", "MedicationStatement"}


def test_bundle_of_the_clinic_list_maps_every_patient_in_order(clinic_list):
    patients = table_resources(clinic_list, REF)
    bundle = bundle_of([r for resources in patients for r in resources])
    rows = patients_from_bundle(bundle, REF)
    assert [r.patient_id for r in rows] == [f"p{i:03d}" for i in range(1, 43)]
    _same_values([r.values for r in rows], clinic_list)


def test_bulk_folder_reads_as_the_csv_does(clinic_list, tmp_path):
    counts = write_bulk_export(clinic_list, tmp_path / "export", REF)
    assert counts["Patient"] == 42 and set(counts) >= {"Observation", "Condition"}
    frame = read_bulk_export(tmp_path / "export", REF)
    assert list(frame.columns[: len(FEATURE_COLUMNS)]) == list(FEATURE_COLUMNS)
    assert frame.map(lambda cell: isinstance(cell, str)).all().all()  # text, like a CSV read
    assert validate_table(frame).errors.empty
    _same_values(frame[list(FEATURE_COLUMNS)].replace("", None).to_dict("records"), clinic_list)
    assert "Observation/p001-ecog@" in frame.loc[0, "fhir_resources"]
    assert "karnofsky:" in frame.loc[26, "fhir_unknown"]  # MAN-027: Karnofsky not recorded
    pd.testing.assert_frame_equal(read_table(tmp_path / "export", REF), frame)


def edit_resource(folder, kind: str, ident: str, change) -> None:
    """Rewrite one resource of an export in place."""
    path = folder / f"{kind}.ndjson"
    resources = [json.loads(line) for line in path.read_text().splitlines()]
    for resource in resources:
        if resource["id"] == ident:
            change(resource)
    path.write_text("".join(json.dumps(r) + "\n" for r in resources))


def test_a_bad_row_in_the_export_is_named_by_row_number(clinic_list, tmp_path):
    folder = tmp_path / "export"
    write_bulk_export(clinic_list, folder, REF)
    edit_resource(folder, "Observation", "p003-ecog", lambda r: r.update(valueInteger=7))
    edit_resource(folder, "Observation", "p003-ecog", lambda r: r.pop("interpretation"))
    edit_resource(folder, "Patient", "p005", lambda r: r.pop("gender"))
    frame = read_bulk_export(folder, REF)
    reasons = validate_table(frame).reasons_by_row()
    assert reasons.to_dict() == {
        3: "ecog=7: must be between 0 and 4",
        5: "sex=: must not be empty (only the inputs the brief lists may be unknown)",  # as a CSV
    }
    assert "gender absent" in frame.loc[4, "fhir_unknown"]


def test_folder_problems_are_file_level_errors(tmp_path):
    with pytest.raises(ContractError, match="no .ndjson files"):
        read_bulk_export(tmp_path)
    (tmp_path / "Patient.ndjson").write_text('{"resourceType": "Patient", "id": "a"}\n{oops\n')
    with pytest.raises(ContractError, match=r"Patient.ndjson:2: not JSON"):
        read_bulk_export(tmp_path)
    with pytest.raises(ContractError, match="not a folder"):
        TableWriter(tmp_path)


def test_resources_without_their_patient_are_listed(tmp_path):
    (tmp_path / "Patient.ndjson").write_text('{"resourceType": "Patient", "id": "a"}\n')
    (tmp_path / "Observation.ndjson").write_text(
        '{"resourceType": "Observation", "id": "o", "status": "final", '
        '"code": {"text": "x"}, "subject": {"reference": "Patient/zz"}}\n'
    )
    frame = read_bulk_export(tmp_path, REF)
    assert len(frame) == 1 and frame.attrs["fhir_orphans"] == [
        "Patient/zz: 1 resource(s) without its Patient"
    ]
