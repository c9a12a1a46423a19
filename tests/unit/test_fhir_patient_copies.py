"""Copies of one Patient that contradict each other: the contradicted column unknown (left
out, so validation names it) and every copy named, none winning by coming first."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from model.contract.patient import Patient
from tests.unit.fhir_builders import PATIENT, mapped


def test_contradictory_birth_dates_make_the_age_unknown():
    row = mapped({**PATIENT, "birthDate": "1950-02-03"})
    assert "age_years" not in row.values
    assert "1970-05-01" in row.unknown["age_years"] and "1950-02-03" in row.unknown["age_years"]
    assert "copy 1" in row.unknown["age_years"] and "copy 2" in row.unknown["age_years"]
    assert row.values["sex"] == "male"  # the copies agree on it
    with pytest.raises(ValidationError, match="age_years"):
        Patient(**row.values)


def test_contradictory_genders_make_the_sex_unknown():
    row = mapped({**PATIENT, "gender": "female"})
    assert "sex" not in row.values
    assert "male" in row.unknown["sex"] and "female" in row.unknown["sex"]
    assert row.values["age_years"] is not None


def test_identical_copies_are_one_patient():
    row = mapped(dict(PATIENT))
    assert row.values["sex"] == "male" and "age_years" in row.values
    assert "sex" not in row.unknown and "age_years" not in row.unknown
