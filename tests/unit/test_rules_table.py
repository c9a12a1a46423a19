"""The clinical rules against the hand-written table in rule_cases.yaml (never against
the code's own output)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from model.rules.derive import DERIVED_COLUMNS
from serving.triage import triage_frame

CASES_FILE = Path(__file__).with_name("rule_cases.yaml")
SPEC = yaml.safe_load(CASES_FILE.read_text())
CASES = SPEC["cases"]


def _patients() -> pd.DataFrame:
    rows = [{**SPEC["base"], **case["set"], "patient_id": case["id"]} for case in CASES]
    return pd.DataFrame(rows, columns=list(SPEC["base"]))


@pytest.fixture(scope="module")
def triaged() -> pd.DataFrame:
    result = triage_frame(_patients())
    assert result.rejected.empty, result.rejected[["row", "errors"]].to_string()
    return result.triaged.set_index("patient_id")


def test_every_case_cites_the_brief():
    for case in CASES:
        assert str(case["cite"]).startswith(("L", '"L')), case["id"]
    assert len({c["id"] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_rule_case(case, triaged):
    row = triaged.loc[case["id"]]
    for column, expected in case["expect"].items():
        assert column in DERIVED_COLUMNS, column
        actual = row[column]
        if expected is None:
            assert pd.isna(actual), f"{column}: expected unknown, got {actual!r} ({case['cite']})"
        else:
            assert not pd.isna(actual) and actual == expected, (
                f"{column}: expected {expected!r}, got {actual!r} ({case['cite']})"
            )
