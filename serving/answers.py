"""What the endpoints compute, as plain functions of the champion's ``Recommender`` and the
request: validation of lists row by row (the table validation the CLI uses), order kept."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import orjson
import pandas as pd
from starlette.responses import StreamingResponse

from model.contract.json_types import screen_rows
from model.contract.patient import patient_example
from model.contract.tables import validate_table
from model.recommend.answer import Provenance, SurvivalCurves
from model.rules.derive import DERIVED_COLUMNS
from serving.schemas import FieldError, TriageRow
from serving.triage import triage_frame


def recommend_patients(
    recommender: Any, patients: list[dict], provenance: Provenance
) -> list[bytes]:
    """Valid patients (``Patient``, dumped) -> each answer's JSON (``PatientAnswer``) with
    provenance, in order. Concurrent requests' patients are computed together
    (``serving.batching``); each answer is the patient's own."""
    stamp = provenance.model_dump()
    answers = recommender.recommend_records(patients)
    for answer in answers:
        answer["provenance"] = stamp
    return [to_json(answer) for answer in answers]


def survival_curves(recommender: Any, patient: dict) -> SurvivalCurves:
    return recommender.survival_one(patient)


def predict_parts(
    recommender: Any, rows: list[dict], provenance: Provenance
) -> Iterator[tuple[list[bytes], list[tuple[int, str]]]]:
    """``/predict``'s answer, in the order sent, a chunk of rows at a time: each row's JSON
    (``PredictRow``'s shape: the answer, or why the row was refused) and, for the audit log,
    the answered rows (0-based) with that JSON. Every row is serialised once.

    Validates first, so that a ``MissingColumnError`` (no row has a required field: the
    request is unusable) is raised here, before any row is answered.
    """
    if not rows:
        return iter(())
    rows, mistyped = screen_rows(rows)
    report = validate_table(pd.DataFrame.from_records(rows))
    errors = _merged_errors(report, mistyped)
    kept = [i for i in np.flatnonzero(report.valid).tolist() if i + 1 not in mistyped]
    typed = report.typed.take(kept).reset_index(drop=True)
    typed["patient_id"] = [_patient_id(v) for v in typed["patient_id"]]
    chunks = recommender.answer_chunks(typed) if kept else iter(())
    return _parts(rows, kept, chunks, errors, provenance.model_dump())


def _parts(
    rows: list[dict],
    kept: list[int],
    chunks: Iterator[list[dict]],
    errors: dict[int, list[FieldError]],
    stamp: dict,
):
    def refused(index: int) -> bytes:
        return to_json(
            {
                "row": index + 1,
                "patient_id": _patient_id(rows[index].get("patient_id")),
                "answer": None,
                "errors": [e.model_dump() for e in errors.get(index + 1, [])],
            }
        )

    done, answered = 0, iter(kept)
    for answers in chunks:
        parts, audited = [], []
        for answer in answers:
            index = next(answered)
            parts += [refused(i) for i in range(done, index)]
            answer["provenance"] = stamp
            text = to_json(
                {
                    "row": index + 1,
                    "patient_id": _patient_id(rows[index].get("patient_id")),
                    "answer": answer,
                    "errors": [],
                }
            )
            parts.append(text)
            audited.append((index, text))
            done = index + 1
        yield parts, audited
    if next(answered, None) is not None:  # every valid row must have had its answer
        raise RuntimeError("fewer answers than valid rows: no row may be lost")
    if done < len(rows):
        yield [refused(i) for i in range(done, len(rows))], []


def audit_dictionary(recommender: Any, provenance: Provenance) -> bytes:
    """Example answers of this champion, as a preset dictionary for compressing audit
    records (``serving.audit_store.Codec``): the keys, words and reasons they share."""
    example = patient_example()
    patients = [{**example, "ecog": 2}, example]  # a contraindication's words, then IL-2's
    return b"".join(recommend_patients(recommender, patients, provenance))


def json_response(parts: list[bytes]) -> StreamingResponse:
    """A JSON array of already-encoded items, streamed with its length."""
    size = 2 + sum(len(p) for p in parts) + max(len(parts) - 1, 0)
    return StreamingResponse(
        json_array(parts), media_type="application/json", headers={"content-length": str(size)}
    )


def json_array(parts: list[bytes], per_chunk: int = 256) -> Iterator[bytes]:
    """A JSON array of already-encoded items, sent a few hundred items at a time (a
    10,000-patient answer is ~40 MB: joining it whole would hold it twice)."""
    yield b"["
    for start in range(0, len(parts), per_chunk):
        yield (b"," if start else b"") + b",".join(parts[start : start + per_chunk])
    yield b"]"


def to_json(value: Any) -> bytes:
    """Compact JSON (orjson: NaN and infinities as null, as the response models give)."""
    return orjson.dumps(value, default=str)


def triage_parts(rows: list[dict]) -> tuple[list[bytes], list[int]]:
    """``/triage``'s rows as JSON, and the rows answered (0-based), for the audit log."""
    answered = triage_rows(rows)
    parts = [row.model_dump_json().encode() for row in answered]
    return parts, [i for i, row in enumerate(answered) if not row.errors]


def triage_rows(rows: list[dict]) -> list[TriageRow]:
    """The clinical rules only (``triage_frame``, as ``il2select triage``), row by row."""
    if not rows:
        return []
    rows, mistyped = screen_rows(rows)
    result = triage_frame(pd.DataFrame.from_records(rows))
    errors = _merged_errors(result.report, mistyped)
    derived = result.triaged[list(DERIVED_COLUMNS)].astype(object).to_dict("records")
    warnings = result.triaged["warnings"].tolist()
    done = iter(zip(derived, warnings, strict=True))
    valid = result.report.valid
    out = []
    for index, row in enumerate(rows, start=1):
        values, warning = next(done) if valid[index - 1] else (None, None)
        if index in mistyped:  # read with its ill-typed fields blanked, but refused
            values, warning = None, None
        out.append(
            TriageRow(
                row=index,
                patient_id=_patient_id(row.get("patient_id")),
                derived=None if values is None else {k: plain(v) for k, v in values.items()},
                warnings=warning or None,
                errors=errors.get(index, []),
            )
        )
    return out


def _merged_errors(report, mistyped: dict) -> dict[int, list[FieldError]]:
    """Every refused row's errors by row number: its ill-typed fields (``screen_rows``),
    then what the table validation found in its other fields."""
    errors = _errors_by_row(report.errors)
    for number, problems in mistyped.items():
        fields = {name for name, _, _ in problems}
        errors[number] = [
            FieldError(field=name, value=value, rule=rule) for name, value, rule in problems
        ] + [e for e in errors.get(number, []) if e.field not in fields]
    return errors


def _errors_by_row(issues: pd.DataFrame) -> dict[int, list[FieldError]]:
    grouped: dict[int, list[FieldError]] = {}
    for row, column, value, rule in issues[["row", "column", "value", "rule"]].itertuples(
        index=False
    ):
        grouped.setdefault(int(row), []).append(
            FieldError(field=str(column), value=plain(value), rule=str(rule))
        )
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
