"""Builders of the FHIR R4 resources ``data.synthetic.fhir_export`` writes: a patient's
contract values as mCODE-shaped Patient, Condition, Observation, Procedure and
MedicationStatement resources, coded as ``model.contract.fhir`` reads them."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from model.contract.fhir.codes import (
    ATC,
    HISTOLOGY_EXTENSION,
    IL2SELECT,
    INTERPRETATION,
    LOINC,
    MCODE,
    RXNORM,
    SECONDARY_PROFILE,
    SNOMED,
    UCUM,
)

ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
ICDO3 = "http://terminology.hl7.org/CodeSystem/icd-o-3"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
IDENTIFIER_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"
PATIENT_ID_SYSTEM = "urn:il2select:patient-id"
DAYS_PER_MONTH = 30.4375


def moment_before(on: date, months: float) -> datetime:
    """The moment ``months`` (mean Gregorian months of 30.4375 days) before the start of
    the day ``on`` (UTC): a time of day carries the fraction of a day a value like 1.2
    months holds, so that it maps back exactly."""
    return datetime.combine(on, time(0), tzinfo=UTC) - timedelta(days=months * DAYS_PER_MONTH)


def years_before(on: date, years: int) -> date:
    try:
        return on.replace(year=on.year - years)
    except ValueError:  # 29 February
        return on.replace(year=on.year - years, day=28)


def coding(system: str, code: str, display: str | None = None) -> dict:
    found = {"system": system, "code": code}
    return found | ({"display": display} if display else {})


def concept(*codings: dict, text: str | None = None) -> dict:
    return {"coding": list(codings)} | ({"text": text} if text else {})


def quantity(value: float, unit: str) -> dict:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


def patient(key: str, patient_id: str | None, sex: str | None, born: date | None) -> dict:
    found: dict[str, Any] = {"resourceType": "Patient", "id": key}
    if patient_id:
        mr = concept(coding(IDENTIFIER_TYPE, "MR", "Medical record number"))
        found["identifier"] = [{"type": mr, "system": PATIENT_ID_SYSTEM, "value": patient_id}]
    if sex:
        found["gender"] = sex
    if born:
        found["birthDate"] = born.isoformat()
    return found


def observation(key: str, suffix: str, code: dict, day: date, value: dict, **extra) -> dict:
    """A final Observation of ``key``'s patient: ``value`` is ``{"valueX": …}``."""
    found = {
        "resourceType": "Observation",
        "id": f"{key}-{suffix}",
        "status": "final",
        "code": concept(code),
        "subject": {"reference": f"Patient/{key}"},
        "effectiveDateTime": day.isoformat(),
    }
    return found | value | extra


def lab(
    key: str,
    suffix: str,
    loinc: str,
    display: str,
    day: date,
    value: float,
    unit: str,
    *,
    low: float | None = None,
    high: float | None = None,
    flag: str | None = None,
) -> dict:
    """A laboratory Observation with its reference range and interpretation."""
    extra: dict[str, Any] = {"category": [concept(coding(CATEGORY, "laboratory"))]}
    limits = {k: quantity(v, unit) for k, v in (("low", low), ("high", high)) if v is not None}
    if limits:
        extra["referenceRange"] = [limits]
    if flag:
        extra["interpretation"] = [concept(coding(INTERPRETATION, flag))]
    value_part = {"valueQuantity": quantity(value, unit)}
    return observation(key, suffix, coding(LOINC, loinc, display), day, value_part, **extra)


def score(
    key: str,
    suffix: str,
    loinc: str,
    display: str,
    day: date,
    value: int,
    answer: str | None,
    profile: str,
) -> dict:
    """An mCODE performance status: valueInteger, its LOINC answer as interpretation."""
    extra: dict[str, Any] = {"meta": {"profile": [MCODE + profile]}}
    if answer:
        extra["interpretation"] = [concept(coding(LOINC, answer))]
    return observation(
        key, suffix, coding(LOINC, loinc, display), day, {"valueInteger": value}, **extra
    )


def percent(key: str, code: str, display: str, day: date, value: float) -> dict:
    return observation(
        key, code, coding(IL2SELECT, code, display), day, {"valueQuantity": quantity(value, "%")}
    )


def condition(
    key: str, suffix: str, code: dict, asserted: bool, day: date | None = None, **extra
) -> dict:
    """A Condition confirmed (active) or refuted."""
    found: dict[str, Any] = {
        "resourceType": "Condition",
        "id": f"{key}-{suffix}",
        "verificationStatus": concept(coding(VERIFICATION, "confirmed" if asserted else "refuted")),
        "code": code,
        "subject": {"reference": f"Patient/{key}"},
    }
    if asserted:
        found["clinicalStatus"] = concept(coding(CLINICAL, "active"))
    if day is not None:
        found["onsetDateTime"] = day.isoformat()
    return found | extra


def rcc(key: str, morphology: str | None, display: str, diagnosed: datetime | None) -> dict:
    code = concept(
        coding(SNOMED, "363518003", "Malignant tumor of kidney"),
        coding(ICD10CM, "C64.9", "Malignant neoplasm of unspecified kidney"),
    )
    extra: dict[str, Any] = {"meta": {"profile": [MCODE + "mcode-primary-cancer-condition"]}}
    if morphology:
        histology = concept(coding(ICDO3, morphology, display))
        extra["extension"] = [{"url": HISTOLOGY_EXTENSION, "valueCodeableConcept": histology}]
    return condition(key, "rcc", code, True, diagnosed, **extra)


def metastasis(key: str, site: str, body: dict, asserted: bool, day: date) -> dict:
    code = concept(coding(SNOMED, "128462008", "Secondary malignant neoplastic disease"))
    meta = {"profile": [SECONDARY_PROFILE]}
    return condition(
        key,
        f"met-{site}",
        code,
        asserted,
        day if asserted else None,
        bodySite=[concept(body)],
        meta=meta,
    )


def procedure(
    key: str, suffix: str, code: dict, done: bool, day: date | None = None, **extra
) -> dict:
    found: dict[str, Any] = {
        "resourceType": "Procedure",
        "id": f"{key}-{suffix}",
        "status": "completed" if done else "not-done",
        "code": concept(code),
        "subject": {"reference": f"Patient/{key}"},
    }
    if done and day is not None:
        found["performedDateTime"] = day.isoformat()
    return found | extra


def statement(
    key: str,
    suffix: str,
    codes: list[dict],
    status: str,
    start: date | None = None,
    end: date | None = None,
) -> dict:
    """A MedicationStatement (``not-taken``: coded with an ATC class, undated)."""
    found: dict[str, Any] = {
        "resourceType": "MedicationStatement",
        "id": f"{key}-{suffix}",
        "status": status,
        "medicationCodeableConcept": concept(*codes),
        "subject": {"reference": f"Patient/{key}"},
    }
    period = {k: v.isoformat() for k, v in (("start", start), ("end", end)) if v is not None}
    if period:
        found["effectivePeriod"] = period
    return found


def rxnorm(code: str, display: str) -> dict:
    return coding(RXNORM, code, display)


def atc(code: str, display: str) -> dict:
    return coding(ATC[0], code, display)
