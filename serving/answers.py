"""What the endpoints compute, as plain functions of the champion's ``Recommender`` and the
request: validation of lists row by row (the table validation the CLI uses), order kept."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pydantic_core

from model.answer import PatientAnswer, Provenance, SurvivalCurves
from model.contract import validate_table
from model.rules import DERIVED_COLUMNS
from serving.schemas import FieldError, PredictRow, TriageRow
from serving.triage import triage_frame


def recommend_patient(recommender: Any, patient: dict, provenance: Provenance) -> PatientAnswer:
    """One patient (already a valid ``Patient``, dumped) -> the answer with provenance."""
    answer = recommender.recommend_one(patient)
    return answer.model_copy(update={"provenance": provenance})


def survival_curves(recommender: Any, patient: dict) -> SurvivalCurves:
    return recommender.survival_one(patient)


def predict_rows(recommender: Any, rows: list[dict], provenance: Provenance) -> list[PredictRow]:
    """Every row answered or refused with its errors, in the order sent.

    Raises ``MissingColumnError`` when no row has a required field (the request is unusable).
    """
    if not rows:
        return []
    report = validate_table(pd.DataFrame.from_records(rows))
    kept = np.flatnonzero(report.valid)
    typed = report.typed.take(kept).reset_index(drop=True)
    typed["patient_id"] = [_patient_id(v) for v in typed["patient_id"]]
    # the contract's numbers (flags 1/0, unknown NaN), as ``Recommender.recommend_many`` takes
    patients = typed.to_dict("records")
    answers = iter(recommender.recommend_many(patients) if kept.size else [])
    errors = _errors_by_row(report.errors)
    out = []
    for index, row in enumerate(rows, start=1):
        answer = None if index in errors else next(answers)
        if answer is not None:
            answer = answer.model_copy(update={"provenance": provenance})
        out.append(PredictRow(row=index, patient_id=_patient_id(row.get("patient_id")),
                              answer=answer, errors=errors.get(index, [])))
    return out


def encode_predict_rows(rows: list[PredictRow]) -> tuple[bytes, list[str | None]]:
    """The ``/predict`` response body and each row's answer JSON (for the audit log): every
    answer is serialised once."""
    answers = [row.answer.model_dump_json() if row.answer is not None else None for row in rows]
    parts = []
    for row, answer in zip(rows, answers, strict=True):
        if answer is None:
            parts.append(row.model_dump_json())
        else:
            head = pydantic_core.to_json({"row": row.row, "patient_id": row.patient_id})
            parts.append(head[:-1].decode() + ',"answer":' + answer + ',"errors":[]}')
    return ("[" + ",".join(parts) + "]").encode(), answers


def triage_rows(rows: list[dict]) -> list[TriageRow]:
    """The clinical rules only (``triage_frame``, as ``il2select triage``), row by row."""
    if not rows:
        return []
    result = triage_frame(pd.DataFrame.from_records(rows))
    errors = _errors_by_row(result.report.errors)
    derived = result.triaged[list(DERIVED_COLUMNS)].astype(object).to_dict("records")
    warnings = result.triaged["warnings"].tolist()
    done = iter(zip(derived, warnings, strict=True))
    out = []
    for index, row in enumerate(rows, start=1):
        values, warning = (None, None) if index in errors else next(done)
        out.append(TriageRow(
            row=index, patient_id=_patient_id(row.get("patient_id")),
            derived=None if values is None else {k: plain(v) for k, v in values.items()},
            warnings=warning or None, errors=errors.get(index, [])))
    return out


def _errors_by_row(issues: pd.DataFrame) -> dict[int, list[FieldError]]:
    grouped: dict[int, list[FieldError]] = {}
    for row, column, value, rule in issues[["row", "column", "value", "rule"]].itertuples(
            index=False):
        grouped.setdefault(int(row), []).append(
            FieldError(field=str(column), value=plain(value), rule=str(rule)))
    return grouped


def _patient_id(value: Any) -> str | None:
    value = plain(value)
    return None if value is None else str(value)


def plain(value: Any) -> Any:
    """A JSON-ready value: numpy scalars to Python, NaN/NA to None."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
