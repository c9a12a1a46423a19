"""The single-patient model the API takes, generated from the same column specs as the
table validation (``model.contract.columns``): one definition of the contract.

Unknown inputs are ``null`` (or left out); every other field is required. A broken rule
raises a pydantic ``ValidationError`` whose entries name the field, the value and the rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    create_model,
    model_validator,
)

from model.contract.columns import COLUMNS
from model.contract.crossfield import CROSS_RULES
from model.contract.json_types import json_type_problem
from model.contract.specs import ColumnSpec

_PYTHON_TYPE = {"float": float, "int": int, "text": str}


def _rule_validator(spec: ColumnSpec):
    def check(value: Any) -> Any:
        if value is None:
            return value
        try:
            number = np.float64(value)
        except OverflowError:
            raise ValueError("is too large to be a number of this kind") from None
        for rule in spec.rules:
            if not bool(rule.holds(number)):
                raise ValueError(rule.message)
        return value

    return AfterValidator(check)


def _json_type_validator(spec: ColumnSpec):
    """The JSON type first (``true`` is no number, ``"58"`` no age), before pydantic's
    own conversions could accept it."""

    def check(value: Any) -> Any:
        rule = json_type_problem(spec, value)
        if rule is not None:
            raise ValueError(rule)
        return value

    return BeforeValidator(check)


def _field(spec: ColumnSpec) -> tuple[Any, Any]:
    if spec.kind == "choice":
        base: Any = Literal[spec.choices]  # type: ignore[valid-type]
    elif spec.kind == "bool":
        base = Annotated[bool, Field(strict=True)]
    else:
        base = _PYTHON_TYPE[spec.kind]
    annotated = Annotated[base, _json_type_validator(spec)]
    if spec.rules:
        annotated = Annotated[annotated, _rule_validator(spec)]
    example = [spec.example] if spec.example is not None else None
    description = spec.meaning + (f" ({spec.unit})" if spec.unit else "")
    if spec.may_be_unknown:
        description += "; null when unknown"
    bounds = {
        key: value
        for key, value in (
            ("minimum", spec.ge),
            ("exclusiveMinimum", spec.gt),
            ("maximum", spec.le),
            ("multipleOf", spec.step),
        )
        if value is not None
    }
    info = Field(
        default=None if spec.may_be_unknown else ...,
        description=description,
        examples=example,
        json_schema_extra=bounds or None,
    )
    return (annotated | None if spec.may_be_unknown else annotated), info


class _PatientBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="after")
    def _cross_field_rules(self) -> _PatientBase:
        values = {k: (np.nan if v is None else float(v)) for k, v in self.numeric_items()}
        for rule in CROSS_RULES:
            if bool(rule.breaks(values)):
                shown = ", ".join(f"{c}={getattr(self, c)!r}" for c in rule.columns)
                raise ValueError(f"{rule.message} ({shown})")
        return self

    def numeric_items(self):
        for spec in COLUMNS:
            if spec.kind in ("float", "int", "bool"):
                yield spec.name, getattr(self, spec.name)


Patient = create_model(
    "Patient",
    __base__=_PatientBase,
    __doc__="One patient, as in the brief's data contract (unknown inputs are null).",
    **{spec.name: _field(spec) for spec in COLUMNS},
)


def patient_example() -> dict[str, Any]:
    """A complete, valid patient (the spec examples), for docs and tests."""
    return {spec.name: spec.example for spec in COLUMNS}


def values_from_patients(patients: list[Mapping]) -> dict[str, np.ndarray]:
    """Column arrays from patients as dicts (``Patient.model_dump()``): flags as 1/0,
    unknown as NaN — the same numbers ``validate_table`` gives for a CSV."""
    out = {}
    for spec in COLUMNS:
        raw = [p.get(spec.name) for p in patients]
        if spec.kind in ("choice", "text"):
            out[spec.name] = np.array(raw, dtype=object)
        else:
            out[spec.name] = np.array([np.nan if v is None else float(v) for v in raw])
    return out
