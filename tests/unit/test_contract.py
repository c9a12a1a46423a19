"""The data contract: every field validated, errors naming row, column, value and rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from model.contract.columns import COLUMNS, FEATURE_COLUMNS, UNKNOWABLE_COLUMNS
from model.contract.errors import MissingColumnError
from model.contract.json_types import (
    _PLAIN,
    UNWRITABLE,
    _plainly_fine,
    json_type_problem,
    screen_rows,
)
from model.contract.patient import Patient, patient_example
from model.contract.tables import validate_table


def _table(n: int = 3, **overrides) -> pd.DataFrame:
    frame = pd.DataFrame([patient_example()] * n).astype(object)
    for column, (row, value) in overrides.items():
        frame.loc[row, column] = value
    return frame


def _issue(report, row, column):
    found = report.errors[(report.errors["row"] == row) & (report.errors["column"] == column)]
    assert len(found) == 1, report.errors.to_string()
    return found.iloc[0]


def test_example_patient_is_valid_both_ways():
    assert validate_table(_table()).errors.empty
    Patient(**patient_example())


@pytest.mark.parametrize(
    ("column", "value", "rule_part"),
    [
        ("ecog", 7, "between 0 and 4"),
        ("ecog", 1.5, "whole number"),
        ("karnofsky", 85, "multiple of 10"),
        ("karnofsky", 110, "between 0 and 100"),
        ("caix_pct", 140, "between 0 and 100"),
        ("alveolar_pct", -1, "between 0 and 100"),
        ("sex", "unknown", "one of female, male"),
        ("histology", "Clear cell", "one of clear_cell, papillary, chromophobe, other"),
        ("creatinine_mg_dl", 110, "looks like µmol/L"),
        ("corrected_calcium_mg_dl", 2.4, "looks like mmol/L"),
        ("ldh_uln_ratio", 0, "greater than 0"),
        ("months_from_diagnosis", -2, "between 0 and 1200"),
        ("age_years", "abc", "must be a number"),
        ("met_lung", "yes", "true or false"),
        ("ecog", "", "must not be empty"),
        ("prior_tki", None, "must not be empty"),
    ],
)
def test_bad_value_names_row_column_value_rule(column, value, rule_part):
    report = validate_table(_table(**{column: (1, value)}))
    issue = _issue(report, 2, column)
    assert str(issue["value"]) == str(value)
    assert rule_part in issue["rule"]
    assert report.valid.tolist() == [True, False, True]


@pytest.mark.parametrize(
    ("column", "value", "rule_part"),
    [
        ("ecog", 7, "between 0 and 4"),
        ("karnofsky", 85, "multiple of 10"),
        ("creatinine_mg_dl", 110, "looks like µmol/L"),
        ("sex", "unknown", "'female' or 'male'"),
        ("met_lung", "yes", "must be true or false, not text"),
        ("corrected_calcium_mg_dl", 2.4, "looks like mmol/L"),
    ],
)
def test_patient_model_applies_the_same_rules(column, value, rule_part):
    with pytest.raises(ValidationError) as caught:
        Patient(**{**patient_example(), column: value})
    (error,) = caught.value.errors()
    assert error["loc"] == (column,) and error["input"] == value and rule_part in error["msg"]


def test_missing_required_column_is_a_file_level_error_naming_it():
    with pytest.raises(MissingColumnError, match="ecog"):
        validate_table(_table().drop(columns=["ecog"]))


def test_unknowable_columns_may_be_absent():
    report = validate_table(_table().drop(columns=list(UNKNOWABLE_COLUMNS) + ["patient_id"]))
    assert report.errors.empty
    assert report.typed["caix_pct"].isna().all()


def test_pattern_sum_has_a_float_tolerance():
    ok = validate_table(
        _table(alveolar_pct=(0, 33.4), solid_pct=(0, 33.3), papillary_pct=(0, 33.3))
    )
    assert ok.errors.empty
    bad = validate_table(_table(alveolar_pct=(0, 40), solid_pct=(0, 40), papillary_pct=(0, 20.1)))
    assert "must not exceed 100" in _issue(bad, 1, "alveolar_pct")["rule"]


def test_months_since_tki_present_exactly_when_prior_tki():
    report = validate_table(_table(prior_tki=(0, True), months_since_tki=(1, 3.0)))
    assert "required when prior_tki" in _issue(report, 1, "months_since_tki")["rule"]
    assert "must be empty when prior_tki is false" in _issue(report, 2, "months_since_tki")["rule"]
    assert validate_table(_table(prior_tki=(0, True), months_since_tki=(0, 3.0))).errors.empty


@pytest.mark.parametrize("text", ["true", "false", "True", "False", "1", "0"])
def test_csv_booleans(text):
    frame = _table(1).astype(str)
    frame["met_bone"] = text
    frame["months_since_tki"] = ""
    report = validate_table(frame)
    assert report.errors.empty, report.errors
    assert report.typed["met_bone"].iloc[0] == float(text.lower() in ("true", "1"))


def test_discordant_performance_is_a_warning_not_an_error():
    report = validate_table(_table(ecog=(0, 2), karnofsky=(0, 80)))
    assert report.errors.empty
    assert report.warnings.loc[0, "column"] == "karnofsky"
    assert "disagree" in report.warnings.loc[0, "rule"]


def test_parquet_typed_columns_with_nulls(tmp_path):
    frame = _table(2, caix_pct=(0, None), karnofsky=(1, None))
    frame[["caix_pct", "karnofsky"]] = frame[["caix_pct", "karnofsky"]].astype(float)
    path = tmp_path / "p.parquet"
    frame.to_parquet(path)
    report = validate_table(pd.read_parquet(path))
    assert report.errors.empty, report.errors
    assert np.isnan(report.typed.loc[0, "caix_pct"])


def test_every_error_row_is_counted_once():
    report = validate_table(_table(5, ecog=(1, 9), caix_pct=(1, 200), sex=(3, "x")))
    assert report.valid.tolist() == [True, False, True, False, True]
    assert len(report.errors) == 3


def test_contract_is_the_brief_s_feature_table_in_its_order():
    """Every column of the brief's "Feature columns" table, in its order, and no other."""
    import re

    from tests.conftest import SHARED_DOMAIN

    brief = (SHARED_DOMAIN / "BRIEF.md").read_text()
    table = brief[brief.index("Feature columns") : brief.index("Derived columns")]
    named = [
        name
        for line in table.splitlines()
        if line.startswith("| `")
        for name in re.findall(r"`([a-z0-9_]+)`", line.split("|")[1])
    ]
    assert len(named) == 37
    assert list(FEATURE_COLUMNS) == named
    assert len(COLUMNS) == len(set(FEATURE_COLUMNS))


