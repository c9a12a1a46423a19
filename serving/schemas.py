"""The service's request and response shapes beyond ``Patient`` and ``PatientAnswer``."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from model.contract.patient import Patient, patient_example
from model.recommend.answer import SCOPE, PatientAnswer, Provenance
from model.settings import MAX_PATIENTS

PATIENT_ROWS_DESCRIPTION = (
    f"Patients as in the data contract (at most {MAX_PATIENTS:,} per request); each row is "
    "checked on its own, bad rows come back with their errors and the rest are answered."
)
PatientRows = Annotated[
    list[dict[str, Any]],
    Field(
        max_length=MAX_PATIENTS,
        description=PATIENT_ROWS_DESCRIPTION,
        examples=[[patient_example()]],
        json_schema_extra={"items": Patient.model_json_schema()},
    ),
]


def _openapi_30(schema: dict[str, Any]) -> None:
    """BentoML publishes OpenAPI 3.0: a numeric ``exclusiveMinimum`` (JSON Schema 2020-12)
    becomes ``minimum`` plus ``exclusiveMinimum: true``; the example patient is attached."""
    for prop in schema.get("properties", {}).values():
        for bound, flag in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
            if isinstance(prop.get(flag), (int, float)) and not isinstance(prop[flag], bool):
                prop[bound] = prop.pop(flag)
                prop[flag] = True
    schema["example"] = patient_example()


class PatientRequest(Patient):  # type: ignore[misc, valid-type]
    """One patient, as in the brief's data contract (unknown inputs are null)."""

    model_config = ConfigDict(json_schema_extra=_openapi_30)


class FieldError(BaseModel):
    """One broken rule: the field, the value sent, and the rule."""

    field: str
    value: Any = None
    rule: str


class Problem(BaseModel):
    """A refused request (422 bad input, 413 too large)."""

    error: str
    detail: list[FieldError] = []


class PredictRow(BaseModel):
    """One input row of ``/predict``: its answer, or why it was refused."""

    row: int = Field(description="1 = the first patient of the request")
    patient_id: str | None
    answer: PatientAnswer | None
    errors: list[FieldError]


class TriageRow(BaseModel):
    """One input row of ``/triage``: the brief's derived columns, or why it was refused."""

    row: int
    patient_id: str | None
    derived: dict[str, str | int | bool | None] | None
    warnings: str | None
    errors: list[FieldError]


class ModelInfo(BaseModel):
    """The champion being served: provenance and the metrics it was promoted on."""

    provenance: Provenance
    metrics: dict[str, float]
    tracking_uri: str
    scope: str = SCOPE
