"""Bad requests turned into precise answers: 422 naming the field, the value and the rule;
413 naming the limit. Checked before BentoML sees the body, so a refused body is never
logged and never reaches a handler."""

from __future__ import annotations

import json
from typing import Any

import orjson
from pydantic import ValidationError

from model.contract.json_types import is_unicode, shown
from serving.schemas import FieldError, PatientRequest, Problem

SHOWN_VALUE_CHARS = 200


class RequestProblem(Exception):
    """A refused request with its status and body."""

    def __init__(self, status: int, problem: Problem) -> None:
        super().__init__(problem.error)
        self.status = status
        self.problem = problem


def parse_json(body: bytes) -> Any:
    if not body.strip():
        raise RequestProblem(
            422,
            Problem(
                error="the request body is empty",
                detail=[FieldError(field="body", value=None, rule="must be JSON")],
            ),
        )
    try:
        return orjson.loads(body)  # several times faster on a 10,000-patient list
    except orjson.JSONDecodeError:
        pass  # NaN literals, integers beyond 64 bits, or not JSON: the standard library decides
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise RequestProblem(
            422,
            Problem(
                error="the request body is not valid JSON",
                detail=[
                    FieldError(
                        field="body",
                        value=_shown(body[:SHOWN_VALUE_CHARS]),
                        rule=f"must be valid UTF-8 JSON ({type(exc).__name__})",
                    )
                ],
            ),
        ) from None


def check_patient(body: bytes) -> PatientRequest:
    """One patient, exactly as the ``Patient`` model checks it (the validated patient is
    what the API method receives: the body is parsed and checked once)."""
    value = parse_json(body)
    try:
        return PatientRequest.model_validate(value)
    except ValidationError as exc:
        raise RequestProblem(
            422,
            Problem(
                error=f"{exc.error_count()} invalid field(s) for one patient",
                detail=[_field_error(e) for e in exc.errors(include_url=False)],
            ),
        ) from None
    except (ArithmeticError, TypeError, ValueError) as exc:  # e.g. an int too large for float
        raise RequestProblem(
            422,
            Problem(
                error="a field could not be checked",
                detail=[FieldError(field="body", value=None, rule=f"unreadable value ({exc})")],
            ),
        ) from None


def check_patient_list(body: bytes, max_patients: int) -> list[dict]:
    """A JSON array of at most ``max_patients`` objects (each row is checked later, alone);
    returns the rows."""
    value = parse_json(body)
    if not isinstance(value, list):
        raise RequestProblem(
            422,
            Problem(
                error="the body must be a JSON array of patients",
                detail=[FieldError(field="body", value=_shown(value), rule="must be a JSON array")],
            ),
        )
    if len(value) > max_patients:
        raise RequestProblem(
            413,
            Problem(
                error=f"too many patients: {len(value):,} sent, the limit is {max_patients:,} "
                "per request",
                detail=[
                    FieldError(
                        field="body", value=len(value), rule=f"at most {max_patients:,} patients"
                    )
                ],
            ),
        )
    bad = [i for i, row in enumerate(value) if not isinstance(row, dict)]
    if bad:
        raise RequestProblem(
            422,
            Problem(
                error=f"{len(bad)} row(s) are not JSON objects",
                detail=[
                    FieldError(field=f"[{i}]", value=_shown(value[i]), rule="must be an object")
                    for i in bad[:50]
                ],
            ),
        )
    return value


def operation_outcome(code: str, diagnostics: str, expression: list[str] = ()) -> dict:
    """A FHIR OperationOutcome with one error: what CDS Hooks asks a service to send with a
    non-2xx answer (``code`` from FHIR's issue-type: security, required, invalid …)."""
    issue = {"severity": "error", "code": code, "diagnostics": diagnostics}
    if expression:
        issue["expression"] = list(expression)
    return {"resourceType": "OperationOutcome", "issue": [issue]}


OUTCOME_CODES = {400: "invalid", 413: "too-long", 415: "not-supported", 422: "invalid"}


def problem_body(problem: RequestProblem, fhir: bool) -> dict:
    """The refusal's JSON: the REST shape (``Problem``), or for a CDS Hooks route (``fhir``)
    the OperationOutcome CDS Hooks asks for, with the same words and each field named."""
    if not fhir:
        return problem.problem.model_dump(mode="json")
    details = "; ".join(f"{d.field}: {d.rule}" for d in problem.problem.detail)
    diagnostics = problem.problem.error + (f" ({details})" if details else "")
    fields = [d.field for d in problem.problem.detail]
    return operation_outcome(OUTCOME_CODES.get(problem.status, "invalid"), diagnostics, fields)


def too_large(limit_bytes: int) -> RequestProblem:
    return RequestProblem(
        413,
        Problem(
            error=f"request body too large: the limit is {limit_bytes // (1024 * 1024)} MB "
            f"({limit_bytes:,} bytes)",
            detail=[FieldError(field="body", value=None, rule=f"at most {limit_bytes:,} bytes")],
        ),
    )


def _field_error(error: dict) -> FieldError:
    location = ".".join(str(part) for part in error["loc"]) or "body"
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "missing":
        message = "is required (only the inputs the brief lists may be unknown: send null)"
    elif error["type"] == "extra_forbidden":
        message = "is not a field of the data contract"
    value = None if error["type"] == "missing" else _shown(error.get("input"))
    return FieldError(field=location, value=value, rule=message)


def _shown(value: Any) -> Any:
    """The value as sent, shortened when it is long."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, (dict, list)):
        text = shown(value)
        return value if len(text) <= SHOWN_VALUE_CHARS and is_unicode(text) else text
    if isinstance(value, str):  # valid Unicode (a lone surrogate escaped), shortened
        return shown(value)
    if isinstance(value, float) and value != value:
        return "NaN"
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return str(value)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53:
        return str(value)[:40]
    return value
