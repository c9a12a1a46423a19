"""Minimal FHIR R4 resources for the mapping tests, each as small as FHIR allows."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import count

from model.contract.fhir import MappedPatient, patient_from_resources
from model.contract.fhir.codes import ATC, IL2SELECT, INTERPRETATION, LOINC, RXNORM, SNOMED, UCUM

REF = date(2025, 3, 1)  # the reference date of every test
BEFORE = (REF - timedelta(days=7)).isoformat()
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
ICDO3 = "http://terminology.hl7.org/CodeSystem/icd-o-3"
HISTOLOGY = "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-histology-morphology-behavior"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
PATIENT = {"resourceType": "Patient", "id": "p1", "gender": "male", "birthDate": "1970-05-01"}
SUBJECT = {"reference": "Patient/p1"}
_ids = count(1)

__all__ = ["ATC", "IL2SELECT", "LOINC", "RXNORM", "SNOMED"]


def cc(system: str, code: str) -> dict:
    return {"coding": [{"system": system, "code": code}]}


def qty(value: float, unit: str) -> dict:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


def obs(code: str, system: str = LOINC, day: str = BEFORE, **fields) -> dict:
    """A final Observation of p1 dated ``day`` (ISO date or dateTime)."""
    return {
        "resourceType": "Observation",
        "id": f"o{next(_ids)}",
        "status": "final",
        "code": cc(system, code),
        "subject": SUBJECT,
        "effectiveDateTime": day,
        **fields,
    }


def lab(code: str, value: float, unit: str, *, low=None, high=None, flag=None, **fields) -> dict:
    extra = dict(fields)
    bounds = {k: qty(v, unit) for k, v in (("low", low), ("high", high)) if v is not None}
    if bounds:
        extra["referenceRange"] = [bounds]
    if flag:
        extra["interpretation"] = [cc(INTERPRETATION, flag)]
    return obs(code, valueQuantity=qty(value, unit), **extra)


def cond(system: str, code: str, status: str = "confirmed", **fields) -> dict:
    found = {
        "resourceType": "Condition",
        "id": f"c{next(_ids)}",
        "code": cc(system, code),
        "verificationStatus": cc(VERIFICATION, status),
        "subject": SUBJECT,
    }
    if status != "refuted":
        found["clinicalStatus"] = cc(
            "http://terminology.hl7.org/CodeSystem/condition-clinical", "active"
        )
    return found | fields


def rcc(morphology: str | None = "8310/3", onset: str = "2023-03-01", **fields) -> dict:
    extra = {"onsetDateTime": onset} | fields
    if morphology:
        extra["extension"] = [{"url": HISTOLOGY, "valueCodeableConcept": cc(ICDO3, morphology)}]
    return cond(SNOMED, "363518003", **extra)


def metastasis(site: tuple[str, str], status: str = "confirmed") -> dict:
    return cond(SNOMED, "128462008", status, bodySite=[cc(*site)])


def proc(code: str, status: str = "completed", day: str | None = BEFORE, **fields) -> dict:
    found = {
        "resourceType": "Procedure",
        "id": f"x{next(_ids)}",
        "status": status,
        "code": cc(SNOMED, code),
        "subject": SUBJECT,
    }
    if day and status != "not-done":
        found["performedDateTime"] = day
    return found | fields


def med(system: str, code: str, status: str = "completed", start=None, end=None, **f) -> dict:
    found = {
        "resourceType": "MedicationStatement",
        "id": f"m{next(_ids)}",
        "status": status,
        "medicationCodeableConcept": cc(system, code),
        "subject": SUBJECT,
    }
    period = {k: v for k, v in (("start", start), ("end", end)) if v}
    if period:
        found["effectivePeriod"] = period
    return found | f


def days_ago(days: int) -> str:
    return (REF - timedelta(days=days)).isoformat()


def mapped(*resources: dict, reference_date: date = REF) -> MappedPatient:
    return patient_from_resources([PATIENT, *resources], reference_date)


def project(code: str) -> tuple[str, str]:
    return IL2SELECT, code
