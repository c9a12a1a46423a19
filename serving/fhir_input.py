"""``POST /recommend`` with ``Content-Type: application/fhir+json``: one patient's FHIR R4
``Bundle``, read into the data contract (``model.contract.fhir``) and checked exactly as the
contract form is, before BentoML sees it (``serving.guard``). The answer is the contract
form's; the audit log names the resources it was computed from (ids and dates)."""

from __future__ import annotations

import logging

import orjson

from model.contract.fhir import patients_from_bundle
from serving.problems import RequestProblem, check_patient, parse_json
from serving.schemas import FieldError, PatientRequest, Problem


def check_fhir_patient(body: bytes) -> tuple[PatientRequest, dict]:
    """The patient of a FHIR Bundle, validated as ``/recommend``'s contract form, and the
    audit note of where each input came from; raises ``RequestProblem`` (422) naming
    the field, and which resource would settle an input the Bundle leaves unknown."""
    bundle = parse_json(body)
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise _refused("the body must be a FHIR Bundle (resourceType Bundle)", "resourceType")
    try:
        patients = patients_from_bundle(bundle)
    except ValueError as exc:  # the contract's domain errors are ValueErrors
        raise _refused(f"the Bundle cannot be read: {exc}", "body") from None
    if len(patients) != 1:
        raise _refused(
            f"the Bundle holds {len(patients)} patients: /recommend answers one (send a "
            "list of patients to /predict in the contract form)",
            "Bundle.entry",
        )
    mapped = patients[0]
    try:
        patient = check_patient(orjson.dumps(mapped.values))
    except RequestProblem as refused:
        for error in refused.problem.detail:  # say which resource would settle it
            if error.field in mapped.unknown:
                error.rule = f"{error.rule}: {mapped.unknown[error.field]}"
        refused.problem.error = f"{refused.problem.error} (read from the FHIR Bundle)"
        raise
    return patient, {"resources": mapped.used, "unknown": mapped.unknown, "invalid": mapped.invalid}


def _refused(error: str, field: str) -> RequestProblem:
    return RequestProblem(
        422, Problem(error=error, detail=[FieldError(field=field, value=None, rule=error)])
    )


def warm_up() -> None:
    """Build the FHIR models before the first FHIR request (``model.contract.fhir.warm_up``,
    about a second with the import); a failure is logged, never fatal (the first request
    would pay instead)."""
    from model.contract import fhir

    try:
        fhir.warm_up()
    except Exception:  # noqa: BLE001
        logging.getLogger("il2select.fhir").exception("FHIR warm-up failed")
