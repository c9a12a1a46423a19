"""Patient tables as the JSON the API takes: one dict per row, typed as ``Patient`` wants
(bools as bools, whole numbers as ints, unknown as null). For clients and benchmarks."""

from __future__ import annotations

import math

import pandas as pd

from model.contract.columns import COLUMNS
from model.contract.tables import validate_table


def patients_from_table(raw: pd.DataFrame) -> list[dict]:
    """The valid rows of a patient table (CSV text or typed) as API request bodies."""
    report = validate_table(raw)
    typed = report.typed[report.valid]
    kinds = {spec.name: spec.kind for spec in COLUMNS}
    patients = []
    for record in typed.to_dict("records"):
        patients.append({name: _json_value(kinds[name], record[name]) for name in kinds})
    return patients


def _json_value(kind: str, value: object) -> object:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if kind == "bool":
        return bool(value == 1.0)
    if kind == "int":
        return int(value)
    if kind == "float":
        return float(value)
    return value