def test_an_enormous_number_is_a_validation_error_not_a_crash():
    with pytest.raises(ValidationError) as caught:
        Patient(**{**patient_example(), "ecog": 10**400})
    assert caught.value.errors()[0]["loc"] == ("ecog",)


def test_a_missing_cell_of_a_nullable_column_is_named_empty_not_na():
    """A Parquet written from pandas' nullable dtypes reads back with ``pd.NA``: the reason
    names it "(empty)", as for a CSV's empty cell (it said "<NA>")."""
    import pandas as pd

    from model.contract.patient import patient_example
    from model.contract.tables import validate_table

    frame = pd.DataFrame([patient_example(), patient_example()])
    frame["met_lung"] = pd.array([True, None], dtype="boolean")
    reasons = validate_table(frame).reasons_by_row().to_dict()
    assert reasons == {
        2: "met_lung=(empty): must not be empty (only the inputs the brief lists may be unknown)"
    }


JSON_VALUES = [
    None,
    True,
    False,
    0,
    1,
    -3,
    58,
    2**1022,
    2**1023,
    -(2**1024),
    10**400,
    0.5,
    -1e308,
    float("inf"),
    float("-inf"),
    float("nan"),
    "",
    "58",
    "clear_cell",
    "é",
    "\ud800",
    [],
    [1],
    {},
    {"a": 1},
]


@pytest.mark.parametrize("spec", COLUMNS, ids=lambda s: s.name)
def test_the_screen_s_fast_path_accepts_only_what_the_rule_accepts(spec):
    """``screen_rows`` skips ``json_type_problem`` for plainly well-typed values: every
    value it lets through that way is one the general rule accepts, and every value the
    rule refuses is refused, by the same rule, in a screened row (a value past what the
    audit log can keep, such as an integer beyond 64 bits, is refused as unwritable too)."""
    for value in JSON_VALUES:
        rule = json_type_problem(spec, value)
        if _plainly_fine(_PLAIN[spec.name], value):
            assert rule is None, (spec.name, value)
        _, problems = screen_rows([{spec.name: value}])
        got = [r for field, _, r in problems.get(1, []) if field == spec.name]
        got = [r for r in got if r != UNWRITABLE]
        assert got == ([] if rule is None else [rule]), (spec.name, value)
